//! Turning a [`ProcessSpec`] into a child process: argv without a shell, working folder,
//! environment, umask, its own process group, stdin from `/dev/null`, stdout/stderr wired to
//! log pipes or to the log files themselves, and the switch to another user.
//!
//! Everything that may fail for an ordinary reason (no such folder, no such user, not root) is
//! checked before `fork`, so the error can say exactly what is wrong. In the child, between
//! `fork` and `exec`, only one `pre_exec` closure runs, made of raw async-signal-safe syscalls:
//! std has already dup'ed the pipes onto fds 0–2, changed directory and made the process group.

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use nix::unistd::{Gid, User, geteuid, getgrouplist};
use thiserror::Error;

use crate::spec::{ProcessSpec, UserSpec};

use super::logs::describe;

/// Why a program could not be started. The text is what the job's `last_error` shows.
#[derive(Debug, Error)]
pub enum SpawnError {
    #[error("the command is empty")]
    EmptyCommand,
    #[error("cannot run \"{program}\": {reason}")]
    Exec { program: String, reason: String },
    #[error("cannot run \"{program}\" as user \"{user}\": {reason}")]
    ExecAsUser {
        program: String,
        user: String,
        reason: String,
    },
    #[error("directory \"{}\" does not exist", .0.display())]
    MissingDirectory(PathBuf),
    #[error("\"{}\" is not a directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("cannot use directory \"{}\": {reason}", .path.display())]
    Directory { path: PathBuf, reason: String },
    #[error("user \"{0}\" does not exist")]
    UnknownUser(String),
    #[error("cannot run as user \"{user}\": the daemon is not root (it runs as uid {uid})")]
    NotRoot { user: String, uid: u32 },
    #[error("cannot look up the groups of user \"{user}\": {reason}")]
    Groups { user: String, reason: String },
    #[error("cannot open log \"{}\": {reason}", .path.display())]
    Log { path: PathBuf, reason: String },
    #[error("cannot create a pipe for the output: {0}")]
    Pipe(String),
}

/// Where one of the child's output streams goes.
#[derive(Debug)]
pub(crate) enum Output {
    /// `/dev/null`.
    Null,
    /// The write end of a log pipe.
    Pipe(OwnedFd),
    /// The log file itself, opened for appending (a log the daemon does not rotate).
    File(OwnedFd),
}

/// The identity the child takes on in `pre_exec`.
struct Switch {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
}

/// A `Command` ready to spawn: everything checked and computed before `fork`.
pub(crate) struct Prepared {
    command: Command,
    program: String,
    user: Option<String>,
}

/// Checks the spec against the system and builds the command. `stderr = None` sends stderr
/// where stdout goes (`redirect_stderr`).
pub(crate) fn prepare(
    process: &ProcessSpec,
    stdout: Output,
    stderr: Option<Output>,
    marker: Option<&(String, String)>,
) -> Result<Prepared, SpawnError> {
    let (program, arguments) = process.argv.split_first().ok_or(SpawnError::EmptyCommand)?;
    if let Some(directory) = &process.directory {
        match std::fs::metadata(directory) {
            Ok(metadata) if metadata.is_dir() => {}
            Ok(_) => return Err(SpawnError::NotADirectory(directory.clone())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(SpawnError::MissingDirectory(directory.clone()));
            }
            Err(error) => {
                return Err(SpawnError::Directory {
                    path: directory.clone(),
                    reason: describe(&error),
                });
            }
        }
    }

    #[allow(clippy::disallowed_methods)] // the one place the daemon makes processes
    let mut command = Command::new(program);
    command
        .args(arguments)
        .process_group(0)
        .stdin(Stdio::null());
    if let Some(directory) = &process.directory {
        command.current_dir(directory);
    }
    let stderr = match stderr {
        Some(output) => stdio(output),
        None => match &stdout {
            Output::Null => Stdio::null(),
            Output::Pipe(write) | Output::File(write) => Stdio::from(
                write
                    .try_clone()
                    .map_err(|error| SpawnError::Pipe(describe(&error)))?,
            ),
        },
    };
    command.stdout(stdio(stdout)).stderr(stderr);

    let switch = match &process.user {
        Some(user) => {
            let resolved = resolve_user(user)?;
            for (key, value) in [
                ("HOME", resolved.dir.as_os_str()),
                ("USER", resolved.name.as_ref()),
                ("LOGNAME", resolved.name.as_ref()),
                ("SHELL", resolved.shell.as_os_str()),
            ] {
                command.env(key, value);
            }
            switch_for(&resolved)?
        }
        None => None,
    };
    // The program's own environment wins over everything above…
    command.envs(&process.environment);
    // …but not over the daemon's mark, which finds leftovers after a crash.
    if let Some((key, value)) = marker {
        command.env(key, value);
    }

    let umask = process.umask.map(|mask| mask as libc::mode_t);
    // SAFETY: the closure runs in the child between fork and exec, where only async-signal-safe
    // calls are allowed. It calls only raw syscalls through libc (sigemptyset, sigprocmask,
    // signal, close_range, umask, setgroups, setgid, setuid) on values computed before fork, allocates
    // nothing, takes no lock, and builds errors from errno alone (io::Error::last_os_error does
    // not allocate).
    unsafe {
        command.pre_exec(move || {
            reset_signals();
            // Descriptors the daemon inherited without close-on-exec (from a shell, a test
            // harness) must not leak into programs: mark every one above stderr close-on-exec.
            // std's own error pipe already is. Kernels before 5.11 refuse; nothing is lost then.
            libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if let Some(mask) = umask {
                libc::umask(mask);
            }
            if let Some(switch) = &switch {
                // Groups first, then gid, then uid: after setuid we could no longer change them.
                if libc::setgroups(switch.groups.len(), switch.groups.as_ptr()) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setgid(switch.gid) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::setuid(switch.uid) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(Prepared {
        command,
        program: program.clone(),
        user: process.user.as_ref().map(|user| user.name.clone()),
    })
}

impl Prepared {
    /// Forks and execs. Call it with the child table locked (see `reap`).
    pub fn spawn(mut self) -> Result<u32, SpawnError> {
        match self.command.spawn() {
            // Dropping std's Child neither waits nor kills: our reaping loop owns the pid.
            Ok(child) => Ok(child.id()),
            Err(error) => {
                let reason = describe(&error);
                Err(match self.user {
                    Some(user) => SpawnError::ExecAsUser {
                        program: self.program,
                        user,
                        reason,
                    },
                    None => SpawnError::Exec {
                        program: self.program,
                        reason,
                    },
                })
            }
        }
    }
}

fn stdio(output: Output) -> Stdio {
    match output {
        Output::Null => Stdio::null(),
        Output::Pipe(write) | Output::File(write) => Stdio::from(write),
    }
}

/// The user as the system knows it now (it may have changed since the spec was validated).
fn resolve_user(user: &UserSpec) -> Result<User, SpawnError> {
    match User::from_name(&user.name) {
        Ok(Some(found)) => Ok(found),
        Ok(None) => Err(SpawnError::UnknownUser(user.name.clone())),
        Err(errno) => Err(SpawnError::Groups {
            user: user.name.clone(),
            reason: errno.desc().to_string(),
        }),
    }
}

/// `None` when the daemon already is that user; an error when it would have to switch but is
/// not root.
fn switch_for(user: &User) -> Result<Option<Switch>, SpawnError> {
    let euid = geteuid();
    if user.uid == euid {
        return Ok(None);
    }
    if !euid.is_root() {
        return Err(SpawnError::NotRoot {
            user: user.name.clone(),
            uid: euid.as_raw(),
        });
    }
    let groups_error = |reason: String| SpawnError::Groups {
        user: user.name.clone(),
        reason,
    };
    let name = CString::new(user.name.as_bytes())
        .map_err(|_| groups_error("the name holds a NUL byte".to_string()))?;
    // initgroups' work, done before fork: getgrouplist reads the group database, which is not
    // async-signal-safe.
    let groups = getgrouplist(&name, user.gid)
        .map_err(|errno| groups_error(errno.desc().to_string()))?
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    Ok(Some(Switch {
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups,
    }))
}

/// Puts back what the daemon may have changed for itself: tokio's handlers are reset by exec
/// anyway, but ignored signals (std ignores SIGPIPE) and the blocked-signal mask would be
/// inherited by the program.
///
/// # Safety
/// Called only between fork and exec; uses async-signal-safe calls only.
unsafe fn reset_signals() {
    // SAFETY: sigemptyset/sigprocmask/signal are async-signal-safe; `set` is a local, fully
    // initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        for signal in 1..32 {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}
