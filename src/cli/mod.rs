//! The command line: clap's definitions of every subcommand and the dispatch to what each one
//! does. The same binary is the daemon (`serve`), the checker of a folder (`validate`), and the
//! HTTP client of a running daemon (`programs …`, `quick-start …`, `status`, `diff`, `apply`).
//!
//! The client commands live in their own modules: [`programs`] (programs and `status`),
//! [`logs`] (`logs`, `programs logs`, `quick-start logs`), [`quick`] (quick-start),
//! [`gitops`] (`diff` and `apply`), [`ready`] (`ready --wait`), [`docs`] (completions and the
//! man page); [`session`] turns the API's answers and transport errors into messages and exit codes,
//! and [`output`] draws tables, diffs and JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::spec::SystemUsers;
use crate::store;

pub mod client;
mod docs;
mod events;
mod gitops;
mod import;
mod logs;
mod output;
mod programs;
mod quick;
mod ready;
mod serve;
mod session;
mod sse;

pub use session::CliError;

/// Documented exit codes (docs/CLI.md lists them).
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Any other error: the daemon is unreachable, refused the token, or failed.
    pub const ERROR: u8 = 1;
    /// The command line is wrong (clap's own code for usage errors).
    pub const USAGE: u8 = 2;
    /// Validation failed: a folder (`validate`, `diff`, `apply`) or the fields sent (HTTP 400).
    pub const INVALID: u8 = 3;
    /// No such program or quick-start (HTTP 404).
    pub const NOT_FOUND: u8 = 4;
    /// A state conflict: not enabled, name taken, changed meanwhile (HTTP 409, 412).
    pub const CONFLICT: u8 = 5;
}

/// Where the client looks for the daemon when neither `--url` nor `HOODY_DAEMON_URL` says.
pub const DEFAULT_URL: &str = "http://127.0.0.1:7575";

#[derive(Debug, Parser)]
#[command(
    name = "hoody-daemon",
    version,
    about = "A universal process manager driven by a folder of program files and an HTTP API",
    long_about = "A universal process manager driven by a folder of program files and an HTTP API.\n\n\
        `hoody-daemon serve` runs the daemon; every other command but `validate` is a client of a \
        running daemon, found at --url (or HOODY_DAEMON_URL).",
    after_help = "Exit codes: 0 ok, 1 error, 2 usage, 3 validation failed, 4 not found, 5 conflict."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The daemon's address: http://HOST:PORT or unix:/path/to.sock.
    #[arg(long, global = true, env = "HOODY_DAEMON_URL", default_value = DEFAULT_URL, value_name = "URL")]
    pub url: String,
    /// A file holding the bearer token [default: $HOODY_DAEMON_TOKEN]. For `serve`: the token
    /// every request must send; for the client commands: the token to send.
    #[arg(long, global = true, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Print the API's `data` as JSON (for scripts) instead of tables and messages.
    #[arg(long, global = true)]
    pub json: bool,
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
    /// container build so a broken program set never ships. Needs no daemon.
    Validate {
        /// The folder of program files.
        #[arg(default_value = "programs.d")]
        dir: PathBuf,
    },
    /// Create, inspect, change and control programs (the files in programs.d).
    #[command(subcommand)]
    Programs(ProgramsCommand),
    /// Run one-off commands that are never written to programs.d.
    #[command(subcommand, name = "quick-start")]
    QuickStart(QuickCommand),
    /// The status of every program (the same as `programs status`).
    Status,
    /// List every program with its state (the same as `programs list`).
    Ls,
    /// Start a program, or `all` (the same as `programs start`).
    Start(ControlArgs),
    /// Stop a program, or `all` (the same as `programs stop`).
    Stop(ControlArgs),
    /// Restart a program, or `all` (the same as `programs restart`).
    Restart(ControlArgs),
    /// The changes of a program's file, with their diffs (the same as `programs history`).
    History {
        /// The program's id or name.
        id: ProgramId,
    },
    /// Print the last lines of every program (or of those named), merged in time order, as
    /// `NAME stream | line`; `-f` keeps printing new lines.
    Logs(AllLogsArgs),
    /// Follow the daemon's events (config, state and health changes) as they happen, one line
    /// each: `ID  TIME  KIND  NAME  what` (`--json`: `{id, event, data}` a line).
    ///
    /// Runs until the daemon closes the stream (Ctrl-C to stop). `--since ID` resumes after an
    /// event id printed before: the events missed since come first, or a `reset` line when the
    /// daemon no longer keeps them (it keeps the last 1,000).
    Events {
        /// Resume after this event id (sent as Last-Event-ID).
        #[arg(long, value_name = "ID")]
        since: Option<String>,
    },
    /// Whether every program that should run is ready (GET /ready): exit 0 when it is.
    ///
    /// Ready means RUNNING and, for a program with a health check, a ready_log_line or
    /// notify = true, that it said so. A one-shot that completed successfully counts as ready.
    /// Exits 1, naming what is not ready, when something is not.
    Ready {
        /// Keep asking until ready or this many seconds have passed (a daemon that is not
        /// listening yet counts as not ready meanwhile).
        #[arg(long, value_name = "SECONDS")]
        wait: Option<f64>,
    },
    /// Show what `apply DIR` would change: a unified diff per program file.
    ///
    /// Compares the running daemon's program files with DIR's, byte for byte: changed files,
    /// new programs and programs DIR lacks (which `apply --prune` removes).
    Diff {
        /// The folder of program files, e.g. a git checkout's programs.d.
        dir: PathBuf,
        /// Exit 1 when there are changes, 0 when there are none (as `git diff --exit-code`).
        #[arg(long)]
        exit_code: bool,
    },
    /// Make the running daemon's programs.d equal DIR, through the API, printing the diffs.
    ///
    /// Refuses (exit 3) when DIR fails validation. Each file is sent whole, so comments and
    /// layout arrive as written; the daemon validates it again and reconciles: new programs
    /// appear (and start when boot = true), changed ones are updated or restarted.
    Apply {
        /// The folder of program files, e.g. a git checkout's programs.d.
        dir: PathBuf,
        /// Also remove the programs DIR lacks (their processes stop).
        #[arg(long)]
        prune: bool,
        /// Print what would change and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Turn a supervisord or PM2 configuration into program files.
    ///
    /// Writes one file per program into --out (never replacing a file without --force), prints
    /// what could not be mapped (each file's header lists it too), then checks the folder as
    /// `validate` does. Needs no daemon.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Print a shell completion script to stdout.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, or every page into a folder.
    Man(ManArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ManArgs {
    /// The subcommand whose page to print, e.g. `programs start` [default: the top page].
    pub command: Vec<String>,
    /// Write the page of every command and subcommand into this folder
    /// (hoody-daemon.1, hoody-daemon-programs.1, hoody-daemon-programs-start.1 …).
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out: Option<PathBuf>,
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
    /// Prefix every stored log line with its time (RFC 3339 UTC, milliseconds): the default of
    /// each program's `log_timestamps`.
    #[arg(long)]
    pub log_timestamps: bool,
    /// Copy every program's output to this process's stdout (stderr lines to stderr) as
    /// `NAME | line`, for `docker logs`; a program opts out with `console = false`.
    #[arg(long)]
    pub log_console: bool,
    /// The console's format: `plain` (`NAME | line`) or `json` (one object a line:
    /// time, program, stream, line). Implies --log-console.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_console_format: Option<ConsoleFormatArg>,
    /// Keep all log files together (rotated ones included) within SIZE plus one file's
    /// maxbytes (e.g. 1GB): the oldest rotated files are deleted first, current files never.
    #[arg(long, value_name = "SIZE", value_parser = parse_budget)]
    pub log_budget: Option<u64>,
    /// The token file: filled from the global `--token-file`.
    #[arg(skip)]
    pub token_file: Option<PathBuf>,
    /// Bearer tokens with roles (read, operate, admin), a TOML file of `[[tokens]]` entries
    /// (name, role, sha256 or token); refused when its group or others can read it. With any
    /// token, the token decides who may do what; without, only the daemon's own user and root
    /// may use the API.
    #[arg(long, value_name = "FILE")]
    pub tokens_file: Option<PathBuf>,
    /// A web origin (scheme://host[:port]) whose pages may call the API, besides the daemon's
    /// own; repeatable. Any other Origin gets 403.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    pub allow_origins: Vec<String>,
    /// A host name (or NAME:PORT) the API may be reached by, besides loopback names and
    /// addresses and the listen address (behind a proxy: the proxy's name); repeatable. Any
    /// other Host gets 403 (DNS rebinding).
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_hosts: Vec<String>,
    /// Never make cgroups: follow programs' processes by the marks in their environment, as
    /// where no cgroup can be made (for tests and diagnosis; docs/RELIABILITY.md).
    #[arg(long, hide = true)]
    pub no_cgroups: bool,
    /// Also write another exporter's metric names on GET /metrics, so existing dashboards
    /// keep working: `supervisord` (supervisord_exporter's supervisor_process_info,
    /// supervisor_process_uptime, supervisord_up, and node_exporter's node_supervisord_*).
    #[arg(long, value_name = "EXPORTER", value_parser = parse_compat)]
    pub metrics_compat: Option<crate::metrics::Compat>,
}

fn parse_compat(text: &str) -> Result<crate::metrics::Compat, String> {
    crate::metrics::Compat::parse(text)
}

/// `--log-console-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ConsoleFormatArg {
    Plain,
    Json,
}

fn parse_budget(text: &str) -> Result<u64, String> {
    match crate::spec::parse_size(text)? {
        0 => Err("the log budget must be more than 0".to_string()),
        bytes => Ok(bytes),
    }
}

/// A program's id (a number) or its name.
type ProgramId = String;

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// supervisord.conf (or a folder: its supervisord.conf, else its *.conf and *.ini): each
    /// [program:x] becomes a program; [include] files= globs are followed.
    ///
    /// %(here)s, %(program_name)s, %(group_name)s, %(host_node_name)s, %(process_num)d and
    /// %(ENV_X)s (this shell's environment) are expanded and the values written; numprocs = N
    /// becomes N programs named by process_name; supervisord's defaults that differ from
    /// hoody-daemon's are written out (boot = true, stopasgroup = false, umask = "022").
    Supervisord {
        /// The configuration file, or a folder of them.
        #[arg(value_name = "FILE|DIR")]
        source: PathBuf,
        #[command(flatten)]
        output: ImportOutput,
    },
    /// A PM2 ecosystem (.json, .yaml, .config.js, evaluated with node) or `pm2 jlist` output
    /// (a file, or - for standard input).
    ///
    /// script + args + interpreter become the command, cwd the directory, the apps' order the
    /// priority; PM2's defaults are written (autorestart = "true", stopsignal = "INT",
    /// stopwaitsecs = 1.6, startretries = 16); max_memory_restart is kept as it is (it means
    /// the same here). A .config.js is run by node, as pm2 runs it: import only files
    /// you trust.
    Pm2 {
        /// The ecosystem file, or pm2 jlist's output (- reads standard input).
        file: PathBuf,
        /// Apply the apps' env_NAME over env, as `pm2 start --env NAME` does.
        #[arg(long, value_name = "NAME")]
        env: Option<String>,
        #[command(flatten)]
        output: ImportOutput,
    },
}

/// Where and how an import writes.
#[derive(Debug, Clone, Args)]
pub struct ImportOutput {
    /// The folder to write the program files into (made if missing), e.g. programs.d.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace program files that already exist (a file of the same name in another format
    /// is still refused).
    #[arg(long)]
    pub force: bool,
    /// The files' format.
    #[arg(long, value_enum, default_value_t = FileFormat::Toml)]
    pub format: FileFormat,
}

#[derive(Debug, Subcommand)]
pub enum ProgramsCommand {
    /// Create a program: writes programs.d/NAME.toml (or .yaml) through the API.
    Create(CreateArgs),
    /// List every program with its state.
    #[command(visible_alias = "ls")]
    List,
    /// Show one program: its fields, file, status and config error.
    Get {
        /// The program's id or name.
        id: ProgramId,
        /// Print the program's file as written instead.
        #[arg(long)]
        file: bool,
    },
    /// Change a program's fields; only the fields given change.
    Edit(EditArgs),
    /// Delete a program's file; its process stops and its id is retired.
    #[command(visible_alias = "rm")]
    Delete(ControlArgs),
    /// Set enabled = true ("the program can run"); never starts it.
    Enable(ControlArgs),
    /// Set enabled = false; stops it.
    Disable(ControlArgs),
    /// Start the process (the program must be enabled); `all` starts every enabled program.
    Start(ControlArgs),
    /// Stop the process; `all` stops every program.
    Stop(ControlArgs),
    /// Stop then start the process; `all` restarts every enabled program.
    Restart(ControlArgs),
    /// Send a signal to the program's main process (`programs signal nginx HUP`).
    Signal {
        /// The program's id or name.
        id: ProgramId,
        /// A name with or without SIG (HUP, SIGUSR1, term) or a number (1).
        signal: String,
    },
    /// The changes of a program's file: when, by whom (file or API), and the diff.
    History {
        /// The program's id or name.
        id: ProgramId,
    },
    /// The status of one program, or of every program.
    Status {
        /// The program's id or name [default: every program].
        id: Option<ProgramId>,
    },
    /// Print a program's logs: both streams as `stream | line` in time order, or one stream
    /// (`--stream stdout|stderr`) as stored.
    Logs(LogsArgs),
}

#[derive(Debug, Subcommand)]
pub enum QuickCommand {
    /// Run a one-off command: `quick-start run -- CMD ARG…`.
    Run(QuickRunArgs),
    /// List quick-start programs, running and finished.
    #[command(visible_alias = "ls")]
    List,
    /// The status of a quick-start program, with its exit code once it ended.
    Status {
        /// The quick-start's id.
        id: String,
    },
    /// Stop a quick-start program.
    Stop(ControlArgs),
    /// Print a quick-start program's output.
    Logs(LogsArgs),
}

/// The fields `create` and `edit` share.
#[derive(Debug, Clone, Default, Args)]
pub struct FieldArgs {
    /// The user to run as (name or uid).
    #[arg(long)]
    pub user: Option<String>,
    /// Restart on exit: true, false or unexpected (only on an exit code not in exitcodes).
    #[arg(long, value_parser = ["true", "false", "unexpected"])]
    pub autorestart: Option<String>,
    /// The working folder of the process.
    #[arg(long)]
    pub directory: Option<String>,
    /// A description, for people.
    #[arg(long)]
    pub description: Option<String>,
    /// Whether the program may run.
    #[arg(long, value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
    pub enabled: Option<bool>,
    /// Start it when the daemon starts and when its file first appears.
    #[arg(long, value_name = "BOOL", value_parser = clap::builder::BoolishValueParser::new())]
    pub boot: Option<bool>,
    /// Lower starts first at boot and stops last at shutdown.
    #[arg(long, allow_negative_numbers = true)]
    pub priority: Option<i64>,
    /// An environment variable, KEY=VALUE (repeatable). `edit` adds to the environment.
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub env: Vec<(String, String)>,
    /// Where stdout goes: a path, auto or none.
    #[arg(long)]
    pub stdout_logfile: Option<String>,
    /// Where stderr goes: a path, auto or none.
    #[arg(long)]
    pub stderr_logfile: Option<String>,
    /// Any other field, FIELD=VALUE (repeatable); VALUE is read as JSON when it parses
    /// (`--set exitcodes=[0,2]`, `--set startsecs=5`), else as a string.
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_key_value)]
    pub set: Vec<(String, String)>,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    /// The program's name, also its file's name.
    #[arg(long)]
    pub name: String,
    /// The command: split into words like a shell would, without a shell.
    #[arg(long)]
    pub command: String,
    #[command(flatten)]
    pub fields: FieldArgs,
    /// The file's format.
    #[arg(long, value_enum, default_value_t = FileFormat::Toml)]
    pub format: FileFormat,
}

#[derive(Debug, Clone, Args)]
pub struct EditArgs {
    /// The program's id or name.
    pub id: ProgramId,
    /// The command.
    #[arg(long)]
    pub command: Option<String>,
    #[command(flatten)]
    pub fields: FieldArgs,
    /// Remove a variable from the environment (repeatable).
    #[arg(long, value_name = "KEY")]
    pub unset_env: Vec<String>,
    /// Reset a field to its default (repeatable), e.g. `--reset priority`.
    #[arg(long, value_name = "FIELD")]
    pub reset: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ControlArgs {
    /// The id or name (`all`: every program, for start, stop and restart).
    pub id: ProgramId,
    /// Answer at once instead of waiting until the change has happened.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// The id or name.
    pub id: ProgramId,
    /// Which log.
    #[arg(long, value_enum, default_value_t = LogStream::Both)]
    pub stream: LogStream,
    /// How many of the last lines.
    #[arg(short = 'n', long, default_value_t = 100)]
    pub lines: usize,
    /// Keep printing new lines as they come (Ctrl-C ends).
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AllLogsArgs {
    /// Programs (names or ids) [default: every program].
    pub names: Vec<String>,
    /// How many of the last lines, in all.
    #[arg(short = 'n', long, default_value_t = 100)]
    pub lines: usize,
    /// Keep printing new lines as they come (Ctrl-C ends).
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Debug, Clone, Args)]
pub struct QuickRunArgs {
    /// The working folder.
    #[arg(long)]
    pub directory: Option<String>,
    /// The user to run as (name or uid).
    #[arg(long)]
    pub user: Option<String>,
    /// An environment variable, KEY=VALUE (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub env: Vec<(String, String)>,
    /// Stop it after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<f64>,
    /// Wait until it ends, print its output, and exit 0 if it exited 0 (else 1).
    #[arg(long)]
    pub wait: bool,
    /// The command: one word is split like a shell would; several are the argv.
    #[arg(required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FileFormat {
    Toml,
    Yaml,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogStream {
    Stdout,
    Stderr,
    Both,
}

impl LogStream {
    fn as_str(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
            LogStream::Both => "both",
        }
    }
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    if !matches!(cli.command, Command::Serve(_)) {
        die_on_closed_stdout();
    }
    let global = cli.global;
    let outcome = match cli.command {
        Command::Validate { dir } => return ExitCode::from(validate(&dir, global.json)),
        Command::Serve(mut args) => {
            args.token_file = global.token_file;
            return ExitCode::from(serve::serve(args));
        }
        Command::Import(command) => match import::run(command, global.json) {
            Ok(code) => return ExitCode::from(code),
            Err(error) => Err(error),
        },
        Command::Completions { shell } => docs::completions(shell),
        Command::Man(args) => docs::man(&args),
        Command::Programs(command) => programs::run(&global, command),
        Command::Status => programs::run(&global, ProgramsCommand::Status { id: None }),
        Command::Ls => programs::run(&global, ProgramsCommand::List),
        Command::Start(args) => programs::run(&global, ProgramsCommand::Start(args)),
        Command::Stop(args) => programs::run(&global, ProgramsCommand::Stop(args)),
        Command::Restart(args) => programs::run(&global, ProgramsCommand::Restart(args)),
        Command::History { id } => programs::run(&global, ProgramsCommand::History { id }),
        Command::Logs(args) => {
            session::Session::open(&global).and_then(|session| logs::all(&session, &args))
        }
        Command::Ready { wait } => ready::ready(&global, wait),
        Command::Events { since } => session::Session::open(&global)
            .and_then(|session| events::follow(&session, since.as_deref())),
        Command::QuickStart(command) => quick::run(&global, command),
        Command::Diff { dir, exit_code } => gitops::diff(&global, &dir, exit_code),
        Command::Apply {
            dir,
            prune,
            dry_run,
        } => gitops::apply(&global, &dir, gitops::ApplyOptions { prune, dry_run }),
    };
    match outcome {
        Ok(()) => ExitCode::from(exit::OK),
        Err(error) => {
            error.report();
            ExitCode::from(error.code)
        }
    }
}

/// A client whose output is piped into `head` ends quietly when the reader goes away, as
/// command-line tools do, instead of failing on the write (Rust ignores SIGPIPE by default).
/// Never for `serve`: the daemon must survive a client that hangs up.
fn die_on_closed_stdout() {
    // SAFETY: runs on the main thread before any other thread exists, and installs the default
    // disposition, not a handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn validate(dir: &Path, json: bool) -> u8 {
    validate_to(dir, false, json)
}

/// `validate`, with the one-line summary on stderr instead of stdout (`import --json` keeps
/// stdout for its report); `json`: the verdict as one JSON object on stdout (`--json`).
fn validate_to(dir: &Path, summary_to_stderr: bool, json: bool) -> u8 {
    // Log paths inside the folder (or the default state folder beside it) are refused, as the
    // daemon refuses them.
    let absolute = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let protected = crate::daemon::DaemonConfig::beside(&absolute).protected_folders();
    let snapshot = store::scan_protected(dir, &SystemUsers, protected);
    let problems: Vec<_> = snapshot.problems().collect();
    if json {
        // For scripts: the same verdict, the same exit code, as one JSON object on stdout.
        let broken: Vec<&str> = snapshot
            .programs
            .values()
            .filter(|entry| entry.spec.is_err())
            .map(|entry| entry.name.as_str())
            .collect();
        output::print_json(&serde_json::json!({
            "dir": dir.to_string_lossy(),
            "valid": problems.is_empty(),
            "programs": snapshot.programs.keys().collect::<Vec<_>>(),
            "invalid": broken,
            "problems": problems
                .iter()
                .map(|problem| {
                    let mut value = serde_json::to_value(problem).unwrap_or_default();
                    value["text"] = serde_json::Value::from(problem.to_string());
                    value
                })
                .collect::<Vec<_>>(),
        }));
        return if problems.is_empty() {
            exit::OK
        } else {
            exit::INVALID
        };
    }
    if problems.is_empty() {
        let names: Vec<&str> = snapshot.programs.keys().map(String::as_str).collect();
        let summary = format!(
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
        if summary_to_stderr {
            eprintln!("{summary}");
        } else {
            println!("{summary}");
        }
        return exit::OK;
    }
    report_problems(dir, &snapshot);
    exit::INVALID
}

/// Prints every problem of a folder and a summary line, to stderr.
fn report_problems(dir: &Path, snapshot: &store::Snapshot) {
    let problems: Vec<_> = snapshot.problems().collect();
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
}
