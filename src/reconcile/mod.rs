//! The pure core: desired state (what programs.d and the operator's intents say) and observed
//! state (what the supervisor's jobs are doing) in, a [`Plan`] of actions out. No I/O, no clock
//! of its own, no memory between calls: reconcile never asks *why* it runs, and running it again
//! over the result of its own plan yields an empty plan (level-triggered, idempotent).
//!
//! Readiness (SPEC §12) comes in with the observed state (`Observed::ready`), and what the
//! programs' dependencies hold back comes in as [`Holds`] (computed by the pure
//! [`crate::health::depends`]): a held program is not started, and a held program that needs a
//! restart is stopped and started again once its hold lifts.

mod boot;

pub use boot::{BootWaves, Gate, lower_boot_priorities};

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::health::Holds;
use crate::spec::ProgramSpec;

/// What the folder and the operator want for one program.
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    /// The last good spec of the program (an invalid edit keeps the one before).
    pub spec: Arc<ProgramSpec>,
    /// The run intent: set by `boot` on first sight and by `start`, cleared by `stop` and while
    /// the program is disabled.
    pub run: bool,
    /// Grows with every operator start or restart; a job started for an older one is started
    /// again when it has ended (a start after FATAL) or restarted (a restart).
    pub start_epoch: u64,
    pub restart_epoch: u64,
    /// The priority its boot wave goes by: its own, or lower when a program of a lower
    /// priority depends on it (a dependency starts with its dependents, or before them).
    pub boot_priority: i32,
}

impl Desired {
    pub fn wants_running(&self) -> bool {
        self.spec.enabled && self.run
    }
}

/// The coarse phase of a job, all that reconcile needs to know of the state machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// STARTING or BACKOFF: on its way up.
    Starting,
    /// RUNNING.
    Running,
    /// STOPPING.
    Stopping,
    /// STOPPED: not running because it was asked to stop (or never started).
    Stopped,
    /// EXITED or FATAL: it ended on its own and its restart policy left it down.
    Ended,
}

impl Phase {
    fn is_up(self) -> bool {
        matches!(self, Phase::Starting | Phase::Running)
    }
}

/// What a job is doing, and the spec it was started (or last updated) with.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub phase: Phase,
    pub spec: Arc<ProgramSpec>,
    pub start_epoch: u64,
    pub restart_epoch: u64,
    /// RUNNING and ready (SPEC §12: its first probe passed, its ready line was seen, it sent
    /// READY=1; with none of these, RUNNING is ready).
    pub ready: bool,
    /// EXITED with one of its `exitcodes` (a one-shot that completed successfully).
    pub succeeded: bool,
    /// FATAL.
    pub fatal: bool,
}

/// One step that brings the running set closer to the desired one.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Start a job that is not running.
    Start {
        name: String,
        spec: Arc<ProgramSpec>,
    },
    /// Stop gracefully, then start with this spec (a field that shapes the process changed, or
    /// the operator asked for a restart).
    Restart {
        name: String,
        spec: Arc<ProgramSpec>,
    },
    /// Apply fields that do not shape the process to the job as it is.
    Update {
        name: String,
        spec: Arc<ProgramSpec>,
    },
    /// Stop gracefully and keep the job, now holding this spec (its stop settings apply).
    Stop {
        name: String,
        spec: Arc<ProgramSpec>,
    },
    /// Stop gracefully and forget the job: its file is gone.
    Remove { name: String },
}

impl Action {
    pub fn name(&self) -> &str {
        match self {
            Action::Start { name, .. }
            | Action::Restart { name, .. }
            | Action::Update { name, .. }
            | Action::Stop { name, .. }
            | Action::Remove { name } => name,
        }
    }
}

/// The actions of one reconcile, in name order.
pub type Plan = Vec<Action>;

/// Whether reconcile starts this program when nothing holds it back: it should run and has no
/// process on the way (none yet, stopped, stopping, or ended and asked to start again or given
/// a new process shape). What it depends on is pulled in, and waited for, on this basis.
pub fn will_start(want: &Desired, job: Option<&Observed>) -> bool {
    if !want.wants_running() {
        return false;
    }
    let Some(job) = job else {
        return true;
    };
    match job.phase {
        Phase::Stopped | Phase::Stopping => true,
        Phase::Ended => {
            want.start_epoch > job.start_epoch
                || want.restart_epoch > job.restart_epoch
                || job.spec.process != want.spec.process
        }
        Phase::Starting | Phase::Running => false,
    }
}

/// Compares what should run with what runs. `gate` holds back starts during boot: a program
/// whose boot priority is above it waits for its wave. A program in `holds` waits for its
/// dependencies.
pub fn reconcile(
    desired: &BTreeMap<String, Desired>,
    observed: &BTreeMap<String, Observed>,
    gate: Gate,
    holds: &Holds,
) -> Plan {
    let mut plan = Plan::new();
    for (name, job) in observed {
        if !desired.contains_key(name) && job.phase != Phase::Stopping {
            plan.push(Action::Remove { name: name.clone() });
        }
    }
    for (name, want) in desired {
        let held = holds.contains_key(name);
        if let Some(action) = reconcile_one(name, want, observed.get(name), gate, held) {
            plan.push(action);
        }
    }
    plan.sort_by(|a, b| a.name().cmp(b.name()));
    plan
}

fn reconcile_one(
    name: &str,
    want: &Desired,
    job: Option<&Observed>,
    gate: Gate,
    held: bool,
) -> Option<Action> {
    let name = name.to_string();
    let spec = Arc::clone(&want.spec);
    let may_start = gate.allows(want.boot_priority) && !held;
    let Some(job) = job else {
        return (want.wants_running() && may_start).then_some(Action::Start { name, spec });
    };
    if job.phase == Phase::Stopping {
        // Let the stop finish; the next pass sees where it ended.
        return None;
    }
    let same_process = job.spec.process == spec.process;
    let same_spec = *job.spec == *spec;
    if !want.wants_running() {
        if job.phase.is_up() {
            return Some(Action::Stop { name, spec });
        }
        return (!same_spec).then_some(Action::Update { name, spec });
    }
    match job.phase {
        Phase::Starting | Phase::Running => {
            if !same_process || want.restart_epoch > job.restart_epoch {
                // A held program is not started again at once: it stops, and starts once its
                // dependencies allow (the restart's start is gated like any other).
                if held {
                    Some(Action::Stop { name, spec })
                } else {
                    Some(Action::Restart { name, spec })
                }
            } else if !same_spec {
                Some(Action::Update { name, spec })
            } else {
                None
            }
        }
        Phase::Stopped => may_start.then_some(Action::Start { name, spec }),
        Phase::Ended => {
            // It ended on its own: it stays down until the operator starts it again, or until
            // a new version of what shapes the process gives it a fresh try.
            let asked_again =
                want.start_epoch > job.start_epoch || want.restart_epoch > job.restart_epoch;
            if asked_again || !same_process {
                may_start.then_some(Action::Start { name, spec })
            } else if !same_spec {
                Some(Action::Update { name, spec })
            } else {
                None
            }
        }
        Phase::Stopping => None,
    }
}

#[cfg(test)]
mod tests;
