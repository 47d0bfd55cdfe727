//! Marks: how the daemon knows its processes without a cgroup. Every process it starts carries
//! two variables in its environment, set by the supervisor on purpose (over the program's own):
//! `HOODY_DAEMON_STATE_DIR=<state folder>` (which daemon: one at a time holds a state folder)
//! and `HOODY_DAEMON_PROGRAM=<job>` (which program). Children inherit them through `fork` and
//! `exec`, so a grandchild that left its program's process group (`setsid`, a double fork) is
//! still found in `/proc/*/environ` and ended with its program. The daemon is a child
//! subreaper, so such orphans are re-parented to it and reaped, not left as zombies.
//!
//! Marks are also what a start after a crash uses to find processes the last run forked in the
//! instant before it died, whatever the containment.
//!
//! Limits (where a cgroup would catch them all): a process that clears its environment
//! (`env -i`, an `execve` with a fresh one) or overwrites the block the kernel shows in
//! `/proc/PID/environ` (`setproctitle`, as nginx and PostgreSQL do) and also leaves its
//! process group is not found; a fork bomb can fork faster than a scan kills. Each look is a
//! read of `/proc/*/environ` of every process on the host, done only when needed (a main
//! process ended, a status asked for `processes`, a stop), never on a timer.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::Path;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Names the daemon (its state folder).
pub const STATE_KEY: &str = "HOODY_DAEMON_STATE_DIR";
/// Names the program (its job's name).
pub const PROGRAM_KEY: &str = "HOODY_DAEMON_PROGRAM";

/// The marks of one daemon.
#[derive(Debug, Clone)]
pub struct Marks {
    state: String,
    /// `HOODY_DAEMON_STATE_DIR=<state folder>`, as it appears in an environment block.
    entry: Vec<u8>,
}

/// A live process that carries this daemon's mark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marked {
    pub pid: u32,
    /// Field 22 of `/proc/PID/stat`, to tell it from a later process with the same pid.
    pub start_time: u64,
    /// Its process group.
    pub pgid: u32,
    /// The program it belongs to; `None` for a process started by a version without the
    /// program mark.
    pub program: Option<String>,
}

impl Marks {
    pub fn new(state_dir: &Path) -> Marks {
        let state = state_dir.to_string_lossy().into_owned();
        let entry = format!("{STATE_KEY}={state}").into_bytes();
        Marks { state, entry }
    }

    /// The variables a process of `job` carries.
    pub fn environment<'a>(&'a self, job: &'a str) -> [(&'static str, &'a str); 2] {
        [(STATE_KEY, &self.state), (PROGRAM_KEY, job)]
    }

    /// Every live process (not a zombie) with this daemon's mark, but this process.
    pub fn scan(&self) -> Vec<Marked> {
        let Ok(listing) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        let me = std::process::id();
        let mut environ = Vec::with_capacity(4096);
        let mut found = Vec::new();
        for entry in listing.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|name| name.parse::<u32>().ok())
            else {
                continue;
            };
            if pid == me {
                continue;
            }
            environ.clear();
            let read = fs::File::open(format!("/proc/{pid}/environ"))
                .and_then(|mut file| file.read_to_end(&mut environ));
            if read.is_err() {
                continue;
            }
            let Some(program) = marked_program(&environ, &self.entry) else {
                continue;
            };
            if let Some((start_time, pgid)) = live_stat(pid) {
                found.push(Marked {
                    pid,
                    start_time,
                    pgid,
                    program,
                });
            }
        }
        found
    }

    /// The live processes of one job.
    pub fn of(&self, job: &str) -> Vec<Marked> {
        self.scan()
            .into_iter()
            .filter(|marked| marked.program.as_deref() == Some(job))
            .collect()
    }

    /// How many live processes each job has.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for marked in self.scan() {
            if let Some(program) = marked.program {
                *counts.entry(program).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// In an environment block (`KEY=value` entries ended by NUL): `None` without the daemon's
/// entry, else the program mark's value, if any.
fn marked_program(environ: &[u8], entry: &[u8]) -> Option<Option<String>> {
    let mut ours = false;
    let mut program = None;
    let prefix = format!("{PROGRAM_KEY}=");
    for variable in environ.split(|byte| *byte == 0) {
        if variable == entry {
            ours = true;
        } else if let Some(value) = variable.strip_prefix(prefix.as_bytes()) {
            program = Some(String::from_utf8_lossy(value).into_owned());
        }
    }
    ours.then_some(program)
}

/// The start time of a process that is alive and not a zombie.
pub fn live_start_time(pid: u32) -> Option<u64> {
    live_stat(pid).map(|(start_time, _)| start_time)
}

/// The start time and process group of a process that is alive and not a zombie.
fn live_stat(pid: u32) -> Option<(u64, u32)> {
    parse_live_stat(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Fields are counted from the last `)` (the command name may hold anything): state is field
/// 3, the process group 5, the start time 22.
fn parse_live_stat(stat: &str) -> Option<(u64, u32)> {
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let state = *fields.first()?;
    if state == "Z" || state == "X" {
        return None;
    }
    Some((
        fields.get(22 - 3)?.parse().ok()?,
        fields.get(5 - 3)?.parse().ok()?,
    ))
}

/// Signals each process that is still the one found (same start time); returns how many were
/// signalled.
pub fn signal_marked(processes: &[Marked], signal: Signal) -> usize {
    processes
        .iter()
        .filter(|marked| {
            live_start_time(marked.pid) == Some(marked.start_time)
                && i32::try_from(marked.pid)
                    .is_ok_and(|raw| raw > 1 && kill(Pid::from_raw(raw), signal).is_ok())
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_gives_start_time_and_group_of_live_processes_only() {
        let live = "1234 (a (weird) name) S 1 1200 1200 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 12345678 100";
        assert_eq!(parse_live_stat(live), Some((987_654, 1200)));
        let zombie = live.replace(") S ", ") Z ");
        assert_eq!(parse_live_stat(&zombie), None);
        assert_eq!(parse_live_stat("1 (x) S 1 2"), None);
    }

    #[test]
    fn the_program_mark_is_read_only_from_this_daemons_processes() {
        let entry = b"HOODY_DAEMON_STATE_DIR=/srv/state";
        let table: [(&[u8], Option<Option<&str>>); 6] = [
            (
                b"PATH=/bin\0HOODY_DAEMON_STATE_DIR=/srv/state\0HOODY_DAEMON_PROGRAM=web\0",
                Some(Some("web")),
            ),
            (
                b"HOODY_DAEMON_PROGRAM=web\0HOODY_DAEMON_STATE_DIR=/srv/state",
                Some(Some("web")),
            ),
            // Started by a version without the program mark.
            (b"HOODY_DAEMON_STATE_DIR=/srv/state\0", Some(None)),
            // Another daemon's, or a prefix of ours.
            (
                b"HOODY_DAEMON_STATE_DIR=/srv/state2\0HOODY_DAEMON_PROGRAM=web\0",
                None,
            ),
            (b"XHOODY_DAEMON_STATE_DIR=/srv/state\0", None),
            (b"", None),
        ];
        for (environ, expected) in table {
            assert_eq!(
                marked_program(environ, entry),
                expected.map(|program| program.map(str::to_string)),
                "{}",
                String::from_utf8_lossy(environ)
            );
        }
    }
}
