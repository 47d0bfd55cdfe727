//! supervisord's XML-RPC interface as data and pure functions: its fault and state codes, the
//! methods `/RPC2` answers with the role each needs, the `group:name` namespecs, the byte
//! ranges of its log reads, and the process-info struct supervisorctl prints. Checked against
//! supervisord 4.x (`supervisor/xmlrpc.py`, `states.py`, `rpcinterface.py`, `options.py`).
//! **Pure**: no I/O; the handler (`super`) brings the daemon's answers and the clock.

use crate::api::openapi::Role;
use crate::daemon::ProcessInfo;
use crate::supervisor::ProcessState;
use crate::xmlrpc::{Fault, Value};

/// The API version supervisorctl checks (`supervisor.getVersion`).
pub const API_VERSION: &str = "3.0";

/// The most bytes one log read or tail returns: answers stay bounded (a client pages through
/// a larger log with offsets, as `supervisorctl tail -f` does with `tailProcess*Log`).
pub const MAX_LOG_READ: u64 = 4 << 20;

/// supervisord's fault codes (`supervisor.xmlrpc.Faults`).
pub mod faults {
    pub const UNKNOWN_METHOD: i32 = 1;
    pub const INCORRECT_PARAMETERS: i32 = 2;
    pub const BAD_ARGUMENTS: i32 = 3;
    pub const SIGNATURE_UNSUPPORTED: i32 = 4;
    pub const SHUTDOWN_STATE: i32 = 6;
    pub const BAD_NAME: i32 = 10;
    pub const BAD_SIGNAL: i32 = 11;
    pub const NO_FILE: i32 = 20;
    pub const NOT_EXECUTABLE: i32 = 21;
    pub const FAILED: i32 = 30;
    pub const ABNORMAL_TERMINATION: i32 = 40;
    pub const SPAWN_ERROR: i32 = 50;
    pub const ALREADY_STARTED: i32 = 60;
    pub const NOT_RUNNING: i32 = 70;
    pub const SUCCESS: i32 = 80;
    pub const ALREADY_ADDED: i32 = 90;
    pub const STILL_RUNNING: i32 = 91;
    pub const CANT_REREAD: i32 = 92;

    pub const ALL: [(i32, &str); 18] = [
        (UNKNOWN_METHOD, "UNKNOWN_METHOD"),
        (INCORRECT_PARAMETERS, "INCORRECT_PARAMETERS"),
        (BAD_ARGUMENTS, "BAD_ARGUMENTS"),
        (SIGNATURE_UNSUPPORTED, "SIGNATURE_UNSUPPORTED"),
        (SHUTDOWN_STATE, "SHUTDOWN_STATE"),
        (BAD_NAME, "BAD_NAME"),
        (BAD_SIGNAL, "BAD_SIGNAL"),
        (NO_FILE, "NO_FILE"),
        (NOT_EXECUTABLE, "NOT_EXECUTABLE"),
        (FAILED, "FAILED"),
        (ABNORMAL_TERMINATION, "ABNORMAL_TERMINATION"),
        (SPAWN_ERROR, "SPAWN_ERROR"),
        (ALREADY_STARTED, "ALREADY_STARTED"),
        (NOT_RUNNING, "NOT_RUNNING"),
        (SUCCESS, "SUCCESS"),
        (ALREADY_ADDED, "ALREADY_ADDED"),
        (STILL_RUNNING, "STILL_RUNNING"),
        (CANT_REREAD, "CANT_REREAD"),
    ];

    /// `BAD_NAME`, … (`UNKNOWN` for a code supervisord does not have).
    pub fn name(code: i32) -> &'static str {
        ALL.iter()
            .find(|(known, _)| *known == code)
            .map_or("UNKNOWN", |(_, name)| name)
    }
}

/// A fault as supervisord words it: `NAME` or `NAME: extra`.
pub fn fault(code: i32, extra: &str) -> Fault {
    let name = faults::name(code);
    if extra.is_empty() {
        Fault::new(code, name)
    } else {
        Fault::new(code, format!("{name}: {extra}"))
    }
}

/// supervisord's process state codes (`supervisor.states.ProcessStates`; UNKNOWN is 1000,
/// a state the daemon never has).
pub fn state_code(state: ProcessState) -> i32 {
    match state {
        ProcessState::Stopped => 0,
        ProcessState::Starting => 10,
        ProcessState::Running => 20,
        ProcessState::Backoff => 30,
        ProcessState::Stopping => 40,
        ProcessState::Exited => 100,
        ProcessState::Fatal => 200,
    }
}

/// supervisord's own state (`getState`): RUNNING (1), or SHUTDOWN (-1) while the daemon stops.
pub fn daemon_state(shutting_down: bool) -> Value {
    let (code, name) = if shutting_down {
        (-1, "SHUTDOWN")
    } else {
        (1, "RUNNING")
    };
    Value::structure([
        ("statecode", Value::from(code)),
        ("statename", Value::from(name)),
    ])
}

/// One method `/RPC2` answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    /// The least role that may call it (SPEC §10).
    pub role: Role,
    /// The return type, then the parameter types (`system.methodSignature`).
    pub signature: &'static [&'static str],
    /// How many of the last parameters may be left out (`wait` defaults to true).
    pub optional: usize,
    pub help: &'static str,
}

const fn method(
    name: &'static str,
    role: Role,
    signature: &'static [&'static str],
    optional: usize,
    help: &'static str,
) -> Method {
    Method {
        name,
        role,
        signature,
        optional,
        help,
    }
}

/// Every method, with its role: `read` for what only looks, `operate` for what starts, stops,
/// signals, reads logs or rescans programs.d (a rescan applies what the files already say, as
/// the watcher would), `admin` for what destroys data (clearing logs). supervisord's methods
/// that change its configuration (`addProcessGroup`, `removeProcessGroup`), read its own log
/// or stop the daemon (`shutdown`, `restart`) are not served: the files are the configuration.
pub const METHODS: &[Method] = &[
    method(
        "system.listMethods",
        Role::Read,
        &["array"],
        0,
        "Return an array listing the available method names",
    ),
    method(
        "system.methodHelp",
        Role::Read,
        &["string", "string"],
        0,
        "Return a string showing the method's documentation",
    ),
    method(
        "system.methodSignature",
        Role::Read,
        &["array", "string"],
        0,
        "Return an array describing the method signature in the form [rtype, ptype, ptype...]",
    ),
    method(
        "system.multicall",
        Role::Read,
        &["array", "array"],
        0,
        "Process an array of calls {methodName, params}, and return an array of results: [value] or {faultCode, faultString}; each call needs its own role",
    ),
    method(
        "supervisor.getAPIVersion",
        Role::Read,
        &["string"],
        0,
        "Return the version of the RPC API (3.0)",
    ),
    method(
        "supervisor.getVersion",
        Role::Read,
        &["string"],
        0,
        "Return the version of the RPC API (3.0); the name before supervisor 3.0",
    ),
    method(
        "supervisor.getSupervisorVersion",
        Role::Read,
        &["string"],
        0,
        "Return the version of the daemon (hoody-daemon's)",
    ),
    method(
        "supervisor.getIdentification",
        Role::Read,
        &["string"],
        0,
        "Return the identifying string of the daemon",
    ),
    method(
        "supervisor.getState",
        Role::Read,
        &["struct"],
        0,
        "Return the daemon's state as a struct {statecode, statename}",
    ),
    method(
        "supervisor.getPID",
        Role::Read,
        &["int"],
        0,
        "Return the PID of the daemon",
    ),
    method(
        "supervisor.getProcessInfo",
        Role::Read,
        &["struct", "string"],
        0,
        "Get info about a process named name (or group:name)",
    ),
    method(
        "supervisor.getAllProcessInfo",
        Role::Read,
        &["array"],
        0,
        "Get info about all processes",
    ),
    method(
        "supervisor.getAllConfigInfo",
        Role::Read,
        &["array"],
        0,
        "Get the configuration of every program (name, group, inuse, autostart, priorities, log files): what supervisorctl avail shows",
    ),
    method(
        "supervisor.startProcess",
        Role::Operate,
        &["boolean", "string", "boolean"],
        1,
        "Start a process (the program's run intent, as POST /programs/{id}/start); wait: until RUNNING",
    ),
    method(
        "supervisor.startProcessGroup",
        Role::Operate,
        &["array", "string", "boolean"],
        1,
        "Start all processes in the group (a program is its own group)",
    ),
    method(
        "supervisor.startAllProcesses",
        Role::Operate,
        &["array", "boolean"],
        1,
        "Start every enabled program that is not running, by priority",
    ),
    method(
        "supervisor.stopProcess",
        Role::Operate,
        &["boolean", "string", "boolean"],
        1,
        "Stop a process (the program's run intent, as POST /programs/{id}/stop); wait: until stopped",
    ),
    method(
        "supervisor.stopProcessGroup",
        Role::Operate,
        &["array", "string", "boolean"],
        1,
        "Stop all processes in the group (a program is its own group)",
    ),
    method(
        "supervisor.stopAllProcesses",
        Role::Operate,
        &["array", "boolean"],
        1,
        "Stop every running program, highest priority first",
    ),
    method(
        "supervisor.signalProcess",
        Role::Operate,
        &["boolean", "string", "string"],
        0,
        "Send a signal (a name such as HUP, or a number) to the process",
    ),
    method(
        "supervisor.signalProcessGroup",
        Role::Operate,
        &["array", "string", "string"],
        0,
        "Send a signal to all processes in the group",
    ),
    method(
        "supervisor.signalAllProcesses",
        Role::Operate,
        &["array", "string"],
        0,
        "Send a signal to every running process",
    ),
    method(
        "supervisor.readProcessStdoutLog",
        Role::Operate,
        &["string", "string", "int", "int"],
        0,
        "Read length bytes from name's stdout log starting at offset (a negative offset: the last bytes, with length 0)",
    ),
    method(
        "supervisor.readProcessLog",
        Role::Operate,
        &["string", "string", "int", "int"],
        0,
        "readProcessStdoutLog under its old name",
    ),
    method(
        "supervisor.readProcessStderrLog",
        Role::Operate,
        &["string", "string", "int", "int"],
        0,
        "Read length bytes from name's stderr log starting at offset",
    ),
    method(
        "supervisor.tailProcessStdoutLog",
        Role::Operate,
        &["array", "string", "int", "int"],
        0,
        "Tail the stdout log: [bytes, next offset, overflow]",
    ),
    method(
        "supervisor.tailProcessLog",
        Role::Operate,
        &["array", "string", "int", "int"],
        0,
        "tailProcessStdoutLog under its old name",
    ),
    method(
        "supervisor.tailProcessStderrLog",
        Role::Operate,
        &["array", "string", "int", "int"],
        0,
        "Tail the stderr log: [bytes, next offset, overflow]",
    ),
    method(
        "supervisor.reloadConfig",
        Role::Operate,
        &["array"],
        0,
        "Rescan programs.d now and return [[added, changed, removed]]; changes apply at once (the daemon applies changed files itself)",
    ),
    method(
        "supervisor.clearProcessLogs",
        Role::Admin,
        &["boolean", "string"],
        0,
        "Empty the stdout and stderr logs of the process",
    ),
    method(
        "supervisor.clearProcessLog",
        Role::Admin,
        &["boolean", "string"],
        0,
        "clearProcessLogs under its old name",
    ),
    method(
        "supervisor.clearAllProcessLogs",
        Role::Admin,
        &["array"],
        0,
        "Empty the logs of every process",
    ),
];

pub fn find_method(name: &str) -> Option<&'static Method> {
    METHODS.iter().find(|method| method.name == name)
}

/// What a namespec names. There are no process groups: each program is its own group of one
/// process, so `web`, `web:web`, `web:*` and `web:` all name the program `web` (the last two
/// as a group, as supervisorctl sends them for `start web:*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Process(String),
    Group(String),
}

pub fn target(namespec: &str) -> Result<Target, Fault> {
    match namespec.split_once(':') {
        None => Ok(Target::Process(namespec.to_string())),
        Some((group, "" | "*")) => Ok(Target::Group(group.to_string())),
        Some((group, name)) if group == name => Ok(Target::Process(name.to_string())),
        Some(_) => Err(fault(faults::BAD_NAME, namespec)),
    }
}

/// The bytes `readProcess*Log(name, offset, length)` returns, as (start, length), for a file of
/// `size` bytes (supervisord's `readFile`): a negative offset reads the last `-offset` bytes
/// (length must be 0); otherwise `length` bytes from `offset`, 0 meaning to the end. Never more
/// than [`MAX_LOG_READ`] (the last ones, for a negative offset).
pub fn read_range(size: u64, offset: i64, length: i64) -> Result<(u64, u64), Fault> {
    if offset < 0 {
        if length != 0 {
            return Err(fault(faults::BAD_ARGUMENTS, ""));
        }
        let wanted = offset.unsigned_abs().min(MAX_LOG_READ);
        let start = size.saturating_sub(wanted);
        return Ok((start, size - start));
    }
    if length < 0 {
        return Err(fault(faults::BAD_ARGUMENTS, ""));
    }
    let start = offset as u64;
    let available = size.saturating_sub(start);
    let length = if length == 0 {
        available
    } else {
        (length as u64).min(available)
    };
    Ok((start, length.min(MAX_LOG_READ)))
}

/// What `tailProcess*Log(name, offset, length)` reads and answers (supervisord's `tailFile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    pub start: u64,
    pub length: u64,
    /// The file's size: where the next tail starts.
    pub next_offset: u64,
    /// The log grew past `offset + length`: bytes were skipped.
    pub overflow: bool,
}

/// `length` is at most [`MAX_LOG_READ`]; a negative offset or length counts as 0.
pub fn tail_range(size: u64, offset: i64, length: i64) -> Tail {
    let size_signed = i128::from(size);
    let mut offset = i128::from(offset.max(0));
    let mut length = i128::from(length.clamp(0, MAX_LOG_READ as i64));
    let mut overflow = false;
    if size_signed > offset + length {
        overflow = true;
        offset = size_signed - 1;
    }
    if offset + length > size_signed {
        if offset > size_signed - 1 {
            length = 0;
        }
        offset = size_signed - length;
    }
    let start = u64::try_from(offset.max(0)).unwrap_or(0);
    let length = u64::try_from(length).unwrap_or(0);
    Tail {
        start,
        // What the file holds from there (Python's read returns no more).
        length: length.min(size.saturating_sub(start)),
        next_offset: size,
        overflow,
    }
}

/// Log bytes as an XML-RPC string: UTF-8 with invalid sequences replaced (the XML writer
/// replaces what XML cannot carry, such as colour codes).
pub fn log_text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A signal by name (`HUP`, `SIGHUP`, `hup`) or number (`1`), as supervisord's
/// `signal_number` reads it.
pub fn parse_signal(text: &str) -> Option<nix::sys::signal::Signal> {
    use nix::sys::signal::Signal;
    let text = text.trim();
    if let Ok(number) = text.parse::<i32>() {
        return Signal::try_from(number).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().ok()
}

/// An integer as XML-RPC's 32-bit `int` carries it (supervisord's `capped_int`).
pub fn capped(number: i64) -> Value {
    Value::Int(number.clamp(i64::from(i32::MIN), i64::from(i32::MAX)))
}

/// A local time, broken down (what `localtime_r` gives).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// 0 = January.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

/// `Jan 02 03:04 PM`: Python's `strftime('%b %d %I:%M %p')`, which supervisord shows for a
/// stopped process.
pub fn stop_time_text(time: LocalTime) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.get(time.month as usize).copied().unwrap_or("Jan");
    let (hour, half) = match time.hour {
        0 => (12, "AM"),
        1..=11 => (time.hour, "AM"),
        12 => (12, "PM"),
        hour => (hour - 12, "PM"),
    };
    format!(
        "{month} {:02} {hour:02}:{:02} {half}",
        time.day, time.minute
    )
}

/// An uptime as Python prints a `timedelta`: `0:00:05`, `1 day, 2:03:04`, `3 days, 0:00:00`.
pub fn uptime_text(seconds: u64) -> String {
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let clock = format!("{}:{:02}:{:02}", rest / 3600, rest % 3600 / 60, rest % 60);
    match days {
        0 => clock,
        1 => format!("1 day, {clock}"),
        days => format!("{days} days, {clock}"),
    }
}

/// What supervisord calls `spawnerr`: why a FATAL or BACKOFF process is not running.
fn spawn_error(info: &ProcessInfo) -> String {
    match info.state {
        ProcessState::Fatal | ProcessState::Backoff => match &info.last_error {
            Some(error) => error.clone(),
            None if info.state == ProcessState::Backoff => {
                "Exited too quickly (process log may have details)".to_string()
            }
            None => String::new(),
        },
        _ => String::new(),
    }
}

/// The `description` supervisorctl prints beside the state (supervisord's
/// `_interpretProcessInfo`), followed by what only hoody-daemon knows: `disabled`, a config
/// error.
pub fn description(info: &ProcessInfo, now: u64, local: impl Fn(u64) -> LocalTime) -> String {
    let start = info.started_at.unwrap_or(0);
    let base = match info.state {
        ProcessState::Running => format!(
            "pid {}, uptime {}",
            info.pid.unwrap_or(0),
            uptime_text(now.saturating_sub(start))
        ),
        ProcessState::Fatal | ProcessState::Backoff => {
            let error = spawn_error(info);
            if error.is_empty() {
                format!("unknown error (try \"tail {}\")", info.name)
            } else {
                error
            }
        }
        ProcessState::Stopped | ProcessState::Exited => {
            if start > 0 {
                stop_time_text(local(info.stopped_at.unwrap_or(start)))
            } else {
                "Not started".to_string()
            }
        }
        ProcessState::Starting | ProcessState::Stopping => String::new(),
    };
    let mut notes = vec![base];
    if !info.enabled {
        notes.push("disabled".to_string());
    }
    if let Some(error) = &info.config_error {
        notes.push(format!("config error: {error}"));
    }
    notes.retain(|note| !note.is_empty());
    notes.join("; ")
}

/// The struct `getProcessInfo` answers (the group is the program itself).
pub fn process_info(info: &ProcessInfo, now: u64, local: impl Fn(u64) -> LocalTime) -> Value {
    let exit_status = match (info.exit_code, info.exit_signal) {
        (Some(code), _) => i64::from(code),
        // supervisord's decode_wait_status gives -1 for a death by signal.
        (None, Some(_)) => -1,
        (None, None) => 0,
    };
    let stdout = info.stdout_logfile.clone().unwrap_or_default();
    let stderr = info.stderr_logfile.clone().unwrap_or_default();
    let description = description(info, now, local);
    Value::Struct(vec![
        ("name".into(), Value::from(info.name.clone())),
        ("group".into(), Value::from(info.name.clone())),
        ("start".into(), capped(info.started_at.unwrap_or(0) as i64)),
        ("stop".into(), capped(info.stopped_at.unwrap_or(0) as i64)),
        ("now".into(), capped(now as i64)),
        ("state".into(), Value::from(state_code(info.state))),
        ("statename".into(), Value::from(info.state.as_str())),
        ("spawnerr".into(), Value::from(spawn_error(info))),
        ("exitstatus".into(), capped(exit_status)),
        ("logfile".into(), Value::from(stdout.clone())),
        ("stdout_logfile".into(), Value::from(stdout)),
        ("stderr_logfile".into(), Value::from(stderr)),
        ("pid".into(), capped(i64::from(info.pid.unwrap_or(0)))),
        ("description".into(), Value::from(description)),
    ])
}

/// One item of `getAllConfigInfo` (what `supervisorctl avail` prints: the program is its own
/// group, always in use; `autostart` is `boot`).
pub fn config_info(info: &ProcessInfo) -> Value {
    let priority = capped(i64::from(info.priority));
    Value::Struct(vec![
        ("name".into(), Value::from(info.name.clone())),
        ("group".into(), Value::from(info.name.clone())),
        ("inuse".into(), Value::Bool(true)),
        ("autostart".into(), Value::Bool(info.boot)),
        ("process_prio".into(), priority.clone()),
        ("group_prio".into(), priority),
        (
            "stdout_logfile".into(),
            Value::from(info.stdout_logfile.clone().unwrap_or_else(|| "none".into())),
        ),
        (
            "stderr_logfile".into(),
            Value::from(info.stderr_logfile.clone().unwrap_or_else(|| "none".into())),
        ),
    ])
}

/// One item of the array the `*All*` and `*Group` methods answer.
pub fn result_item(name: &str, code: i32, description: &str) -> Value {
    Value::Struct(vec![
        ("name".into(), Value::from(name)),
        ("group".into(), Value::from(name)),
        ("status".into(), Value::from(code)),
        ("description".into(), Value::from(description)),
    ])
}

/// The item for one program's outcome in an `*All*` answer.
pub fn outcome_item(name: &str, outcome: &Result<Value, Fault>) -> Value {
    match outcome {
        Ok(_) => result_item(name, faults::SUCCESS, "OK"),
        Err(fault) => result_item(name, fault.code, &fault.message),
    }
}

/// Why a start that the daemon accepted did not end RUNNING, from the status it ended in
/// (supervisord: a spawn error is SPAWN_ERROR; a process that died on the way is
/// ABNORMAL_TERMINATION). `None`: it is up (or on its way, when the caller did not wait).
pub fn start_outcome(name: &str, state: ProcessState, last_error: Option<&str>) -> Option<Fault> {
    match state {
        ProcessState::Running | ProcessState::Starting => None,
        ProcessState::Fatal
            if !last_error.is_some_and(|error| error.starts_with("exited too quickly")) =>
        {
            Some(fault(
                faults::SPAWN_ERROR,
                &format!("{name}: {}", last_error.unwrap_or("cannot start")),
            ))
        }
        _ => Some(fault(faults::ABNORMAL_TERMINATION, name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (size, offset, length) → (start, length) or a fault code.
    type ReadCase = (u64, i64, i64, Result<(u64, u64), i32>);
    /// (size, offset, length) → (start, length, next offset, overflow).
    type TailCase = (u64, i64, i64, (u64, u64, u64, bool));

    #[test]
    fn fault_and_state_codes_are_supervisords() {
        let table = [
            (faults::UNKNOWN_METHOD, 1, "UNKNOWN_METHOD"),
            (faults::INCORRECT_PARAMETERS, 2, "INCORRECT_PARAMETERS"),
            (faults::BAD_ARGUMENTS, 3, "BAD_ARGUMENTS"),
            (faults::SIGNATURE_UNSUPPORTED, 4, "SIGNATURE_UNSUPPORTED"),
            (faults::SHUTDOWN_STATE, 6, "SHUTDOWN_STATE"),
            (faults::BAD_NAME, 10, "BAD_NAME"),
            (faults::BAD_SIGNAL, 11, "BAD_SIGNAL"),
            (faults::NO_FILE, 20, "NO_FILE"),
            (faults::NOT_EXECUTABLE, 21, "NOT_EXECUTABLE"),
            (faults::FAILED, 30, "FAILED"),
            (faults::ABNORMAL_TERMINATION, 40, "ABNORMAL_TERMINATION"),
            (faults::SPAWN_ERROR, 50, "SPAWN_ERROR"),
            (faults::ALREADY_STARTED, 60, "ALREADY_STARTED"),
            (faults::NOT_RUNNING, 70, "NOT_RUNNING"),
            (faults::SUCCESS, 80, "SUCCESS"),
            (faults::ALREADY_ADDED, 90, "ALREADY_ADDED"),
            (faults::STILL_RUNNING, 91, "STILL_RUNNING"),
            (faults::CANT_REREAD, 92, "CANT_REREAD"),
        ];
        for (code, number, name) in table {
            assert_eq!(code, number);
            assert_eq!(faults::name(code), name);
        }
        assert_eq!(faults::name(12345), "UNKNOWN");
        assert_eq!(fault(faults::BAD_NAME, "web").message, "BAD_NAME: web");
        assert_eq!(fault(faults::BAD_ARGUMENTS, "").message, "BAD_ARGUMENTS");
        let states = [
            (ProcessState::Stopped, 0),
            (ProcessState::Starting, 10),
            (ProcessState::Running, 20),
            (ProcessState::Backoff, 30),
            (ProcessState::Stopping, 40),
            (ProcessState::Exited, 100),
            (ProcessState::Fatal, 200),
        ];
        for (state, code) in states {
            assert_eq!(state_code(state), code, "{state:?}");
        }
    }

    #[test]
    fn every_method_has_a_role_and_a_signature() {
        let table = [
            ("supervisor.getAllProcessInfo", Role::Read),
            ("supervisor.getProcessInfo", Role::Read),
            ("supervisor.getState", Role::Read),
            ("system.multicall", Role::Read),
            ("supervisor.startProcess", Role::Operate),
            ("supervisor.stopAllProcesses", Role::Operate),
            ("supervisor.signalProcess", Role::Operate),
            ("supervisor.readProcessStdoutLog", Role::Operate),
            ("supervisor.tailProcessStderrLog", Role::Operate),
            ("supervisor.reloadConfig", Role::Operate),
            ("supervisor.clearProcessLogs", Role::Admin),
            ("supervisor.clearAllProcessLogs", Role::Admin),
        ];
        for (name, role) in table {
            assert_eq!(
                find_method(name).map(|method| method.role),
                Some(role),
                "{name}"
            );
        }
        for method in METHODS {
            assert!(!method.signature.is_empty(), "{}", method.name);
            assert!(method.optional < method.signature.len(), "{}", method.name);
            assert!(method.name.starts_with("supervisor.") || method.name.starts_with("system."));
        }
        // No role reads logs or changes anything with less than operate.
        for method in METHODS.iter().filter(|method| method.role == Role::Read) {
            let name = method.name;
            assert!(
                name.contains(".get") || name.starts_with("system."),
                "{name} is read-only?"
            );
        }
        let mut names: Vec<_> = METHODS.iter().map(|method| method.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), METHODS.len(), "a method twice");
        assert_eq!(find_method("supervisor.shutdown"), None);
    }

    #[test]
    fn namespecs() {
        let table = [
            ("web", Ok(Target::Process("web".into()))),
            ("web:web", Ok(Target::Process("web".into()))),
            ("web:*", Ok(Target::Group("web".into()))),
            ("web:", Ok(Target::Group("web".into()))),
            ("web:other", Err(faults::BAD_NAME)),
        ];
        for (spec, expected) in table {
            assert_eq!(target(spec).map_err(|fault| fault.code), expected, "{spec}");
        }
    }

    #[test]
    fn read_ranges_follow_supervisords_read_file() {
        // (size, offset, length) → (start, length) or a fault; from supervisor.options.readFile.
        let table: [ReadCase; 14] = [
            (0, 0, 0, Ok((0, 0))),
            (0, -5, 0, Ok((0, 0))),
            (10, 0, 0, Ok((0, 10))),
            (10, 0, 5, Ok((0, 5))),
            (10, 5, 5, Ok((5, 5))),
            (10, 95, 10, Ok((95, 0))),
            (10, 0, 200, Ok((0, 10))),
            (10, -5, 0, Ok((5, 5))),
            (10, -200, 0, Ok((0, 10))),
            (10, 9, 1, Ok((9, 1))),
            (100, -5, 3, Err(faults::BAD_ARGUMENTS)),
            (100, 3, -1, Err(faults::BAD_ARGUMENTS)),
            // Bounded: the first 4 MiB from an offset, the last 4 MiB from the end.
            (10 << 20, 0, 0, Ok((0, MAX_LOG_READ))),
            (
                10 << 20,
                -(9 << 20),
                0,
                Ok(((10 << 20) - MAX_LOG_READ, MAX_LOG_READ)),
            ),
        ];
        for (size, offset, length, expected) in table {
            assert_eq!(
                read_range(size, offset, length).map_err(|fault| fault.code),
                expected,
                "size {size}, offset {offset}, length {length}"
            );
        }
    }

    #[test]
    fn tail_ranges_follow_supervisords_tail_file() {
        // (size, offset, length) → (start, length, next offset, overflow); from
        // supervisor.options.tailFile.
        let table: [TailCase; 16] = [
            (0, 0, 0, (0, 0, 0, false)),
            (0, 0, 5, (0, 0, 0, false)),
            (0, 200, 10, (0, 0, 0, false)),
            (10, 0, 0, (9, 0, 10, true)),
            (10, 0, 5, (5, 5, 10, true)),
            (10, 5, 5, (5, 5, 10, false)),
            (10, 95, 10, (10, 0, 10, false)),
            (10, 0, 200, (0, 10, 10, false)),
            (10, 9, 1, (9, 1, 10, false)),
            (10, 10, 5, (10, 0, 10, false)),
            (100, 0, 0, (99, 0, 100, true)),
            (100, 0, 5, (95, 5, 100, true)),
            (100, 95, 10, (90, 10, 100, false)),
            (100, 9, 1, (99, 1, 100, true)),
            (100, 99, 1, (99, 1, 100, false)),
            (100, 10, 5, (95, 5, 100, true)),
        ];
        for (size, offset, length, (start, read, next, overflow)) in table {
            assert_eq!(
                tail_range(size, offset, length),
                Tail {
                    start,
                    length: read,
                    next_offset: next,
                    overflow
                },
                "size {size}, offset {offset}, length {length}"
            );
        }
    }

    #[test]
    fn signals_by_name_or_number() {
        use nix::sys::signal::Signal;
        let table = [
            ("HUP", Some(Signal::SIGHUP)),
            ("sighup", Some(Signal::SIGHUP)),
            (" USR2 ", Some(Signal::SIGUSR2)),
            ("15", Some(Signal::SIGTERM)),
            ("WINCH", Some(Signal::SIGWINCH)),
            ("NOPE", None),
            ("999", None),
            ("", None),
        ];
        for (text, expected) in table {
            assert_eq!(parse_signal(text), expected, "{text:?}");
        }
    }

    #[test]
    fn times_as_python_prints_them() {
        for (seconds, text) in [
            (0, "0:00:00"),
            (5, "0:00:05"),
            (3_725, "1:02:05"),
            (86_399, "23:59:59"),
            (86_400, "1 day, 0:00:00"),
            (2 * 86_400 + 11_045, "2 days, 3:04:05"),
        ] {
            assert_eq!(uptime_text(seconds), text);
        }
        let at = |month, day, hour, minute| LocalTime {
            month,
            day,
            hour,
            minute,
        };
        for (time, text) in [
            (at(0, 2, 0, 5), "Jan 02 12:05 AM"),
            (at(11, 31, 12, 0), "Dec 31 12:00 PM"),
            (at(6, 14, 15, 30), "Jul 14 03:30 PM"),
            (at(2, 9, 11, 59), "Mar 09 11:59 AM"),
        ] {
            assert_eq!(stop_time_text(time), text);
        }
    }

    fn info(state: ProcessState) -> ProcessInfo {
        ProcessInfo {
            id: 1,
            name: "web".into(),
            priority: 999,
            enabled: true,
            boot: false,
            config_error: None,
            state,
            pid: None,
            started_at: None,
            stopped_at: None,
            exit_code: None,
            exit_signal: None,
            last_error: None,
            stdout_logfile: Some("/logs/web.stdout.log".into()),
            stderr_logfile: None,
        }
    }

    #[test]
    fn descriptions_as_supervisorctl_shows_them() {
        let local = |_| LocalTime {
            month: 4,
            day: 3,
            hour: 14,
            minute: 7,
        };
        let running = ProcessInfo {
            pid: Some(42),
            started_at: Some(1_000),
            ..info(ProcessState::Running)
        };
        let fatal = ProcessInfo {
            last_error: Some("cannot run \"nope\": No such file or directory".into()),
            ..info(ProcessState::Fatal)
        };
        let exited = ProcessInfo {
            started_at: Some(1_000),
            stopped_at: Some(1_500),
            exit_code: Some(3),
            ..info(ProcessState::Exited)
        };
        let disabled = ProcessInfo {
            enabled: false,
            config_error: Some("web.toml: line 2: field `x`: unknown field".into()),
            ..info(ProcessState::Stopped)
        };
        let table = [
            (running, "pid 42, uptime 0:01:05"),
            (fatal, "cannot run \"nope\": No such file or directory"),
            (
                info(ProcessState::Fatal),
                "unknown error (try \"tail web\")",
            ),
            (
                info(ProcessState::Backoff),
                "Exited too quickly (process log may have details)",
            ),
            (exited, "May 03 02:07 PM"),
            (info(ProcessState::Stopped), "Not started"),
            (info(ProcessState::Starting), ""),
            (
                disabled,
                "Not started; disabled; config error: web.toml: line 2: field `x`: unknown field",
            ),
        ];
        for (process, text) in table {
            assert_eq!(description(&process, 1_065, local), text, "{process:?}");
        }
    }

    #[test]
    fn process_info_has_the_fields_supervisorctl_reads() {
        let process = ProcessInfo {
            pid: Some(42),
            started_at: Some(1_000),
            stopped_at: Some(900),
            exit_signal: Some(9),
            ..info(ProcessState::Running)
        };
        let value = process_info(&process, 1_005, |_| LocalTime {
            month: 0,
            day: 1,
            hour: 0,
            minute: 0,
        });
        let expected = [
            ("name", Value::from("web")),
            ("group", Value::from("web")),
            ("start", Value::Int(1_000)),
            ("stop", Value::Int(900)),
            ("now", Value::Int(1_005)),
            ("state", Value::Int(20)),
            ("statename", Value::from("RUNNING")),
            ("spawnerr", Value::from("")),
            ("exitstatus", Value::Int(-1)),
            ("logfile", Value::from("/logs/web.stdout.log")),
            ("stdout_logfile", Value::from("/logs/web.stdout.log")),
            ("stderr_logfile", Value::from("")),
            ("pid", Value::Int(42)),
            ("description", Value::from("pid 42, uptime 0:00:05")),
        ];
        for (field, wanted) in expected {
            assert_eq!(value.member(field), Some(&wanted), "{field}");
        }
        // Past 2038, times are capped to a 32-bit int as supervisord caps them.
        let late = ProcessInfo {
            started_at: Some(5_000_000_000),
            ..info(ProcessState::Stopped)
        };
        let value = process_info(&late, 5_000_000_001, |_| LocalTime {
            month: 0,
            day: 1,
            hour: 0,
            minute: 0,
        });
        assert_eq!(
            value.member("start"),
            Some(&Value::Int(i64::from(i32::MAX)))
        );
    }

    #[test]
    fn start_outcomes() {
        let table = [
            (ProcessState::Running, None, None),
            (ProcessState::Starting, None, None),
            (
                ProcessState::Fatal,
                Some("cannot run \"x\": No such file"),
                Some(faults::SPAWN_ERROR),
            ),
            (
                ProcessState::Fatal,
                Some(
                    "exited too quickly (exit code 1) 4 times in a row; gave up (startretries = 3)",
                ),
                Some(faults::ABNORMAL_TERMINATION),
            ),
            (
                ProcessState::Exited,
                None,
                Some(faults::ABNORMAL_TERMINATION),
            ),
            (
                ProcessState::Stopped,
                None,
                Some(faults::ABNORMAL_TERMINATION),
            ),
        ];
        for (state, error, expected) in table {
            assert_eq!(
                start_outcome("web", state, error).map(|fault| fault.code),
                expected,
                "{state:?} {error:?}"
            );
        }
    }
}
