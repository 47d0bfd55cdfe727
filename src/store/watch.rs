//! Watching programs.d. Events from notify are only hints (editors rename, ConfigMaps swap links,
//! `git pull` rewrites many files): a burst of hints becomes one "look again", after a short
//! quiet time, and the caller rescans the whole folder. A slow periodic rescan is the safety net
//! for what inotify cannot see (a symlink's target edited in another folder, a lost event).

use std::path::Path;
use std::time::Duration;

use notify::Watcher as _;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Something in the folder changed.
    Changed,
    /// The periodic safety rescan.
    Safety,
}

/// A debounced stream of hints that programs.d may have changed.
pub struct FolderWatcher {
    // Kept alive for as long as the hints are wanted; dropping it stops the watch.
    _watcher: Option<notify::RecommendedWatcher>,
    raw: mpsc::Receiver<()>,
    config: WatchConfig,
    next_safety: Instant,
    /// The burst in progress: when it began and when its last event came. Kept here, not in
    /// the future, so [`FolderWatcher::next`] is cancel-safe inside `select!`.
    burst: Option<(Instant, Instant)>,
    /// The OS watcher's channel closed.
    closed: bool,
}

impl FolderWatcher {
    /// Watches `dir`. When the OS watch cannot be set up (inotify limits, an exotic filesystem),
    /// the error is returned beside a watcher that still does the safety rescans.
    pub fn new(dir: &Path, config: WatchConfig) -> (FolderWatcher, Option<notify::Error>) {
        let (sender, raw) = mpsc::channel(1);
        let setup = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            // Only a hint: a full channel already holds one, and an error means "look again".
            // Reads are not changes, and the daemon's own scans read every file: counting them
            // would make each scan trigger the next.
            if event.is_ok_and(|event| is_read_only(&event.kind)) {
                return;
            }
            let _ = sender.try_send(());
        })
        .and_then(|mut watcher| {
            watcher.watch(dir, notify::RecursiveMode::NonRecursive)?;
            Ok(watcher)
        });
        let (watcher, error) = match setup {
            Ok(watcher) => (Some(watcher), None),
            Err(error) => (None, Some(error)),
        };
        let watcher = FolderWatcher {
            _watcher: watcher,
            raw,
            config,
            next_safety: Instant::now() + config.safety,
            burst: None,
            closed: false,
        };
        (watcher, error)
    }

    /// Waits for the next reason to rescan: a burst of events that has gone quiet (or gone on
    /// for `max_delay`), or the safety period. Cancel-safe: dropping the future loses no event.
    pub async fn next(&mut self) -> Hint {
        loop {
            let settle_at = self
                .burst
                .map(|(began, last)| (last + self.config.quiet).min(began + self.config.max_delay));
            tokio::select! {
                received = self.raw.recv(), if !self.closed => {
                    if received.is_none() {
                        self.closed = true;
                        continue;
                    }
                    let now = Instant::now();
                    self.burst = Some(match self.burst {
                        Some((began, _)) => (began, now),
                        None => (now, now),
                    });
                }
                () = sleep_until_some(settle_at) => {
                    self.burst = None;
                    return Hint::Changed;
                }
                () = sleep_until(self.next_safety) => return self.safety_hint(),
            }
        }
    }

    fn safety_hint(&mut self) -> Hint {
        // The full rescan covers any burst in progress.
        self.burst = None;
        self.next_safety = Instant::now() + self.config.safety;
        Hint::Safety
    }
}

/// Events that only say a file was opened, read or closed without writing.
fn is_read_only(kind: &notify::EventKind) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    matches!(kind, EventKind::Access(access) if !matches!(access, AccessKind::Close(AccessMode::Write)))
}

async fn sleep_until_some(instant: Option<Instant>) {
    match instant {
        Some(instant) => sleep_until(instant).await,
        None => std::future::pending().await,
    }
}
