//! Opening a log file so that it cannot be turned against the daemon (SPEC §10).
//!
//! - The last component is opened with `O_NOFOLLOW`: a symbolic link planted where a log goes
//!   fails the open (`ELOOP`) instead of leading the daemon's write elsewhere. The one
//!   exception is `/dev/stdout` and `/dev/stderr` (links into `/proc/self/fd`): the daemon's
//!   own output, the usual target in a container.
//! - The file (and any folder on the way) is opened with no more rights than the program's
//!   `user` has: when some folder on the path could be changed by anyone but root or the
//!   daemon's user (writable by its group or others, owned by another user, or a symbolic
//!   link), the daemon's loop thread takes that user's filesystem identity for the open
//!   (`setgroups`, `setfsgid`, `setfsuid`, as raw system calls: they change this thread
//!   only, glibc's wrappers would change every thread) and gives its own back at once. So a
//!   `user = "nobody"` program's log in a shared folder is created or opened as nobody would
//!   open it, and a link or hard link to a root-only file there gets "permission denied".
//!   When every folder on the path is root's or the daemon's and writable by no one else
//!   (a sticky folder such as `/tmp` may be on the way, not the log's own folder: others can
//!   add names there but not replace ours) — the daemon's log folder, `/var/log` on most
//!   systems — nobody else could have prepared anything there, and the daemon opens the file
//!   itself: a program may log where its user could not create a file, as with supervisord.
//! - New files are created 0640 (less the daemon's umask), new folders 0750.
//!
//! Programs that run as the daemon's own user (no `user`, or that very user) have its rights
//! anyway: their logs are opened by the daemon, without following a last-component link.

use std::ffi::CString;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Component, Path};

use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, fstat};
use nix::unistd::{Gid, geteuid, getgrouplist};

use crate::spec::UserSpec;

/// How an open log file continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Continue {
    /// At its end, with `O_APPEND` (the descriptor a program is given: direct mode).
    Append,
    /// At its end, writes at the writer's own offset (captured logs).
    AtEnd,
    /// From nothing (the new file of a rotation).
    Empty,
}

/// The mode of a new log file (less the umask): not world-readable.
const FILE_MODE: u32 = 0o640;
/// The mode of a folder made for a log.
const FOLDER_MODE: u32 = 0o750;

/// Whether a folder could have been prepared by someone other than root or the daemon's user:
/// theirs, and writable by no one else, or (for a folder on the way, not the log's own) sticky
/// like `/tmp`, where others may add names but not rename or remove ours.
fn trusted(stat: &nix::sys::stat::FileStat, daemon: u32, on_the_way: bool) -> bool {
    let ours = stat.st_uid == 0 || stat.st_uid == daemon;
    let closed = stat.st_mode & 0o022 == 0;
    let sticky = stat.st_mode & libc::S_ISVTX != 0;
    ours && (closed || (on_the_way && sticky))
}

/// Whether every existing folder from `/` down to `folder` (the log file's own) is root's or
/// the daemon's and no one else could change it (see [`trusted`]), none of them a symbolic
/// link. Missing folders at the end are fine: the daemon makes them, inside a folder only it
/// can write.
fn path_trusted(folder: &Path) -> bool {
    let daemon = geteuid().as_raw();
    let open = |dir: Option<&OwnedFd>, name: &Path| {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match dir {
            Some(dir) => openat(dir, name, flags, Mode::empty()),
            None => nix::fcntl::open(name, flags, Mode::empty()),
        }
    };
    let mut names = Vec::new();
    for component in folder.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(name) => names.push(Path::new(name)),
            // Log paths are absolute and cleaned; a `..` here is not worth reasoning about.
            Component::ParentDir | Component::Prefix(_) => return false,
        }
    }
    let Ok(mut current) = open(None, Path::new("/")) else {
        return false;
    };
    match fstat(&current) {
        Ok(stat) if trusted(&stat, daemon, !names.is_empty()) => {}
        _ => return false,
    }
    for (index, name) in names.iter().enumerate() {
        let on_the_way = index + 1 < names.len();
        match open(Some(&current), name) {
            Ok(next) => match fstat(&next) {
                Ok(stat) if trusted(&stat, daemon, on_the_way) => current = next,
                _ => return false,
            },
            // The rest is to be made by the daemon, inside a folder only it can change.
            Err(nix::errno::Errno::ENOENT) => return true,
            // A symbolic link (ELOOP, ENOTDIR), or no right to look: not ours to trust.
            Err(_) => return false,
        }
    }
    true
}

/// Opens (creating it and its folders) the log file at `path` for a program that runs as
/// `user` (`None`: the daemon's own user). See the module docs.
pub(crate) fn open(path: &Path, how: Continue, user: Option<&UserSpec>) -> io::Result<File> {
    if path == Path::new("/dev/stdout") || path == Path::new("/dev/stderr") {
        return open_as_daemon(path, how, false);
    }
    let daemon = geteuid();
    let other_user = user.filter(|user| user.uid != daemon.as_raw() && daemon.is_root());
    let Some(user) = other_user else {
        return open_as_daemon(path, how, true);
    };
    let folder = path.parent().unwrap_or(Path::new("/"));
    if path_trusted(folder) {
        return open_as_daemon(path, how, true);
    }
    let identity = Identity::of(user)?;
    identity.while_taken(|| open_as_daemon(path, how, true))
}

fn open_as_daemon(path: &Path, how: Continue, no_follow: bool) -> io::Result<File> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        DirBuilder::new()
            .recursive(true)
            .mode(FOLDER_MODE)
            .create(parent)?;
    }
    let mut flags = libc::O_NONBLOCK;
    if no_follow {
        flags |= libc::O_NOFOLLOW;
    }
    let opened = OpenOptions::new()
        .write(true)
        .append(how == Continue::Append)
        .truncate(how == Continue::Empty)
        .create(true)
        .mode(FILE_MODE)
        .custom_flags(flags)
        .open(path);
    let file = match opened {
        Err(error) if error.raw_os_error() == Some(libc::ELOOP) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "it is a symbolic link; log files are opened without following one",
            ));
        }
        other => other?,
    };
    // Opened non-blocking so that a FIFO nobody reads fails at once (ENXIO) instead of stalling
    // the loop; used blocking.
    let flags = OFlag::from_bits_truncate(nix::fcntl::fcntl(&file, nix::fcntl::FcntlArg::F_GETFL)?);
    nix::fcntl::fcntl(
        &file,
        nix::fcntl::FcntlArg::F_SETFL(flags.difference(OFlag::O_NONBLOCK)),
    )?;
    Ok(file)
}

/// A user's filesystem identity: what the kernel checks a file access against.
struct Identity {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
}

impl Identity {
    fn of(user: &UserSpec) -> io::Result<Identity> {
        let name = CString::new(user.name.as_bytes())
            .map_err(|_| io::Error::other("the user name holds a NUL byte"))?;
        let groups = getgrouplist(&name, Gid::from_raw(user.gid))
            .map_err(io::Error::from)?
            .into_iter()
            .map(Gid::as_raw)
            .collect();
        Ok(Identity {
            uid: user.uid,
            gid: user.gid,
            groups,
        })
    }

    /// Runs `work` on this thread with this identity's filesystem rights, then takes the
    /// daemon's back. If they cannot be taken back the process aborts: a daemon thread left
    /// with another user's rights must not go on.
    fn while_taken<T>(&self, work: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let saved_groups = thread_groups()?;
        // SAFETY: raw system calls on plain integers and a vector that outlives them; they
        // change this thread's credentials only (glibc's setgroups would change every thread).
        let (saved_gid, saved_uid) = unsafe {
            if libc::syscall(libc::SYS_setgroups, self.groups.len(), self.groups.as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let saved_gid = libc::syscall(libc::SYS_setfsgid, self.gid) as libc::gid_t;
            let saved_uid = libc::syscall(libc::SYS_setfsuid, self.uid) as libc::uid_t;
            (saved_gid, saved_uid)
        };
        // setfsuid says nothing when it fails: ask what the identity is now (an invalid id
        // changes nothing and returns the current one).
        // SAFETY: as above.
        let taken = unsafe {
            libc::syscall(libc::SYS_setfsuid, libc::uid_t::MAX) as libc::uid_t == self.uid
                && libc::syscall(libc::SYS_setfsgid, libc::gid_t::MAX) as libc::gid_t == self.gid
        };
        let result = if taken {
            work()
        } else {
            Err(io::Error::other(
                "cannot take the user's file system identity",
            ))
        };
        // SAFETY: as above.
        let restored = unsafe {
            libc::syscall(libc::SYS_setfsuid, saved_uid);
            libc::syscall(libc::SYS_setfsgid, saved_gid);
            libc::syscall(
                libc::SYS_setgroups,
                saved_groups.len(),
                saved_groups.as_ptr(),
            ) == 0
                && libc::syscall(libc::SYS_setfsuid, libc::uid_t::MAX) as libc::uid_t == saved_uid
                && libc::syscall(libc::SYS_setfsgid, libc::gid_t::MAX) as libc::gid_t == saved_gid
        };
        if !restored {
            tracing::error!("cannot take back the daemon's file system identity; aborting");
            std::process::abort();
        }
        result
    }
}

/// This thread's supplementary groups (the raw system call: this thread's, like the rest).
fn thread_groups() -> io::Result<Vec<libc::gid_t>> {
    // SAFETY: a count query with a null buffer, then a fill of a buffer of that size.
    unsafe {
        let count = libc::syscall(libc::SYS_getgroups, 0, std::ptr::null_mut::<libc::gid_t>());
        if count < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut groups = vec![0 as libc::gid_t; count as usize];
        let filled = libc::syscall(libc::SYS_getgroups, count, groups.as_mut_ptr());
        if filled < 0 {
            return Err(io::Error::last_os_error());
        }
        groups.truncate(filled as usize);
        Ok(groups)
    }
}
