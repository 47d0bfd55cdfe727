//! The supervisor with real processes: no mocks. These live in the library's unit-test binary
//! rather than in `tests/it` because the supervisor reaps with `waitid(P_ALL)`, which would
//! steal the children of any `std::process::Command` that other integration tests run in the
//! same process. Several supervisors run on parallel test threads here; the process-wide child
//! table keeps their children apart.
//!
//! Every wait is [`Harness::wait_for`]: it drives the supervisor the way the daemon's loop does
//! (SIGCHLD or the next deadline) and polls the condition, with a deadline; on failure it prints
//! the statuses and every state change seen. Every process a test starts is SIGKILLed by pid
//! when the harness is dropped, even when the test fails.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::sys::wait::waitpid;
use nix::unistd::{Pid, User, geteuid};
use tokio::signal::unix::{Signal as SignalStream, SignalKind, signal};

use super::*;
use crate::spec::{Format, SystemUsers, UserSpec};

/// How often conditions on files are looked at; process events wake the loop at once.
const POLL: Duration = Duration::from_millis(20);
const TIMEOUT: Duration = Duration::from_secs(20);

struct Harness {
    supervisor: Supervisor,
    sigchld: SignalStream,
    /// Every state change, with when the loop saw it.
    changes: Vec<(Instant, StateChange)>,
    folder: tempfile::TempDir,
    /// Other processes the test knows of (grandchildren), with their start time, to kill.
    others: Vec<(u32, u64)>,
    /// Every pid the supervisor ran, to kill on drop.
    pids: BTreeSet<u32>,
}

impl Harness {
    fn new() -> Harness {
        become_subreaper().unwrap();
        // Before the first spawn, so no SIGCHLD is missed.
        let sigchld = signal(SignalKind::child()).unwrap();
        let folder = tempfile::tempdir().unwrap();
        // Readable by another user (the `user = "nobody"` test works in here).
        fs::set_permissions(folder.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let supervisor = Supervisor::new(SupervisorConfig {
            log_dir: folder.path().join("logs"),
            marks: None,
            cgroups: None,
            logs: Default::default(),
            health: None,
            notify_dir: None,
        });
        Harness {
            supervisor,
            sigchld,
            changes: Vec::new(),
            folder,
            others: Vec::new(),
            pids: BTreeSet::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.folder.path().join(name)
    }

    fn log(&self, name: &str, stream: Stream) -> PathBuf {
        self.path("logs")
            .join(format!("{name}.{}.log", stream.as_str()))
    }

    fn read(&self, path: &Path) -> String {
        fs::read_to_string(path).unwrap_or_default()
    }

    /// A program running `sh -c script`, with more TOML fields.
    fn spec(&self, name: &str, script: &str, fields: &str) -> Arc<ProgramSpec> {
        let script = toml::Value::from(script).to_string();
        let text = format!("command = [\"sh\", \"-c\", {script}]\n{fields}\n");
        let spec = ProgramSpec::from_text(name, Format::Toml, &text, &SystemUsers)
            .unwrap_or_else(|problems| panic!("bad test spec {text}: {problems:?}"));
        Arc::new(spec)
    }

    fn record(&mut self, now: Instant, changes: Vec<StateChange>) {
        for change in changes {
            self.changes.push((now, change));
        }
        for status in self.supervisor.statuses(now) {
            self.pids.extend(status.pid);
        }
    }

    fn start(&mut self, spec: Arc<ProgramSpec>) {
        let now = Instant::now();
        let changes = self.supervisor.start(spec, now);
        self.record(now, changes);
    }

    fn restart(&mut self, spec: Arc<ProgramSpec>) {
        let now = Instant::now();
        let changes = self.supervisor.restart(spec, now);
        self.record(now, changes);
    }

    /// The lines of a file.
    fn lines(&self, path: &Path) -> Vec<String> {
        self.read(path).lines().map(String::from).collect()
    }

    /// Whether the supervisor still feeds this log through a pipe.
    fn captures(&self, path: &Path) -> bool {
        self.supervisor.context.is_fed(path)
    }

    fn stop(&mut self, name: &str) -> Instant {
        let now = Instant::now();
        let changes = self.supervisor.stop(name, now);
        self.record(now, changes);
        now
    }

    fn status(&self, name: &str) -> JobStatus {
        self.supervisor
            .status(name, Instant::now())
            .unwrap_or_else(|| panic!("no job {name}"))
    }

    fn state(&self, name: &str) -> ProcessState {
        self.status(name).state
    }

    /// The (from, to) pairs of one job, in order.
    fn transitions(&self, name: &str) -> Vec<(ProcessState, ProcessState)> {
        self.changes_of(name)
            .map(|(_, change)| (change.from, change.to))
            .collect()
    }

    fn changes_of<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = &'a (Instant, StateChange)> + 'a {
        self.changes
            .iter()
            .filter(move |(_, change)| change.name == name)
    }

    /// Drives the supervisor as the daemon's loop does until `done` holds, or fails the test.
    async fn wait_for(&mut self, what: &str, done: impl FnMut(&Harness) -> bool) {
        self.wait_while_progressing(what, |_| 0, done).await;
    }

    /// [`Harness::wait_for`] for work whose length depends on how much CPU a loaded machine
    /// gives it (a gigabyte through a pipe): the deadline is on progress, not on the whole
    /// wait. It fails when `progress` (a count that grows with the work) has not grown for
    /// [`TIMEOUT`], a stall; slow but steady work is waited for.
    async fn wait_while_progressing(
        &mut self,
        what: &str,
        mut progress: impl FnMut(&Harness) -> u64,
        mut done: impl FnMut(&Harness) -> bool,
    ) {
        let mut limit = Instant::now() + TIMEOUT;
        let mut seen = progress(self);
        loop {
            let now = Instant::now();
            let reaped = self.supervisor.reap(now);
            self.record(now, reaped);
            let due = self.supervisor.on_deadline(now);
            self.record(now, due);
            if done(self) {
                return;
            }
            let made = progress(self);
            if made > seen {
                seen = made;
                limit = now + TIMEOUT;
            }
            if now >= limit {
                let statuses: Vec<JobStatus> = self.supervisor.statuses(now).collect();
                let changes: Vec<&StateChange> =
                    self.changes.iter().map(|(_, change)| change).collect();
                panic!(
                    "timed out waiting for {what}\nstatuses: {statuses:#?}\nchanges: {changes:#?}"
                );
            }
            let mut wake = limit.min(now + POLL);
            if let Some(deadline) = self.supervisor.next_deadline() {
                wake = wake.min(deadline);
            }
            tokio::select! {
                _ = self.sigchld.recv() => {}
                _ = tokio::time::sleep_until(wake.into()) => {}
            }
        }
    }

    /// Remembers a process the test did not start directly, to kill it on drop.
    fn adopt(&mut self, pid: u32) -> u64 {
        let start = process_start_time(pid).unwrap_or(0);
        self.others.push((pid, start));
        start
    }

    /// Pids written one per line into a file by a test program.
    fn pids_in(&self, file: &str) -> Vec<u32> {
        self.read(&self.path(file))
            .lines()
            .filter_map(|line| line.trim().parse().ok())
            .collect()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let now = Instant::now();
        let live: Vec<u32> = self
            .supervisor
            .statuses(now)
            .filter_map(|status| status.pid)
            .collect();
        for pid in &live {
            let pid = Pid::from_raw(*pid as i32);
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = kill(pid, Signal::SIGKILL);
        }
        for (pid, start) in &self.others {
            if alive(*pid, *start) {
                let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
            }
        }
        // Reap our own; ECHILD if another test's reaper got there first.
        for pid in live {
            let _ = waitpid(Pid::from_raw(pid as i32), None);
        }
    }
}

/// The process `pid` that started at `start` still exists and is not a zombie.
fn alive(pid: u32, start: u64) -> bool {
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|end| stat[end + 1..].split_whitespace().next());
    process_start_time(pid) == Some(start) && state != Some("Z")
}

/// The process `pid` that started at `start` is gone entirely: neither running nor a zombie.
/// Whether the process is blocked in `nanosleep`/`clock_nanosleep` (`/proc/PID/syscall`): a
/// `sleep` there has finished its own start, so what /proc shows of it is what it was given.
fn settled_in_sleep(pid: u32) -> bool {
    let text = fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let number: Option<i64> = text.split_whitespace().next().and_then(|n| n.parse().ok());
    number
        .is_some_and(|number| number == libc::SYS_clock_nanosleep || number == libc::SYS_nanosleep)
}

fn gone(pid: u32, start: u64) -> bool {
    process_start_time(pid) != Some(start)
}

/// User + system CPU time of this whole process.
fn cpu_time() -> Duration {
    use nix::sys::resource::{UsageWho, getrusage};
    let usage = getrusage(UsageWho::RUSAGE_SELF).unwrap();
    let time = |value: nix::sys::time::TimeVal| {
        Duration::new(value.tv_sec() as u64, value.tv_usec() as u32 * 1000)
    };
    time(usage.user_time()) + time(usage.system_time())
}

fn is_root() -> bool {
    geteuid().is_root()
}

#[tokio::test(flavor = "current_thread")]
async fn exit_before_startsecs_backs_off_1_2_seconds_then_is_fatal() {
    let mut harness = Harness::new();
    let spec = harness.spec("crasher", "exit 3", "startsecs = 1\nstartretries = 2");
    harness.start(spec);
    harness
        .wait_for("FATAL", |harness| {
            harness.state("crasher") == ProcessState::Fatal
        })
        .await;

    use ProcessState::*;
    assert_eq!(
        harness.transitions("crasher"),
        [
            (Stopped, Starting),
            (Starting, Backoff),
            (Backoff, Starting),
            (Starting, Backoff),
            (Backoff, Starting),
            (Starting, Backoff),
            (Backoff, Fatal),
        ]
    );
    // Retry n waits at least n seconds after failure n.
    let times: Vec<Instant> = harness.changes_of("crasher").map(|(at, _)| *at).collect();
    assert!(times[2] - times[1] >= Duration::from_secs(1));
    assert!(times[4] - times[3] >= Duration::from_secs(2));
    let status = harness.status("crasher");
    assert_eq!(status.last_exit, Some(ExitInfo::Code(3)));
    assert_eq!(status.restarts, 2);
    assert_eq!(status.pid, None);
    let error = status.last_error.unwrap();
    assert!(error.contains("3 times in a row"), "{error}");
    assert_eq!(harness.supervisor.next_deadline(), None);
}

/// A loop busy for longer than `startsecs` sees a crash late: the program must not count as
/// started because its exit was seen after `startsecs` (a crash loop would then never end
/// FATAL under load). It counts as started only if it was seen alive after `startsecs`.
#[tokio::test(flavor = "current_thread")]
async fn an_exit_seen_late_is_still_a_failed_start_and_one_seen_alive_is_not() {
    let mut harness = Harness::new();
    let spec = harness.spec("crasher", "exit 3", "startsecs = 0.2\nstartretries = 0");
    harness.start(spec);
    let pid = harness.status("crasher").pid.unwrap();
    // The loop is busy (this thread is blocked) while the program dies and startsecs passes.
    let dead = Instant::now() + TIMEOUT;
    // Ended: a zombie, or already collected by another test's reap (and parked for us).
    while matches!(fs::read_to_string(format!("/proc/{pid}/stat")), Ok(stat) if !stat.contains(") Z"))
    {
        assert!(Instant::now() < dead, "the program did not exit");
        std::thread::sleep(POLL);
    }
    std::thread::sleep(Duration::from_millis(400));
    let now = Instant::now();
    let changes = harness.supervisor.reap(now);
    harness.record(now, changes);
    use ProcessState::*;
    assert_eq!(
        harness.transitions("crasher"),
        [(Stopped, Starting), (Starting, Backoff), (Backoff, Fatal)]
    );

    // Seen alive after startsecs (a scan found it up), then found dead in the same late turn:
    // it did stay up long enough.
    let flag = harness.path("go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 3",
        flag.display()
    );
    let spec = harness.spec("slow", &script, "startsecs = 0.2\nstartretries = 0");
    harness.start(spec);
    let pid = harness.status("slow").pid.unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let now = Instant::now();
    let changes = harness.supervisor.reap(now); // nothing ended: it is alive now
    harness.record(now, changes);
    fs::write(&flag, "").unwrap();
    let dead = Instant::now() + TIMEOUT;
    while matches!(fs::read_to_string(format!("/proc/{pid}/stat")), Ok(stat) if !stat.contains(") Z"))
    {
        assert!(Instant::now() < dead, "the program did not exit");
        std::thread::sleep(POLL);
    }
    let now = Instant::now();
    let changes = harness.supervisor.reap(now);
    harness.record(now, changes);
    assert_eq!(
        harness.transitions("slow")[..3],
        [(Stopped, Starting), (Starting, Running), (Running, Exited)]
    );
}

/// A storm of exits handled in one turn makes at most AUTOMATIC_STARTS_PER_TURN restarts; the
/// others are due at once and made at the next turn, so the loop answers requests between.
#[tokio::test(flavor = "current_thread")]
async fn a_turn_makes_a_bounded_number_of_automatic_starts_and_the_next_turn_the_rest() {
    let mut harness = Harness::new();
    let count = AUTOMATIC_STARTS_PER_TURN as usize + 4;
    let mut pids = Vec::new();
    for index in 0..count {
        let marker = harness.path(&format!("ran-{index}"));
        // Exits once, then stays up.
        let script = format!(
            "if [ -e {file} ]; then exec sleep 30; fi; touch {file}; exit 1",
            file = marker.display()
        );
        let spec = harness.spec(
            &format!("storm{index}"),
            &script,
            "startsecs = 0\nautorestart = true",
        );
        harness.start(spec);
        pids.push(harness.status(&format!("storm{index}")).pid.unwrap());
    }
    // Every first process has ended before the loop looks (a busy loop).
    let dead = Instant::now() + TIMEOUT;
    for pid in pids {
        while matches!(fs::read_to_string(format!("/proc/{pid}/stat")), Ok(stat) if !stat.contains(") Z"))
        {
            assert!(Instant::now() < dead, "the program did not exit");
            std::thread::sleep(POLL);
        }
    }
    let now = Instant::now();
    let changes = harness.supervisor.reap(now);
    harness.record(now, changes);
    let states: Vec<ProcessState> = (0..count)
        .map(|index| harness.state(&format!("storm{index}")))
        .collect();
    let restarted = states
        .iter()
        .filter(|state| **state == ProcessState::Running)
        .count();
    let waiting = states
        .iter()
        .filter(|state| **state == ProcessState::Exited)
        .count();
    assert_eq!(
        (restarted, waiting),
        (AUTOMATIC_STARTS_PER_TURN as usize, 4),
        "{states:?}"
    );
    assert!(
        harness
            .supervisor
            .next_deadline()
            .is_some_and(|at| at <= Instant::now())
    );
    let now = Instant::now();
    let changes = harness.supervisor.on_deadline(now);
    harness.record(now, changes);
    for index in 0..count {
        let status = harness.status(&format!("storm{index}"));
        assert_eq!(status.state, ProcessState::Running, "{status:?}");
        assert_eq!(status.restarts, 1, "{status:?}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn backoff_says_why_it_waits_and_running_clears_it() {
    let mut harness = Harness::new();
    let marker = harness.path("second-try");
    // Fails its first start (exit 3 at once), then stays up.
    let script = format!(
        "if [ -e {file} ]; then exec sleep 30; fi; touch {file}; exit 3",
        file = marker.display()
    );
    let spec = harness.spec("flaky", &script, "startsecs = 0.3\nstartretries = 3");
    harness.start(spec);
    harness
        .wait_for("BACKOFF", |harness| {
            harness.state("flaky") == ProcessState::Backoff
        })
        .await;
    assert_eq!(
        harness.status("flaky").last_error.as_deref(),
        Some("retry 1 of 3: exit code 3 before startsecs (0.3s)")
    );
    harness
        .wait_for("RUNNING after the retry", |harness| {
            harness.state("flaky") == ProcessState::Running
        })
        .await;
    assert_eq!(
        harness.status("flaky").last_error,
        None,
        "the start succeeded"
    );
}

/// `autorestart = false` is a one-shot: an expected exit is its success, however soon it comes;
/// an unexpected one is still a failed start (BACKOFF, then FATAL).
#[tokio::test(flavor = "current_thread")]
async fn a_one_shot_runs_once_and_ends_exited_whatever_startsecs_says() {
    let mut harness = Harness::new();
    let done = harness.spec("done", "echo done", "autorestart = false\nstartsecs = 1");
    let failing = harness.spec(
        "failing",
        "echo failing; exit 3",
        "autorestart = false\nstartsecs = 1\nstartretries = 1",
    );
    harness.start(done);
    harness.start(failing);
    harness
        .wait_for("EXITED and FATAL", |harness| {
            harness.state("done") == ProcessState::Exited
                && harness.state("failing") == ProcessState::Fatal
        })
        .await;
    use ProcessState::*;
    assert_eq!(
        harness.transitions("done"),
        [(Stopped, Starting), (Starting, Exited)]
    );
    let status = harness.status("done");
    assert_eq!(status.last_exit, Some(ExitInfo::Code(0)));
    assert_eq!((status.restarts, status.last_error), (0, None));
    assert_eq!(harness.read(&harness.log("done", Stream::Stdout)), "done\n");
    assert_eq!(
        harness.supervisor.next_deadline(),
        None,
        "nothing more to do"
    );
    assert_eq!(
        harness.transitions("failing"),
        [
            (Stopped, Starting),
            (Starting, Backoff),
            (Backoff, Starting),
            (Starting, Backoff),
            (Backoff, Fatal),
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn autorestart_and_exitcodes_decide_after_an_exit_from_running() {
    let mut harness = Harness::new();
    // (name, autorestart, exitcodes, how it ends, restarted?)
    let cases = [
        (
            "unexpected-code-listed",
            "unexpected",
            "[0, 2]",
            "exit 2",
            false,
        ),
        (
            "unexpected-code-not-listed",
            "unexpected",
            "[0]",
            "exit 1",
            true,
        ),
        ("unexpected-clean", "unexpected", "[0]", "exit 0", false),
        (
            "unexpected-signal",
            "unexpected",
            "[0, 9]",
            "kill -KILL $$",
            true,
        ),
        ("always-clean", "true", "[0]", "exit 0", true),
        ("never-crash", "false", "[0]", "exit 1", false),
    ];
    for (name, autorestart, exitcodes, ending, _) in cases {
        // Up past startsecs, then the ending; a restarted one sleeps (it is stopped below).
        let marker = harness.path(name);
        let script = format!(
            "if [ -e {marker} ]; then exec sleep 1000; fi; touch {marker}; sleep 0.3; {ending}",
            marker = marker.display()
        );
        let fields =
            format!("startsecs = 0.1\nautorestart = \"{autorestart}\"\nexitcodes = {exitcodes}");
        let spec = harness.spec(name, &script, &fields);
        harness.start(spec);
    }
    harness
        .wait_for("every program to end or restart", |harness| {
            cases.iter().all(|(name, _, _, _, restarted)| {
                let status = harness.status(name);
                if *restarted {
                    status.restarts == 1 && status.state == ProcessState::Running
                } else {
                    status.state == ProcessState::Exited
                }
            })
        })
        .await;
    use ProcessState::*;
    for (name, _, _, ending, restarted) in cases {
        let mut expected = vec![(Stopped, Starting), (Starting, Running), (Running, Exited)];
        if restarted {
            expected.extend([(Exited, Starting), (Starting, Running)]);
        }
        // The decision is taken in the same reap as the exit: what is recorded is final.
        assert_eq!(harness.transitions(name), expected, "{name}");
        let status = harness.status(name);
        let expected_exit = if ending.starts_with("kill") {
            ExitInfo::Signal(9)
        } else {
            ExitInfo::Code(ending.trim_start_matches("exit ").parse().unwrap())
        };
        assert_eq!(status.last_exit, Some(expected_exit), "{name}");
    }
    for (name, ..) in cases {
        harness.stop(name);
    }
    harness
        .wait_for("all stopped", |harness| !harness.supervisor.has_processes())
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn sigterm_ignored_means_sigkill_after_stopwaitsecs_and_grandchildren_die_too() {
    let mut harness = Harness::new();
    let pids = harness.path("grandchildren.pid");
    // The ignored TERM is inherited by the background sleeps: only SIGKILL ends them.
    let script = format!(
        "trap '' TERM; sleep 1000 & echo $! > {pids}.tmp; sleep 1000 & echo $! >> {pids}.tmp; \
         mv {pids}.tmp {pids}; while :; do sleep 0.2; done",
        pids = pids.display()
    );
    let spec = harness.spec("stubborn", &script, "startsecs = 0.2\nstopwaitsecs = 1");
    harness.start(spec);
    harness
        .wait_for("RUNNING with two grandchildren", |harness| {
            harness.state("stubborn") == ProcessState::Running
                && harness.pids_in("grandchildren.pid").len() == 2
        })
        .await;
    let grandchildren: Vec<(u32, u64)> = harness
        .pids_in("grandchildren.pid")
        .into_iter()
        .map(|pid| (pid, harness.adopt(pid)))
        .collect();
    for (pid, start) in &grandchildren {
        assert!(alive(*pid, *start));
    }

    let asked = harness.stop("stubborn");
    assert_eq!(harness.state("stubborn"), ProcessState::Stopping);
    harness
        .wait_for("STOPPED", |harness| {
            harness.state("stubborn") == ProcessState::Stopped
        })
        .await;
    let (stopped_at, change) = harness.changes_of("stubborn").last().unwrap().clone();
    assert!(
        stopped_at - asked >= Duration::from_secs(1),
        "stopped after {:?}",
        stopped_at - asked
    );
    assert_eq!(
        harness.status("stubborn").last_exit,
        Some(ExitInfo::Signal(9)),
        "{change:?}"
    );
    // Killed with the group, then reaped by us (their subreaper): gone, not even zombies.
    harness
        .wait_for("the grandchildren to be gone", |_| {
            grandchildren.iter().all(|(pid, start)| gone(*pid, *start))
        })
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn environment_directory_umask_and_user_reach_the_process() {
    let mut harness = Harness::new();
    let work = harness.path("work");
    fs::create_dir(&work).unwrap();
    let script = "id -u; pwd; umask; echo \"$HOME\"; echo \"$USER\"; echo \"$GREETING\"";
    let user = if is_root() { "user = \"nobody\"\n" } else { "" };
    let fields = format!(
        "startsecs = 0\nautorestart = false\ndirectory = \"{}\"\numask = \"027\"\n\
         {user}environment = {{ GREETING = \"hello world\" }}",
        work.display()
    );
    let spec = harness.spec("env", script, &fields);
    harness.start(spec);
    // The program's own HOME wins over the user's.
    let fields =
        format!("startsecs = 0\nautorestart = false\n{user}environment = {{ HOME = \"/custom\" }}");
    let spec = harness.spec("home", "echo \"$HOME\"", &fields);
    harness.start(spec);

    let log = harness.log("env", Stream::Stdout);
    let home_log = harness.log("home", Stream::Stdout);
    harness
        .wait_for("both outputs", |harness| {
            harness.read(&log).lines().count() == 6 && harness.read(&home_log).lines().count() == 1
        })
        .await;
    let output = harness.read(&log);
    let lines: Vec<&str> = output.lines().collect();
    let (uid, home, name) = if is_root() {
        let nobody = User::from_name("nobody").unwrap().unwrap();
        (nobody.uid.as_raw(), nobody.dir, "nobody".to_string())
    } else {
        let me = User::from_uid(geteuid()).unwrap().unwrap();
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or(me.dir);
        let user = std::env::var("USER").unwrap_or_default();
        (me.uid.as_raw(), home, user)
    };
    assert_eq!(lines[0], uid.to_string(), "{output}");
    assert_eq!(lines[1], work.display().to_string(), "{output}");
    assert_eq!(lines[2], "0027", "{output}");
    assert_eq!(lines[3], home.display().to_string(), "{output}");
    assert_eq!(lines[4], name, "{output}");
    assert_eq!(lines[5], "hello world", "{output}");
    assert_eq!(harness.read(&home_log), "/custom\n");
}

/// The `posix_spawn` path (no umask, no user) has none of the fork path's code in the child, so
/// what that code did must hold anyway: no blocked or ignored signal, no descriptor of the daemon
/// but 0–2, its own process group. The test ignores SIGQUIT and opens a descriptor without
/// close-on-exec first, as a shell's background job and a careless parent would.
#[tokio::test(flavor = "current_thread")]
async fn a_spawned_program_inherits_no_ignored_signal_nor_descriptor() {
    let marker = tempfile::NamedTempFile::new().unwrap();
    // SAFETY (test): a plain open(2) without O_CLOEXEC, and SIG_IGN for SIGQUIT, which no test
    // relies on; both are what a daemon may inherit.
    let leaked = unsafe {
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        let path = std::ffi::CString::new(marker.path().as_os_str().as_encoded_bytes()).unwrap();
        libc::open(path.as_ptr(), libc::O_RDONLY)
    };
    assert!(leaked >= 0);
    let mut harness = Harness::new();
    // The shell execs `sleep`, which changes nothing: what /proc shows of it is what it got.
    let spec = harness.spec(
        "clean",
        "exec sleep 30",
        "startsecs = 0\nautorestart = false",
    );
    harness.start(spec);
    let pid = harness.status("clean").pid.unwrap();
    // Until `sleep` is in its sleep, it may still hold files of its own start (glibc's
    // gconv-modules.cache, the locale archive): read /proc only once it has settled.
    harness
        .wait_for("the program to settle in its sleep", |_| {
            settled_in_sleep(pid)
        })
        .await;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(status.starts_with("Name:\tsleep"), "{status}");
    let field = |name: &str| {
        let line = status.lines().find(|line| line.starts_with(name)).unwrap();
        u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
    };
    let descriptors: Vec<PathBuf> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|entry| fs::read_link(entry.unwrap().path()).unwrap_or_default())
        .collect();
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // SAFETY (test): closes the descriptor opened above.
    unsafe { libc::close(leaked) };
    harness.stop("clean");

    assert_eq!(field("SigBlk:"), 0, "{status}");
    // Signals 1–31; glibc's posix_spawn leaves its two internal signals (32, 33) ignored.
    assert_eq!(field("SigIgn:") & 0x7fff_ffff, 0, "{status}");
    assert!(
        !descriptors.iter().any(|path| path == marker.path()),
        "{descriptors:?}"
    );
    assert_eq!(
        descriptors.len(),
        3,
        "stdin, stdout, stderr only: {descriptors:?}"
    );
    // Fields after the command name: state, ppid, pgrp.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let pgrp = after_name.split_whitespace().nth(2).unwrap();
    assert_eq!(pgrp, pid.to_string(), "its own process group: {stat}");
}

/// Both ways of making a child (starting on the daemon's descriptor table and unsharing a
/// small one, or on a kernel copy of the whole table where that is refused) give the program
/// only its three streams, even when the daemon holds many descriptors.
#[tokio::test(flavor = "current_thread")]
async fn both_clone_paths_give_the_program_only_its_three_streams() {
    let harness = Harness::new();
    // Many long-lived descriptors, as a daemon with a fleet holds.
    let held: Vec<fs::File> = (0..300)
        .map(|_| fs::File::open("/dev/null").unwrap())
        .collect();
    for share_files in [true, false] {
        let spec = harness.spec("fds", "exec sleep 30", "");
        let out = fs::File::create(harness.path("stdout")).unwrap();
        let prepared = spawn::prepare(
            &spec.process,
            spawn::Output::File(out.into()),
            None,
            &[],
            None,
        )
        .unwrap();
        let pid = {
            let mut table = reap::children();
            let pid = prepared.clone_child(share_files).ok().unwrap();
            table.register(i32::try_from(pid).unwrap(), false);
            pid
        };
        let deadline = Instant::now() + TIMEOUT;
        // Read /proc once `sleep` has settled in its sleep: during its start it has files of
        // its own open for a moment (glibc's gconv-modules.cache, the locale archive).
        while !settled_in_sleep(pid) {
            assert!(
                Instant::now() < deadline,
                "the program did not settle in its sleep"
            );
            tokio::time::sleep(POLL).await;
        }
        let mut descriptors: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        descriptors.sort();
        let mine = i32::try_from(pid).unwrap();
        kill(Pid::from_raw(mine), Signal::SIGKILL).unwrap();
        while reap::children()
            .reap(|pid| pid == mine, |_, _| {})
            .is_empty()
        {
            assert!(Instant::now() < deadline, "the program was not reaped");
            tokio::time::sleep(POLL).await;
        }
        assert_eq!(descriptors, ["0", "1", "2"], "share_files = {share_files}");
    }
    drop(held);
}

#[tokio::test(flavor = "current_thread")]
async fn a_double_forked_grandchild_is_reaped_no_zombie_remains() {
    let mut harness = Harness::new();
    let pid_file = harness.path("orphan.pid");
    // The subshell forks the sleep and exits: the sleep is orphaned and re-parented to us.
    // killasgroup = false so that it outlives its parent and ends on its own.
    let script = format!(
        "( sleep 0.5 & echo $! > {file}.tmp; mv {file}.tmp {file} ); exit 0",
        file = pid_file.display()
    );
    let spec = harness.spec(
        "forker",
        &script,
        "startsecs = 0\nautorestart = false\nkillasgroup = false",
    );
    harness.start(spec);
    let main = harness.status("forker").pid.unwrap();
    let main_start = harness.adopt(main);
    harness
        .wait_for("EXITED with the orphan's pid written", |harness| {
            harness.state("forker") == ProcessState::Exited
                && harness.pids_in("orphan.pid").len() == 1
        })
        .await;
    let orphan = harness.pids_in("orphan.pid")[0];
    let orphan_start = harness.adopt(orphan);
    if orphan_start != 0 {
        // Still running, so it must be ours now.
        let stat = fs::read_to_string(format!("/proc/{orphan}/stat")).unwrap_or_default();
        let parent: Option<u32> = stat
            .rfind(')')
            .and_then(|end| stat[end + 1..].split_whitespace().nth(1))
            .and_then(|field| field.parse().ok());
        if !stat.is_empty() {
            assert_eq!(parent, Some(std::process::id()), "{stat}");
        }
    }
    harness
        .wait_for(
            "neither the program nor its orphan left as a zombie",
            |_| gone(main, main_start) && gone(orphan, orphan_start),
        )
        .await;
    assert_eq!(harness.status("forker").last_exit, Some(ExitInfo::Code(0)));
}

/// A program killed right after its last lines: the capture set handles its pipes' end after
/// the restart (it yields to the reap), and still every run's lines are in the log, whole and
/// before the next run's.
#[tokio::test(flavor = "current_thread")]
async fn a_crashing_programs_last_lines_are_logged_before_the_next_runs() {
    let mut harness = Harness::new();
    const RUNS: usize = 8;
    let count = harness.path("runs");
    let script = format!(
        "n=$(cat {count} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {count}; \
         if [ $n -gt {RUNS} ]; then exec sleep 1000; fi; \
         echo \"start $n $$\"; echo \"middle $n $$\"; echo \"end $n $$\"; kill -KILL $$",
        count = count.display()
    );
    let spec = harness.spec(
        "crasher",
        &script,
        "startsecs = 0\nautorestart = true\nstdout_logfile_maxbytes = \"1MB\"",
    );
    harness.start(spec);
    let log = harness.log("crasher", Stream::Stdout);
    harness
        .wait_for(
            "every crashing run logged, and the last run up",
            |harness| {
                harness.read(&count).trim() == (RUNS + 1).to_string()
                    && harness.state("crasher") == ProcessState::Running
                    && harness.lines(&log).len() >= 3 * RUNS
            },
        )
        .await;
    let lines = harness.lines(&log);
    assert_eq!(lines.len(), 3 * RUNS, "{lines:#?}");
    let mut pids = BTreeSet::new();
    for (run, group) in lines.chunks(3).enumerate() {
        let pid = group[0].rsplit(' ').next().unwrap_or_default().to_string();
        let expected: Vec<String> = ["start", "middle", "end"]
            .iter()
            .map(|word| format!("{word} {} {pid}", run + 1))
            .collect();
        assert_eq!(group, expected.as_slice(), "run {}: {lines:#?}", run + 1);
        assert!(pids.insert(pid), "a pid twice: {lines:#?}");
    }
    assert_eq!(harness.status("crasher").restarts, RUNS as u32);
}

#[tokio::test(flavor = "current_thread")]
async fn rotation_keeps_backups_of_maxbytes_and_loses_no_line() {
    let mut harness = Harness::new();
    const LINES: u32 = 20_000;
    let expected: String = (1..=LINES).map(|number| format!("{number}\n")).collect();
    let fields = "startsecs = 0\nautorestart = false\nstdout_logfile_maxbytes = \"10KB\"\n";
    let kept = harness.spec(
        "few",
        &format!("seq 1 {LINES}"),
        &format!("{fields}stdout_logfile_backups = 3"),
    );
    let all = harness.spec(
        "all",
        &format!("seq 1 {LINES}"),
        &format!("{fields}stdout_logfile_backups = 100"),
    );
    harness.start(kept);
    harness.start(all);

    // Oldest first: file.N … file.1, file.
    let files = |harness: &Harness, name: &str| -> Vec<PathBuf> {
        let log = harness.log(name, Stream::Stdout);
        let mut files: Vec<PathBuf> = (1..=200)
            .rev()
            .map(|number| rotated_path(&log, number))
            .filter(|path| path.exists())
            .collect();
        files.push(log);
        files
    };
    let concatenated = |harness: &Harness, name: &str| -> String {
        files(harness, name)
            .iter()
            .map(|path| harness.read(path))
            .collect()
    };
    harness
        .wait_for("every line captured", |harness| {
            harness.state("all") == ProcessState::Exited
                && harness.state("few") == ProcessState::Exited
                && concatenated(harness, "all").len() == expected.len()
                && concatenated(harness, "few").ends_with(&format!("\n{LINES}\n"))
        })
        .await;

    // Every line, in order, across 11 files of 10 KiB.
    assert!(
        concatenated(&harness, "all") == expected,
        "lines lost or reordered"
    );
    let all_files = files(&harness, "all");
    assert_eq!(all_files.len(), expected.len().div_ceil(10 * 1024));
    for path in &all_files[..all_files.len() - 1] {
        assert_eq!(fs::metadata(path).unwrap().len(), 10 * 1024, "{path:?}");
    }

    // Three backups: the last four files' worth, a contiguous tail of the sequence.
    let few_files = files(&harness, "few");
    assert_eq!(few_files.len(), 4, "{few_files:?}");
    assert!(!rotated_path(&harness.log("few", Stream::Stdout), 4).exists());
    let tail_text = concatenated(&harness, "few");
    assert!(expected.ends_with(&tail_text));
    assert_eq!(
        tail_text.len() as u64,
        3 * 10 * 1024 + fs::metadata(&few_files[3]).unwrap().len()
    );
    // tail() reads across the rotation.
    let last = tail(&harness.log("few", Stream::Stdout), 3000).unwrap();
    let wanted: String = (LINES - 2999..=LINES)
        .map(|number| format!("{number}\n"))
        .collect();
    assert!(last == wanted, "tail gave {} bytes", last.len());
}

/// 1 GiB through the pipe (a log that rotates, at 2 GiB: captured): about 5 s in a debug
/// build. It also prints the CPU time this process spent, which is the capture's cost when the
/// test runs alone.
#[tokio::test(flavor = "current_thread")]
async fn a_1_gib_burst_is_captured_byte_for_byte() {
    burst(1 << 30, "\"2GB\"", true).await;
}

/// The same into a log that never rotates: the program writes the file itself.
#[tokio::test(flavor = "current_thread")]
async fn a_256_mib_burst_into_a_direct_log_lands_byte_for_byte() {
    burst(256 << 20, "0", false).await;
}

async fn burst(bytes: u64, max_bytes: &str, captured: bool) {
    const LINE: &[u8] = b"0123456789abcdefghijklmnopqrstu\n";
    let mut harness = Harness::new();
    let script = format!(
        "yes {} | head -c {bytes}",
        std::str::from_utf8(&LINE[..LINE.len() - 1]).unwrap()
    );
    let spec = harness.spec(
        "burst",
        &script,
        &format!("startsecs = 0\nautorestart = false\nstdout_logfile_maxbytes = {max_bytes}"),
    );
    let began = Instant::now();
    let cpu_before = cpu_time();
    harness.start(spec);
    let log = harness.log("burst", Stream::Stdout);
    assert_eq!(
        harness
            .supervisor
            .context
            .writers
            .contains_key(log.as_path()),
        captured
    );
    let length = |log: &Path| fs::metadata(log).map(|meta| meta.len()).unwrap_or(0);
    harness
        .wait_while_progressing(
            "the whole burst in the log (no byte written for 20 s)",
            |_| length(&log),
            |harness| harness.state("burst") == ProcessState::Exited && length(&log) >= bytes,
        )
        .await;
    let elapsed = began.elapsed();
    eprintln!(
        "captured {bytes} bytes in {elapsed:?} ({:.0} MiB/s), this process used {:?} of CPU",
        bytes as f64 / (1 << 20) as f64 / elapsed.as_secs_f64(),
        cpu_time() - cpu_before
    );
    assert_eq!(fs::metadata(&log).unwrap().len(), bytes);
    // Byte for byte: the file is the pattern repeated.
    use std::io::Read;
    let pattern: Vec<u8> = LINE.repeat((1 << 20) / LINE.len());
    let mut buffer = vec![0u8; pattern.len()];
    let mut file = fs::File::open(&log).unwrap();
    let mut offset = 0u64;
    while offset < bytes {
        file.read_exact(&mut buffer).unwrap();
        assert!(buffer == pattern, "mismatch in the MiB at {offset}");
        offset += buffer.len() as u64;
    }
    assert_eq!(harness.status("burst").last_error, None);
}

#[tokio::test(flavor = "current_thread")]
async fn spawn_errors_end_fatal_with_a_clear_last_error() {
    let mut harness = Harness::new();
    let not_executable = harness.path("not-executable");
    fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let missing_directory = harness.path("no/such/folder");

    let mut cases: Vec<(Arc<ProgramSpec>, String)> = Vec::new();
    let mut spec = (*harness.spec("missing-binary", "", "")).clone();
    spec.process.argv = vec!["/nope".to_string()];
    cases.push((
        Arc::new(spec),
        "cannot run \"/nope\": No such file or directory".to_string(),
    ));
    let mut spec = (*harness.spec("not-executable", "", "")).clone();
    spec.process.argv = vec![not_executable.display().to_string()];
    cases.push((
        Arc::new(spec),
        format!(
            "cannot run \"{}\": Permission denied",
            not_executable.display()
        ),
    ));
    // A bare name is looked up in the program's own PATH, as execvp does: not there at all, and
    // there but not executable.
    let bin = harness.path("bin");
    fs::create_dir(&bin).unwrap();
    fs::write(bin.join("hoody-plain-file"), "#!/bin/sh\n").unwrap();
    for (name, program, message) in [
        (
            "not-in-path",
            "hoody-no-such-program",
            "No such file or directory",
        ),
        (
            "not-executable-in-path",
            "hoody-plain-file",
            "Permission denied",
        ),
    ] {
        let fields = format!(
            "environment = {{ PATH = \"/nonexistent:{}\" }}",
            bin.display()
        );
        let mut spec = (*harness.spec(name, "", &fields)).clone();
        spec.process.argv = vec![program.to_string()];
        cases.push((
            Arc::new(spec),
            format!("cannot run \"{program}\": {message}"),
        ));
    }
    let spec = harness.spec(
        "missing-directory",
        "true",
        &format!("directory = \"{}\"", missing_directory.display()),
    );
    cases.push((
        spec,
        format!(
            "directory \"{}\" does not exist",
            missing_directory.display()
        ),
    ));
    let mut spec = (*harness.spec("unknown-user", "true", "")).clone();
    spec.process.user = Some(Box::new(UserSpec {
        name: "no-such-user-hoody".to_string(),
        uid: 4_000_000,
        gid: 4_000_000,
        home: PathBuf::from("/"),
        shell: PathBuf::from("/bin/sh"),
    }));
    cases.push((
        Arc::new(spec),
        "user \"no-such-user-hoody\" does not exist".to_string(),
    ));
    if !is_root() {
        let spec = harness.spec("not-root", "true", "user = \"nobody\"");
        cases.push((
            spec,
            format!(
                "cannot run as user \"nobody\": the daemon is not root (it runs as uid {})",
                geteuid()
            ),
        ));
    }

    use ProcessState::*;
    for (spec, message) in cases {
        let name = spec.name.clone();
        harness.start(spec);
        let status = harness.status(&name);
        assert_eq!(status.state, Fatal, "{name}");
        assert_eq!(status.pid, None, "{name}");
        assert_eq!(
            status.last_error.as_deref(),
            Some(message.as_str()),
            "{name}"
        );
        assert_eq!(
            harness.transitions(&name),
            [(Stopped, Starting), (Starting, Fatal)],
            "{name}"
        );
    }
    assert!(!harness.supervisor.has_processes());
}

/// A bare command name runs from the first folder of the program's own PATH that has it (not
/// the daemon's PATH), with its arguments.
#[tokio::test(flavor = "current_thread")]
async fn a_bare_name_runs_from_the_programs_own_path() {
    let mut harness = Harness::new();
    let (first, second) = (harness.path("first"), harness.path("second"));
    let out = harness.path("out");
    for (folder, word) in [(&first, "first"), (&second, "second")] {
        fs::create_dir(folder).unwrap();
        let script = folder.join("hoody-greet");
        fs::write(
            &script,
            format!("#!/bin/sh\necho {word} \"$@\" > {}\n", out.display()),
        )
        .unwrap();
        fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let fields = format!(
        "startsecs = 0\nautorestart = false\nenvironment = {{ PATH = \"/nonexistent::{}:{}\" }}",
        first.display(),
        second.display()
    );
    let mut spec = (*harness.spec("greet", "", &fields)).clone();
    spec.process.argv = vec![
        "hoody-greet".to_string(),
        "a b".to_string(),
        "c".to_string(),
    ];
    harness.start(Arc::new(spec));
    harness
        .wait_for("the greeting", |harness| harness.read(&out).ends_with('\n'))
        .await;
    assert_eq!(harness.read(&out), "first a b c\n");
}

#[tokio::test(flavor = "current_thread")]
async fn restart_with_a_new_spec_stop_of_backoff_and_remove() {
    let mut harness = Harness::new();
    use ProcessState::*;
    let first = harness.spec("svc", "echo one; exec sleep 1000", "startsecs = 0.1");
    harness.start(first.clone());
    harness
        .wait_for("RUNNING", |harness| harness.state("svc") == Running)
        .await;
    // Same spec again: nothing happens.
    let now = Instant::now();
    assert_eq!(harness.supervisor.start(first, now), []);
    let old_pid = harness.status("svc").pid.unwrap();

    let second = harness.spec("svc", "echo two; exec sleep 1000", "startsecs = 0.1");
    let now = Instant::now();
    let changes = harness.supervisor.restart(second, now);
    harness.record(now, changes);
    harness
        .wait_for("RUNNING again", |harness| harness.state("svc") == Running)
        .await;
    assert_ne!(harness.status("svc").pid, Some(old_pid));
    assert_eq!(
        harness.transitions("svc"),
        [
            (Stopped, Starting),
            (Starting, Running),
            (Running, Stopping),
            (Stopping, Stopped),
            (Stopped, Starting),
            (Starting, Running),
        ]
    );
    let log = harness.log("svc", Stream::Stdout);
    harness
        .wait_for("both outputs in one log", |harness| {
            harness.read(&log) == "one\ntwo\n"
        })
        .await;

    // Remove: stopped, then forgotten.
    let now = Instant::now();
    let changes = harness.supervisor.remove("svc", now);
    harness.record(now, changes);
    harness
        .wait_for("the job to be gone", |harness| {
            harness.supervisor.status("svc", Instant::now()).is_none()
        })
        .await;
    assert!(!harness.supervisor.has_processes());

    // Stop in BACKOFF cancels the retry.
    let crasher = harness.spec("crasher", "exit 1", "startsecs = 5");
    harness.start(crasher);
    harness
        .wait_for("BACKOFF", |harness| harness.state("crasher") == Backoff)
        .await;
    assert!(harness.supervisor.next_deadline().is_some());
    harness.stop("crasher");
    assert_eq!(harness.state("crasher"), Stopped);
    assert_eq!(harness.supervisor.next_deadline(), None);
    assert!(!harness.supervisor.is_busy());
}

#[tokio::test(flavor = "current_thread")]
async fn a_crash_loop_with_startsecs_0_is_held_back_after_a_burst() {
    let mut harness = Harness::new();
    let spec = harness.spec("spinner", "exit 1", "startsecs = 0\nautorestart = true");
    harness.start(spec);
    harness
        .wait_for("the restart budget to be spent", |harness| {
            let status = harness.status("spinner");
            status.state == ProcessState::Exited && harness.supervisor.next_deadline().is_some()
        })
        .await;
    let status = harness.status("spinner");
    // The first start, then the allowance of immediate restarts (the window may have turned
    // over once on a slow machine).
    assert!(
        status.restarts >= state::IMMEDIATE_RESTARTS_PER_WINDOW,
        "{status:?}"
    );
    let held_until = harness.supervisor.next_deadline().unwrap();
    assert!(held_until > Instant::now() + Duration::from_millis(500));
    assert!(harness.supervisor.is_busy());
    // Stop cancels the held-back restart.
    harness.stop("spinner");
    assert_eq!(harness.supervisor.next_deadline(), None);
    assert_eq!(harness.state("spinner"), ProcessState::Exited);
}

#[tokio::test(flavor = "current_thread")]
async fn when_the_main_process_exits_killasgroup_ends_what_is_left_of_its_group() {
    let mut harness = Harness::new();
    let pid_file = harness.path("left.pid");
    let script = format!(
        "sleep 1000 & echo $! > {file}.tmp; mv {file}.tmp {file}; sleep 0.3; exit 1",
        file = pid_file.display()
    );
    let spec = harness.spec("leaver", &script, "startsecs = 0.1\nautorestart = false");
    harness.start(spec);
    harness
        .wait_for("the background sleep's pid", |harness| {
            harness.pids_in("left.pid").len() == 1
        })
        .await;
    let left = harness.pids_in("left.pid")[0];
    let start = harness.adopt(left);
    harness
        .wait_for("EXITED and the background sleep gone", |harness| {
            harness.state("leaver") == ProcessState::Exited && gone(left, start)
        })
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn update_spec_changes_autorestart_of_a_live_job_without_a_restart() {
    let mut harness = Harness::new();
    let spec = harness.spec(
        "live",
        "exec sleep 1000",
        "startsecs = 0.1\nautorestart = false",
    );
    harness.start(spec);
    harness
        .wait_for("RUNNING", |harness| {
            harness.state("live") == ProcessState::Running
        })
        .await;
    let pid = harness.status("live").pid.unwrap();
    let updated = harness.spec(
        "live",
        "exec sleep 1000",
        "startsecs = 0.1\nautorestart = true",
    );
    harness.supervisor.update_spec(updated);
    assert_eq!(harness.status("live").pid, Some(pid));
    kill(Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    harness
        .wait_for("restarted by the new autorestart", |harness| {
            let status = harness.status("live");
            status.state == ProcessState::Running && status.pid != Some(pid)
        })
        .await;
    let status = harness.status("live");
    assert_eq!(status.restarts, 1);
    assert_eq!(status.last_exit, Some(ExitInfo::Signal(9)));
}

/// `prefix-1` … `prefix-count`.
fn numbered(prefix: &str, count: u32) -> Vec<String> {
    (1..=count)
        .map(|number| format!("{prefix}-{number}"))
        .collect()
}

/// A shell loop that writes `prefix-1` … `prefix-count`, one `echo` (one write) per line, with
/// `redirect` ("" or ">&2").
fn numbered_script(prefix: &str, count: u32, redirect: &str) -> String {
    format!("i=1; while [ $i -le {count} ]; do echo {prefix}-$i{redirect}; i=$((i+1)); done")
}

/// `DEV:INODE` of a file, as `stat -L -c %d:%i` prints it.
fn identity(path: &Path) -> String {
    use std::os::unix::fs::MetadataExt;
    let metadata = fs::metadata(path).unwrap();
    format!("{}:{}", metadata.dev(), metadata.ino())
}

fn canonical(path: &Path) -> String {
    fs::canonicalize(path).unwrap().display().to_string()
}

#[tokio::test(flavor = "current_thread")]
async fn a_log_that_never_rotates_is_the_programs_own_stdout_and_stderr() {
    let mut harness = Harness::new();
    const LINES: u32 = 2000;
    // Each stream first says what it is (device and inode of the file behind fd 1 and fd 2).
    let script = format!(
        "stat -L -c %d:%i /proc/self/fd/1; stat -L -c %d:%i /proc/self/fd/2 >&2; \
         i=1; while [ $i -le {LINES} ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done"
    );
    let direct = "startsecs = 0\nautorestart = false\n\
                  stdout_logfile_maxbytes = 0\nstderr_logfile_maxbytes = 0\n";
    let split = harness.spec("split", &script, direct);
    let joined = harness.spec(
        "joined",
        &script,
        &format!("{direct}redirect_stderr = true"),
    );
    // Rotated logs, for contrast: pipes.
    let piped = harness.spec(
        "piped",
        "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2",
        "startsecs = 0\nautorestart = false\n\
         stdout_logfile_maxbytes = \"1MB\"\nstderr_logfile_maxbytes = \"1MB\"",
    );
    harness.start(split);
    harness.start(joined);
    harness.start(piped);
    let piped_out = harness.log("piped", Stream::Stdout);
    let piped_err = harness.log("piped", Stream::Stderr);
    harness
        .wait_for("all three done", |harness| {
            ["split", "joined", "piped"]
                .iter()
                .all(|name| harness.state(name) == ProcessState::Exited)
                && harness.read(&piped_out).ends_with('\n')
                && harness.read(&piped_err).ends_with('\n')
        })
        .await;

    // Direct: fd 1 and fd 2 are the log files themselves, every line is there in the order
    // written, and the daemon holds no writer for them (it is out of the data path).
    let out = harness.log("split", Stream::Stdout);
    let err = harness.log("split", Stream::Stderr);
    let mut expected = vec![identity(&out)];
    expected.extend(numbered("out", LINES));
    assert!(harness.lines(&out) == expected, "split stdout");
    let mut expected = vec![identity(&err)];
    expected.extend(numbered("err", LINES));
    assert!(harness.lines(&err) == expected, "split stderr");
    assert!(
        !harness
            .supervisor
            .context
            .writers
            .contains_key(out.as_path())
    );
    assert!(
        !harness
            .supervisor
            .context
            .writers
            .contains_key(err.as_path())
    );

    // redirect_stderr: fd 2 is a copy of fd 1, so the two streams interleave exactly as written.
    let out = harness.log("joined", Stream::Stdout);
    let mut expected = vec![identity(&out), identity(&out)];
    for number in 1..=LINES {
        expected.push(format!("out-{number}"));
        expected.push(format!("err-{number}"));
    }
    assert!(harness.lines(&out) == expected, "joined");
    assert!(!harness.log("joined", Stream::Stderr).exists());

    // Rotated: still captured through pipes.
    for path in [&piped_out, &piped_err] {
        let text = harness.read(path);
        assert!(text.starts_with("pipe:["), "{path:?}: {text}");
        assert!(
            harness
                .supervisor
                .context
                .writers
                .contains_key(path.as_path())
        );
    }
    for name in ["split", "joined", "piped"] {
        assert_eq!(harness.status(name).last_error, None, "{name}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn one_file_for_both_streams_is_captured_when_either_rotates_it() {
    let mut harness = Harness::new();
    const LINES: u32 = 2000;
    let log = harness.path("both.log");
    let script = format!(
        "readlink /proc/self/fd/1; readlink /proc/self/fd/2 >&2; \
         i=1; while [ $i -le {LINES} ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done"
    );
    // stdout alone would be direct; an O_APPEND writer beside the pipe's writer (which writes
    // at its own offset) would overwrite it.
    let spec = harness.spec(
        "both",
        &script,
        &format!(
            "startsecs = 0\nautorestart = false\nstdout_logfile = \"{path}\"\n\
             stderr_logfile = \"{path}\"\nstdout_logfile_maxbytes = 0\n\
             stderr_logfile_maxbytes = \"1MB\"",
            path = log.display()
        ),
    );
    harness.start(spec);
    harness
        .wait_for("both streams in the file", |harness| {
            let lines = harness.lines(&log);
            harness.state("both") == ProcessState::Exited
                && lines.iter().any(|line| *line == format!("out-{LINES}"))
                && lines.iter().any(|line| *line == format!("err-{LINES}"))
        })
        .await;
    let lines = harness.lines(&log);
    let of = |prefix: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|line| line.starts_with(prefix))
            .cloned()
            .collect()
    };
    assert_eq!(of("pipe:[").len(), 2, "{lines:?}");
    assert!(
        of("out-") == numbered("out", LINES),
        "stdout lost or reordered"
    );
    assert!(
        of("err-") == numbered("err", LINES),
        "stderr lost or reordered"
    );
    assert_eq!(lines.len(), 2 + 2 * LINES as usize);
}

#[tokio::test(flavor = "current_thread")]
async fn a_leftover_writing_through_the_pipe_keeps_the_next_process_on_it_until_it_ends() {
    let mut harness = Harness::new();
    let go = harness.path("go");
    let left = harness.path("left.pid");
    let log = harness.log("switch", Stream::Stdout);
    // Stop signals the main process only, and nothing kills the group after it: a background
    // subshell outlives it, holding its stdout.
    let fields = "startsecs = 0\nautorestart = false\nstopasgroup = false\nkillasgroup = false\n";
    let first = harness.spec(
        "switch",
        &format!(
            "readlink /proc/self/fd/1; \
             ( while [ ! -e {go} ]; do sleep 0.01; done; {old} ) & \
             echo $! > {left}.tmp; mv {left}.tmp {left}; echo first; exec sleep 1000",
            go = go.display(),
            left = left.display(),
            old = numbered_script("old", 500, ""),
        ),
        &format!("{fields}stdout_logfile_maxbytes = \"1MB\""),
    );
    harness.start(first);
    harness
        .wait_for("the first output and the leftover's pid", |harness| {
            harness.read(&log).contains("first\n") && harness.pids_in("left.pid").len() == 1
        })
        .await;
    let leftover = harness.pids_in("left.pid")[0];
    let leftover_start = harness.adopt(leftover);
    let first_pid = harness.status("switch").pid.unwrap();

    // maxbytes = 0 now: it would be direct, but the leftover still feeds the file through the
    // old pipe, whose writer writes at its own offset. So the new process joins it.
    let second = harness.spec(
        "switch",
        &format!(
            "readlink /proc/self/fd/1; {new}; exec sleep 1000",
            new = numbered_script("new", 500, "")
        ),
        &format!("{fields}stdout_logfile_maxbytes = 0"),
    );
    harness.restart(second.clone());
    harness
        .wait_for("the second process's output", |harness| {
            harness
                .status("switch")
                .pid
                .is_some_and(|pid| pid != first_pid)
                && harness.read(&log).contains("new-500\n")
        })
        .await;
    let second_pid = harness.status("switch").pid.unwrap();
    fs::write(&go, "").unwrap();
    harness
        .wait_for("the leftover's output, and the leftover gone", |harness| {
            harness.read(&log).contains("old-500\n") && gone(leftover, leftover_start)
        })
        .await;
    let lines = harness.lines(&log);
    assert_eq!(lines.len(), 1003, "{lines:?}");
    assert!(lines[0].starts_with("pipe:["), "{}", lines[0]);
    assert_eq!(lines[1], "first");
    assert!(lines[2].starts_with("pipe:["), "{}", lines[2]);
    assert!(lines[3..503] == numbered("new", 500), "new lines lost");
    assert!(
        lines[503..] == numbered("old", 500),
        "the leftover's lines lost"
    );
    let before = lines;

    // Nothing feeds the file now: the next start gets the file itself.
    harness.restart(second);
    harness
        .wait_for("the third process's output", |harness| {
            harness
                .status("switch")
                .pid
                .is_some_and(|pid| pid != second_pid)
                && harness.lines(&log).len() == 1504
        })
        .await;
    let lines = harness.lines(&log);
    assert!(lines[..1003] == before[..], "earlier lines changed");
    assert_eq!(lines[1003], canonical(&log));
    assert!(lines[1004..] == numbered("new", 500));
    assert!(!harness.captures(&log));
}

#[tokio::test(flavor = "current_thread")]
async fn a_captured_log_continues_after_what_a_direct_leftover_appended() {
    let mut harness = Harness::new();
    let go_old = harness.path("go-old");
    let go_late = harness.path("go-late");
    let left = harness.path("left.pid");
    let log = harness.log("switch", Stream::Stdout);
    let fields = "startsecs = 0\nautorestart = false\nstopasgroup = false\nkillasgroup = false\n";
    // Direct: the leftover appends to the file itself, whenever it is told.
    let first = harness.spec(
        "switch",
        &format!(
            "readlink /proc/self/fd/1; \
             ( while [ ! -e {go} ]; do sleep 0.01; done; {old} ) & \
             echo $! > {left}.tmp; mv {left}.tmp {left}; exec sleep 1000",
            go = go_old.display(),
            left = left.display(),
            old = numbered_script("old", 500, ""),
        ),
        &format!("{fields}stdout_logfile_maxbytes = 0"),
    );
    harness.start(first);
    harness
        .wait_for("the first output and the leftover's pid", |harness| {
            harness.lines(&log).len() == 1 && harness.pids_in("left.pid").len() == 1
        })
        .await;
    let leftover = harness.pids_in("left.pid")[0];
    let leftover_start = harness.adopt(leftover);
    let first_pid = harness.status("switch").pid.unwrap();

    // Rotated now: captured, by a writer that starts at the file's end…
    let second = harness.spec(
        "switch",
        &format!(
            "readlink /proc/self/fd/1; {new}; \
             while [ ! -e {go} ]; do sleep 0.01; done; {late}; exec sleep 1000",
            new = numbered_script("new", 500, ""),
            go = go_late.display(),
            late = numbered_script("late", 500, ""),
        ),
        &format!("{fields}stdout_logfile_maxbytes = \"1MB\""),
    );
    harness.restart(second);
    harness
        .wait_for("the second process's first output", |harness| {
            harness
                .status("switch")
                .pid
                .is_some_and(|pid| pid != first_pid)
                && harness.read(&log).contains("new-500\n")
        })
        .await;
    // …then the leftover appends behind the writer's back…
    fs::write(&go_old, "").unwrap();
    harness
        .wait_for("the leftover's output, and the leftover gone", |harness| {
            harness.read(&log).contains("old-500\n") && gone(leftover, leftover_start)
        })
        .await;
    // …and the writer's next bytes go after them, not over them.
    fs::write(&go_late, "").unwrap();
    harness
        .wait_for("the second process's late output", |harness| {
            harness.read(&log).contains("late-500\n")
        })
        .await;
    let lines = harness.lines(&log);
    assert_eq!(lines.len(), 1502, "{lines:?}");
    assert_eq!(lines[0], canonical(&log));
    assert!(lines[1].starts_with("pipe:["), "{}", lines[1]);
    assert!(lines[2..502] == numbered("new", 500), "lines lost");
    assert!(
        lines[502..1002] == numbered("old", 500),
        "the leftover's lines lost"
    );
    assert!(lines[1002..] == numbered("late", 500), "lines lost");
}

#[tokio::test(flavor = "current_thread")]
async fn direct_write_errors_reach_the_program_and_a_fifo_nobody_reads_fails_the_start() {
    let mut harness = Harness::new();
    // /dev/full answers every write with ENOSPC: in direct mode the program sees it itself.
    if Path::new("/dev/full").exists() {
        let spec = harness.spec(
            "full",
            "echo hello; echo status=$? >&2",
            "startsecs = 0\nautorestart = false\nstdout_logfile = \"/dev/full\"\n\
             stdout_logfile_maxbytes = 0\nstderr_logfile_maxbytes = 0",
        );
        harness.start(spec);
        harness
            .wait_for("EXITED", |harness| {
                harness.state("full") == ProcessState::Exited
            })
            .await;
        let err = harness.read(&harness.log("full", Stream::Stderr));
        assert!(err.ends_with("status=1\n"), "{err}");
        assert_eq!(harness.status("full").last_error, None);
    }
    // Opening a FIFO without a reader would block the daemon's loop until one comes: it fails
    // at once instead, in both modes.
    let fifo = harness.path("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (name, max_bytes) in [("fifo-direct", "0"), ("fifo-piped", "\"1MB\"")] {
        let spec = harness.spec(
            name,
            "echo hello",
            &format!(
                "stdout_logfile = \"{}\"\nstdout_logfile_maxbytes = {max_bytes}",
                fifo.display()
            ),
        );
        harness.start(spec);
        let status = harness.status(name);
        assert_eq!(status.state, ProcessState::Fatal, "{name}");
        assert_eq!(
            status.last_error.as_deref(),
            Some(
                format!(
                    "cannot open log \"{}\": No such device or address",
                    fifo.display()
                )
                .as_str()
            ),
            "{name}"
        );
    }
}

/// A harness whose supervisor reports health messages and makes notify sockets.
fn health_harness() -> (
    Harness,
    tokio::sync::mpsc::Receiver<crate::health::HealthMessage>,
) {
    let mut harness = Harness::new();
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    let notify_dir = harness.path("notify");
    harness.supervisor = Supervisor::new(SupervisorConfig {
        log_dir: harness.path("logs"),
        marks: None,
        cgroups: None,
        logs: Default::default(),
        health: Some(sender),
        notify_dir: Some(notify_dir),
    });
    (harness, receiver)
}

#[tokio::test(flavor = "current_thread")]
async fn exec_probes_run_in_the_programs_folder_and_environment_and_report_their_output() {
    let mut harness = Harness::new();
    let folder = harness.path("work");
    fs::create_dir(&folder).unwrap();
    let fields = format!(
        "startsecs = 0\ndirectory = \"{}\"\nenvironment = {{ PROBE_WORD = \"pong\" }}",
        folder.display()
    );
    let spec = harness.spec("probed", "exec sleep 100", &fields);
    harness.start(spec);
    harness
        .wait_for("RUNNING", |harness| {
            harness.state("probed") == ProcessState::Running
        })
        .await;
    let target = harness.status("probed").pid.unwrap();
    // (argv, ok, output expected)
    let cases: [(&[&str], bool, &str); 4] = [
        (
            &["sh", "-c", "echo \"$PROBE_WORD from $(pwd)\""],
            true,
            "pong from ",
        ),
        (
            &["sh", "-c", "echo refused >&2; exit 3"],
            false,
            "refused (exit code 3)",
        ),
        (&["sh", "-c", "exit 1"], false, "exit code 1"),
        (&["/no/such/probe"], false, "cannot run the probe"),
    ];
    for (argv, ok, output) in cases {
        let argv: Vec<String> = argv.iter().map(|word| word.to_string()).collect();
        harness
            .supervisor
            .spawn_probe("probed", &argv, Duration::from_secs(10), Instant::now());
        let mut outcomes = Vec::new();
        harness
            .wait_for("the probe's outcome", |harness| {
                !harness.supervisor.context.probe_outcomes.is_empty()
            })
            .await;
        outcomes.extend(harness.supervisor.take_probe_outcomes());
        let outcome = &outcomes[0];
        assert_eq!(outcome.pid, target, "{argv:?}");
        assert_eq!(outcome.ok, ok, "{argv:?}: {outcome:?}");
        assert!(outcome.output.contains(output), "{argv:?}: {outcome:?}");
        if ok {
            assert!(
                outcome.output.ends_with(folder.to_str().unwrap()),
                "{outcome:?}"
            );
        }
    }
    assert!(!harness.supervisor.has_processes() || harness.supervisor.context.probes.is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn an_exec_probe_past_its_timeout_is_killed_with_its_group_and_its_output_is_bounded() {
    let mut harness = Harness::new();
    let spec = harness.spec("slow", "exec sleep 100", "startsecs = 0");
    harness.start(spec);
    harness
        .wait_for("RUNNING", |harness| {
            harness.state("slow") == ProcessState::Running
        })
        .await;
    let pids = harness.path("probe-pids");
    // The probe prints 100 KiB (more than a pipe holds), leaves a grandchild in its group,
    // and hangs.
    let script = format!(
        "head -c 102400 /dev/zero | tr '\\0' x; sleep 100 & echo $! > {}; sleep 100",
        pids.display()
    );
    let argv = vec!["sh".to_string(), "-c".to_string(), script];
    let began = Instant::now();
    harness
        .supervisor
        .spawn_probe("slow", &argv, Duration::from_millis(500), began);
    harness
        .wait_for("the probe's outcome", |harness| {
            !harness.supervisor.context.probe_outcomes.is_empty()
        })
        .await;
    assert!(began.elapsed() >= Duration::from_millis(500));
    let outcome = harness.supervisor.take_probe_outcomes().remove(0);
    assert!(!outcome.ok);
    assert!(
        outcome.output.starts_with("timed out after 0.5s: xxx"),
        "{outcome:?}"
    );
    assert!(outcome.output.len() <= crate::health::state::MAX_OUTPUT);
    let grandchild = harness.pids_in("probe-pids");
    assert_eq!(grandchild.len(), 1);
    let start = harness.adopt(grandchild[0]);
    harness
        .wait_for("the grandchild to be gone", |_| {
            !alive(grandchild[0], start)
        })
        .await;
    // Stopping the program cancels a probe that runs: no outcome comes.
    let hang = vec!["sleep".to_string(), "100".to_string()];
    harness
        .supervisor
        .spawn_probe("slow", &hang, Duration::from_secs(100), Instant::now());
    harness.supervisor.cancel_probes("slow");
    harness
        .wait_for("the cancelled probe to be reaped", |harness| {
            harness.supervisor.context.probes.is_empty()
        })
        .await;
    assert!(harness.supervisor.take_probe_outcomes().is_empty());
}

#[tokio::test(flavor = "current_thread")]
async fn a_ready_line_is_seen_even_in_a_log_that_never_rotates() {
    let (mut harness, mut messages) = health_harness();
    let spec = harness.spec(
        "liner",
        "echo booting; sleep 0.2; echo 'now listening on 8080'; exec sleep 100",
        "startsecs = 0\nready_log_line = \"listening on\"\nstdout_logfile_maxbytes = 0",
    );
    harness.start(spec);
    let pid = harness.status("liner").pid.unwrap();
    let message = tokio::time::timeout(TIMEOUT, messages.recv())
        .await
        .expect("a message in time")
        .expect("a message");
    assert_eq!(
        message,
        crate::health::HealthMessage::LogLine {
            name: "liner".into(),
            pid
        }
    );
    let log = harness.log("liner", Stream::Stdout);
    harness
        .wait_for("both lines in the log", |harness| {
            harness.read(&log) == "booting\nnow listening on 8080\n"
        })
        .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_notify_socket_is_made_for_each_process_and_removed_with_it() {
    let (mut harness, mut messages) = health_harness();
    let spec = harness.spec(
        "notifier",
        "python3 -c 'import os, socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b\"READY=1\\nSTATUS=up \" + os.environ[\"WATCHDOG_USEC\"].encode(), os.environ[\"NOTIFY_SOCKET\"])'; exec sleep 100",
        "startsecs = 0\nnotify = true\nwatchdog_sec = 2.5",
    );
    harness.start(spec.clone());
    let pid = harness.status("notifier").pid.unwrap();
    let message = tokio::time::timeout(TIMEOUT, messages.recv())
        .await
        .expect("a message in time")
        .expect("a message");
    let crate::health::HealthMessage::Notify {
        name,
        pid: from,
        message,
    } = message
    else {
        panic!("not a notify message: {message:?}");
    };
    assert_eq!((name.as_str(), from), ("notifier", pid));
    assert!(message.ready);
    assert_eq!(message.status.as_deref(), Some("up 2500000"));
    let folder = harness.path("notify");
    let sockets = || -> Vec<PathBuf> {
        fs::read_dir(&folder)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| entry.path())
                    .filter(|path| path.extension().is_some_and(|ext| ext == "sock"))
                    .collect()
            })
            .unwrap_or_default()
    };
    let first = sockets();
    assert_eq!(first.len(), 1, "{first:?}");
    let mode = fs::metadata(&folder).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o711);
    let mode = fs::metadata(&first[0]).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A restart: a new socket; the old one is gone.
    harness.restart(spec);
    harness
        .wait_for("a new process", |harness| {
            harness.status("notifier").pid.is_some_and(|new| new != pid)
                && harness.state("notifier") == ProcessState::Running
        })
        .await;
    let second = sockets();
    assert_eq!(second.len(), 1, "{second:?}");
    assert_ne!(first, second);
    harness.stop("notifier");
    harness
        .wait_for("STOPPED", |harness| {
            harness.state("notifier") == ProcessState::Stopped
        })
        .await;
    assert!(sockets().is_empty());
    drop(harness);
    assert!(!folder.exists(), "the folder goes with the supervisor");
}

/// Removes a test's cgroup tree (and ends what is in it) when dropped, even when the test fails.
struct TreeGuard(cgroup::Cgroups);

impl Drop for TreeGuard {
    fn drop(&mut self) {
        self.0.close(Duration::from_secs(10));
    }
}

/// A child spawned into its cgroup: cloned into it, or, once the cgroup was killed (Linux
/// SIGKILLs children cloned into a cgroup that was ever `cgroup.kill`ed), joined by a write.
/// A leaf found already there (a program made again while its old cgroup lingers) counts as
/// killed.
#[tokio::test(flavor = "current_thread")]
async fn a_child_joins_its_cgroup_whether_the_cgroup_was_killed_or_not() {
    assert!(
        geteuid().is_root(),
        "this test makes cgroups: run it as root with a cgroup v2 hierarchy (CI does)"
    );
    let harness = Harness::new();
    let state = harness.path(&format!("state-{}", std::process::id()));
    fs::create_dir_all(&state).unwrap();
    let tree = TreeGuard(cgroup::Cgroups::create(&state).expect("a writable cgroup v2 hierarchy"));
    let spec = harness.spec("joined", "exec sleep 1000", "");
    let spawn_into = |leaf: &cgroup::Leaf| {
        let out = fs::File::create(harness.path("stdout")).unwrap();
        let prepared = spawn::prepare(
            &spec.process,
            spawn::Output::File(out.into()),
            None,
            &[],
            Some(leaf.join()),
        )
        .unwrap();
        let mut table = reap::children();
        let pid = prepared.spawn().unwrap();
        table.register(i32::try_from(pid).unwrap(), false);
        pid
    };
    let runs_inside = |pid: u32, leaf: &cgroup::Leaf| {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let name = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            if name.starts_with("Name:\tsleep") && leaf.members() == [pid] {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{pid} does not run sleep in its cgroup: {:?}, {name:.40}",
                leaf.members()
            );
            std::thread::sleep(POLL);
        }
    };
    let end = |pid: u32| {
        let raw = i32::try_from(pid).unwrap();
        let _ = kill(Pid::from_raw(raw), Signal::SIGKILL);
        let deadline = Instant::now() + TIMEOUT;
        while reap::children()
            .reap(|other| other == raw, |_, _| {})
            .is_empty()
        {
            assert!(Instant::now() < deadline, "{pid} was not reaped");
            std::thread::sleep(POLL);
        }
    };

    let fresh = tree.0.leaf("joined").unwrap();
    assert!(!fresh.was_killed());
    let first = spawn_into(&fresh);
    runs_inside(first, &fresh);
    tree.0.kill("joined");
    fresh.mark_killed();
    let deadline = Instant::now() + TIMEOUT;
    while !fresh.members().is_empty() {
        assert!(
            Instant::now() < deadline,
            "cgroup.kill left {:?}",
            fresh.members()
        );
        std::thread::sleep(POLL);
    }
    end(first);
    // The same leaf, killed: the next child still runs (it joins by the write).
    let second = spawn_into(&fresh);
    runs_inside(second, &fresh);
    let started = process_start_time(second).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        alive(second, started),
        "a child of a killed cgroup was killed"
    );
    end(second);
    // Found again (as after a removal and a new program of the same name): taken as killed.
    drop(fresh);
    let again = tree.0.leaf("joined").unwrap();
    assert!(again.was_killed());
    let third = spawn_into(&again);
    runs_inside(third, &again);
    end(third);
    drop(again);
    // Made afresh once empty: cloned into again.
    assert!(tree.0.remove_leaf("joined"));
    let remade = tree.0.leaf("joined").unwrap();
    assert!(!remade.was_killed());
    let fourth = spawn_into(&remade);
    runs_inside(fourth, &remade);
    end(fourth);
}
