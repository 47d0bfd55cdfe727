//! Boot in waves by priority (SPEC §4, §12): the programs of the lowest priority start first;
//! the next wave opens when every program of the one before is ready (RUNNING and, for a
//! program with a health check, a ready line or `notify`, ready: SPEC §12), or has failed, or
//! was stopped, or is held back by a dependency that can no longer come up; then the wave's
//! `delay_seconds` later. A program's wave goes by its *boot priority*: its own priority, or a
//! lower one when a program of a lower priority depends on it (so a dependency never waits
//! for a wave after its dependents). Pure: the caller passes the time in and is told when to
//! look again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::health::Holds;

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
        holds: &Holds,
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
                .filter(|(_, want)| want.wants_running() && want.boot_priority == priority)
                .map(|(_, want)| want)
                .collect();
            let settled = members.iter().all(|want| settled(want, observed, holds));
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

    /// The programs of the wave that is starting that are not settled yet: what a program of a
    /// later wave waits for. Empty when boot is over.
    pub fn waiting_for(
        &self,
        desired: &BTreeMap<String, Desired>,
        observed: &BTreeMap<String, Observed>,
        holds: &Holds,
    ) -> Vec<String> {
        let BootWaves::Wave { priority, .. } = self else {
            return Vec::new();
        };
        desired
            .values()
            .filter(|want| want.wants_running() && want.boot_priority == *priority)
            .filter(|want| !settled(want, observed, holds))
            .map(|want| want.spec.name.clone())
            .collect()
    }
}

/// Whether a program of a wave lets the next wave go: ready, ended, stopped, or held back by a
/// dependency that can no longer come up by itself.
fn settled(want: &Desired, observed: &BTreeMap<String, Observed>, holds: &Holds) -> bool {
    let name = &want.spec.name;
    if holds.get(name).is_some_and(|hold| hold.blocked.is_some()) {
        return true;
    }
    observed.get(name).is_some_and(|job| match job.phase {
        Phase::Running => job.ready,
        Phase::Ended | Phase::Stopped => true,
        Phase::Starting | Phase::Stopping => false,
    })
}

/// Lowers the boot priority of every dependency to that of its dependents where theirs is
/// lower (transitively). Nothing to do, and no allocation, when no program has `depends_on`.
pub fn lower_boot_priorities(desired: &mut BTreeMap<String, Desired>) {
    if desired.values().all(|want| want.spec.depends_on.is_empty()) {
        return;
    }
    // Priorities only go down, to values already present: this ends, even around a cycle
    // (which validation refuses, but last good versions could still form).
    loop {
        let mut lowered: Vec<(String, i32)> = Vec::new();
        for want in desired.values() {
            for dependency in want.spec.depends_on.keys() {
                if let Some(other) = desired.get(dependency)
                    && other.boot_priority > want.boot_priority
                {
                    lowered.push((dependency.clone(), want.boot_priority));
                }
            }
        }
        if lowered.is_empty() {
            return;
        }
        for (name, priority) in lowered {
            if let Some(want) = desired.get_mut(&name) {
                want.boot_priority = want.boot_priority.min(priority);
            }
        }
    }
}

/// The lowest boot priority above `after` among the programs that want to run.
fn next_priority(desired: &BTreeMap<String, Desired>, after: Option<i32>) -> Option<i32> {
    desired
        .values()
        .filter(|want| want.wants_running())
        .map(|want| want.boot_priority)
        .filter(|priority| after.is_none_or(|after| *priority > after))
        .min()
}
