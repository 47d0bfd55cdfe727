//! `hoody-daemon completions SHELL` and `hoody-daemon man`: shell completions and the man
//! pages, generated from clap's definitions so they cannot drift from the commands. The
//! generated files are also checked in under docs/ (`docs/completions/`, `docs/man/`); a test
//! compares them with what the binary prints.
//!
//! Two things are fixed on top of what the generators write:
//! - clap_complete's bash script names its functions' cases after the binary with each `-`
//!   read as a subcommand separator (`hoody__subcmd__daemon__subcmd__programs`) while its
//!   dispatch names them with the `-` kept as a word (`hoody__daemon__subcmd__programs`), so
//!   nothing below the first word completed for a binary with a hyphen in its name
//!   (clap-rs/clap#6421). The script is rewritten to use one spelling.
//! - There is a man page per command and subcommand (`hoody-daemon-programs-start.1`…), so
//!   every page a SUBCOMMANDS section names exists; `man --out DIR` writes them all. The
//!   `help` subcommand has no page (each page lists the options, `--help` included).

use std::io::Write;
use std::path::Path;

use clap::CommandFactory;

use super::session::CliError;
use super::{Cli, ManArgs, exit};

/// The binary's name, as completions and the man page call it.
const NAME: &str = "hoody-daemon";

pub fn completions(shell: clap_complete::Shell) -> Result<(), CliError> {
    write_stdout(&completion_script(shell))
}

/// The completion script for `shell`, with the bash fix of the module's notes.
pub fn completion_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut command = Cli::command();
    let mut text = Vec::new();
    clap_complete::generate(shell, &mut command, NAME, &mut text);
    if shell != clap_complete::Shell::Bash {
        return text;
    }
    let script = String::from_utf8_lossy(&text);
    let dispatch = NAME.replace('-', "__");
    let mangled = NAME.replace('-', "__subcmd__");
    script.replace(&mangled, &dispatch).into_bytes()
}

pub fn man(args: &ManArgs) -> Result<(), CliError> {
    if let Some(folder) = &args.out {
        let written = write_pages(folder).map_err(|error| {
            CliError::new(
                exit::ERROR,
                format!(
                    "cannot write the man pages into {}: {error}",
                    folder.display()
                ),
            )
        })?;
        println!("wrote {written} man pages into {}", folder.display());
        return Ok(());
    }
    let root = man_root();
    let mut command = &root;
    for word in &args.command {
        command = command
            .get_subcommands()
            .find(|sub| sub.get_name() == word || sub.get_all_aliases().any(|alias| alias == word))
            .ok_or_else(|| {
                CliError::usage(format!(
                    "no command `{}` (see `{NAME} --help`)",
                    args.command.join(" ")
                ))
            })?;
    }
    write_stdout(&page(command)?)
}

/// The command tree the pages are made of: built (so each subcommand knows its full name,
/// `hoody-daemon-programs-start`), without `help` subcommands.
fn man_root() -> clap::Command {
    let mut root = without_help(Cli::command());
    root.build();
    root
}

fn without_help(command: clap::Command) -> clap::Command {
    let names: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    let mut command = command.disable_help_subcommand(true);
    for name in names {
        command = command.mut_subcommand(name, without_help);
    }
    command
}

/// One command's page, as roff.
fn page(command: &clap::Command) -> Result<Vec<u8>, CliError> {
    let mut text = Vec::new();
    clap_mangen::Man::new(command.clone())
        .source(format!("{NAME} {}", env!("CARGO_PKG_VERSION")))
        .render(&mut text)
        .map_err(|error| {
            CliError::new(exit::ERROR, format!("cannot render the man page: {error}"))
        })?;
    Ok(text)
}

/// Every page of the tree, by file name (`hoody-daemon-programs-start.1`), in tree order.
pub fn pages() -> Result<Vec<(String, Vec<u8>)>, CliError> {
    fn walk(command: &clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), CliError> {
        let name = command
            .get_display_name()
            .unwrap_or_else(|| command.get_name())
            .to_string();
        out.push((format!("{name}.1"), page(command)?));
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            walk(sub, out)?;
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(&man_root(), &mut out)?;
    Ok(out)
}

fn write_pages(folder: &Path) -> std::io::Result<usize> {
    let pages = pages().map_err(|error| std::io::Error::other(error.message))?;
    std::fs::create_dir_all(folder)?;
    for (file, text) in &pages {
        std::fs::write(folder.join(file), text)?;
    }
    Ok(pages.len())
}

fn write_stdout(bytes: &[u8]) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}
