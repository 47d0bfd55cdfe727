//! What each program costs, read when asked (SPEC §14): `cpu_percent`, `cpu_seconds`,
//! `memory_bytes` and `processes` of a status, and the text of `GET /metrics`. Nothing here
//! runs on a timer: a status or a scrape reads the figures of the programs it shows (a
//! program with a cgroup: its `cpu.stat` and its members' `statm`, `metrics::leaf`; else
//! each process's `/proc/PID/stat`, `metrics::procfs`), and the percentages are measured
//! between two such reads (`metrics::cpu`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use crate::metrics::leaf::{self, LeafFiles};
use crate::metrics::procfs::{self, ProcDir, Stat, Units, Usage};
use crate::metrics::report::{self, DaemonFigures, ProgramFigures};
use crate::metrics::{Identity, Samples};
use crate::supervisor::{Counts, ExitInfo, JobView, ProcessState, Processes};

use super::Daemon;
use super::request::{Answer, Data};

/// The units of /proc and the readings `cpu_percent` is measured from.
#[derive(Debug)]
pub(super) struct Resources {
    units: Units,
    /// Reads are `&self` (a status changes nothing a reconcile looks at), and the readings
    /// are the loop's own bookkeeping: a cell, only ever borrowed inside one call.
    samples: RefCell<Samples>,
    /// What is kept open to read each program's figures (the `/proc/PID` folder of its main
    /// process, or its cgroup's `cpu.stat` and the process's `statm`), opened at the second
    /// read of its figures and kept while that process lives.
    dirs: RefCell<HashMap<String, Kept>>,
    /// How many of `dirs` are open, and how many may be. Kept descriptors are a speed-up:
    /// they never take more than a quarter of the daemon's descriptor limit, and none is kept
    /// once the daemon holds half of it (10,000 programs with a cgroup each already hold
    /// nearly all of a limit of 20,000). Past that, figures are read by path, and the API can
    /// still accept connections.
    kept: std::cell::Cell<usize>,
    kept_budget: usize,
    /// No descriptor is kept at or above this number (half the limit).
    kept_below: u64,
    /// The next look at the memory of the programs with `max_memory_restart`; `None` while
    /// no running program sets it (no wake-up at all).
    pub memory_check_at: Option<Instant>,
}

impl Resources {
    pub fn new() -> Resources {
        let max_fds = procfs::own_max_fds().unwrap_or(1024);
        Resources {
            units: Units::of_this_system(),
            samples: RefCell::new(Samples::default()),
            dirs: RefCell::new(HashMap::new()),
            kept: std::cell::Cell::new(0),
            // Two descriptors per kept entry.
            kept_budget: usize::try_from(max_fds / 4 / 2).unwrap_or(usize::MAX),
            kept_below: max_fds / 2,
            memory_check_at: None,
        }
    }
}

/// What is kept of a program's main process between reads.
#[derive(Debug)]
enum Kept {
    /// Read once, by path.
    Seen(u32),
    /// Read more than once, without a cgroup: its `/proc/PID` folder, kept open.
    Open(ProcDir),
    /// Read more than once, with a cgroup: its `cpu.stat` and the process's `statm`, kept
    /// open.
    Leaf(LeafFiles),
    /// Read more than once, but over the budget of kept descriptors: read by path.
    ByPath(u32),
}

/// How often the memory of a program with `max_memory_restart` is looked at.
pub const MEMORY_CHECK_INTERVAL: Duration = Duration::from_secs(3);

/// A size for a message: `68.2MB`.
fn megabytes(bytes: u64) -> String {
    let megabytes = bytes as f64 / f64::from(1 << 20);
    if megabytes >= 100.0 {
        format!("{megabytes:.0}MB")
    } else {
        format!("{megabytes:.1}MB")
    }
}

/// One program's figures now.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProgramUsage {
    /// Of one CPU (200 = two CPUs busy), one decimal.
    pub cpu_percent: f64,
    /// Two decimals (the kernel counts in ticks of 10 ms).
    pub cpu_seconds: f64,
    pub memory_bytes: u64,
}

/// A program's CPU time and memory, read now.
#[derive(Debug, Clone, Copy)]
struct Reading {
    cpu_seconds: f64,
    memory_bytes: u64,
}

impl Kept {
    /// The process it is of.
    fn pid(&self) -> u32 {
        match self {
            Kept::Seen(pid) | Kept::ByPath(pid) => *pid,
            Kept::Open(dir) => dir.pid,
            Kept::Leaf(files) => files.pid,
        }
    }

    fn is_open(&self) -> bool {
        matches!(self, Kept::Open(_) | Kept::Leaf(_))
    }

    fn highest_fd(&self) -> u64 {
        match self {
            Kept::Open(dir) => dir.highest_fd(),
            Kept::Leaf(files) => files.highest_fd(),
            Kept::Seen(_) | Kept::ByPath(_) => 0,
        }
    }
}

impl Daemon {
    /// Reads a program's figures either from files kept open for its main process `pid`
    /// (`read`, given what is kept) or by path (`by_path`). A process that lives long enough
    /// to be read twice gets its files kept (`open`, at its second read: a crash loop's
    /// short-lived processes are read by path, without the opens of keeping them), while the
    /// budget of kept descriptors allows.
    fn with_kept<R>(
        &self,
        name: &str,
        pid: u32,
        open: impl FnOnce() -> Option<Kept>,
        by_path: impl Fn() -> R,
        read: impl FnOnce(&Kept) -> R,
    ) -> R {
        let Ok(mut dirs) = self.resources.dirs.try_borrow_mut() else {
            return by_path();
        };
        let kept = &self.resources.kept;
        // Keeps the count of open entries right whatever replaces an entry.
        let put = |dirs: &mut HashMap<String, Kept>, value: Kept| {
            let opens = value.is_open();
            let closes = dirs
                .insert(name.to_string(), value)
                .is_some_and(|old| old.is_open());
            kept.set(kept.get() + usize::from(opens) - usize::from(closes));
        };
        match dirs.get(name) {
            Some(entry) if entry.is_open() && entry.pid() == pid => {}
            Some(Kept::Seen(seen)) if *seen == pid && kept.get() < self.resources.kept_budget => {
                match open() {
                    Some(entry) if entry.highest_fd() < self.resources.kept_below => {
                        put(&mut dirs, entry);
                    }
                    // The daemon holds many descriptors already: not this one.
                    Some(_) => {
                        put(&mut dirs, Kept::ByPath(pid));
                        return by_path();
                    }
                    // Gone, or out of descriptors (a fleet past its limit): read by path.
                    None => return by_path(),
                }
            }
            Some(Kept::Seen(seen)) if *seen == pid => {
                put(&mut dirs, Kept::ByPath(pid));
                return by_path();
            }
            Some(Kept::ByPath(seen)) if *seen == pid => return by_path(),
            _ => {
                put(&mut dirs, Kept::Seen(pid));
                return by_path();
            }
        }
        match dirs.get(name) {
            Some(entry) => read(entry),
            None => by_path(),
        }
    }

    /// The live processes of program `name` whose main process is `pid`, with their stats:
    /// `members`, its cgroup's members, where it has a cgroup (`setsid` and double forks
    /// included), else the process tree under its main process.
    fn program_stats(&self, name: &str, pid: u32, members: Option<&[u32]>) -> Vec<Stat> {
        let by_path = || match members {
            Some(members) => procfs::stats_of(members),
            None => procfs::tree_stats(pid),
        };
        self.with_kept(
            name,
            pid,
            || ProcDir::open(pid).map(Kept::Open),
            by_path,
            |entry| match (entry, members) {
                (Kept::Open(dir), Some(members)) => dir.with_members(members),
                (Kept::Open(dir), None) => dir.tree_stats(),
                _ => by_path(),
            },
        )
    }

    /// A program's CPU time and memory now; `None` when its main process `pid` is gone.
    /// With a cgroup (`members`) whose `cpu.stat` was read at the spawn: the cgroup's CPU
    /// since then and each member's `statm` (`metrics::leaf`); else each process's `stat`.
    fn read_figures(&self, name: &str, pid: u32, members: Option<&[u32]>) -> Option<Reading> {
        let units = &self.resources.units;
        if let (Some(members), Some(base)) = (members, self.supervisor.cpu_base(name)) {
            let by_path = || {
                let resident = leaf::read_resident(pid)?;
                let usage = leaf::read_usage_usec(&self.supervisor.cgroup_path(name)?)?;
                Some((usage, resident))
            };
            let (usage, main_resident) = self.with_kept(
                name,
                pid,
                || LeafFiles::open(&self.supervisor.cgroup_path(name)?, pid).map(Kept::Leaf),
                by_path,
                |entry| match entry {
                    Kept::Leaf(files) => Some((files.usage_usec()?, files.resident()?)),
                    _ => by_path(),
                },
            )?;
            let resident = members
                .iter()
                .filter(|member| **member != pid)
                .filter_map(|member| leaf::read_resident(*member))
                .fold(main_resident, u64::saturating_add);
            return Some(Reading {
                cpu_seconds: usage.saturating_sub(base) as f64 / 1e6,
                memory_bytes: resident.saturating_mul(units.page_size),
            });
        }
        let stats = self.program_stats(name, pid, members);
        stats.iter().find(|stat| stat.pid == pid)?;
        let usage = Usage::sum(&stats);
        Some(Reading {
            cpu_seconds: usage.cpu_seconds(units),
            memory_bytes: usage.memory_bytes(units),
        })
    }

    /// A program's processes and its figures, read now for its status: how many live
    /// processes it has (its cgroup's members are read once, for both), and its figures
    /// (`None` without a live process). `counts`: [`Supervisor::process_counts`] for a status
    /// of all programs, `None` for one.
    ///
    /// [`Supervisor::process_counts`]: crate::supervisor::Supervisor::process_counts
    pub(super) fn figures_of(
        &self,
        name: &str,
        job: Option<&JobView<'_>>,
        counts: Option<&Counts>,
        now: Instant,
    ) -> (u32, Option<ProgramUsage>) {
        let processes = match job {
            Some(_) => self.supervisor.processes(name, counts),
            None => Processes::Count(0),
        };
        let usage = self.usage_of(name, job, processes.members(), now);
        (u32::try_from(processes.count()).unwrap_or(u32::MAX), usage)
    }

    /// Drops what was kept to read a program's figures (its readings, its kept files): when
    /// its process ends, so that no descriptor outlives it.
    pub(super) fn forget_figures(&self, name: &str) {
        if let Ok(mut samples) = self.resources.samples.try_borrow_mut() {
            samples.forget(name);
        }
        if let Ok(mut dirs) = self.resources.dirs.try_borrow_mut()
            && dirs.remove(name).is_some_and(|old| old.is_open())
        {
            let kept = &self.resources.kept;
            kept.set(kept.get().saturating_sub(1));
        }
    }

    /// A program's figures now; `None` without a live process.
    fn usage_of(
        &self,
        name: &str,
        job: Option<&JobView<'_>>,
        members: Option<&[u32]>,
        now: Instant,
    ) -> Option<ProgramUsage> {
        let Some((job, pid)) = job.and_then(|job| Some((job, job.pid?))) else {
            self.forget_figures(name);
            return None;
        };
        let reading = self.read_figures(name, pid, members)?;
        let since_spawn = job
            .started_at
            .and_then(|started| started.duration_since(SystemTime::UNIX_EPOCH).ok())
            .unwrap_or_default();
        let uptime = job
            .started_at
            .and_then(|started| SystemTime::now().duration_since(started).ok())
            .unwrap_or_default();
        let identity = Identity {
            pid,
            started: u64::try_from(since_spawn.as_nanos()).unwrap_or(u64::MAX),
        };
        let cpu_seconds = reading.cpu_seconds;
        let cpu_percent = match self.resources.samples.try_borrow_mut() {
            Ok(mut samples) => samples.percent(name, identity, cpu_seconds, uptime, now),
            Err(_) => 0.0,
        };
        Some(ProgramUsage {
            cpu_percent,
            cpu_seconds: (cpu_seconds * 100.0).round() / 100.0,
            memory_bytes: reading.memory_bytes,
        })
    }

    /// The running programs that set `max_memory_restart`, with their limit.
    fn memory_watched(&self) -> impl Iterator<Item = (&str, u64)> + '_ {
        self.jobs.iter().filter_map(|(name, meta)| {
            let limit = meta.spec.limits.max_memory_restart?;
            Some((name.as_str(), limit))
        })
    }

    /// After each event: a look is due every [`MEMORY_CHECK_INTERVAL`] while a program with
    /// `max_memory_restart` has a job; no deadline at all otherwise.
    pub(super) fn watch_memory(&mut self, now: Instant) {
        let watched = self.memory_watched().any(|(name, _)| {
            self.supervisor
                .view(name, now)
                .is_some_and(|job| job.pid.is_some())
        });
        match (watched, self.resources.memory_check_at) {
            (true, None) => self.resources.memory_check_at = Some(now + MEMORY_CHECK_INTERVAL),
            (false, Some(_)) => self.resources.memory_check_at = None,
            _ => {}
        }
    }

    /// At its deadline: each running program over its `max_memory_restart` is restarted
    /// gracefully (stopsignal, grace, start), with a `last_error` that says why.
    pub(super) fn check_memory(&mut self, now: Instant) {
        match self.resources.memory_check_at {
            Some(due) if due <= now => {}
            _ => return,
        }
        self.resources.memory_check_at = Some(now + MEMORY_CHECK_INTERVAL);
        if self.shutdown.is_some() {
            return;
        }
        let mut over = Vec::new();
        for (name, limit) in self.memory_watched() {
            let Some(job) = self.supervisor.view(name, now) else {
                continue;
            };
            if !matches!(job.state, ProcessState::Running | ProcessState::Starting) {
                continue;
            }
            let Some(pid) = job.pid else { continue };
            let processes = self.supervisor.processes(name, None);
            let Some(reading) = self.read_figures(name, pid, processes.members()) else {
                continue;
            };
            let held = reading.memory_bytes;
            if held > limit {
                over.push((name.to_string(), held, limit));
            }
        }
        for (name, held, limit) in over {
            let reason = format!(
                "max_memory_restart: its processes held {} of memory, over the limit of {}; restarted",
                megabytes(held),
                megabytes(limit)
            );
            let changes = self.supervisor.restart_for(&name, &reason, now);
            self.publish_changes(changes);
        }
    }

    /// `GET /metrics`: every program of the table (quick-start runs are not programs), read
    /// now, and the daemon's own process.
    pub(super) fn metrics(&self, now: Instant) -> Answer {
        let mut figures = Vec::with_capacity(self.table.programs.len());
        let counts = self.supervisor.process_counts();
        for program in self.table.programs.values() {
            let name = program.entry.name.as_str();
            let job = self.supervisor.view(name, now);
            let meta = self.jobs.get(name);
            let health =
                self.health_of(program, job.as_ref(), meta, self.health.monitored.get(name));
            let (processes, usage) = self.figures_of(name, job.as_ref(), Some(&counts), now);
            let usage = usage.unwrap_or_default();
            let (state, restarts, started_at, last_exit, uptime) = match &job {
                Some(job) => (
                    job.state,
                    job.restarts,
                    job.started_at,
                    job.last_exit,
                    job.uptime_seconds,
                ),
                None => (
                    crate::supervisor::ProcessState::Stopped,
                    0,
                    None,
                    None,
                    None,
                ),
            };
            figures.push(ProgramFigures {
                name,
                description: program
                    .last_good
                    .as_ref()
                    .map_or("", |spec| spec.description.as_str()),
                state,
                ready: health.ready,
                restarts,
                started_at: started_at
                    .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
                    .map(|since| since.as_secs_f64()),
                exit_code: last_exit.map(|exit| match exit {
                    ExitInfo::Code(code) => i64::from(code),
                    ExitInfo::Signal(signal) => 128 + i64::from(signal),
                }),
                supervisord_exit_status: match last_exit {
                    Some(ExitInfo::Code(code)) => i64::from(code),
                    Some(ExitInfo::Signal(_)) => -1,
                    None => 0,
                },
                cpu_seconds: usage.cpu_seconds,
                memory_bytes: usage.memory_bytes,
                processes,
                config_error: !program.problems().is_empty(),
                uptime_seconds: uptime,
            });
        }
        let text = report::render(&figures, &self.own_figures(), self.config.metrics_compat);
        Answer::with(Data::Text(text))
    }

    /// The daemon's own `process_*` figures.
    fn own_figures(&self) -> DaemonFigures {
        let units = &self.resources.units;
        let own = procfs::read_stat(std::process::id());
        DaemonFigures {
            cpu_seconds: own.map_or(0.0, |stat| {
                (stat.utime + stat.stime) as f64 / units.ticks_per_second as f64
            }),
            resident_bytes: own.map_or(0, |stat| stat.rss_pages.saturating_mul(units.page_size)),
            virtual_bytes: own.map_or(0, |stat| stat.vsize),
            open_fds: procfs::own_open_fds(),
            max_fds: procfs::own_max_fds(),
            start_time: own.and_then(|stat| {
                procfs::boot_time_seconds()
                    .map(|boot| boot + stat.starttime as f64 / units.ticks_per_second as f64)
            }),
        }
    }
}
