//! The two ways the daemon ends processes outside the normal graceful stop: a forced shutdown
//! (a second SIGTERM kills every process group at once), and the leftovers of a previous run
//! that crashed (found by pid and start time in the state folder, not our children any more).

use std::time::Instant;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::{ProcessState, StateChange, Supervisor};
use crate::spec::StopSignal;

/// What to send to a leftover process group.
#[derive(Debug, Clone, Copy)]
pub enum ProcessGroupSignal {
    /// Signal 0: does the group still exist?
    Probe,
    /// Its program's stop signal.
    Stop(StopSignal),
    Kill,
}

/// Signals the process group led by `pgid` (every job runs in its own group, led by its first
/// process). Returns whether the group exists. The caller has checked that `pgid` is not a pid
/// reused by another process: the kernel never gives out a pid that is still some group's id.
pub fn signal_leftover_group(pgid: u32, signal: ProcessGroupSignal) -> bool {
    let Ok(raw) = i32::try_from(pgid) else {
        return false;
    };
    if raw <= 1 {
        return false;
    }
    let signal = match signal {
        ProcessGroupSignal::Probe => None,
        ProcessGroupSignal::Stop(stop) => Some(stop.to_nix()),
        ProcessGroupSignal::Kill => Some(Signal::SIGKILL),
    };
    killpg(Pid::from_raw(raw), signal).is_ok()
}

impl Supervisor {
    /// Forced shutdown: every job with a process goes STOPPING and its whole process group gets
    /// SIGKILL now; jobs waiting to retry go STOPPED. Nothing restarts afterwards.
    pub fn kill_all(&mut self, now: Instant) -> Vec<StateChange> {
        let mut changes = Vec::new();
        for job in self.jobs.values_mut() {
            job.after_stop = super::job::AfterStop::Nothing;
            self.context
                .begin_stop(job, now, "forced shutdown", &mut changes);
            if job.state == ProcessState::Stopping
                && let Some(pid) = job.pid.and_then(|pid| i32::try_from(pid).ok())
            {
                let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
                job.killed = true;
            }
        }
        changes
    }
}
