//! Metrics and resources (SPEC §14) with real processes: memory and CPU of a program and of its
//! children in status; `GET /metrics` parsed by the real Prometheus parser of PyPI's
//! `prometheus_client` (which `scripts/test-tools`, run by `.ci/run` and `scripts/test`, installs into `target/metrics-venv`), for running,
//! stopped and crash-looping programs; `max_memory_restart` restarting a growing program; an
//! event stream that resumes from `Last-Event-ID`.

#![allow(clippy::disallowed_methods)] // tests run python3 (the parser, the programs)

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use hoody_daemon::cli::client::{Client, Endpoint};
use serde_json::Value;

use crate::support::{TestDaemon, wait_until};

const MIB: u64 = 1 << 20;

/// A sample as the parser read it: its name, labels and value.
type Sample = (String, BTreeMap<String, String>, f64);

/// The Python of the venv `scripts/test-tools` makes: `HOODY_TEST_METRICS_PYTHON`, or
/// `target/metrics-venv/bin/python`, with `prometheus_client` importable.
fn parser_python() -> PathBuf {
    let path = std::env::var_os("HOODY_TEST_METRICS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::support::repo().join("target/metrics-venv/bin/python"));
    let importable = Command::new(&path)
        .args(["-c", "import prometheus_client.parser"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        importable,
        "prometheus_client is missing at {}: /metrics is checked with the real Prometheus parser. \
         Install it as scripts/test-tools does:\n  \
         python3 -m venv target/metrics-venv && target/metrics-venv/bin/pip install prometheus_client==0.26.0\n\
         (or point HOODY_TEST_METRICS_PYTHON at a python that has it)",
        path.display()
    );
    path
}

/// Every sample of an exposition as `prometheus_client`'s parser reads it: (sample name,
/// labels, value). The parser refuses what breaks the format (a bad escape, a stray quote).
fn parse_exposition(text: &str) -> Vec<Sample> {
    const SCRIPT: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
text = sys.stdin.read()
out = []
for family in text_string_to_metric_families(text):
    for sample in family.samples:
        value = sample.value
        out.append([sample.name, dict(sample.labels), None if math.isnan(value) else value, family.type])
json.dump(out, sys.stdout)
"#;
    let mut child = Command::new(parser_python())
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the parser");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("feed the parser");
    let output = child.wait_with_output().expect("parser output");
    assert!(
        output.status.success(),
        "prometheus_client refused the exposition: {}\n--- text\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    type Parsed = (String, BTreeMap<String, String>, Option<f64>, String);
    let parsed: Vec<Parsed> = serde_json::from_slice(&output.stdout).expect("the parser's JSON");
    parsed
        .into_iter()
        .map(|(name, labels, value, _)| (name, labels, value.unwrap_or(f64::NAN)))
        .collect()
}

/// The value of the sample `name` with exactly these labels.
fn sample(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let wanted: BTreeMap<String, String> = labels
        .iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect();
    samples
        .iter()
        .find(|(sample, labels, _)| sample == name && *labels == wanted)
        .map(|(_, _, value)| *value)
}

/// `GET path` (outside the API's base too): status, content type, body.
fn get_text(daemon: &TestDaemon, client: &Client, path: &str) -> (u16, String, String) {
    let response = client
        .request("GET", path, None, &[])
        .unwrap_or_else(|error| panic!("GET {path}: {error}\n{}", daemon.log()));
    let content_type = response.header("content-type").unwrap_or("").to_string();
    (
        response.status,
        content_type,
        String::from_utf8_lossy(&response.body).into_owned(),
    )
}

fn python(code: &str) -> String {
    // A TOML literal string holds the code as it is (no escapes).
    format!("command = ['python3', '-c', '''{code}''']\n")
}

#[test]
fn memory_of_a_program_and_of_its_children_is_counted() {
    let daemon = TestDaemon::start();
    // 50 MiB of bytes written (so resident), then a line that says so.
    daemon.put(
        "holder.toml",
        &format!(
            "{}boot = true\nstartsecs = 0\nready_log_line = \"holding\"\n",
            python(
                "import sys, time\nheld = b'x' * (50 << 20)\nprint('holding', flush=True)\ntime.sleep(1000)"
            )
        ),
    );
    let status = daemon.wait_status("holder", "ready", |status| status["ready"] == true);
    let memory = status["memory_bytes"].as_u64().expect("memory_bytes");
    assert!(
        memory >= 50 * MIB,
        "memory_bytes {memory} < 50 MiB: {status}"
    );
    assert!(
        memory < 50 * MIB + 200 * MIB,
        "memory_bytes {memory} is absurd: {status}"
    );
    assert_eq!(status["processes"], 1, "{status}");

    // A shell with two children holding 30 MiB each: the sum is over all three.
    daemon.put(
        "family.toml",
        "command = ['sh', '-c', 'for i in 1 2; do python3 -c \"import time; held = b\\\"y\\\" * (30 << 20); time.sleep(1000)\" & done; wait']\n\
         boot = true\nstartsecs = 0\n",
    );
    let status = daemon.wait_status("family", "three processes holding 60 MiB", |status| {
        status["processes"] == 3
            && status["memory_bytes"]
                .as_u64()
                .is_some_and(|memory| memory >= 60 * MIB)
    });
    let pid = status["pid"].as_u64().expect("pid");
    let children =
        std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")).unwrap_or_default();
    assert_eq!(
        children.split_whitespace().count(),
        2,
        "the shell's children: {children:?}; {status}"
    );

    // The CLI's table shows the figures.
    let table = daemon.cli(&["status"]);
    let table = String::from_utf8_lossy(&table.stdout).into_owned();
    let holder = table
        .lines()
        .find(|line| line.contains("holder"))
        .unwrap_or_else(|| panic!("no holder row:\n{table}"));
    assert!(
        holder.contains('%') && holder.contains('M'),
        "CPU and MEM columns: {holder}\n{table}"
    );

    // A stopped program has no figures.
    daemon.post("/programs/holder/stop", None);
    let stopped = daemon.wait_state("holder", "STOPPED");
    for field in ["cpu_percent", "cpu_seconds", "memory_bytes"] {
        assert!(stopped[field].is_null(), "{field}: {stopped}");
    }
    assert_eq!(stopped["processes"], 0, "{stopped}");
}

/// The daemon's descriptors open on `/proc/PID` of `pid` (the folder and its `stat` kept to
/// read a program's figures).
fn kept_proc_descriptors(daemon: &TestDaemon, pid: u64) -> Vec<String> {
    let daemon_pid = daemon.pid().expect("the daemon runs");
    let folder = format!("/proc/{pid}");
    std::fs::read_dir(format!("/proc/{daemon_pid}/fd"))
        .expect("the daemon's descriptors")
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .map(|target| target.display().to_string())
        // `/proc/PID`, `/proc/PID/stat`, or either with ` (deleted)` once the process is gone.
        .filter(|target| {
            target
                .strip_prefix(&folder)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', ' ']))
        })
        .collect()
}

#[test]
fn descriptors_kept_for_figures_close_when_the_process_ends() {
    let daemon = TestDaemon::start();
    daemon.put(
        "sleeper.toml",
        "command = ['sleep', '1000']\nboot = true\nstartsecs = 0\n",
    );
    let running = daemon.wait_state("sleeper", "RUNNING");
    let pid = running["pid"].as_u64().expect("pid");
    // Read twice (and once more): the second read keeps its `/proc/PID` folder open.
    for _ in 0..3 {
        let status = daemon.status("sleeper");
        assert_eq!(status["pid"].as_u64(), Some(pid), "{status}");
        assert!(status["memory_bytes"].as_u64().is_some(), "{status}");
    }
    let kept = kept_proc_descriptors(&daemon, pid);
    assert!(
        !kept.is_empty(),
        "nothing kept for /proc/{pid} after three reads"
    );

    // With a cgroup, its `cpu.stat` is kept open too (the program's CPU is read from it).
    let with_cgroup = cgroup_tree(&daemon).is_some();
    if with_cgroup {
        assert_eq!(
            kept_cpu_stat_descriptors(&daemon, "sleeper").len(),
            1,
            "the cgroup's cpu.stat kept after three reads"
        );
    }

    // Stopped with nobody reading its status (a read would drop them too): what was kept
    // goes with the process.
    daemon.post("/programs/sleeper/stop", None);
    wait_until(
        "the kept descriptors closed",
        20,
        || {
            kept_proc_descriptors(&daemon, pid).is_empty()
                && kept_cpu_stat_descriptors(&daemon, "sleeper").is_empty()
        },
        || {
            format!(
                "still open: {:?} {:?}",
                kept_proc_descriptors(&daemon, pid),
                kept_cpu_stat_descriptors(&daemon, "sleeper")
            )
        },
    );
}

/// The daemon's descriptors open on the `cpu.stat` of program `name`'s cgroup.
fn kept_cpu_stat_descriptors(daemon: &TestDaemon, name: &str) -> Vec<String> {
    let daemon_pid = daemon.pid().expect("the daemon runs");
    let file = format!("/{name}.program/cpu.stat");
    std::fs::read_dir(format!("/proc/{daemon_pid}/fd"))
        .expect("the daemon's descriptors")
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path()).ok())
        .map(|target| target.display().to_string())
        .filter(|target| target.ends_with(&file))
        .collect()
}

/// The CPU time a process has used itself (its `/proc/PID/stat`), in seconds.
fn own_cpu_seconds(pid: u32) -> f64 {
    let units = hoody_daemon::metrics::Units::of_this_system();
    let stat = hoody_daemon::metrics::procfs::read_stat(pid).expect("the process runs");
    (stat.utime + stat.stime) as f64 / units.ticks_per_second as f64
}

#[test]
fn a_restarted_program_counts_its_cpu_seconds_from_its_new_start() {
    let daemon = TestDaemon::start();
    daemon.put(
        "busy.toml",
        "command = ['sh', '-c', 'while :; do :; done']\nboot = true\nstartsecs = 0\n",
    );
    let first = daemon.wait_status("busy", "half a second of CPU", |status| {
        status["cpu_seconds"].as_f64().is_some_and(|cpu| cpu >= 0.5)
    });
    let old_pid = first["pid"].as_u64().expect("pid");
    let (code, body) = daemon.post("/programs/busy/restart", None);
    assert_eq!(code, 200, "{body}");
    let again = daemon.wait_status("busy", "a new process", |status| {
        status["status"] == "RUNNING" && status["pid"].as_u64().is_some_and(|pid| pid != old_pid)
    });
    let pid = again["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
        .expect("pid");
    // The new process is the program's only one (the loop is the shell itself): what the
    // status counts is at most what it has used itself, read after the status (its CPU in
    // the cgroup before `exec` is in its own stat too). The old process's half second and
    // more are not in it.
    let cpu = again["cpu_seconds"].as_f64().expect("cpu_seconds");
    let own = own_cpu_seconds(pid);
    assert!(
        (0.0..=own + 0.05).contains(&cpu),
        "cpu_seconds {cpu} of the new process, which used {own} s itself; the old one showed {}: {again}",
        first["cpu_seconds"]
    );
    assert_eq!(again["processes"], 1, "{again}");
}

#[test]
fn cpu_of_a_programs_children_is_summed_even_after_they_left_its_tree() {
    let daemon = TestDaemon::start();
    let done = daemon.root.path().join("orphan-done");
    // A child that burns half a second of CPU and exits after its parent (a subshell) has
    // gone: the daemon, its subreaper, reaps it, so no process of the program ever counts it
    // among its children's times. It ran in the program's cgroup: its time stays counted.
    let script = daemon.root.path().join("burn.py");
    std::fs::write(
        &script,
        format!(
            "import time\nstart = time.process_time()\nwhile time.process_time() - start < 0.5: pass\nopen({:?}, 'w').close()\n",
            done.display().to_string()
        ),
    )
    .expect("write burn.py");
    daemon.put(
        "parent.toml",
        &format!(
            "command = ['sh', '-c', '(python3 {} &); exec sleep 1000']\nboot = true\nstartsecs = 0\n",
            script.display()
        ),
    );
    wait_until(
        "the orphan burned its CPU and ended",
        30,
        || done.exists(),
        || format!("{}\n{}", daemon.status("parent"), daemon.log()),
    );
    let status = daemon.wait_status("parent", "only the sleep left", |status| {
        status["processes"] == 1
    });
    let cpu = status["cpu_seconds"].as_f64().expect("cpu_seconds");
    // Without a cgroup of its own (no writable cgroup v2 hierarchy here) a program's figures
    // follow its process tree, and an orphan's time is not in it (docs/METRICS.md).
    if cgroup_tree(&daemon).is_some() {
        assert!(
            cpu >= 0.45,
            "cpu_seconds {cpu}: the orphan's 0.5 s: {status}"
        );
    }

    // A live child that burns CPU while the main process sleeps: the sum grows.
    daemon.put(
        "family.toml",
        "command = ['sh', '-c', 'sh -c \"while :; do :; done\" & wait']\nboot = true\nstartsecs = 0\n",
    );
    let status = daemon.wait_status("family", "its child's CPU", |status| {
        status["processes"] == 2 && status["cpu_seconds"].as_f64().is_some_and(|cpu| cpu >= 0.3)
    });
    let pid = status["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
        .expect("pid");
    assert!(
        own_cpu_seconds(pid) < 0.3,
        "the main process itself only waits: {status}"
    );
}

#[test]
fn a_program_without_a_cgroup_still_gets_figures() {
    let daemon = TestDaemon::start_with(&["--no-cgroups"], None);
    assert!(cgroup_tree(&daemon).is_none(), "--no-cgroups made a tree");
    daemon.put(
        "holder.toml",
        &format!(
            "{}boot = true\nstartsecs = 0\n",
            python("held = b'x' * (30 << 20)\nwhile True: pass")
        ),
    );
    let status = daemon.wait_status("holder", "30 MiB and some CPU", |status| {
        status["memory_bytes"]
            .as_u64()
            .is_some_and(|memory| memory >= 30 * MIB)
            && status["cpu_seconds"].as_f64().is_some_and(|cpu| cpu >= 0.2)
    });
    assert_eq!(status["processes"], 1, "{status}");
    let memory = status["memory_bytes"].as_u64().unwrap_or_default();
    assert!(
        memory < 30 * MIB + 200 * MIB,
        "memory_bytes {memory}: {status}"
    );
}

#[test]
fn cpu_seconds_of_a_busy_loop_grow() {
    let daemon = TestDaemon::start();
    daemon.put(
        "busy.toml",
        "command = ['sh', '-c', 'while :; do :; done']\nboot = true\nstartsecs = 0\n",
    );
    // How fast it grows is whatever CPU this (shared) machine gives it: waited for.
    let first = daemon.wait_status("busy", "some CPU time", |status| {
        status["cpu_seconds"].as_f64().is_some_and(|cpu| cpu >= 0.2)
    });
    let first_cpu = first["cpu_seconds"].as_f64().unwrap_or_default();
    let later = daemon.wait_status("busy", "more CPU time", |status| {
        status["cpu_seconds"]
            .as_f64()
            .is_some_and(|cpu| cpu >= first_cpu + 0.2)
    });
    // The percentage over the interval since the last read: a loop that never sleeps used
    // some CPU in it, and at most every CPU of the machine.
    let percent = later["cpu_percent"].as_f64().expect("cpu_percent");
    let cpus = std::thread::available_parallelism().map_or(1, usize::from) as f64;
    assert!(
        percent > 0.0 && percent <= 100.0 * cpus + 5.0,
        "cpu_percent {percent}: {later}"
    );
    // The metrics counter agrees with status (both read the same /proc).
    let (_, _, text) = get_text(&daemon, &daemon.client, "/metrics");
    let samples = parse_exposition(&text);
    let counter = sample(
        &samples,
        "hoody_daemon_program_cpu_seconds_total",
        &[("name", "busy")],
    )
    .expect("cpu counter");
    assert!(counter >= first_cpu + 0.2, "counter {counter}\n{text}");
}

#[test]
fn metrics_parse_with_prometheus_client_for_running_stopped_and_crash_looping_programs() {
    let python = parser_python();
    assert!(python.exists());
    let daemon = TestDaemon::start_with(&["--metrics-compat", "supervisord"], None);
    daemon.put(
        "web.toml",
        "command = 'sleep 1000'\nboot = true\nstartsecs = 0\n\
         description = \"says \\\"hi\\\" \\\\ back\\nslash\"\n",
    );
    daemon.put("idle.toml", "command = 'sleep 1000'\n");
    // Dies before startsecs each time: STARTING, BACKOFF, STARTING… never RUNNING.
    daemon.put(
        "crash.toml",
        "command = ['sh', '-c', 'sleep 0.1; exit 3']\nboot = true\nstartsecs = 1\nstartretries = 100\n",
    );
    daemon.wait_state("web", "RUNNING");
    daemon.wait_status("crash", "two restarts", |status| {
        status["restarts"]
            .as_u64()
            .is_some_and(|restarts| restarts >= 2)
    });

    let (code, content_type, text) = get_text(&daemon, &daemon.client, "/metrics");
    assert_eq!(code, 200, "{text}");
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let samples = parse_exposition(&text);
    let value = |name: &str, labels: &[(&str, &str)]| {
        sample(&samples, name, labels)
            .unwrap_or_else(|| panic!("no sample {name}{labels:?}\n{text}"))
    };

    // Running.
    assert_eq!(value("hoody_daemon_program_up", &[("name", "web")]), 1.0);
    assert_eq!(value("hoody_daemon_program_ready", &[("name", "web")]), 1.0);
    assert_eq!(
        value("hoody_daemon_program_restarts_total", &[("name", "web")]),
        0.0
    );
    assert_eq!(
        value("hoody_daemon_program_processes", &[("name", "web")]),
        1.0
    );
    assert!(value("hoody_daemon_program_memory_bytes", &[("name", "web")]) > 0.0);
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or_default();
    let started = value(
        "hoody_daemon_program_start_time_seconds",
        &[("name", "web")],
    );
    assert!(
        started <= now && started > now - 120.0,
        "{started} vs {now}"
    );
    // Stopped (never started).
    assert_eq!(value("hoody_daemon_program_up", &[("name", "idle")]), 0.0);
    assert_eq!(
        value("hoody_daemon_program_ready", &[("name", "idle")]),
        0.0
    );
    assert_eq!(
        value("hoody_daemon_program_restarts_total", &[("name", "idle")]),
        0.0
    );
    assert_eq!(
        value("hoody_daemon_program_memory_bytes", &[("name", "idle")]),
        0.0
    );
    assert!(
        sample(
            &samples,
            "hoody_daemon_program_start_time_seconds",
            &[("name", "idle")]
        )
        .is_none()
    );
    // Crash-looping: never up nor ready, restarts counted, its last exit is 3.
    assert_eq!(value("hoody_daemon_program_up", &[("name", "crash")]), 0.0);
    assert_eq!(
        value("hoody_daemon_program_ready", &[("name", "crash")]),
        0.0
    );
    assert!(value("hoody_daemon_program_restarts_total", &[("name", "crash")]) >= 2.0);
    // Exactly one state is 1 for each program, and it is the right one.
    for (name, states) in [
        ("web", &["RUNNING"][..]),
        ("idle", &["STOPPED"][..]),
        ("crash", &["STARTING", "BACKOFF"][..]),
    ] {
        let current: Vec<&str> = [
            "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL",
        ]
        .into_iter()
        .filter(|state| {
            value(
                "hoody_daemon_program_state",
                &[("name", name), ("state", state)],
            ) == 1.0
        })
        .collect();
        assert_eq!(current.len(), 1, "{name}: {current:?}\n{text}");
        assert!(states.contains(&current[0]), "{name}: {current:?}");
    }
    if let Some(code) = sample(
        &samples,
        "hoody_daemon_program_exit_code",
        &[("name", "crash")],
    ) {
        assert_eq!(code, 3.0);
    }
    let programs_in = |state: &str| value("hoody_daemon_programs", &[("state", state)]);
    assert_eq!(programs_in("RUNNING"), 1.0);
    assert_eq!(programs_in("STOPPED"), 1.0);
    assert_eq!(programs_in("STARTING") + programs_in("BACKOFF"), 1.0);
    // A label value with quotes, a backslash and a newline comes back as it was written.
    let info: Vec<&BTreeMap<String, String>> = samples
        .iter()
        .filter(|(name, labels, _)| name == "hoody_daemon_program_info" && labels["name"] == "web")
        .map(|(_, labels, _)| labels)
        .collect();
    assert_eq!(info.len(), 1, "{text}");
    assert_eq!(info[0]["description"], "says \"hi\" \\ back\nslash");
    assert!(
        text.contains(r#"description="says \"hi\" \\ back\nslash""#),
        "escaped in the text: {text}"
    );
    // The daemon's own process.
    assert!(value("process_resident_memory_bytes", &[]) > 0.0);
    assert!(value("process_open_fds", &[]) > 0.0);
    let daemon_start = value("process_start_time_seconds", &[]);
    assert!(
        daemon_start <= now + 1.0 && daemon_start > now - 600.0,
        "{daemon_start}"
    );
    // supervisord_exporter's names (--metrics-compat supervisord).
    assert_eq!(value("supervisord_up", &[]), 1.0);
    assert_eq!(
        value(
            "supervisor_process_info",
            &[
                ("name", "web"),
                ("group", "web"),
                ("state", "RUNNING"),
                ("exit_status", "0")
            ]
        ),
        1.0
    );
    assert_eq!(
        value(
            "node_supervisord_state",
            &[("group", "idle"), ("name", "idle")]
        ),
        0.0
    );

    // The same text under the API's base path.
    let (code, _, text) = get_text(&daemon, &daemon.client, "/api/v1/daemon/metrics");
    assert_eq!(code, 200);
    assert!(
        text.contains("hoody_daemon_program_up{name=\"web\"} 1"),
        "{text}"
    );
}

#[test]
fn a_read_token_scrapes_metrics_and_no_token_does_not() {
    let folder = tempfile::tempdir().expect("tempdir");
    let tokens = folder.path().join("tokens.toml");
    std::fs::write(
        &tokens,
        "[[tokens]]\nname = \"prometheus\"\nrole = \"read\"\ntoken = \"scrape-secret\"\n",
    )
    .expect("tokens file");
    std::fs::set_permissions(&tokens, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("chmod");
    let daemon = TestDaemon::start_with(&["--tokens-file", &tokens.display().to_string()], None);
    let read = Client::new(daemon.client.endpoint.clone(), Some("scrape-secret".into()));
    let nobody = Client::new(daemon.client.endpoint.clone(), None);
    for path in ["/metrics", "/api/v1/daemon/metrics"] {
        let (code, _, text) = get_text(&daemon, &read, path);
        assert_eq!(code, 200, "{path}: {text}");
        assert!(
            text.contains("hoody_daemon_programs{state=\"RUNNING\"} 0"),
            "{text}"
        );
        let (code, _, text) = get_text(&daemon, &nobody, path);
        assert_eq!(code, 401, "{path}: {text}");
    }
}

#[test]
fn max_memory_restart_restarts_a_growing_program_and_says_why() {
    let daemon = TestDaemon::start();
    // Grows by 8 MiB every 100 ms up to 240 MiB, then holds it.
    daemon.put(
        "grower.toml",
        &format!(
            "{}boot = true\nstartsecs = 0\nmax_memory_restart = \"64MB\"\nstopwaitsecs = 5\n",
            python(
                "import time\nheld = []\nwhile True:\n    if len(held) < 30:\n        held.append(b'z' * (8 << 20))\n    time.sleep(0.1)"
            )
        ),
    );
    let status = daemon.wait_status("grower", "a restart for memory", |status| {
        status["restarts"]
            .as_u64()
            .is_some_and(|restarts| restarts >= 1)
            && status["last_error"]
                .as_str()
                .is_some_and(|error| error.contains("max_memory_restart"))
    });
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("over the limit of 64.0MB") && error.contains("restarted"),
        "{error}"
    );
    // It runs again (a new process).
    daemon.wait_status("grower", "running again", |status| {
        status["status"] == "RUNNING" && status["pid"].is_u64()
    });
    // A program without the field is never looked at: its memory may be anything.
    daemon.put(
        "big.toml",
        &format!(
            "{}boot = true\nstartsecs = 0\nready_log_line = \"holding\"\n",
            python("import time\nheld = b'x' * (80 << 20)\nprint('holding', flush=True)\ntime.sleep(1000)")
        ),
    );
    daemon.wait_status("big", "ready", |status| status["ready"] == true);
    // Longer than a few checks of the grower.
    std::thread::sleep(Duration::from_secs(4));
    let big = daemon.status("big");
    assert_eq!(big["restarts"], 0, "{big}");
    assert!(big["last_error"].is_null(), "{big}");
}

#[test]
fn max_memory_restart_is_validated() {
    let daemon = TestDaemon::start();
    for (text, expected) in [
        ("max_memory_restart = \"lots\"\n", "expected a size"),
        (
            "max_memory_restart = 512\n",
            "below the smallest limit of 1MB",
        ),
        (
            "memory_max = \"100KB\"\n",
            "below the smallest limit of 1MB",
        ),
        ("cpu_max = \"fast\"\n", "expected CPUs"),
        ("cpu_max = 0\n", "out of range"),
    ] {
        daemon.put("bad.toml", &format!("command = 'sleep 1'\n{text}"));
        let status = daemon.wait_status("bad", "a config error", |status| {
            status["config_error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains(expected))
        });
        assert!(
            status["config_error"]["message"].is_string(),
            "{text}: {status}"
        );
        daemon.remove("bad.toml");
        wait_until(
            "bad.toml gone",
            30,
            || daemon.status("bad").is_null(),
            || daemon.log(),
        );
    }
}

/// A raw event stream: the head read, then each event as (id, event, data).
struct Stream {
    reader: BufReader<TcpStream>,
}

impl Stream {
    fn open(daemon: &TestDaemon, last_event_id: Option<&str>) -> Stream {
        let Endpoint::Tcp(host) = &daemon.client.endpoint else {
            panic!("a tcp daemon")
        };
        let mut stream = TcpStream::connect(host).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let resume = last_event_id
            .map(|id| format!("Last-Event-ID: {id}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET /api/v1/daemon/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        )
        .expect("send");
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader.read_line(&mut line).expect("the head of /events");
            assert!(read > 0, "GET /events: closed\n{}", daemon.log());
            if line == "\r\n" {
                break;
            }
        }
        Stream { reader }
    }

    /// The next event (keep-alive comments skipped). A chunked body: chunk sizes are lines of
    /// hex digits between the event's lines, skipped too.
    fn next(&mut self) -> (String, String, Value) {
        let (mut id, mut event, mut data) = (String::new(), String::new(), String::new());
        let mut line = String::new();
        loop {
            line.clear();
            let read = self.reader.read_line(&mut line).expect("an event");
            assert!(read > 0, "the stream ended");
            let text = line.trim_end_matches(['\r', '\n']);
            if let Some(value) = text.strip_prefix("id:") {
                id = value.trim().to_string();
            } else if let Some(value) = text.strip_prefix("event:") {
                event = value.trim().to_string();
            } else if let Some(value) = text.strip_prefix("data:") {
                data = value.trim().to_string();
            } else if text.is_empty() && !data.is_empty() {
                let data = serde_json::from_str(&data).unwrap_or(Value::Null);
                return (id, event, data);
            }
        }
    }

    /// Events until one satisfies `found` (at most 200), returning them all.
    fn until(&mut self, found: impl Fn(&str, &Value) -> bool) -> Vec<(String, String, Value)> {
        let mut events = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline && events.len() < 200 {
            let event = self.next();
            let done = found(&event.1, &event.2);
            events.push(event);
            if done {
                return events;
            }
        }
        panic!("not found in {events:#?}");
    }
}

fn is_state(event: &str, data: &Value, name: &str, to: &str) -> bool {
    event == "state" && data["name"] == name && data["to"] == to
}

#[test]
fn a_reconnect_with_last_event_id_gets_the_missed_events() {
    let daemon = TestDaemon::start();
    let mut first = Stream::open(&daemon, None);
    daemon.put(
        "web.toml",
        "command = 'sleep 1000'\nboot = true\nstartsecs = 0\n",
    );
    let seen = first.until(|event, data| is_state(event, data, "web", "RUNNING"));
    let last_id = seen.last().map(|(id, _, _)| id.clone()).unwrap_or_default();
    let last: u64 = last_id
        .parse()
        .unwrap_or_else(|_| panic!("id {last_id:?}: {seen:#?}"));
    // Ids grow by one per event.
    let ids: Vec<u64> = seen
        .iter()
        .filter_map(|(id, _, _)| id.parse().ok())
        .collect();
    assert!(ids.windows(2).all(|pair| pair[1] == pair[0] + 1), "{ids:?}");
    drop(first);

    // While nobody listens: a stop and a start.
    let (code, _) = daemon.post("/programs/web/stop", None);
    assert_eq!(code, 200);
    let (code, _) = daemon.post("/programs/web/start", None);
    assert_eq!(code, 200);
    daemon.wait_state("web", "RUNNING");

    let mut again = Stream::open(&daemon, Some(&last_id));
    let missed = again.until(|event, data| is_state(event, data, "web", "RUNNING"));
    let ids: Vec<u64> = missed
        .iter()
        .filter_map(|(id, _, _)| id.parse().ok())
        .collect();
    assert_eq!(ids.first(), Some(&(last + 1)), "{missed:#?}");
    assert!(
        ids.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{missed:#?}"
    );
    let transitions: Vec<(String, String)> = missed
        .iter()
        .filter(|(_, event, data)| event == "state" && data["name"] == "web")
        .map(|(_, _, data)| {
            (
                data["from"].as_str().unwrap_or_default().to_string(),
                data["to"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        transitions,
        [
            ("RUNNING".to_string(), "STOPPING".to_string()),
            ("STOPPING".to_string(), "STOPPED".to_string()),
            ("STOPPED".to_string(), "STARTING".to_string()),
            ("STARTING".to_string(), "RUNNING".to_string()),
        ],
        "{missed:#?}"
    );
    // And the live events follow, without a repeat.
    let (code, _) = daemon.post("/programs/web/stop", None);
    assert_eq!(code, 200);
    let live = again.until(|event, data| is_state(event, data, "web", "STOPPED"));
    let next: Vec<u64> = live
        .iter()
        .filter_map(|(id, _, _)| id.parse().ok())
        .collect();
    assert_eq!(
        next.first().copied(),
        ids.last().map(|id| id + 1),
        "{live:#?}"
    );

    // An id the daemon no longer has (or never gave): a reset, with the latest id.
    let mut stale = Stream::open(&daemon, Some("1"));
    let (id, event, data) = stale.next();
    assert_eq!(event, "reset", "{data}");
    assert_eq!(data["last_event_id"], "1");
    let latest = id
        .parse::<u64>()
        .unwrap_or_else(|_| panic!("reset id {id:?}"));
    assert!(
        next.last().is_some_and(|seen| latest >= *seen),
        "{latest}: {data}"
    );
}

/// The folder of the daemon's cgroup tree (`state/cgroup`), when it made one.
fn cgroup_tree(daemon: &TestDaemon) -> Option<PathBuf> {
    let text = std::fs::read_to_string(daemon.state.join("cgroup")).ok()?;
    Some(PathBuf::from(text.trim_end()))
}

#[test]
fn memory_max_and_cpu_max_are_set_in_the_cgroup_or_say_why_not() {
    let daemon = TestDaemon::start();
    daemon.put(
        "capped.toml",
        "command = 'sleep 1000'\nboot = true\nstartsecs = 0\nmemory_max = \"64MB\"\ncpu_max = \"50%\"\n",
    );
    let status = daemon.wait_state("capped", "RUNNING");
    let tree = cgroup_tree(&daemon);
    let delegated = tree.as_ref().is_some_and(|tree| {
        let available =
            std::fs::read_to_string(tree.join("cgroup.controllers")).unwrap_or_default();
        let available: Vec<&str> = available.split_whitespace().collect();
        available.contains(&"memory") && available.contains(&"cpu")
    });
    match (&tree, delegated) {
        (Some(tree), true) => {
            // Enforced by the kernel: the limits are in the program's own cgroup.
            let leaf = tree.join("capped.program");
            let memory = std::fs::read_to_string(leaf.join("memory.max")).expect("memory.max");
            assert_eq!(memory.trim(), (64u64 << 20).to_string());
            let cpu = std::fs::read_to_string(leaf.join("cpu.max")).expect("cpu.max");
            assert_eq!(cpu.trim(), "50000 100000");
            assert!(status["last_error"].is_null(), "{status}");
        }
        (Some(tree), false) => {
            // This machine: a v2 hierarchy without controllers for the daemon. The program
            // runs, and says why its limits are not enforced.
            let error = status["last_error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with("memory_max and cpu_max not enforced:")
                    && error.contains("not delegated")
                    && error.contains(&tree.display().to_string()),
                "{status}"
            );
        }
        (None, _) => {
            let error = status["last_error"].as_str().unwrap_or_default();
            assert!(error.contains("no cgroup of their own"), "{status}");
        }
    }
}

#[test]
fn limits_without_a_cgroup_say_so() {
    let daemon = TestDaemon::start_with(&["--no-cgroups"], None);
    daemon.put(
        "capped.toml",
        "command = 'sleep 1000'\nboot = true\nstartsecs = 0\nmemory_max = \"1GB\"\n",
    );
    let status = daemon.wait_state("capped", "RUNNING");
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("memory_max not enforced: this daemon gives programs no cgroup"),
        "{status}"
    );
    // A program without limits has no such error.
    daemon.put(
        "free.toml",
        "command = 'sleep 1000'\nboot = true\nstartsecs = 0\n",
    );
    let free = daemon.wait_state("free", "RUNNING");
    assert!(free["last_error"].is_null(), "{free}");
}

/// `hoody-daemon events` running as a child: its stdout's lines, read on a thread of their
/// own so the test can wait for one with a deadline. Killed when dropped.
struct EventsCommand {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl EventsCommand {
    fn start(daemon: &TestDaemon, extra: &[&str]) -> EventsCommand {
        let mut child = Command::new(crate::support::binary())
            .args(["--url", &daemon.url(), "events", "--json"])
            .args(extra)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("hoody-daemon events");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        EventsCommand { child, lines }
    }

    /// The printed events, until one is a state change of `name` into `to` (`poke` is called
    /// while nothing comes, so a stream that opened late still sees a change).
    fn until_state(&self, name: &str, to: &str, mut poke: impl FnMut()) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            assert!(Instant::now() < deadline, "no {name} -> {to}: {seen:?}");
            match self.lines.recv_timeout(Duration::from_millis(500)) {
                Ok(line) => {
                    let event: Value = serde_json::from_str(&line)
                        .unwrap_or_else(|_| panic!("not a JSON line: {line:?}"));
                    let done = event["event"] == "state"
                        && event["data"]["name"] == name
                        && event["data"]["to"] == to;
                    seen.push(event);
                    if done {
                        return seen;
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => poke(),
                Err(error) => panic!("hoody-daemon events ended ({error}): {seen:?}"),
            }
        }
    }
}

impl Drop for EventsCommand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_events_command_prints_each_event_and_resumes_after_an_id() {
    let daemon = TestDaemon::start();
    daemon.put(
        "ticker.toml",
        "command = [\"sleep\", \"1000\"]\nboot = true\nstartsecs = 0\n",
    );
    daemon.wait_state("ticker", "RUNNING");
    let restart = || {
        let (code, body) = daemon.post("/programs/ticker/restart", None);
        assert_eq!(code, 200, "{body}");
    };
    let first = EventsCommand::start(&daemon, &[]);
    let seen = first.until_state("ticker", "RUNNING", restart);
    let last = seen.last().expect("an event");
    let id = last["id"].as_u64().expect("a numeric id");
    drop(first);

    // Changes while nobody follows; then `--since` the last id seen: they come first.
    daemon.post("/programs/ticker/stop", None);
    daemon.wait_state("ticker", "STOPPED");
    let resumed = EventsCommand::start(&daemon, &["--since", &id.to_string()]);
    let missed = resumed.until_state("ticker", "STOPPED", || {});
    assert!(
        missed
            .iter()
            .all(|event| event["id"].as_u64().is_some_and(|later| later > id)),
        "{missed:?}"
    );
    assert!(
        missed
            .iter()
            .any(|event| event["event"] == "state" && event["data"]["to"] == "STOPPING"),
        "{missed:?}"
    );
}
