//! What the integration tests share: running the real binary and reporting what it did.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test, built by cargo for this test run.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hoody-daemon"))
}

/// The repository's root, for the example folders it ships.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the binary to completion.
#[allow(clippy::disallowed_methods)] // tests start the binary under test
pub fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run hoody-daemon {args:?}: {error}"))
}

/// What a finished command said, for failure messages.
pub fn describe(args: &[&str], output: &Output) -> String {
    format!(
        "hoody-daemon {args:?} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
