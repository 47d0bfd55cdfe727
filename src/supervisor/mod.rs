//! The supervisor: the only code that spawns processes, signals, waits, switches user and
//! captures logs. It turns [`ProgramSpec`]s into living processes and keeps them as asked, with
//! supervisord's state machine (SPEC §5). It decides nothing about *which* programs run (that is
//! the reconcile plan's job); it runs, watches and stops the ones it is told to.
//!
//! Files: [`state`] (states, transitions, restart policy: pure), `job` (the runtime handle of
//! one program), `spawn` (clone/exec, user switch), `reap` (the child table and the `waitid`
//! loop), [`cgroup`] (a cgroup v2 leaf per program), [`marks`] (the fallback: marks in the
//! environment), `contain` (what a stop, an exit, a removal do with all of a program's
//! processes), `leftover` (the last run's processes after a crash; the forced shutdown),
//! [`logs`] (direct log files, capture, rotation, tail), `probe` (exec health probes: short
//! processes run for a program, reaped here too), `deadlines` (the jobs' and probes' deadlines
//! in order: pure), `tests` (real processes; they
//! live in the library's test binary because reaping with `waitid(P_ALL)` would steal the
//! children of `std::process::Command`s run by other integration tests in a shared binary).
//!
//! # Design decisions
//!
//! - **Runtime.** The daemon runs a tokio `current_thread` runtime (with IO and time enabled);
//!   every spawn and every reap happen on that one thread. `tokio::process` is never used (it
//!   has its own SIGCHLD handling and would reap our children). Processes are made by
//!   [`spawn`]: `clone(CLONE_VM | CLONE_VFORK | CLONE_FILES)` and, in the child, only system
//!   calls (its own small descriptor table, stdio, working folder, process group, `umask`,
//!   for another user `setgroups` (list computed before the clone with `getgrouplist`),
//!   `setgid`, `setuid`, every signal reset, `execve`). With `user` set, HOME, USER, LOGNAME
//!   and SHELL are that user's; the program's `environment` still wins. A daemon that is not
//!   root asked for another user fails that program (FATAL, `last_error`) without spawning.
//! - **Reaping: one mechanism.** A SIGCHLD wakes the loop, which calls
//!   [`Supervisor::reap`]. The daemon blocks SIGCHLD in every thread ([`block_child_signal`],
//!   first thing in `serve`) and reads it from a signalfd on its own reactor ([`ChildSignal`]):
//!   no handler, and no hop through the API thread's runtime, which tokio's `signal()` made
//!   (the tests' supervisors, in a shared test binary, use tokio's). The reap is `waitid(P_ALL, WEXITED|WNOHANG|WNOWAIT)` then `waitpid(pid)`
//!   until no child has ended, mapping pids to jobs; unknown pids (orphaned grandchildren: the
//!   daemon is a child subreaper, see [`become_subreaper`]) are just reaped. It cannot race
//!   the spawn, which waits for its child only when exec fails, synchronously, on the same
//!   thread and under the same child-table lock as the reaper, so the reaper never runs in
//!   between. Nothing else in the process may wait for children.
//! - **Time is an input.** No method reads the clock to decide anything: each takes `now`.
//!   [`Supervisor::next_deadline`] (O(1): the jobs' deadlines are kept in order by
//!   `deadlines`, updated after each change of a job; debug builds check them against a scan)
//!   tells the loop when to call [`Supervisor::on_deadline`]
//!   (STARTING → RUNNING after `startsecs`, a BACKOFF retry, SIGKILL after `stopwaitsecs`, a
//!   held-back restart): no periodic tick, no polling. (`started_at`, wall-clock time for
//!   display only, is read at spawn.)
//! - **Restarts and CPU.** An exit before `startsecs` goes to BACKOFF and is retried after 1 s,
//!   2 s, 3 s … up to `startretries`, then FATAL. An exit after RUNNING restarts *at once*
//!   when `autorestart` says so (a death by signal is unexpected). What bounds the CPU a crash
//!   loop costs: every restart is paid for either by `startsecs` of uptime (to have reached
//!   RUNNING) or by a backoff delay. For `startsecs = 0` (or tiny), a [`RestartBudget`] allows
//!   at most 20 immediate restarts per second; past it the job waits in EXITED for 1 s.
//!   Across programs, one turn of the loop (one reap or deadline call) makes at most
//!   [`AUTOMATIC_STARTS_PER_TURN`] automatic starts; the rest are due at once and made in the
//!   next turns, oldest first, so requests are answered between them during a crash storm.
//! - **What counts as started.** STARTING becomes RUNNING when the process is seen alive
//!   after `startsecs`: [`Supervisor::on_deadline`] collects the exits that already happened
//!   before it confirms anyone, and an exit collected later counts as a run only if the reap
//!   before it found the process alive after `startsecs`. Judging by when an exit is *seen*
//!   made a crash loop RUNNING whenever the loop was busier than `startsecs` (a loaded
//!   machine), so it never ended FATAL. BACKOFF says why in `last_error` (`retry 2 of 3: exit
//!   code 3 before startsecs (1s)`), cleared once a start succeeds. With `autorestart = false`
//!   an expected exit before `startsecs` is a finished one-shot: EXITED, not a failed start.
//! - **Stop.** STOPPING, `stopsignal` to the process group and to the program's processes
//!   that left it (`stopasgroup`: its cgroup's, or the marked ones, looked up before the
//!   group is signalled) or to the pid; after `stopwaitsecs`, SIGKILL to the whole program
//!   (`killasgroup`: the group and `cgroup.kill`) or the pid; STOPPED once reaped. Whenever a
//!   main process ends (stop or crash), what the program has left is counted and, with
//!   `killasgroup`, SIGKILLed — its process group, its cgroup, its marked processes — like
//!   systemd's `KillMode=control-group`: no descendant survives its program, `setsid` and
//!   double forks included. This is done while the leader is still an unreaped zombie (a hook
//!   of the reaper), so the group id cannot have been reused. An exit that was not asked for
//!   and left processes sets `last_error` ("left 2 processes; does it daemonize? run it in the
//!   foreground"). With `killasgroup = false` what it left keeps running (and is counted) until
//!   the job is removed or the daemon ends ([`Supervisor::close`]). Stopping a BACKOFF job
//!   cancels the retry → STOPPED.
//! - **Spawn errors** (missing binary or folder, unknown user, permission, not root) → FATAL at
//!   once, with `last_error` naming the program and the cause; never a panic.
//! - **Logs**: see [`logs`]. A log that never rotates (`maxbytes = 0`) is opened by the
//!   daemon and given to the program as its stdout/stderr (direct mode: the daemon is out of
//!   the data path), unless a pipe still feeds that file. Every other log is captured: pipes
//!   read with `AsyncFd`, `splice(2)` into the file, size rotation, disk-full tolerance.
//!   Capture tasks are spawned with `tokio::spawn` (on the `current_thread` runtime they run
//!   on the loop's thread; no `LocalSet` is needed). The mode is chosen at each start, so a
//!   change of `maxbytes` applies with the restart it causes.
//! - **One child table per process.** `waitid(P_ALL)` sees every child of the process, so the
//!   table of children is process-wide (`reap::children`), behind a mutex that is uncontended
//!   in the daemon. It lets several supervisors share a process (the tests run one per test
//!   thread): an exit collected by one is parked for its owner.
//! - **restarts** counts automatic starts (autorestart, BACKOFF retries, restarts for health or
//!   the watchdog) over the job's life; asked-for starts and restarts are not counted (they are
//!   in the audit trail).
//! - **Health (SPEC §12).** The supervisor only provides what needs a process or a file
//!   descriptor: exec probes ([`Supervisor::spawn_probe`]: the program's user, folder and
//!   environment, a process group of their own, SIGKILL of the group at their timeout, output
//!   kept for `last_probe`, results from [`Supervisor::take_probe_outcomes`]); for a program
//!   with `notify = true`, a notify socket per process (`$NOTIFY_SOCKET`, `$WATCHDOG_USEC`;
//!   `health::notify`), removed with the process; for a program with `ready_log_line`, its
//!   output captured (even with `maxbytes = 0`) and scanned for the line until it is seen;
//!   and restarts for health ([`Supervisor::restart_for`]). The daemon decides when.
//!
//! # Driving it
//!
//! ```no_run
//! # async fn run(mut supervisor: hoody_daemon::supervisor::Supervisor) -> std::io::Result<()> {
//! use std::time::Instant;
//! use tokio::signal::unix::{SignalKind, signal};
//! let mut sigchld = signal(SignalKind::child())?; // before the first spawn
//! loop {
//!     let deadline = supervisor.next_deadline();
//!     tokio::select! {
//!         _ = sigchld.recv() => { supervisor.reap(Instant::now()); }
//!         _ = sleep_until(deadline) => { supervisor.on_deadline(Instant::now()); }
//!     }
//! }
//! # }
//! # async fn sleep_until(deadline: Option<std::time::Instant>) {
//! #     match deadline {
//! #         Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
//! #         None => std::future::pending().await,
//! #     }
//! # }
//! ```

pub mod budget;
mod captures;
pub mod cgroup;
mod clone3;
pub mod console;
mod contain;
mod deadlines;
mod job;
mod leftover;
pub mod limits;
pub mod lines;
mod logfile;
pub mod logread;
pub mod logs;
pub mod marks;
mod probe;
mod reap;
mod relay;
mod spawn;
pub mod stamp;
pub mod state;

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Instant, SystemTime};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::health::HealthMessage;
use crate::health::notify::{NotifyDir, NotifySocket};
use crate::spec::{LogSpec, ProgramSpec, Stream, UserSpec};

use captures::Captures;
use cgroup::Cgroups;
use contain::Containment;
use deadlines::Deadlines;
use job::{AfterStop, Job};
use logs::{LineWatch, LogWriter, SharedWriter, Tap};
use marks::Marks;
use probe::ProbeRun;
use spawn::Output;

pub use contain::{Counts, Mechanism, Processes};
pub use job::{JobStatus, JobView, LAST_STDERR_BYTES, LAST_STDERR_LINES, RestartBudget};
pub use leftover::{Leftovers, Recorded};
pub use logs::{rotated_path, tail};
pub use probe::ProbeOutcome;
pub use reap::{ChildSignal, become_subreaper, block_child_signal, process_start_time};
pub use spawn::{DAEMON_VARIABLE_PREFIX, SpawnError, is_daemon_variable, keep_high};
pub use state::{
    ALLOWED_TRANSITIONS, ExitInfo, ProcessState, Uptime, backoff_delay, can_transition,
    format_uptime, parse_signal, should_restart,
};

/// What the supervisor needs to know about the daemon.
#[derive(Debug, Clone)]
pub struct SupervisorConfig {
    /// Where "auto" logs go: `<log_dir>/<name>.stdout.log`.
    pub log_dir: PathBuf,
    /// Set in every process's environment, over the program's own: what finds a program's
    /// processes without a cgroup, and the last run's after a crash ([`marks`]).
    pub marks: Option<Marks>,
    /// A cgroup per program ([`cgroup`]), where the daemon could make its tree.
    pub cgroups: Option<Cgroups>,
    /// Timestamps, console copy and budget (SPEC §13).
    pub logs: LogOptions,
    /// Where health messages (a ready line seen, an sd_notify datagram) go; without it, no
    /// line is looked for and no notify socket is made.
    pub health: Option<mpsc::Sender<HealthMessage>>,
    /// The folder for notify sockets (`health::notify::NotifyDir::location`), made at the
    /// first program with `notify = true`.
    pub notify_dir: Option<PathBuf>,
}

/// The daemon-wide log settings of SPEC §13, as `serve` takes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// `--log-timestamps`: the default of `log_timestamps`.
    pub timestamps: bool,
    /// `--log-console` (and its format).
    pub console: Option<console::ConsoleFormat>,
    /// `--log-budget`, in bytes.
    pub budget: Option<u64>,
}

/// The log settings at work: the console's writer and the budget, when asked for.
#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    pub timestamps: bool,
    pub console: Option<console::Console>,
    pub budget: Option<Arc<budget::Budget>>,
}

impl LogOptions {
    /// Starts what the settings ask for (the console's thread); nothing for what they do not.
    pub fn start(settings: &LogSettings) -> std::io::Result<LogOptions> {
        Ok(LogOptions {
            timestamps: settings.timestamps,
            console: settings.console.map(console::Console::start).transpose()?,
            budget: settings
                .budget
                .map(|limit| Arc::new(budget::Budget::new(limit))),
        })
    }
}

/// One state change of one job, with a human reason (for the event stream and the log).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    pub name: String,
    pub from: ProcessState,
    pub to: ProcessState,
    pub reason: String,
}

/// Where one output stream goes.
enum Sink {
    /// Nowhere (`"none"`, or stderr with `redirect_stderr`).
    Discard,
    /// The log file itself, opened for appending (direct mode).
    Direct(std::os::fd::OwnedFd),
    /// A pipe into the file's writer (capture).
    Capture(SharedWriter),
}

/// A process just spawned, and what it took with it.
struct Spawned {
    pid: u32,
    /// Its captured log files.
    logs: Vec<SharedWriter>,
    /// Its notify socket, read until the process is gone.
    notify: Option<crate::health::notify::NotifyGuard>,
    /// Where its stderr goes (a regular file) and that file's length before it started.
    stderr_log: Option<(PathBuf, u64)>,
    /// Why its `memory_max` / `cpu_max` could not be set (it runs without them).
    limits_problem: Option<String>,
    /// Its cgroup's OOM kill count before it started.
    oom_kills: u64,
}

/// The jobs, by program name, and what they share.
#[derive(Debug)]
pub struct Supervisor {
    /// Boxed: a B-tree node is about half full after a boot in name order, and an inline
    /// `Job` (over 300 bytes) left half of each node empty.
    jobs: BTreeMap<String, Box<Job>>,
    /// The deadline of every job that waits for one ([`Job::deadline`]), kept by
    /// [`schedule`] after each change of a job: the loop's next wake-up without a scan of
    /// every job.
    deadlines: Deadlines<String>,
    context: Context,
}

/// The smallest size at which the table of log writers is swept of closed ones.
const WRITERS_SWEEP_MIN: usize = 64;

/// Everything but the jobs, so a job can be borrowed while this is.
#[derive(Debug)]
struct Context {
    log_dir: PathBuf,
    /// Where health messages go (see [`SupervisorConfig::health`]).
    health: Option<mpsc::Sender<HealthMessage>>,
    /// See [`SupervisorConfig::notify_dir`].
    notify_dir: Option<PathBuf>,
    /// See [`SupervisorConfig::logs`].
    logs: LogOptions,
    /// Where each program's processes are found ([`contain`]).
    containment: Containment,
    /// Jobs gone whose cgroup could not be removed yet (killed processes still going): tried
    /// again at each reap.
    doomed: Vec<String>,
    /// Live processes → their job, by the spec it was started with (whose name is the job's
    /// key): a shared pointer, where a copy of the name was an allocation per process.
    pids: HashMap<u32, Arc<ProgramSpec>>,
    /// Open log files by path, shared by every pipe that writes to them. Keyed by the
    /// writer's own path (shared).
    writers: HashMap<Arc<Path>, Weak<Mutex<LogWriter>>>,
    /// `writers` is swept of closed files when it reaches this size (then set to twice what
    /// is left): a sweep per start made a boot of N programs cost N² steps.
    sweep_writers_at: usize,
    /// When the last reap found every process it did not collect alive: the latest moment
    /// each of them is known to have been up (see `on_exit`).
    alive_at: Option<Instant>,
    /// Automatic starts (autorestarts, BACKOFF retries) made in this turn of the loop (one
    /// reap or deadline call); past [`AUTOMATIC_STARTS_PER_TURN`] the rest wait for the next.
    automatic_starts: u32,
    /// Exec probes that run now, by pid.
    probes: HashMap<u32, ProbeRun>,
    /// The timeouts of the probes not killed yet, by pid.
    probe_deadlines: Deadlines<u32>,
    /// Results of exec probes not yet taken by the daemon.
    probe_outcomes: Vec<ProbeOutcome>,
    /// The notify folder, once a program with `notify = true` has started.
    notify: Option<NotifyDir>,
    /// Every captured log pipe, drained by one task; made with the first captured start.
    captures: Option<Captures>,
}

/// At most this many automatic starts in one turn of the loop. Each spawn waits until its child
/// has exec'd, which on a loaded machine is the child's wait for a CPU: a crash storm of
/// hundreds of restarts handled in one turn kept every request waiting for seconds. The rest
/// are due at once and made in the next turns, between which the loop answers requests.
pub const AUTOMATIC_STARTS_PER_TURN: u32 = 16;

impl Supervisor {
    pub fn new(config: SupervisorConfig) -> Supervisor {
        spawn::prepare_daemon_process();
        Supervisor {
            jobs: BTreeMap::new(),
            deadlines: Deadlines::default(),
            context: Context {
                log_dir: config.log_dir,
                logs: config.logs,
                health: config.health,
                notify_dir: config.notify_dir,
                containment: Containment {
                    cgroups: config.cgroups,
                    marks: config.marks,
                },
                doomed: Vec::new(),
                pids: HashMap::new(),
                writers: HashMap::new(),
                sweep_writers_at: WRITERS_SWEEP_MIN,
                alive_at: None,
                automatic_starts: 0,
                probes: HashMap::new(),
                probe_deadlines: Deadlines::default(),
                probe_outcomes: Vec::new(),
                notify: None,
                captures: None,
            },
        }
    }

    /// Runs the program. A no-op if it is already STARTING/RUNNING with the same process spec
    /// (other fields are taken as by [`Supervisor::update_spec`]); with a different process
    /// spec it is a restart. A job in BACKOFF, FATAL, EXITED or STOPPED starts fresh (failed
    /// starts reset, `last_error` cleared); one STOPPING starts again once stopped.
    pub fn start(&mut self, spec: Arc<ProgramSpec>, now: Instant) -> Vec<StateChange> {
        let mut changes = Vec::new();
        let job = self
            .jobs
            .entry(spec.name.clone())
            .or_insert_with(|| Box::new(Job::new(spec.clone())));
        match job.state {
            ProcessState::Starting | ProcessState::Running => {
                if job.spec.process == spec.process {
                    apply_spec(job, spec);
                } else {
                    self.context.begin_stop(
                        job,
                        now,
                        "restart for a new process spec",
                        &mut changes,
                    );
                    job.after_stop = AfterStop::Start(spec);
                }
            }
            ProcessState::Stopping => job.after_stop = AfterStop::Start(spec),
            ProcessState::Stopped
            | ProcessState::Exited
            | ProcessState::Fatal
            | ProcessState::Backoff => {
                job.spec = spec;
                self.context
                    .fresh_start(job, now, "start requested", &mut changes);
            }
        }
        schedule(&mut self.deadlines, job);
        said(changes)
    }

    /// Stops the program: STOPPING then STOPPED once its process is reaped; a BACKOFF job
    /// becomes STOPPED at once; a pending restart is cancelled. A no-op if nothing runs.
    pub fn stop(&mut self, name: &str, now: Instant) -> Vec<StateChange> {
        let mut changes = Vec::new();
        if let Some(job) = self.jobs.get_mut(name) {
            job.after_stop = AfterStop::Nothing;
            self.context
                .begin_stop(job, now, "stop requested", &mut changes);
            schedule(&mut self.deadlines, job);
        }
        said(changes)
    }

    /// Graceful stop, then start with this (possibly new) spec.
    pub fn restart(&mut self, spec: Arc<ProgramSpec>, now: Instant) -> Vec<StateChange> {
        let Some(job) = self.jobs.get_mut(&spec.name) else {
            return self.start(spec, now);
        };
        let mut changes = Vec::new();
        match job.state {
            ProcessState::Starting | ProcessState::Running => {
                self.context
                    .begin_stop(job, now, "restart requested", &mut changes);
                job.after_stop = AfterStop::Start(spec);
            }
            ProcessState::Stopping => job.after_stop = AfterStop::Start(spec),
            _ => return self.start(spec, now),
        }
        schedule(&mut self.deadlines, job);
        said(changes)
    }

    /// Takes a new spec without touching the process: autorestart, exitcodes, timings (a
    /// changed `startsecs`/`stopwaitsecs` moves the pending deadline), stop settings apply to
    /// the live job. Process fields (command, user, environment, logs…) take effect at the
    /// next start; use [`Supervisor::restart`] to apply them now.
    pub fn update_spec(&mut self, spec: Arc<ProgramSpec>) {
        if let Some(job) = self.jobs.get_mut(&spec.name) {
            // New limits apply to the running program at once, as systemd applies them.
            if job.spec.limits != spec.limits
                && let Some(problem) = self.context.apply_limits(&spec, job.leaf.as_ref())
            {
                tracing::warn!(program = %spec.name, "{problem}");
                job.last_error = Some(problem);
            }
            apply_spec(job, spec);
            schedule(&mut self.deadlines, job);
        }
    }

    /// Stops the program and forgets it once STOPPED (at once if nothing runs).
    pub fn remove(&mut self, name: &str, now: Instant) -> Vec<StateChange> {
        let mut changes = Vec::new();
        let Some(job) = self.jobs.get_mut(name) else {
            return changes;
        };
        job.after_stop = AfterStop::Nothing;
        self.context
            .begin_stop(job, now, "program removed", &mut changes);
        if job.state == ProcessState::Stopping {
            job.after_stop = AfterStop::Remove;
            schedule(&mut self.deadlines, job);
        } else {
            self.jobs.remove(name);
            self.deadlines.remove(name);
            self.context.forget(name);
        }
        said(changes)
    }

    /// Collects every ended child (call it on SIGCHLD) and moves their jobs on. `now` is
    /// taken just before: every process not collected was alive then.
    pub fn reap(&mut self, now: Instant) -> Vec<StateChange> {
        self.context.automatic_starts = 0;
        let changes = self.collect_exits(now);
        self.context.end_turn(changes)
    }

    fn collect_exits(&mut self, now: Instant) -> Vec<StateChange> {
        // What each ended main process left behind, counted while it is still a zombie.
        let mut left: HashMap<i32, usize> = HashMap::new();
        let exits = {
            let context = &self.context;
            let jobs = &self.jobs;
            let job_of = |pid: i32| {
                u32::try_from(pid)
                    .ok()
                    .and_then(|pid| context.pids.get(&pid))
                    .and_then(|spec| jobs.get(&spec.name))
            };
            let probe =
                |pid: i32| u32::try_from(pid).is_ok_and(|pid| context.probes.contains_key(&pid));
            reap::children().reap(
                |pid| job_of(pid).is_some() || probe(pid),
                |pid, kill_group| match job_of(pid) {
                    Some(job) => {
                        left.insert(pid, context.end_rest(job, pid, kill_group));
                    }
                    // An exec probe, or another supervisor's child (tests): its group, as
                    // it asked.
                    None if kill_group => {
                        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                    }
                    None => {}
                },
            )
        };
        self.context.retry_doomed();
        let mut changes = Vec::new();
        for (pid, exit) in exits {
            let Ok(pid) = u32::try_from(pid) else {
                continue;
            };
            if let Some(run) = self.context.probes.remove(&pid) {
                self.context.probe_deadlines.remove(&pid);
                let cancelled = run.cancelled;
                let outcome = run.finish(exit);
                tracing::debug!(program = %outcome.name, probe = pid, ok = outcome.ok, output = %outcome.output, "exec probe ended");
                if !cancelled {
                    self.context.probe_outcomes.push(outcome);
                }
                continue;
            }
            let Some(spec) = self.context.pids.remove(&pid) else {
                continue;
            };
            let name = &spec.name;
            let Some(job) = self.jobs.get_mut(name) else {
                tracing::error!(pid, program = %name, "reaped a process of a job that is gone");
                continue;
            };
            let left = i32::try_from(pid)
                .ok()
                .and_then(|pid| left.get(&pid).copied())
                .unwrap_or(0);
            if self.context.on_exit(job, exit, left, now, &mut changes) {
                self.jobs.remove(name);
                self.deadlines.remove(name.as_str());
                self.context.forget(name);
            } else {
                schedule(&mut self.deadlines, job);
            }
            // After what the exit caused (a restart is spawned by now), as the state changes.
            tracing::info!(program = %name, pid, %exit, "process ended");
        }
        self.context.alive_at = Some(now);
        changes
    }

    /// Acts on every deadline that has come (see [`Supervisor::next_deadline`]). Exits that
    /// already happened are collected first, so a STARTING job is confirmed RUNNING only when
    /// its process is seen alive after `startsecs`, however late the loop gets to it.
    pub fn on_deadline(&mut self, now: Instant) -> Vec<StateChange> {
        self.context.automatic_starts = 0;
        let mut changes = self.collect_exits(now);
        // The longest-due first: with the turn's starts limited, none waits behind the others.
        for name in self.deadlines.due(now) {
            if let Some(job) = self.jobs.get_mut(&name) {
                self.context.deadline_reached(job, now, &mut changes);
                schedule(&mut self.deadlines, job);
            }
        }
        for pid in self.context.probe_deadlines.due(now) {
            self.context.probe_deadlines.remove(&pid);
            if let Some(run) = self.context.probes.get_mut(&pid)
                && !run.killed
                && run.deadline <= now
            {
                tracing::debug!(program = %run.name, probe = pid, "exec probe timed out; killing its process group");
                kill_probe(pid, run);
            }
        }
        self.context.end_turn(changes)
    }

    /// The earliest instant at which [`Supervisor::on_deadline`] has something to do. O(1):
    /// read from the deadlines kept in order, not from a scan of the jobs.
    pub fn next_deadline(&self) -> Option<Instant> {
        #[cfg(debug_assertions)]
        self.check_deadlines();
        [self.deadlines.next(), self.context.probe_deadlines.next()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Debug builds: the deadlines kept are exactly what a scan of every job and probe finds
    /// (a change of a job that forgot [`schedule`] would make the loop sleep through it).
    #[cfg(debug_assertions)]
    fn check_deadlines(&self) {
        let kept: Vec<(&str, Instant)> = self
            .deadlines
            .entries()
            .map(|(name, at)| (name.as_str(), at))
            .collect();
        let scanned: Vec<(&str, Instant)> = self
            .jobs
            .iter()
            .filter_map(|(name, job)| job.deadline().map(|at| (name.as_str(), at)))
            .collect();
        assert_eq!(kept, scanned, "the jobs' deadlines kept differ from a scan");
        let mut probes: Vec<(u32, Instant)> = self
            .context
            .probes
            .iter()
            .filter(|(_, run)| !run.killed)
            .map(|(pid, run)| (*pid, run.deadline))
            .collect();
        probes.sort();
        let kept: Vec<(u32, Instant)> = self
            .context
            .probe_deadlines
            .entries()
            .map(|(pid, at)| (*pid, at))
            .collect();
        assert_eq!(
            kept, probes,
            "the probes' deadlines kept differ from a scan"
        );
    }

    /// Runs an exec probe for the program's current process: `argv` as the program's user, in
    /// its folder and environment, its stdout and stderr kept for the outcome, SIGKILLed with
    /// its process group after `timeout`. Its outcome comes from
    /// [`Supervisor::take_probe_outcomes`] once it is reaped; a probe that cannot be spawned
    /// has its outcome there at once.
    pub fn spawn_probe(
        &mut self,
        name: &str,
        argv: &[String],
        timeout: std::time::Duration,
        now: Instant,
    ) {
        let Some(job) = self.jobs.get(name) else {
            return;
        };
        let Some(target_pid) = job.pid else {
            return;
        };
        if let Err(error) = self
            .context
            .spawn_probe(job, target_pid, argv, timeout, now)
        {
            self.context.probe_outcomes.push(ProbeOutcome {
                name: name.to_string(),
                pid: target_pid,
                ok: false,
                output: format!("cannot run the probe: {error}"),
            });
        }
    }

    /// Ends the exec probes of a program (its process went): SIGKILL to their groups, and
    /// their outcomes are dropped.
    pub fn cancel_probes(&mut self, name: &str) {
        for (pid, run) in &mut self.context.probes {
            if run.name == name {
                run.cancelled = true;
                if !run.killed {
                    kill_probe(*pid, run);
                    self.context.probe_deadlines.remove(pid);
                }
            }
        }
    }

    /// The outcomes of the exec probes reaped since the last call.
    pub fn take_probe_outcomes(&mut self) -> Vec<ProbeOutcome> {
        std::mem::take(&mut self.context.probe_outcomes)
    }

    /// Restarts a program because of its health (unhealthy, or its watchdog expired): a
    /// graceful stop, then a start that counts as an automatic one and keeps `reason` as the
    /// job's `last_error`. A no-op unless it is STARTING or RUNNING.
    pub fn restart_for(&mut self, name: &str, reason: &str, now: Instant) -> Vec<StateChange> {
        let mut changes = Vec::new();
        let Some(job) = self.jobs.get_mut(name) else {
            return changes;
        };
        if !matches!(job.state, ProcessState::Starting | ProcessState::Running) {
            return changes;
        }
        tracing::warn!(program = %name, %reason, "restarting");
        job.last_error = Some(reason.to_string());
        self.context
            .begin_stop(job, now, &format!("restart: {reason}"), &mut changes);
        job.after_stop = AfterStop::Recover(job.spec.clone(), reason.to_string());
        schedule(&mut self.deadlines, job);
        said(changes)
    }

    pub fn status(&self, name: &str, now: Instant) -> Option<JobStatus> {
        self.jobs.get(name).map(|job| job.status(now))
    }

    /// A job's status borrowed from it: [`Supervisor::status`] without the copies, for answers
    /// that show every job. Its processes are not counted here: [`Supervisor::processes`].
    pub fn view(&self, name: &str, now: Instant) -> Option<JobView<'_>> {
        Some(self.jobs.get(name)?.view(now))
    }

    /// How the processes of every job are found for a status of all of them: one scan of the
    /// marks for all jobs (marks), or nothing up front (each job's cgroup, or its main
    /// process).
    pub fn process_counts(&self) -> Counts {
        self.context.containment.counts()
    }

    /// The live processes of a job, found now (SPEC §11, §14): its cgroup's members (one
    /// `pread` of its `cgroup.procs`, which its figures are then read from), else the count
    /// of its marks (from `counts` when that is a scan of all of them), else its main process.
    /// `counts`: [`Supervisor::process_counts`] for a status of all, `None` for one job.
    pub fn processes(&self, name: &str, counts: Option<&Counts>) -> Processes {
        let Some(job) = self.jobs.get(name) else {
            return Processes::Count(0);
        };
        if let Some(leaf) = &job.leaf {
            return Processes::Members(leaf.members());
        }
        Processes::Count(match (counts, self.mechanism()) {
            (Some(Counts::Scanned(counts)), _) => counts.get(name).copied().unwrap_or(0),
            (None, Mechanism::Marks) => self.context.containment.count(name, None).unwrap_or(0),
            // No cgroup of its own (cgroups could not be made for it) and no marks.
            _ => usize::from(job.pid.is_some()),
        })
    }

    /// Where a job's `cpu_seconds` count from: its cgroup's `usage_usec` just before its
    /// process was cloned into it ([`cgroup::Leaf::cpu_base`]); `None` without a cgroup or
    /// when its `cpu.stat` could not be read (the figures then come from `/proc/PID/stat`).
    pub fn cpu_base(&self, name: &str) -> Option<u64> {
        self.jobs.get(name)?.leaf.as_ref()?.cpu_base()
    }

    /// The cgroup folder of a job, when it has one (for its limits and OOM counts).
    pub fn cgroup_path(&self, name: &str) -> Option<PathBuf> {
        let job = self.jobs.get(name)?;
        job.leaf.as_ref()?;
        self.context
            .containment
            .cgroups
            .as_ref()
            .map(|cgroups| cgroups.leaf_path(name))
    }

    /// The last stderr lines of a job's last process when it exited or failed (EXITED,
    /// BACKOFF, FATAL), read from its log now: at most [`LAST_STDERR_LINES`] lines and
    /// [`LAST_STDERR_BYTES`] bytes, only what that process wrote. `None` otherwise, and for a
    /// process that never ran (a spawn error). Nothing is kept in memory for it.
    pub fn last_stderr(&self, name: &str) -> Option<String> {
        self.jobs.get(name)?.last_stderr()
    }

    /// Whether a job of this name exists (cheaper than [`Supervisor::status`]: nothing is built).
    pub fn has_job(&self, name: &str) -> bool {
        self.jobs.contains_key(name)
    }

    /// The live processes, as (job name, pid), by name. Nothing is allocated: the daemon checks
    /// this against its record after every event.
    pub fn pids(&self) -> impl Iterator<Item = (&str, u32)> + '_ {
        self.jobs
            .iter()
            .filter_map(|(name, job)| job.pid.map(|pid| (name.as_str(), pid)))
    }

    /// Every job's status, by name.
    pub fn statuses(&self, now: Instant) -> impl Iterator<Item = JobStatus> + '_ {
        self.jobs.values().map(move |job| job.status(now))
    }

    /// Every job's status borrowed, with its name, in name order (each view is made as the
    /// iterator reaches it; processes are asked apart, [`Supervisor::processes`]).
    pub fn views(&self, now: Instant) -> impl Iterator<Item = (&str, JobView<'_>)> + '_ {
        self.jobs
            .iter()
            .map(move |(name, job)| (name.as_str(), job.view(now)))
    }

    /// How this supervisor finds the processes of a program.
    pub fn mechanism(&self) -> Mechanism {
        self.context.containment.mechanism()
    }

    /// The daemon ends: whatever is left of any program (processes that outlived their main
    /// one with `killasgroup = false`, killed processes still going) is killed, and the cgroups
    /// are removed, waiting at most `patience`. Returns whether everything is gone.
    pub fn close(&mut self, patience: std::time::Duration) -> bool {
        self.jobs.clear();
        self.deadlines.clear();
        self.context.probe_deadlines.clear();
        self.context.doomed.clear();
        self.context.containment.close(patience)
    }

    /// Some job is between two steady states (STARTING, STOPPING, BACKOFF, or a held-back
    /// restart): a shutdown waits for this to clear.
    pub fn is_busy(&self) -> bool {
        self.jobs.values().any(|job| {
            matches!(
                job.state,
                ProcessState::Starting | ProcessState::Stopping | ProcessState::Backoff
            ) || job.retry_at.is_some()
        })
    }

    /// Some job has a live process (STARTING, RUNNING or STOPPING), or an exec probe runs.
    pub fn has_processes(&self) -> bool {
        !self.context.pids.is_empty() || !self.context.probes.is_empty()
    }

    /// Sends `signal` to the job's process, only to it (as supervisord's `signalProcess` does;
    /// stop signals go to the group by `stopasgroup`). It must have one: STARTING, RUNNING or
    /// STOPPING. Returns the pid signalled.
    pub fn signal(&self, name: &str, signal: Signal) -> Result<u32, SignalRefused> {
        let job = self.jobs.get(name).ok_or(SignalRefused::NotRunning)?;
        let pid = match (job.state.has_process(), job.pid) {
            (true, Some(pid)) => pid,
            _ => return Err(SignalRefused::NotRunning),
        };
        let target = i32::try_from(pid).map_err(|_| SignalRefused::NotRunning)?;
        kill(Pid::from_raw(target), signal)
            .map_err(|errno| SignalRefused::Failed(errno.desc().to_string()))?;
        tracing::info!(program = %name, pid, ?signal, "signalled");
        Ok(pid)
    }

    /// Empties a log file (supervisord's `clearProcessLogs`): truncated in place, so a program
    /// that holds the file itself (direct mode) goes on writing into the file people read, and
    /// a captured log's writer goes on from its start (it writes at its own offset, which an
    /// outside truncation would leave behind, making a hole). Rotated files (`file.1` …) are
    /// kept, as supervisord keeps them. A file that does not exist is left so; a symlink at
    /// the path is not followed.
    pub fn clear_log(&mut self, path: &Path) -> io::Result<()> {
        if let Some(writer) = self.context.writers.get(path).and_then(Weak::upgrade) {
            return logs::lock(&writer).clear();
        }
        logs::truncate_existing(path)
    }
}

/// Why [`Supervisor::signal`] sent nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalRefused {
    /// No process: not started, stopped, exited, in BACKOFF or FATAL.
    NotRunning,
    /// `kill` failed.
    Failed(String),
}

impl Drop for Supervisor {
    /// The processes are left running (the daemon's next start finds them by pid and start
    /// time); they are only taken out of the process-wide child table.
    fn drop(&mut self) {
        let mut table = reap::children();
        for pid in self.context.pids.keys().chain(self.context.probes.keys()) {
            if let Ok(pid) = i32::try_from(*pid) {
                table.forget(pid);
            }
        }
    }
}

/// Keeps the job's entry in `deadlines` equal to [`Job::deadline`]: called after every change
/// of a job (a start, a stop, an exit, a deadline acted on, a new spec). No allocation when
/// the deadline did not move, as for a restart with `startsecs = 0`.
fn schedule(deadlines: &mut Deadlines<String>, job: &Job) {
    deadlines.set(job.spec.name.as_str(), job.deadline());
}

fn apply_spec(job: &mut Job, spec: Arc<ProgramSpec>) {
    if let Some(pid) = job.pid.and_then(|pid| i32::try_from(pid).ok()) {
        reap::children().set_kill_group_on_exit(pid, spec.killasgroup);
    }
    if let AfterStop::Start(pending) | AfterStop::Recover(pending, _) = &mut job.after_stop {
        *pending = spec.clone();
    }
    job.spec = spec;
}

/// Moves a job to `to` if the table allows it; a refused transition is a bug, logged, and the
/// job stays where it is. The change is logged by the public method that returns it
/// ([`said`]), after what that call spawns.
fn transition(
    job: &mut Job,
    to: ProcessState,
    reason: impl Into<String>,
    changes: &mut Vec<StateChange>,
) -> bool {
    let from = job.state;
    let reason = reason.into();
    if !can_transition(from, to) {
        tracing::error!(program = %job.spec.name, %from, %to, %reason, "refused state transition (a bug)");
        return false;
    }
    job.state = to;
    changes.push(StateChange {
        name: job.spec.name.clone(),
        from,
        to,
        reason,
    });
    true
}

/// Logs the state changes a public method returns, as it returns them. Not at each
/// transition: a restart's RUNNING → EXITED is then written after its new process is spawned,
/// not on the way to it (two formatted lines and two writes were about 30 µs of a restart;
/// docs/PERFORMANCE.md, "Restart after kill -9").
fn said(changes: Vec<StateChange>) -> Vec<StateChange> {
    for change in &changes {
        tracing::info!(program = %change.name, from = %change.from, to = %change.to, reason = %change.reason, "state change");
    }
    changes
}

impl Context {
    /// A start asked for (not an automatic one): the failure history is reset.
    fn fresh_start(
        &mut self,
        job: &mut Job,
        now: Instant,
        reason: &str,
        changes: &mut Vec<StateChange>,
    ) {
        job.failed_starts = 0;
        job.last_error = None;
        job.budget = RestartBudget::new();
        self.launch(job, now, reason, changes);
    }

    /// → STARTING with a new process, or → FATAL if it cannot be spawned.
    fn launch(
        &mut self,
        job: &mut Job,
        now: Instant,
        reason: &str,
        changes: &mut Vec<StateChange>,
    ) {
        if !can_transition(job.state, ProcessState::Starting) {
            tracing::error!(program = %job.spec.name, from = %job.state, "cannot start from this state (a bug)");
            return;
        }
        job.retry_at = None;
        job.deferred = false;
        job.stop_requested = None;
        job.killed = false;
        match self.spawn_process(&job.spec, &mut job.leaf) {
            Ok(Spawned {
                pid,
                logs,
                notify,
                stderr_log,
                limits_problem,
                oom_kills,
            }) => {
                job.oom_kills = oom_kills;
                if let Some(problem) = limits_problem {
                    tracing::warn!(program = %job.spec.name, "{problem}");
                    job.last_error = Some(problem);
                }
                job.pid = Some(pid);
                job.started = Some(now);
                job.started_at = Some(SystemTime::now());
                job.logs = logs;
                job.stderr_log = stderr_log;
                job.notify = notify.map(Box::new);
                self.pids.insert(pid, Arc::clone(&job.spec));
                transition(
                    job,
                    ProcessState::Starting,
                    format!("{reason}: pid {pid}"),
                    changes,
                );
                if job.spec.startsecs.is_zero() {
                    self.confirm_running(job, changes);
                }
            }
            Err(error) => {
                let message = error.to_string();
                // It never ran: no stderr of its own to show (the log holds an older run's).
                job.stderr_log = None;
                tracing::warn!(program = %job.spec.name, error = %message, "cannot start");
                transition(job, ProcessState::Starting, reason, changes);
                job.last_error = Some(message.clone());
                transition(job, ProcessState::Fatal, message, changes);
            }
        }
    }

    fn confirm_running(&mut self, job: &mut Job, changes: &mut Vec<StateChange>) {
        let reason = format!("up for startsecs ({:?})", job.spec.startsecs);
        if transition(job, ProcessState::Running, reason, changes) {
            if job.failed_starts > 0 {
                // The BACKOFF reason is over: this start succeeded.
                job.last_error = None;
            }
            job.failed_starts = 0;
        }
    }

    /// Opens the logs, makes the pipes (and, with `notify`, the notify socket), spawns (into
    /// the program's cgroup, made at its first start and kept in `leaf`), and starts capturing.
    /// Also says where the process's stderr goes (a regular file) and how long that file was
    /// before it started, for [`Job::last_stderr`].
    fn spawn_process(
        &mut self,
        spec: &ProgramSpec,
        leaf: &mut Option<cgroup::Leaf>,
    ) -> Result<Spawned, SpawnError> {
        // A leaf that was killed and is empty now is made afresh (`Leaf::mark_killed`).
        if let (Some(old), Some(cgroups)) = (leaf.as_ref(), &self.containment.cgroups)
            && !old.reusable()
        {
            *leaf = None;
            cgroups.remove_leaf(&spec.name);
        }
        if leaf.is_none()
            && let Some(cgroups) = &self.containment.cgroups
        {
            // A program of this name removed a moment ago: its cgroup is this one's now, and is
            // no longer to be cleared.
            self.doomed.retain(|doomed| *doomed != spec.name);
            *leaf = Some(
                cgroups
                    .leaf(&spec.name)
                    .map_err(|error| SpawnError::Cgroup(logs::describe(&error)))?,
            );
        }
        let limits_problem = if leaf.is_some() {
            self.apply_limits(spec, leaf.as_ref())
        } else if spec.limits.needs_cgroup() {
            Some(limits::not_enforced(
                &spec.limits,
                "this daemon gives programs no cgroup of their own here (no writable cgroup v2 hierarchy, or serve --no-cgroups; docs/RELIABILITY.md)",
            ))
        } else {
            None
        };
        let oom_kills = match (leaf.as_ref(), &self.containment.cgroups) {
            (Some(_), Some(cgroups)) if spec.limits.memory_max.is_some() => {
                limits::oom_kills(&cgroups.leaf_path(&spec.name))
            }
            _ => 0,
        };
        let process = &spec.process;
        let log_dir = self.log_dir.clone();
        let stdout_path = spec.log_path(&log_dir, Stream::Stdout);
        // `None` with redirect_stderr: stderr goes where stdout goes.
        let stderr_path = spec.log_path(&log_dir, Stream::Stderr);
        // One file for both streams, and one of them rotates it: both go through the writer.
        // A ready line must pass through the daemon to be seen: its streams are captured even
        // when they never rotate.
        let watch_lines = process.ready_log_line.is_some() && self.health.is_some();
        let shared_and_rotated = stdout_path.is_some()
            && stdout_path == stderr_path
            && (process.stdout.max_bytes > 0 || process.stderr.max_bytes > 0);
        let stderr_file = if process.redirect_stderr {
            stdout_path.clone()
        } else {
            stderr_path.clone()
        };
        let timestamps = process.log_timestamps.unwrap_or(self.logs.timestamps);
        let console = self.logs.console.clone().filter(|_| process.console);
        let looked_at = timestamps || console.is_some();
        let must_capture = shared_and_rotated || watch_lines || looked_at;
        let owner = process.user.as_deref();
        let stdout_sink = self.sink(
            stdout_path,
            &process.stdout,
            must_capture,
            timestamps,
            console.is_some(),
            owner,
        )?;
        let stderr_sink = self.sink(
            stderr_path,
            &process.stderr,
            must_capture,
            timestamps,
            console.is_some(),
            owner,
        )?;
        // Opened above (created if new): its length now is where this process's stderr begins.
        let stderr_log = stderr_file.and_then(|path| {
            let metadata = std::fs::metadata(&path).ok()?;
            metadata.is_file().then_some((path, metadata.len()))
        });
        let captured = |sink: &Sink| matches!(sink, Sink::Capture(_));
        if (captured(&stdout_sink) || captured(&stderr_sink) || process.notify)
            && tokio::runtime::Handle::try_current().is_err()
        {
            return Err(SpawnError::Pipe(
                "no tokio runtime to capture the output".to_string(),
            ));
        }
        let notify = if process.notify {
            Some(self.notify_socket(process)?)
        } else {
            None
        };
        if self.captures.is_none() && (captured(&stdout_sink) || captured(&stderr_sink)) {
            let started = Captures::start().map_err(|error| {
                SpawnError::Pipe(format!(
                    "cannot watch log pipes: {}",
                    logs::describe(&error)
                ))
            })?;
            self.captures = Some(started);
        }
        let captures = self.captures.clone();
        let mut slots = Vec::new();
        let mut writers = Vec::new();
        let mut output = |sink: Sink, stream: Stream| -> Result<Output, SpawnError> {
            match sink {
                Sink::Discard => Ok(Output::Null),
                Sink::Direct(file) => Ok(Output::File(file)),
                Sink::Capture(writer) => {
                    let pipe_error =
                        |error: std::io::Error| SpawnError::Pipe(logs::describe(&error));
                    let (read, write) = logs::output_pipe().map_err(pipe_error)?;
                    let tap = console
                        .clone()
                        .map(|console| Tap::new(&spec.name, stream, Some(console)));
                    let read = logs::capture_pipe(read, tap);
                    logs::lock(&writer).feed(&read);
                    // Made above for a captured sink. In the set before the spawn: a spawn
                    // that fails closes the write end, and the set forgets the pipe at its end.
                    if let Some(captures) = &captures {
                        slots.push(captures.add(read, writer.clone()).map_err(pipe_error)?);
                    }
                    writers.push(writer);
                    Ok(Output::Pipe(write))
                }
            }
        };
        let stdout = output(stdout_sink, Stream::Stdout)?;
        let stderr = if process.redirect_stderr {
            None
        } else {
            Some(output(stderr_sink, Stream::Stderr)?)
        };
        // The notify socket's path (and the watchdog's period) reach the program through its
        // environment, as systemd passes them.
        let with_notify;
        let process = match &notify {
            Some(socket) => {
                let mut environment = process.environment.clone();
                environment.insert(
                    "NOTIFY_SOCKET".to_string(),
                    socket.path().to_string_lossy().into_owned(),
                );
                if let Some(period) = process.watchdog {
                    environment.insert("WATCHDOG_USEC".to_string(), period.as_micros().to_string());
                }
                with_notify = crate::spec::ProcessSpec {
                    environment,
                    ..process.clone()
                };
                &with_notify
            }
            None => process,
        };
        let marks = self
            .containment
            .marks
            .as_ref()
            .map(|marks| marks.environment(&spec.name));
        let prepared = spawn::prepare(
            process,
            stdout,
            stderr,
            marks.as_ref().map_or(&[][..], |marks| &marks[..]),
            leaf.as_ref().map(cgroup::Leaf::join),
        )?;
        let pid = {
            let mut table = reap::children();
            let pid = prepared.spawn()?;
            if let Ok(raw) = i32::try_from(pid) {
                table.register(raw, spec.killasgroup);
            }
            pid
        };
        // The child's ends of the pipes (and the daemon's copies of direct log files) were
        // closed with `prepared`: EOF comes when the program (and whatever inherited its
        // output) is gone.
        if let (Some(line), Some(sender), Some(captures)) =
            (&process.ready_log_line, &self.health, &self.captures)
            && watch_lines
        {
            for slot in slots {
                captures.watch(
                    slot,
                    logs::ReadyWatch {
                        line: LineWatch::new(line),
                        name: spec.name.clone(),
                        pid,
                        sender: sender.clone(),
                    },
                );
            }
        }
        let notify = match (notify, &self.health) {
            (Some(socket), Some(sender)) => Some(
                socket
                    .listen(spec.name.clone(), pid, sender.clone())
                    .map_err(|error| SpawnError::Notify(logs::describe(&error)))?,
            ),
            _ => None,
        };
        Ok(Spawned {
            pid,
            logs: writers,
            notify,
            stderr_log,
            limits_problem,
            oom_kills,
        })
    }

    /// Sets (or lifts) the program's `memory_max` and `cpu_max` in its cgroup before its
    /// process is cloned into it (SPEC §14). Where they cannot be set, says why: the program
    /// runs without them.
    fn apply_limits(&self, spec: &ProgramSpec, leaf: Option<&cgroup::Leaf>) -> Option<String> {
        let leaf = leaf?;
        let cgroups = self.containment.cgroups.as_ref()?;
        // No limit asked for and none ever written here: the kernel's defaults are there
        // already (two `open`s that fail with ENOENT saved on every start, restarts included).
        if !spec.limits.needs_cgroup() && !leaf.may_be_limited() {
            return None;
        }
        let path = cgroups.leaf_path(&spec.name);
        let applied = limits::apply(&path, &spec.limits);
        // A lift that failed is tried again at the next start.
        leaf.set_limited(spec.limits.needs_cgroup() || applied.is_err());
        applied
            .err()
            .map(|why| limits::not_enforced(&spec.limits, &why))
    }

    /// A notify socket for a new process of this program, usable by its user.
    fn notify_socket(
        &mut self,
        process: &crate::spec::ProcessSpec,
    ) -> Result<NotifySocket, SpawnError> {
        let error = |error: std::io::Error| SpawnError::Notify(error.to_string());
        if self.notify.is_none() {
            let Some(location) = &self.notify_dir else {
                return Err(SpawnError::Notify(
                    "this supervisor has no folder for notify sockets".to_string(),
                ));
            };
            self.notify = Some(NotifyDir::create(location).map_err(error)?);
        }
        let Some(folder) = &self.notify else {
            return Err(SpawnError::Notify("no notify folder".to_string()));
        };
        let owner = process.user.as_ref().map(|user| (user.uid, user.gid));
        folder.bind(owner).map_err(error)
    }

    /// Spawns an exec probe for `job`'s process `target_pid` (see [`Supervisor::spawn_probe`]).
    fn spawn_probe(
        &mut self,
        job: &Job,
        target_pid: u32,
        argv: &[String],
        timeout: std::time::Duration,
        now: Instant,
    ) -> Result<(), SpawnError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(SpawnError::Pipe(
                "no tokio runtime to read the probe's output".to_string(),
            ));
        }
        let pipe_error = |error: std::io::Error| SpawnError::Pipe(logs::describe(&error));
        let (read, write) = logs::output_pipe().map_err(pipe_error)?;
        let read = logs::watch_raw(read).map_err(pipe_error)?;
        let process = crate::spec::ProcessSpec {
            argv: argv.to_vec(),
            ..job.spec.process.clone()
        };
        // A probe carries the daemon's mark (a crash finds it) under a name of its own: it is
        // not one of the program's processes (`processes`, what an exit leaves), nor in its
        // cgroup.
        let probe_name = format!("{}:probe", job.spec.name);
        let marks = self
            .containment
            .marks
            .as_ref()
            .map(|marks| marks.environment(&probe_name));
        let prepared = spawn::prepare(
            &process,
            Output::Pipe(write),
            None,
            marks.as_ref().map_or(&[][..], |marks| &marks[..]),
            None,
        )?;
        let pid = {
            let mut table = reap::children();
            let pid = prepared.spawn()?;
            if let Ok(raw) = i32::try_from(pid) {
                // Whatever the probe left in its group dies with it.
                table.register(raw, true);
            }
            pid
        };
        let output = probe::SharedOutput::default();
        let reader = tokio::spawn(probe::read_output(read.clone(), output.clone()));
        self.probe_deadlines.set(&pid, Some(now + timeout));
        self.probes.insert(
            pid,
            ProbeRun {
                name: job.spec.name.clone(),
                target_pid,
                deadline: now + timeout,
                timeout,
                killed: false,
                cancelled: false,
                output,
                pipe: read,
                reader,
            },
        );
        Ok(())
    }

    /// How one stream reaches its log (see the module's notes on direct mode): the file itself
    /// when there is nothing to do with its bytes (`max_bytes = 0`) and no pipe writer is
    /// still writing that file at its own offset, else a pipe into the file's writer.
    /// `must_capture`: the other stream shares the file and rotates it, or the daemon looks
    /// at the lines (timestamps, console). A stream with no log (`"none"`) that the console
    /// copies is captured into `/dev/null`.
    fn sink(
        &mut self,
        path: Option<PathBuf>,
        log: &LogSpec,
        must_capture: bool,
        timestamps: bool,
        console: bool,
        owner: Option<&UserSpec>,
    ) -> Result<Sink, SpawnError> {
        let path = match path {
            Some(path) => path,
            None if console && log.target == crate::spec::LogTarget::None => {
                let null = LogSpec {
                    target: log.target.clone(),
                    max_bytes: 0,
                    backups: 0,
                };
                return Ok(Sink::Capture(self.writer(
                    Path::new("/dev/null"),
                    &null,
                    false,
                    owner,
                )?));
            }
            None => return Ok(Sink::Discard),
        };
        if log.max_bytes == 0 && !must_capture && !self.is_fed(&path) {
            let file = logs::open_direct(&path, owner).map_err(|error| SpawnError::Log {
                reason: logs::describe(&error),
                path: path.clone(),
            })?;
            if let Some(budget) = &self.logs.budget {
                budget.register(&path, 0);
            }
            return Ok(Sink::Direct(file));
        }
        Ok(Sink::Capture(self.writer(&path, log, timestamps, owner)?))
    }

    /// Whether a pipe still feeds the log at `path`: a leftover of an earlier process of this
    /// program still writing, or another program capturing into the same file.
    fn is_fed(&self, path: &Path) -> bool {
        self.writers
            .get(path)
            .and_then(Weak::upgrade)
            .is_some_and(|writer| logs::lock(&writer).is_fed())
    }

    /// The writer of a log path, shared with any pipe already writing there.
    fn writer(
        &mut self,
        path: &Path,
        log: &LogSpec,
        timestamps: bool,
        owner: Option<&UserSpec>,
    ) -> Result<SharedWriter, SpawnError> {
        let log_error = |error: std::io::Error| SpawnError::Log {
            path: path.to_path_buf(),
            reason: logs::describe(&error),
        };
        if let Some(writer) = self.writers.get(path).and_then(Weak::upgrade) {
            {
                let mut writer = logs::lock(&writer);
                writer.set_rotation(log.max_bytes, log.backups);
                writer.reopen_if_replaced().map_err(log_error)?;
                writer.set_timestamps(timestamps);
            }
            return Ok(writer);
        }
        if self.writers.len() >= self.sweep_writers_at {
            self.writers.retain(|_, writer| writer.strong_count() > 0);
            self.sweep_writers_at = (self.writers.len() * 2).max(WRITERS_SWEEP_MIN);
        }
        let mut opened =
            LogWriter::open(path, log.max_bytes, log.backups, owner).map_err(log_error)?;
        opened.set_timestamps(timestamps);
        if opened.is_regular() {
            opened.set_budget(self.logs.budget.clone());
        }
        let key = opened.shared_path();
        let writer = Arc::new(Mutex::new(opened));
        self.writers.insert(key, Arc::downgrade(&writer));
        Ok(writer)
    }

    fn begin_stop(
        &mut self,
        job: &mut Job,
        now: Instant,
        reason: &str,
        changes: &mut Vec<StateChange>,
    ) {
        match job.state {
            ProcessState::Starting | ProcessState::Running => {
                if !transition(job, ProcessState::Stopping, reason, changes) {
                    return;
                }
                job.stop_requested = Some(now);
                let signal = job.spec.stopsignal.to_nix();
                // The processes that left the group (setsid) hear it too: looked up first, so
                // that what the group forks in answer (a shell's trap) is not signalled.
                let outside = match job.pid {
                    Some(pid) if job.spec.stopasgroup => {
                        self.containment
                            .outside_group(&job.spec.name, job.leaf.as_ref(), pid)
                    }
                    _ => Vec::new(),
                };
                send(job, signal, job.spec.stopasgroup);
                self.containment.signal(&outside, signal);
                job.killed = signal == Signal::SIGKILL;
            }
            ProcessState::Backoff => {
                job.retry_at = None;
                transition(job, ProcessState::Stopped, reason, changes);
            }
            // A restart held back by the budget is cancelled; the job stays EXITED.
            ProcessState::Exited => job.retry_at = None,
            ProcessState::Stopping | ProcessState::Stopped | ProcessState::Fatal => {}
        }
    }

    /// The job's process ended. Returns whether the job is to be forgotten.
    fn on_exit(
        &mut self,
        job: &mut Job,
        exit: ExitInfo,
        left: usize,
        now: Instant,
        changes: &mut Vec<StateChange>,
    ) -> bool {
        job.pid = None;
        job.last_exit = Some(exit);
        // The kernel's OOM killer ended it (its cgroup's memory_max): said as such.
        if let (Some(limit), Some(cgroups), Some(_)) = (
            job.spec.limits.memory_max,
            &self.containment.cgroups,
            job.leaf.as_ref(),
        ) {
            let kills = limits::oom_kills(&cgroups.leaf_path(&job.spec.name));
            if kills > job.oom_kills {
                let message = format!(
                    "OOM kill: the kernel ended it at memory_max ({} MB) ({exit})",
                    limit >> 20
                );
                tracing::warn!(program = %job.spec.name, "{message}");
                job.last_error = Some(message);
                job.oom_kills = kills;
            }
        }
        // Processes the main one left: a program that daemonizes (its main process forks the
        // real server and exits), said in `last_error` unless the exit was asked for.
        let hint = (left > 0).then(|| left_behind(left, job.spec.killasgroup));
        if let Some(hint) = &hint {
            if job.state == ProcessState::Stopping {
                tracing::info!(program = %job.spec.name, %exit, "stopped; {hint}");
            } else {
                tracing::warn!(program = %job.spec.name, %exit, "{hint}");
                job.last_error = Some(hint.clone());
            }
        }
        job.stopped_at = Some(SystemTime::now());
        // The notify socket goes with its process.
        job.notify = None;
        if job.state == ProcessState::Starting
            && let (Some(started), Some(alive_at)) = (job.started, self.alive_at)
            && alive_at >= started + job.spec.startsecs
        {
            // The deadline and the exit came in one busy turn of the loop, but the scan before
            // this one saw the process alive after startsecs: it was up long enough. When the
            // exit is merely *seen* late (a loop busy for longer than startsecs), it is not:
            // the process may have died at once, and judging by when its exit is seen would
            // make a crash loop RUNNING under load and never FATAL.
            self.confirm_running(job, changes);
        }
        match job.state {
            ProcessState::Starting
                if state::ends_as_done(job.spec.autorestart, exit, &job.spec.exitcodes) =>
            {
                // A one-shot run that did its job: not a failed start, whatever startsecs says.
                job.failed_starts = 0;
                // What it left (a daemonized server) is still worth saying.
                job.last_error = hint.clone();
                let reason = format!("{exit} (expected; autorestart = false)");
                transition(job, ProcessState::Exited, reason, changes);
            }
            ProcessState::Starting => {
                job.failed_starts += 1;
                let reason = format!("{exit} before startsecs ({:?})", job.spec.startsecs);
                transition(job, ProcessState::Backoff, reason, changes);
                // BACKOFF says why it waits, and what it left (the FATAL message below
                // replaces it).
                let mut waits = state::backoff_reason(
                    job.failed_starts,
                    job.spec.startretries,
                    exit,
                    job.spec.startsecs,
                );
                if let Some(hint) = &hint {
                    waits = format!("{waits}; {hint}");
                }
                job.last_error = Some(waits);
                if job.failed_starts > job.spec.startretries {
                    let mut message = format!(
                        "exited too quickly ({exit}) {} times in a row; gave up (startretries = {})",
                        job.failed_starts, job.spec.startretries
                    );
                    if let Some(hint) = &hint {
                        message = format!("{message}; {hint}");
                    }
                    job.last_error = Some(message.clone());
                    transition(job, ProcessState::Fatal, message, changes);
                } else {
                    job.retry_at = Some(now + backoff_delay(job.failed_starts));
                }
            }
            ProcessState::Running => {
                transition(job, ProcessState::Exited, exit.to_string(), changes);
                if should_restart(job.spec.autorestart, exit, &job.spec.exitcodes) {
                    if job.budget.take(now) {
                        if self.turn_is_full() {
                            // Due at once, made in a later turn (see AUTOMATIC_STARTS_PER_TURN).
                            job.retry_at = Some(now);
                            job.deferred = true;
                            return false;
                        }
                        job.restarts += 1;
                        let reason = format!("autorestart after {exit}");
                        self.launch_automatic(job, now, &reason, changes);
                    } else {
                        tracing::warn!(program = %job.spec.name, "restarting too often; holding the next restart back");
                        job.retry_at = Some(now + state::RESTART_PAUSE);
                    }
                }
            }
            ProcessState::Stopping => {
                transition(
                    job,
                    ProcessState::Stopped,
                    format!("stopped ({exit})"),
                    changes,
                );
                match std::mem::replace(&mut job.after_stop, AfterStop::Nothing) {
                    AfterStop::Nothing => {}
                    AfterStop::Start(spec) => {
                        job.spec = spec;
                        self.fresh_start(job, now, "restart", changes);
                    }
                    AfterStop::Recover(spec, reason) => {
                        job.spec = spec;
                        job.restarts += 1;
                        self.launch(job, now, &format!("restart ({reason})"), changes);
                        // Why it was restarted stays in view until the next asked-for start
                        // (unless the new process could not even be spawned).
                        if job.state != ProcessState::Fatal {
                            job.last_error = Some(reason);
                        }
                    }
                    AfterStop::Remove => return true,
                }
            }
            state => {
                tracing::error!(program = %job.spec.name, %state, %exit, "a process ended in a state without one (a bug)");
            }
        }
        false
    }

    /// This turn has made all the automatic starts it may.
    fn turn_is_full(&self) -> bool {
        self.automatic_starts >= AUTOMATIC_STARTS_PER_TURN
    }

    /// The end of a turn of the loop (a reap or a deadline call): a turn that made more than
    /// one automatic start yields to their children once more (the first one did at its
    /// start, [`Context::launch_automatic`]), then its state changes are logged.
    fn end_turn(&self, changes: Vec<StateChange>) -> Vec<StateChange> {
        if self.automatic_starts > 1 {
            yield_to_children();
        }
        said(changes)
    }

    /// An autorestart or a BACKOFF retry: counted against the turn's allowance.
    fn launch_automatic(
        &mut self,
        job: &mut Job,
        now: Instant,
        reason: &str,
        changes: &mut Vec<StateChange>,
    ) {
        self.automatic_starts += 1;
        self.launch(job, now, reason, changes);
        // The first restart of a turn (the usual crash) gives its child the CPU at once, before
        // the rest of the turn; the turn's later ones once at its end.
        if self.automatic_starts == 1 {
            yield_to_children();
        }
    }

    fn deadline_reached(&mut self, job: &mut Job, now: Instant, changes: &mut Vec<StateChange>) {
        match job.state {
            ProcessState::Starting => self.confirm_running(job, changes),
            // Still due: the next turn makes it.
            ProcessState::Backoff | ProcessState::Exited if self.turn_is_full() => {}
            ProcessState::Backoff => {
                job.restarts += 1;
                let reason = format!(
                    "retry {} of {} after backoff",
                    job.failed_starts, job.spec.startretries
                );
                self.launch_automatic(job, now, &reason, changes);
            }
            ProcessState::Exited => {
                job.restarts += 1;
                let reason = match (job.deferred, job.last_exit) {
                    (true, Some(exit)) => format!("autorestart after {exit}"),
                    _ => "autorestart (held back: restarting too often)".to_string(),
                };
                self.launch_automatic(job, now, &reason, changes);
            }
            ProcessState::Stopping => {
                tracing::warn!(
                    program = %job.spec.name,
                    stopwaitsecs = ?job.spec.stopwaitsecs,
                    "did not stop in time; sending SIGKILL"
                );
                send(job, Signal::SIGKILL, job.spec.killasgroup);
                if job.spec.killasgroup {
                    self.containment.kill(&job.spec.name, job.leaf.as_ref());
                }
                job.killed = true;
            }
            ProcessState::Stopped | ProcessState::Running | ProcessState::Fatal => {}
        }
    }
}

/// What status says of processes a main process left behind.
fn left_behind(left: usize, ended: bool) -> String {
    let processes = if left == 1 { "process" } else { "processes" };
    let fate = if ended {
        "they were ended"
    } else {
        "they keep running: killasgroup = false"
    };
    format!("left {left} {processes}; does it daemonize? run it in the foreground ({fate})")
}

impl Context {
    /// A main process has ended and is still a zombie (its pid, and so its group id, cannot
    /// be reused): counts what the program has left and, with `killasgroup`, ends it — the
    /// process group, and the whole cgroup or every marked process. Returns the count.
    fn end_rest(&self, job: &Job, pid: i32, kill_group: bool) -> usize {
        let main = u32::try_from(pid).unwrap_or(0);
        let left = self
            .containment
            .members(&job.spec.name, job.leaf.as_ref())
            .iter()
            .filter(|member| member.pid != main)
            .count();
        if kill_group {
            // ESRCH: nobody is left in the group, the usual case.
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            // With a cgroup, also what the program moved into cgroups of its own.
            let below = job.leaf.as_ref().is_some_and(cgroup::Leaf::has_children);
            if left > 0 || below {
                self.containment.kill(&job.spec.name, job.leaf.as_ref());
            }
        }
        left
    }

    /// A job was dropped: what it left is ended and its cgroup removed (later, if its killed
    /// processes are still going).
    fn forget(&mut self, name: &str) {
        if !self.containment.release(name) {
            self.doomed.push(name.to_string());
        }
    }

    fn retry_doomed(&mut self) {
        if self.doomed.is_empty() {
            return;
        }
        let containment = &self.containment;
        self.doomed.retain(|name| !containment.release(name));
    }
}

/// Gives the CPU away once (`sched_yield`) right after a turn's first automatic start, and
/// after a turn that made more, before the daemon's bookkeeping of them (the rest of the
/// turn, events, the state folder, answers). The clone returns when the child's `execve` has
/// replaced its memory, not when it is done: woken on the same CPU, the daemon preempted the
/// child there and made it wait for all of that before its program ran (docs/PERFORMANCE.md,
/// "Restart after kill -9"). With nothing else runnable on this CPU it returns at once.
fn yield_to_children() {
    // SAFETY: sched_yield takes no argument and cannot fail in a way that matters here.
    unsafe {
        libc::sched_yield();
    }
}

/// SIGKILLs an exec probe's process group. Its pid is ours until reaped, so the group id
/// cannot have been reused.
fn kill_probe(pid: u32, run: &mut ProbeRun) {
    run.killed = true;
    if let Ok(pid) = i32::try_from(pid) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Signals the job's process, or its whole process group. Its pid is ours until reaped (a
/// zombie keeps it), so this never hits another process.
fn send(job: &Job, signal: Signal, to_group: bool) {
    let Some(pid) = job.pid.and_then(|pid| i32::try_from(pid).ok()) else {
        return;
    };
    let pid = Pid::from_raw(pid);
    let result = if to_group {
        killpg(pid, signal)
    } else {
        kill(pid, signal)
    };
    if let Err(errno) = result {
        tracing::warn!(program = %job.spec.name, pid = pid.as_raw(), ?signal, error = %errno, "cannot signal");
    }
}

#[cfg(test)]
mod tests;
