//! Watching programs.d. inotify events are only hints (editors rename, ConfigMaps swap links,
//! `git pull` rewrites many files): a burst of them becomes one "look again", after a short quiet
//! time. When every event of the burst named a program file, or the hidden temp file of an atomic
//! write of one ([`program_named`]), the hint names those programs ([`Hint::Files`]) and the
//! caller reads their files alone (the echo of the daemon's own API write, a `cp` or `mv` of a
//! program file); any other event ([`Hint::Changed`]: a link such as a ConfigMap's `..data`,
//! which changes what the program files lead to without naming them, an editor's test file, the
//! folder itself, an overflow) has it rescan the whole folder. The kind of an event is never
//! trusted: the named files are looked at as they are. A slow periodic rescan is the safety net
//! for what inotify cannot see (a symlink's target edited in another folder, a lost event).
//!
//! The watch is an inotify instance of our own (no thread, no crate beyond nix), read through
//! tokio's `AsyncFd` on the thread that polls [`FolderWatcher::next`] (the daemon's loop). Its mask
//! ([`MASK`]) asks only for what changes the folder's content: entries created, deleted, moved in
//! or out, files written (`IN_MODIFY`, and `IN_CLOSE_WRITE` for a writer that is done),
//! attributes changed (`IN_ATTRIB`: a chmod can make a file unreadable, `touch` is how people say
//! "look again"), and the folder itself deleted or moved. Opens, reads and read-only closes are
//! not asked for, so the scans that follow a hint (which open and read files) wake nothing: with
//! the `notify` crate, whose inotify backend always watches `IN_OPEN`, every file a scan opened
//! woke its thread. `IN_EXCL_UNLINK` drops events from files that were already unlinked.
//! A queue overflow (`IN_Q_OVERFLOW`) is a change like any other: the rescan reads the folder.
//!
//! The folder itself can go away: deleted and made again, renamed away with another one renamed
//! into its place (a release switch), or, when programs.d is a symlink to a folder (the watch is
//! on the folder it leads to), the link pointed elsewhere. Each time the watcher hands out a hint
//! it checks, with one `stat`, that the watched folder is still the one at the path (device and
//! inode), and moves the watch when it is not. So a folder deleted or moved (`IN_DELETE_SELF`,
//! `IN_MOVE_SELF`, `IN_IGNORED`) is followed within a debounce; a link repointed while its old
//! target stays gives no event at all, and is followed at the next hint, the safety rescan at the
//! latest. While the path has no folder, the watcher tries again after `quiet`, then twice as
//! long each time up to the safety period, and hands out a hint when the watch is back (the
//! folder may have come back with anything in it).
//!
//! [`FolderWatcher::next`] is cancel-safe: the burst in progress, the retry and the safety
//! deadline are kept in the watcher, not in the future, and reading events never awaits.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd as _, AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::Interest;
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::time::{Instant, sleep_until};

use super::Reuse;

/// How the watcher batches hints.
#[derive(Debug, Clone, Copy)]
pub struct WatchConfig {
    /// Quiet time after the last event before a burst counts as over.
    pub quiet: Duration,
    /// A burst never delays the rescan longer than this.
    pub max_delay: Duration,
    /// The safety rescan's period.
    pub safety: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            quiet: Duration::from_millis(15),
            max_delay: Duration::from_millis(200),
            safety: Duration::from_secs(30),
        }
    }
}

/// Why the folder should be scanned again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hint {
    /// Something in the folder changed: anything, so the whole folder is looked at.
    Changed,
    /// Every event of the burst named a program file of the folder (or the hidden temp file of
    /// an atomic write of one): these program names, whose files alone need looking at
    /// ([`Scanner::refresh`](super::Scanner::refresh)).
    Files(BTreeSet<String>),
    /// The periodic safety rescan.
    Safety,
}

impl Hint {
    /// What the rescan this hint asks for may reuse: a change in the folder shows in the
    /// identities of its files, so the files that kept theirs are not read again. The safety
    /// rescan reads every file: a lost event would show in the identities too, but a user
    /// created for a file's `user` field, or a write the identity cannot show
    /// (`store/scan.rs`), only in a new read.
    pub fn reuse(&self) -> Reuse {
        match self {
            Hint::Changed | Hint::Files(_) => Reuse::Unchanged,
            Hint::Safety => Reuse::Nothing,
        }
    }
}

/// What the watch asks inotify for: every change of the folder's content, and of the folder
/// itself; never an open, a read or a read-only close (the daemon's own scans make those).
pub const MASK: AddWatchFlags = AddWatchFlags::IN_CREATE
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MODIFY)
    .union(AddWatchFlags::IN_CLOSE_WRITE)
    .union(AddWatchFlags::IN_ATTRIB)
    .union(AddWatchFlags::IN_DELETE_SELF)
    .union(AddWatchFlags::IN_MOVE_SELF)
    .union(AddWatchFlags::IN_ONLYDIR)
    .union(AddWatchFlags::from_bits_retain(libc::IN_EXCL_UNLINK));

/// The inotify instance, as tokio's reactor wants it.
struct Queue(Inotify);

impl AsRawFd for Queue {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// The folder being watched: the watch, and the (device, inode) of the folder it is on.
#[derive(Debug, Clone, Copy)]
struct Watched {
    watch: WatchDescriptor,
    folder: (u64, u64),
}

/// A debounced stream of hints that programs.d may have changed.
pub struct FolderWatcher {
    dir: PathBuf,
    /// `None` when inotify could not be had at all: then only the safety rescans come.
    queue: Option<AsyncFd<Queue>>,
    watched: Option<Watched>,
    /// While the path has no folder to watch: when to try again, and the wait after that.
    retry: Option<(Instant, Duration)>,
    config: WatchConfig,
    next_safety: Instant,
    /// The burst in progress: when it began and when its last event came. Kept here, not in
    /// the future, so [`FolderWatcher::next`] is cancel-safe inside `select!`.
    burst: Option<(Instant, Instant)>,
    /// The program names the burst's events named; `None` once one named anything else (or
    /// nothing: the folder itself, an overflow), so the whole folder is looked at.
    names: Option<BTreeSet<String>>,
}

impl FolderWatcher {
    /// Watches `dir`; must be called inside a tokio runtime with IO enabled. When the watch
    /// cannot be set up, the error is returned beside a watcher that still does the safety
    /// rescans: with no inotify instance (its limits, a seccomp filter) that is all it does; with
    /// no folder (or one inotify refuses) it also tries again until the watch can be made.
    pub fn new(dir: &Path, config: WatchConfig) -> (FolderWatcher, Option<io::Error>) {
        let mut watcher = FolderWatcher {
            dir: dir.to_path_buf(),
            queue: None,
            watched: None,
            retry: None,
            config,
            next_safety: Instant::now() + config.safety,
            burst: None,
            names: Some(BTreeSet::new()),
        };
        let queue = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(io::Error::from)
            .and_then(|inotify| {
                // SAFETY: `Queue` owns the instance's descriptor (an `OwnedFd` inside `Inotify`)
                // and always returns that one; it stays open and unchanged until the AsyncFd is
                // dropped, since nothing takes the `Queue` out or replaces it (no `get_mut`).
                let registered =
                    unsafe { AsyncFd::register_with_interest(Queue(inotify), Interest::READABLE) };
                registered.map_err(|error| error.into_parts().1)
            });
        match queue {
            Ok(queue) => watcher.queue = Some(queue),
            Err(error) => return (watcher, Some(error)),
        }
        let error = watcher.ensure_watch().err();
        (watcher, error)
    }

    /// Waits for the next reason to rescan: a burst of events that has gone quiet (or gone on
    /// for `max_delay`), the watch made again on a folder that was missing, or the safety
    /// period. Cancel-safe: dropping the future loses no event.
    pub async fn next(&mut self) -> Hint {
        loop {
            let settle_at = self
                .burst
                .map(|(began, last)| (last + self.config.quiet).min(began + self.config.max_delay));
            let retry_at = self.retry.map(|(at, _)| at);
            tokio::select! {
                ready = readable(self.queue.as_ref()) => {
                    let watched = self.watched.map(|watched| watched.watch);
                    let taken = ready.and_then(|guard| take_events(guard, watched, &mut self.names));
                    let changed = match taken {
                        Ok(Taken { changed, lost }) => {
                            if lost {
                                self.watched = None;
                                self.names = None;
                            }
                            changed
                        }
                        Err(error) => {
                            // Not a state to spin in: from here on, the safety rescans only.
                            tracing::warn!(%error, "cannot read inotify events; changes are seen at the periodic rescan only");
                            self.queue = None;
                            self.watched = None;
                            self.names = None;
                            true
                        }
                    };
                    if changed {
                        let now = Instant::now();
                        self.burst = Some(match self.burst {
                            Some((began, _)) => (began, now),
                            None => (now, now),
                        });
                    }
                }
                () = sleep_until_some(settle_at) => {
                    self.burst = None;
                    let names = self.names.replace(BTreeSet::new());
                    let before = self.watched.map(|watched| watched.folder);
                    // A watch lost here schedules a retry; the rescan reports the folder.
                    let _ = self.ensure_watch();
                    let same_folder = before.is_some() && before == self.watched.map(|watched| watched.folder);
                    return match names {
                        Some(names) if same_folder && !names.is_empty() => Hint::Files(names),
                        _ => Hint::Changed,
                    };
                }
                () = sleep_until_some(retry_at) => {
                    if self.ensure_watch().is_ok() {
                        self.names = Some(BTreeSet::new());
                        return Hint::Changed;
                    }
                }
                () = sleep_until(self.next_safety) => {
                    let _ = self.ensure_watch();
                    return self.safety_hint();
                }
            }
        }
    }

    /// Takes the events queued right now, without waiting (the kernel queues an event during
    /// the system call that causes it, so this tells what a call just did).
    #[cfg(test)]
    pub(super) fn take_queued(&self) -> Vec<nix::sys::inotify::InotifyEvent> {
        let mut taken = Vec::new();
        if let Some(queue) = &self.queue {
            while let Ok(events) = queue.get_ref().0.read_events() {
                taken.extend(events);
            }
        }
        taken
    }

    fn safety_hint(&mut self) -> Hint {
        // The full rescan covers any burst in progress.
        self.burst = None;
        self.names = Some(BTreeSet::new());
        self.next_safety = Instant::now() + self.config.safety;
        Hint::Safety
    }

    /// Makes sure the watch is on the folder now at the path: moves it when the folder was
    /// replaced, makes it again when it was lost. Schedules a retry while that fails, clears it
    /// when it works.
    fn ensure_watch(&mut self) -> io::Result<()> {
        let Some(queue) = &self.queue else {
            return Ok(());
        };
        let inotify = &queue.get_ref().0;
        let folder = std::fs::metadata(&self.dir).map(|metadata| (metadata.dev(), metadata.ino()));
        let mut moved = false;
        if let Some(watched) = self.watched {
            if folder.as_ref().ok() == Some(&watched.folder) {
                return Ok(());
            }
            // Not the folder at the path any more. Its `IN_IGNORED` follows, and is not ours.
            let _ = inotify.rm_watch(watched.watch);
            self.watched = None;
            moved = true;
        }
        let result = folder.and_then(|folder| {
            let watch = inotify.add_watch(&self.dir, MASK)?;
            Ok(Watched { watch, folder })
        });
        match result {
            Ok(watched) => {
                if moved || self.retry.is_some() {
                    tracing::info!(folder = %self.dir.display(), "watching the programs folder now at the path");
                }
                self.watched = Some(watched);
                self.retry = None;
                Ok(())
            }
            Err(error) => {
                let wait = match self.retry {
                    Some((_, wait)) => wait,
                    None => self.config.quiet.max(Duration::from_millis(10)),
                };
                let next = (wait * 2).min(self.config.safety);
                self.retry = Some((Instant::now() + wait, next));
                Err(error)
            }
        }
    }
}

/// What one read of the queue said.
struct Taken {
    /// Some event says the folder may have changed.
    changed: bool,
    /// `watched` is gone (its folder was deleted, its filesystem unmounted).
    lost: bool,
}

/// Reads every queued event (the queue is readable). Never waits: `try_io` ends on an empty
/// queue and then clears the readiness.
fn take_events(
    mut guard: AsyncFdReadyGuard<'_, Queue>,
    watched: Option<WatchDescriptor>,
    names: &mut Option<BTreeSet<String>>,
) -> io::Result<Taken> {
    let mut taken = Taken {
        changed: false,
        lost: false,
    };
    loop {
        match guard.try_io(|queue| queue.get_ref().0.read_events().map_err(io::Error::from)) {
            Ok(Ok(events)) => {
                for event in events {
                    if !event.mask.contains(AddWatchFlags::IN_IGNORED) {
                        // Anything asked for, and `IN_Q_OVERFLOW` (which names no watch).
                        taken.changed = true;
                        let named = event
                            .name
                            .as_deref()
                            .and_then(|name| name.to_str())
                            .and_then(program_named);
                        match (named, names.as_mut()) {
                            (Some(name), Some(names)) => {
                                names.insert(name);
                            }
                            _ => *names = None,
                        }
                    } else if Some(event.wd) == watched {
                        taken.lost = true;
                        taken.changed = true;
                    }
                    // The `IN_IGNORED` of a watch that was moved off means nothing.
                }
            }
            Err(_would_block) => return Ok(taken),
            Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(error)) => return Err(error),
        }
    }
}

/// The program an event's file name is about: a program file (`web.toml`), or the hidden temp
/// file of an atomic write of one (`.web.toml.XXXXXX.tmp`, [`super::write_atomic`]). `None` for
/// any other name: a link such as a ConfigMap's `..data`, which changes what program files lead
/// to without naming them, an editor's test file, a folder. Then the whole folder is looked at.
pub fn program_named(file_name: &str) -> Option<String> {
    use crate::spec::name::{FileKind, classify};
    let file = match file_name
        .strip_prefix('.')
        .and_then(|rest| rest.strip_suffix(".tmp"))
    {
        // `.{file}.{random}.tmp`: the random part has no dot.
        Some(middle) => middle.rsplit_once('.').map(|(file, _)| file)?,
        None => file_name,
    };
    match classify(file) {
        FileKind::Program { name, .. } if !name.is_empty() && !name.contains('/') => Some(name),
        _ => None,
    }
}

async fn readable(queue: Option<&AsyncFd<Queue>>) -> io::Result<AsyncFdReadyGuard<'_, Queue>> {
    match queue {
        Some(queue) => queue.readable().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until_some(instant: Option<Instant>) {
    match instant {
        Some(instant) => sleep_until(instant).await,
        None => std::future::pending().await,
    }
}
