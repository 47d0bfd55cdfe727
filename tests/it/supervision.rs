//! Issue 13, SPEC §11: supervision that nothing escapes. A program's descendants that left its
//! process group (`setsid`, a double fork), that ignore SIGTERM, or that outlive their main
//! process are ended with the program: by a stop, by its main process's exit, by a crash-loop
//! restart and by the daemon's own SIGTERM. Each case runs twice: with a cgroup per program
//! (root, with a writable cgroup v2 hierarchy, as here and in CI) and with the fallback forced
//! (`serve --no-cgroups`: marks in the environment, the daemon a subreaper).
//!
//! Also here: `processes` in status, the "does it daemonize?" `last_error`, and one daemon per
//! socket and per programs.d.

#![allow(clippy::disallowed_methods)] // a second daemon is started by hand

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    TestDaemon, alive, binary, cmdline, processes_running, signal, unique, wait_until,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mechanism {
    Cgroups,
    Marks,
}

fn daemon(mechanism: Mechanism) -> TestDaemon {
    match mechanism {
        Mechanism::Cgroups => TestDaemon::start(),
        Mechanism::Marks => TestDaemon::start_with(&["--no-cgroups"], None),
    }
}

/// A program whose main process starts a grandchild that leaves its process group (`setsid`)
/// and ignores SIGTERM, which appends its pid to `pids` and sleeps `seconds` (a number unique
/// to the test, to find it in /proc). Then the main process:
/// - `run N`: runs `sleep N` in the foreground (it dies on SIGTERM);
/// - `exit S CODE`: exits with CODE after S seconds;
/// - `daemonize`: an nginx-style daemon: the grandchild is double-forked (its parent exits at
///   once, so it is re-parented), and the main process exits 0 once it runs.
fn escaper(root: &Path) -> PathBuf {
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|folder| folder.join("setsid").is_file())
    });
    assert!(
        found,
        "these tests need util-linux's setsid on PATH (.ci/run installs it)"
    );
    let script = root.join("escape.sh");
    fs::write(
        &script,
        r#"pids=$1; seconds=$2; shift 2
grandchild='trap "" TERM; echo $$ >> "$0"; exec sleep "$1"'
case $1 in
  daemonize)
    before=$(cat "$pids" 2>/dev/null | wc -l)
    ( setsid sh -c "$grandchild" "$pids" "$seconds" & )
    while [ "$(cat "$pids" 2>/dev/null | wc -l)" -le "$before" ]; do sleep 0.01; done
    exit 0 ;;
  run)
    setsid sh -c "$grandchild" "$pids" "$seconds" &
    exec sleep "$2" ;;
  exit)
    setsid sh -c "$grandchild" "$pids" "$seconds" &
    sleep "$2"; exit "$3" ;;
  exit-when)
    setsid sh -c "$grandchild" "$pids" "$seconds" &
    while [ ! -e "$2" ]; do sleep 0.02; done; exit "$3" ;;
esac
"#,
    )
    .expect("write the script");
    script
}

/// The program file of an [`escaper`] run `mode`, with more fields.
fn escaper_program(
    daemon: &TestDaemon,
    pids: &Path,
    seconds: u64,
    mode: &str,
    fields: &str,
) -> String {
    let script = escaper(daemon.root.path());
    let mode: Vec<String> = mode.split(' ').map(|word| format!("{word:?}")).collect();
    format!(
        "command = [\"sh\", {script:?}, {pids:?}, \"{seconds}\", {}]\nboot = true\n{fields}\n",
        mode.join(", "),
        script = script.display().to_string(),
        pids = pids.display().to_string(),
    )
}

fn pids_in(file: &Path) -> Vec<u32> {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.trim().parse().ok())
        .collect()
}

/// The process runs where the mechanism says: in the program's own cgroup of the daemon's tree,
/// or (fallback) in no cgroup of the daemon's, with the program's mark.
fn assert_contained(daemon: &TestDaemon, pid: u32, program: &str, mechanism: Mechanism) {
    let cgroup = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    let own = cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
        .unwrap_or("")
        .to_string();
    let environ = fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    let marked = environ
        .split(|byte| *byte == 0)
        .any(|variable| variable == format!("HOODY_DAEMON_PROGRAM={program}").as_bytes());
    assert!(marked, "{pid} carries the program mark");
    match mechanism {
        Mechanism::Cgroups => {
            let tree = fs::read_to_string(daemon.state.join("cgroup")).unwrap_or_else(|_| {
                panic!(
                    "the daemon made no cgroup tree: these tests need root and a writable cgroup v2 hierarchy\n{}",
                    daemon.log()
                )
            });
            let tree_name = Path::new(tree.trim())
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            assert!(
                own.ends_with(&format!("/{tree_name}/{program}.program")),
                "{pid} is in {own:?}, not in {program}'s cgroup of {tree:?}"
            );
        }
        Mechanism::Marks => {
            assert!(
                !own.contains("/hoody-"),
                "--no-cgroups, yet {pid} is in {own:?}"
            );
            assert!(!daemon.state.join("cgroup").exists(), "no tree recorded");
        }
    }
}

fn wait_gone(daemon: &TestDaemon, what: &str, pids: &[u32]) {
    wait_until(
        what,
        30,
        || pids.iter().all(|pid| !alive(*pid)),
        || {
            let left: Vec<&u32> = pids.iter().filter(|pid| alive(**pid)).collect();
            format!("still alive: {left:?}\n{}", daemon.log())
        },
    );
}

fn stop_ends_a_setsid_grandchild(mechanism: Mechanism) {
    let daemon = daemon(mechanism);
    let pids = daemon.root.path().join("web.pids");
    let seconds = unique();
    let main_seconds = unique();
    daemon.put(
        "web.toml",
        &escaper_program(
            &daemon,
            &pids,
            seconds,
            &format!("run {main_seconds}"),
            "startsecs = 0\nstopwaitsecs = 2",
        ),
    );
    let status = daemon.wait_status("web", "RUNNING with its grandchild", |status| {
        status["status"] == "RUNNING" && status["processes"] == 2
    });
    wait_until(
        "the grandchild's pid",
        30,
        || pids_in(&pids).len() == 1,
        || daemon.log(),
    );
    let grandchild = pids_in(&pids)[0];
    // It writes its pid, then execs its sleep: /proc is read once it has (settled).
    wait_until(
        "the grandchild to exec its sleep",
        30,
        || processes_running(&format!("sleep {seconds}")) == [grandchild],
        || {
            format!(
                "running: {:?}, grandchild {grandchild}: {:?}\n{}",
                processes_running(&format!("sleep {seconds}")),
                cmdline(grandchild),
                daemon.log()
            )
        },
    );
    let main = status["pid"].as_u64().expect("pid") as u32;
    // Its /proc is read once it has exec'd its sleep (settled, not mid-exec).
    wait_until(
        "the main process to exec its sleep",
        30,
        || cmdline(main) == format!("sleep {main_seconds}"),
        || daemon.log(),
    );
    assert_contained(&daemon, main, "web", mechanism);
    assert_contained(&daemon, grandchild, "web", mechanism);

    let (code, body) = daemon.post("/programs/web/stop", None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["status"]["status"], "STOPPED", "{body}");
    wait_gone(
        &daemon,
        "the setsid'd, TERM-ignoring grandchild ended by the stop",
        &[grandchild],
    );
    let stopped = daemon.status("web");
    assert_eq!(stopped["processes"], 0, "{stopped}");
    assert!(
        stopped["last_error"].is_null(),
        "a stop is no error: {stopped}"
    );
}

#[test]
fn stop_ends_a_setsid_grandchild_with_cgroups() {
    stop_ends_a_setsid_grandchild(Mechanism::Cgroups);
}

#[test]
fn stop_ends_a_setsid_grandchild_with_the_fallback() {
    stop_ends_a_setsid_grandchild(Mechanism::Marks);
}

fn a_main_exit_ends_what_it_left(mechanism: Mechanism) {
    let daemon = daemon(mechanism);
    let pids = daemon.root.path().join("job.pids");
    let seconds = unique();
    // The main process exits (code 3) once the test has looked at the grandchild: with a fixed
    // half second, a loaded machine let it exit first, and the grandchild was gone (its
    // environ empty) when the test read it.
    let go = daemon.root.path().join("job.go");
    daemon.put(
        "job.toml",
        &escaper_program(
            &daemon,
            &pids,
            seconds,
            &format!("exit-when {} 3", go.display()),
            "startsecs = 0\nautorestart = false",
        ),
    );
    wait_until(
        "the grandchild's pid",
        30,
        || pids_in(&pids).len() == 1,
        || daemon.log(),
    );
    let grandchild = pids_in(&pids)[0];
    // Read its /proc only once it has exec'd its sleep (settled, not mid-exec).
    wait_until(
        "the grandchild to exec its sleep",
        30,
        || cmdline(grandchild) == format!("sleep {seconds}"),
        || daemon.log(),
    );
    assert_contained(&daemon, grandchild, "job", mechanism);
    fs::write(&go, "").expect("let the main process exit");
    let exited = daemon.wait_state("job", "EXITED");
    wait_gone(
        &daemon,
        "the grandchild ended with its program's exit",
        &[grandchild],
    );
    let error = exited["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("left 1 process; does it daemonize? run it in the foreground"),
        "{exited}"
    );
    assert_eq!(exited["last_exit"]["code"], 3, "{exited}");
    assert_eq!(daemon.status("job")["processes"], 0);
}

#[test]
fn a_main_exit_ends_what_it_left_with_cgroups() {
    a_main_exit_ends_what_it_left(Mechanism::Cgroups);
}

#[test]
fn a_main_exit_ends_what_it_left_with_the_fallback() {
    a_main_exit_ends_what_it_left(Mechanism::Marks);
}

fn crash_loop_restarts_leak_nothing(mechanism: Mechanism) {
    let daemon = daemon(mechanism);
    let pids = daemon.root.path().join("loop.pids");
    let seconds = unique();
    daemon.put(
        "loop.toml",
        &escaper_program(
            &daemon,
            &pids,
            seconds,
            "exit 0.2 1",
            "startsecs = 0\nautorestart = true",
        ),
    );
    daemon.wait_status("loop", "five restarts", |status| {
        status["restarts"]
            .as_u64()
            .is_some_and(|restarts| restarts >= 5)
    });
    wait_until(
        "five grandchildren started",
        30,
        || pids_in(&pids).len() >= 5,
        || daemon.log(),
    );
    // Every run's grandchild but the newest is gone (each went with its run's exit).
    let started = pids_in(&pids);
    let (newest, older) = started.split_last().expect("pids");
    wait_gone(&daemon, "the grandchildren of earlier runs ended", older);
    let (code, body) = daemon.post("/programs/loop/stop", None);
    assert_eq!(code, 200, "{body}");
    let mut all = pids_in(&pids);
    all.push(*newest);
    wait_gone(&daemon, "every grandchild ended", &all);
    assert!(processes_running(&format!("sleep {seconds}")).is_empty());
    eprintln!(
        "figures: crash loop ({mechanism:?}): {} restarts, {} grandchildren started, 0 left",
        daemon.status("loop")["restarts"],
        all.len() - 1
    );
}

#[test]
fn crash_loop_restarts_leak_nothing_with_cgroups() {
    crash_loop_restarts_leak_nothing(Mechanism::Cgroups);
}

#[test]
fn crash_loop_restarts_leak_nothing_with_the_fallback() {
    crash_loop_restarts_leak_nothing(Mechanism::Marks);
}

fn the_daemons_sigterm_ends_everything(mechanism: Mechanism) {
    let mut daemon = daemon(mechanism);
    let seconds = unique();
    let mut pid_files = Vec::new();
    // One of each: the default; a main process that exits and, with killasgroup = false,
    // leaves its grandchild running; one that stays and has the same setting.
    for (name, mode, fields) in [
        ("plain", format!("run {}", unique()), "startsecs = 0"),
        (
            "leaver",
            "exit 0.2 0".to_string(),
            "startsecs = 0\nautorestart = false\nkillasgroup = false",
        ),
        (
            "keeper",
            format!("run {}", unique()),
            "startsecs = 0\nkillasgroup = false",
        ),
    ] {
        let pids = daemon.root.path().join(format!("{name}.pids"));
        daemon.put(
            &format!("{name}.toml"),
            &escaper_program(&daemon, &pids, seconds, &mode, fields),
        );
        pid_files.push(pids);
    }
    for pids in &pid_files {
        wait_until(
            "a grandchild",
            30,
            || pids_in(pids).len() == 1,
            || daemon.log(),
        );
    }
    let leaver = daemon.wait_state("leaver", "EXITED");
    assert!(
        leaver["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("left 1 process") && error.contains("keep running")),
        "{leaver}"
    );
    assert_eq!(
        leaver["processes"], 1,
        "its grandchild is still counted: {leaver}"
    );
    daemon.wait_status("keeper", "RUNNING", |status| status["status"] == "RUNNING");
    let grandchildren: Vec<u32> = pid_files.iter().flat_map(|pids| pids_in(pids)).collect();
    // A grandchild's pid is written by the shell that forked it, maybe before it has exec'd
    // `sleep`: wait for the three to be sleeping.
    wait_until(
        "three grandchildren sleeping",
        30,
        || processes_running(&format!("sleep {seconds}")).len() == 3,
        || daemon.log(),
    );

    let code = daemon.terminate();
    assert_eq!(code, Some(0), "{}", daemon.log());
    // Gone when the daemon has exited, not some time later.
    let left: Vec<&u32> = grandchildren.iter().filter(|pid| alive(**pid)).collect();
    assert!(
        left.is_empty(),
        "left after the daemon's exit: {left:?}\n{}",
        daemon.log()
    );
    if mechanism == Mechanism::Cgroups {
        let tree = daemon.root.path().join("state/cgroup");
        assert!(!tree.exists(), "the tree's record is removed at exit");
        assert!(
            !daemon.log_contains("cgroups still populated"),
            "{}",
            daemon.log()
        );
    }
}

#[test]
fn the_daemons_sigterm_ends_everything_with_cgroups() {
    the_daemons_sigterm_ends_everything(Mechanism::Cgroups);
}

#[test]
fn the_daemons_sigterm_ends_everything_with_the_fallback() {
    the_daemons_sigterm_ends_everything(Mechanism::Marks);
}

/// The most common mistake under any supervisor: nginx without `daemon off;`. The main process
/// double-forks the server and exits 0 at once; with the defaults (startsecs = 1) that is an
/// exit too quickly, retried, then FATAL. Each attempt's server is ended, and `last_error` says
/// why it looks like a crash.
fn a_daemonizing_program_ends_with_nothing_left(mechanism: Mechanism) {
    let daemon = daemon(mechanism);
    let pids = daemon.root.path().join("nginx.pids");
    let seconds = unique();
    daemon.put(
        "nginx.toml",
        &escaper_program(&daemon, &pids, seconds, "daemonize", "startretries = 1"),
    );
    let fatal = daemon.wait_state("nginx", "FATAL");
    let error = fatal["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("exited too quickly")
            && error.contains("does it daemonize? run it in the foreground"),
        "{fatal}"
    );
    let started = pids_in(&pids);
    assert_eq!(started.len(), 2, "one server per attempt: {started:?}");
    wait_gone(&daemon, "every server it forked ended", &started);
    assert!(processes_running(&format!("sleep {seconds}")).is_empty());
    assert_eq!(daemon.status("nginx")["processes"], 0);
    eprintln!("figures: daemonizing program ({mechanism:?}): last_error = {error:?}");
}

#[test]
fn a_daemonizing_program_ends_with_nothing_left_with_cgroups() {
    a_daemonizing_program_ends_with_nothing_left(Mechanism::Cgroups);
}

#[test]
fn a_daemonizing_program_ends_with_nothing_left_with_the_fallback() {
    a_daemonizing_program_ends_with_nothing_left(Mechanism::Marks);
}

// ---- one daemon per socket and per programs.d ------------------------------------------------

/// Runs `hoody-daemon serve ARGS` to its end (at most 20 s, else it is killed by pid and the
/// test fails); returns its exit code, its stderr and how long it ran.
fn second_daemon(args: &[&str]) -> (Option<i32>, String, Duration) {
    let root = tempfile::tempdir().expect("tempdir");
    let stderr_path = root.path().join("stderr");
    let stderr = fs::File::create(&stderr_path).expect("stderr file");
    let began = Instant::now();
    let mut child = Command::new(binary())
        .arg("serve")
        .args(args)
        .env_remove("HOODY_DAEMON_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("start a second daemon");
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if began.elapsed() > Duration::from_secs(20) {
            signal(child.id(), nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "a second daemon ran for 20 s: {}",
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = began.elapsed();
    (
        code,
        fs::read_to_string(&stderr_path).unwrap_or_default(),
        elapsed,
    )
}

fn health(daemon: &TestDaemon) -> u16 {
    daemon.get("/health").0
}

#[test]
fn a_second_daemon_on_the_same_unix_socket_is_refused_and_the_first_stays_reachable() {
    let root = tempfile::tempdir().expect("tempdir");
    fs::create_dir(root.path().join("programs.d")).expect("programs.d");
    let socket = root.path().join("api.sock");
    let listen = format!("unix:{}", socket.display());
    let first = TestDaemon::start_in(root, &["--listen", &listen], None);
    assert_eq!(health(&first), 200);
    let other = tempfile::tempdir().expect("tempdir");
    let other_programs = other.path().join("programs.d");
    fs::create_dir(&other_programs).expect("programs.d");
    let (code, stderr, elapsed) = second_daemon(&[
        "--programs-dir",
        &other_programs.to_string_lossy(),
        "--listen",
        &listen,
    ]);
    assert_ne!(code, Some(0), "{stderr}");
    let first_pid = first.pid().expect("pid");
    assert!(
        stderr.contains(&format!("pid {first_pid}")) && stderr.contains("listening on"),
        "the refusal names the first daemon: {stderr}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "refused after {elapsed:?}"
    );
    assert!(socket.exists(), "the first daemon's socket was unlinked");
    assert_eq!(health(&first), 200, "the first daemon is unreachable");
    // Its own state folder, beside its programs.d, is released: no cgroup left either.
    crate::support::remove_cgroups(&other.path().join(".hoody-daemon/state"));
}

#[test]
fn a_second_daemon_on_the_same_programs_folder_is_refused_and_nothing_runs_twice() {
    let first = TestDaemon::start();
    let line = format!("sleep {}", unique());
    first.put(
        "only.toml",
        &format!("command = \"{line}\"\nboot = true\nstartsecs = 0\n"),
    );
    first.wait_state("only", "RUNNING");
    let other_state = first.root.path().join("other-state");
    let (code, stderr, elapsed) = second_daemon(&[
        "--programs-dir",
        &first.programs.to_string_lossy(),
        "--state-dir",
        &other_state.to_string_lossy(),
        "--log-dir",
        &first.root.path().join("other-logs").to_string_lossy(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, Some(0), "{stderr}");
    let first_pid = first.pid().expect("pid");
    assert!(
        stderr.contains(&format!("pid {first_pid}")) && stderr.contains("programs folder"),
        "the refusal names the first daemon: {stderr}"
    );
    assert!(
        elapsed < Duration::from_secs(10),
        "refused after {elapsed:?}"
    );
    assert_eq!(processes_running(&line).len(), 1, "the program ran twice");
    assert_eq!(health(&first), 200);
    assert_eq!(first.state_of("only"), "RUNNING");
    crate::support::remove_cgroups(&other_state);
}

#[test]
fn a_second_daemon_on_the_same_state_folder_names_the_first() {
    let first = TestDaemon::start();
    let other = tempfile::tempdir().expect("tempdir");
    let other_programs = other.path().join("programs.d");
    fs::create_dir(&other_programs).expect("programs.d");
    let (code, stderr, _) = second_daemon(&[
        "--programs-dir",
        &other_programs.to_string_lossy(),
        "--state-dir",
        &first.state.to_string_lossy(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_ne!(code, Some(0), "{stderr}");
    let first_pid = first.pid().expect("pid");
    assert!(
        stderr.contains(&format!("pid {first_pid}")) && stderr.contains("state folder"),
        "{stderr}"
    );
    // Said at once, before the wait: the first line of its log names the holder.
    let first_line = stderr
        .lines()
        .find(|line| line.contains("pid "))
        .unwrap_or_default();
    assert!(first_line.contains("waiting up to"), "{stderr}");
    assert_eq!(health(&first), 200);
}

/// `processes` counts a program's live processes, on request.
#[test]
fn status_counts_every_process_of_a_program() {
    let daemon = TestDaemon::start();
    let line = format!("sleep {}", unique());
    daemon.put(
        "forks.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"{line} & {line} & setsid {line} & exec {line}\"]\nboot = true\nstartsecs = 0\n"
        ),
    );
    // The four are counted as soon as they are forked; their command lines are `sleep` once each
    // has exec'd: wait for both.
    wait_until(
        "four sleeps running",
        30,
        || processes_running(&line).len() == 4,
        || daemon.log(),
    );
    let status = daemon.wait_status("forks", "four processes", |status| status["processes"] == 4);
    assert_eq!(processes_running(&line).len(), 4, "{status}");
    let (_, all) = daemon.get("/status");
    let listed: Vec<&Value> = all["data"]["statuses"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|status| status["name"] == "forks")
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(listed[0]["processes"], 4, "{all}");
}

/// The daemon takes SIGCHLD from a signalfd, so it keeps SIGCHLD blocked in every thread; its
/// programs must not inherit that mask (a blocked SIGCHLD breaks any program that waits for its
/// own children by the signal: a shell's traps, nginx's master).
#[test]
fn programs_start_with_no_signal_blocked_though_the_daemon_blocks_sigchld() {
    let status_field = |pid: u32, name: &str| -> u64 {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let line = status
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in {status}"));
        u64::from_str_radix(line.split_whitespace().nth(1).expect("a mask"), 16).expect("hex")
    };
    let daemon = TestDaemon::start();
    let daemon_pid = daemon.pid().expect("the daemon's pid");
    let sigchld = 1u64 << (libc::SIGCHLD - 1);
    assert_ne!(
        status_field(daemon_pid, "SigBlk:") & sigchld,
        0,
        "the daemon does not block SIGCHLD: this test would show nothing"
    );
    daemon.put(
        "plain.toml",
        "command = [\"sleep\", \"1000\"]\nboot = true\nstartsecs = 0\n",
    );
    daemon.wait_state("plain", "RUNNING");
    let pid = daemon.pid_of("plain").expect("a pid");
    // The mask is the one `sleep` was given once it has exec'd.
    wait_until(
        "the program exec'd its sleep",
        30,
        || crate::support::cmdline(pid).starts_with("sleep"),
        || daemon.log(),
    );
    assert_eq!(status_field(pid, "SigBlk:"), 0);
    assert_eq!(status_field(pid, "SigIgn:") & 0x7fff_ffff, 0);
}
