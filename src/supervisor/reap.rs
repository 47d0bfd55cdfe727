//! Reaping: the process-wide table of the children this process spawned, the `waitid` loop
//! that collects every ended child (ours, and orphans re-parented to us as a subreaper), and
//! the `/proc` helpers.
//!
//! `waitpid(-1)` is a property of the process, not of a `Supervisor`, so the table of children
//! is process-wide too ([`children`]). The daemon has one `Supervisor` on one thread, where the
//! table's mutex is never contended; tests run several supervisors on parallel threads in one
//! process, and the table is what keeps them from stealing each other's exits: a child reaped by
//! one supervisor for another is parked until its owner collects it.
//!
//! The same mutex is held around `fork` + registration ([`ChildTable::register`]) and around
//! the reaping loop, so a reaper never sees a child it does not know yet, and never reaps the
//! child of a failed exec, which `spawn` waits for itself.

use std::collections::BTreeMap;
use std::io;
use std::sync::{Mutex, MutexGuard, PoisonError};

use nix::errno::Errno;
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};

use super::state::ExitInfo;

/// The children spawned by any supervisor of this process, and exits parked for their owner.
#[derive(Debug)]
pub(crate) struct ChildTable {
    /// Live children by pid, each with whether its process group is SIGKILLed when it exits.
    live: BTreeMap<i32, bool>,
    /// Exits collected by one supervisor on behalf of another.
    parked: BTreeMap<i32, ExitInfo>,
}

static CHILDREN: Mutex<ChildTable> = Mutex::new(ChildTable {
    live: BTreeMap::new(),
    parked: BTreeMap::new(),
});

/// Locks the process-wide child table. Hold it across spawning a child and registering it.
pub(crate) fn children() -> MutexGuard<'static, ChildTable> {
    CHILDREN.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ChildTable {
    pub fn register(&mut self, pid: i32, kill_group_on_exit: bool) {
        self.live.insert(pid, kill_group_on_exit);
    }

    /// A later spec may change `killasgroup` of a live child.
    pub fn set_kill_group_on_exit(&mut self, pid: i32, kill_group_on_exit: bool) {
        if let Some(flag) = self.live.get_mut(&pid) {
            *flag = kill_group_on_exit;
        }
    }

    /// Its supervisor is gone: the child will be reaped as an unknown one.
    pub fn forget(&mut self, pid: i32) {
        self.live.remove(&pid);
        self.parked.remove(&pid);
    }

    /// Reaps every child that has ended, without blocking, and returns the exits of the pids
    /// `is_mine` claims (including exits parked for them by another supervisor).
    ///
    /// Each ended child is first looked at with `WNOWAIT`: while it is an unreaped zombie its
    /// pid, and so its process group id, cannot be reused. `at_end(pid, kill_group)` runs for
    /// each registered child in that moment, so the `killasgroup` SIGKILL of what is left of
    /// its group is safe (and what it left can be counted first). Then it is reaped for real.
    pub fn reap(
        &mut self,
        is_mine: impl Fn(i32) -> bool,
        mut at_end: impl FnMut(i32, bool),
    ) -> Vec<(i32, ExitInfo)> {
        let mut exits = Vec::new();
        loop {
            let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
            let status = match waitid(Id::All, flags) {
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Err(Errno::EINTR) => continue,
                Err(errno) => {
                    tracing::error!(error = %errno, "waitid failed");
                    break;
                }
                Ok(status) => status,
            };
            let Some(pid) = status.pid() else { break };
            let exit = match status {
                WaitStatus::Exited(_, code) => Some(ExitInfo::Code(code)),
                WaitStatus::Signaled(_, signal, _) => Some(ExitInfo::Signal(signal as i32)),
                _ => None,
            };
            let known = self.live.remove(&pid.as_raw());
            if let Some(kill_group) = known {
                at_end(pid.as_raw(), kill_group);
            }
            match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => {
                    // Cannot happen for a zombie; never spin on it.
                    tracing::error!(pid = pid.as_raw(), "an ended child is still alive");
                    break;
                }
                Ok(_) | Err(Errno::ECHILD) => {}
                Err(errno) => {
                    tracing::error!(pid = pid.as_raw(), error = %errno, "waitpid failed");
                    break;
                }
            }
            let Some(exit) = exit else { continue };
            if is_mine(pid.as_raw()) {
                exits.push((pid.as_raw(), exit));
            } else if known.is_some() {
                self.parked.insert(pid.as_raw(), exit);
            } else {
                tracing::debug!(pid = pid.as_raw(), %exit, "reaped an orphan");
            }
        }
        let claimed: Vec<i32> = self
            .parked
            .keys()
            .copied()
            .filter(|pid| is_mine(*pid))
            .collect();
        for pid in claimed {
            if let Some(exit) = self.parked.remove(&pid) {
                exits.push((pid, exit));
            }
        }
        exits
    }
}

/// Blocks SIGCHLD in the calling thread, and so in every thread it starts from now on (a new
/// thread inherits its creator's mask). Call it first thing in the process, before any thread
/// exists: [`ChildSignal`] only hears a SIGCHLD that no thread takes (a thread that does not
/// block it would receive it and, SIGCHLD being ignored by default, drop it). Children get an
/// empty mask before they exec (`spawn`), so programs never inherit it.
pub fn block_child_signal() -> io::Result<()> {
    let mut set = nix::sys::signal::SigSet::empty();
    set.add(nix::sys::signal::Signal::SIGCHLD);
    set.thread_block().map_err(io::Error::from)
}

/// The loop's wake-up when a child ends: SIGCHLD read from a `signalfd` registered with the
/// loop's own reactor. With tokio's `signal()` each SIGCHLD ran a handler that wrote to a
/// socket which every runtime of the process watches: the API thread often woke first, read
/// it, and woke the loop through its runtime's eventfd, a second turn of the reactor and two
/// context switches between a child's exit and its restart (docs/PERFORMANCE.md, "Restart
/// after kill -9"). SIGCHLD must be blocked in every thread ([`block_child_signal`]).
pub struct ChildSignal {
    fd: tokio::io::unix::AsyncFd<std::os::fd::OwnedFd>,
}

impl ChildSignal {
    /// Blocks SIGCHLD in this thread too (see [`block_child_signal`]) and opens the signalfd
    /// (non-blocking, close-on-exec, kept at a high descriptor). Needs a tokio runtime.
    pub fn new() -> io::Result<ChildSignal> {
        use std::os::fd::FromRawFd;
        block_child_signal()?;
        let mut set = nix::sys::signal::SigSet::empty();
        set.add(nix::sys::signal::Signal::SIGCHLD);
        // SAFETY: signalfd(-1, …) makes a new descriptor from a valid sigset; nothing else
        // owns it.
        let raw =
            unsafe { libc::signalfd(-1, set.as_ref(), libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just returned by signalfd and is owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(raw) };
        let fd = super::spawn::keep_high(fd);
        // SAFETY: the AsyncFd takes the OwnedFd, which keeps the descriptor open and unchanged
        // until the AsyncFd is dropped; nothing else closes or replaces it.
        let registered = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(fd, tokio::io::Interest::READABLE)
        };
        match registered {
            Ok(fd) => Ok(ChildSignal { fd }),
            Err(error) => Err(error.into_parts().1),
        }
    }

    /// Waits until at least one SIGCHLD came since the last call, and takes every one that is
    /// pending (they coalesce: the caller reaps every ended child, not one per signal).
    /// Cancel-safe: nothing is taken in a poll that returns pending.
    pub async fn recv(&self) -> io::Result<()> {
        loop {
            let mut ready = self.fd.readable().await?;
            if drain(ready.get_inner())? {
                ready.clear_ready();
                return Ok(());
            }
            // Readiness without a signal (woken by an earlier one already taken).
            ready.clear_ready();
        }
    }
}

/// Reads every pending `signalfd_siginfo` until the descriptor would block. Returns whether
/// any was there.
fn drain(fd: &std::os::fd::OwnedFd) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    const INFO: usize = std::mem::size_of::<libc::signalfd_siginfo>();
    let mut buffer = [0u8; INFO * 8];
    let mut any = false;
    loop {
        // SAFETY: reads at most `buffer.len()` bytes into the buffer, which lives across the
        // call.
        let read = unsafe { libc::read(fd.as_raw_fd(), buffer.as_mut_ptr().cast(), buffer.len()) };
        if read > 0 {
            any = true;
            continue;
        }
        let error = io::Error::last_os_error();
        return match error.kind() {
            _ if read == 0 => Ok(any),
            io::ErrorKind::WouldBlock => Ok(any),
            io::ErrorKind::Interrupted => continue,
            _ => Err(error),
        };
    }
}

/// Makes this process a child subreaper (`PR_SET_CHILD_SUBREAPER`): orphaned descendants of
/// the programs (a double-forked daemon, the children of a killed shell) are re-parented to us
/// instead of to PID 1, so the reaping loop collects them and no zombie is left behind.
pub fn become_subreaper() -> io::Result<()> {
    nix::sys::prctl::set_child_subreaper(true).map_err(io::Error::from)
}

/// The start time of a process (field 22 of `/proc/PID/stat`, in clock ticks since boot), to
/// tell a process from a later one that reuses its pid. `None` when there is no such process.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_time(&stat)
}

/// The command name (field 2) is in parentheses and may itself hold spaces and parentheses,
/// so fields are counted from the last `)`: field 3 is the first after it.
fn parse_start_time(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(22 - 3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22() {
        let stat = "1234 (a (weird) name) S 1 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 100";
        assert_eq!(parse_start_time(stat), Some(987654));
        assert_eq!(parse_start_time("garbage"), None);
        assert_eq!(parse_start_time("1 (x) S 1 2"), None);
    }

    #[test]
    fn start_time_of_this_process() {
        let pid = std::process::id();
        let first = process_start_time(pid).unwrap();
        assert_eq!(process_start_time(pid), Some(first));
        assert_eq!(process_start_time(u32::MAX), None);
    }
}
