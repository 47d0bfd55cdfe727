//! Issue 4: the daemon's own life — boot in priority waves, shutdown in reverse order, a crash
//! (kill -9) and restart without duplicates, and duty as a container's PID 1.

use crate::support::{TestDaemon, alive, is_root, processes_running, unique, wait_until};
use std::fs;

/// A program that records when it started and when it was stopped, in nanoseconds.
fn recorder(marks: &std::path::Path, name: &str, priority: i32, delay: f64) -> String {
    let marks = marks.display();
    format!(
        "command = [\"sh\", \"-c\", \"date +%s%N > {marks}/{name}.start; trap 'date +%s%N > {marks}/{name}.stop; exit 0' TERM; while true; do sleep 0.05; done\"]\nboot = true\nstartsecs = 0.3\npriority = {priority}\ndelay_seconds = {delay}\nstopwaitsecs = 5\n"
    )
}

fn mark(marks: &std::path::Path, file: &str) -> Option<u128> {
    fs::read_to_string(marks.join(file))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[test]
fn boot_goes_in_priority_waves_and_shutdown_in_reverse() {
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    let marks = root.path().join("marks");
    fs::create_dir(&programs).expect("programs.d");
    fs::create_dir(&marks).expect("marks");
    for (name, priority, delay) in [("db", 1, 1.0), ("cache", 5, 0.0), ("web", 10, 0.0)] {
        fs::write(
            programs.join(format!("{name}.toml")),
            recorder(&marks, name, priority, delay),
        )
        .expect("write");
    }
    let mut daemon = TestDaemon::start_in(root, &[], None);
    for name in ["db", "cache", "web"] {
        daemon.wait_state(name, "RUNNING");
    }
    let start = |name: &str| {
        mark(&marks, &format!("{name}.start"))
            .unwrap_or_else(|| panic!("{name} has no start mark\n{}", daemon.log()))
    };
    let (db, cache, web) = (start("db"), start("cache"), start("web"));
    // cache waits for db to be RUNNING (startsecs 0.3) and then db's delay_seconds (1 s); web
    // waits for cache to be RUNNING (0.3 s). The marks are written a moment after each spawn,
    // so the bounds leave 200 ms for a slow process start on a loaded machine.
    assert!(
        cache >= db + 1_100_000_000,
        "cache started {} ms after db",
        (cache - db) / 1_000_000
    );
    assert!(
        web >= cache + 100_000_000,
        "web started {} ms after cache",
        (web.saturating_sub(cache)) / 1_000_000
    );

    let code = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.log());
    let stop = |name: &str| {
        mark(&marks, &format!("{name}.stop"))
            .unwrap_or_else(|| panic!("{name} has no stop mark\n{}", daemon.log()))
    };
    let (db, cache, web) = (stop("db"), stop("cache"), stop("web"));
    assert!(
        web < cache && cache < db,
        "stops out of order: web {web}, cache {cache}, db {db}"
    );
}

#[test]
fn after_a_crash_the_next_start_leaves_exactly_one_copy() {
    let mut daemon = TestDaemon::start();
    let numbers: Vec<u64> = (0..3).map(|_| unique()).collect();
    for (index, number) in numbers.iter().enumerate() {
        daemon.put(
            &format!("p{index}.toml"),
            &format!("command = \"sleep {number}\"\nboot = true\nstartsecs = 0\n"),
        );
    }
    let mut first_pids = Vec::new();
    for index in 0..3 {
        let status = daemon.wait_state(&format!("p{index}"), "RUNNING");
        first_pids.push(status["pid"].as_u64().expect("pid") as u32);
    }
    daemon.kill9();
    // The programs outlive the daemon, as after any crash.
    assert!(
        first_pids.iter().all(|pid| alive(*pid)),
        "programs died with the daemon"
    );
    daemon.restart();
    for index in 0..3 {
        daemon.wait_state(&format!("p{index}"), "RUNNING");
    }
    for (index, number) in numbers.iter().enumerate() {
        let line = format!("sleep {number}");
        wait_until(
            &format!("one copy of {line}"),
            30,
            || processes_running(&line).len() == 1,
            || format!("{:?}\n{}", processes_running(&line), daemon.log()),
        );
        let pid = daemon.pid_of(&format!("p{index}")).expect("pid");
        assert_eq!(processes_running(&line), vec![pid]);
        assert!(
            !alive(first_pids[index]),
            "the leftover of the crashed run was ended"
        );
    }
}

#[test]
fn an_operators_stop_survives_a_daemon_restart() {
    let mut daemon = TestDaemon::start();
    let number = unique();
    daemon.put(
        "web.toml",
        &format!("command = \"sleep {number}\"\nboot = true\nstartsecs = 0\n"),
    );
    daemon.wait_state("web", "RUNNING");
    let (code, _) = daemon.post("/programs/web/stop", None);
    assert_eq!(code, 200);
    assert_eq!(daemon.terminate(), Some(0));
    daemon.restart();
    let status = daemon.wait_status("web", "known again", |s| s["generation"] == 1);
    assert_eq!(
        status["status"], "STOPPED",
        "the stop intent was kept: {status}"
    );
    assert!(processes_running(&format!("sleep {number}")).is_empty());
}

/// Zombie children of `parent`, from /proc.
fn zombies_of(parent: u32) -> Vec<u32> {
    crate::support::all_pids()
        .into_iter()
        .filter(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let Some((_, rest)) = stat.rsplit_once(')') else {
                    return false;
                };
                let fields: Vec<&str> = rest.split_whitespace().collect();
                fields.first() == Some(&"Z")
                    && fields.get(1).and_then(|ppid| ppid.parse::<u32>().ok()) == Some(parent)
            })
        })
        .collect()
}

/// The pid of the first child of `parent`.
fn child_of(parent: u32) -> Option<u32> {
    let children = fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

#[test]
#[allow(clippy::disallowed_methods)] // starts the binary under test inside a new pid namespace
fn as_pid_1_it_reaps_orphans_and_stops_cleanly() {
    if !is_root() {
        eprintln!("skipped: running the daemon as PID 1 (unshare --pid) needs root");
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    let number = unique();
    // Every second it leaves an orphan that exits at once: PID 1 must reap each one.
    fs::write(
        programs.join("orphans.toml"),
        "command = [\"sh\", \"-c\", \"while true; do sh -c 'sleep 0.01 &'; sleep 0.2; done\"]\nboot = true\nstartsecs = 0\n",
    )
    .expect("write");
    fs::write(
        programs.join("steady.toml"),
        format!("command = \"sleep {number}\"\nboot = true\nstartsecs = 0\n"),
    )
    .expect("write");
    let state = root.path().join("state");
    let log = fs::File::create(root.path().join("daemon.log")).expect("log");
    let mut unshare = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .arg(crate::support::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--programs-dir"])
        .arg(&programs)
        .arg("--state-dir")
        .arg(&state)
        .arg("--log-dir")
        .arg(root.path().join("logs"))
        .stderr(log)
        .spawn()
        .expect("unshare");
    let read_log = || fs::read_to_string(root.path().join("daemon.log")).unwrap_or_default();
    let mut daemon_pid = None;
    wait_until(
        "the daemon inside the namespace",
        20,
        || {
            daemon_pid = child_of(unshare.id());
            daemon_pid.is_some() && fs::read_to_string(state.join("api.address")).is_ok()
        },
        read_log,
    );
    let daemon_pid = daemon_pid.expect("daemon pid");
    wait_until(
        "the steady program",
        20,
        || processes_running(&format!("sleep {number}")).len() == 1,
        read_log,
    );
    // Over a second of orphans, none stays a zombie for long.
    let mut seen_clean = 0;
    wait_until(
        "orphans reaped",
        20,
        || {
            if zombies_of(daemon_pid).is_empty() {
                seen_clean += 1;
            }
            seen_clean >= 10
        },
        read_log,
    );
    crate::support::signal(daemon_pid, nix::sys::signal::Signal::SIGTERM);
    let mut status = None;
    wait_until(
        "unshare to end",
        30,
        || {
            status = unshare.try_wait().ok().flatten();
            status.is_some()
        },
        read_log,
    );
    assert_eq!(status.and_then(|s| s.code()), Some(0), "{}", read_log());
    assert!(processes_running(&format!("sleep {number}")).is_empty());
    assert!(
        read_log().contains("hoody-daemon stopped"),
        "{}",
        read_log()
    );
}

#[test]
fn a_second_signal_forces_the_shutdown() {
    let mut daemon = TestDaemon::start();
    let number = unique();
    // It ignores SIGTERM and has a long grace: only the forced shutdown ends it soon.
    daemon.put(
        "stubborn.toml",
        &format!("command = [\"sh\", \"-c\", \"trap '' TERM; echo ready; exec sleep {number}\"]\nboot = true\nstartsecs = 0\nstopwaitsecs = 3600\n"),
    );
    let pid = daemon.wait_state("stubborn", "RUNNING")["pid"]
        .as_u64()
        .expect("pid") as u32;
    // The trap must be in place before the first signal, or TERM ends it at once.
    wait_until(
        "the program to ignore TERM",
        30,
        || {
            daemon.get("/programs/stubborn/logs?stream=stdout").1["data"]["stdout"]
                .as_str()
                .is_some_and(|text| text.contains("ready"))
        },
        || daemon.log(),
    );
    let daemon_pid = daemon.pid().expect("daemon pid");
    crate::support::signal(daemon_pid, nix::sys::signal::Signal::SIGTERM);
    daemon.wait_state("stubborn", "STOPPING");
    assert!(alive(pid), "the first signal only asks");
    let code = daemon.terminate();
    assert_eq!(code, Some(1), "a forced shutdown exits 1\n{}", daemon.log());
    wait_until(
        "the stubborn process to be killed",
        10,
        || !alive(pid),
        || daemon.log(),
    );
}
