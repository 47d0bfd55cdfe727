//! Containment: where the processes of a program are found, counted and ended, beyond its
//! main process and its process group — its cgroup ([`super::cgroup`]) where the daemon could
//! make one, else its marks ([`super::marks`]). Without either (the supervisor's own tests) only
//! process groups are known, as before.
//!
//! What the supervisor does with it (module docs of `supervisor`): a stop signals the whole
//! program (`stopasgroup`); when a main process ends, what it left is counted (the "does it
//! daemonize?" `last_error`) and, with `killasgroup`, ended at once; at the end of the grace,
//! SIGKILL goes to the whole program; a removed program and a daemon that exits end whatever is
//! left.

use std::collections::BTreeMap;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::cgroup::{Cgroups, Leaf};
use super::marks::{Marked, Marks, signal_marked};

/// How the supervisor finds a program's processes.
#[derive(Debug, Default)]
pub struct Containment {
    /// A cgroup per program.
    pub cgroups: Option<Cgroups>,
    /// The marks every process carries; what finds them when there is no cgroup.
    pub marks: Option<Marks>,
}

/// The mechanism in use, for the log and the docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    Cgroups,
    Marks,
    ProcessGroups,
}

/// A live process of a program, besides its main process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub pid: u32,
    /// Known for marked processes: re-checked before each signal.
    pub start_time: Option<u64>,
}

/// How many processes each program has, computed once for a status of all programs.
pub enum Counts {
    /// From each job's cgroup (or main process): nothing computed in advance.
    PerJob,
    /// From one scan of the marks.
    Scanned(BTreeMap<String, usize>),
}

/// The live processes of a job, found for a status or its figures
/// ([`super::Supervisor::processes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processes {
    /// The members of its cgroup: `setsid` and double-forked descendants included.
    Members(Vec<u32>),
    /// How many it has (its marks, or its main process): its figures follow its process tree.
    Count(usize),
}

impl Processes {
    pub fn count(&self) -> usize {
        match self {
            Processes::Members(members) => members.len(),
            Processes::Count(count) => *count,
        }
    }

    /// The cgroup's members, when it has a cgroup.
    pub fn members(&self) -> Option<&[u32]> {
        match self {
            Processes::Members(members) => Some(members),
            Processes::Count(_) => None,
        }
    }
}

impl Containment {
    pub fn mechanism(&self) -> Mechanism {
        match (&self.cgroups, &self.marks) {
            (Some(_), _) => Mechanism::Cgroups,
            (None, Some(_)) => Mechanism::Marks,
            (None, None) => Mechanism::ProcessGroups,
        }
    }

    /// The live processes of a job (its main process included while it lives). `leaf`: the
    /// job's cgroup, when it has one.
    pub fn members(&self, job: &str, leaf: Option<&Leaf>) -> Vec<Member> {
        match (leaf, &self.marks) {
            (Some(leaf), _) => leaf
                .members()
                .into_iter()
                .map(|pid| Member {
                    pid,
                    start_time: None,
                })
                .collect(),
            (None, Some(marks)) if self.cgroups.is_none() => marks
                .of(job)
                .into_iter()
                .map(|marked| Member {
                    pid: marked.pid,
                    start_time: Some(marked.start_time),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// How many live processes a job has; `None` when only its main process is known.
    pub fn count(&self, job: &str, leaf: Option<&Leaf>) -> Option<usize> {
        match (leaf, &self.marks) {
            (Some(leaf), _) => Some(leaf.count()),
            (None, Some(marks)) if self.cgroups.is_none() => Some(marks.of(job).len()),
            (None, _) if self.cgroups.is_some() => Some(0),
            _ => None,
        }
    }

    /// What a status of every program needs computed up front.
    pub fn counts(&self) -> Counts {
        match (&self.cgroups, &self.marks) {
            (None, Some(marks)) => Counts::Scanned(marks.counts()),
            _ => Counts::PerJob,
        }
    }

    /// The processes of the job outside the process group its main process `main` leads
    /// (those that left it with `setsid` or `setpgid`): the ones a signal to the group misses.
    pub fn outside_group(&self, job: &str, leaf: Option<&Leaf>, main: u32) -> Vec<Member> {
        let mut members = self.members(job, leaf);
        members.retain(|member| member.pid != main && process_group(member.pid) != Some(main));
        members
    }

    /// Signals each of `members` (looked up before the group was signalled: a process forked
    /// in answer to the signal, a shell's trap, is not hit).
    pub fn signal(&self, members: &[Member], signal: Signal) {
        for member in members {
            send(member, signal);
        }
    }

    /// SIGKILL to every process of the job (`cgroup.kill`; with marks, each marked process,
    /// looked for twice: a process killed in the middle of a fork may leave a child). `leaf`:
    /// the job's cgroup, noted as killed.
    pub fn kill(&self, job: &str, leaf: Option<&Leaf>) {
        match (&self.cgroups, &self.marks) {
            (Some(cgroups), _) => {
                if let Some(leaf) = leaf {
                    leaf.mark_killed();
                }
                cgroups.kill(job);
            }
            (None, Some(marks)) => {
                for _ in 0..2 {
                    let members = marks.of(job);
                    if members.is_empty() || signal_marked(&members, Signal::SIGKILL) == 0 {
                        break;
                    }
                }
            }
            (None, None) => {}
        }
    }

    /// The job is gone from the supervisor: whatever it left is killed and its cgroup removed.
    /// False when the cgroup is still populated (killed processes take a moment to go): the
    /// caller tries again later.
    pub fn release(&self, job: &str) -> bool {
        let Some(cgroups) = &self.cgroups else {
            self.kill(job, None);
            return true;
        };
        if cgroups.populated(job) {
            cgroups.kill(job);
        }
        cgroups.remove_leaf(job)
    }

    /// The daemon ends: every process of every program that is still there is killed, and the
    /// cgroups are removed (waiting at most `patience` for the killed to go).
    pub fn close(&self, patience: Duration) -> bool {
        match (&self.cgroups, &self.marks) {
            (Some(cgroups), _) => cgroups.close(patience),
            (None, Some(marks)) => {
                let give_up = std::time::Instant::now() + patience;
                loop {
                    let left: Vec<Marked> = marks.scan();
                    if left.is_empty() {
                        return true;
                    }
                    tracing::warn!(pids = ?left.iter().map(|marked| marked.pid).collect::<Vec<_>>(), "ending processes left by programs");
                    signal_marked(&left, Signal::SIGKILL);
                    if std::time::Instant::now() >= give_up {
                        return false;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            (None, None) => true,
        }
    }
}

/// Field 5 of `/proc/PID/stat`.
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(5 - 3)?
        .parse()
        .ok()
}

fn send(member: &Member, signal: Signal) {
    match member.start_time {
        Some(start_time) => {
            signal_marked(
                &[Marked {
                    pid: member.pid,
                    start_time,
                    pgid: 0,
                    program: None,
                }],
                signal,
            );
        }
        None => {
            if let Ok(raw) = i32::try_from(member.pid)
                && raw > 1
            {
                let _ = kill(Pid::from_raw(raw), signal);
            }
        }
    }
}
