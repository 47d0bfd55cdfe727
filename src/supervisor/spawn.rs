//! Turning a [`ProcessSpec`] into a child process: argv without a shell, working folder,
//! environment, umask, its own process group, stdin from `/dev/null`, stdout/stderr wired to
//! log pipes or to the log files themselves, and the switch to another user.
//!
//! Everything that may fail for an ordinary reason (no such folder, no such user, not root, a
//! NUL byte) is checked and computed before spawning, so the error can say exactly what is
//! wrong, and the child has nothing left to do but system calls.
//!
//! How a child is made (what a boot of a thousand programs spends its time on):
//! `clone(CLONE_VM | CLONE_VFORK | CLONE_FILES)`, as glibc's `posix_spawn` does, so neither
//! the page tables nor the descriptor table are copied; the daemon's thread waits until the
//! child has exec'd or failed to. The child's first step joins its program's cgroup (a write of
//! `0` to the `cgroup.procs` the daemon opened, see `cgroup.rs`) where there is one; the next,
//! `close_range(low, ~0, CLOSE_RANGE_UNSHARE)`, gives it a private descriptor table holding only the descriptors
//! below `low` (one past its three streams). The daemon keeps its long-lived descriptors (log
//! files, the read ends of pipes, the listening socket, the folder locks) at [`HIGH_FDS`] and
//! above ([`keep_high`]), so a child never copies, nor closes at exec, the four descriptors of
//! every other program (with `fork` or `posix_spawn` that made a boot of N programs cost N²
//! descriptor operations), nor the listener (which it would keep open after a kill -9 of the
//! daemon until its exec). Then: `dup2` of its three streams onto 0–2, `close_range` of
//! everything above, `setpgid`, `umask`, the user switch (raw system calls: glibc's wrappers
//! would signal the daemon's other threads), `chdir` (after the switch: the folder is entered
//! with the program's user's rights), every signal back to its
//! default action and none blocked, and `execve` of each candidate path. An error is left in
//! memory shared with the daemon before `_exit(127)`.
//!
//! Where the child cannot unshare its table (a seccomp profile that refuses `close_range` and
//! `unshare`) it exits before touching anything, and from then on children are cloned without
//! `CLONE_FILES` (the kernel copies the table, as `fork` does); under valgrind, which cannot
//! follow a `CLONE_FILES` clone, that is the way from the start.

use std::collections::BTreeMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::resource::Resource;
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
    /// The folder exists, but the program's user cannot enter it (`chdir` runs after the user
    /// switch, so it is checked with that user's rights).
    #[error("user \"{user}\" cannot enter directory \"{}\": {reason}", .path.display())]
    DirectoryAsUser {
        path: PathBuf,
        user: String,
        reason: String,
    },
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
    #[error("cannot put the process into its cgroup: {0}")]
    Cgroup(String),
    #[error("cannot make the notify socket: {0}")]
    Notify(String),
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

/// The identity the child takes on.
struct Switch {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
}

/// Descriptors the daemon keeps for long are moved to this number or above (see the module
/// docs); temporary ones (a child's end of a pipe) get the lowest free numbers.
pub(crate) const HIGH_FDS: i32 = 256;

/// Moves a long-lived descriptor to [`HIGH_FDS`] or above (close-on-exec). Where that is not
/// possible (a limit on open files below it) the descriptor stays where it is: children then
/// copy more of the table, nothing else changes.
///
/// The daemon's listening socket and its folder locks live up there too, so that a child never
/// holds a copy of them: a child between clone and exec outlives a daemon killed by SIGKILL,
/// and with a copy of the listener it kept the port bound, so the next start could not listen
/// ("Address already in use").
pub fn keep_high(fd: OwnedFd) -> OwnedFd {
    if fd.as_raw_fd() >= HIGH_FDS {
        return fd;
    }
    match nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(HIGH_FDS)) {
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
        Ok(raw) => unsafe { OwnedFd::from_raw_fd(raw) },
        Err(_) => fd,
    }
}

/// A program ready to spawn: everything checked and turned into C strings before the clone.
pub(crate) struct Prepared {
    program: String,
    user: Option<String>,
    /// The working folder as given, for the error when the user cannot enter it.
    directory_path: Option<PathBuf>,
    /// Paths to `execve`, in order: the program itself, or each `PATH` entry joined to it.
    candidates: Vec<CString>,
    /// Own the strings the pointer arrays point into (but the daemon's own environment, which
    /// lives as long as the process).
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
    directory: Option<CString>,
    /// The child's stdin, stdout and stderr.
    stdio: [OwnedFd; 3],
    umask: Option<libc::mode_t>,
    switch: Option<Switch>,
    /// The program's cgroup: the child is cloned into it, or joins it first thing.
    cgroup: Option<Join>,
}

/// How a child gets into its program's cgroup: cloned into the folder `dir` (`clone3`), or,
/// without one or where that is refused, by writing `0` to `procs` (its `cgroup.procs`) as its
/// first step. The folder is opened for this spawn alone (a descriptor kept per program would
/// be two per program with `procs`: 10,000 programs took a limit of 20,000); `procs` belongs
/// to the caller and stays open until the spawn returns.
#[derive(Debug)]
pub(crate) struct Join {
    pub dir: Option<OwnedFd>,
    pub procs: libc::c_int,
}

/// Checks the spec against the system and prepares the spawn. `stderr = None` sends stderr
/// where stdout goes (`redirect_stderr`). `marks` are set in the environment over everything
/// else; `cgroup` is the cgroup the child joins.
pub(crate) fn prepare(
    process: &ProcessSpec,
    stdout: Output,
    stderr: Option<Output>,
    marks: &[(&str, &str)],
    cgroup: Option<Join>,
) -> Result<Prepared, SpawnError> {
    let (program, _) = process.argv.split_first().ok_or(SpawnError::EmptyCommand)?;
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
    let pipe_error = |error: io::Error| SpawnError::Pipe(describe(&error));
    let null = || -> Result<OwnedFd, SpawnError> { dev_null().map_err(pipe_error) };
    let fd_of = |output: Output| match output {
        Output::Null => None,
        Output::Pipe(fd) | Output::File(fd) => Some(fd),
    };
    let stdout = fd_of(stdout);
    let stderr = match stderr {
        Some(output) => fd_of(output),
        None => stdout
            .as_ref()
            .map(OwnedFd::try_clone)
            .transpose()
            .map_err(pipe_error)?,
    };
    let stdio = [
        null()?,
        stdout.map_or_else(null, Ok)?,
        stderr.map_or_else(null, Ok)?,
    ];

    // The environment: the daemon's (less what configures the daemon itself: its token, its
    // log filter, the CLI's URL), then the user's identity, then the program's own (which wins
    // over all), then the daemon's marks (which find its processes: marks.rs). The daemon's
    // part was made into C strings once (`inherited_environment`); only what a program sets
    // over it is built at each start (a crash loop spawns hundreds of times a second: building
    // the whole map and every string each time was a sixth of a restart's work before the
    // clone).
    let mut overrides: BTreeMap<&OsStr, &OsStr> = BTreeMap::new();
    let resolved = match &process.user {
        Some(user) => Some(resolve_user(user)?),
        None => None,
    };
    let switch = match &resolved {
        Some(resolved) => {
            for (key, value) in [
                ("HOME", resolved.dir.as_os_str()),
                ("USER", resolved.name.as_ref()),
                ("LOGNAME", resolved.name.as_ref()),
                ("SHELL", resolved.shell.as_os_str()),
            ] {
                overrides.insert(OsStr::new(key), value);
            }
            switch_for(resolved)?
        }
        None => None,
    };
    for (key, value) in &process.environment {
        overrides.insert(OsStr::new(key), OsStr::new(value));
    }
    for (key, value) in marks {
        overrides.insert(OsStr::new(key), OsStr::new(value));
    }

    let c_string = |bytes: &[u8]| {
        CString::new(bytes).map_err(|_| SpawnError::Exec {
            program: program.clone(),
            reason: "an argument or environment variable holds a NUL byte".to_string(),
        })
    };
    let argv = process
        .argv
        .iter()
        .map(|arg| c_string(arg.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    let own = overrides
        .iter()
        .map(|(key, value)| c_string(&[key.as_bytes(), b"=", value.as_bytes()].concat()))
        .collect::<Result<Vec<_>, _>>()?;
    let inherited = inherited_environment();
    let envp_ptrs = merged_environment(inherited, &overrides, &own);
    // As execvp does: a name with a slash is a path; otherwise each entry of the program's
    // PATH (glibc's default when there is none), an empty entry meaning the working folder.
    let candidates = if program.contains('/') {
        vec![c_string(program.as_bytes())?]
    } else {
        let path = OsStr::new("PATH");
        let search = overrides
            .get(path)
            .copied()
            .or_else(|| {
                inherited
                    .binary_search_by(|variable| variable.key.as_os_str().cmp(path))
                    .ok()
                    .map(|found| inherited[found].value.as_os_str())
            })
            .map_or(b"/bin:/usr/bin".as_slice(), |path| path.as_bytes());
        search
            .split(|byte| *byte == b':')
            .map(|folder| {
                let folder: &[u8] = if folder.is_empty() { b"." } else { folder };
                c_string(&[folder, b"/", program.as_bytes()].concat())
            })
            .collect::<Result<Vec<_>, _>>()?
    };
    let directory = match &process.directory {
        Some(directory) => Some(c_string(directory.as_os_str().as_bytes())?),
        None => None,
    };
    Ok(Prepared {
        program: program.clone(),
        user: process.user.as_ref().map(|user| user.name.clone()),
        directory_path: process.directory.clone(),
        candidates,
        argv_ptrs: pointers(&argv),
        envp_ptrs,
        _argv: argv,
        _envp: own,
        directory,
        stdio,
        umask: process.umask.map(|mask| mask as libc::mode_t),
        switch,
        cgroup,
    })
}

/// The prefix of every environment variable that configures hoody-daemon itself
/// (`HOODY_DAEMON_TOKEN`, `HOODY_DAEMON_LOG`, `HOODY_DAEMON_URL`, `HOODY_DAEMON_STATE_DIR` of a
/// daemon that started this one…): none of them is passed on to a program from the daemon's
/// own environment. A program that needs one names it in its `environment`; the daemon's marks
/// (`SupervisorConfig::marks`) are added after this filter, on purpose.
pub const DAEMON_VARIABLE_PREFIX: &str = "HOODY_DAEMON_";

/// Whether an inherited variable configures the daemon (see [`DAEMON_VARIABLE_PREFIX`]).
pub fn is_daemon_variable(key: &OsStr) -> bool {
    key.as_bytes()
        .starts_with(DAEMON_VARIABLE_PREFIX.as_bytes())
}

/// One variable of the daemon's own environment, with its `KEY=VALUE` C string.
struct Inherited {
    key: OsString,
    value: OsString,
    entry: CString,
}

/// The daemon's own environment less its [daemon variables](is_daemon_variable), in key order
/// (a key given twice keeps its last value), read once: the daemon never changes its
/// environment after it starts, and every spawn starts from it.
fn inherited_environment() -> &'static [Inherited] {
    static INHERITED: OnceLock<Vec<Inherited>> = OnceLock::new();
    INHERITED.get_or_init(|| {
        let variables: BTreeMap<OsString, OsString> = std::env::vars_os()
            .filter(|(key, _)| !is_daemon_variable(key))
            .collect();
        variables
            .into_iter()
            .filter_map(|(key, value)| {
                let entry = CString::new([key.as_bytes(), b"=", value.as_bytes()].concat()).ok()?;
                Some(Inherited { key, value, entry })
            })
            .collect()
    })
}

/// The NULL-terminated `envp` of a child: the inherited variables and the `overrides` (whose
/// C strings are `own`, in the same order) merged in key order, an override replacing the
/// inherited variable of its name: what one map of both would hold, without building it.
fn merged_environment(
    inherited: &[Inherited],
    overrides: &BTreeMap<&OsStr, &OsStr>,
    own: &[CString],
) -> Vec<*const libc::c_char> {
    let mut pointers = Vec::with_capacity(inherited.len() + own.len() + 1);
    let mut own = overrides.keys().zip(own).peekable();
    for variable in inherited {
        while let Some((key, entry)) = own.peek() {
            if **key >= variable.key.as_os_str() {
                break;
            }
            pointers.push(entry.as_ptr());
            own.next();
        }
        if !overrides.contains_key(variable.key.as_os_str()) {
            pointers.push(variable.entry.as_ptr());
        }
    }
    pointers.extend(own.map(|(_, entry)| entry.as_ptr()));
    pointers.push(std::ptr::null());
    pointers
}

/// A new descriptor of `/dev/null` (read and write) for a child's stdin or a discarded stream:
/// a copy (`F_DUPFD_CLOEXEC`) of one the daemon opened once and keeps at a high number, where
/// an `open` of the path each time cost a lookup of it at every start (about 10 µs here).
fn dev_null() -> io::Result<OwnedFd> {
    static NULL: OnceLock<OwnedFd> = OnceLock::new();
    let kept = match NULL.get() {
        Some(kept) => kept,
        None => {
            let file = File::options().read(true).write(true).open("/dev/null")?;
            NULL.get_or_init(|| keep_high(file.into()))
        }
    };
    // Below HIGH_FDS like every descriptor a child takes (it copies only those).
    kept.try_clone()
}

/// A NULL-terminated array of pointers into `strings`.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings
        .iter()
        .map(|string| string.as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// Marks every descriptor above stderr close-on-exec: descriptors the daemon inherited without
/// it (from a shell, a test harness) must not leak into programs. Everything the daemon opens
/// itself already is (std, tokio and nix open with `O_CLOEXEC`, the store's inotify instance is
/// made with `IN_CLOEXEC`). Kernels before 5.11 refuse the flag; nothing is lost then but that
/// guard.
fn close_inherited() {
    // SAFETY: a raw syscall on plain integers.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );
    }
}

/// Closes every descriptor above stderr (in the child, on its private table). Where the kernel
/// has no `close_range` (before 5.9) they close at exec, as everything the daemon opens is
/// close-on-exec.
fn close_above_stderr() {
    // SAFETY: a raw syscall on plain integers; async-signal-safe.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    }
}

/// Makes sure descriptors 0–2 are open (on `/dev/null` when the daemon was started without
/// them), so no pipe or file the daemon opens later takes one of their numbers.
fn open_standard_descriptors() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only reads the flags of a descriptor number.
        let closed = unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1;
        if closed && let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
            // It took the lowest free number, `fd` itself: keep it open for good.
            let _ = null.into_raw_fd();
        }
    }
}

/// Called once when a supervisor is made, before it opens anything: see [`close_inherited`],
/// [`open_standard_descriptors`] and [`default_inherited_ignores`]. Also raises the soft limit
/// on open descriptors to the hard one, as supervisord's `minfds` does: each program holds up
/// to four (two log files, two pipe ends), so the common soft limit of 1,024 would stop a
/// fleet of a few hundred. Programs inherit the raised limit.
pub(crate) fn prepare_daemon_process() {
    // Valgrind preloads its own library into the programs it runs, and cannot follow a clone
    // with CLONE_FILES: the daemon would abort under it.
    if std::env::var_os("LD_PRELOAD").is_some_and(|preload| {
        preload
            .as_bytes()
            .windows(9)
            .any(|part| part == b"vgpreload")
    }) {
        SHARE_FILES.store(false, Ordering::Relaxed);
    }
    open_standard_descriptors();
    close_inherited();
    default_inherited_ignores();
    if let Ok((soft, hard)) = nix::sys::resource::getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(errno) = nix::sys::resource::setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::warn!(soft, hard, error = %errno.desc(), "cannot raise the limit on open files");
    }
}

/// Signals the daemon was started with ignored (a shell's background job ignores SIGQUIT and
/// SIGINT, `nohup` SIGHUP) go back to their default action in the daemon, which should hear
/// what its operator sends. (Children get every signal reset anyway.) SIGPIPE stays as std
/// set it: ignored, the daemon handles EPIPE itself.
fn default_inherited_ignores() {
    for signal in 1..32 {
        if matches!(signal, libc::SIGKILL | libc::SIGSTOP | libc::SIGPIPE) {
            continue;
        }
        // SAFETY: `current` is a plain C struct that sigaction fills in; a null `act` only
        // reads the disposition. Setting SIG_DFL installs no handler, so no Rust code can run
        // in signal context because of it.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, std::ptr::null(), &mut current) == 0
                && current.sa_sigaction == libc::SIG_IGN
            {
                libc::signal(signal, libc::SIG_DFL);
            }
        }
    }
}

/// Whether children start on the daemon's descriptor table (`CLONE_FILES`) and make their
/// own small one. Off under valgrind (which cannot follow such a clone) and, from the first
/// failure on, where the child cannot unshare its table (a seccomp profile refusing both
/// `close_range` and `unshare`): then the kernel copies the whole table, as with `fork`.
static SHARE_FILES: AtomicBool = AtomicBool::new(true);

/// The child's `error` when it could not unshare the descriptor table (not an errno).
const CANNOT_UNSHARE: libc::c_int = -1;

/// The child's `stage` when it could not join its cgroup (its `error` is the errno).
const JOINING: libc::c_int = 1;

/// How one clone went wrong.
pub(super) enum Attempt {
    /// The child could not unshare the descriptor table; it touched nothing.
    CannotUnshare,
    /// The child could not join its cgroup.
    CannotJoin(io::Error),
    /// `chdir` into the working folder failed (as the program's user).
    Chdir(io::Error),
    Failed(io::Error),
}

/// What the child reads (through the memory it shares with the daemon) and writes back.
struct ChildContext<'a> {
    prepared: &'a Prepared,
    /// Started with `CLONE_FILES`: the first step is to make a private descriptor table.
    share_files: bool,
    /// Descriptors from this number up are not copied into the child's table.
    low: libc::c_uint,
    /// Signals 1..=this are put back to their default action (but SIGKILL and SIGSTOP).
    last_signal: libc::c_int,
    /// Written by the child before `_exit(127)`: the errno of what failed.
    error: libc::c_int,
    /// Written by the child: [`JOINING`] while it joins its cgroup.
    stage: libc::c_int,
    /// The `cgroup.procs` the child writes `0` to first, when it was not cloned into its
    /// cgroup.
    join: Option<libc::c_int>,
    /// Written by the child when `chdir` (after the user switch) is what failed.
    chdir_failed: bool,
}

/// Bytes of stack the child runs on (it calls a handful of system-call wrappers).
const CHILD_STACK: usize = 64 * 1024;

thread_local! {
    /// The child's stack, kept between spawns on the thread that spawns (the loop's). Left
    /// uninitialized: a zeroed one (`calloc`) made all 64 KiB resident at the first spawn, where
    /// the child touches a page or two (docs/PERFORMANCE.md, "Memory" under issue 20).
    static CHILD_STACKS: std::cell::Cell<Option<Box<[MaybeUninit<u8>]>>> =
        const { std::cell::Cell::new(None) };
}

impl Prepared {
    /// Clones and execs (see the module docs). Call it with the child table locked (see
    /// `reap`): a child whose exec failed is waited for here, not by the reaper.
    pub fn spawn(self) -> Result<u32, SpawnError> {
        if SHARE_FILES.load(Ordering::Relaxed) {
            match self.clone_child(true) {
                Err(Attempt::CannotUnshare) => {
                    tracing::info!(
                        "the child cannot make its own descriptor table here (seccomp?): \
                         spawning with a copy of the daemon's from now on"
                    );
                    SHARE_FILES.store(false, Ordering::Relaxed);
                }
                other => return other.map_err(|attempt| self.attempt_error(attempt)),
            }
        }
        self.clone_child(false)
            .map_err(|attempt| self.attempt_error(attempt))
    }

    /// One clone. With `share_files` the child starts on the daemon's descriptor table and
    /// makes itself a small private one; without, the kernel copies the whole table.
    pub(super) fn clone_child(&self, share_files: bool) -> Result<u32, Attempt> {
        let low = self
            .stdio
            .iter()
            .map(|fd| fd.as_raw_fd() + 1)
            .max()
            .unwrap_or(3);
        let mut context = ChildContext {
            prepared: self,
            share_files,
            low: libc::c_uint::try_from(low).unwrap_or(libc::c_uint::MAX),
            last_signal: libc::SIGRTMAX(),
            error: 0,
            stage: 0,
            join: None,
            chdir_failed: false,
        };
        let mut flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
        if share_files {
            flags |= libc::CLONE_FILES;
        }
        // The stack of the last clone on this thread, reused (a new one was a 64 KiB `calloc` at
        // every start), and never zeroed: the child only pushes onto it, so what was there
        // before does not matter.
        let mut stack = CHILD_STACKS
            .take()
            .unwrap_or_else(|| Box::new_uninit_slice(CHILD_STACK));
        // The stack grows down: the child starts at its top, 16-byte aligned.
        let top = stack.as_mut_ptr_range().end;
        let top = top.wrapping_sub(top as usize % 16);
        let pid = {
            // No handler of the daemon may run in the child, which shares its memory: every
            // signal stays blocked until the child has reset them all (and here until the
            // clone returns).
            let _blocked = BlockedSignals::all();
            let argument: *mut libc::c_void = (&raw mut context).cast();
            // Born in its cgroup where the kernel lets us (clone3.rs says why it matters).
            let dir = self.cgroup.as_ref().and_then(|join| join.dir.as_ref());
            let cloned = match dir.map(AsRawFd::as_raw_fd) {
                // SAFETY: as below; `stack` and `context` outlive the call.
                Some(dir) => unsafe {
                    super::clone3::clone_into(flags, &mut stack, dir, child, argument)
                },
                None => Err(None),
            };
            match cloned {
                Ok(pid) => pid,
                Err(Some(errno)) => {
                    return Err(Attempt::Failed(io::Error::from_raw_os_error(errno)));
                }
                Err(None) => {
                    context.join = self.cgroup.as_ref().map(|join| join.procs);
                    // SAFETY: `child` runs on `stack` with a pointer to `context`; both live
                    // until clone returns, which with CLONE_VFORK is after the child has exec'd
                    // or exited. The child makes only system calls on values prepared above
                    // (see `child`). CLONE_VM | CLONE_VFORK is what glibc's posix_spawn does.
                    unsafe { libc::clone(child, top.cast(), flags, (&raw mut context).cast()) }
                }
            }
        };
        if pid < 0 {
            return Err(Attempt::Failed(io::Error::last_os_error()));
        }
        // SAFETY: the child wrote `error`, if at all, before it exited, and clone returned only
        // after that; the volatile read keeps the compiler from assuming it is still 0.
        let error = unsafe { std::ptr::read_volatile(&raw const context.error) };
        // SAFETY: as for `error`.
        let stage = unsafe { std::ptr::read_volatile(&raw const context.stage) };
        // SAFETY: as above: written by the child before it exited, read after clone returned.
        let chdir_failed = unsafe { std::ptr::read_volatile(&raw const context.chdir_failed) };
        CHILD_STACKS.set(Some(stack));
        if error != 0 {
            // The child exited with 127; the table is locked, so no reaper took it.
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            return Err(if error == CANNOT_UNSHARE {
                Attempt::CannotUnshare
            } else if stage == JOINING {
                Attempt::CannotJoin(io::Error::from_raw_os_error(error))
            } else if chdir_failed {
                Attempt::Chdir(io::Error::from_raw_os_error(error))
            } else {
                Attempt::Failed(io::Error::from_raw_os_error(error))
            });
        }
        u32::try_from(pid)
            .map_err(|_| Attempt::Failed(io::Error::other("clone returned a bad pid")))
    }

    fn attempt_error(&self, attempt: Attempt) -> SpawnError {
        match attempt {
            Attempt::Failed(error) => self.error(error),
            Attempt::CannotJoin(error) => SpawnError::Cgroup(describe(&error)),
            Attempt::Chdir(error) => {
                let path = self.directory_path.clone().unwrap_or_default();
                let reason = describe(&error);
                match &self.user {
                    Some(user) => SpawnError::DirectoryAsUser {
                        path,
                        user: user.clone(),
                        reason,
                    },
                    None => SpawnError::Directory { path, reason },
                }
            }
            Attempt::CannotUnshare => self.error(io::Error::other(
                "cannot give the process its own descriptor table",
            )),
        }
    }

    fn error(&self, error: io::Error) -> SpawnError {
        let reason = describe(&error);
        match &self.user {
            Some(user) => SpawnError::ExecAsUser {
                program: self.program.clone(),
                user: user.clone(),
                reason,
            },
            None => SpawnError::Exec {
                program: self.program.clone(),
                reason,
            },
        }
    }
}

/// Blocks every signal on this thread until dropped.
struct BlockedSignals(libc::sigset_t);

impl BlockedSignals {
    fn all() -> BlockedSignals {
        // SAFETY: both sets are plain C structs, filled by sigfillset and pthread_sigmask.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut old: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
            BlockedSignals(old)
        }
    }
}

impl Drop for BlockedSignals {
    fn drop(&mut self) {
        // SAFETY: puts back the mask saved by `all`.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut());
        }
    }
}

/// The child, between clone and exec. It shares the daemon's memory and (until its first
/// step) its descriptor table, and the daemon's thread is suspended until it execs or exits.
///
/// Only system calls on data prepared before the clone: no allocation, no lock, nothing that
/// can panic (no indexing, no unwrap), no thread-local state but errno.
extern "C" fn child(argument: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `argument` is the `ChildContext` the daemon's thread passed to clone; that
    // thread is suspended (CLONE_VFORK) and keeps it alive until this process execs or exits.
    let context = unsafe { &mut *argument.cast::<ChildContext>() };
    let prepared = context.prepared;
    // SAFETY: every call below is a system call (or glibc's thin wrapper of one) on
    // descriptors, C strings and pointer arrays the daemon prepared before the clone and
    // keeps alive; see the module docs for the order and why.
    unsafe {
        // Not cloned into its cgroup (clone3 refused): into it before anything else, so that
        // nothing it starts is ever outside. "0" moves the writing process. The descriptor is
        // the daemon's (the table is still shared); writing to it changes no table.
        if let Some(procs) = context.join {
            context.stage = JOINING;
            if libc::write(procs, b"0".as_ptr().cast(), 1) != 1 {
                child_failed(context);
            }
            context.stage = 0;
        }
        // A private descriptor table with only the descriptors below `low`; a kernel without
        // CLOSE_RANGE_UNSHARE (before 5.9) copies the whole table and close-on-exec does the
        // rest. If neither works, nothing has been touched (but the cgroup it joined, where it
        // exits): the daemon retries without CLONE_FILES.
        if context.share_files
            && libc::syscall(
                libc::SYS_close_range,
                context.low,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_UNSHARE,
            ) != 0
            && libc::syscall(libc::SYS_unshare, libc::CLONE_FILES) != 0
        {
            context.error = CANNOT_UNSHARE;
            libc::_exit(127);
        }
        for (target, fd) in (0..).zip(&prepared.stdio) {
            if libc::dup2(fd.as_raw_fd(), target) < 0 {
                child_failed(context);
            }
        }
        // Whatever was copied above stderr is closed now rather than at exec: with many
        // descriptors below `HIGH_FDS` (hundreds of connections) the copy can hold the
        // listening socket, which must not outlive the daemon in a child that has not exec'd.
        close_above_stderr();
        if libc::setpgid(0, 0) != 0 {
            child_failed(context);
        }
        if let Some(mask) = prepared.umask {
            libc::umask(mask);
        }
        if let Some(switch) = &prepared.switch {
            // Raw system calls: glibc's setuid & co. would make every thread of the daemon
            // switch too. Groups, then gid, then uid (after setuid they could not change).
            if libc::syscall(
                libc::SYS_setgroups,
                switch.groups.len(),
                switch.groups.as_ptr(),
            ) != 0
                || libc::syscall(libc::SYS_setgid, switch.gid) != 0
                || libc::syscall(libc::SYS_setuid, switch.uid) != 0
            {
                child_failed(context);
            }
        }
        // The working folder is entered as the program's user, after the switch: a folder
        // that user may not enter fails the start instead of being entered with root's rights.
        if let Some(directory) = &prepared.directory
            && libc::chdir(directory.as_ptr()) != 0
        {
            context.chdir_failed = true;
            child_failed(context);
        }
        // Every signal back to its default action (a handler of the daemon must never run
        // here; an ignored one would be inherited through exec), then none blocked.
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=context.last_signal {
            if signal != libc::SIGKILL && signal != libc::SIGSTOP {
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());

        // As execvp does: on "not there" try the next candidate; remember "not allowed".
        let mut denied = false;
        for path in &prepared.candidates {
            libc::execve(
                path.as_ptr(),
                prepared.argv_ptrs.as_ptr(),
                prepared.envp_ptrs.as_ptr(),
            );
            match *libc::__errno_location() {
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE => {}
                libc::EACCES => denied = true,
                _ => child_failed(context),
            }
        }
        *libc::__errno_location() = if denied { libc::EACCES } else { libc::ENOENT };
        child_failed(context)
    }
}

/// Leaves errno where the daemon will read it and ends the child with 127.
///
/// # Safety
/// Only in [`child`]: `_exit` runs no destructor and no atexit handler (they belong to the
/// daemon, whose memory this process shares).
unsafe fn child_failed(context: &mut ChildContext) -> ! {
    // SAFETY: errno of this thread, then the exit system call.
    unsafe {
        let errno = *libc::__errno_location();
        context.error = if errno == 0 { libc::EINVAL } else { errno };
        libc::_exit(127)
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
    // initgroups' work, done before the clone: getgrouplist reads the group database, which is not
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

#[cfg(test)]
mod tests {
    use super::*;

    fn inherited(pairs: &[(&str, &str)]) -> Vec<Inherited> {
        pairs
            .iter()
            .map(|(key, value)| Inherited {
                key: OsString::from(key),
                value: OsString::from(value),
                entry: CString::new(format!("{key}={value}")).unwrap(),
            })
            .collect()
    }

    /// Inherited variables, overrides, the `envp` expected.
    type Case = (&'static [Pair], &'static [Pair], &'static [&'static str]);
    type Pair = (&'static str, &'static str);

    /// The merged `envp` is what one map of the inherited variables with the overrides put
    /// over them holds, in key order (the environment a program was given before the merge).
    #[test]
    fn the_environment_merge_is_one_map_in_key_order() {
        let cases: &[Case] = &[
            (&[], &[], &[]),
            (&[("A", "1"), ("B", "2")], &[], &["A=1", "B=2"]),
            (&[], &[("X", "9")], &["X=9"]),
            (
                &[("A", "1"), ("C", "3")],
                &[("B", "2")],
                &["A=1", "B=2", "C=3"],
            ),
            (
                &[("A", "1"), ("B", "2")],
                &[("B", "new")],
                &["A=1", "B=new"],
            ),
            (
                &[("B", "2")],
                &[("A", "0"), ("C", "4")],
                &["A=0", "B=2", "C=4"],
            ),
            (
                &[("HOME", "/root"), ("PATH", "/bin"), ("USER", "root")],
                &[("HOME", "/home/u"), ("USER", "u"), ("ZZ", "z")],
                &["HOME=/home/u", "PATH=/bin", "USER=u", "ZZ=z"],
            ),
            (
                &[("A", "1"), ("A_B", "2")],
                &[("A", "x")],
                &["A=x", "A_B=2"],
            ),
        ];
        for (base, over, expected) in cases {
            let base = inherited(base);
            let overrides: BTreeMap<&OsStr, &OsStr> = over
                .iter()
                .map(|(key, value)| (OsStr::new(*key), OsStr::new(*value)))
                .collect();
            let own: Vec<CString> = overrides
                .iter()
                .map(|(key, value)| {
                    CString::new([key.as_bytes(), b"=", value.as_bytes()].concat()).unwrap()
                })
                .collect();
            let pointers = merged_environment(&base, &overrides, &own);
            assert_eq!(pointers.last(), Some(&std::ptr::null()), "NULL-terminated");
            let merged: Vec<String> = pointers[..pointers.len() - 1]
                .iter()
                // SAFETY: each pointer is into a CString of `base` or `own`, alive here.
                .map(|pointer| unsafe { std::ffi::CStr::from_ptr(*pointer) })
                .map(|entry| entry.to_string_lossy().into_owned())
                .collect();
            assert_eq!(
                merged,
                *expected,
                "{base:?} with {over:?}",
                base = base.iter().map(|v| &v.key).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn the_inherited_environment_is_sorted_without_the_daemons_variables() {
        let inherited = inherited_environment();
        assert!(inherited.windows(2).all(|pair| pair[0].key < pair[1].key));
        assert!(
            inherited
                .iter()
                .all(|variable| !is_daemon_variable(&variable.key))
        );
        for variable in inherited {
            let entry = [variable.key.as_bytes(), b"=", variable.value.as_bytes()].concat();
            assert_eq!(variable.entry.as_bytes(), &entry[..]);
        }
    }
}
