//! The `hoody-daemon` binary: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    hoody_daemon::cli::run(hoody_daemon::cli::Cli::parse())
}
