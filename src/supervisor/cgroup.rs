//! A cgroup (v2) per program: where the daemon can create cgroups, each program's processes
//! live in a cgroup of their own, so whatever they fork, double-fork or `setsid` stays inside
//! and is ended with it (`cgroup.kill`), like systemd's `KillMode=control-group`.
//!
//! # The hierarchy
//!
//! ```text
//! <the daemon's own cgroup>            from /proc/self/cgroup (`0::/…`), under the cgroup2
//! │                                    mount found in /proc/self/mountinfo
//! └── hoody-<16 hex digits>/           this daemon's tree: a hash of its state folder's path,
//!     │                                so several daemons on one host never share one
//!     ├── web.program/                 one leaf per program (and per quick-start run)
//!     └── _quick-3.program/
//! ```
//!
//! The tree itself never holds a process, so cgroup v2's "no internal processes" rule never
//! stands in the way of enabling controllers for the leaves (the memory and cpu limits of
//! `memory_max` and `cpu_max`, [`super::limits`]): the tree's `cgroup.subtree_control` can take any controller its parent
//! gives it. The parent, the daemon's own cgroup, can give controllers only when it holds no
//! process itself (unless it is the root of the hierarchy): a daemon that wants limits moves
//! itself into a leaf of its own first (a systemd service with `Delegate=yes`, or a container
//! whose PID 1 is the daemon in its namespace's root cgroup, both hold just the daemon). No
//! controller is enabled until a program sets `memory_max` or `cpu_max`
//! ([`super::limits::apply`] enables the one it needs): membership, counting and killing need
//! none.
//!
//! Leaves are named `<program>.program`: interface files are `<controller>.<name>`, and no
//! controller is called like a program, so a program named `memory` or `cgroup.procs` cannot
//! collide with a file of the tree.
//!
//! # How a process joins its leaf
//!
//! The supervisor opens the leaf's folder and its `cgroup.procs` (read and write) once, at the
//! program's first start, and keeps them at high descriptors. A child is cloned straight into
//! the folder (`clone3` with `CLONE_INTO_CGROUP`, see `clone3.rs`), so everything it starts is
//! born inside. Where that is refused (before Linux 5.7, a seccomp profile without `clone3`,
//! another architecture) the child's first step writes `0` to `cgroup.procs` ("move the writing
//! process here"), which costs an RCU grace period in the kernel (about 10 ms here) per
//! isolated spawn. The same `cgroup.procs` reads the list of members back with `pread` (about
//! 0.4 µs), so counting a program's processes for a status opens nothing.
//!
//! # What is recorded
//!
//! The tree's path is written to `<state folder>/cgroup` when it is made and removed when the
//! daemon exits cleanly, so a start after kill -9 finds the leaves of the last run wherever
//! that run's own cgroup was, and ends what is in them (`leftover`). Empty leaves are removed
//! when their program goes; the tree when the daemon ends.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::spawn::keep_high;

/// The suffix of every leaf's name.
const LEAF_SUFFIX: &str = ".program";

/// The file in the state folder that records where the tree is.
pub const RECORD: &str = "cgroup";

/// This daemon's cgroup tree.
#[derive(Debug, Clone)]
pub struct Cgroups {
    tree: PathBuf,
}

/// One program's leaf, held by its job: its folder (children are cloned into it) and its
/// `cgroup.procs`, opened for reading (the members) and writing (where `clone3` cannot be used,
/// the child joins by writing `0`).
#[derive(Debug)]
pub struct Leaf {
    /// The leaf's folder, opened again for each spawn ([`Leaf::join`]): only `cgroup.procs`,
    /// read by every status, is kept open.
    path: PathBuf,
    procs: OwnedFd,
    /// `cgroup.kill` was written to it: children are no longer cloned into it (below).
    killed: std::sync::atomic::AtomicBool,
    /// It may hold a `memory.max` or `cpu.max` other than the default (written by this daemon,
    /// or a leaf of the last run): a program without limits lifts them. False for a leaf made
    /// here and never given one, so a start without limits writes nothing.
    limited: std::sync::atomic::AtomicBool,
    /// The leaf's `cpu.stat` `usage_usec` read just before the last spawn into it
    /// ([`Leaf::join`]): the program's `cpu_seconds` count from there (SPEC §14).
    /// [`NO_BASE`] when it could not be read (the figures then come from `/proc/PID/stat`).
    cpu_base: std::sync::atomic::AtomicU64,
}

/// [`Leaf::cpu_base`] when the leaf's `cpu.stat` could not be read.
const NO_BASE: u64 = u64::MAX;

impl Cgroups {
    /// Makes (or takes back, after a crash) the tree of the daemon whose state folder is
    /// `state_dir`, under the cgroup the daemon runs in, and records where it is. An error
    /// when there is no writable cgroup v2 hierarchy here (the supervisor then falls back to
    /// marks, see [`super::marks`]).
    pub fn create(state_dir: &Path) -> io::Result<Cgroups> {
        let mountinfo = fs::read_to_string("/proc/self/mountinfo")?;
        let own = fs::read_to_string("/proc/self/cgroup")?;
        let parent = locate(&mountinfo, &own).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "no cgroup2 hierarchy holds this process (cgroup v1 only, or not mounted)",
            )
        })?;
        let tree = parent.join(tree_name(state_dir));
        match fs::create_dir(&tree) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
            Err(error) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("cannot create the cgroup {}: {error}", tree.display()),
                ));
            }
        }
        // A cgroup2 folder has this file; a plain folder of the same name would not.
        if !tree.join("cgroup.procs").exists() {
            return Err(io::Error::other(format!(
                "{} is not a cgroup",
                tree.display()
            )));
        }
        let cgroups = Cgroups { tree };
        crate::store::write_atomic(
            &state_dir.join(RECORD),
            &format!("{}\n", cgroups.tree.display()),
        )?;
        Ok(cgroups)
    }

    /// The tree a previous run recorded in `state_dir`, if it is still there.
    pub fn recorded(state_dir: &Path) -> Option<Cgroups> {
        let text = fs::read_to_string(state_dir.join(RECORD)).ok()?;
        let tree = PathBuf::from(text.trim_end_matches('\n'));
        (tree.is_absolute() && tree.join("cgroup.procs").exists()).then_some(Cgroups { tree })
    }

    /// The tree at `tree` (made by [`Cgroups::create`], here or in an earlier run).
    pub fn at(tree: PathBuf) -> Cgroups {
        Cgroups { tree }
    }

    pub fn path(&self) -> &Path {
        &self.tree
    }

    /// Removes the tree itself (its leaves must be gone); false when it is still in use.
    pub fn remove_tree(&self) -> bool {
        remove_cgroup(&self.tree)
    }

    /// The folder of a job's leaf.
    pub fn leaf_path(&self, job: &str) -> PathBuf {
        self.tree.join(format!("{job}{LEAF_SUFFIX}"))
    }

    /// The jobs that have a leaf in the tree.
    pub fn leaves(&self) -> Vec<String> {
        let Ok(listing) = fs::read_dir(&self.tree) else {
            return Vec::new();
        };
        listing
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
            .filter_map(|entry| {
                let name = entry.file_name();
                let name = name.to_str()?;
                name.strip_suffix(LEAF_SUFFIX).map(str::to_string)
            })
            .collect()
    }

    /// Makes the job's leaf if needed and opens it. A leaf that was already there (a program
    /// removed a moment ago and made again, the last run's) may have been killed: it is taken
    /// as such ([`Leaf::mark_killed`]) until it is made afresh.
    pub fn leaf(&self, job: &str) -> io::Result<Leaf> {
        let path = self.leaf_path(job);
        let mut existed = false;
        match fs::create_dir(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => existed = true,
            Err(error) => {
                return Err(io::Error::new(
                    error.kind(),
                    format!("cannot create the cgroup {}: {error}", path.display()),
                ));
            }
        }
        let procs = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_CLOEXEC)
            .open(path.join("cgroup.procs"))
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot open {}/cgroup.procs: {error}", path.display()),
                )
            })?;
        Ok(Leaf {
            path,
            procs: keep_high(procs.into()),
            killed: std::sync::atomic::AtomicBool::new(existed),
            limited: std::sync::atomic::AtomicBool::new(existed),
            cpu_base: std::sync::atomic::AtomicU64::new(NO_BASE),
        })
    }

    /// The live processes in a job's leaf, read by path (for a leaf no job holds: the last
    /// run's).
    pub fn members_at(&self, job: &str) -> Vec<u32> {
        fs::read(self.leaf_path(job).join("cgroup.procs"))
            .map(|text| parse_pids(&text))
            .unwrap_or_default()
    }

    /// Whether anything lives in the job's leaf or below it.
    pub fn populated(&self, job: &str) -> bool {
        fs::read_to_string(self.leaf_path(job).join("cgroup.events"))
            .is_ok_and(|events| parse_populated(&events))
    }

    /// SIGKILL to every process in the job's leaf and below, forks in flight included
    /// (`cgroup.kill`, Linux 5.14). Before 5.14: SIGKILL to each member until none is left.
    pub fn kill(&self, job: &str) {
        let path = self.leaf_path(job);
        match fs::write(path.join("cgroup.kill"), "1") {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound && path.exists() => {
                for _ in 0..10 {
                    let members = self.members_at(job);
                    if members.is_empty() {
                        break;
                    }
                    for pid in members {
                        send(pid, Signal::SIGKILL);
                    }
                }
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(cgroup = %path.display(), %error, "cannot kill the cgroup");
            }
        }
    }

    /// Removes a job's leaf (and any cgroup its processes made inside it). False when
    /// something still lives there.
    pub fn remove_leaf(&self, job: &str) -> bool {
        remove_cgroup(&self.leaf_path(job))
    }

    /// Ends everything in every leaf, waits (at most `patience`) for it to be gone, and removes
    /// the leaves and the tree. Returns whether the tree is gone.
    pub fn close(&self, patience: Duration) -> bool {
        let give_up = Instant::now() + patience;
        for job in self.leaves() {
            if self.populated(&job) {
                tracing::warn!(program = %job, "ending processes left in the cgroup");
                self.kill(&job);
            }
        }
        loop {
            let left: Vec<String> = self
                .leaves()
                .into_iter()
                .filter(|job| !self.remove_leaf(job))
                .collect();
            if left.is_empty() {
                return remove_cgroup(&self.tree);
            }
            if Instant::now() >= give_up {
                tracing::warn!(programs = ?left, "cgroups still populated; left in place");
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Leaf {
    /// The live processes in the leaf (zombies are not members).
    pub fn members(&self) -> Vec<u32> {
        parse_pids(&read_all(&self.procs))
    }

    /// How many live processes the leaf holds.
    pub fn count(&self) -> usize {
        let text = read_all(&self.procs);
        text.iter().filter(|byte| **byte == b'\n').count()
    }

    /// What the spawn needs: the folder to clone into (not after a `cgroup.kill`, see
    /// [`Leaf::was_killed`]), and the `cgroup.procs` a child writes `0` to otherwise.
    /// The folder is opened here, for this spawn: one that cannot be opened is joined through
    /// `cgroup.procs`.
    pub(crate) fn join(&self) -> super::spawn::Join {
        let dir = (!self.was_killed())
            .then(|| {
                fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_CLOEXEC | libc::O_DIRECTORY)
                    .open(&self.path)
                    .ok()
            })
            .flatten();
        // The CPU the leaf has counted so far (earlier runs, and whatever of them is left):
        // read before the clone, so all the new process uses is after it.
        let base = match &dir {
            Some(dir) => nix::fcntl::openat(
                dir,
                "cpu.stat",
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ok()
            .and_then(|file| cpu_usage_usec(&file)),
            None => fs::File::open(self.path.join("cpu.stat"))
                .ok()
                .and_then(|file| cpu_usage_usec(&OwnedFd::from(file))),
        };
        self.cpu_base.store(
            base.unwrap_or(NO_BASE),
            std::sync::atomic::Ordering::Relaxed,
        );
        super::spawn::Join {
            dir: dir.map(OwnedFd::from),
            procs: self.procs.as_raw_fd(),
        }
    }

    /// The `usage_usec` of the leaf's `cpu.stat` just before its last spawn; `None` when it
    /// could not be read.
    pub fn cpu_base(&self) -> Option<u64> {
        Some(self.cpu_base.load(std::sync::atomic::Ordering::Relaxed))
            .filter(|base| *base != NO_BASE)
    }

    /// Notes that `cgroup.kill` was written to the leaf. Linux 6.18 (at least) SIGKILLs every
    /// child cloned into a cgroup that was ever killed (`CLONE_INTO_CGROUP` compares the kill
    /// count of the parent's cgroup with the target's), so from then on children join by
    /// writing `0`, until the leaf is made afresh ([`Leaf::reusable`]).
    pub fn mark_killed(&self) {
        self.killed
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether the leaf may hold limits (see the field).
    pub fn may_be_limited(&self) -> bool {
        self.limited.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_limited(&self, limited: bool) {
        self.limited
            .store(limited, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn was_killed(&self) -> bool {
        self.killed.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether cgroups the program made live below the leaf (a folder's link count is 2 plus
    /// its sub-folders).
    pub fn has_children(&self) -> bool {
        nix::sys::stat::stat(&self.path).is_ok_and(|stat| stat.st_nlink > 2)
    }

    /// False when the leaf was killed and is empty now: better removed and made again, so
    /// children are cloned into it again (see [`Leaf::mark_killed`]).
    pub fn reusable(&self) -> bool {
        !self.was_killed() || self.count() > 0 || self.has_children()
    }
}

/// `cgroup.procs` read from its start with `pread` (a seq file: offset 0 lists it afresh).
/// A read that left room for another line (a pid is at most 8 bytes with its newline) was the
/// last: the usual one process costs one system call. The first read goes into a small
/// buffer on the stack (a 4 KiB one, zeroed at each call, was a third of a status's
/// user-space instructions); a leaf of more than a few processes continues into a growing one.
fn read_all(fd: &OwnedFd) -> Vec<u8> {
    const FIRST: usize = 128;
    const LONGEST_LINE: usize = 8;
    let mut first = [0u8; FIRST];
    let count = match pread_retrying(fd, &mut first, 0) {
        Some(count) => count,
        None => return Vec::new(),
    };
    let mut text = first[..count].to_vec();
    if count <= FIRST - LONGEST_LINE {
        return text;
    }
    let mut room = 4096;
    loop {
        let filled = text.len();
        text.resize(filled + room, 0);
        match pread_retrying(fd, &mut text[filled..], filled as libc::off_t) {
            Some(count) => {
                text.truncate(filled + count);
                if count == 0 || count <= room - LONGEST_LINE {
                    return text;
                }
            }
            None => {
                text.truncate(filled);
                return text;
            }
        }
        room = room.saturating_mul(2).min(1 << 20);
    }
}

/// One `pread`, again after a signal; `None` on an error.
fn pread_retrying(fd: &OwnedFd, buffer: &mut [u8], offset: libc::off_t) -> Option<usize> {
    loop {
        match nix::sys::uio::pread(fd, buffer, offset) {
            Ok(count) => return Some(count),
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return None,
        }
    }
}

/// `usage_usec` of an open `cpu.stat` (read from its start).
fn cpu_usage_usec(fd: &OwnedFd) -> Option<u64> {
    let mut buffer = [0u8; 256];
    let count = pread_retrying(fd, &mut buffer, 0)?;
    crate::metrics::leaf::parse_usage_usec(buffer.get(..count)?)
}

/// rmdir of a cgroup, its child cgroups first. False when one is still populated.
fn remove_cgroup(path: &Path) -> bool {
    if let Ok(listing) = fs::read_dir(path) {
        for entry in listing.flatten() {
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                remove_cgroup(&entry.path());
            }
        }
    }
    match fs::remove_dir(path) {
        Ok(()) => true,
        Err(error) => error.kind() == io::ErrorKind::NotFound,
    }
}

fn send(pid: u32, signal: Signal) {
    if let Ok(raw) = i32::try_from(pid)
        && raw > 1
    {
        let _ = kill(Pid::from_raw(raw), signal);
    }
}

// ---- the pure part: finding the hierarchy, naming ------------------------------------------

/// The folder of this process's cgroup: the cgroup2 mount from `mountinfo` whose root holds
/// the path in `cgroup` (`0::/…`), joined with the rest of that path.
pub fn locate(mountinfo: &str, cgroup: &str) -> Option<PathBuf> {
    let own = cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?
        .trim_end();
    // A cgroup removed under us reads "/path (deleted)": not usable.
    if !own.starts_with('/') || own.ends_with(" (deleted)") {
        return None;
    }
    mountinfo.lines().find_map(|line| {
        let (root, mount_point) = cgroup2_mount(line)?;
        let relative = if root == "/" {
            own.strip_prefix('/')?
        } else {
            let rest = own.strip_prefix(root.as_str())?;
            if !rest.is_empty() && !rest.starts_with('/') {
                return None;
            }
            rest.trim_start_matches('/')
        };
        let mut path = PathBuf::from(mount_point);
        if !relative.is_empty() {
            path.push(relative);
        }
        Some(path)
    })
}

/// `(root, mount point)` of a mountinfo line of a cgroup2 mount (fields 4 and 5, with the
/// kernel's octal escapes undone; the file system type follows the ` - ` separator).
fn cgroup2_mount(line: &str) -> Option<(String, String)> {
    let (before, after) = line.split_once(" - ")?;
    if after.split_whitespace().next()? != "cgroup2" {
        return None;
    }
    let mut fields = before.split(' ');
    let root = fields.nth(3)?;
    let mount_point = fields.next()?;
    Some((unescape(root), unescape(mount_point)))
}

/// mountinfo writes space, tab, newline and backslash as `\040`, `\011`, `\012`, `\134`.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let digits = bytes.get(index + 1..index + 4);
        if bytes[index] == b'\\'
            && let Some(digits) = digits
            && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
        {
            let value = digits
                .iter()
                .fold(0u32, |value, digit| value * 8 + u32::from(digit - b'0'));
            out.push(u8::try_from(value).unwrap_or(b'?'));
            index += 4;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The tree's name: `hoody-` and the FNV-1a hash of the state folder's path, in hex. Stable
/// across runs and versions (it must find the last run's tree), unique per state folder.
pub fn tree_name(state_dir: &Path) -> String {
    format!("hoody-{:016x}", fnv1a(state_dir.as_os_str()))
}

fn fnv1a(text: &OsStr) -> u64 {
    text.as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn parse_pids(text: &[u8]) -> Vec<u32> {
    text.split(|byte| *byte == b'\n')
        .filter_map(|line| std::str::from_utf8(line).ok()?.trim().parse().ok())
        .collect()
}

/// `populated 1` in `cgroup.events`.
fn parse_populated(events: &str) -> bool {
    events
        .lines()
        .any(|line| line.split_whitespace().eq(["populated", "1"]))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n\
        41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    const UNIFIED: &str = "30 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";
    /// A container that sees its own cgroup as a mount of a sub-cgroup of the host's.
    const BIND: &str =
        "600 590 0:26 /kubepods/pod1/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n";
    const ESCAPED: &str = "41 31 0:38 / /mnt/my\\040cgroups rw - cgroup2 none rw\n";
    const V1_ONLY: &str = "35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";

    #[test]
    fn the_daemons_cgroup_is_found_from_mountinfo_and_proc_self_cgroup() {
        let table: [(&str, &str, Option<&str>); 10] = [
            (HYBRID, "1:cpu:/\n0::/\n", Some("/sys/fs/cgroup/unified")),
            (
                HYBRID,
                "4:memory:/x\n0::/user.slice/session-1.scope\n",
                Some("/sys/fs/cgroup/unified/user.slice/session-1.scope"),
            ),
            (
                UNIFIED,
                "0::/system.slice/hoody.service\n",
                Some("/sys/fs/cgroup/system.slice/hoody.service"),
            ),
            (BIND, "0::/kubepods/pod1/abc\n", Some("/sys/fs/cgroup")),
            (
                BIND,
                "0::/kubepods/pod1/abc/sub\n",
                Some("/sys/fs/cgroup/sub"),
            ),
            // Outside the mounted part of the hierarchy (or a sibling with a common prefix).
            (BIND, "0::/kubepods/pod1/abcd\n", None),
            (BIND, "0::/elsewhere\n", None),
            (ESCAPED, "0::/a\n", Some("/mnt/my cgroups/a")),
            (V1_ONLY, "4:memory:/\n", None),
            (UNIFIED, "0::/gone (deleted)\n", None),
        ];
        for (mountinfo, cgroup, expected) in table {
            assert_eq!(
                locate(mountinfo, cgroup),
                expected.map(PathBuf::from),
                "{cgroup:?} in {mountinfo:?}"
            );
        }
    }

    #[test]
    fn tree_names_are_stable_and_differ_per_state_folder() {
        let a = tree_name(Path::new("/srv/app/.hoody-daemon/state"));
        assert_eq!(a, tree_name(Path::new("/srv/app/.hoody-daemon/state")));
        assert_ne!(a, tree_name(Path::new("/srv/other/.hoody-daemon/state")));
        assert!(a.starts_with("hoody-") && a.len() == 22, "{a}");
        // FNV-1a of the empty string: the offset basis (the hash must never change between
        // versions, or a start would not find the last run's tree).
        assert_eq!(tree_name(Path::new("")), "hoody-cbf29ce484222325");
    }

    #[test]
    fn read_all_reads_short_and_long_lists_whole() {
        // A file stands in for `cgroup.procs` (`pread` from the start either way): none, one
        // process (the small first buffer), and lists past it and past several growths.
        let folder = tempfile::tempdir().expect("tempdir");
        for count in [0usize, 1, 15, 16, 17, 600, 20_000] {
            let text: String = (0..count)
                .map(|index| format!("{}\n", 4_000_000 + index))
                .collect();
            let path = folder.path().join(format!("procs-{count}"));
            fs::write(&path, &text).expect("write");
            let file = OwnedFd::from(fs::File::open(&path).expect("open"));
            assert_eq!(read_all(&file), text.as_bytes(), "{count} lines");
            assert_eq!(parse_pids(&read_all(&file)).len(), count);
        }
        let usage = folder.path().join("cpu.stat");
        fs::write(&usage, "usage_usec 42\nuser_usec 40\n").expect("write");
        let file = OwnedFd::from(fs::File::open(&usage).expect("open"));
        assert_eq!(cpu_usage_usec(&file), Some(42));
    }

    #[test]
    fn members_and_populated_are_parsed() {
        assert_eq!(parse_pids(b"12\n345\n"), [12, 345]);
        assert_eq!(parse_pids(b""), Vec::<u32>::new());
        assert!(parse_populated("populated 1\nfrozen 0\n"));
        assert!(!parse_populated("populated 0\nfrozen 0\n"));
        assert!(!parse_populated(""));
    }
}
