//! Issue 8: faults. Each test injects one kind of fault into a real daemon for a bounded time
//! and then checks, on /proc and on the files, that nothing was lost or duplicated.
//!
//! The fast variants run in CI (`cargo test --test it faults`). `HOODY_SOAK=1` makes the same
//! tests run longer (see docs/RELIABILITY.md), and the `#[ignore]`d ones are soak-only:
//! `HOODY_SOAK=1 nice cargo test --release --test it faults -- --include-ignored --test-threads 1`.
//! Each test prints one `figures:` line with what it injected and what it counted.

#![allow(clippy::disallowed_methods)] // mount/umount for the disk-full test

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hoody_daemon::spec::{Format, ProgramSpec, SystemUsers};
use serde_json::{Value, json};

use crate::support::{
    Random, TestDaemon, alive, cmdline, cpu_seconds, is_root, processes_running, signal, soak,
    unique, vm_kib, wait_until, wait_while_progressing,
};

/// How long a fault is injected: a few seconds in CI, minutes in the soak.
fn window(fast: u64, soak_seconds: u64) -> Duration {
    Duration::from_secs(if soak() { soak_seconds } else { fast })
}

/// Every program's status, by name.
fn statuses(daemon: &TestDaemon) -> BTreeMap<String, Value> {
    let (_, body) = daemon.get("/status");
    body["data"]["statuses"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|status| Some((status["name"].as_str()?.to_string(), status.clone())))
                .collect()
        })
        .unwrap_or_default()
}

fn pid_in(status: &Value) -> Option<u32> {
    status["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
}

#[test]
fn a_hundred_crash_loops_leave_the_api_answering_and_the_cpu_bounded() {
    let _storm = crate::support::storm();
    let daemon = TestDaemon::start();
    let daemon_pid = daemon.pid().expect("daemon pid");
    let started = Instant::now();
    // 40 give up: they exit before startsecs, are retried after 1 s, 2 s, 3 s, then FATAL.
    for index in 0..40 {
        daemon.put(
            &format!("giveup{index}.toml"),
            &format!(
                "command = \"sh -c 'exit 3'\"\nboot = true\nstartsecs = 1\nstartretries = {}\n",
                index % 4
            ),
        );
    }
    // 30 die at once after reaching RUNNING (startsecs = 0): restarted at once, at most 20 times
    // a second (the restart budget), forever.
    for index in 0..30 {
        daemon.put(
            &format!("instant{index}.toml"),
            "command = \"sh -c 'exit 1'\"\nboot = true\nstartsecs = 0\nautorestart = true\n",
        );
    }
    // 30 run for 1 s, then fail: RUNNING after 0.1 s, an unexpected exit, restarted forever.
    // A program counts as started once the daemon has seen it alive after startsecs; with the
    // storm above, its loop may look only every few hundred milliseconds, so the margin over
    // startsecs is what this storm can see (it was 0.2 s, and a run seen only at its end is
    // rightly a failed start).
    for index in 0..30 {
        daemon.put(
            &format!("slow{index}.toml"),
            "command = \"sh -c 'sleep 1; exit 1'\"\nboot = true\nstartsecs = 0.1\n",
        );
    }

    let mut client = daemon.client.clone();
    client.timeout = Duration::from_secs(10);
    let cpu_before = cpu_seconds(daemon_pid);
    let measured = Instant::now();
    let (mut requests, mut failures) = (0u64, Vec::new());
    let mut slowest = Duration::ZERO;
    let paths = ["/status", "/programs", "/health", "/status/slow3"];
    const PACE: Duration = Duration::from_millis(100);
    while measured.elapsed() < window(12, 300) {
        let path = format!("/api/v1/daemon{}", paths[requests as usize % paths.len()]);
        let asked = Instant::now();
        let answer = client.request("GET", &path, None, &[]);
        slowest = slowest.max(asked.elapsed());
        match answer {
            Ok(response) if response.status == 200 => {}
            Ok(response) => failures.push(format!("{path}: {}", response.status)),
            Err(error) => failures.push(format!(
                "{path} at {:.1} s: {error}",
                measured.elapsed().as_secs_f64()
            )),
        }
        requests += 1;
        // Paced on a fixed schedule, 10 requests a second whatever the answer times: the load
        // is the crash loops. Sleeping a fixed 20 ms after each answer made this loop's share
        // of the daemon's CPU grow with the daemon's speed (on an idle machine, 35 requests a
        // second of which a quarter re-read 100 program files: a fifth of a core in a debug
        // build, and the bound failed at 0.52 on CI).
        let next = measured + PACE * u32::try_from(requests).unwrap_or(u32::MAX);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let elapsed = measured.elapsed().as_secs_f64();
    let cpu = (cpu_seconds(daemon_pid) - cpu_before) / elapsed;
    assert!(
        failures.is_empty(),
        "failed requests: {failures:?} (daemon CPU {cpu:.2}, slowest {slowest:?})\n{}",
        daemon.log()
    );
    // A sanity bound, not a benchmark: half of one core, averaged over the window.
    assert!(cpu < 0.5, "the daemon used {cpu:.2} of a core");

    for index in 0..40 {
        let name = format!("giveup{index}");
        let status = daemon.wait_state(&name, "FATAL");
        assert_eq!(status["restarts"], index % 4, "{name}: {status}");
        assert!(
            status["last_error"]
                .as_str()
                .is_some_and(|error| error.contains("startretries")),
            "{status}"
        );
    }
    let all = statuses(&daemon);
    let lived = started.elapsed().as_secs_f64();
    let mut restarts = 0;
    for (name, status) in &all {
        let count = status["restarts"].as_u64().expect("restarts");
        if name.starts_with("giveup") {
            restarts += count;
            continue;
        }
        restarts += count;
        assert_ne!(status["status"], "FATAL", "{name} keeps retrying: {status}");
        assert!(count >= 5, "{name} restarted: {status}");
        // The restart budget: at most 20 immediate restarts in any second.
        assert!(
            count as f64 <= 20.0 * (lived + 1.0),
            "{name} restarted {count} times in {lived:.1} s"
        );
    }
    assert_eq!(all.len(), 100);
    assert!(alive(daemon_pid));
    eprintln!(
        "figures: crash loops: 100 programs, {restarts} restarts, {requests} requests, 0 failed, \
         daemon CPU {:.1}% of a core over {elapsed:.1} s, slowest answer {slowest:?}",
        cpu * 100.0
    );
}

#[test]
fn random_kill9_of_children_loses_and_duplicates_nothing() {
    let daemon = TestDaemon::start();
    let mut random = Random::new("random_kill9_of_children");
    let lines: Vec<String> = (0..20).map(|_| format!("sleep {}", unique())).collect();
    for (index, line) in lines.iter().enumerate() {
        daemon.put(
            &format!("p{index}.toml"),
            &format!("command = \"{line}\"\nboot = true\nstartsecs = 0\n"),
        );
    }
    for index in 0..lines.len() {
        daemon.wait_state(&format!("p{index}"), "RUNNING");
    }
    let mut kills = vec![0u64; lines.len()];
    // Every process killed, by pid and start time: on a loaded machine a process SIGKILLed a
    // moment ago may not have been scheduled to die yet, and is still "running" at the next
    // look. Killing it again is one death, not two: it must not count as a second kill.
    let mut killed: BTreeSet<(u32, u64)> = BTreeSet::new();
    let mut duplicates = Vec::new();
    let begun = Instant::now();
    while begun.elapsed() < window(8, 300) {
        let index = random.below(lines.len() as u64) as usize;
        let running = processes_running(&lines[index]);
        match running.as_slice() {
            [pid] => {
                // None: it ended meanwhile.
                if let Some(start) = hoody_daemon::supervisor::process_start_time(*pid) {
                    signal(*pid, nix::sys::signal::Signal::SIGKILL);
                    if killed.insert((*pid, start)) {
                        kills[index] += 1;
                    }
                }
            }
            [] => {} // being restarted
            more => duplicates.push((index, more.to_vec())),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(duplicates.is_empty(), "duplicates seen: {duplicates:?}");
    for (index, line) in lines.iter().enumerate() {
        let name = format!("p{index}");
        let status = daemon.wait_status(&name, "RUNNING with every kill counted", |status| {
            status["status"] == "RUNNING" && status["restarts"] == kills[index]
        });
        assert_eq!(
            processes_running(line),
            vec![pid_in(&status).expect("pid")],
            "exactly one {line}"
        );
    }
    eprintln!(
        "figures: child kill -9: {} kills over {:.1} s, 20 programs, 0 lost, 0 duplicated",
        kills.iter().sum::<u64>(),
        begun.elapsed().as_secs_f64()
    );
}

/// The command of a program file's text (the test writes only `command = "…"` files).
fn command_of(text: &str) -> Option<String> {
    let spec = ProgramSpec::from_text("x", Format::Toml, text, &SystemUsers).ok()?;
    Some(spec.process.argv.join(" "))
}

#[test]
fn kill9_of_the_daemon_mid_write_leaves_whole_files_and_one_process_each() {
    let mut daemon = TestDaemon::start();
    let mut random = Random::new("kill9_of_the_daemon");
    let rounds = if soak() { 40 } else { 4 };
    // Every version of every file ever written, by file name.
    let mut written: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let (mut api_writes, mut file_writes, mut torn, mut duplicated, mut temp_left) =
        (0u64, 0u64, 0u64, 0u64, 0u64);
    let version = |number: u64| {
        format!("command = \"sleep {number}\"\nboot = true\nstartsecs = 0\nstopwaitsecs = 2\n")
    };
    for round in 0..rounds {
        if round > 0 {
            daemon.restart();
        }
        let stop = AtomicBool::new(false);
        let api_count = AtomicU64::new(0);
        let file_count = AtomicU64::new(0);
        let kill_after = Duration::from_millis(300 + random.below(1200));
        let seed = random.next();
        let daemon_pid = daemon.pid().expect("daemon pid");
        let (api_versions, file_versions) = std::thread::scope(|scope| {
            let api = scope.spawn(|| {
                let mut client = daemon.client.clone();
                client.timeout = Duration::from_secs(10);
                let mut random = seed;
                let mut versions: Vec<(String, String)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    random = random.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let file = format!("api{}.toml", (random >> 33) % 4);
                    let text = version(unique());
                    // Recorded before it is sent: the daemon may write it and die before it
                    // answers.
                    versions.push((file.clone(), text.clone()));
                    let body = json!({ "file": file, "text": text });
                    let answered =
                        client.request("POST", "/api/v1/daemon/programs/put", Some(&body), &[]);
                    api_count.fetch_add(1, Ordering::Relaxed);
                    match answered {
                        Ok(response) if response.status < 300 => {}
                        Ok(response) => {
                            assert!(response.status < 500, "{}", response.json());
                        }
                        Err(_) => break, // the daemon is gone
                    }
                }
                versions
            });
            let files = scope.spawn(|| {
                let mut random = seed ^ 0x5555;
                let mut versions: Vec<(String, String)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    random = random.wrapping_mul(6364136223846793005).wrapping_add(1);
                    let file = format!("file{}.toml", (random >> 33) % 4);
                    let text = version(unique());
                    versions.push((file.clone(), text.clone()));
                    if random >> 63 == 0 {
                        daemon.put(&file, &text);
                    } else {
                        // In place, as `echo >` does.
                        fs::write(daemon.programs.join(&file), &text).expect("write");
                    }
                    file_count.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(5));
                }
                versions
            });
            std::thread::sleep(kill_after);
            signal(daemon_pid, nix::sys::signal::Signal::SIGKILL);
            stop.store(true, Ordering::Relaxed);
            (
                api.join().expect("api writer"),
                files.join().expect("file writer"),
            )
        });
        daemon.kill9(); // reaps it
        api_writes += api_count.load(Ordering::Relaxed);
        file_writes += file_count.load(Ordering::Relaxed);
        for (file, text) in api_versions.into_iter().chain(file_versions) {
            written.entry(file).or_default().insert(text);
        }

        // Every file is whole: exactly one of the versions written to it.
        let mut expected: BTreeMap<String, String> = BTreeMap::new();
        for entry in fs::read_dir(&daemon.programs).expect("list").flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with('.') {
                temp_left += 1;
                continue;
            }
            let text = fs::read_to_string(entry.path()).expect("read");
            let whole = written.get(&file).is_some_and(|set| set.contains(&text));
            if !whole {
                torn += 1;
                eprintln!("{file} is not one of the versions written to it: {text:?}");
                continue;
            }
            let name = file.trim_end_matches(".toml").to_string();
            expected.insert(name, command_of(&text).expect("a whole file parses"));
        }

        // After the restart the state is what the files say, one process each.
        daemon.restart();
        for (name, line) in &expected {
            let status = daemon.wait_status(name, "running the file's version", |status| {
                status["status"] == "RUNNING"
                    && pid_in(status).is_some_and(|pid| cmdline(pid) == *line)
            });
            let pid = pid_in(&status).expect("pid");
            wait_until(
                &format!("one copy of {line}"),
                30,
                || processes_running(line) == [pid],
                || format!("{:?}\n{}", processes_running(line), daemon.log()),
            );
        }
        let wanted: BTreeSet<&String> = expected.values().collect();
        for texts in written.values() {
            for text in texts {
                let Some(line) = command_of(text) else {
                    continue;
                };
                if wanted.contains(&line) {
                    continue;
                }
                // A version that is no longer in any file: its process, if a leftover, is ended.
                wait_until(
                    &format!("no process of the stale {line}"),
                    30,
                    || processes_running(&line).is_empty(),
                    || format!("{:?}\n{}", processes_running(&line), daemon.log()),
                );
            }
        }
        let programs = statuses(&daemon);
        let names: BTreeSet<&String> = programs.keys().collect();
        assert_eq!(
            names,
            expected.keys().collect(),
            "the daemon knows exactly the files' programs"
        );
        for line in expected.values() {
            duplicated += processes_running(line).len().saturating_sub(1) as u64;
        }
        daemon.kill9();
    }
    daemon.restart();
    eprintln!(
        "figures: daemon kill -9: {rounds} kills, {api_writes} API writes, {file_writes} file \
         writes, {torn} torn files, {duplicated} duplicates, {temp_left} temp files left behind"
    );
    assert_eq!((torn, duplicated), (0, 0));
}

#[test]
fn two_hundred_files_dropped_at_once_run_exactly_those() {
    let daemon = TestDaemon::start();
    let staging = daemon.root.path().join("staging");
    fs::create_dir(&staging).expect("staging");
    let lines: Vec<String> = (0..200).map(|_| format!("sleep {}", unique())).collect();
    for (index, line) in lines.iter().enumerate() {
        fs::write(
            staging.join(format!("bulk{index}.toml")),
            format!("command = \"{line}\"\nboot = true\nstartsecs = 0\n"),
        )
        .expect("stage");
    }
    // All 200 appear within a few milliseconds.
    for index in 0..lines.len() {
        let file = format!("bulk{index}.toml");
        fs::rename(staging.join(&file), daemon.programs.join(&file)).expect("drop");
    }
    let mut last = BTreeMap::new();
    wait_until(
        "200 programs RUNNING",
        60,
        || {
            last = statuses(&daemon);
            last.len() == 200 && last.values().all(|status| status["status"] == "RUNNING")
        },
        || {
            format!(
                "{} programs known\n{}",
                statuses(&daemon).len(),
                daemon.log()
            )
        },
    );
    for (index, line) in lines.iter().enumerate() {
        let status = &last[&format!("bulk{index}")];
        assert_eq!(processes_running(line), vec![pid_in(status).expect("pid")]);
    }
    // And all 200 removed at once: every process ends, no program is left.
    for index in 0..lines.len() {
        fs::remove_file(daemon.programs.join(format!("bulk{index}.toml"))).expect("remove");
    }
    wait_until(
        "no program left",
        60,
        || statuses(&daemon).is_empty(),
        || daemon.log(),
    );
    for line in &lines {
        wait_until(
            &format!("{line} ended"),
            30,
            || processes_running(line).is_empty(),
            || daemon.log(),
        );
    }
    eprintln!("figures: 200 files dropped and removed at once: 200 ran, 0 lost, 0 duplicated");
}

/// Each program holds up to four descriptors (two log files, two pipe ends). Started with a soft
/// limit of 256 open files, as some service managers and container runtimes start processes,
/// the daemon raises it to the hard limit, so 150 programs (≈ 600 descriptors) all run.
#[test]
fn a_fleet_beyond_the_soft_open_file_limit_runs() {
    let hard = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit")
        .1;
    if hard < 1024 {
        eprintln!("skipped: the hard limit on open files here is {hard}");
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    let line = format!("sleep {}", unique());
    for index in 0..150 {
        fs::write(
            programs.join(format!("fd{index}.toml")),
            format!("command = \"{line}\"\nboot = true\nstartsecs = 0\n"),
        )
        .expect("program file");
    }
    let daemon = TestDaemon::start_with_open_files(root, 256);
    wait_until(
        "150 programs RUNNING",
        60,
        || {
            let all = statuses(&daemon);
            all.len() == 150 && all.values().all(|status| status["status"] == "RUNNING")
        },
        || format!("{:?}\n{}", statuses(&daemon), daemon.log()),
    );
    assert_eq!(processes_running(&line).len(), 150);
    let limits =
        fs::read_to_string(format!("/proc/{}/limits", daemon.pid().expect("pid"))).expect("limits");
    let open_files: Vec<&str> = limits
        .lines()
        .find(|row| row.starts_with("Max open files"))
        .expect("Max open files")
        .split_whitespace()
        .collect();
    assert_eq!(
        open_files[3], open_files[4],
        "soft raised to hard: {limits}"
    );
}

/// A tmpfs mounted for one test, unmounted (lazily, so a busy mount cannot stay) when dropped,
/// even when the test fails.
struct Tmpfs<'a>(&'a Path);

impl<'a> Tmpfs<'a> {
    fn mount(path: &'a Path, size: &str) -> Option<Tmpfs<'a>> {
        fs::create_dir_all(path).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .ok()?;
        status.success().then_some(Tmpfs(path))
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.0)
            .status()
            .expect("remount");
        assert!(status.success(), "remount the tmpfs");
    }
}

impl Drop for Tmpfs<'_> {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0).status();
    }
}

#[test]
fn a_full_log_disk_keeps_programs_running_reports_and_recovers() {
    if !is_root() {
        eprintln!(
            "skipped: mounting a tmpfs needs root; the supervisor's unit test \
             writer_keeps_draining_when_the_disk_is_full covers a full disk with /dev/full"
        );
        return;
    }
    let holder = tempfile::tempdir().expect("tempdir");
    let logs = holder.path().join("logs");
    let Some(mount) = Tmpfs::mount(&logs, "1m") else {
        eprintln!("skipped: cannot mount a tmpfs here (no CAP_SYS_ADMIN)");
        return;
    };
    let logs_arg = logs.to_string_lossy().into_owned();
    let daemon = TestDaemon::start_with(&["--log-dir", &logs_arg], None);
    // 64 KiB of 'x' and a newline every 20 ms: 1 MiB is full in well under a second. The log
    // rotates (past what the disk holds): captured, so the daemon is the one whose writes fail.
    // A log that never rotates is the program's own stdout, and its own writes would fail.
    let number = unique();
    daemon.put(
        "chatty.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"while :; do head -c 65536 /dev/zero | tr '\\\\0' x; echo {number}; sleep 0.02; done\"]\n\
             boot = true\nstartsecs = 0\nstdout_logfile_maxbytes = \"1GB\"\n"
        ),
    );
    let running = daemon.wait_state("chatty", "RUNNING");
    let pid = pid_in(&running).expect("pid");
    let full = daemon.wait_status("chatty", "the write error reported", |status| {
        status["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("No space"))
    });
    assert_eq!(
        full["status"], "RUNNING",
        "the program keeps running: {full}"
    );
    assert_eq!(pid_in(&full), Some(pid), "the same process: {full}");
    let log = logs.join("chatty.stdout.log");
    let size_when_full = fs::metadata(&log).expect("log").len();
    assert!(size_when_full <= 1024 * 1024);
    // The API still answers, and the logs endpoint reads what was written.
    let (code, body) = daemon.get("/programs/chatty/logs?lines=1");
    assert_eq!(code, 200, "{body}");

    mount.resize("64m");
    wait_until(
        "logging to resume",
        30,
        || fs::metadata(&log).is_ok_and(|meta| meta.len() > size_when_full + 256 * 1024),
        || daemon.log(),
    );
    // The problem clears once the disk has room again (the daemon's log keeps the count of
    // dropped bytes).
    let recovered = daemon.wait_status("chatty", "the error to be over", |status| {
        status["last_error"].is_null()
    });
    assert!(
        daemon.log_contains("log writes resumed after"),
        "the daemon's log records the drop\n{}",
        daemon.log()
    );
    assert_eq!(
        pid_in(&recovered),
        Some(pid),
        "never restarted: {recovered}"
    );
    assert!(alive(pid));
    eprintln!(
        "figures: log disk full: 1 MiB tmpfs filled at {size_when_full} bytes, program kept \
         running, error reported, logging resumed after the remount"
    );
    drop(daemon);
    drop(mount);
}

/// Programs that misbehave around their output and children; the daemon's peak memory stays
/// small. `gigabytes` of NUL bytes (no newline at all) go through the log pipe.
fn misbehaving_programs_leave_the_daemon_small(gigabytes: u64) {
    let daemon = TestDaemon::start();
    let daemon_pid = daemon.pid().expect("daemon pid");
    let baseline = vm_kib(daemon_pid, "VmRSS");
    let forks = unique();
    let programs = [
        (
            "forker",
            format!(
                "command = [\"sh\", \"-c\", \"for i in $(seq 300); do sleep {forks} & done; wait\"]\n"
            ),
        ),
        (
            "closer",
            "command = [\"sh\", \"-c\", \"exec >&- 2>&-; sleep 600\"]\n".to_string(),
        ),
        // Its stdin is /dev/null; it never reads it and never exits on its own.
        ("deaf", "command = \"sleep 600\"\n".to_string()),
        (
            "flood",
            format!(
                "command = [\"sh\", \"-c\", \"head -c {} /dev/zero\"]\nautorestart = false\n\
                 stdout_logfile_maxbytes = \"64MB\"\nstdout_logfile_backups = 1\n",
                gigabytes << 30
            ),
        ),
    ];
    for (name, text) in &programs {
        daemon.put(
            &format!("{name}.toml"),
            &format!("{text}boot = true\nstartsecs = 0\n"),
        );
    }
    let forker = daemon.wait_state("forker", "RUNNING");
    let forks_line = format!("sleep {forks}");
    wait_until(
        "300 grandchildren",
        30,
        || processes_running(&forks_line).len() == 300,
        || format!("{}", processes_running(&forks_line).len()),
    );
    daemon.wait_state("closer", "RUNNING");
    daemon.wait_state("deaf", "RUNNING");
    // A gigabyte through the pipe takes what CPU the machine gives it: wait while the log
    // moves (its size, or a rotation), fail on a stall.
    let log = daemon.logs.join("flood.stdout.log");
    let moved = || {
        [log.clone(), daemon.logs.join("flood.stdout.log.1")]
            .iter()
            .map(|path| {
                fs::metadata(path)
                    .map(|meta| (meta.len(), meta.modified().ok()))
                    .ok()
            })
            .collect::<Vec<_>>()
    };
    wait_while_progressing(
        "the flood to end",
        30,
        moved,
        || daemon.state_of("flood") == "EXITED",
        || format!("{}\n{}", daemon.status("flood"), daemon.log()),
    );
    let flood = daemon.status("flood");
    assert_eq!(flood["last_exit"]["code"], 0, "{flood}");
    // The log of one enormous line: the tail is bounded.
    let (code, body) = daemon.get("/programs/flood/logs?lines=5");
    assert_eq!(code, 200, "{}", body["message"]);
    let (code, _) = daemon.get("/status");
    assert_eq!(code, 200);
    let peak = vm_kib(daemon_pid, "VmHWM");
    let now = vm_kib(daemon_pid, "VmRSS");
    // Sanity bounds: a pipe is spliced into the file, never held in memory; the tail reads at
    // most 4 MiB (TAIL_MAX_BYTES) of a file whatever its lines.
    assert!(
        peak < 96 * 1024,
        "peak RSS {peak} KiB (baseline {baseline} KiB)"
    );
    assert!(now < 64 * 1024, "RSS {now} KiB (baseline {baseline} KiB)");
    // Stopping the forker takes its 300 grandchildren with it (the process group).
    let (code, body) = daemon.post("/programs/forker/stop", None);
    assert_eq!(code, 200, "{body}");
    wait_until(
        "the grandchildren to end",
        30,
        || processes_running(&forks_line).is_empty(),
        || daemon.log(),
    );
    assert!(!alive(pid_in(&forker).expect("pid")));
    eprintln!(
        "figures: misbehaving programs: 300 grandchildren, closed stdout, unread stdin, \
         {gigabytes} GiB without a newline; daemon RSS {baseline} KiB at start, {now} KiB after, \
         peak {peak} KiB"
    );
}

#[test]
fn forks_closed_pipes_and_a_gigabyte_without_newlines_leave_the_daemon_small() {
    misbehaving_programs_leave_the_daemon_small(1);
}

#[test]
#[ignore = "soak: 8 GiB through the log pipe; HOODY_SOAK=1 … -- --include-ignored"]
fn soak_eight_gigabytes_without_newlines_leave_the_daemon_small() {
    misbehaving_programs_leave_the_daemon_small(8);
}

/// SPEC §11: a restart never fails to listen because a child of the dead daemon held its
/// socket. A hundred rounds on one fixed port: the daemon spawns all the time (crash loops at
/// the restart budget), is killed with SIGKILL at a random instant, and is started again at
/// once on the same port; every restart must listen. (Before the fix, a child between clone and
/// exec kept a copy of the listening socket: 2 restarts in 35 failed with "Address already in
/// use" in the issue's runs, 18 in 100 here with twice this churn.)
#[test]
fn a_hundred_kill9_restarts_with_spawning_churn_all_listen() {
    let _storm = crate::support::storm();
    let port = crate::support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut daemon = TestDaemon::start_with(&["--listen", &listen], None);
    let mut random = Random::new("a_hundred_kill9_restarts");
    for index in 0..6 {
        daemon.put(
            &format!("churn{index}.toml"),
            "command = \"sh -c 'exit 1'\"\nboot = true\nstartsecs = 0\nautorestart = true\nstopwaitsecs = 1\n",
        );
    }
    daemon.wait_status("churn0", "restarting", |status| {
        status["restarts"]
            .as_u64()
            .is_some_and(|restarts| restarts > 5)
    });
    let rounds = if soak() { 1000 } else { 100 };
    let mut failures = Vec::new();
    for round in 0..rounds {
        std::thread::sleep(Duration::from_millis(20 + random.below(150)));
        daemon.kill9();
        if let Err(error) = daemon.try_restart() {
            let log = daemon.log();
            let said = log
                .lines()
                .rev()
                .find(|line| line.contains("hoody-daemon:"));
            failures.push(format!("round {round}: {error}: {}", said.unwrap_or("")));
            // Wait until it can listen again, so the next rounds still count.
            let deadline = Instant::now() + Duration::from_secs(30);
            while daemon.try_restart().is_err() {
                assert!(
                    Instant::now() < deadline,
                    "the port stayed taken\n{}",
                    daemon.log()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rounds} restarts did not listen: {failures:?}\n{}",
        failures.len(),
        daemon.log()
    );
    let (code, _) = daemon.get("/health");
    assert_eq!(code, 200);
    eprintln!("figures: {rounds} kill -9 + restart rounds on port {port}, all listened");
}

/// SPEC §11: the API is up at once after a crash. The last run left a program that ignores
/// SIGTERM with `stopwaitsecs = 60`; the next start answers `/health` and `GET /status` while
/// that leftover gets its grace in the background, starts the other programs, answers a start of
/// the held one with 503 and `Retry-After`, and starts it (once) when its leftover is gone.
#[test]
fn after_a_crash_the_api_answers_at_once_while_leftovers_get_their_grace() {
    let mut daemon = TestDaemon::start();
    let stubborn = format!("sleep {}", unique());
    let other = format!("sleep {}", unique());
    daemon.put(
        "stubborn.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"trap '' TERM; exec {stubborn}\"]\nboot = true\nstartsecs = 0\nstopwaitsecs = 60\n"
        ),
    );
    daemon.put(
        "other.toml",
        &format!("command = \"{other}\"\nboot = true\nstartsecs = 0\n"),
    );
    let leftover = pid_in(&daemon.wait_state("stubborn", "RUNNING")).expect("pid");
    let old_other = pid_in(&daemon.wait_state("other", "RUNNING")).expect("pid");
    daemon.kill9();
    assert!(alive(leftover), "the programs outlive the daemon");

    let began = Instant::now();
    daemon.restart();
    let (health, _) = daemon.get("/health");
    let listening = began.elapsed();
    let (code, body) = daemon.get("/status");
    let status_after = began.elapsed();
    assert_eq!((health, code), (200, 200), "{body}");
    // Answered during the leftover's grace, not after it.
    assert!(alive(leftover), "the leftover was not given its grace");
    let held = daemon.status("stubborn");
    assert_eq!(
        held["status"], "STOPPED",
        "held until its leftover is gone: {held}"
    );
    assert_eq!(held["processes"], 1, "the leftover is counted: {held}");
    // A start of it waits: 503 with Retry-After.
    let response = daemon
        .client
        .request("POST", "/api/v1/daemon/programs/stubborn/start", None, &[])
        .expect("start");
    assert_eq!(response.status, 503, "{}", response.json());
    assert_eq!(response.json()["error"]["code"], "recovering");
    let retry: u64 = response
        .header("retry-after")
        .and_then(|value| value.parse().ok())
        .expect("Retry-After");
    assert!((1..=60).contains(&retry), "Retry-After: {retry}");
    // The other program is not held: its leftover ended at once, and it runs again.
    let again = daemon.wait_status("other", "RUNNING again", |status| {
        status["status"] == "RUNNING" && pid_in(status).is_some_and(|pid| pid != old_other)
    });
    assert_eq!(
        processes_running(&other),
        vec![pid_in(&again).expect("pid")]
    );
    assert!(alive(leftover), "still in its grace");
    assert!(
        processes_running(&stubborn) == [leftover],
        "never started twice"
    );

    // The leftover goes (here: killed by the test, as its grace would end in 60 s): the held
    // program starts, once.
    signal(leftover, nix::sys::signal::Signal::SIGKILL);
    let started = daemon.wait_state("stubborn", "RUNNING");
    let pid = pid_in(&started).expect("pid");
    assert_ne!(pid, leftover);
    wait_until(
        "one stubborn",
        30,
        || processes_running(&stubborn) == [pid],
        || format!("{:?}\n{}", processes_running(&stubborn), daemon.log()),
    );
    eprintln!(
        "figures: restart after kill -9 with a 60 s leftover pending: /health {} ms, GET /status {} ms after the start",
        listening.as_millis(),
        status_after.as_millis()
    );
    // The held program ignores SIGTERM: stop it with SIGKILL so the daemon's drop is quick.
    signal(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Writes a file as big as the file system takes: it is full afterwards.
fn fill(folder: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = folder.join("filler");
    let mut file = fs::File::create(&path).expect("filler");
    let block = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&block).is_err() {
            break;
        }
    }
    // The last partial block.
    while file.write_all(&[0u8; 512]).is_ok() {}
    let _ = file.sync_all();
    path
}

fn ids_of(daemon: &TestDaemon) -> BTreeMap<String, u64> {
    statuses(daemon)
        .into_iter()
        .map(|(name, status)| (name, status["id"].as_u64().unwrap_or(0)))
        .collect()
}

fn tmpfs_or_fail<'a>(path: &'a Path, size: &str) -> Tmpfs<'a> {
    assert!(
        is_root(),
        "this test mounts a tmpfs: run it as root (CI does)"
    );
    Tmpfs::mount(path, size).expect("mount a tmpfs (needs CAP_SYS_ADMIN)")
}

/// A daemon whose folder `which` (`state` or `programs.d`) is a small tmpfs, mounted outside
/// the daemon's temporary root and reached through a symlink, so that dropping the daemon (its
/// root removed) never meets a mount point; the mount is dropped after the daemon.
fn daemon_on_tmpfs<'a>(mount_at: &'a Path, which: &str, size: &str) -> (Tmpfs<'a>, TestDaemon) {
    let mount = tmpfs_or_fail(mount_at, size);
    let root = tempfile::tempdir().expect("tempdir");
    std::os::unix::fs::symlink(mount_at, root.path().join(which)).expect("symlink");
    if which != "programs.d" {
        fs::create_dir(root.path().join("programs.d")).expect("programs.d");
    }
    (mount, TestDaemon::start_in(root, &[], None))
}

/// SPEC §11: nothing acknowledged is lost on a full state folder. Every write that cannot save
/// its ids or intents answers 507 and changes nothing; after a kill -9 and a restart on a
/// folder with room again, every acknowledged write is there, no id moved.
#[test]
fn a_full_state_folder_answers_507_and_loses_nothing_after_a_kill9() {
    let holder = tempfile::tempdir().expect("tempdir");
    let state = holder.path().join("state");
    let (mount, mut daemon) = daemon_on_tmpfs(&state, "state", "256k");
    let lines: Vec<String> = (0..3).map(|_| format!("sleep {}", unique())).collect();
    for (index, line) in lines.iter().enumerate() {
        let body =
            json!({ "name": format!("p{index}"), "command": line, "boot": true, "startsecs": 0 });
        let (code, answer) = daemon.post("/programs/add", Some(body));
        assert_eq!(code, 201, "{answer}");
    }
    for index in 0..3 {
        daemon.wait_state(&format!("p{index}"), "RUNNING");
    }
    let (code, answer) = daemon.post("/programs/p1/stop", None);
    assert_eq!(code, 200, "{answer}");
    let ids_before = ids_of(&daemon);

    let filler = fill(&state);
    // A create needs a new id: 507, no file, no program.
    let (code, answer) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "late", "command": "sleep 1", "boot": true })),
    );
    assert_eq!(code, 507, "{answer}");
    assert_eq!(answer["error"]["code"], "insufficient_storage", "{answer}");
    assert!(
        !daemon.programs.join("late.toml").exists(),
        "nothing written"
    );
    assert!(!statuses(&daemon).contains_key("late"));
    // A stop and a start change the intents: 507, nothing changes.
    let (code, answer) = daemon.post("/programs/p0/stop", None);
    assert_eq!(code, 507, "{answer}");
    assert_eq!(
        daemon.state_of("p0"),
        "RUNNING",
        "a refused stop stops nothing"
    );
    let (code, answer) = daemon.post("/programs/p1/start", None);
    assert_eq!(code, 507, "{answer}");
    assert_eq!(
        daemon.state_of("p1"),
        "STOPPED",
        "a refused start starts nothing"
    );
    // Reads still answer.
    let (code, _) = daemon.get("/status");
    assert_eq!(code, 200);

    daemon.kill9();
    fs::remove_file(&filler).expect("make room");
    daemon.restart();
    daemon.wait_state("p0", "RUNNING");
    daemon.wait_state("p2", "RUNNING");
    assert_eq!(
        daemon.state_of("p1"),
        "STOPPED",
        "the acknowledged stop holds"
    );
    assert_eq!(ids_of(&daemon), ids_before, "no id changed");
    for (index, line) in lines.iter().enumerate() {
        let expected = usize::from(index != 1);
        wait_until(
            &format!("{expected} of {line}"),
            30,
            || processes_running(line).len() == expected,
            || daemon.log(),
        );
    }
    eprintln!(
        "figures: full state folder: 3 writes refused with 507, 0 changes, 0 lost after kill -9"
    );
    drop(daemon);
    drop(mount);
}

/// SPEC §11: a full programs.d answers 507 (not 500) and changes nothing; after a kill -9 the
/// files are whole and the programs as acknowledged.
#[test]
fn a_full_programs_folder_answers_507_and_loses_nothing_after_a_kill9() {
    let holder = tempfile::tempdir().expect("tempdir");
    let programs = holder.path().join("programs.d");
    let (mount, mut daemon) = daemon_on_tmpfs(&programs, "programs.d", "256k");
    let line = format!("sleep {}", unique());
    let (code, answer) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "web", "command": line, "boot": true, "startsecs": 0 })),
    );
    assert_eq!(code, 201, "{answer}");
    daemon.wait_state("web", "RUNNING");
    let text = fs::read_to_string(programs.join("web.toml")).expect("web.toml");
    let ids_before = ids_of(&daemon);

    let filler = fill(&programs);
    let (code, answer) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "db", "command": "sleep 1" })),
    );
    assert_eq!(
        (code, &answer["error"]["code"]),
        (507, &json!("insufficient_storage")),
        "{answer}"
    );
    let (code, answer) = daemon.post(
        "/programs/edit/web",
        Some(json!({ "description": "not saved" })),
    );
    assert_eq!(code, 507, "{answer}");
    let (code, answer) = daemon.post("/programs/web/disable", None);
    assert_eq!(code, 507, "{answer}");
    assert_eq!(
        fs::read_to_string(programs.join("web.toml")).expect("read"),
        text
    );
    assert_eq!(daemon.state_of("web"), "RUNNING");

    daemon.kill9();
    fs::remove_file(&filler).expect("make room");
    daemon.restart();
    daemon.wait_state("web", "RUNNING");
    assert_eq!(ids_of(&daemon), ids_before);
    let names: Vec<String> = fs::read_dir(&programs)
        .expect("list")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["web.toml"], "no temp file, no half-written file");
    assert_eq!(
        fs::read_to_string(programs.join("web.toml")).expect("read"),
        text
    );
    wait_until(
        "one web",
        30,
        || processes_running(&line).len() == 1,
        || daemon.log(),
    );
    drop(daemon);
    drop(mount);
}

/// SPEC §11: the temp files of writes a crash interrupted are removed at the next start; only
/// the daemon's own pattern (`.NAME.toml.XXXXXX.tmp`), nothing of anyone else's.
#[test]
fn temp_files_of_interrupted_writes_are_removed_at_start() {
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    let ours = [".web.toml.Ab3dE9.tmp", ".db.yaml.000000.tmp"];
    let theirs = [
        ".web.toml.tmp",
        "notes.tmp",
        ".web.toml.swp",
        ".x.toml.Ab3dE.tmp",
    ];
    for name in ours.iter().chain(&theirs) {
        fs::write(programs.join(name), "command = \"sleep 1\"\n").expect("write");
    }
    let state = root.path().join("state");
    fs::create_dir(&state).expect("state");
    fs::write(state.join(".intents.json.q1W2e3.tmp"), "{").expect("write");
    let daemon = TestDaemon::start_in(root, &[], None);
    for name in ours {
        assert!(!programs.join(name).exists(), "{name} is left");
    }
    for name in theirs {
        assert!(programs.join(name).exists(), "{name} was removed");
    }
    assert!(!state.join(".intents.json.q1W2e3.tmp").exists());
    assert!(daemon.log_contains("removed the temp file of an interrupted write"));
}
