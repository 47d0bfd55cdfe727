//! What a process costs, read from `/proc`: one `/proc/PID/stat` per process (CPU time, the
//! resident set, its state), the children of each of its threads
//! (`/proc/PID/task/TID/children`) to find a process tree, and the sum over a set of
//! processes. The parsers are pure (tested with tables); the readers are thin.
//!
//! Why `stat` and not `statm` or `smaps_rollup`: `stat` holds the CPU times and the resident
//! set (field 24, the same counter `statm`'s second field shows) in one read. `smaps_rollup`
//! would give PSS (shared pages split between the processes that map them), but it walks
//! every mapping of the process under its mmap lock: too slow for a status of 1,000 programs,
//! and a cost the program itself would feel. So `memory_bytes` is RSS, summed: pages two
//! processes of one program share (a fork's, a shared library's) count twice, as `ps` and
//! PM2 count them (docs/METRICS.md).

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::Mode;

/// The fields of `/proc/PID/stat` that status and `/metrics` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub pid: u32,
    /// `R`, `S`, `D`, `Z` (zombie), `T`…
    pub state: u8,
    pub ppid: u32,
    pub pgrp: u32,
    /// User and system time of the process (all its threads), in clock ticks.
    pub utime: u64,
    pub stime: u64,
    /// The same of its children that it has waited for (reaped), in clock ticks.
    pub cutime: u64,
    pub cstime: u64,
    pub num_threads: u64,
    /// When it started, in clock ticks after boot.
    pub starttime: u64,
    /// Virtual memory size in bytes.
    pub vsize: u64,
    /// Resident set size in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// The CPU time it has used, its reaped children's included, in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime
            .saturating_add(self.stime)
            .saturating_add(self.cutime)
            .saturating_add(self.cstime)
    }

    pub fn is_zombie(&self) -> bool {
        self.state == b'Z' || self.state == b'X'
    }
}

/// Parses `/proc/PID/stat`. The command name (field 2) is in parentheses and may hold spaces
/// and parentheses of its own: the fields after it start after the *last* `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let (head, rest) = text.rsplit_once(')')?;
    let pid = head.split_once('(')?.0.trim().parse().ok()?;
    // cutime and cstime are signed in the kernel's format (never negative in practice).
    let number = |text: &str| -> Option<u64> {
        text.parse::<u64>()
            .ok()
            .or_else(|| text.parse::<i64>().ok().map(|value| value.max(0) as u64))
    };
    // One pass over the fields after the name (field 3, the state, is the first); nothing is
    // collected: a status of 1,000 programs parses 1,000 of these.
    let mut stat = Stat {
        pid,
        state: 0,
        ppid: 0,
        pgrp: 0,
        utime: 0,
        stime: 0,
        cutime: 0,
        cstime: 0,
        num_threads: 0,
        starttime: 0,
        vsize: 0,
        rss_pages: 0,
    };
    let mut last = 0;
    for (index, field) in rest.split_ascii_whitespace().enumerate() {
        let number_field = index + 3;
        match number_field {
            3 => stat.state = *field.as_bytes().first()?,
            4 => stat.ppid = u32::try_from(number(field)?).ok()?,
            5 => stat.pgrp = u32::try_from(number(field)?).ok()?,
            14 => stat.utime = number(field)?,
            15 => stat.stime = number(field)?,
            16 => stat.cutime = number(field)?,
            17 => stat.cstime = number(field)?,
            20 => stat.num_threads = number(field)?,
            22 => stat.starttime = number(field)?,
            23 => stat.vsize = number(field)?,
            24 => {
                stat.rss_pages = number(field)?;
                last = 24;
                break;
            }
            _ => {}
        }
    }
    // Cut short before the resident set: not a stat line.
    (last == 24).then_some(stat)
}

/// Parses a `children` file: pids separated by spaces.
pub fn parse_pids(text: &str) -> Vec<u32> {
    text.split_ascii_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect()
}

/// What a set of processes costs, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Live processes (zombies not counted).
    pub processes: u32,
    /// CPU time of the live processes and of the children they reaped, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident set of the live processes, in pages.
    pub rss_pages: u64,
}

impl Usage {
    /// Sums the stats of a set of processes (each once; a pid seen twice counts once).
    pub fn sum<'a>(stats: impl IntoIterator<Item = &'a Stat>) -> Usage {
        let mut seen = std::collections::HashSet::new();
        let mut usage = Usage::default();
        for stat in stats {
            if !seen.insert(stat.pid) {
                continue;
            }
            // A zombie's own times are already final and are about to move into its
            // reaper's cutime; it holds no memory.
            usage.cpu_ticks = usage.cpu_ticks.saturating_add(stat.cpu_ticks());
            if stat.is_zombie() {
                continue;
            }
            usage.processes = usage.processes.saturating_add(1);
            usage.rss_pages = usage.rss_pages.saturating_add(stat.rss_pages);
        }
        usage
    }

    pub fn cpu_seconds(&self, units: &Units) -> f64 {
        self.cpu_ticks as f64 / units.ticks_per_second as f64
    }

    pub fn memory_bytes(&self, units: &Units) -> u64 {
        self.rss_pages.saturating_mul(units.page_size)
    }
}

/// The kernel's units: clock ticks per second (`USER_HZ`) and the page size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub ticks_per_second: u64,
    pub page_size: u64,
}

impl Units {
    /// Asked of the C library once (`sysconf`); 100 and 4096 where it cannot say.
    pub fn of_this_system() -> Units {
        let ask = |name| {
            nix::unistd::sysconf(name)
                .ok()
                .flatten()
                .and_then(|value| u64::try_from(value).ok())
                .filter(|value| *value > 0)
        };
        Units {
            ticks_per_second: ask(nix::unistd::SysconfVar::CLK_TCK).unwrap_or(100),
            page_size: ask(nix::unistd::SysconfVar::PAGE_SIZE).unwrap_or(4096),
        }
    }
}

/// The most processes one tree walk follows: a fork bomb in a program must not make a status
/// read unbounded.
pub const MAX_TREE: usize = 100_000;

/// Reads `/proc/PID/stat`; `None` when the process is gone.
pub fn read_stat(pid: u32) -> Option<Stat> {
    let mut buffer = [0u8; 1024];
    let text = read_small(&format!("/proc/{pid}/stat"), &mut buffer)?;
    parse_stat(text)
}

/// A small /proc file into a stack buffer (one `read`: /proc files are generated whole).
fn read_small<'a>(path: &str, buffer: &'a mut [u8]) -> Option<&'a str> {
    let mut file = fs::File::open(path).ok()?;
    read_all(&mut file, buffer)
}

fn read_all<'a>(file: &mut fs::File, buffer: &'a mut [u8]) -> Option<&'a str> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    std::str::from_utf8(&buffer[..filled]).ok()
}

/// The children of every thread of `pid` (a thread that forks is the parent of record).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let mut path = task.path();
        path.push("children");
        if let Ok(text) = fs::read_to_string(&path) {
            children.extend(parse_pids(&text));
        }
    }
    children
}

/// A process's `/proc/PID` folder, kept open (`O_PATH`: no buffer, a few hundred bytes of
/// kernel memory) so that each read opens its file relative to it: a third of the cost of an
/// open by path (`/proc`, then the pid, are not looked up again). The folder stays the same
/// process's: once it has ended, opens in it fail, even if its pid is given to another.
///
/// Its `stat` is kept open too and read again with `pread` (one system call instead of three:
/// about half the cost; the kernel keeps a page of buffer for it while it is open).
#[derive(Debug)]
pub struct ProcDir {
    pub pid: u32,
    dir: OwnedFd,
    stat: Option<fs::File>,
    /// `task/PID/children`, relative to the folder.
    children: String,
}

impl ProcDir {
    pub fn open(pid: u32) -> Option<ProcDir> {
        let dir = nix::fcntl::open(
            format!("/proc/{pid}").as_str(),
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let dir = crate::supervisor::keep_high(dir);
        let stat = openat(
            &dir,
            "stat",
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(|stat| fs::File::from(crate::supervisor::keep_high(stat)));
        Some(ProcDir {
            pid,
            dir,
            stat,
            children: format!("task/{pid}/children"),
        })
    }

    /// The highest descriptor number it holds (the kernel gives the lowest free number: a
    /// measure of how many the daemon holds).
    pub fn highest_fd(&self) -> u64 {
        use std::os::fd::AsRawFd;
        let stat = self.stat.as_ref().map_or(0, |stat| stat.as_raw_fd());
        u64::try_from(self.dir.as_raw_fd().max(stat)).unwrap_or(u64::MAX)
    }

    fn read<'a>(&self, name: &str, buffer: &'a mut [u8]) -> Option<&'a str> {
        let file = openat(
            &self.dir,
            name,
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut file = fs::File::from(file);
        read_all(&mut file, buffer)
    }

    /// Its stat; `None` once it has ended.
    pub fn stat(&self) -> Option<Stat> {
        let mut buffer = [0u8; 1024];
        let text = match &self.stat {
            Some(file) => {
                use std::os::unix::fs::FileExt;
                let read = file.read_at(&mut buffer, 0).ok()?;
                std::str::from_utf8(&buffer[..read]).ok()?
            }
            None => self.read("stat", &mut buffer)?,
        };
        parse_stat(text)
    }

    /// The stats of the process and of `members` (a cgroup's processes; the process itself
    /// among them or not): no tree walk.
    pub fn with_members(&self, members: &[u32]) -> Vec<Stat> {
        let Some(root) = self.stat() else {
            return Vec::new();
        };
        let mut found = Vec::with_capacity(members.len().max(1));
        found.push(root);
        found.extend(
            members
                .iter()
                .filter(|pid| **pid != self.pid)
                .filter_map(|pid| read_stat(*pid)),
        );
        found
    }

    /// The stats of the process and of every live descendant (see [`tree_stats`]).
    pub fn tree_stats(&self) -> Vec<Stat> {
        let Some(root) = self.stat() else {
            return Vec::new();
        };
        const ROOM: usize = 4096;
        let mut buffer = [0u8; ROOM];
        let children = match self.read(&self.children, &mut buffer) {
            // Filled to the brim: there may be more (hundreds of children), read it all.
            Some(text) if root.num_threads <= 1 && text.len() < ROOM => parse_pids(text),
            _ => children_of(&root),
        };
        descend(root, children)
    }
}

/// The stats of `root` and of every live descendant of it (breadth first, each once, at most
/// [`MAX_TREE`]); empty when `root` is gone. A single-threaded process's children are read
/// from its one task's file, without listing its tasks. A descendant whose parent died was
/// re-parented to the daemon (a subreaper) and is no longer found this way; the program's
/// cgroup or marks find those.
pub fn tree_stats(root: u32) -> Vec<Stat> {
    let Some(first) = read_stat(root) else {
        return Vec::new();
    };
    let children = children_of(&first);
    descend(first, children)
}

fn children_of(stat: &Stat) -> Vec<u32> {
    if stat.num_threads <= 1 {
        fs::read_to_string(format!("/proc/{0}/task/{0}/children", stat.pid))
            .map(|text| parse_pids(&text))
            .unwrap_or_default()
    } else {
        children(stat.pid)
    }
}

/// `root`, and the tree under it from its `children` (the common case, no children, does
/// not allocate a set).
fn descend(root: Stat, children: Vec<u32>) -> Vec<Stat> {
    let mut found = vec![root];
    if children.is_empty() {
        return found;
    }
    let mut seen: std::collections::HashSet<u32> = std::iter::once(root.pid).collect();
    let mut pending = children;
    let mut next = 0;
    loop {
        for child in pending {
            if found.len() < MAX_TREE
                && seen.insert(child)
                && let Some(stat) = read_stat(child)
            {
                found.push(stat);
            }
        }
        next += 1;
        let Some(parent) = found.get(next) else {
            return found;
        };
        pending = children_of(parent);
    }
}

/// The stats of each of `pids` still alive.
pub fn stats_of(pids: &[u32]) -> Vec<Stat> {
    pids.iter().filter_map(|pid| read_stat(*pid)).collect()
}

/// The number of open descriptors of this process (`/proc/self/fd`, less the one reading it).
pub fn own_open_fds() -> Option<u64> {
    let count = fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(count.saturating_sub(1))
}

/// This process's soft limit of open descriptors.
pub fn own_max_fds() -> Option<u64> {
    nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .ok()
        .map(|(soft, _)| soft)
}

/// Seconds since boot (`/proc/uptime`), to turn a start time in ticks into a wall time.
pub fn boot_time_seconds() -> Option<f64> {
    let mut buffer = [0u8; 128];
    let text = read_small("/proc/uptime", &mut buffer)?;
    let uptime: f64 = text.split_ascii_whitespace().next()?.parse().ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    Some(now - uptime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLEEP: &str = "4242 (sleep) S 4200 4242 4200 0 -1 4194560 97 0 0 0 3 1 7 2 20 0 1 0 \
                         123456 8761344 216 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 \
                         0 0 0 0";

    #[test]
    fn stat_lines_are_parsed_field_by_field() {
        // pid, state, ppid, pgrp, utime, stime, starttime, rss
        type Fields = (u32, u8, u32, u32, u64, u64, u64, u64);
        let table: &[(&str, Option<Fields>)] = &[
            (SLEEP, Some((4242, b'S', 4200, 4242, 3, 1, 123456, 216))),
            // A name with spaces and parentheses: the fields start after the last ')'.
            (
                "17 (a (b) c) R 1 17 17 0 -1 0 0 0 0 0 500 250 0 0 20 0 4 0 99 1000 10",
                Some((17, b'R', 1, 17, 500, 250, 99, 10)),
            ),
            // A name that is just ")": still found.
            (
                "9 ()) Z 1 9 9 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5 0 0",
                Some((9, b'Z', 1, 9, 1, 2, 5, 0)),
            ),
            ("", None),
            ("garbage", None),
            // Cut short before the resident set.
            ("1 (init) S 0 1 1 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5 6", None),
            (
                "x (init) S 0 1 1 0 -1 0 0 0 0 0 1 2 3 4 20 0 1 0 5 6 7",
                None,
            ),
        ];
        for (text, expected) in table {
            let parsed = parse_stat(text).map(|stat| {
                (
                    stat.pid,
                    stat.state,
                    stat.ppid,
                    stat.pgrp,
                    stat.utime,
                    stat.stime,
                    stat.starttime,
                    stat.rss_pages,
                )
            });
            assert_eq!(parsed, *expected, "{text:?}");
        }
        let sleep = parse_stat(SLEEP).expect("parses");
        assert_eq!((sleep.cutime, sleep.cstime), (7, 2));
        assert_eq!(sleep.cpu_ticks(), 3 + 1 + 7 + 2);
        assert_eq!(sleep.vsize, 8_761_344);
        assert_eq!(sleep.num_threads, 1);
        // Negative child times (never in practice) count as none.
        let negative =
            parse_stat("5 (x) S 1 5 5 0 -1 0 0 0 0 0 1 1 -4 -1 20 0 1 0 5 6 7").expect("parses");
        assert_eq!((negative.cutime, negative.cstime), (0, 0));
    }

    #[test]
    fn children_files_are_lists_of_pids() {
        assert_eq!(parse_pids(""), Vec::<u32>::new());
        assert_eq!(parse_pids("12 "), vec![12]);
        assert_eq!(parse_pids("12 13 99999\n"), vec![12, 13, 99999]);
        assert_eq!(parse_pids("12 x 13"), vec![12, 13]);
    }

    fn stat(pid: u32, state: u8, ticks: u64, rss: u64) -> Stat {
        Stat {
            pid,
            state,
            ppid: 1,
            pgrp: 1,
            utime: ticks,
            stime: 0,
            cutime: 0,
            cstime: 0,
            num_threads: 1,
            starttime: 0,
            vsize: 0,
            rss_pages: rss,
        }
    }

    #[test]
    fn a_tree_is_summed_once_per_process() {
        let units = Units {
            ticks_per_second: 100,
            page_size: 4096,
        };
        let table: &[(&[Stat], Usage)] = &[
            (&[], Usage::default()),
            (
                &[stat(1, b'S', 150, 10)],
                Usage {
                    processes: 1,
                    cpu_ticks: 150,
                    rss_pages: 10,
                },
            ),
            (
                // A parent, two children, one of them listed twice.
                &[
                    stat(1, b'S', 100, 10),
                    stat(2, b'R', 50, 20),
                    stat(3, b'S', 0, 5),
                    stat(2, b'R', 50, 20),
                ],
                Usage {
                    processes: 3,
                    cpu_ticks: 150,
                    rss_pages: 35,
                },
            ),
            (
                // A zombie: its CPU time counts, it is not a live process and holds no memory.
                &[stat(1, b'S', 10, 10), stat(2, b'Z', 40, 99)],
                Usage {
                    processes: 1,
                    cpu_ticks: 50,
                    rss_pages: 10,
                },
            ),
        ];
        for (stats, expected) in table {
            assert_eq!(Usage::sum(stats.iter()), *expected);
        }
        let usage = Usage::sum([stat(1, b'S', 250, 256)].iter());
        assert_eq!(usage.cpu_seconds(&units), 2.5);
        assert_eq!(usage.memory_bytes(&units), 1 << 20);
    }

    #[test]
    fn this_process_reads_itself() {
        let own = std::process::id();
        let stat = read_stat(own).expect("own stat");
        assert_eq!(stat.pid, own);
        assert!(stat.rss_pages > 0);
        assert!(tree_stats(own).iter().any(|stat| stat.pid == own));
        assert!(tree_stats(u32::MAX).is_empty());
        let dir = ProcDir::open(own).expect("own folder");
        assert_eq!(dir.stat().map(|stat| stat.pid), Some(own));
        assert!(dir.tree_stats().iter().any(|stat| stat.pid == own));
        assert!(ProcDir::open(u32::MAX).is_none());
        assert!(read_stat(u32::MAX).is_none());
        let units = Units::of_this_system();
        assert!(units.ticks_per_second > 0 && units.page_size >= 4096);
        assert!(own_open_fds().is_some_and(|fds| fds >= 3));
        assert!(boot_time_seconds().is_some_and(|boot| boot > 0.0));
    }
}
