//! Logs: the files a process's stdout/stderr end in — handed to the program itself, or captured
//! through pipes with size rotation — and reading the last lines of a log back.
//!
//! # Direct mode: a log that never rotates
//!
//! With `*_logfile_maxbytes = 0` the daemon has nothing to do with a log's bytes, so it stays
//! out of their path: it opens the file itself (`open_direct`: `O_WRONLY|O_CREAT|O_APPEND|
//! O_CLOEXEC|O_NOFOLLOW`, mode 0640 less the daemon's umask, folders created, with no more
//! rights than the program's user has: `logfile`, as `LogWriter::open` does)
//! and the program gets it as its stdout or stderr (with `redirect_stderr`, fd 2 is a copy of
//! the same descriptor), as horust and systemd's `StandardOutput=append:` do. No daemon CPU; the
//! program writes at the file's own speed. The supervisor decides at each start
//! (`Context::sink`). What differs from a captured log:
//! - A write error (disk full) is the program's own: its `write` fails (ENOSPC). The daemon
//!   sees nothing, counts nothing, and `last_error` does not mention it.
//! - The program sees the file itself: `isatty` is true when the target is a tty, and a
//!   non-regular target (`/dev/stdout`, a FIFO someone reads) is simply handed over. A script's
//!   `echo … > /dev/stderr` reopens the log by its path *without* `O_APPEND` and truncates it
//!   (systemd's `append:` has the same trap): `>&2` is the way.
//! - A file moved away by an outside tool keeps receiving the program's output until its next
//!   start (as with any program that writes its own log).
//! - A change of `maxbytes` between 0 and not 0 restarts the program (the log settings are part
//!   of the process's shape) and applies to the new process, but for the case below.
//! - A file that a pipe still feeds stays captured: a leftover descendant of an earlier
//!   process still writing into its pipe, the other stream of the same program rotating the
//!   same file, or another program capturing into it. Their writer writes at its own offset
//!   (no `O_APPEND`, below), so an appender beside it would be overwritten; the program joins
//!   the writer through a pipe instead, and gets the file itself at a later start, once nothing
//!   feeds it. A pipe whose writers have all closed it does not count once drained to its end,
//!   which `LogWriter::is_fed` does on the spot, so a restart does not wait for the capture
//!   task to have run.
//! - The reverse, a captured file that a direct process's leftover still appends to: before
//!   each move the writer looks at the file's length (one `statx`: about 10 ms of CPU per GiB)
//!   and continues after what was appended behind its back. A write of theirs that lands
//!   between that look and the move can still be overwritten (a window of microseconds per
//!   move), and a rotation renames the file under them: they go on writing into `file.1`.
//!
//! Log files are opened non-blocking (then made blocking again), in both modes: a FIFO that
//! nobody reads fails the start with ENXIO instead of stalling the daemon's loop until a reader
//! comes.
//!
//! # Captured logs (rotation on)
//!
//! Why it is built this way (capture is benchmarked against `cat > file`):
//! - The read end of each pipe is non-blocking and a member of the supervisor's one epoll set
//!   of captures, which one task drains on the loop's thread (`captures.rs`: no task or
//!   reactor registration per pipe).
//! - Data moves with `splice(2)` pipe → file, so it never crosses into user space; through
//!   the loop thread's relay pipe (`relay.rs`: the program's pipe is free again before the copy
//!   into the page cache, so the program writes while the daemon copies). The pipe
//!   keeps the kernel's default size (64 KiB). It used to be raised to 1 MiB (`F_SETPIPE_SZ`)
//!   for fewer wakes; measured with bench/run, that was no cheaper (median 0.63 against 0.47
//!   CPU-s per GiB over 15 runs each, both bimodal on the test VM; docs/PERFORMANCE.md), and
//!   raising it only for a pipe found full (a chatty program) was no cheaper either (issue 16,
//!   docs/PERFORMANCE.md "Logs of wave 2").
//! - A wake ends as soon as a move takes less than it asked for: the pipe was emptied, and the
//!   next write wakes the task again (tokio's readiness is edge-triggered, and a readiness that
//!   comes after the guard was taken is not cleared). This saves the read that would only say
//!   `EAGAIN`, one per wake. ([`LogWriter::is_fed`] still drains to the kernel's answer: it
//!   must know whether the pipe is at its end.)
//!   Where the kernel refuses splice (some file systems; non-regular targets such as
//!   `/dev/stdout`) we fall back to `read`/`write` through a stack buffer.
//! - The file is opened without `O_APPEND` (splice refuses it on some kernels); the writer
//!   tracks the size itself and writes at that offset.
//! - One `LogWriter` per path, shared (`Arc<Mutex>`) by every pipe that targets it: the
//!   leftover output of a previous process of the same program, or `stdout_logfile` and
//!   `stderr_logfile` naming the same file, never write over each other. The mutex is never held
//!   across an `.await` and is uncontended on one thread.
//! - A wake moves at most [`DRAIN_BUDGET`] bytes before yielding, so one chatty program cannot
//!   starve the event loop.
//! - Rotation happens between two moves and each move is capped at the room left before
//!   `max_bytes`, so files are `max_bytes` long and no byte is lost or duplicated.
//! - A failed write (disk full…) never blocks the program: the pipe keeps being drained, the
//!   bytes are counted as dropped, the error is reported once (tracing warning, and the job's
//!   `last_error`), and writing resumes as soon as the file accepts data again; then
//!   `last_error` clears, and the daemon's log says how many bytes were dropped.
//!
//! # Line mode (timestamps, the console copy)
//!
//! A stream whose lines the daemon must see is read into user space instead of spliced: up to
//! 256 KiB a read, into a buffer of the loop thread's made on first use (`SCRATCH`; nothing
//! at all without line mode). Each read's lines go to the pipe's [`Tap`] (complete lines, for
//! the console; the one place for anything else that must see lines), and with timestamps the
//! bytes are stamped (`lines::stamp`, one clock reading per read) and written at the file's
//! end with `pwrite`, rotating between writes as splice does. Whether the next byte starts a
//! line is kept per file, so a file never has a stamp inside a line, whoever writes into it.
//! The log budget (`budget.rs`) is told of every write in both modes.

use std::cell::RefCell;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::SystemTime;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;

use super::budget::Budget;
use super::console::Console;
use super::lines::{LineSplitter, stamp};
use super::logfile::{self, Continue};
use super::relay::{self, Through};
use super::spawn::keep_high;
use super::stamp::{prefix, unix_millis};
use crate::spec::{Stream, UserSpec};

/// Bytes asked of one splice/read.
const CHUNK: usize = 1 << 20;
/// Bytes moved per wake before the task yields to the rest of the loop.
pub const DRAIN_BUDGET: u64 = 4 << 20;
/// Fallback copy buffer (on the stack: nothing stays allocated per writer).
const COPY_BUFFER: usize = 64 * 1024;
/// [`tail`] never returns more than this. The API sends it as a JSON string, where a control
/// byte takes six bytes (`\u0000`): 4 MiB of log stay a bounded answer whatever they hold.
pub const TAIL_MAX_BYTES: u64 = 4 << 20;
const TAIL_CHUNK: u64 = 64 * 1024;
/// Bytes read at once from a pipe whose lines the daemon looks at (timestamps, console).
const LINE_CHUNK: usize = 256 * 1024;

thread_local! {
    /// The read and write buffers of line mode, made on the first use on this thread (the
    /// loop's) and kept: nothing is allocated per wake, and nothing at all without line mode.
    static SCRATCH: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

pub(crate) type SharedWriter = Arc<Mutex<LogWriter>>;
/// The read end of a log pipe, registered with the loop. Its capture task holds it until EOF;
/// the writer it feeds keeps a [`Weak`] to it (see [`LogWriter::is_fed`]).
pub(crate) type Pipe = Arc<CapturePipe>;

/// A pipe's read end registered with the loop, alone (a health probe's output).
pub(crate) type RawPipe = Arc<AsyncFd<OwnedFd>>;

/// Registers the read end of a pipe with the loop, with nothing looking at its lines.
pub(crate) fn watch_raw(pipe: OwnedFd) -> io::Result<RawPipe> {
    // SAFETY: the AsyncFd takes the OwnedFd, which keeps the descriptor open and unchanged
    // until the AsyncFd is dropped; nothing else closes or replaces it.
    let registered = unsafe { AsyncFd::register_with_interest(pipe, Interest::READABLE) };
    match registered {
        Ok(fd) => Ok(Arc::new(fd)),
        Err(error) => Err(error.into_parts().1),
    }
}

/// A log pipe and what looks at its lines as they pass.
#[derive(Debug)]
pub(crate) struct CapturePipe {
    fd: OwnedFd,
    /// Boxed: most pipes have none.
    tap: Option<Box<Mutex<Tap>>>,
}

impl CapturePipe {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// What sees the complete lines of one pipe as they pass through capture: the console copy.
/// (The one place for anything else that must see lines, such as a readiness pattern: add a
/// consumer in [`Tap::line`].)
#[derive(Debug)]
pub(crate) struct Tap {
    program: String,
    stream: Stream,
    console: Option<Console>,
    splitter: LineSplitter,
}

impl Tap {
    pub fn new(program: &str, stream: Stream, console: Option<Console>) -> Tap {
        Tap {
            program: program.to_string(),
            stream,
            console,
            splitter: LineSplitter::default(),
        }
    }

    fn push(&mut self, data: &[u8], millis: i64) {
        let Tap {
            program,
            stream,
            console,
            splitter,
        } = self;
        splitter.push(data, |line| {
            Tap::line(program, *stream, console, line, millis)
        });
    }

    fn finish(&mut self) {
        let millis = unix_millis(SystemTime::now());
        let Tap {
            program,
            stream,
            console,
            splitter,
        } = self;
        splitter.finish(|line| Tap::line(program, *stream, console, line, millis));
    }

    fn line(program: &str, stream: Stream, console: &Option<Console>, line: &[u8], millis: i64) {
        if let Some(console) = console {
            console.line(program, stream, line, millis);
        }
    }
}

pub(crate) fn lock(writer: &SharedWriter) -> MutexGuard<'_, LogWriter> {
    writer.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What status shows of a file whose writes fail.
fn problem_text(path: &Path, error: &str, dropped: u64) -> String {
    format!(
        "cannot write log \"{}\": {error} ({dropped} bytes dropped)",
        path.display()
    )
}

/// `file.N`.
pub fn rotated_path(path: &Path, number: u32) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(format!(".{number}"));
    PathBuf::from(name)
}

/// An errno as words, without std's `(os error N)` suffix.
pub(crate) fn describe(error: &io::Error) -> String {
    match error.raw_os_error() {
        Some(code) => Errno::from_raw(code).desc().to_string(),
        None => error.to_string(),
    }
}

/// One log file being written: its size, its rotation settings, and how writes are going.
#[derive(Debug)]
pub(crate) struct LogWriter {
    /// Shared with the supervisor's table of writers, which is keyed by it (a copy of the
    /// path per writer there was an allocation per log file).
    path: Arc<Path>,
    file: File,
    /// Where the next byte goes (and, for a regular file, its length).
    size: u64,
    /// A regular file: writes at `size`, splice, rotation. Otherwise (a tty, a pipe such as
    /// `/dev/stdout`): plain sequential writes, never rotated.
    regular: bool,
    max_bytes: u64,
    backups: u32,
    use_splice: bool,
    /// Do not retry a failed rotation before the file has grown this much.
    rotate_at_least: u64,
    /// How writes went wrong, once they have: boxed, most files never have a problem (its
    /// 56 bytes inline were in every writer).
    trouble: Option<Box<Trouble>>,
    /// The pipes that feed this file, while their capture runs.
    pipes: Vec<Weak<CapturePipe>>,
    /// Prefix each line with its time (SPEC §13).
    timestamps: bool,
    /// Whether the next byte written starts a line (kept per file: what the file holds is
    /// what must never have a stamp inside a line).
    at_line_start: bool,
    /// Told of every write (it checks when they take it over).
    budget: Option<Arc<Budget>>,
    /// The user of the program that opened it: a rotation creates the next file with no more
    /// rights than that user has (`logfile`).
    owner: Option<Box<UserSpec>>,
}

/// What went wrong with a log file's writes, kept from the first problem on.
#[derive(Debug, Default)]
struct Trouble {
    /// The write error being lived with, while it lasts.
    failing: Option<String>,
    /// Bytes lost to failed writes over the writer's life.
    dropped: u64,
    /// What status shows: the last error and the bytes lost to it.
    problem: Option<String>,
}

/// What one drain achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Drained {
    /// The pipe is empty and still has writers.
    Empty,
    /// Every writer closed the pipe and it is empty.
    Eof,
    /// [`DRAIN_BUDGET`] moved; more may be waiting.
    Budget,
}

enum Step {
    /// Spliced or copied: the file grew by that much.
    Moved(usize),
    /// Read from the pipe and written (line mode: the file's size is already counted).
    Wrote(usize),
    Interrupted,
    Empty,
    Eof,
    SpliceRefused,
    /// The file refused the data; `lost` bytes already left the pipe.
    WriteFailed(io::Error, usize),
    ReadFailed(io::Error),
}

impl LogWriter {
    /// Opens (creating it and its folders) the log at `path`, to continue at its end, with no
    /// more rights than `owner` (the program's user; `None`: the daemon's) has (`logfile`).
    pub fn open(
        path: &Path,
        max_bytes: u64,
        backups: u32,
        owner: Option<&UserSpec>,
    ) -> io::Result<LogWriter> {
        let file = keep_open(logfile::open(path, Continue::AtEnd, owner)?);
        let metadata = file.metadata()?;
        let regular = metadata.is_file();
        Ok(LogWriter {
            path: Arc::from(path),
            file,
            size: if regular { metadata.len() } else { 0 },
            regular,
            max_bytes,
            backups,
            use_splice: regular,
            rotate_at_least: 0,
            trouble: None,
            pipes: Vec::new(),
            timestamps: false,
            at_line_start: metadata.len() == 0 || !regular,
            budget: None,
            owner: owner.cloned().map(Box::new),
        })
    }

    /// Whether lines are stamped with their time from now on.
    pub fn set_timestamps(&mut self, timestamps: bool) {
        if timestamps && !self.timestamps && self.regular && self.size > 0 {
            // Continuing a file: a stamp starts the next line (a partial one the file ends
            // with is taken as ended).
            self.at_line_start = true;
        }
        self.timestamps = timestamps && self.regular;
    }

    /// The log budget, told of every write from now on.
    pub fn set_budget(&mut self, budget: Option<Arc<Budget>>) {
        if let Some(budget) = &budget {
            budget.register(&self.path, self.max_bytes);
        }
        self.budget = budget;
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path, shared: the key of the supervisor's table of writers.
    pub fn shared_path(&self) -> Arc<Path> {
        Arc::clone(&self.path)
    }

    /// A regular file (not a tty, a FIFO or `/dev/null`).
    pub fn is_regular(&self) -> bool {
        self.regular
    }

    /// Empties the file in place and writes on from its start (supervisord's "clear").
    pub fn clear(&mut self) -> io::Result<()> {
        if self.regular {
            self.file.set_len(0)?;
            self.size = 0;
            self.rotate_at_least = 0;
            self.at_line_start = true;
        }
        Ok(())
    }

    /// A later spec may change the rotation settings of a live file.
    pub fn set_rotation(&mut self, max_bytes: u64, backups: u32) {
        self.max_bytes = max_bytes;
        self.backups = backups;
        if let Some(budget) = &self.budget {
            budget.register(&self.path, max_bytes);
        }
    }

    /// The last write problem of this file, for the job's status.
    pub fn problem(&self) -> Option<String> {
        self.trouble
            .as_ref()
            .and_then(|trouble| trouble.problem.clone())
    }

    /// What went wrong, made at the first problem.
    fn trouble(&mut self) -> &mut Trouble {
        self.trouble.get_or_insert_with(Box::default)
    }

    /// If the file at our path is no longer the one we hold (deleted, moved away by an outside
    /// rotation tool), start a new one there. Called when a new process is attached.
    pub fn reopen_if_replaced(&mut self) -> io::Result<()> {
        let ours = self.file.metadata()?;
        let same = match std::fs::metadata(&self.path) {
            Ok(theirs) => theirs.dev() == ours.dev() && theirs.ino() == ours.ino(),
            Err(error) if error.kind() == io::ErrorKind::NotFound => false,
            Err(error) => return Err(error),
        };
        if !same {
            *self = LogWriter {
                // The same path, still shared with the table's key.
                path: Arc::clone(&self.path),
                // What was dropped and the last problem stay; the new file is not failing.
                trouble: self.trouble.take().map(|trouble| {
                    Box::new(Trouble {
                        failing: None,
                        ..*trouble
                    })
                }),
                pipes: std::mem::take(&mut self.pipes),
                timestamps: self.timestamps,
                budget: self.budget.take(),
                ..LogWriter::open(
                    &self.path,
                    self.max_bytes,
                    self.backups,
                    self.owner.as_deref(),
                )?
            };
        }
        Ok(())
    }

    /// Notes a pipe that feeds this file from now on (until its capture ends).
    pub fn feed(&mut self, pipe: &Pipe) {
        self.pipes.retain(|pipe| pipe.strong_count() > 0);
        // Most files have one pipe: room for it alone, not the four a first push reserves.
        self.pipes.reserve_exact(1);
        self.pipes.push(Arc::downgrade(pipe));
    }

    /// Whether a pipe still feeds this file: some process (or a leftover of one) may still
    /// write into it, and this writer would write at its own offset. A pipe whose writers have
    /// all closed it but whose capture has not run since does not count: what it holds is
    /// drained here, now, to its end (its capture then finds the end too and stops).
    pub fn is_fed(&mut self) -> bool {
        // In place: the list keeps its (exact) room.
        let mut pipes = std::mem::take(&mut self.pipes);
        pipes.retain(|pipe| {
            pipe.upgrade().is_some_and(|live| {
                self.drain_pipe(&live, DRAIN_BUDGET, false, None) != Drained::Eof
            })
        });
        self.pipes = pipes;
        !self.pipes.is_empty()
    }

    /// Moves what a capture pipe holds into the file, its lines through the pipe's tap.
    /// `waking`: called by the capture task on a wake, which may take a short move for the
    /// pipe's end (the next write wakes it again; see [`capture`]); otherwise the pipe is
    /// drained until the kernel says it is empty or at its end.
    pub fn drain_pipe(
        &mut self,
        pipe: &CapturePipe,
        budget: u64,
        waking: bool,
        watch: Option<&mut LineWatch>,
    ) -> Drained {
        let fd = pipe.fd.as_fd();
        match &pipe.tap {
            Some(tap) => {
                let mut tap = tap.lock().unwrap_or_else(PoisonError::into_inner);
                self.drain_tapped(fd, Some(&mut tap), budget, waking, watch)
            }
            None => self.drain_tapped(fd, None, budget, waking, watch),
        }
    }

    /// Moves what the pipe holds into the file, rotating as needed, up to `budget` bytes.
    #[cfg(test)]
    pub fn drain(&mut self, pipe: BorrowedFd<'_>, budget: u64) -> Drained {
        self.drain_tapped(pipe, None, budget, false, None)
    }

    /// [`LogWriter::drain`], reading the bytes through a buffer to look for a ready line; it
    /// returns right after the chunk that holds it: `(how, seen)`.
    #[cfg(test)]
    pub fn drain_watching(
        &mut self,
        pipe: BorrowedFd<'_>,
        budget: u64,
        watch: &mut LineWatch,
    ) -> (Drained, bool) {
        let drained = self.drain_tapped(pipe, None, budget, false, Some(&mut *watch));
        (drained, watch.seen)
    }

    /// [`LogWriter::drain`], with the lines seen by `tap`. Bytes go through user space
    /// (line mode) only when something must look at them: timestamps or a tap; otherwise
    /// they are spliced, or copied through a buffer while a ready line is looked for
    /// (`watch`, which ends the drain right after the chunk that holds it).
    fn drain_tapped(
        &mut self,
        pipe: BorrowedFd<'_>,
        mut tap: Option<&mut Tap>,
        budget: u64,
        waking: bool,
        mut watch: Option<&mut LineWatch>,
    ) -> Drained {
        let mut moved = 0u64;
        loop {
            if moved >= budget || watch.as_ref().is_some_and(|watch| watch.seen) {
                return Drained::Budget;
            }
            let (step, asked) = if self.timestamps || tap.is_some() {
                (
                    self.step_lines(pipe, tap.as_deref_mut(), watch.as_deref_mut()),
                    LINE_CHUNK,
                )
            } else {
                self.catch_up();
                self.rotate_if_full();
                let room = self.room();
                match watch.as_deref_mut() {
                    Some(lines) => (self.copy(pipe, room, Some(lines)), room.min(COPY_BUFFER)),
                    None => {
                        let asked = if self.use_splice {
                            relay::asked(room)
                        } else {
                            room.min(COPY_BUFFER)
                        };
                        (self.step(pipe, room), asked)
                    }
                }
            };
            let took = match step {
                Step::Moved(count) => {
                    self.size += count as u64;
                    moved += count as u64;
                    self.recovered();
                    if let Some(budget) = &self.budget {
                        budget.wrote(count as u64);
                    }
                    count
                }
                Step::Wrote(count) => {
                    moved += count as u64;
                    count
                }
                Step::Interrupted => continue,
                Step::Empty => return Drained::Empty,
                Step::Eof => return Drained::Eof,
                Step::SpliceRefused => {
                    tracing::debug!(path = %self.path.display(), "splice refused; copying through a buffer");
                    self.use_splice = false;
                    continue;
                }
                Step::WriteFailed(error, lost) => {
                    self.trouble().dropped += lost as u64;
                    self.write_failed(&error);
                    // Keep the program running: throw away what is waiting, try again next wake.
                    return self.discard(pipe, watch);
                }
                Step::ReadFailed(error) => {
                    tracing::warn!(path = %self.path.display(), error = %error, "cannot read a log pipe");
                    return Drained::Eof;
                }
            };
            // Less than asked: the pipe was emptied (whatever is written next wakes the
            // capture task again: the wake-up is edge-triggered and comes after this read).
            // This saves the read that would only say EAGAIN, one per wake.
            if waking && took < asked {
                return Drained::Empty;
            }
        }
    }

    /// Line mode: one read from the pipe into user space, the lines handed to the tap, the
    /// bytes stamped (`lines::stamp`) and written. One clock reading per read: the lines
    /// that arrive together share their time.
    fn step_lines(
        &mut self,
        pipe: BorrowedFd<'_>,
        tap: Option<&mut Tap>,
        watch: Option<&mut LineWatch>,
    ) -> Step {
        SCRATCH.with_borrow_mut(|(input, output)| {
            if input.len() < LINE_CHUNK {
                input.resize(LINE_CHUNK, 0);
            }
            let count = match nix::unistd::read(pipe, &mut input[..]) {
                Ok(0) => {
                    if let Some(tap) = tap {
                        tap.finish();
                    }
                    return Step::Eof;
                }
                Ok(count) => count,
                Err(Errno::EAGAIN) => return Step::Empty,
                Err(Errno::EINTR) => return Step::Interrupted,
                Err(errno) => return Step::ReadFailed(io::Error::from(errno)),
            };
            let data = &input[..count];
            let millis = unix_millis(SystemTime::now());
            if let Some(tap) = tap {
                tap.push(data, millis);
            }
            if let Some(watch) = watch {
                watch.scan(data);
            }
            let bytes: &[u8] = if self.timestamps {
                output.clear();
                stamp(output, data, &mut self.at_line_start, &prefix(millis));
                output
            } else {
                data
            };
            match self.write_out(bytes) {
                Ok(()) => Step::Wrote(count),
                Err((error, lost)) => Step::WriteFailed(error, lost),
            }
        })
    }

    /// Writes bytes at the file's end, rotating at `max_bytes` between two writes. On a
    /// failure: the error, and how many bytes were not written.
    fn write_out(&mut self, mut data: &[u8]) -> Result<(), (io::Error, usize)> {
        while !data.is_empty() {
            self.catch_up();
            self.rotate_if_full();
            let len = self.room().min(data.len());
            let result = if self.regular {
                self.file.write_at(&data[..len], self.size)
            } else {
                (&self.file).write(&data[..len])
            };
            match result {
                Ok(0) => return Err((io::Error::from(io::ErrorKind::WriteZero), data.len())),
                Ok(count) => {
                    self.size += count as u64;
                    data = &data[count..];
                    self.recovered();
                    if let Some(budget) = &self.budget {
                        budget.wrote(count as u64);
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err((error, data.len())),
            }
        }
        Ok(())
    }

    /// Continues after the file's end when something else appended to it since our last
    /// write: a process that was given the file itself (direct mode, `max_bytes = 0`) and left
    /// a descendant writing there. Without this, the next write at our offset would overwrite
    /// those bytes. (A write of theirs between this look and our write can still be overwritten:
    /// the module's notes.)
    fn catch_up(&mut self) {
        if !self.regular {
            return;
        }
        if let Ok(metadata) = self.file.metadata()
            && metadata.len() > self.size
        {
            self.size = metadata.len();
        }
    }

    /// Bytes that may go into the current file before it must rotate.
    fn room(&self) -> usize {
        if self.regular && self.max_bytes > 0 {
            let left = self.max_bytes.saturating_sub(self.size).max(1);
            usize::try_from(left).unwrap_or(CHUNK).min(CHUNK)
        } else {
            CHUNK
        }
    }

    fn step(&mut self, pipe: BorrowedFd<'_>, len: usize) -> Step {
        if self.use_splice {
            // Through the relay (the program's pipe is free again before the copy into the
            // page cache: `relay.rs`), or straight where there is none.
            match relay::through(pipe, self.file.as_fd(), self.size, len) {
                Through::Moved {
                    written,
                    error: None,
                    ..
                } => return Step::Moved(written),
                Through::Moved {
                    taken,
                    written,
                    error: Some(error),
                } => {
                    self.written_before_failing(written);
                    return Step::WriteFailed(error, taken - written);
                }
                Through::Empty => return Step::Empty,
                Through::Eof => return Step::Eof,
                Through::Interrupted => return Step::Interrupted,
                Through::ReadFailed(error) => return Step::ReadFailed(error),
                Through::Unavailable => {}
            }
            let mut offset = self.size as libc::loff_t;
            match splice(
                pipe,
                None,
                self.file.as_fd(),
                Some(&mut offset),
                len,
                SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => Step::Eof,
                Ok(count) => Step::Moved(count),
                Err(Errno::EAGAIN) => Step::Empty,
                Err(Errno::EINTR) => Step::Interrupted,
                Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::ESPIPE) => {
                    Step::SpliceRefused
                }
                Err(errno) => Step::WriteFailed(io::Error::from(errno), 0),
            }
        } else {
            self.copy(pipe, len, None)
        }
    }

    /// The read/write fallback, and the path of a capture that looks for a ready line: the
    /// chunk read is shown to `watch` before it is written.
    fn copy(&mut self, pipe: BorrowedFd<'_>, len: usize, watch: Option<&mut LineWatch>) -> Step {
        let mut buffer = [0u8; COPY_BUFFER];
        let len = len.min(COPY_BUFFER);
        let count = match nix::unistd::read(pipe, &mut buffer[..len]) {
            Ok(0) => return Step::Eof,
            Ok(count) => count,
            Err(Errno::EAGAIN) => return Step::Empty,
            Err(Errno::EINTR) => return Step::Interrupted,
            Err(errno) => return Step::ReadFailed(io::Error::from(errno)),
        };
        if let Some(watch) = watch {
            watch.scan(&buffer[..count]);
        }
        let mut written = 0;
        while written < count {
            let result = if self.regular {
                self.file
                    .write_at(&buffer[written..count], self.size + written as u64)
            } else {
                (&self.file).write(&buffer[written..count])
            };
            match result {
                Ok(0) => {
                    return Step::WriteFailed(
                        io::Error::from(io::ErrorKind::WriteZero),
                        count - written,
                    );
                }
                Ok(more) => written += more,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.written_before_failing(written);
                    return Step::WriteFailed(error, count - written);
                }
            }
        }
        Step::Moved(count)
    }

    /// A move the file refused part of: what was written before counts (in the file's size and
    /// the log budget); the rest is lost, and the caller says so.
    fn written_before_failing(&mut self, written: usize) {
        self.size += written as u64;
        if let Some(budget) = &self.budget {
            budget.wrote(written as u64);
        }
    }

    /// Empties the pipe into nothing, counting the bytes (a ready line is still looked for).
    fn discard(&mut self, pipe: BorrowedFd<'_>, mut watch: Option<&mut LineWatch>) -> Drained {
        let mut buffer = [0u8; COPY_BUFFER];
        let mut discarded = 0u64;
        let outcome = loop {
            match nix::unistd::read(pipe, &mut buffer) {
                Ok(0) => break Drained::Eof,
                Ok(count) => {
                    if let Some(watch) = watch.as_deref_mut() {
                        watch.scan(&buffer[..count]);
                    }
                    discarded += count as u64;
                    if discarded >= DRAIN_BUDGET {
                        break Drained::Budget;
                    }
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break Drained::Empty,
                Err(_) => break Drained::Eof,
            }
        };
        // The fields apart (not `self.trouble()`): the path is read while the trouble changes.
        let trouble = self.trouble.get_or_insert_with(Box::default);
        trouble.dropped += discarded;
        trouble.problem = trouble
            .failing
            .as_ref()
            .map(|error| problem_text(&self.path, error, trouble.dropped));
        outcome
    }

    fn write_failed(&mut self, error: &io::Error) {
        let error = describe(error);
        let path = &self.path;
        let trouble = self.trouble.get_or_insert_with(Box::default);
        if trouble.failing.as_deref() != Some(error.as_str()) {
            tracing::warn!(
                path = %path.display(),
                error = %error,
                "log write failed; output is dropped until writes succeed again"
            );
        }
        trouble.problem = Some(problem_text(path, &error, trouble.dropped));
        trouble.failing = Some(error);
    }

    fn recovered(&mut self) {
        let Some(trouble) = self.trouble.as_deref_mut() else {
            return;
        };
        if let Some(error) = trouble.failing.take() {
            tracing::info!(
                path = %self.path.display(),
                dropped = trouble.dropped,
                "log writes resumed after: {error}"
            );
            // Nothing is failing now: status stops saying so (what was lost is in the log).
            trouble.problem = None;
        }
    }

    fn rotate_if_full(&mut self) {
        if !self.regular
            || self.max_bytes == 0
            || self.size < self.max_bytes
            || self.size < self.rotate_at_least
        {
            return;
        }
        if let Err(error) = self.rotate() {
            self.rotate_failed(&error);
        }
    }

    fn rotate_failed(&mut self, error: &io::Error) {
        let error = describe(error);
        tracing::warn!(path = %self.path.display(), error = %error, "cannot rotate log");
        let problem = format!("cannot rotate log \"{}\": {error}", self.path.display());
        self.trouble().problem = Some(problem);
        // Keep writing to the big file; try again after another `max_bytes`.
        self.rotate_at_least = self.size.saturating_add(self.max_bytes);
    }

    /// `file.N-1` → `file.N` … `file` → `file.1`, then a new `file`; with no backups the file
    /// is emptied in place.
    fn rotate(&mut self) -> io::Result<()> {
        if self.backups == 0 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        for number in (1..self.backups).rev() {
            match std::fs::rename(
                rotated_path(&self.path, number),
                rotated_path(&self.path, number + 1),
            ) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => return Err(error),
                _ => {}
            }
        }
        std::fs::rename(&self.path, rotated_path(&self.path, 1))?;
        // A link planted in the instant between the rename and this open is not followed.
        self.file = keep_open(logfile::open(
            &self.path,
            Continue::Empty,
            self.owner.as_deref(),
        )?);
        self.size = 0;
        self.rotate_at_least = 0;
        Ok(())
    }
}

/// A log file the daemon keeps open, at a high descriptor number (see `spawn::keep_high`).
fn keep_open(file: File) -> File {
    File::from(keep_high(OwnedFd::from(file)))
}

/// Empties the regular file at `path` if there is one; nothing is created, and a symlink at
/// the last component is refused (`O_NOFOLLOW`) rather than followed.
pub(crate) fn truncate_existing(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = match std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if file.metadata()?.is_file() {
        file.set_len(0)?;
    }
    Ok(())
}

/// The log file itself for a program's stdout or stderr (direct mode): opened for appending
/// (`O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC|O_NOFOLLOW`, std always adds close-on-exec), created
/// with its folders as [`LogWriter::open`] does, with no more rights than `owner` has. The
/// child dups it onto its fd 1 or 2; the daemon's copy closes once the child is spawned.
pub(crate) fn open_direct(path: &Path, owner: Option<&UserSpec>) -> io::Result<OwnedFd> {
    Ok(logfile::open(path, Continue::Append, owner)?.into())
}

/// A pipe for one output stream: the read end (ours, non-blocking, kept at a high descriptor
/// number: see `spawn::keep_high`) and the write end (the child's). Both close on exec; the
/// child dups the write end onto its fd 1 or 2.
pub(crate) fn output_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    let read = keep_high(read);
    // The pipe keeps its default size: see the module's notes.
    fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
    Ok((read, write))
}

/// The read end of a log pipe (it must be non-blocking), with what looks at its lines, ready
/// to be given to the supervisor's set of captures (`captures.rs`).
pub(crate) fn capture_pipe(pipe: OwnedFd, tap: Option<Tap>) -> Pipe {
    Arc::new(CapturePipe {
        fd: pipe,
        tap: tap.map(|tap| Box::new(Mutex::new(tap))),
    })
}

/// Looks for a program's `ready_log_line` in the lines that pass through a capture (SPEC §12).
/// Only until it is seen: then the capture goes back to splicing, and its bytes no longer
/// enter user space.
#[derive(Debug)]
pub(crate) struct LineWatch {
    needle: Vec<u8>,
    /// The line was seen.
    seen: bool,
    /// The end of the line being read, as far as a needle cut in two by a read could reach
    /// back (`needle.len() - 1` bytes at most).
    carry: Vec<u8>,
}

impl LineWatch {
    pub fn new(line: &str) -> LineWatch {
        LineWatch {
            needle: line.as_bytes().to_vec(),
            seen: false,
            carry: Vec::new(),
        }
    }

    /// Whether the line was seen.
    pub fn seen(&self) -> bool {
        self.seen
    }

    /// Whether a line of `chunk` (with what came before it on the same line) holds the needle;
    /// once it has, [`LineWatch::seen`] stays true. Linear in the chunk for the short needles
    /// that are the rule (a first-byte scan, then a comparison).
    pub fn scan(&mut self, chunk: &[u8]) -> bool {
        if self.seen {
            return true;
        }
        self.seen = self.find(chunk);
        self.seen
    }

    fn find(&mut self, chunk: &[u8]) -> bool {
        let needle = self.needle.as_slice();
        let Some(keep) = needle.len().checked_sub(1) else {
            return true;
        };
        let mut rest = chunk;
        loop {
            let (piece, line_ends) = match rest.iter().position(|byte| *byte == b'\n') {
                Some(end) => (&rest[..end], true),
                None => (rest, false),
            };
            if !self.carry.is_empty() {
                // A needle that began at the end of the last chunk ends in this piece's first
                // `keep` bytes.
                let mut joined = std::mem::take(&mut self.carry);
                joined.extend_from_slice(&piece[..piece.len().min(keep)]);
                if contains(&joined, needle) {
                    return true;
                }
                if !line_ends && piece.len() < keep {
                    // The whole piece is in `joined`, and the line goes on.
                    let cut = joined.len().saturating_sub(keep);
                    joined.drain(..cut);
                    self.carry = joined;
                    return false;
                }
            }
            if contains(piece, needle) {
                return true;
            }
            if !line_ends {
                self.carry = piece[piece.len().saturating_sub(keep)..].to_vec();
                return false;
            }
            rest = &rest[piece.len() + 1..];
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    let Some((&first, rest)) = needle.split_first() else {
        return true;
    };
    if haystack.len() < needle.len() {
        return false;
    }
    haystack[..=haystack.len() - needle.len()]
        .iter()
        .enumerate()
        .any(|(index, byte)| *byte == first && haystack[index + 1..].starts_with(rest))
}

/// A capture's [`LineWatch`] and whom to tell: the loop, about process `pid` of `name`.
#[derive(Debug)]
pub(crate) struct ReadyWatch {
    pub line: LineWatch,
    pub name: String,
    pub pid: u32,
    pub sender: tokio::sync::mpsc::Sender<crate::health::HealthMessage>,
}

/// The last `lines` lines of a log, reading backwards from its end in chunks (a 50 MB file costs
/// a few reads). When the file holds fewer lines, the rest comes from `file.1`, then `file.2`…
/// At most [`TAIL_MAX_BYTES`] are returned. Invalid UTF-8 is replaced.
pub fn tail(path: &Path, lines: usize) -> io::Result<String> {
    if lines == 0 {
        return Ok(String::new());
    }
    let mut file = File::open(path)?;
    let length = file.metadata()?.len();
    tail_from(path, tail_bytes_of(&mut file, length, lines)?, lines)
}

/// [`tail`] of the log as it was when `file` (opened at `path`) was `end` bytes long: what a
/// follower that starts at `end` must be given first, so that no line written meanwhile is
/// missed or sent twice. Older lines come from the rotated files, by path.
pub fn tail_before(path: &Path, file: &File, end: u64, lines: usize) -> io::Result<String> {
    if lines == 0 {
        return Ok(String::new());
    }
    let mut file = file.try_clone()?;
    tail_from(path, tail_bytes_of(&mut file, end, lines)?, lines)
}

/// The rest of [`tail`]: the current file's part is given, the rotated files are read.
fn tail_from(path: &Path, newest: (Vec<u8>, bool), lines: usize) -> io::Result<String> {
    let (mut joined, mut complete) = newest;
    let mut number = 1;
    // A file may begin in the middle of a line that the one before it started: join them
    // before counting.
    while !complete && (joined.len() as u64) < TAIL_MAX_BYTES {
        let older = match File::open(rotated_path(path, number)).and_then(|mut file| {
            let length = file.metadata()?.len();
            tail_bytes_of(&mut file, length, lines)
        }) {
            Ok((older, _)) => older,
            Err(error) if error.kind() == io::ErrorKind::NotFound => break,
            Err(error) => return Err(error),
        };
        let mut both = older;
        both.extend_from_slice(&joined);
        joined = both;
        let (start, found) = last_lines_start(&joined, lines);
        if found {
            joined.drain(..start);
            complete = true;
        }
        number += 1;
    }
    let cut = joined.len().saturating_sub(TAIL_MAX_BYTES as usize);
    Ok(String::from_utf8_lossy(&joined[cut..]).into_owned())
}

/// The last `lines` lines (at most `max_bytes` bytes) that a file got after it was `start`
/// bytes long: what one process wrote into a log it shares with earlier ones. A file shorter
/// than `start` was rotated meanwhile, and all of it is that process's. A line cut by the
/// byte limit is left out (unless it is the only one). Invalid UTF-8 is replaced.
pub fn tail_since(path: &Path, start: u64, lines: usize, max_bytes: u64) -> io::Result<String> {
    let file = File::open(path)?;
    let length = file.metadata()?.len();
    let start = if length < start { 0 } else { start };
    let from = start.max(length.saturating_sub(max_bytes));
    let mut bytes = vec![0u8; usize::try_from(length - from).unwrap_or(0)];
    file.read_exact_at(&mut bytes, from)?;
    Ok(String::from_utf8_lossy(last_lines_of(&bytes, from > start, lines)).into_owned())
}

/// The last `lines` lines of `bytes`; `cut`: the first line may be the end of a longer one,
/// and is dropped when another line follows it.
fn last_lines_of(bytes: &[u8], cut: bool, lines: usize) -> &[u8] {
    let mut bytes = bytes;
    if cut
        && let Some(newline) = bytes.iter().position(|byte| *byte == b'\n')
        && newline + 1 < bytes.len()
    {
        bytes = &bytes[newline + 1..];
    }
    if lines == 0 {
        return &[];
    }
    // A newline at the very end ends the last line; it does not begin another.
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let mut seen = 0;
    for (index, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            seen += 1;
            if seen == lines {
                return &bytes[index + 1..];
            }
        }
    }
    bytes
}

/// The bytes of the last `lines` lines of a file, and whether that many were found (else it is
/// the whole file). Reads backwards in chunks, looks for newlines only in the chunk just read
/// and joins the chunks once: linear in what it reads, which is at most [`TAIL_MAX_BYTES`]
/// (a file of one enormous line costs that much and no more).
fn tail_bytes_of(file: &mut File, length: u64, lines: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut start = length;
    // Newest first.
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut newlines = 0;
    while start > 0 {
        let read = length - start;
        if read >= TAIL_MAX_BYTES {
            return Ok((join_reversed(chunks), true));
        }
        let chunk = TAIL_CHUNK.min(start).min(TAIL_MAX_BYTES - read);
        start -= chunk;
        let mut buffer = vec![0u8; chunk as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buffer)?;
        // A newline at the very end of the file ends the last line; it does not begin another.
        let scanned = match buffer.last() {
            Some(b'\n') if chunks.is_empty() => buffer.len() - 1,
            _ => buffer.len(),
        };
        for index in (0..scanned).rev() {
            if buffer[index] == b'\n' {
                newlines += 1;
                if newlines == lines {
                    chunks.push(buffer.split_off(index + 1));
                    return Ok((join_reversed(chunks), true));
                }
            }
        }
        chunks.push(buffer);
    }
    Ok((join_reversed(chunks), false))
}

fn join_reversed(chunks: Vec<Vec<u8>>) -> Vec<u8> {
    let mut joined = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
    for chunk in chunks.iter().rev() {
        joined.extend_from_slice(chunk);
    }
    joined
}

/// Where the last `lines` lines of `data` start, and whether there were that many full ones
/// (a line is known to be whole when a newline precedes it). A newline at the very end ends the
/// last line; it does not begin another.
fn last_lines_start(data: &[u8], lines: usize) -> (usize, bool) {
    let body = match data.last() {
        Some(b'\n') => &data[..data.len() - 1],
        _ => data,
    };
    let mut found = 0;
    for (index, byte) in body.iter().enumerate().rev() {
        if *byte == b'\n' {
            found += 1;
            if found == lines {
                return (index + 1, true);
            }
        }
    }
    (0, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_of_a_run_drop_a_cut_line_and_keep_the_newest() {
        let cases: &[(&str, bool, usize, &str)] = &[
            ("", false, 10, ""),
            ("a\nb\n", false, 10, "a\nb\n"),
            ("a\nb\nc\n", false, 2, "b\nc\n"),
            ("a\nb\nc", false, 2, "b\nc"),
            // Cut by the byte limit: the partial first line goes…
            ("rtial\nwhole\n", true, 10, "whole\n"),
            // …unless it is all there is.
            ("one enormous line", true, 10, "one enormous line"),
            ("tail of it\n", true, 10, "tail of it\n"),
            ("a\nb\n", false, 0, ""),
        ];
        for (bytes, cut, lines, expected) in cases {
            assert_eq!(
                String::from_utf8_lossy(last_lines_of(bytes.as_bytes(), *cut, *lines)),
                *expected,
                "{bytes:?} cut={cut} lines={lines}"
            );
        }
    }

    #[test]
    fn tail_since_reads_only_what_came_after_start() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("x.stderr.log");
        std::fs::write(&path, "old run\nnew 1\nnew 2\n").unwrap();
        assert_eq!(tail_since(&path, 8, 10, 4096).unwrap(), "new 1\nnew 2\n");
        assert_eq!(tail_since(&path, 8, 1, 4096).unwrap(), "new 2\n");
        // Nothing since: empty.
        assert_eq!(tail_since(&path, 20, 10, 4096).unwrap(), "");
        // Rotated meanwhile (shorter than start): all of it is the run's.
        assert_eq!(
            tail_since(&path, 1000, 10, 4096).unwrap(),
            "old run\nnew 1\nnew 2\n"
        );
        // The byte limit: the cut line is dropped.
        assert_eq!(tail_since(&path, 0, 10, 8).unwrap(), "new 2\n");
    }

    #[test]
    fn a_ready_line_is_found_in_any_line_and_across_reads() {
        // (chunks as read, found after which chunk)
        let cases: &[(&[&str], Option<usize>)] = &[
            (&["listening on 8080\n"], Some(0)),
            (&["boot\nnow listening on 80"], Some(0)),
            (&["now lis", "tening on 80\n"], Some(1)),
            (
                &["l", "i", "s", "t", "e", "n", "i", "n", "g", " on"],
                Some(9),
            ),
            (&["now listen\n", "ing on 80\n"], None),
            (&["listening o\nn"], None),
            (&["nothing here\n", "still nothing"], None),
            (&["xxlistening onxx"], Some(0)),
            (&["a\n\nlistening", " on"], Some(1)),
        ];
        for (chunks, expected) in cases {
            let mut watch = LineWatch::new("listening on");
            let found = chunks.iter().position(|chunk| watch.scan(chunk.as_bytes()));
            assert_eq!(found, *expected, "{chunks:?}");
        }
        let mut watch = LineWatch::new("x");
        assert!(!watch.scan(b"abc\n"));
        assert!(watch.scan(b"abx"));
        assert!(watch.scan(b"no"), "stays seen");
    }

    /// A watched drain reads (rather than splices) and writes every byte to the log.
    #[test]
    fn a_watched_drain_keeps_every_byte() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("x.log");
        let mut writer = LogWriter::open(&path, 0, 0, None).unwrap();
        let (read, write) = output_pipe().unwrap();
        nix::unistd::write(&write, b"starting\nready to serve\nmore\n").unwrap();
        let mut watch = LineWatch::new("ready to");
        let (drained, seen) = writer.drain_watching(read.as_fd(), DRAIN_BUDGET, &mut watch);
        assert!(seen);
        assert_eq!(drained, Drained::Budget);
        drop(write);
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Eof);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"starting\nready to serve\nmore\n"
        );
    }

    #[test]
    fn last_lines() {
        let cases: &[(&str, usize, &str, bool)] = &[
            ("", 3, "", false),
            ("a\n", 1, "a\n", false),
            ("a\nb\n", 1, "b\n", true),
            ("a\nb\nc", 2, "b\nc", true),
            ("a\nb\nc\n", 5, "a\nb\nc\n", false),
            ("a\n\n\nb\n", 2, "\nb\n", true),
        ];
        for (text, lines, expected, complete) in cases {
            let (start, found) = last_lines_start(text.as_bytes(), *lines);
            assert_eq!(&text[start..], *expected, "{text:?} {lines}");
            assert_eq!(found, *complete, "{text:?} {lines}");
        }
    }

    #[test]
    fn tail_reads_backwards_and_falls_back_to_the_rotated_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("x.log");
        // A file much bigger than a chunk: only its end is read.
        let mut text = String::new();
        for number in 0..100_000 {
            text.push_str(&format!("line {number}\n"));
        }
        std::fs::write(&path, &text).unwrap();
        assert_eq!(tail(&path, 2).unwrap(), "line 99998\nline 99999\n");
        assert_eq!(tail(&path, 0).unwrap(), "");

        // Rotation split "line 3" across the two files.
        std::fs::write(rotated_path(&path, 1), "line 1\nline 2\nli").unwrap();
        std::fs::write(&path, "ne 3\nline 4\n").unwrap();
        assert_eq!(tail(&path, 1).unwrap(), "line 4\n");
        assert_eq!(tail(&path, 2).unwrap(), "line 3\nline 4\n");
        assert_eq!(tail(&path, 3).unwrap(), "line 2\nline 3\nline 4\n");
        assert_eq!(tail(&path, 10).unwrap(), "line 1\nline 2\nline 3\nline 4\n");
        // …and further back when one backup is not enough.
        std::fs::write(rotated_path(&path, 2), "line 0\n").unwrap();
        assert_eq!(
            tail(&path, 5).unwrap(),
            "line 0\nline 1\nline 2\nline 3\nline 4\n"
        );
        assert_eq!(
            tail(&path, 9).unwrap(),
            "line 0\nline 1\nline 2\nline 3\nline 4\n"
        );

        let missing = folder.path().join("missing.log");
        assert_eq!(
            tail(&missing, 3).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn writer_rotates_at_max_bytes_and_keeps_backups() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("sub/dir/x.log");
        let mut writer = LogWriter::open(&path, 10, 2, None).unwrap();
        let (read, write) = output_pipe().unwrap();
        let payload: Vec<u8> = (0..45u8).map(|n| b'a' + n % 26).collect();
        nix::unistd::write(&write, &payload).unwrap();
        drop(write);
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Eof);
        // 45 bytes in files of 10: 4 rotations, 2 backups kept.
        assert_eq!(std::fs::read(&path).unwrap(), &payload[40..]);
        assert_eq!(
            std::fs::read(rotated_path(&path, 1)).unwrap(),
            &payload[30..40]
        );
        assert_eq!(
            std::fs::read(rotated_path(&path, 2)).unwrap(),
            &payload[20..30]
        );
        assert!(!rotated_path(&path, 3).exists());
    }

    #[test]
    fn writer_without_backups_truncates_in_place_and_continues_a_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("x.log");
        std::fs::write(&path, b"old\n").unwrap();
        let mut writer = LogWriter::open(&path, 8, 0, None).unwrap();
        let (read, write) = output_pipe().unwrap();
        nix::unistd::write(&write, b"0123456789").unwrap();
        drop(write);
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Eof);
        // "old\n" + "0123" fills 8 bytes, truncated, then "456789".
        assert_eq!(std::fs::read(&path).unwrap(), b"456789");
        assert!(!rotated_path(&path, 1).exists());
    }

    /// A pipe counts as feeding its file until it has been drained to its end, even when its
    /// capture task has not run since the last writer closed it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_pipe_feeds_its_writer_until_drained_to_its_end() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("x.log");
        let writer = Arc::new(Mutex::new(LogWriter::open(&path, 0, 0, None).unwrap()));
        let (read, write) = output_pipe().unwrap();
        let pipe = capture_pipe(read, None);
        lock(&writer).feed(&pipe);
        nix::unistd::write(&write, b"one\n").unwrap();
        // A writer still holds the pipe: it feeds the file (and what it held is moved).
        assert!(lock(&writer).is_fed());
        assert_eq!(std::fs::read(&path).unwrap(), b"one\n");
        nix::unistd::write(&write, b"two\n").unwrap();
        drop(write);
        // Every writer is gone, but its capture has not run: the rest is drained now.
        assert!(!lock(&writer).is_fed());
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
        // The capture finds the end too, and stops.
        let captures = super::super::captures::Captures::start().unwrap();
        captures.add(pipe, writer.clone()).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while captures.len() > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "the capture never ended"
            );
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(!lock(&writer).is_fed());
        assert_eq!(std::fs::read(&path).unwrap(), b"one\ntwo\n");
    }

    /// Bytes another process appended to the file (a direct-mode leftover) are not written over.
    #[test]
    fn writer_continues_after_what_others_appended() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("x.log");
        let mut writer = LogWriter::open(&path, 0, 0, None).unwrap();
        let (read, write) = output_pipe().unwrap();
        nix::unistd::write(&write, b"ours 1\n").unwrap();
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Empty);
        let mut other = open_direct(&path, None).map(File::from).unwrap();
        other.write_all(b"theirs\n").unwrap();
        nix::unistd::write(&write, b"ours 2\n").unwrap();
        drop(write);
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Eof);
        assert_eq!(std::fs::read(&path).unwrap(), b"ours 1\ntheirs\nours 2\n");
    }

    #[test]
    fn writer_keeps_draining_when_the_disk_is_full() {
        // /dev/full answers every write with ENOSPC.
        let path = Path::new("/dev/full");
        if !path.exists() {
            return;
        }
        let mut writer = LogWriter::open(path, 0, 0, None).unwrap();
        let (read, write) = output_pipe().unwrap();
        nix::unistd::write(&write, &[b'x'; 1000]).unwrap();
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Empty);
        let problem = writer.problem().unwrap();
        assert!(problem.contains("No space left on device"), "{problem}");
        assert!(problem.contains("1000 bytes dropped"), "{problem}");
        nix::unistd::write(&write, &[b'x'; 24]).unwrap();
        drop(write);
        assert_eq!(writer.drain(read.as_fd(), DRAIN_BUDGET), Drained::Eof);
        assert!(writer.problem().unwrap().contains("1024 bytes dropped"));
    }
}
