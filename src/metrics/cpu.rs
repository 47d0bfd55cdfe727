//! `cpu_percent` (SPEC §14): the CPU a program used over the interval between two reads of
//! its status, or since it started when there is no earlier read of the same process. Pure:
//! the caller gives the readings and the time.
//!
//! 100 means one CPU fully used (as `top`, `ps` and PM2 count): a program busy on two CPUs
//! shows 200.
//!
//! Two reads a few milliseconds apart would give a figure made of clock-tick noise (the
//! kernel counts CPU time in ticks of 10 ms): a reading closer than [`MIN_INTERVAL`] to the
//! last one kept is measured from the one kept before it, and does not replace it. So a
//! dashboard polling every 200 ms sees the last second or two, and a scrape every 15 s sees
//! the last 15 s.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The shortest interval a percentage is measured over, when an older reading allows it.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Which process a reading is of: a restart starts the history again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub pid: u32,
    /// When the process was spawned (nanoseconds since the epoch, from its job): a pid
    /// given again to a later process of the program is another process.
    pub started: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    at: Instant,
    cpu_seconds: f64,
}

/// The last readings of one process.
#[derive(Debug, Clone, PartialEq)]
struct History {
    identity: Identity,
    older: Option<Reading>,
    newer: Reading,
}

/// The readings of every program read so far, by name.
#[derive(Debug, Default)]
pub struct Samples {
    programs: BTreeMap<String, History>,
}

impl Samples {
    /// The percentage for a reading of `name`'s process `identity` that has used `cpu_seconds`
    /// now, having run for `uptime` (since its start); the reading is kept for the next call.
    pub fn percent(
        &mut self,
        name: &str,
        identity: Identity,
        cpu_seconds: f64,
        uptime: Duration,
        now: Instant,
    ) -> f64 {
        let reading = Reading {
            at: now,
            cpu_seconds,
        };
        let since_start = || ratio(cpu_seconds, uptime);
        let Some(history) = self.programs.get_mut(name) else {
            self.programs.insert(
                name.to_string(),
                History {
                    identity,
                    older: None,
                    newer: reading,
                },
            );
            return since_start();
        };
        if history.identity != identity {
            *history = History {
                identity,
                older: None,
                newer: reading,
            };
            return since_start();
        }
        let elapsed = now.saturating_duration_since(history.newer.at);
        if elapsed >= MIN_INTERVAL {
            let percent = between(history.newer, reading);
            history.older = Some(history.newer);
            history.newer = reading;
            return percent;
        }
        match history.older {
            Some(older) => between(older, reading),
            None => since_start(),
        }
    }

    /// Forgets the programs that are not in `keep` (gone, or without a process).
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) {
        self.programs.retain(|name, _| keep(name));
    }

    pub fn forget(&mut self, name: &str) {
        self.programs.remove(name);
    }

    pub fn len(&self) -> usize {
        self.programs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.programs.is_empty()
    }
}

fn between(from: Reading, to: Reading) -> f64 {
    ratio(
        to.cpu_seconds - from.cpu_seconds,
        to.at.saturating_duration_since(from.at),
    )
}

/// CPU seconds over wall seconds, in percent; never negative (a child reaped by the daemon
/// takes its time with it, so the sum can go down), 0 over no time at all.
fn ratio(cpu_seconds: f64, wall: Duration) -> f64 {
    let wall = wall.as_secs_f64();
    if wall <= 0.0 || !cpu_seconds.is_finite() {
        return 0.0;
    }
    (cpu_seconds.max(0.0) / wall * 100.0 * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Identity = Identity {
        pid: 10,
        started: 5,
    };
    const B: Identity = Identity {
        pid: 11,
        started: 900,
    };

    #[test]
    fn percentages_follow_the_readings() {
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        let mut samples = Samples::default();
        // (identity, cpu seconds, uptime seconds, at ms, expected percent)
        let table: &[(Identity, f64, u64, u64, f64)] = &[
            // First reading: since start (2 s of CPU over 4 s of uptime).
            (A, 2.0, 4, 0, 50.0),
            // 300 ms later: too close to the last reading and no older one: since start.
            (A, 2.3, 4, 300, 57.5),
            // 1.5 s after the kept reading: over that interval (1.5 s of CPU in 1.5 s).
            (A, 3.5, 6, 1_500, 100.0),
            // 200 ms later: measured from the reading before the kept one (0 ms → 1,700 ms).
            (A, 3.7, 6, 1_700, 100.0),
            // 2.5 s after the kept one (1,500): idle meanwhile.
            (A, 3.5, 8, 4_000, 0.0),
            // A new process: since its start again.
            (B, 0.5, 1, 4_100, 50.0),
            // Two CPUs busy: 200.
            (B, 2.5, 2, 5_100, 200.0),
            // The sum went down (a child reaped by the daemon): never negative.
            (B, 1.0, 3, 6_200, 0.0),
        ];
        for (index, (identity, cpu, uptime, millis, expected)) in table.iter().enumerate() {
            let percent = samples.percent(
                "web",
                *identity,
                *cpu,
                Duration::from_secs(*uptime),
                at(*millis),
            );
            assert_eq!(percent, *expected, "row {index}");
        }
        // Each program has its own history.
        assert_eq!(
            samples.percent("db", A, 1.0, Duration::from_secs(10), at(6_300)),
            10.0
        );
        assert_eq!(samples.len(), 2);
        samples.retain(|name| name == "db");
        assert_eq!(samples.len(), 1);
        samples.forget("db");
        assert!(samples.is_empty());
    }

    #[test]
    fn no_time_is_no_percentage() {
        let mut samples = Samples::default();
        let now = Instant::now();
        assert_eq!(samples.percent("x", A, 1.0, Duration::ZERO, now), 0.0);
        assert_eq!(samples.percent("x", A, f64::NAN, Duration::ZERO, now), 0.0);
        // One decimal.
        assert_eq!(
            samples.percent("y", A, 1.0, Duration::from_secs(3), now),
            33.3
        );
    }
}
