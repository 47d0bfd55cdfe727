//! Boot in waves by priority (SPEC §4): the programs of the lowest priority start first; the
//! next wave opens when every program of the one before is RUNNING (or has failed, or was
//! stopped), then the wave's `delay_seconds` later. Pure: the caller passes the time in and is
//! told when to look again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{Desired, Observed, Phase};

/// Which programs may be started now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Any program: boot is over.
    Open,
    /// Only programs of this priority or a lower one.
    UpTo(i32),
}

impl Gate {
    pub fn allows(self, priority: i32) -> bool {
        match self {
            Gate::Open => true,
            Gate::UpTo(limit) => priority <= limit,
        }
    }
}

/// Where boot is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootWaves {
    /// Boot is over (or there was nothing to boot).
    Done,
    /// The wave of this priority is starting; `settled_at` is when all of it came up.
    Wave {
        priority: i32,
        settled_at: Option<Instant>,
    },
}

impl BootWaves {
    /// The waves for the programs that want to run now.
    pub fn new(desired: &BTreeMap<String, Desired>) -> BootWaves {
        match next_priority(desired, None) {
            Some(priority) => BootWaves::Wave {
                priority,
                settled_at: None,
            },
            None => BootWaves::Done,
        }
    }

    /// Opens the next waves as far as the jobs allow. Returns the gate for reconcile and, while
    /// a delay runs, the instant to look again.
    pub fn advance(
        &mut self,
        desired: &BTreeMap<String, Desired>,
        observed: &BTreeMap<String, Observed>,
        now: Instant,
    ) -> (Gate, Option<Instant>) {
        loop {
            let BootWaves::Wave {
                priority,
                settled_at,
            } = self
            else {
                return (Gate::Open, None);
            };
            let priority = *priority;
            let members: Vec<&Desired> = desired
                .iter()
                .filter(|(_, want)| want.wants_running() && want.spec.priority == priority)
                .map(|(_, want)| want)
                .collect();
            let settled = members.iter().all(|want| {
                observed.get(&want.spec.name).is_some_and(|job| {
                    matches!(job.phase, Phase::Running | Phase::Ended | Phase::Stopped)
                })
            });
            if !settled {
                *settled_at = None;
                return (Gate::UpTo(priority), None);
            }
            let since = *settled_at.get_or_insert(now);
            let delay = members
                .iter()
                .map(|want| want.spec.delay_seconds)
                .max()
                .unwrap_or(Duration::ZERO);
            let opens_at = since + delay;
            if now < opens_at {
                return (Gate::UpTo(priority), Some(opens_at));
            }
            *self = match next_priority(desired, Some(priority)) {
                Some(next) => BootWaves::Wave {
                    priority: next,
                    settled_at: None,
                },
                None => BootWaves::Done,
            };
        }
    }
}

/// The lowest priority above `after` among the programs that want to run.
fn next_priority(desired: &BTreeMap<String, Desired>, after: Option<i32>) -> Option<i32> {
    desired
        .values()
        .filter(|want| want.wants_running())
        .map(|want| want.spec.priority)
        .filter(|priority| after.is_none_or(|after| *priority > after))
        .min()
}
