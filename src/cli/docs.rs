//! `hoody-daemon completions SHELL` and `hoody-daemon man`: shell completions and the man page,
//! generated from clap's definitions so they cannot drift from the commands. The generated files
//! are also checked in under docs/; a test compares them with what the binary prints.

use std::io::Write;

use clap::CommandFactory;

use super::session::CliError;
use super::{Cli, exit};

/// The binary's name, as completions and the man page call it.
const NAME: &str = "hoody-daemon";

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    let mut command = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut command, NAME, &mut text);
    write_stdout(&text)
}

pub fn man() -> Result<(), CliError> {
    let mut text = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut text)
        .map_err(|error| {
            CliError::new(exit::ERROR, format!("cannot render the man page: {error}"))
        })?;
    write_stdout(&text)
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}
