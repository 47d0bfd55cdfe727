//! The raw level: [`RawProgram`] mirrors a program file (or an API body) field by field, each
//! value checked for its type and range, nothing defaulted. Reading a field never stops at the
//! first problem: every field is read and every problem is kept.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use super::health::{RawDependsOn, RawHealthcheck, read_depends_on, read_ready_log_line};
use super::name::{check_name, quote_short};
use super::{
    AutoRestart, FIELDS, Limits, LogSpec, LogTarget, Problem, ProcessSpec, ProgramSpec, StopSignal,
    UserDb, defaults,
};

/// The longest time setting accepted: a day.
const MAX_SECONDS: f64 = 86_400.0;
/// The most retries, backups, exit codes or environment entries a program may list.
const MAX_COUNT: u64 = 10_000;
/// The largest log size before rotation: 1 TiB.
const MAX_LOG_BYTES: u64 = 1 << 40;
/// The longest description.
const MAX_DESCRIPTION: usize = 10_000;

/// How the command was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawCommand {
    /// One string, split into words like a shell would, without a shell.
    Line(String),
    /// The argv itself.
    Argv(Vec<String>),
}

/// Who the program runs as, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RawUser {
    Name(String),
    Uid(u32),
}

/// A program file's fields as written: typed, range-checked, not defaulted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawProgram {
    pub name: Option<String>,
    pub description: Option<String>,
    pub command: Option<RawCommand>,
    pub user: Option<RawUser>,
    pub enabled: Option<bool>,
    pub boot: Option<bool>,
    pub autorestart: Option<AutoRestart>,
    pub exitcodes: Option<Vec<i32>>,
    pub startsecs: Option<f64>,
    pub startretries: Option<u32>,
    pub stopsignal: Option<StopSignal>,
    pub stopwaitsecs: Option<f64>,
    pub stopasgroup: Option<bool>,
    pub killasgroup: Option<bool>,
    pub directory: Option<PathBuf>,
    pub priority: Option<i32>,
    pub delay_seconds: Option<f64>,
    pub umask: Option<u32>,
    pub redirect_stderr: Option<bool>,
    pub stdout_logfile: Option<LogTarget>,
    pub stdout_logfile_maxbytes: Option<u64>,
    pub stdout_logfile_backups: Option<u32>,
    pub stderr_logfile: Option<LogTarget>,
    pub stderr_logfile_maxbytes: Option<u64>,
    pub stderr_logfile_backups: Option<u32>,
    pub log_timestamps: Option<bool>,
    pub console: Option<bool>,
    pub environment: Option<BTreeMap<String, String>>,
    pub healthcheck: Option<RawHealthcheck>,
    pub ready_log_line: Option<String>,
    pub notify: Option<bool>,
    pub watchdog_sec: Option<f64>,
    pub depends_on: Option<RawDependsOn>,
    pub max_memory_restart: Option<u64>,
    pub memory_max: Option<u64>,
    pub cpu_max: Option<f64>,
    /// Top-level `x-…` fields: the user's own, kept and ignored.
    pub extensions: BTreeMap<String, Value>,
}

type FieldResult<T> = Result<T, String>;

impl RawProgram {
    /// Reads every field of a file's (or a request's) top-level object. A `null` value counts as
    /// absent. Unknown fields are refused unless they start with `x-`.
    pub fn from_fields(fields: &Map<String, Value>) -> Result<RawProgram, Vec<Problem>> {
        let (raw, problems) = RawProgram::read_fields(fields);
        if problems.is_empty() {
            Ok(raw)
        } else {
            Err(problems)
        }
    }

    /// Like [`RawProgram::from_fields`], but also returns what could be read when some fields
    /// are bad, so later checks (name, user) can still report their problems in the same pass.
    pub fn read_fields(fields: &Map<String, Value>) -> (RawProgram, Vec<Problem>) {
        let mut raw = RawProgram::default();
        let mut problems = Vec::new();
        for (key, value) in fields {
            if value.is_null() {
                continue;
            }
            if key.starts_with("x-") {
                raw.extensions.insert(key.clone(), value.clone());
                continue;
            }
            if key == "healthcheck" {
                // A table of its own: each of its keys may have a problem of its own.
                match RawHealthcheck::read(value) {
                    Ok(check) => raw.healthcheck = Some(check),
                    Err(more) => problems.extend(more),
                }
                continue;
            }
            if let Err(message) = raw.set(key, value) {
                problems.push(Problem::field(key, message));
            }
        }
        (raw, problems)
    }

    fn set(&mut self, key: &str, value: &Value) -> FieldResult<()> {
        match key {
            "name" => self.name = Some(string(value)?),
            "description" => self.description = Some(description(value)?),
            "command" => self.command = Some(command(value)?),
            "user" => self.user = Some(user(value)?),
            "enabled" => self.enabled = Some(boolean(value)?),
            "boot" => self.boot = Some(boolean(value)?),
            "autorestart" => self.autorestart = Some(autorestart(value)?),
            "exitcodes" => self.exitcodes = Some(exitcodes(value)?),
            "startsecs" => self.startsecs = Some(seconds(value)?),
            "startretries" => self.startretries = Some(count(value)?),
            "stopsignal" => self.stopsignal = Some(stopsignal(value)?),
            "stopwaitsecs" => self.stopwaitsecs = Some(seconds(value)?),
            "stopasgroup" => self.stopasgroup = Some(boolean(value)?),
            "killasgroup" => self.killasgroup = Some(boolean(value)?),
            "directory" => self.directory = Some(absolute_path(value)?),
            "priority" => self.priority = Some(priority(value)?),
            "delay_seconds" => self.delay_seconds = Some(seconds(value)?),
            "umask" => self.umask = Some(umask(value)?),
            "redirect_stderr" => self.redirect_stderr = Some(boolean(value)?),
            "stdout_logfile" => self.stdout_logfile = Some(logfile(value)?),
            "stdout_logfile_maxbytes" => self.stdout_logfile_maxbytes = Some(size(value)?),
            "stdout_logfile_backups" => self.stdout_logfile_backups = Some(count(value)?),
            "stderr_logfile" => self.stderr_logfile = Some(logfile(value)?),
            "stderr_logfile_maxbytes" => self.stderr_logfile_maxbytes = Some(size(value)?),
            "stderr_logfile_backups" => self.stderr_logfile_backups = Some(count(value)?),
            "log_timestamps" => self.log_timestamps = Some(boolean(value)?),
            "console" => self.console = Some(boolean(value)?),
            "environment" => self.environment = Some(environment(value)?),
            "ready_log_line" => self.ready_log_line = Some(read_ready_log_line(value)?),
            "notify" => self.notify = Some(boolean(value)?),
            "watchdog_sec" => self.watchdog_sec = Some(seconds(value)?),
            "depends_on" => self.depends_on = Some(read_depends_on(value)?),
            "max_memory_restart" => self.max_memory_restart = Some(memory_limit(value)?),
            "memory_max" => self.memory_max = Some(memory_limit(value)?),
            "cpu_max" => self.cpu_max = Some(cpus(value)?),
            unknown => return Err(unknown_field(unknown)),
        }
        Ok(())
    }

    /// Applies defaults, checks the name, splits the command and resolves the user.
    pub fn into_spec(self, name: &str, users: &dyn UserDb) -> Result<ProgramSpec, Vec<Problem>> {
        let mut problems = Vec::new();
        if let Err(message) = check_name(name) {
            problems.push(Problem::field("name", message));
        }
        if let Some(written) = &self.name
            && written != name
        {
            problems.push(Problem::field(
                "name",
                format!(
                    "{} does not match the file name; the name must equal the file's stem {}",
                    quote_short(written),
                    quote_short(name)
                ),
            ));
        }
        let argv = match &self.command {
            None => {
                problems.push(Problem::field("command", "is required"));
                Vec::new()
            }
            Some(RawCommand::Argv(argv)) => argv.clone(),
            Some(RawCommand::Line(line)) => shell_words::split(line).unwrap_or_default(),
        };
        let user = match &self.user {
            None => None,
            Some(RawUser::Name(user_name)) => {
                let found = users.by_name(user_name);
                if found.is_none() {
                    problems.push(Problem::field(
                        "user",
                        format!("unknown user {}", quote_short(user_name)),
                    ));
                }
                found
            }
            Some(RawUser::Uid(uid)) => {
                let found = users.by_uid(*uid);
                if found.is_none() {
                    problems.push(Problem::field("user", format!("no user has uid {uid}")));
                }
                found
            }
        };
        let healthcheck = match &self.healthcheck {
            None => None,
            Some(raw) => match raw.resolve() {
                Ok(check) => Some(check),
                Err(message) => {
                    problems.push(Problem::field("healthcheck", message));
                    None
                }
            },
        };
        let depends_on = self
            .depends_on
            .as_ref()
            .map(RawDependsOn::resolve)
            .unwrap_or_default();
        if depends_on.contains_key(name) {
            problems.push(Problem::field(
                "depends_on",
                format!("{} depends on itself", quote_short(name)),
            ));
        }
        let notify = self.notify.unwrap_or(false);
        let watchdog = self
            .watchdog_sec
            .filter(|seconds| *seconds > 0.0)
            .map(duration);
        if watchdog.is_some() && !notify {
            problems.push(Problem::field(
                "watchdog_sec",
                "needs notify = true: the program sends WATCHDOG=1 to $NOTIFY_SOCKET",
            ));
        }
        let discarded = |target: &Option<LogTarget>| matches!(target, Some(LogTarget::None));
        if self.ready_log_line.is_some()
            && discarded(&self.stdout_logfile)
            && (self.redirect_stderr == Some(true) || discarded(&self.stderr_logfile))
        {
            problems.push(Problem::field(
                "ready_log_line",
                "can never be seen: stdout and stderr are both discarded (\"none\"); log one of them",
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let log =
            |target: &Option<LogTarget>, max_bytes: Option<u64>, backups: Option<u32>| LogSpec {
                target: target.clone().unwrap_or(LogTarget::Auto),
                max_bytes: max_bytes.unwrap_or(defaults::LOG_MAX_BYTES),
                backups: backups.unwrap_or(defaults::LOG_BACKUPS),
            };
        Ok(ProgramSpec {
            name: name.to_string(),
            description: self.description.clone().unwrap_or_default(),
            enabled: self.enabled.unwrap_or(true),
            boot: self.boot.unwrap_or(false),
            autorestart: self.autorestart.unwrap_or(defaults::AUTORESTART),
            exitcodes: self.exitcodes.clone().unwrap_or_else(|| vec![0]),
            startsecs: duration(self.startsecs.unwrap_or(defaults::STARTSECS)),
            startretries: self.startretries.unwrap_or(defaults::STARTRETRIES),
            stopsignal: self.stopsignal.unwrap_or(StopSignal::Term),
            stopwaitsecs: duration(self.stopwaitsecs.unwrap_or(defaults::STOPWAITSECS)),
            stopasgroup: self.stopasgroup.unwrap_or(true),
            killasgroup: self.killasgroup.unwrap_or(true),
            priority: self.priority.unwrap_or(defaults::PRIORITY),
            delay_seconds: duration(self.delay_seconds.unwrap_or(0.0)),
            healthcheck: healthcheck.map(Box::new),
            depends_on,
            limits: Limits {
                max_memory_restart: self.max_memory_restart,
                memory_max: self.memory_max,
                cpu_max: self.cpu_max,
            },
            process: ProcessSpec {
                argv,
                user: user.map(Box::new),
                directory: self.directory.clone(),
                environment: self.environment.clone().unwrap_or_default(),
                umask: self.umask,
                stdout: log(
                    &self.stdout_logfile,
                    self.stdout_logfile_maxbytes,
                    self.stdout_logfile_backups,
                ),
                stderr: log(
                    &self.stderr_logfile,
                    self.stderr_logfile_maxbytes,
                    self.stderr_logfile_backups,
                ),
                redirect_stderr: self.redirect_stderr.unwrap_or(false),
                log_timestamps: self.log_timestamps,
                console: self.console.unwrap_or(true),
                ready_log_line: self.ready_log_line.clone(),
                notify,
                watchdog,
            },
        })
    }

    /// Every field of a spec, written out in full.
    pub fn from_spec(spec: &ProgramSpec) -> RawProgram {
        let process = &spec.process;
        RawProgram {
            name: Some(spec.name.clone()),
            description: Some(spec.description.clone()),
            command: Some(RawCommand::Line(shell_words::join(&process.argv))),
            user: process
                .user
                .as_ref()
                .map(|user| RawUser::Name(user.name.clone())),
            enabled: Some(spec.enabled),
            boot: Some(spec.boot),
            autorestart: Some(spec.autorestart),
            exitcodes: Some(spec.exitcodes.clone()),
            startsecs: Some(spec.startsecs.as_secs_f64()),
            startretries: Some(spec.startretries),
            stopsignal: Some(spec.stopsignal),
            stopwaitsecs: Some(spec.stopwaitsecs.as_secs_f64()),
            stopasgroup: Some(spec.stopasgroup),
            killasgroup: Some(spec.killasgroup),
            directory: process.directory.clone(),
            priority: Some(spec.priority),
            delay_seconds: Some(spec.delay_seconds.as_secs_f64()),
            umask: process.umask,
            redirect_stderr: Some(process.redirect_stderr),
            stdout_logfile: Some(process.stdout.target.clone()),
            stdout_logfile_maxbytes: Some(process.stdout.max_bytes),
            stdout_logfile_backups: Some(process.stdout.backups),
            stderr_logfile: Some(process.stderr.target.clone()),
            stderr_logfile_maxbytes: Some(process.stderr.max_bytes),
            stderr_logfile_backups: Some(process.stderr.backups),
            log_timestamps: process.log_timestamps,
            console: Some(process.console),
            environment: Some(process.environment.clone()),
            healthcheck: spec.healthcheck.as_deref().map(RawHealthcheck::of),
            ready_log_line: process.ready_log_line.clone(),
            notify: Some(process.notify),
            watchdog_sec: Some(process.watchdog.map_or(0.0, |period| period.as_secs_f64())),
            depends_on: (!spec.depends_on.is_empty()).then(|| RawDependsOn::of(&spec.depends_on)),
            max_memory_restart: spec.limits.max_memory_restart,
            memory_max: spec.limits.memory_max,
            cpu_max: spec.limits.cpu_max,
            extensions: BTreeMap::new(),
        }
    }

    /// The fields that are set, in their canonical written form, ready for a file or a response.
    pub fn to_fields(&self) -> Map<String, Value> {
        let mut fields = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                fields.insert(key.to_string(), value);
            }
        };
        put("name", self.name.clone().map(Value::from));
        put("description", self.description.clone().map(Value::from));
        put(
            "command",
            self.command.as_ref().map(|command| match command {
                RawCommand::Line(line) => Value::from(line.clone()),
                RawCommand::Argv(argv) => Value::from(argv.clone()),
            }),
        );
        put(
            "user",
            self.user.as_ref().map(|user| match user {
                RawUser::Name(name) => Value::from(name.clone()),
                RawUser::Uid(uid) => Value::from(*uid),
            }),
        );
        put("enabled", self.enabled.map(Value::from));
        put("boot", self.boot.map(Value::from));
        put(
            "autorestart",
            self.autorestart.map(|policy| Value::from(policy.as_str())),
        );
        put("exitcodes", self.exitcodes.clone().map(Value::from));
        put("startsecs", self.startsecs.map(seconds_to_json));
        put("startretries", self.startretries.map(Value::from));
        put(
            "stopsignal",
            self.stopsignal.map(|signal| Value::from(signal.name())),
        );
        put("stopwaitsecs", self.stopwaitsecs.map(seconds_to_json));
        put("stopasgroup", self.stopasgroup.map(Value::from));
        put("killasgroup", self.killasgroup.map(Value::from));
        put(
            "directory",
            self.directory
                .as_ref()
                .map(|path| Value::from(path.to_string_lossy().into_owned())),
        );
        put("priority", self.priority.map(Value::from));
        put("delay_seconds", self.delay_seconds.map(seconds_to_json));
        put(
            "umask",
            self.umask.map(|mask| Value::from(format!("{mask:03o}"))),
        );
        put("redirect_stderr", self.redirect_stderr.map(Value::from));
        put(
            "stdout_logfile",
            self.stdout_logfile.as_ref().map(logfile_to_json),
        );
        put(
            "stdout_logfile_maxbytes",
            self.stdout_logfile_maxbytes.map(size_to_json),
        );
        put(
            "stdout_logfile_backups",
            self.stdout_logfile_backups.map(Value::from),
        );
        put(
            "stderr_logfile",
            self.stderr_logfile.as_ref().map(logfile_to_json),
        );
        put(
            "stderr_logfile_maxbytes",
            self.stderr_logfile_maxbytes.map(size_to_json),
        );
        put(
            "stderr_logfile_backups",
            self.stderr_logfile_backups.map(Value::from),
        );
        put("log_timestamps", self.log_timestamps.map(Value::from));
        put("console", self.console.map(Value::from));
        put(
            "environment",
            self.environment.as_ref().map(|environment| {
                Value::Object(
                    environment
                        .iter()
                        .map(|(key, value)| (key.clone(), Value::from(value.clone())))
                        .collect(),
                )
            }),
        );
        put(
            "depends_on",
            self.depends_on.as_ref().map(RawDependsOn::to_json),
        );
        put(
            "ready_log_line",
            self.ready_log_line.clone().map(Value::from),
        );
        put("notify", self.notify.map(Value::from));
        put("watchdog_sec", self.watchdog_sec.map(seconds_to_json));
        put(
            "max_memory_restart",
            self.max_memory_restart.map(size_to_json),
        );
        put("memory_max", self.memory_max.map(size_to_json));
        put("cpu_max", self.cpu_max.map(seconds_to_json));
        put(
            "healthcheck",
            self.healthcheck.as_ref().map(RawHealthcheck::to_json),
        );
        for (key, value) in &self.extensions {
            fields.insert(key.clone(), value.clone());
        }
        fields
    }
}

fn duration(seconds: f64) -> Duration {
    Duration::from_secs_f64(seconds)
}

/// Seconds as JSON: a whole number stays an integer.
pub fn seconds_to_json(seconds: f64) -> Value {
    if seconds.fract() == 0.0 && seconds.abs() < 1e15 {
        Value::from(seconds as i64)
    } else {
        Value::from(seconds)
    }
}

fn logfile_to_json(target: &LogTarget) -> Value {
    match target {
        LogTarget::Auto => Value::from("auto"),
        LogTarget::None => Value::from("none"),
        LogTarget::File(path) => Value::from(path.to_string_lossy().into_owned()),
    }
}

fn size_to_json(bytes: u64) -> Value {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")];
    for (unit, suffix) in UNITS {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return Value::from(format!("{}{suffix}", bytes / unit));
        }
    }
    Value::from(bytes)
}

pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_string(),
        Value::Bool(flag) => format!("the boolean {flag}"),
        Value::Number(number) => format!("the number {number}"),
        Value::String(text) => format!("the string {}", quote_short(text)),
        Value::Array(_) => "a list".to_string(),
        Value::Object(_) => "a table".to_string(),
    }
}

fn no_nul(text: &str) -> FieldResult<()> {
    if text.contains('\0') {
        Err("must not contain a NUL character".to_string())
    } else {
        Ok(())
    }
}

fn string(value: &Value) -> FieldResult<String> {
    match value {
        Value::String(text) => {
            no_nul(text)?;
            Ok(text.clone())
        }
        other => Err(format!("expected a string, found {}", describe(other))),
    }
}

fn description(value: &Value) -> FieldResult<String> {
    let text = string(value)?;
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(format!("is longer than {MAX_DESCRIPTION} characters"));
    }
    Ok(text)
}

pub(super) fn command(value: &Value) -> FieldResult<RawCommand> {
    match value {
        Value::String(line) => {
            no_nul(line)?;
            let words = shell_words::split(line)
                .map_err(|_| format!("{} has an unclosed quote", quote_short(line)))?;
            if words.is_empty() {
                return Err("is empty; give the program to run".to_string());
            }
            Ok(RawCommand::Line(line.clone()))
        }
        Value::Array(items) => {
            if items.is_empty() {
                return Err("is an empty list; give the program to run".to_string());
            }
            let mut argv = Vec::with_capacity(items.len());
            for (index, item) in items.iter().enumerate() {
                let word = string(item).map_err(|message| format!("item {index}: {message}"))?;
                argv.push(word);
            }
            if argv[0].is_empty() {
                return Err("the program (first item) is empty".to_string());
            }
            Ok(RawCommand::Argv(argv))
        }
        other => Err(format!(
            "expected a string or a list of strings, found {}",
            describe(other)
        )),
    }
}

fn user(value: &Value) -> FieldResult<RawUser> {
    match value {
        Value::String(text) => {
            no_nul(text)?;
            if text.is_empty() {
                return Err("is empty; give a user name or uid, or leave the field out".to_string());
            }
            match text.parse::<u32>() {
                Ok(uid) => Ok(RawUser::Uid(uid)),
                Err(_) => Ok(RawUser::Name(text.clone())),
            }
        }
        Value::Number(number) => number
            .as_u64()
            .and_then(|uid| u32::try_from(uid).ok())
            .map(RawUser::Uid)
            .ok_or_else(|| format!("{number} is not a valid uid")),
        other => Err(format!(
            "expected a user name or uid, found {}",
            describe(other)
        )),
    }
}

fn boolean(value: &Value) -> FieldResult<bool> {
    let parsed = match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        Value::Number(number) => match number.as_u64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        _ => None,
    };
    parsed.ok_or_else(|| format!("expected true or false, found {}", describe(value)))
}

fn autorestart(value: &Value) -> FieldResult<AutoRestart> {
    if let Value::String(text) = value
        && text.trim().eq_ignore_ascii_case("unexpected")
    {
        return Ok(AutoRestart::Unexpected);
    }
    match boolean(value) {
        Ok(true) => Ok(AutoRestart::True),
        Ok(false) => Ok(AutoRestart::False),
        Err(_) => Err(format!(
            "expected \"true\", \"false\" or \"unexpected\", found {}",
            describe(value)
        )),
    }
}

fn exit_code(value: &Value) -> FieldResult<i32> {
    let code = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse::<u64>().ok(),
        _ => None,
    };
    match code {
        Some(code) if code <= 255 => Ok(code as i32),
        _ => Err(format!(
            "exit codes are integers from 0 to 255, found {}",
            describe(value)
        )),
    }
}

fn exitcodes(value: &Value) -> FieldResult<Vec<i32>> {
    let codes = match value {
        Value::Array(items) => {
            if items.len() as u64 > MAX_COUNT {
                return Err(format!("lists more than {MAX_COUNT} codes"));
            }
            items
                .iter()
                .map(exit_code)
                .collect::<FieldResult<Vec<_>>>()?
        }
        // supervisord writes `exitcodes=0,2`; accept that and a single number.
        Value::String(text) => text
            .split(',')
            .map(|part| exit_code(&Value::from(part.trim())))
            .collect::<FieldResult<Vec<_>>>()?,
        Value::Number(_) => vec![exit_code(value)?],
        other => {
            return Err(format!(
                "expected a list of exit codes, found {}",
                describe(other)
            ));
        }
    };
    Ok(codes)
}

fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse::<f64>().ok(),
        _ => None,
    }
}

fn seconds(value: &Value) -> FieldResult<f64> {
    match number(value) {
        Some(seconds) if seconds.is_finite() && (0.0..=MAX_SECONDS).contains(&seconds) => {
            Ok(seconds)
        }
        _ => Err(format!(
            "expected a number of seconds from 0 to {MAX_SECONDS}, found {}",
            describe(value)
        )),
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}

fn count(value: &Value) -> FieldResult<u32> {
    match integer(value) {
        Some(count) if (0..=MAX_COUNT as i64).contains(&count) => Ok(count as u32),
        _ => Err(format!(
            "expected an integer from 0 to {MAX_COUNT}, found {}",
            describe(value)
        )),
    }
}

fn priority(value: &Value) -> FieldResult<i32> {
    integer(value)
        .and_then(|priority| i32::try_from(priority).ok())
        .ok_or_else(|| {
            format!(
                "expected an integer from {} to {}, found {}",
                i32::MIN,
                i32::MAX,
                describe(value)
            )
        })
}

fn stopsignal(value: &Value) -> FieldResult<StopSignal> {
    let names = StopSignal::ALL.map(StopSignal::name).join(", ");
    match value {
        Value::String(text) => StopSignal::parse(text)
            .ok_or_else(|| format!("unknown signal {}; use one of {names}", quote_short(text))),
        other => Err(format!(
            "expected a signal name ({names}), found {}",
            describe(other)
        )),
    }
}

fn absolute_path(value: &Value) -> FieldResult<PathBuf> {
    let text = string(value)?;
    if text.is_empty() {
        return Err("is empty; give an absolute path or leave the field out".to_string());
    }
    if !text.starts_with('/') {
        return Err(format!(
            "{} is relative; give an absolute path",
            quote_short(&text)
        ));
    }
    Ok(PathBuf::from(text))
}

fn logfile(value: &Value) -> FieldResult<LogTarget> {
    let text = string(value)?;
    match text.trim().to_ascii_lowercase().as_str() {
        "auto" => return Ok(LogTarget::Auto),
        "none" => return Ok(LogTarget::None),
        _ => {}
    }
    if text.ends_with('/') {
        return Err(format!("{} names a folder, not a file", quote_short(&text)));
    }
    let path =
        absolute_path(value).map_err(|message| format!("{message}, \"auto\" or \"none\""))?;
    Ok(LogTarget::File(path))
}

/// A size as a program file writes it (`50MB`, `512KB`, `1GB`, a number of bytes), for the
/// daemon's own flags (`serve --log-budget`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    size(&Value::from(text))
}

fn size(value: &Value) -> FieldResult<u64> {
    let error = || {
        format!(
            "expected a size such as 50MB, 512KB, 1GB or a number of bytes, found {}",
            describe(value)
        )
    };
    let bytes = match value {
        Value::Number(number) => number.as_u64().ok_or_else(error)?,
        Value::String(text) => {
            let text = text.trim();
            let digits_end = text
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(text.len());
            let amount: u64 = text[..digits_end].parse().map_err(|_| error())?;
            let multiplier: u64 = match text[digits_end..].trim().to_ascii_uppercase().as_str() {
                "" | "B" => 1,
                "K" | "KB" | "KIB" => 1 << 10,
                "M" | "MB" | "MIB" => 1 << 20,
                "G" | "GB" | "GIB" => 1 << 30,
                _ => return Err(error()),
            };
            amount.checked_mul(multiplier).ok_or_else(error)?
        }
        _ => return Err(error()),
    };
    if bytes > MAX_LOG_BYTES {
        return Err(format!("{bytes} bytes is over the limit of 1TB"));
    }
    Ok(bytes)
}

/// The smallest memory limit accepted: below it no program starts (and a typo such as
/// `"256"` for 256 MB is caught).
const MIN_MEMORY_LIMIT: u64 = 1 << 20;

/// A memory limit: a size as for logs (`256MB`, `1GB`, bytes), at least 1 MiB.
fn memory_limit(value: &Value) -> FieldResult<u64> {
    let bytes = size(value)?;
    if bytes < MIN_MEMORY_LIMIT {
        return Err(format!(
            "{bytes} bytes is below the smallest limit of 1MB (write a unit: \"256MB\")"
        ));
    }
    Ok(bytes)
}

/// The most CPUs a `cpu_max` may name.
const MAX_CPUS: f64 = 4096.0;

/// CPUs as `cpu_max` takes them: a number of CPUs (`0.5`, `2`), a percentage of one CPU
/// (`"50%"`, `"150%"`, as systemd's `CPUQuota=`) or millicores (`"500m"`, as Kubernetes).
pub fn parse_cpus(text: &str) -> Result<f64, String> {
    cpus(&Value::from(text))
}

fn cpus(value: &Value) -> FieldResult<f64> {
    let error = || {
        format!(
            "expected CPUs such as 0.5, 2, \"50%\" or \"500m\", found {}",
            describe(value)
        )
    };
    let cpus = match value {
        Value::Number(number) => number.as_f64().ok_or_else(error)?,
        Value::String(text) => {
            let text = text.trim();
            let (number, scale) = if let Some(percent) = text.strip_suffix('%') {
                (percent, 0.01)
            } else if let Some(milli) = text.strip_suffix('m') {
                (milli, 0.001)
            } else {
                (text, 1.0)
            };
            number.trim().parse::<f64>().map_err(|_| error())? * scale
        }
        _ => return Err(error()),
    };
    // The kernel's smallest quota is 1 ms per 100 ms period: 0.01 CPU.
    if !cpus.is_finite() || !(0.01..=MAX_CPUS).contains(&cpus) {
        return Err(format!(
            "{cpus} CPUs is out of range: from 0.01 (\"1%\") to {MAX_CPUS}"
        ));
    }
    Ok(cpus)
}

fn umask(value: &Value) -> FieldResult<u32> {
    let error = |found: String| {
        format!("expected an octal string such as \"022\" or \"0o077\", found {found}")
    };
    let Value::String(text) = value else {
        // An unquoted 022 means 22 in YAML and is not valid TOML: only strings say what they mean.
        return Err(error(describe(value)));
    };
    let digits = text.trim().trim_start_matches("0o");
    if digits.is_empty() || digits.len() > 4 {
        return Err(error(quote_short(text)));
    }
    match u32::from_str_radix(digits, 8) {
        Ok(mask) if mask <= 0o777 => Ok(mask),
        _ => Err(error(quote_short(text))),
    }
}

fn environment(value: &Value) -> FieldResult<BTreeMap<String, String>> {
    let Value::Object(map) = value else {
        // Never the value itself: it may be a secret, and problems are shown to every role
        // and logged.
        let found = match value {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "a table",
        };
        return Err(format!(
            "expected a table of NAME = \"value\", found {found}"
        ));
    };
    if map.len() as u64 > MAX_COUNT {
        return Err(format!("has more than {MAX_COUNT} variables"));
    }
    let mut environment = BTreeMap::new();
    for (key, item) in map {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(format!(
                "variable name {} must be non-empty, without '=' or NUL",
                quote_short(key)
            ));
        }
        let text = match item {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            other => {
                return Err(format!(
                    "variable {} must be a string, found {}",
                    quote_short(key),
                    describe(other)
                ));
            }
        };
        if text.contains('\0') {
            return Err(format!(
                "variable {} contains a NUL character",
                quote_short(key)
            ));
        }
        environment.insert(key.clone(), text);
    }
    Ok(environment)
}

fn unknown_field(key: &str) -> String {
    let closest = FIELDS
        .iter()
        .map(|field| (edit_distance(key, field), *field))
        .min();
    match closest {
        Some((distance, field)) if distance <= 3 => format!(
            "unknown field {}; did you mean `{field}`? (fields of your own start with \"x-\")",
            quote_short(key)
        ),
        _ => format!(
            "unknown field {} (fields of your own start with \"x-\")",
            quote_short(key)
        ),
    }
}

pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().take(128).enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    previous[b.len()]
}
