//! The metric families of `GET /metrics` (SPEC §14), from plain figures: the daemon's loop
//! gathers them ([`ProgramFigures`], [`DaemonFigures`]), this writes the text. Pure.
//!
//! Every program gets a sample in every `hoody_daemon_program_*` family (0 when it has no
//! process) but `start_time_seconds` and `exit_code`, which only exist once it started or
//! exited: a series that appears with its first value is what Prometheus expects of those.
//! With [`Compat::Supervisord`] the names of supervisord_exporter (`supervisor_process_info`,
//! `supervisor_process_uptime`, `supervisord_up`) and of node_exporter's old supervisord
//! collector (`node_supervisord_*`) follow, with supervisord's state codes and exit statuses,
//! so existing Grafana boards keep working (docs/METRICS.md).

use crate::supervisor::ProcessState;

use super::exposition::{Exposition, Kind};

/// Which other exporters' names to write as well (`serve --metrics-compat`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compat {
    #[default]
    None,
    Supervisord,
}

impl Compat {
    pub fn parse(text: &str) -> Result<Compat, String> {
        match text {
            "supervisord" => Ok(Compat::Supervisord),
            "none" => Ok(Compat::None),
            other => Err(format!(
                "unknown metrics compatibility {other:?}: the one known is \"supervisord\""
            )),
        }
    }
}

/// One program's figures at the scrape.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgramFigures<'a> {
    pub name: &'a str,
    /// The file's `description` (a label of `hoody_daemon_program_info`).
    pub description: &'a str,
    pub state: ProcessState,
    pub ready: bool,
    pub restarts: u32,
    /// Unix seconds of the current (or last) process's start.
    pub started_at: Option<f64>,
    /// The last exit: its code, or `128 + N` for a death by signal N (as shells and container
    /// runtimes write it).
    pub exit_code: Option<i64>,
    /// supervisord's `exitstatus` of the last exit (-1 for a signal).
    pub supervisord_exit_status: i64,
    pub cpu_seconds: f64,
    pub memory_bytes: u64,
    pub processes: u32,
    /// The file has a problem (the last good version, if any, still runs).
    pub config_error: bool,
    /// Seconds the current process has run, for supervisord's uptime.
    pub uptime_seconds: Option<u64>,
}

/// The daemon's own process (client libraries' `process_*` names).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DaemonFigures {
    pub cpu_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
    /// Unix seconds.
    pub start_time: Option<f64>,
}

/// About how many bytes the text takes per program (without compat names).
pub const BYTES_PER_PROGRAM: usize = 1_400;

/// The whole exposition.
pub fn render(programs: &[ProgramFigures<'_>], daemon: &DaemonFigures, compat: Compat) -> String {
    let mut out = Exposition::with_capacity(2_048 + programs.len() * BYTES_PER_PROGRAM);
    let each = |out: &mut Exposition,
                name: &str,
                kind: Kind,
                help: &str,
                value: &dyn Fn(&ProgramFigures<'_>) -> Option<f64>| {
        out.family(name, kind, help);
        for program in programs {
            if let Some(value) = value(program) {
                out.sample(name, &[("name", program.name)], value);
            }
        }
    };
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    out.family(
        "hoody_daemon_program_info",
        Kind::Gauge,
        "Each program, with its description as a label; always 1.",
    );
    for program in programs {
        out.sample(
            "hoody_daemon_program_info",
            &[("name", program.name), ("description", program.description)],
            1.0,
        );
    }
    each(
        &mut out,
        "hoody_daemon_program_up",
        Kind::Gauge,
        "1 when the program is RUNNING.",
        &|program| Some(flag(program.state == ProcessState::Running)),
    );
    out.family(
        "hoody_daemon_program_state",
        Kind::Gauge,
        "1 for the program's current state, 0 for the others.",
    );
    for program in programs {
        for state in ProcessState::ALL {
            out.sample(
                "hoody_daemon_program_state",
                &[("name", program.name), ("state", state.as_str())],
                flag(program.state == state),
            );
        }
    }
    each(
        &mut out,
        "hoody_daemon_program_ready",
        Kind::Gauge,
        "1 when the program is ready (RUNNING, and its health check, ready line or READY=1 said so).",
        &|program| Some(flag(program.ready)),
    );
    each(
        &mut out,
        "hoody_daemon_program_restarts_total",
        Kind::Counter,
        "Automatic starts of the program (autorestart, BACKOFF retries, health and memory restarts).",
        &|program| Some(f64::from(program.restarts)),
    );
    each(
        &mut out,
        "hoody_daemon_program_start_time_seconds",
        Kind::Gauge,
        "When the program's current or last process started, in unix seconds.",
        &|program| program.started_at,
    );
    each(
        &mut out,
        "hoody_daemon_program_exit_code",
        Kind::Gauge,
        "How the program's last process ended: its exit code, or 128 + N when signal N killed it.",
        &|program| program.exit_code.map(|code| code as f64),
    );
    each(
        &mut out,
        "hoody_daemon_program_cpu_seconds_total",
        Kind::Counter,
        "CPU time used by the program's live processes and the children they reaped, in seconds.",
        &|program| Some(program.cpu_seconds),
    );
    each(
        &mut out,
        "hoody_daemon_program_memory_bytes",
        Kind::Gauge,
        "Resident memory of all the program's live processes, in bytes.",
        &|program| Some(program.memory_bytes as f64),
    );
    each(
        &mut out,
        "hoody_daemon_program_processes",
        Kind::Gauge,
        "Live processes of the program.",
        &|program| Some(f64::from(program.processes)),
    );
    each(
        &mut out,
        "hoody_daemon_program_config_error",
        Kind::Gauge,
        "1 when the program's file has a problem (its last good version keeps running).",
        &|program| Some(flag(program.config_error)),
    );
    out.family(
        "hoody_daemon_programs",
        Kind::Gauge,
        "Programs in each state.",
    );
    for state in ProcessState::ALL {
        let count = programs
            .iter()
            .filter(|program| program.state == state)
            .count();
        out.sample(
            "hoody_daemon_programs",
            &[("state", state.as_str())],
            count as f64,
        );
    }
    out.family(
        "hoody_daemon_build_info",
        Kind::Gauge,
        "The daemon's version, as a label; always 1.",
    );
    out.sample(
        "hoody_daemon_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    write_daemon(&mut out, daemon);
    if compat == Compat::Supervisord {
        write_supervisord(&mut out, programs);
    }
    out.finish()
}

fn write_daemon(out: &mut Exposition, daemon: &DaemonFigures) {
    out.single(
        "process_cpu_seconds_total",
        Kind::Counter,
        "Total user and system CPU time spent in seconds.",
        daemon.cpu_seconds,
    );
    out.single(
        "process_resident_memory_bytes",
        Kind::Gauge,
        "Resident memory size in bytes.",
        daemon.resident_bytes as f64,
    );
    out.single(
        "process_virtual_memory_bytes",
        Kind::Gauge,
        "Virtual memory size in bytes.",
        daemon.virtual_bytes as f64,
    );
    if let Some(fds) = daemon.open_fds {
        out.single(
            "process_open_fds",
            Kind::Gauge,
            "Number of open file descriptors.",
            fds as f64,
        );
    }
    if let Some(fds) = daemon.max_fds {
        out.single(
            "process_max_fds",
            Kind::Gauge,
            "Maximum number of open file descriptors.",
            fds as f64,
        );
    }
    if let Some(start) = daemon.start_time {
        out.single(
            "process_start_time_seconds",
            Kind::Gauge,
            "Start time of the process since unix epoch in seconds.",
            start,
        );
    }
}

/// supervisord_exporter's and node_exporter's names; the group of a program is itself (a
/// hoody-daemon program is supervisord's one-process group).
fn write_supervisord(out: &mut Exposition, programs: &[ProgramFigures<'_>]) {
    out.single(
        "supervisord_up",
        Kind::Gauge,
        "Supervisord XML-RPC connection status (1 if up, 0 if down).",
        1.0,
    );
    out.family(
        "supervisor_process_info",
        Kind::Gauge,
        "Supervisor process information.",
    );
    for program in programs {
        let running = program.state == ProcessState::Running;
        let exit_status = if running {
            "0".to_string()
        } else {
            program.supervisord_exit_status.to_string()
        };
        out.sample(
            "supervisor_process_info",
            &[
                ("name", program.name),
                ("group", program.name),
                ("state", program.state.as_str()),
                ("exit_status", &exit_status),
            ],
            if running { 1.0 } else { 0.0 },
        );
    }
    out.family(
        "supervisor_process_uptime",
        Kind::Gauge,
        "Uptime of Supervisor processes.",
    );
    for program in programs {
        if program.state == ProcessState::Running
            && let Some(uptime) = program.uptime_seconds
        {
            out.sample(
                "supervisor_process_uptime",
                &[("name", program.name), ("group", program.name)],
                uptime as f64,
            );
        }
    }
    fn labels<'a>(program: &ProgramFigures<'a>) -> [(&'static str, &'a str); 2] {
        [("group", program.name), ("name", program.name)]
    }
    out.family("node_supervisord_up", Kind::Gauge, "Process Up");
    for program in programs {
        let up = matches!(
            program.state,
            ProcessState::Running | ProcessState::Stopping
        );
        out.sample(
            "node_supervisord_up",
            &labels(program),
            if up { 1.0 } else { 0.0 },
        );
    }
    out.family("node_supervisord_state", Kind::Gauge, "Process State");
    for program in programs {
        out.sample(
            "node_supervisord_state",
            &labels(program),
            f64::from(crate::api::rpc::supervisord::state_code(program.state)),
        );
    }
    out.family(
        "node_supervisord_exit_status",
        Kind::Gauge,
        "Process Exit Status",
    );
    for program in programs {
        out.sample(
            "node_supervisord_exit_status",
            &labels(program),
            program.supervisord_exit_status as f64,
        );
    }
    out.family(
        "node_supervisord_start_time_seconds",
        Kind::Counter,
        "Process start time",
    );
    for program in programs {
        if let (ProcessState::Running | ProcessState::Stopping, Some(started)) =
            (program.state, program.started_at)
        {
            out.sample(
                "node_supervisord_start_time_seconds",
                &labels(program),
                started.floor(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(name: &str, state: ProcessState) -> ProgramFigures<'_> {
        ProgramFigures {
            name,
            description: "",
            state,
            ready: state == ProcessState::Running,
            restarts: 0,
            started_at: None,
            exit_code: None,
            supervisord_exit_status: 0,
            cpu_seconds: 0.0,
            memory_bytes: 0,
            processes: 0,
            config_error: false,
            uptime_seconds: None,
        }
    }

    fn lines_of<'a>(text: &'a str, family: &str) -> Vec<&'a str> {
        text.lines()
            .filter(|line| {
                line.strip_prefix(family)
                    .is_some_and(|rest| rest.starts_with(['{', ' ']))
            })
            .collect()
    }

    #[test]
    fn every_program_has_its_samples() {
        let running = ProgramFigures {
            restarts: 2,
            started_at: Some(1_764_590_000.5),
            exit_code: Some(137),
            supervisord_exit_status: -1,
            cpu_seconds: 1.25,
            memory_bytes: 52_428_800,
            processes: 3,
            uptime_seconds: Some(61),
            ..program("web", ProcessState::Running)
        };
        let fatal = ProgramFigures {
            restarts: 4,
            started_at: Some(1_764_590_100.0),
            exit_code: Some(1),
            supervisord_exit_status: 1,
            config_error: true,
            description: "says \"hi\"\\\nbye",
            ..program("we\"ird\\name", ProcessState::Fatal)
        };
        let stopped = program("idle", ProcessState::Stopped);
        let daemon = DaemonFigures {
            cpu_seconds: 0.5,
            resident_bytes: 4_096_000,
            virtual_bytes: 10_000_000,
            open_fds: Some(9),
            max_fds: Some(1024),
            start_time: Some(1_764_589_000.0),
        };
        let text = render(&[running, fatal, stopped], &daemon, Compat::None);
        let table: &[(&str, &[&str])] = &[
            (
                "hoody_daemon_program_up",
                &[
                    "hoody_daemon_program_up{name=\"web\"} 1",
                    "hoody_daemon_program_up{name=\"we\\\"ird\\\\name\"} 0",
                    "hoody_daemon_program_up{name=\"idle\"} 0",
                ],
            ),
            (
                "hoody_daemon_program_restarts_total",
                &[
                    "hoody_daemon_program_restarts_total{name=\"web\"} 2",
                    "hoody_daemon_program_restarts_total{name=\"we\\\"ird\\\\name\"} 4",
                    "hoody_daemon_program_restarts_total{name=\"idle\"} 0",
                ],
            ),
            (
                "hoody_daemon_program_start_time_seconds",
                &[
                    "hoody_daemon_program_start_time_seconds{name=\"web\"} 1764590000.5",
                    "hoody_daemon_program_start_time_seconds{name=\"we\\\"ird\\\\name\"} 1764590100",
                ],
            ),
            (
                "hoody_daemon_program_exit_code",
                &[
                    "hoody_daemon_program_exit_code{name=\"web\"} 137",
                    "hoody_daemon_program_exit_code{name=\"we\\\"ird\\\\name\"} 1",
                ],
            ),
            (
                "hoody_daemon_program_memory_bytes",
                &[
                    "hoody_daemon_program_memory_bytes{name=\"web\"} 52428800",
                    "hoody_daemon_program_memory_bytes{name=\"we\\\"ird\\\\name\"} 0",
                    "hoody_daemon_program_memory_bytes{name=\"idle\"} 0",
                ],
            ),
            (
                "hoody_daemon_program_cpu_seconds_total",
                &[
                    "hoody_daemon_program_cpu_seconds_total{name=\"web\"} 1.25",
                    "hoody_daemon_program_cpu_seconds_total{name=\"we\\\"ird\\\\name\"} 0",
                    "hoody_daemon_program_cpu_seconds_total{name=\"idle\"} 0",
                ],
            ),
            (
                "hoody_daemon_program_processes",
                &[
                    "hoody_daemon_program_processes{name=\"web\"} 3",
                    "hoody_daemon_program_processes{name=\"we\\\"ird\\\\name\"} 0",
                    "hoody_daemon_program_processes{name=\"idle\"} 0",
                ],
            ),
            (
                "hoody_daemon_program_config_error",
                &[
                    "hoody_daemon_program_config_error{name=\"web\"} 0",
                    "hoody_daemon_program_config_error{name=\"we\\\"ird\\\\name\"} 1",
                    "hoody_daemon_program_config_error{name=\"idle\"} 0",
                ],
            ),
            (
                "hoody_daemon_programs",
                &[
                    "hoody_daemon_programs{state=\"STOPPED\"} 1",
                    "hoody_daemon_programs{state=\"STARTING\"} 0",
                    "hoody_daemon_programs{state=\"RUNNING\"} 1",
                    "hoody_daemon_programs{state=\"BACKOFF\"} 0",
                    "hoody_daemon_programs{state=\"STOPPING\"} 0",
                    "hoody_daemon_programs{state=\"EXITED\"} 0",
                    "hoody_daemon_programs{state=\"FATAL\"} 1",
                ],
            ),
            (
                "hoody_daemon_program_info",
                &[
                    "hoody_daemon_program_info{name=\"web\",description=\"\"} 1",
                    "hoody_daemon_program_info{name=\"we\\\"ird\\\\name\",description=\"says \\\"hi\\\"\\\\\\nbye\"} 1",
                    "hoody_daemon_program_info{name=\"idle\",description=\"\"} 1",
                ],
            ),
            ("process_open_fds", &["process_open_fds 9"]),
            ("process_max_fds", &["process_max_fds 1024"]),
            (
                "process_resident_memory_bytes",
                &["process_resident_memory_bytes 4096000"],
            ),
            (
                "process_start_time_seconds",
                &["process_start_time_seconds 1764589000"],
            ),
            ("supervisor_process_info", &[]),
        ];
        for (family, expected) in table {
            assert_eq!(lines_of(&text, family), *expected, "{family}");
        }
        let states = lines_of(&text, "hoody_daemon_program_state");
        assert_eq!(states.len(), 3 * 7);
        assert!(states.contains(&"hoody_daemon_program_state{name=\"web\",state=\"RUNNING\"} 1"));
        assert!(states.contains(&"hoody_daemon_program_state{name=\"web\",state=\"FATAL\"} 0"));
        assert!(
            states.contains(
                &"hoody_daemon_program_state{name=\"we\\\"ird\\\\name\",state=\"FATAL\"} 1"
            )
        );
        // Every family has its TYPE line once, before its samples.
        assert_eq!(
            text.matches("# TYPE hoody_daemon_program_up gauge\n")
                .count(),
            1
        );
        assert!(text.contains("# TYPE hoody_daemon_program_restarts_total counter\n"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn supervisord_names_come_with_compat() {
        let running = ProgramFigures {
            started_at: Some(1_764_590_000.7),
            uptime_seconds: Some(12),
            supervisord_exit_status: 3,
            ..program("web", ProcessState::Running)
        };
        let exited = ProgramFigures {
            supervisord_exit_status: -1,
            exit_code: Some(143),
            ..program("job", ProcessState::Exited)
        };
        let text = render(
            &[running, exited],
            &DaemonFigures::default(),
            Compat::Supervisord,
        );
        let table: &[(&str, &[&str])] = &[
            ("supervisord_up", &["supervisord_up 1"]),
            (
                "supervisor_process_info",
                &[
                    "supervisor_process_info{name=\"web\",group=\"web\",state=\"RUNNING\",exit_status=\"0\"} 1",
                    "supervisor_process_info{name=\"job\",group=\"job\",state=\"EXITED\",exit_status=\"-1\"} 0",
                ],
            ),
            (
                "supervisor_process_uptime",
                &["supervisor_process_uptime{name=\"web\",group=\"web\"} 12"],
            ),
            (
                "node_supervisord_up",
                &[
                    "node_supervisord_up{group=\"web\",name=\"web\"} 1",
                    "node_supervisord_up{group=\"job\",name=\"job\"} 0",
                ],
            ),
            (
                "node_supervisord_state",
                &[
                    "node_supervisord_state{group=\"web\",name=\"web\"} 20",
                    "node_supervisord_state{group=\"job\",name=\"job\"} 100",
                ],
            ),
            (
                "node_supervisord_exit_status",
                &[
                    "node_supervisord_exit_status{group=\"web\",name=\"web\"} 3",
                    "node_supervisord_exit_status{group=\"job\",name=\"job\"} -1",
                ],
            ),
            (
                "node_supervisord_start_time_seconds",
                &["node_supervisord_start_time_seconds{group=\"web\",name=\"web\"} 1764590000"],
            ),
        ];
        for (family, expected) in table {
            assert_eq!(lines_of(&text, family), *expected, "{family}");
        }
        assert_eq!(Compat::parse("supervisord"), Ok(Compat::Supervisord));
        assert!(Compat::parse("pm2").is_err());
    }
}
