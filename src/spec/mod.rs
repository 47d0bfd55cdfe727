//! The program file format (SPEC §2–3): the fields, their defaults and types, and validation.
//!
//! Two levels, as ripgrep does with its arguments: [`RawProgram`] mirrors what a file (or an API
//! body) says, field by field, each field already typed but nothing defaulted or resolved; it
//! becomes a [`ProgramSpec`] — argv split, defaults applied, user resolved — that the rest of the
//! daemon uses. Every problem of a file is collected, not just the first. This module does no I/O
//! except looking users up through the [`UserDb`] it is given.

mod document;
mod fields;
mod folders;
pub mod health;
pub mod name;
mod patch;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use document::{
    Document, MAX_FILE_BYTES, decode, edit, json_to_toml, line_column, parse, render,
};
pub use fields::{RawProgram, parse_cpus, parse_size, seconds_to_json};
pub use folders::ProtectedFolders;
pub use health::{Condition, Healthcheck, HttpTarget, OnUnhealthy, Probe, TcpTarget};
pub use patch::merge_patch;

/// Every field a program file may hold, in the order new files are written.
pub const FIELDS: &[&str] = &[
    "name",
    "description",
    "command",
    "user",
    "enabled",
    "boot",
    "autorestart",
    "exitcodes",
    "startsecs",
    "startretries",
    "stopsignal",
    "stopwaitsecs",
    "stopasgroup",
    "killasgroup",
    "directory",
    "priority",
    "delay_seconds",
    "umask",
    "redirect_stderr",
    "stdout_logfile",
    "stdout_logfile_maxbytes",
    "stdout_logfile_backups",
    "stderr_logfile",
    "stderr_logfile_maxbytes",
    "stderr_logfile_backups",
    "log_timestamps",
    "console",
    "depends_on",
    "ready_log_line",
    "notify",
    "watchdog_sec",
    "max_memory_restart",
    "memory_max",
    "cpu_max",
    "environment",
    "healthcheck",
];

/// A program file's format, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Toml,
    Yaml,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Yaml => "yaml",
        }
    }
}

/// One thing wrong with a program file: where, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: Option<PathBuf>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub message: String,
}

impl Problem {
    /// A problem with the file as a whole.
    pub fn file(message: impl Into<String>) -> Problem {
        Problem {
            file: None,
            line: None,
            column: None,
            field: None,
            message: message.into(),
        }
    }

    /// A problem with one field.
    pub fn field(field: &str, message: impl Into<String>) -> Problem {
        Problem {
            field: Some(field.to_string()),
            ..Problem::file(message)
        }
    }

    pub fn at(mut self, line: usize, column: usize) -> Problem {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    pub fn in_file(mut self, path: &Path) -> Problem {
        self.file = Some(path.to_path_buf());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(formatter, "{}", file.display())?;
            if let Some(line) = self.line {
                write!(formatter, ":{line}")?;
                if let Some(column) = self.column {
                    write!(formatter, ":{column}")?;
                }
            }
            write!(formatter, ": ")?;
        } else if let Some(line) = self.line {
            write!(formatter, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(formatter, "field `{field}`: ")?;
        }
        write!(formatter, "{}", self.message)
    }
}

/// When a process that exited is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AutoRestart {
    /// Always.
    True,
    /// Never.
    False,
    /// Only when the exit code is not one of `exitcodes` (or the process died of a signal).
    Unexpected,
}

impl AutoRestart {
    pub fn as_str(self) -> &'static str {
        match self {
            AutoRestart::True => "true",
            AutoRestart::False => "false",
            AutoRestart::Unexpected => "unexpected",
        }
    }
}

/// The signals a program may be stopped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StopSignal {
    #[serde(rename = "TERM")]
    Term,
    #[serde(rename = "INT")]
    Int,
    #[serde(rename = "QUIT")]
    Quit,
    #[serde(rename = "HUP")]
    Hup,
    #[serde(rename = "KILL")]
    Kill,
    #[serde(rename = "USR1")]
    Usr1,
    #[serde(rename = "USR2")]
    Usr2,
}

impl StopSignal {
    pub const ALL: [StopSignal; 7] = [
        StopSignal::Term,
        StopSignal::Int,
        StopSignal::Quit,
        StopSignal::Hup,
        StopSignal::Kill,
        StopSignal::Usr1,
        StopSignal::Usr2,
    ];

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Term => "TERM",
            StopSignal::Int => "INT",
            StopSignal::Quit => "QUIT",
            StopSignal::Hup => "HUP",
            StopSignal::Kill => "KILL",
            StopSignal::Usr1 => "USR1",
            StopSignal::Usr2 => "USR2",
        }
    }

    /// Parses `TERM`, `SIGTERM`, `term`, `sigterm`.
    pub fn parse(text: &str) -> Option<StopSignal> {
        let upper = text.trim().to_ascii_uppercase();
        let bare = upper.strip_prefix("SIG").unwrap_or(&upper);
        StopSignal::ALL
            .into_iter()
            .find(|signal| signal.name() == bare)
    }

    pub fn to_nix(self) -> nix::sys::signal::Signal {
        use nix::sys::signal::Signal;
        match self {
            StopSignal::Term => Signal::SIGTERM,
            StopSignal::Int => Signal::SIGINT,
            StopSignal::Quit => Signal::SIGQUIT,
            StopSignal::Hup => Signal::SIGHUP,
            StopSignal::Kill => Signal::SIGKILL,
            StopSignal::Usr1 => Signal::SIGUSR1,
            StopSignal::Usr2 => Signal::SIGUSR2,
        }
    }
}

/// Where a stream's output goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogTarget {
    /// `<log dir>/<name>.stdout.log` or `.stderr.log`.
    Auto,
    /// Discarded.
    None,
    /// A file the user named.
    File(PathBuf),
}

/// A stream's log: where, and how it is rotated.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LogSpec {
    pub target: LogTarget,
    /// Rotate when the file reaches this size; 0 never rotates.
    pub max_bytes: u64,
    /// Rotated files kept (`file.1` … `file.N`).
    pub backups: u32,
}

/// A resolved system user.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserSpec {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    pub shell: PathBuf,
}

/// Looks users up by name or uid. The real one reads the system's user database; tests may
/// bring their own.
pub trait UserDb {
    fn by_name(&self, name: &str) -> Option<UserSpec>;
    fn by_uid(&self, uid: u32) -> Option<UserSpec>;
}

/// The system's user database (getpwnam / getpwuid).
pub struct SystemUsers;

impl UserDb for SystemUsers {
    fn by_name(&self, name: &str) -> Option<UserSpec> {
        nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .map(user_spec)
    }

    fn by_uid(&self, uid: u32) -> Option<UserSpec> {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
            .ok()
            .flatten()
            .map(user_spec)
    }
}

fn user_spec(user: nix::unistd::User) -> UserSpec {
    UserSpec {
        name: user.name,
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        home: user.dir,
        shell: user.shell,
    }
}

/// What shapes a running process: a change of any of these restarts it (SPEC §4).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProcessSpec {
    /// The program and its arguments; never empty.
    pub argv: Vec<String>,
    /// Run as this user; `None` runs as the daemon's user. Boxed: most programs run as the
    /// daemon's user, and every spec would carry its 80 bytes.
    pub user: Option<Box<UserSpec>>,
    /// Working folder; `None` is the daemon's.
    pub directory: Option<PathBuf>,
    /// Added to the daemon's environment.
    pub environment: BTreeMap<String, String>,
    pub umask: Option<u32>,
    pub stdout: LogSpec,
    pub stderr: LogSpec,
    pub redirect_stderr: bool,
    /// Prefix each stored line with its time (SPEC §13); `None` takes the daemon's default
    /// (`serve --log-timestamps`).
    pub log_timestamps: Option<bool>,
    /// Copy the output to the daemon's console when `serve --log-console` is on.
    pub console: bool,
    /// Ready when a line of output contains this (the output is then always captured, even
    /// with `maxbytes = 0`, so the daemon sees its lines).
    pub ready_log_line: Option<String>,
    /// `$NOTIFY_SOCKET` is set: ready on `READY=1` (sd_notify).
    pub notify: bool,
    /// With `notify`: restarted when no `WATCHDOG=1` comes for this long (`$WATCHDOG_USEC`).
    pub watchdog: Option<Duration>,
}

/// A validated program: what the daemon should run and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramSpec {
    pub name: String,
    pub description: String,
    pub enabled: bool,
    pub boot: bool,
    pub autorestart: AutoRestart,
    pub exitcodes: Vec<i32>,
    pub startsecs: Duration,
    pub startretries: u32,
    pub stopsignal: StopSignal,
    pub stopwaitsecs: Duration,
    pub stopasgroup: bool,
    pub killasgroup: bool,
    pub priority: i32,
    pub delay_seconds: Duration,
    /// Probes that tell whether the program is healthy (and, at the first pass, ready). Boxed:
    /// most programs have none, and a spec is kept per program.
    pub healthcheck: Option<Box<Healthcheck>>,
    /// What must hold of other programs before this one is spawned.
    pub depends_on: BTreeMap<String, Condition>,
    /// What it may use (SPEC §14).
    #[serde(default)]
    pub limits: Limits,
    pub process: ProcessSpec,
}

/// What a program may use (SPEC §14). None of them shapes the process: an edit applies to the
/// running program without a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// Restarted gracefully when its processes together hold more resident memory (bytes);
    /// checked every few seconds, only for programs that set it.
    pub max_memory_restart: Option<u64>,
    /// cgroup v2 `memory.max` of its cgroup (bytes): the kernel's hard limit (OOM kill past it).
    pub memory_max: Option<u64>,
    /// cgroup v2 `cpu.max` of its cgroup, in CPUs (0.5: half of one; 2: two).
    pub cpu_max: Option<f64>,
}

impl Limits {
    /// A limit the kernel enforces through the program's cgroup.
    pub fn needs_cgroup(&self) -> bool {
        self.memory_max.is_some() || self.cpu_max.is_some()
    }
}

/// Defaults (SPEC §3).
pub mod defaults {
    pub const AUTORESTART: super::AutoRestart = super::AutoRestart::Unexpected;
    pub const STARTSECS: f64 = 1.0;
    pub const STARTRETRIES: u32 = 3;
    pub const STOPWAITSECS: f64 = 10.0;
    pub const PRIORITY: i32 = 999;
    pub const LOG_MAX_BYTES: u64 = 50 * 1024 * 1024;
    pub const LOG_BACKUPS: u32 = 10;
}

impl ProgramSpec {
    /// Reads a program file's text: parse, check the fields, resolve. Every problem is returned,
    /// each with the field and (where known) line and column; the file path is left for the
    /// caller to add.
    pub fn from_text(
        name: &str,
        format: Format,
        text: &str,
        users: &dyn UserDb,
    ) -> Result<ProgramSpec, Vec<Problem>> {
        let document = parse(format, text).map_err(|problem| vec![problem])?;
        ProgramSpec::from_document(name, &document, users)
    }

    /// [`ProgramSpec::from_text`] after the parse: the fields of a document that was read
    /// (the scan parses first, to tell a program file from something that is not one).
    pub fn from_document(
        name: &str,
        document: &Document,
        users: &dyn UserDb,
    ) -> Result<ProgramSpec, Vec<Problem>> {
        let (raw, mut problems) = RawProgram::read_fields(&document.fields);
        match raw.into_spec(name, users) {
            Ok(spec) if problems.is_empty() => return Ok(spec),
            Ok(_) => {}
            Err(more) => {
                // A field that was present but bad is not also "required".
                let already: Vec<Option<String>> = problems
                    .iter()
                    .map(|problem| problem.field.clone())
                    .collect();
                problems.extend(
                    more.into_iter()
                        .filter(|problem| !already.contains(&problem.field)),
                );
            }
        }
        let mut located: Vec<Problem> = problems
            .into_iter()
            .map(|problem| {
                // A key inside a table (`healthcheck.interval`) is found at its table.
                match problem.field.as_deref().and_then(|field| {
                    document
                        .position(field)
                        .or_else(|| document.position(field.split('.').next()?))
                }) {
                    Some((line, column)) if problem.line.is_none() => problem.at(line, column),
                    _ => problem,
                }
            })
            .collect();
        located.sort_by_key(|problem| (problem.line.unwrap_or(usize::MAX), problem.column));
        Err(located)
    }

    /// The log file a stream writes to, given the daemon's log folder; `None` when discarded.
    pub fn log_path(&self, log_dir: &Path, stream: Stream) -> Option<PathBuf> {
        let spec = match stream {
            Stream::Stdout => &self.process.stdout,
            Stream::Stderr if self.process.redirect_stderr => return None,
            Stream::Stderr => &self.process.stderr,
        };
        match &spec.target {
            LogTarget::Auto => Some(log_dir.join(format!("{}.{}.log", self.name, stream.as_str()))),
            LogTarget::None => None,
            LogTarget::File(path) => Some(path.clone()),
        }
    }

    /// The spec as the full set of file fields (every field written out, defaults included):
    /// what `GET /programs/{id}` shows and what a round trip through a file must preserve.
    pub fn to_fields(&self) -> serde_json::Map<String, serde_json::Value> {
        RawProgram::from_spec(self).to_fields()
    }
}

/// A process's output stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

#[cfg(test)]
mod tests;
