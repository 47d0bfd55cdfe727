//! The figures of a program that has a cgroup of its own: its CPU from the cgroup's `cpu.stat`
//! and its memory from each member's `/proc/PID/statm`, instead of every member's
//! `/proc/PID/stat` (`procfs`).
//!
//! Why: `/proc/PID/stat` is the dearest file of a status (the kernel's `do_task_stat` walks
//! the thread group for its times and formats 52 fields: 3.6–6.4 µs a read on the shared VM
//! this was measured on), while `statm` (the resident set, the same counter as `stat`'s field
//! 24) is 0.9–1.1 µs and a cgroup's `cpu.stat` (present on cgroup v2 without the cpu
//! controller) 0.7–1.5 µs kept open. `cpu.stat`'s `usage_usec` counts every process and
//! thread that ever ran in the cgroup, so the program's `cpu_seconds` is `usage_usec` less a
//! baseline read just before its process was cloned into the cgroup (`Leaf::join` in the
//! supervisor): a restart starts again at 0, and the time of processes that left the tree
//! (a `setsid` grandchild, a child reaped by the daemon after its parent died) stays counted,
//! as long as they ran in the program's cgroup (docs/METRICS.md).
//!
//! The parsers are pure (tested with tables); the readers are thin.

use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

/// `usage_usec` of a `cpu.stat` (its first line on every kernel that has it; looked for by
/// name all the same).
pub fn parse_usage_usec(text: &[u8]) -> Option<u64> {
    text.split(|byte| *byte == b'\n').find_map(|line| {
        let value = line.strip_prefix(b"usage_usec ")?;
        std::str::from_utf8(value).ok()?.trim().parse().ok()
    })
}

/// The resident set of a `statm`, in pages (its second field).
pub fn parse_statm_resident(text: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(text).ok()?;
    let mut fields = text.split_ascii_whitespace();
    fields.next()?.parse::<u64>().ok()?;
    fields.next()?.parse().ok()
}

/// Reads a small file from its start with one `pread`.
fn pread_into<'a>(file: &fs::File, buffer: &'a mut [u8]) -> Option<&'a [u8]> {
    loop {
        match file.read_at(buffer, 0) {
            Ok(count) => return buffer.get(..count),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

fn open_read(path: &str) -> Option<fs::File> {
    nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
        .ok()
        .map(fs::File::from)
}

/// `usage_usec` of the cgroup folder `leaf`, opened for this read.
pub fn read_usage_usec(leaf: &Path) -> Option<u64> {
    let file = fs::File::open(leaf.join("cpu.stat")).ok()?;
    let mut buffer = [0u8; 256];
    parse_usage_usec(pread_into(&file, &mut buffer)?)
}

/// The resident set of process `pid`, in pages, read by path; `None` when it is gone.
pub fn read_resident(pid: u32) -> Option<u64> {
    let mut path = [0u8; 32];
    let path = statm_path(pid, &mut path)?;
    let file = open_read(path)?;
    let mut buffer = [0u8; 128];
    parse_statm_resident(pread_into(&file, &mut buffer)?)
}

/// `/proc/PID/statm` written into `buffer` (no allocation: one per member and status).
fn statm_path(pid: u32, buffer: &mut [u8; 32]) -> Option<&str> {
    use std::io::Write;
    let mut cursor = std::io::Cursor::new(&mut buffer[..]);
    write!(cursor, "/proc/{pid}/statm").ok()?;
    let length = usize::try_from(cursor.position()).ok()?;
    std::str::from_utf8(buffer.get(..length)?).ok()
}

/// The files of a program's figures kept open between reads: its cgroup's `cpu.stat` and
/// its main process's `statm` (two descriptors, as the `procfs::ProcDir` of a program
/// without a cgroup). A `statm` kept open stays that process's: once it has ended, reads of
/// it fail (or read zeros), even if its pid is given to another.
#[derive(Debug)]
pub struct LeafFiles {
    pub pid: u32,
    cpu: fs::File,
    statm: fs::File,
}

impl LeafFiles {
    pub fn open(leaf: &Path, pid: u32) -> Option<LeafFiles> {
        let cpu = fs::File::open(leaf.join("cpu.stat")).ok()?;
        let mut path = [0u8; 32];
        let statm = open_read(statm_path(pid, &mut path)?)?;
        Some(LeafFiles {
            pid,
            cpu: fs::File::from(crate::supervisor::keep_high(OwnedFd::from(cpu))),
            statm: fs::File::from(crate::supervisor::keep_high(OwnedFd::from(statm))),
        })
    }

    /// The highest descriptor number it holds (see `procfs::ProcDir::highest_fd`).
    pub fn highest_fd(&self) -> u64 {
        let highest = self.cpu.as_raw_fd().max(self.statm.as_raw_fd());
        u64::try_from(highest).unwrap_or(u64::MAX)
    }

    pub fn usage_usec(&self) -> Option<u64> {
        let mut buffer = [0u8; 256];
        parse_usage_usec(pread_into(&self.cpu, &mut buffer)?)
    }

    /// The main process's resident set, in pages; `None` once it has ended.
    pub fn resident(&self) -> Option<u64> {
        let mut buffer = [0u8; 128];
        parse_statm_resident(pread_into(&self.statm, &mut buffer)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_stat_and_statm_are_parsed() {
        let cpu: &[(&[u8], Option<u64>)] = &[
            (
                b"usage_usec 123456\nuser_usec 100000\nsystem_usec 23456\n",
                Some(123_456),
            ),
            (b"usage_usec 0\n", Some(0)),
            // Looked for by name, wherever it is.
            (b"nr_periods 0\nusage_usec 7\n", Some(7)),
            (b"user_usec 5\n", None),
            (b"usage_usec x\n", None),
            (b"", None),
        ];
        for (text, expected) in cpu {
            assert_eq!(parse_usage_usec(text), *expected, "{text:?}");
        }
        let statm: &[(&[u8], Option<u64>)] = &[
            (b"2140 216 190 5 0 110 0\n", Some(216)),
            // A zombie's: all zeros.
            (b"0 0 0 0 0 0 0\n", Some(0)),
            (b"2140\n", None),
            (b"x 216\n", None),
            (b"", None),
        ];
        for (text, expected) in statm {
            assert_eq!(parse_statm_resident(text), *expected, "{text:?}");
        }
        let mut buffer = [0u8; 32];
        assert_eq!(
            statm_path(4_294_967_295, &mut buffer),
            Some("/proc/4294967295/statm")
        );
    }

    #[test]
    fn this_process_reads_its_resident_set() {
        let own = std::process::id();
        let resident = read_resident(own).expect("own statm");
        assert!(resident > 0);
        assert!(read_resident(u32::MAX).is_none());
        assert!(read_usage_usec(Path::new("/nonexistent")).is_none());
    }
}
