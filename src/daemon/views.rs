//! The JSON of the big reads — the status of every program, of one, the list of programs, one
//! program — as views that borrow the loop's state and are serialized straight to bytes
//! ([`Answer::json`](super::Answer::json)). Building a `serde_json::Value` tree instead (a
//! `String` key and a map node per field, about 30 allocations per program) made the status of
//! 1,000 programs cost several milliseconds (docs/PERFORMANCE.md).
//!
//! The views derive `Serialize`, and that is their JSON. The status of all programs is the one
//! answer written by hand ([`StatusView::write_json`], [`write_statuses`]): serde_json's work
//! per field (escaping each key byte by byte, a call per piece) was four fifths of its time.
//! A test checks that the hand-written JSON is, byte for byte, what `Serialize` writes.
//!
//! The fields of each view are declared in name order: the order in which the `Value` maps they
//! replace wrote them, so a status is the same text as before. (A program's file fields, from
//! a map, now come before its other keys.)
//!
//! The status of all programs and the list walk the program table, the supervisor's jobs,
//! their metadata and the health records together ([`InOrder`], driven by `reads.rs`'s
//! `Walk`): all are sorted by name.

use std::borrow::Cow;
use std::time::SystemTime;

use serde::{Serialize, Serializer};

use crate::health::{Health, LastProbe};
use crate::spec::{Format, Problem};
use crate::supervisor::{ExitInfo, JobView, ProcessState, Uptime};

use super::health::HealthView;
use super::programs::Program;

/// One program's status (`GET /status/{id}`, an item of `GET /status`), and the status inside
/// a program object (`GET /programs`, `GET /programs/{id}`), which has no resource figures.
///
/// The four figures read from the kernel (`cpu_percent`, `cpu_seconds`, `memory_bytes`,
/// `processes`) are `None` when they were not read — a program object's status: they are then
/// absent from the JSON, not null (null is "no live process"). Reading them costs three or
/// four system calls per running program, most of a list's time (docs/METRICS.md, "In status").
#[derive(Debug, Clone, Serialize)]
pub struct StatusView<'a> {
    pub config_error: Option<ConfigErrorView<'a>>,
    /// CPU over the interval since the last read (or since start), 100 = one CPU; null
    /// without a process (SPEC §14, `daemon/resources.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_percent: Option<Option<f64>>,
    /// CPU time of the live processes and the children they reaped; null without a process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<Option<f64>>,
    pub enabled: bool,
    pub generation: u64,
    /// `starting`, `healthy`, `unhealthy`; null without a health check or a process (§12).
    pub health: Option<Health>,
    pub id: u64,
    pub last_error: Option<Cow<'a, str>>,
    pub last_exit: Option<ExitInfo>,
    /// `{time, ok, output}` of the last health probe of the current process.
    pub last_probe: Option<&'a LastProbe>,
    /// EXITED, BACKOFF or FATAL: the last lines its last process wrote to stderr (read from
    /// the log when asked: [`crate::supervisor::Supervisor::last_stderr`]); else null.
    pub last_stderr: Option<String>,
    /// RSS of every live process of the program; null without a process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<Option<u64>>,
    pub name: &'a str,
    /// The generation of the spec the job runs with; null without a job.
    pub observed_generation: Option<u64>,
    pub pid: Option<u32>,
    /// Live processes of the program: its cgroup's (or those with its mark), counted now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u32>,
    /// RUNNING and ready (SPEC §12).
    pub ready: bool,
    pub restarts: u32,
    pub run: bool,
    /// Unix seconds.
    #[serde(serialize_with = "unix_seconds")]
    pub started_at: Option<SystemTime>,
    pub status: ProcessState,
    /// The last `STATUS=` the program sent over sd_notify.
    pub status_text: Option<&'a str>,
    /// `H:MM:SS`, from `uptime_seconds`.
    #[serde(serialize_with = "uptime")]
    pub uptime: Option<u64>,
    pub uptime_seconds: Option<u64>,
    /// The dependencies (or the boot wave) it is held back by; empty when none.
    pub waiting_for: &'a [String],
}

impl<'a> StatusView<'a> {
    /// A program without a job (never started, or removed from the supervisor) is STOPPED with
    /// nothing to show. Without [`StatusView::with_usage`], no figures (a program object's).
    pub fn new(
        program: &'a Program,
        job: Option<JobView<'a>>,
        observed_generation: Option<u64>,
        health: HealthView<'a>,
        last_stderr: Option<String>,
    ) -> StatusView<'a> {
        let job = job.unwrap_or(JobView {
            state: ProcessState::Stopped,
            pid: None,
            started_at: None,
            stopped_at: None,
            uptime_seconds: None,
            restarts: 0,
            last_exit: None,
            last_error: None,
        });
        StatusView {
            config_error: ConfigErrorView::of(program),
            cpu_percent: None,
            cpu_seconds: None,
            enabled: program.last_good.as_ref().is_some_and(|spec| spec.enabled),
            generation: program.generation,
            health: health.health,
            id: program.id,
            // Held back by a dependency that cannot come up: that is the error to show.
            last_error: health.blocked.map(Cow::Borrowed).or(job.last_error),
            last_exit: job.last_exit,
            last_probe: health.last_probe,
            last_stderr,
            memory_bytes: None,
            name: &program.entry.name,
            observed_generation,
            pid: job.pid,
            processes: None,
            ready: health.ready,
            restarts: job.restarts,
            run: program.run,
            started_at: job.started_at,
            status: job.state,
            status_text: health.status_text,
            uptime: job.uptime_seconds,
            uptime_seconds: job.uptime_seconds,
            waiting_for: health.waiting_for,
        }
    }
}

impl StatusView<'_> {
    /// The program's live processes (the supervisor's count: its cgroup's members, or its
    /// marked processes) and its resource figures, read now (`usage` `None`: no live
    /// process, shown as nulls).
    pub fn with_usage(
        mut self,
        processes: u32,
        usage: Option<super::resources::ProgramUsage>,
    ) -> Self {
        self.processes = Some(processes);
        self.cpu_percent = Some(usage.as_ref().map(|usage| usage.cpu_percent));
        self.cpu_seconds = Some(usage.as_ref().map(|usage| usage.cpu_seconds));
        self.memory_bytes = Some(usage.map(|usage| usage.memory_bytes));
        self
    }

    /// Writes what `Serialize` writes (same keys, same order, same text), with the keys as
    /// literals and the scalars written directly; strings and the rare objects (last exit,
    /// config error) still go through serde_json, which escapes them.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(b"{\"config_error\":");
        match &self.config_error {
            Some(error) => serde_json::to_writer(&mut *out, error)?,
            None => out.extend_from_slice(b"null"),
        }
        if let Some(cpu_percent) = self.cpu_percent {
            out.extend_from_slice(b",\"cpu_percent\":");
            write_float(out, cpu_percent)?;
        }
        if let Some(cpu_seconds) = self.cpu_seconds {
            out.extend_from_slice(b",\"cpu_seconds\":");
            write_float(out, cpu_seconds)?;
        }
        out.extend_from_slice(b",\"enabled\":");
        write_bool(out, self.enabled);
        out.extend_from_slice(b",\"generation\":");
        write_u64(out, self.generation);
        out.extend_from_slice(b",\"health\":");
        match self.health {
            // Lower-case letters: nothing to escape.
            Some(health) => {
                out.push(b'"');
                out.extend_from_slice(health.as_str().as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"id\":");
        write_u64(out, self.id);
        out.extend_from_slice(b",\"last_error\":");
        match &self.last_error {
            Some(error) => serde_json::to_writer(&mut *out, error)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"last_exit\":");
        match &self.last_exit {
            Some(exit) => serde_json::to_writer(&mut *out, exit)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"last_probe\":");
        match &self.last_probe {
            Some(probe) => serde_json::to_writer(&mut *out, probe)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"last_stderr\":");
        match &self.last_stderr {
            Some(text) => serde_json::to_writer(&mut *out, text)?,
            None => out.extend_from_slice(b"null"),
        }
        if let Some(memory_bytes) = self.memory_bytes {
            out.extend_from_slice(b",\"memory_bytes\":");
            write_option(out, memory_bytes);
        }
        out.extend_from_slice(b",\"name\":");
        serde_json::to_writer(&mut *out, self.name)?;
        out.extend_from_slice(b",\"observed_generation\":");
        write_option(out, self.observed_generation);
        out.extend_from_slice(b",\"pid\":");
        write_option(out, self.pid.map(u64::from));
        if let Some(processes) = self.processes {
            out.extend_from_slice(b",\"processes\":");
            write_u64(out, u64::from(processes));
        }
        out.extend_from_slice(b",\"ready\":");
        write_bool(out, self.ready);
        out.extend_from_slice(b",\"restarts\":");
        write_u64(out, u64::from(self.restarts));
        out.extend_from_slice(b",\"run\":");
        write_bool(out, self.run);
        out.extend_from_slice(b",\"started_at\":");
        write_option(out, unix_seconds_of(self.started_at));
        out.extend_from_slice(b",\"status\":\"");
        // Upper-case letters: nothing to escape.
        out.extend_from_slice(self.status.as_str().as_bytes());
        out.push(b'"');
        out.extend_from_slice(b",\"status_text\":");
        match self.status_text {
            Some(text) => serde_json::to_writer(&mut *out, text)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"uptime\":");
        match self.uptime {
            Some(seconds) => {
                // Digits and colons: nothing to escape.
                out.push(b'"');
                out.extend_from_slice(Uptime(seconds).ascii(&mut [0; 24]));
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"uptime_seconds\":");
        write_option(out, self.uptime_seconds);
        out.extend_from_slice(b",\"waiting_for\":");
        if self.waiting_for.is_empty() {
            out.extend_from_slice(b"[]");
        } else {
            serde_json::to_writer(&mut *out, self.waiting_for)?;
        }
        out.push(b'}');
        Ok(())
    }
}

/// `{"statuses": [...], "success": true}`, each status written by [`StatusView::write_json`].
pub fn write_statuses<'a>(
    out: &mut Vec<u8>,
    statuses: impl Iterator<Item = StatusView<'a>>,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"statuses\":[");
    for (index, status) in statuses.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        status.write_json(out)?;
    }
    out.extend_from_slice(b"],\"success\":true}");
    Ok(())
}

fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.extend_from_slice(if value { b"true" } else { b"false" });
}

/// A number in decimal, with the crate serde_json writes numbers with.
fn write_u64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// A number with a fraction, as serde_json writes it (null when absent).
fn write_float(out: &mut Vec<u8>, value: Option<f64>) -> serde_json::Result<()> {
    match value {
        Some(value) => serde_json::to_writer(&mut *out, &value),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
    }
}

fn write_option(out: &mut Vec<u8>, value: Option<u64>) {
    match value {
        Some(value) => write_u64(out, value),
        None => out.extend_from_slice(b"null"),
    }
}

/// Finds values by name in a walk sorted by name, for names asked in ascending order: one pass
/// alongside (a merge), instead of a search of the map per name. For the status of every
/// program, whose table is sorted by name like the jobs, a search per program was a tenth of
/// the time.
pub struct InOrder<'a, V, I: Iterator<Item = (&'a str, V)>> {
    walk: std::iter::Peekable<I>,
}

impl<'a, V, I: Iterator<Item = (&'a str, V)>> InOrder<'a, V, I> {
    pub fn new(walk: I) -> Self {
        InOrder {
            walk: walk.peekable(),
        }
    }

    /// The value of `name`; names must be asked in ascending order.
    pub fn get(&mut self, name: &str) -> Option<V> {
        while let Some((next, _)) = self.walk.peek() {
            match (*next).cmp(name) {
                std::cmp::Ordering::Less => {
                    self.walk.next();
                }
                std::cmp::Ordering::Equal => return self.walk.next().map(|(_, value)| value),
                std::cmp::Ordering::Greater => return None,
            }
        }
        None
    }
}

/// Why a program's file is not in effect: `null` when it is valid.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigErrorView<'a> {
    /// Every problem in one line, `; `-separated.
    pub message: String,
    pub problems: &'a [Problem],
    /// The generation of the version that still runs (the last good one).
    pub running_generation: u64,
}

impl<'a> ConfigErrorView<'a> {
    pub fn of(program: &'a Program) -> Option<ConfigErrorView<'a>> {
        let problems = program.problems();
        if problems.is_empty() {
            return None;
        }
        Some(ConfigErrorView {
            message: problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
            problems,
            running_generation: program.good_generation,
        })
    }
}

/// `{"status": {...}, "success": true}`.
#[derive(Debug, Serialize)]
pub struct OneStatusView<'a> {
    pub status: StatusView<'a>,
    pub success: bool,
}

/// A program as the API shows it (`GET /programs/{id}`, an item of `GET /programs`): its fields,
/// where it lives, its status and its config error. Written by hand ([`ProgramView::write_json`]):
/// its fields come as JSON already (the program's cache, `Program::fields_json`), and are
/// written first, as a `#[serde(flatten)]` map of them was.
#[derive(Debug)]
pub struct ProgramView<'a> {
    /// The JSON object of the file's fields (defaults filled in, values as written), `name`
    /// included. None of them has the name of a key below.
    pub fields: &'a str,
    pub config_error: Option<ConfigErrorView<'a>>,
    pub file: Cow<'a, str>,
    pub format: Format,
    pub generation: u64,
    pub id: u64,
    pub observed_generation: Option<u64>,
    pub status: StatusView<'a>,
    /// The file as written (comments included), for `hoody-daemon diff` and `get --file`:
    /// `null` when it is not a readable program file; absent from the redacted view.
    pub text: Option<Option<&'a str>>,
}

impl ProgramView<'_> {
    /// `{fields…, "config_error": …, "file": …, "format": …, "generation": …, "id": …,
    /// "observed_generation": …, "status": {…}, "text": …}`.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let fields = self.fields.trim();
        let inner = fields
            .strip_prefix('{')
            .and_then(|rest| rest.strip_suffix('}'))
            .unwrap_or("");
        out.push(b'{');
        out.extend_from_slice(inner.as_bytes());
        if !inner.is_empty() {
            out.push(b',');
        }
        out.extend_from_slice(b"\"config_error\":");
        match &self.config_error {
            Some(error) => serde_json::to_writer(&mut *out, error)?,
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"file\":");
        serde_json::to_writer(&mut *out, &self.file)?;
        out.extend_from_slice(b",\"format\":");
        serde_json::to_writer(&mut *out, &self.format)?;
        out.extend_from_slice(b",\"generation\":");
        write_u64(out, self.generation);
        out.extend_from_slice(b",\"id\":");
        write_u64(out, self.id);
        out.extend_from_slice(b",\"observed_generation\":");
        write_option(out, self.observed_generation);
        out.extend_from_slice(b",\"status\":");
        self.status.write_json(out)?;
        if let Some(text) = self.text {
            out.extend_from_slice(b",\"text\":");
            match text {
                Some(text) => serde_json::to_writer(&mut *out, text)?,
                None => out.extend_from_slice(b"null"),
            }
        }
        out.push(b'}');
        Ok(())
    }
}

/// `{"programs": [...]}`, each program written by [`ProgramView::write_json`].
pub fn write_programs<'a>(
    out: &mut Vec<u8>,
    programs: impl Iterator<Item = ProgramView<'a>>,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"programs\":[");
    for (index, program) in programs.enumerate() {
        if index > 0 {
            out.push(b',');
        }
        program.write_json(out)?;
    }
    out.extend_from_slice(b"]}");
    Ok(())
}

fn unix_seconds<S: Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    unix_seconds_of(*time).serialize(serializer)
}

fn unix_seconds_of(time: Option<SystemTime>) -> Option<u64> {
    time.and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map(|since| since.as_secs())
}

/// `H:MM:SS` ([`crate::supervisor::format_uptime`]), written without a `String`.
fn uptime<S: Serializer>(seconds: &Option<u64>, serializer: S) -> Result<S::Ok, S::Error> {
    match seconds {
        Some(seconds) => serializer.collect_str(&Uptime(*seconds)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::time::Duration;

    use super::*;

    /// What `write_statuses` writes, as serde writes it.
    #[derive(Serialize)]
    struct StatusesView<'a> {
        statuses: &'a [StatusView<'a>],
        success: bool,
    }

    fn views<'a>(
        problems: &'a [Problem],
        probes: &'a [LastProbe],
        waiting: &'a [String],
    ) -> Vec<StatusView<'a>> {
        let states = ProcessState::ALL;
        let exits = [None, Some(ExitInfo::Code(3)), Some(ExitInfo::Signal(9))];
        let errors = [
            None,
            Some(Cow::Borrowed(
                "spawn failed: \"/no/such\" (No such file)\n\ttab\u{1}é",
            )),
            Some(Cow::Owned("cannot write log".to_string())),
        ];
        let uptimes = [
            None,
            Some(0),
            Some(59),
            Some(3_661),
            Some(360_000),
            Some(u64::MAX),
        ];
        let mut views = Vec::new();
        for (index, state) in states.into_iter().enumerate() {
            for (variant, uptime) in uptimes.into_iter().enumerate() {
                let running = variant % 2 == 1;
                // A program object's status has no figures: absent, not null.
                let read = variant != 4;
                views.push(StatusView {
                    health: [
                        None,
                        Some(Health::Starting),
                        Some(Health::Healthy),
                        Some(Health::Unhealthy),
                    ][variant % 4],
                    last_probe: probes.get(variant % 3),
                    ready: index % 2 == 0,
                    status_text: [None, Some("serving \"all\"\n\u{7}é"), Some("")][index % 3],
                    waiting_for: &waiting[..variant % 3],
                    config_error: (variant == 2).then(|| ConfigErrorView {
                        message: "a \"quoted\" problem; another".to_string(),
                        problems,
                        running_generation: 7,
                    }),
                    cpu_percent: read
                        .then_some(running.then_some([0.0, 12.5, 250.0, 1e-7][index % 4])),
                    cpu_seconds: read
                        .then_some(running.then_some([0.0, 1.0, 3600.25, 0.01][variant % 4])),
                    memory_bytes: read
                        .then_some(running.then_some([0, 52_428_800, u64::MAX][index % 3])),
                    enabled: running,
                    generation: (index * 10 + variant) as u64,
                    id: u64::MAX - variant as u64,
                    last_error: errors[variant % errors.len()].clone(),
                    last_exit: exits[index % exits.len()],
                    last_stderr: match variant % 3 {
                        0 => None,
                        1 => Some("ERROR: port 5432 already in use\n".to_string()),
                        _ => Some("a \"quoted\"\tline\u{1}\nünï\n".to_string()),
                    },
                    name: ["web", "a.b-c_d", "weird\"name\\", "ünï"][variant % 4],
                    observed_generation: running.then_some(index as u64),
                    pid: running.then_some(u32::MAX - index as u32),
                    processes: read.then_some([0, 1, 2, u32::MAX][variant % 4]),
                    restarts: (index * variant) as u32,
                    run: !running,
                    started_at: match variant {
                        0 => None,
                        1 => Some(SystemTime::UNIX_EPOCH),
                        // Before the epoch: shown as null, like no time at all.
                        2 => SystemTime::UNIX_EPOCH.checked_sub(Duration::from_secs(5)),
                        _ => Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)),
                    },
                    status: state,
                    uptime,
                    uptime_seconds: uptime,
                });
            }
        }
        views
    }

    #[test]
    fn hand_written_status_json_is_what_serde_writes() {
        let problems = [
            Problem {
                file: Some(PathBuf::from("/etc/programs.d/web.toml")),
                line: Some(2),
                column: Some(1),
                field: Some("boot".to_string()),
                message: "expected a boolean, found \"perhaps\"".to_string(),
            },
            Problem::file("the file is not valid UTF-8"),
        ];
        let probes = [
            LastProbe {
                time: 1_750_000_000.125,
                ok: true,
                output: "HTTP/1.1 200 OK".to_string(),
            },
            LastProbe {
                time: 0.0,
                ok: false,
                output: "line 1\n\t\"quoted\" \u{1}".to_string(),
            },
        ];
        let waiting = ["db".to_string(), "migrate".to_string()];
        let views = views(&problems, &probes, &waiting);
        for view in &views {
            let mut written = Vec::new();
            view.write_json(&mut written).expect("write");
            let serialized = serde_json::to_vec(view).expect("serialize");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&serialized)
            );
        }

        let mut written = Vec::new();
        write_statuses(&mut written, views.iter().cloned()).expect("write");
        let serialized = serde_json::to_vec(&StatusesView {
            statuses: &views,
            success: true,
        })
        .expect("serialize");
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&serialized)
        );

        let mut written = Vec::new();
        write_statuses(&mut written, std::iter::empty()).expect("write");
        assert_eq!(written, br#"{"statuses":[],"success":true}"#);
    }

    /// What `ProgramView::write_json` replaces: the fields as a flattened map, then the rest.
    #[derive(Serialize)]
    struct SerdeProgram<'a> {
        #[serde(flatten)]
        fields: serde_json::Map<String, serde_json::Value>,
        config_error: &'a Option<ConfigErrorView<'a>>,
        file: &'a str,
        format: Format,
        generation: u64,
        id: u64,
        observed_generation: Option<u64>,
        status: &'a StatusView<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        text: Option<Option<&'a str>>,
    }

    #[test]
    fn hand_written_program_json_is_what_serde_writes() {
        let problems = [Problem::file("a \"quoted\" problem")];
        let probes = [];
        let waiting = ["db".to_string(), "cache".to_string()];
        let statuses = views(&problems, &probes, &waiting);
        let fields = [
            r#"{"autorestart":"unexpected","command":"sleep 1","environment":{"A":"<redacted>"},"name":"web"}"#,
            r#"{"name":"ünï \"x\""}"#,
            "{}",
        ];
        let texts = [
            None,
            Some(None),
            Some(Some("command = \"sleep 1\"\n# é \t\n")),
        ];
        let mut written_all = Vec::new();
        let mut serialized_all = Vec::new();
        for (index, status) in statuses.iter().take(9).enumerate() {
            let view = ProgramView {
                fields: fields[index % fields.len()],
                config_error: (index % 2 == 0).then(|| ConfigErrorView {
                    message: "m".to_string(),
                    problems: &problems,
                    running_generation: 3,
                }),
                file: Cow::Borrowed("/etc/programs.d/web \"1\".toml"),
                format: [Format::Toml, Format::Yaml][index % 2],
                generation: index as u64,
                id: u64::MAX - index as u64,
                observed_generation: (index % 3 == 0).then_some(7),
                status: status.clone(),
                text: texts[index % texts.len()],
            };
            let mut written = Vec::new();
            view.write_json(&mut written).expect("write");
            let serialized = serde_json::to_vec(&SerdeProgram {
                fields: serde_json::from_str(view.fields).expect("fields"),
                config_error: &view.config_error,
                file: &view.file,
                format: view.format,
                generation: view.generation,
                id: view.id,
                observed_generation: view.observed_generation,
                status: &view.status,
                text: view.text,
            })
            .expect("serialize");
            assert_eq!(
                String::from_utf8_lossy(&written),
                String::from_utf8_lossy(&serialized)
            );
            written_all.push(view);
            serialized_all.push(serialized);
        }
        let mut written = Vec::new();
        write_programs(&mut written, written_all.into_iter()).expect("write");
        let mut expected = b"{\"programs\":[".to_vec();
        expected.extend_from_slice(&serialized_all.join(&b',')[..]);
        expected.extend_from_slice(b"]}");
        assert_eq!(
            String::from_utf8_lossy(&written),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn in_order_finds_each_name_asked_in_order() {
        let map: std::collections::BTreeMap<String, u32> = [("_quick-1", 0), ("a", 1), ("c", 3)]
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .collect();
        let mut walk = InOrder::new(map.iter().map(|(name, value)| (name.as_str(), *value)));
        let found: Vec<Option<u32>> = ["a", "b", "c", "d"]
            .into_iter()
            .map(|name| walk.get(name))
            .collect();
        assert_eq!(found, [Some(1), None, Some(3), None]);
    }
}
