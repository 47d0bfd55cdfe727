//! The two ways the daemon ends processes outside the normal graceful stop: a forced shutdown
//! (a second SIGTERM kills every program at once), and the leftovers of a previous run that
//! crashed ([`Leftovers`]), which are not our children any more.
//!
//! # Leftovers of the last run
//!
//! A start after a crash (kill -9) finds what the last run left behind in three ways, so that
//! no program ever runs twice:
//! - the processes recorded in `running.json` (pid and kernel start time: a pid reused by
//!   another process is never hit), each the leader of its program's process group;
//! - the leaves of the last run's cgroup tree (its path is recorded in the state folder) and of
//!   this run's, which is the same tree when the daemon runs in the same cgroup;
//! - every live process carrying the daemon's mark (a process forked in the instant before
//!   the crash, a grandchild that left its group), attributed to its program by the program
//!   mark.
//!
//! Each program's leftovers get its stop signal at once, and SIGKILL after its `stopwaitsecs`
//! (from `running.json`; 10 s when it was not recorded). This happens in the background: the
//! daemon serves reads at once, starts every program that has nothing left, and holds back
//! (and answers 503 for a start of) only the programs whose leftovers are still there
//! ([`Leftovers::holds`]). Nothing tells us when a process that is not our child ends, so while
//! any leftover remains the daemon looks every [`PROBE`] (a few reads of `/proc` and of
//! `cgroup.events`); with none, it never wakes for them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::cgroup::Cgroups;
use super::marks::{Marked, Marks, live_start_time, signal_marked};
use super::{ProcessState, StateChange, Supervisor, process_start_time};
use crate::spec::StopSignal;

/// How often pending leftovers are looked at.
pub const PROBE: Duration = Duration::from_millis(50);

/// The grace of a leftover whose stop settings were not recorded.
const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// The key under which leftovers of no known program are held: they hold back every start.
const UNKNOWN: &str = "";

/// One process the last run recorded in `running.json`.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub name: String,
    pub pid: u32,
    pub start_time: u64,
    pub stop_signal: StopSignal,
    pub grace: Duration,
}

/// What is left of one program.
#[derive(Debug)]
struct Pending {
    /// The recorded process group, by its leader's pid.
    group: Option<u32>,
    /// Index in `trees` of the tree whose leaf holds processes of the program.
    tree: Option<usize>,
    /// Marked processes, outside the group and the cgroup.
    marked: Vec<Marked>,
    kill_at: Instant,
    killed: bool,
}

/// The leftovers of the last run, program by program, until they are gone.
#[derive(Debug, Default)]
pub struct Leftovers {
    pending: BTreeMap<String, Pending>,
    /// The trees that held leftovers; removed once empty, but for this run's own.
    trees: Vec<Cgroups>,
    /// This run's tree, to keep.
    own_tree: Option<PathBuf>,
    probe_at: Option<Instant>,
}

impl Leftovers {
    /// Finds what the last run left and sends each program's leftovers their stop signal.
    /// `previous`: the last run's tree; `own`: this run's (the same folder after a crash in the
    /// same cgroup).
    pub fn find(
        recorded: &[Recorded],
        previous: Option<Cgroups>,
        own: Option<&Cgroups>,
        marks: &Marks,
        now: Instant,
    ) -> Leftovers {
        let mut leftovers = Leftovers {
            own_tree: own.map(|tree| tree.path().to_path_buf()),
            ..Leftovers::default()
        };
        let settings = |name: &str| {
            recorded
                .iter()
                .find(|record| record.name == name)
                .map_or((StopSignal::Term, DEFAULT_GRACE), |record| {
                    (record.stop_signal, record.grace)
                })
        };
        // The cgroup leaves: everything in them, whatever group it is in.
        let mut trees: Vec<Cgroups> = previous.into_iter().collect();
        if let Some(own) = own
            && trees.iter().all(|tree| tree.path() != own.path())
        {
            trees.push(Cgroups::at(own.path().to_path_buf()));
        }
        for (index, tree) in trees.iter().enumerate() {
            for job in tree.leaves() {
                if !tree.populated(&job) {
                    tree.remove_leaf(&job);
                    continue;
                }
                let (signal, grace) = settings(&job);
                tracing::warn!(program = %job, cgroup = %tree.leaf_path(&job).display(), "ending processes left by the last run");
                for pid in tree.members_at(&job) {
                    send_pid(pid, signal.to_nix());
                }
                leftovers.entry(&job, grace, now).tree = Some(index);
            }
        }
        leftovers.trees = trees;
        // The recorded process groups of programs without a cgroup of leftovers.
        for record in recorded {
            if leftovers.pending.contains_key(&record.name) {
                continue;
            }
            let current = process_start_time(record.pid);
            if current.is_some_and(|start_time| start_time != record.start_time) {
                tracing::info!(program = %record.name, pid = record.pid, "pid reused by another process; left alone");
                continue;
            }
            if signal_group(record.pid, Some(record.stop_signal.to_nix())) {
                tracing::warn!(program = %record.name, pid = record.pid, "ending a process group left by the last run");
                leftovers.entry(&record.name, record.grace, now).group = Some(record.pid);
            }
        }
        // Marked processes that neither reached: each on its own.
        for marked in marks.scan() {
            let name = marked.program.clone().unwrap_or_default();
            let covered = leftovers.pending.get(&name).is_some_and(|pending| {
                pending.tree.is_some() || pending.group == Some(marked.pgid)
            });
            if covered {
                continue;
            }
            let (signal, grace) = settings(&name);
            tracing::warn!(program = %name, pid = marked.pid, "ending an unrecorded process left by the last run");
            signal_marked(std::slice::from_ref(&marked), signal.to_nix());
            leftovers.entry(&name, grace, now).marked.push(marked);
        }
        if !leftovers.pending.is_empty() {
            leftovers.probe_at = Some(now + PROBE);
        }
        leftovers.remove_empty_trees();
        leftovers
    }

    fn entry(&mut self, name: &str, grace: Duration, now: Instant) -> &mut Pending {
        self.pending
            .entry(name.to_string())
            .or_insert_with(|| Pending {
                group: None,
                tree: None,
                marked: Vec::new(),
                kill_at: now + grace,
                killed: false,
            })
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// The programs with leftovers still there.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pending.keys().map(String::as_str)
    }

    /// Whether a start of this program must wait for leftovers of the last run.
    pub fn holds(&self, name: &str) -> bool {
        self.pending.contains_key(name) || self.pending.contains_key(UNKNOWN)
    }

    /// How long until the leftovers holding this program are killed (at least a second), for
    /// a `Retry-After`; `None` when nothing holds it.
    pub fn retry_after(&self, name: &str, now: Instant) -> Option<Duration> {
        let pending = [name, UNKNOWN]
            .into_iter()
            .filter_map(|name| self.pending.get(name));
        pending
            .map(|pending| {
                if pending.killed {
                    Duration::from_secs(1)
                } else {
                    pending
                        .kill_at
                        .saturating_duration_since(now)
                        .max(Duration::from_secs(1))
                }
            })
            .max()
    }

    /// How many live processes the last run left of this program.
    pub fn processes(&self, name: &str) -> usize {
        let Some(pending) = self.pending.get(name) else {
            return 0;
        };
        let in_tree = pending
            .tree
            .and_then(|index| self.trees.get(index))
            .map_or(0, |tree| tree.members_at(name).len());
        let marked = pending
            .marked
            .iter()
            .filter(|marked| live_start_time(marked.pid) == Some(marked.start_time))
            .count();
        let leader = pending
            .group
            .is_some_and(|pid| process_start_time(pid).is_some());
        in_tree + marked + usize::from(leader && pending.tree.is_none())
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.probe_at
    }

    /// Looks at every pending program: SIGKILL to what is left at the end of its grace.
    /// Returns the programs whose leftovers are all gone now.
    pub fn on_deadline(&mut self, now: Instant) -> Vec<String> {
        if self.probe_at.is_none_or(|probe_at| probe_at > now) {
            return Vec::new();
        }
        let mut done = Vec::new();
        let trees = &self.trees;
        self.pending.retain(|name, pending| {
            let tree = pending.tree.and_then(|index| trees.get(index));
            pending.marked.retain(|marked| live_start_time(marked.pid) == Some(marked.start_time));
            let in_tree = tree.is_some_and(|tree| tree.populated(name));
            let in_group = pending.group.is_some_and(|pid| signal_group(pid, None));
            if !in_tree && !in_group && pending.marked.is_empty() {
                if let Some(tree) = tree {
                    tree.remove_leaf(name);
                }
                tracing::info!(program = %name, "the last run's processes are gone");
                done.push(name.clone());
                return false;
            }
            if now >= pending.kill_at && !pending.killed {
                tracing::warn!(program = %name, "the last run's processes did not stop in time; sending SIGKILL");
                kill_pending(name, pending, tree);
            }
            true
        });
        self.probe_at = (!self.pending.is_empty()).then(|| now + PROBE);
        if self.pending.is_empty() {
            self.remove_empty_trees();
        }
        done
    }

    /// A forced shutdown: SIGKILL to every leftover now.
    pub fn kill_all(&mut self) {
        let trees = &self.trees;
        for (name, pending) in &mut self.pending {
            let tree = pending.tree.and_then(|index| trees.get(index));
            kill_pending(name, pending, tree);
        }
    }

    /// The last run's trees, once nothing of theirs is pending (this run's own is kept).
    fn remove_empty_trees(&mut self) {
        let pending_trees: Vec<usize> = self
            .pending
            .values()
            .filter_map(|pending| pending.tree)
            .collect();
        for (index, tree) in self.trees.iter().enumerate() {
            if Some(tree.path()) != self.own_tree.as_deref() && !pending_trees.contains(&index) {
                for job in tree.leaves() {
                    tree.remove_leaf(&job);
                }
                tree.remove_tree();
            }
        }
    }
}

fn kill_pending(name: &str, pending: &mut Pending, tree: Option<&Cgroups>) {
    if let Some(tree) = tree {
        tree.kill(name);
    }
    if let Some(pid) = pending.group {
        signal_group(pid, Some(Signal::SIGKILL));
    }
    signal_marked(&pending.marked, Signal::SIGKILL);
    pending.killed = true;
}

/// Signals the process group led by `pgid` (`None`: signal 0, does it exist?). Returns whether
/// the group exists. The caller has checked that `pgid` is not a pid reused by another
/// process: the kernel never gives out a pid that is still some group's id.
fn signal_group(pgid: u32, signal: Option<Signal>) -> bool {
    match i32::try_from(pgid) {
        Ok(raw) if raw > 1 => killpg(Pid::from_raw(raw), signal).is_ok(),
        _ => false,
    }
}

fn send_pid(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 1
    {
        let _ = nix::sys::signal::kill(Pid::from_raw(raw), signal);
    }
}

impl Supervisor {
    /// Forced shutdown: every job with a process goes STOPPING and the whole program (process
    /// group, cgroup, marked processes) gets SIGKILL now; jobs waiting to retry go STOPPED.
    /// Nothing restarts afterwards.
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
                self.context
                    .containment
                    .kill(&job.spec.name, job.leaf.as_ref());
                job.killed = true;
            }
            super::schedule(&mut self.deadlines, job);
        }
        super::said(changes)
    }
}
