//! A job: the runtime handle of one program — its state, its current process, its counters,
//! and the one deadline it waits for. The job only records; the [`Supervisor`](super::Supervisor)
//! acts on it.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};

use crate::spec::ProgramSpec;

use super::cgroup::Leaf;
use super::logs::{SharedWriter, lock, tail_since};
use super::state::{
    ExitInfo, IMMEDIATE_RESTARTS_PER_WINDOW, ProcessState, RESTART_WINDOW, format_uptime,
};

/// What happens when a STOPPING job reaches STOPPED.
#[derive(Debug, Clone)]
pub(crate) enum AfterStop {
    Nothing,
    /// A restart: start again with this spec.
    Start(Arc<ProgramSpec>),
    /// A restart for health (unhealthy, watchdog): start again with this spec, counted as an
    /// automatic start, the reason kept as `last_error`.
    Recover(Arc<ProgramSpec>, String),
    /// Forget the job.
    Remove,
}

/// Counts immediate restarts (after an exit from RUNNING) in a window: past the limit, the next
/// restart waits. With `startsecs` ≥ 1/limit the limit is never reached, since every immediate
/// restart follows a process that was up `startsecs`; it is the guard for `startsecs = 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBudget {
    window_start: Option<Instant>,
    count: u32,
}

impl RestartBudget {
    pub const fn new() -> RestartBudget {
        RestartBudget {
            window_start: None,
            count: 0,
        }
    }

    /// Takes one immediate restart at `now`; false when the window's allowance is spent.
    pub fn take(&mut self, now: Instant) -> bool {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < RESTART_WINDOW => {
                if self.count >= IMMEDIATE_RESTARTS_PER_WINDOW {
                    return false;
                }
                self.count += 1;
                true
            }
            _ => {
                self.window_start = Some(now);
                self.count = 1;
                true
            }
        }
    }
}

impl Default for RestartBudget {
    fn default() -> Self {
        RestartBudget::new()
    }
}

#[derive(Debug)]
pub(crate) struct Job {
    pub spec: Arc<ProgramSpec>,
    pub state: ProcessState,
    /// The current process, from spawn until it is reaped.
    pub pid: Option<u32>,
    /// When the current (or last) process was spawned, for status…
    pub started_at: Option<SystemTime>,
    /// …and for deadlines.
    pub started: Option<Instant>,
    /// When the last process ended (wall-clock time, for display: supervisord's `stop`).
    pub stopped_at: Option<SystemTime>,
    /// When STOPPING began; SIGKILL is due `stopwaitsecs` later.
    pub stop_requested: Option<Instant>,
    /// SIGKILL already sent for this stop.
    pub killed: bool,
    /// BACKOFF: when the next attempt is due. EXITED: when a restart held back by the
    /// [`RestartBudget`] is due.
    pub retry_at: Option<Instant>,
    /// EXITED with `retry_at`: an autorestart left for the next turn of the loop (not held
    /// back by the [`RestartBudget`]).
    pub deferred: bool,
    /// Starts in a row that exited before `startsecs`.
    pub failed_starts: u32,
    /// Automatic starts (autorestart and BACKOFF retries) over the job's life.
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
    pub last_error: Option<String>,
    pub after_stop: AfterStop,
    pub budget: RestartBudget,
    /// The log files of the current process, for the write problems status shows.
    pub logs: Vec<SharedWriter>,
    /// The program's cgroup, from its first start until the job is forgotten.
    pub leaf: Option<Leaf>,
    /// The OOM kills its cgroup had counted when the current process started (`memory_max`:
    /// an exit with more is reported as an OOM kill).
    pub oom_kills: u64,
    /// The file the current (or last) process's stderr goes to, and its length when that
    /// process started: what [`Job::last_stderr`] reads. `None` without one (`"none"`, not a
    /// regular file) or when the last start never ran a process.
    pub stderr_log: Option<(PathBuf, u64)>,
    /// The current process's notify socket (`notify = true`), removed with the process. Boxed:
    /// most programs have none, and every job would carry its 32 bytes.
    pub notify: Option<Box<crate::health::notify::NotifyGuard>>,
}

/// `last_stderr` shows at most this many lines…
pub const LAST_STDERR_LINES: usize = 10;
/// …and at most this many bytes of them.
pub const LAST_STDERR_BYTES: u64 = 4096;

impl Job {
    pub fn new(spec: Arc<ProgramSpec>) -> Job {
        Job {
            spec,
            state: ProcessState::Stopped,
            pid: None,
            started_at: None,
            started: None,
            stopped_at: None,
            stop_requested: None,
            killed: false,
            retry_at: None,
            deferred: false,
            failed_starts: 0,
            restarts: 0,
            last_exit: None,
            last_error: None,
            after_stop: AfterStop::Nothing,
            budget: RestartBudget::new(),
            logs: Vec::new(),
            leaf: None,
            oom_kills: 0,
            stderr_log: None,
            notify: None,
        }
    }

    /// See [`Supervisor::last_stderr`](super::Supervisor::last_stderr). What a pipe still
    /// holds is moved into the file first, so the lines of a crash are there when its exit is.
    pub fn last_stderr(&self) -> Option<String> {
        if !matches!(
            self.state,
            ProcessState::Exited | ProcessState::Backoff | ProcessState::Fatal
        ) {
            return None;
        }
        let (path, start) = self.stderr_log.as_ref()?;
        for writer in &self.logs {
            let mut writer = lock(writer);
            if writer.path() == path {
                writer.is_fed();
            }
        }
        let text = tail_since(path, *start, LAST_STDERR_LINES, LAST_STDERR_BYTES).ok()?;
        (!text.is_empty()).then_some(text)
    }

    /// The one instant this job waits for, computed from the current spec so that a changed
    /// `startsecs` or `stopwaitsecs` applies to a live job.
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            ProcessState::Starting => self.started.map(|started| started + self.spec.startsecs),
            ProcessState::Stopping if !self.killed => self
                .stop_requested
                .map(|requested| requested + self.spec.stopwaitsecs),
            ProcessState::Backoff | ProcessState::Exited => self.retry_at,
            _ => None,
        }
    }

    pub fn status(&self, now: Instant) -> JobStatus {
        let view = self.view(now);
        JobStatus {
            name: self.spec.name.clone(),
            state: view.state,
            pid: view.pid,
            started_at: view.started_at,
            uptime: view.uptime_seconds.map(format_uptime),
            uptime_seconds: view.uptime_seconds,
            restarts: view.restarts,
            last_exit: view.last_exit,
            last_error: view.last_error.map(Cow::into_owned),
        }
    }

    /// The status, borrowed: nothing is copied but a log write problem (rare). How many
    /// processes the program has is asked apart ([`super::Supervisor::processes`]): it costs
    /// a read of its cgroup, which most users of a view do not need.
    pub fn view(&self, now: Instant) -> JobView<'_> {
        let uptime_seconds = match (self.state.has_process(), self.started) {
            (true, Some(started)) => Some(now.saturating_duration_since(started).as_secs()),
            _ => None,
        };
        let last_error = match &self.last_error {
            Some(error) => Some(Cow::Borrowed(error.as_str())),
            None => self
                .logs
                .iter()
                .find_map(|writer| lock(writer).problem())
                .map(Cow::Owned),
        };
        JobView {
            state: self.state,
            pid: self.pid,
            started_at: self.started_at,
            stopped_at: self.stopped_at,
            uptime_seconds,
            restarts: self.restarts,
            last_exit: self.last_exit,
            last_error,
        }
    }
}

/// What [`JobStatus`] holds, borrowed from the job, for answers that show many jobs at once
/// (the daemon's status of all programs is written straight to JSON from these). Its `uptime`
/// text is `uptime_seconds` written as [`format_uptime`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobView<'a> {
    pub state: ProcessState,
    pub pid: Option<u32>,
    pub started_at: Option<SystemTime>,
    /// When the last process ended.
    pub stopped_at: Option<SystemTime>,
    pub uptime_seconds: Option<u64>,
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
    /// The job's last error, or else the last write problem of one of its log files.
    pub last_error: Option<Cow<'a, str>>,
}

/// What status shows of a job (SPEC §5). The daemon adds the id and generations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobStatus {
    pub name: String,
    pub state: ProcessState,
    pub pid: Option<u32>,
    /// When the current or last process was spawned; JSON: unix seconds.
    #[serde(serialize_with = "unix_seconds")]
    pub started_at: Option<SystemTime>,
    /// `H:MM:SS` while a process runs.
    pub uptime: Option<String>,
    pub uptime_seconds: Option<u64>,
    /// Automatic starts (autorestart, BACKOFF retries).
    pub restarts: u32,
    pub last_exit: Option<ExitInfo>,
    pub last_error: Option<String>,
}

fn unix_seconds<S: Serializer>(
    time: &Option<SystemTime>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let seconds = time
        .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
        .as_ref()
        .map(Duration::as_secs);
    seconds.serialize(serializer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_budget_allows_a_burst_then_holds_back_until_the_window_ends() {
        let start = Instant::now();
        let mut budget = RestartBudget::new();
        for _ in 0..IMMEDIATE_RESTARTS_PER_WINDOW {
            assert!(budget.take(start));
        }
        assert!(!budget.take(start));
        assert!(!budget.take(start + RESTART_WINDOW - Duration::from_millis(1)));
        assert!(budget.take(start + RESTART_WINDOW));
        // A slow crasher (one restart per window) is never held back.
        let mut slow = RestartBudget::new();
        for second in 0..100 {
            assert!(slow.take(start + Duration::from_secs(second)));
        }
    }
}
