//! The command line: clap's definitions of every subcommand and what each one does. The same
//! binary is the daemon (`serve`), the checker of a folder (`validate`) and, later, the HTTP client.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::spec::SystemUsers;
use crate::store;

/// Documented exit codes.
pub mod exit {
    pub const OK: u8 = 0;
    pub const ERROR: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const INVALID: u8 = 3;
}

#[derive(Debug, Parser)]
#[command(
    name = "hoody-daemon",
    version,
    about = "A universal process manager driven by a folder of program files and an HTTP API"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: read programs.d, start the boot programs by priority, serve the API.
    ///
    /// SIGTERM or SIGINT stops every program in reverse priority order and exits 0; a second
    /// signal kills what is left and exits 1. SIGHUP rescans programs.d.
    Serve(ServeArgs),
    /// Check every program file of a folder; print every problem, or a one-line summary.
    ///
    /// Exits 0 when the folder is valid and 3 when any file has a problem: run it in a
    /// container build so a broken program set never ships.
    Validate {
        /// The folder of program files.
        #[arg(default_value = "programs.d")]
        dir: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The folder of program files (the desired state).
    #[arg(long, default_value = "programs.d")]
    pub programs_dir: PathBuf,
    /// Where ids, run intents and the record of running processes are kept
    /// [default: .hoody-daemon/state beside the programs folder].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Where "auto" logs go [default: .hoody-daemon/logs beside the programs folder].
    #[arg(long)]
    pub log_dir: Option<PathBuf>,
    /// HOST:PORT or unix:/path/to.sock (created with mode 0600).
    #[arg(long, default_value = "127.0.0.1:7575")]
    pub listen: String,
    /// A file holding the bearer token every request but /health must send.
    #[arg(long)]
    pub token_file: Option<PathBuf>,
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Validate { dir } => ExitCode::from(validate(&dir)),
        Command::Serve(args) => ExitCode::from(serve::serve(args)),
    }
}

pub mod client;
mod serve;

fn validate(dir: &Path) -> u8 {
    let snapshot = store::scan(dir, &SystemUsers);
    let problems: Vec<_> = snapshot.problems().collect();
    if problems.is_empty() {
        let names: Vec<&str> = snapshot.programs.keys().map(String::as_str).collect();
        println!(
            "{}: {} program{} valid{}",
            dir.display(),
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", names.join(", "))
            }
        );
        return exit::OK;
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    let broken = snapshot
        .programs
        .values()
        .filter(|entry| entry.spec.is_err())
        .count();
    eprintln!(
        "{}: {} problem{} in {} of {} program{}",
        dir.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        broken,
        snapshot.programs.len(),
        if snapshot.programs.len() == 1 {
            ""
        } else {
            "s"
        },
    );
    exit::INVALID
}
