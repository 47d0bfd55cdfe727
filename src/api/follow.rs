//! Following logs (`?follow=true`): server-sent events of new lines, woken by inotify, with a
//! bound on what a follower may cost.
//!
//! - **Wake-ups.** One inotify instance for all followers (made with the first follower; an
//!   API that nobody follows has none), read on the API thread. It watches the folders of the
//!   followed files (`IN_MODIFY`, `IN_CREATE`, `IN_MOVED_TO`: appends and the new file of a
//!   rotation) and wakes the followers of the file an event names; a follower reads what is
//!   new when it is woken, and sleeps otherwise. No timer, no polling. (A folder that does not
//!   exist yet, such as the log folder before any program ran, is looked for again every
//!   second until it does.)
//! - **Memory.** A follower reads only when its connection has taken what it read before
//!   (the event stream is pulled by hyper as the socket drains), at most [`READ_CHUNK`] bytes
//!   at a time, and holds at most one partial line of [`MAX_LINE`](crate::supervisor::lines)
//!   bytes. A client that stops reading stops the reading: the rest waits in the file.
//! - **Dropping.** Waiting in the file is free, but not forever: a follower woken again
//!   without having read since its last wake is looked at, and once it is more than
//!   [`MAX_LAG`] bytes behind the file's end it is dropped: its files are closed at once (a
//!   rotated file it held is not kept alive on disk), and its stream ends with a last comment
//!   saying why (`: dropped: …`) when the connection takes it.
//! - **Rotation.** A follower reads the file it opened to its end, then moves to the new file
//!   at the path (a new inode, or the same file truncated), so no line is lost or doubled.

use std::collections::HashMap;
use std::convert::Infallible;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::Notify;

use crate::supervisor::lines::LineSplitter;
use crate::supervisor::logread::{self, LogLine, Source};
use crate::supervisor::stamp;

/// Bytes a follower reads at once.
pub const READ_CHUNK: usize = 4 * 1024;
/// How far behind a file's end a follower that does not read may fall before it is dropped.
pub const MAX_LAG: u64 = 4 << 20;
/// How much a followed file grows between two looks at how far a stalled follower is behind.
const LAG_CHECK_STEP: u64 = 256 << 10;
/// What the watched folders report.
const MASK: AddWatchFlags = AddWatchFlags::IN_MODIFY
    .union(AddWatchFlags::IN_CREATE)
    .union(AddWatchFlags::IN_MOVED_TO);
/// How often a follower looks again for a log folder that does not exist yet.
const MISSING_FOLDER_RETRY: Duration = Duration::from_secs(1);

/// How followed lines are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `event: stdout` (or `stderr`), `data:` the line as stored.
    Raw,
    /// `event: line`, `data: {"program","stream","line","time"}`.
    Json,
}

/// One file to follow, with whose and which stream it is.
#[derive(Debug, Clone)]
pub struct Target {
    pub program: String,
    pub stream: &'static str,
    pub path: PathBuf,
}

/// The followers' inotify instance and who follows what. Made with the first follower.
pub struct Hub {
    inotify: AsyncFd<Queue>,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// Watched folders: their watch, and the followers of each file name in them.
    folders: HashMap<PathBuf, Folder>,
    by_watch: HashMap<WatchDescriptor, PathBuf>,
}

struct Folder {
    watch: WatchDescriptor,
    files: HashMap<OsString, Vec<Weak<Subscription>>>,
}

struct Queue(Inotify);

impl AsRawFd for Queue {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

impl Hub {
    /// Makes the instance and starts reading it on the current (the API's) runtime.
    pub fn start() -> io::Result<Arc<Hub>> {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
        // SAFETY: `Queue` owns the instance's descriptor (an `OwnedFd` inside `Inotify`) and
        // always returns that one; it stays open and unchanged until the AsyncFd is dropped.
        let inotify =
            unsafe { AsyncFd::register_with_interest(Queue(inotify), Interest::READABLE) }
                .map_err(|error| error.into_parts().1)?;
        let hub = Arc::new(Hub {
            inotify,
            table: Mutex::new(Table::default()),
        });
        tokio::spawn(read_events(Arc::downgrade(&hub)));
        Ok(hub)
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Watches the folder of each of the subscription's files; `false` when a folder could
    /// not be watched (it does not exist yet).
    fn subscribe(&self, subscription: &Arc<Subscription>, paths: &[PathBuf]) -> bool {
        let mut table = self.table();
        let mut all = true;
        for path in paths {
            let (Some(folder), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            let folder = if folder.as_os_str().is_empty() {
                Path::new(".")
            } else {
                folder
            };
            if !table.folders.contains_key(folder) {
                match self.inotify.get_ref().0.add_watch(folder, MASK) {
                    Ok(watch) => {
                        table.by_watch.insert(watch, folder.to_path_buf());
                        table.folders.insert(
                            folder.to_path_buf(),
                            Folder {
                                watch,
                                files: HashMap::new(),
                            },
                        );
                    }
                    Err(_) => {
                        all = false;
                        continue;
                    }
                }
            }
            if let Some(entry) = table.folders.get_mut(folder) {
                let followers = entry.files.entry(name.to_os_string()).or_default();
                if !followers
                    .iter()
                    .any(|known| std::ptr::eq(known.as_ptr(), Arc::as_ptr(subscription)))
                {
                    followers.push(Arc::downgrade(subscription));
                }
            }
        }
        all
    }

    /// Wakes the followers of `name` in the folder of `watch`, and forgets the ones that are
    /// gone (their folders' watches too, once nobody follows anything there).
    fn wake(&self, watch: WatchDescriptor, name: Option<&OsString>) {
        let mut woken: Vec<(Arc<Subscription>, PathBuf)> = Vec::new();
        {
            let mut table = self.table();
            let Some(folder_path) = table.by_watch.get(&watch).cloned() else {
                return;
            };
            let Some(folder) = table.folders.get_mut(&folder_path) else {
                return;
            };
            if let Some(name) = name
                && let Some(followers) = folder.files.get_mut(name)
            {
                followers.retain(|follower| match follower.upgrade() {
                    Some(live) if !live.is_dropped() => {
                        woken.push((live, folder_path.join(name)));
                        true
                    }
                    _ => false,
                });
                if followers.is_empty() {
                    folder.files.remove(name);
                }
            }
            if folder.files.is_empty() {
                let watch = folder.watch;
                table.folders.remove(&folder_path);
                table.by_watch.remove(&watch);
                let _ = self.inotify.get_ref().0.rm_watch(watch);
            }
        }
        if let Some((_, path)) = woken.first() {
            // One look at the file for all its followers.
            let now = std::fs::metadata(path).ok();
            for (subscription, path) in &woken {
                subscription.wake(path, now.as_ref());
            }
        }
    }
}

/// Reads the hub's events for as long as the hub lives.
async fn read_events(hub: Weak<Hub>) {
    loop {
        let Some(live) = hub.upgrade() else {
            return;
        };
        let events = {
            let mut guard = match live.inotify.readable().await {
                Ok(guard) => guard,
                Err(error) => {
                    tracing::warn!(%error, "the log followers' inotify instance failed");
                    return;
                }
            };
            match guard.try_io(|queue| queue.get_ref().0.read_events().map_err(io::Error::from)) {
                Ok(Ok(events)) => events,
                Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "cannot read the log followers' inotify instance");
                    return;
                }
                Err(_would_block) => continue,
            }
        };
        for event in events {
            live.wake(event.wd, event.name.as_ref());
        }
        drop(live);
        // Let the woken followers (and every other request) run before the next batch: under
        // load, the kernel merges the events that pile up meanwhile.
        tokio::task::yield_now().await;
    }
}

/// One follower as the hub sees it: its files, and how to wake it.
struct Subscription {
    state: Mutex<Following>,
    notify: Notify,
}

struct Following {
    files: Vec<FollowedFile>,
    /// Events read and not yet sent, as the bytes of the stream (at most one read's worth
    /// of each file).
    queue: Vec<u8>,
    format: Format,
    /// Woken since it last read: a second wake without a read looks at how far behind it is.
    woken_unread: bool,
    /// The file's inode and size when it was last looked at that way.
    checked_inode: u64,
    checked_size: u64,
    /// Why it was dropped.
    dropped: Option<String>,
}

struct FollowedFile {
    target: Target,
    file: Option<File>,
    inode: u64,
    position: u64,
    lines: LineSplitter,
}

impl Subscription {
    fn lock(&self) -> MutexGuard<'_, Following> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_dropped(&self) -> bool {
        self.lock().dropped.is_some()
    }

    /// A followed file changed. A follower that has read since its last wake is woken to read
    /// again; one that has not (its connection is not taking events) is not woken again, only
    /// looked at: once it is more than [`MAX_LAG`] behind, it is dropped.
    fn wake(&self, path: &Path, now: Option<&std::fs::Metadata>) {
        let mut state = self.lock();
        if state.dropped.is_some() {
            return;
        }
        if !state.woken_unread {
            state.woken_unread = true;
            drop(state);
            self.notify.notify_one();
            return;
        }
        let Some(now) = now else {
            return;
        };
        // Looking costs a little; do it once per LAG_CHECK_STEP of growth.
        if now.ino() == state.checked_inode && now.len() < state.checked_size + LAG_CHECK_STEP {
            return;
        }
        state.checked_inode = now.ino();
        state.checked_size = now.len();
        let behind = state.behind(path, now);
        if behind > MAX_LAG {
            state.dropped = Some(format!(
                "dropped: this client did not read its events and fell {behind} bytes behind {} (the limit is {MAX_LAG})",
                path.display()
            ));
            // Close the files now (a rotated file must not be kept alive for it) and let go
            // of what it had read.
            state.files.clear();
            state.queue = Vec::new();
            drop(state);
            // Its stream ends with the reason, if its connection ever takes it.
            self.notify.notify_one();
        }
    }
}

impl Following {
    /// Bytes between this follower's position in `path` and the end of the file there now.
    fn behind(&self, path: &Path, now: &std::fs::Metadata) -> u64 {
        self.files
            .iter()
            .filter(|followed| followed.target.path == path)
            .map(|followed| {
                if followed.inode == now.ino() && now.len() >= followed.position {
                    return now.len() - followed.position;
                }
                // Still on the file before a rotation: the rest of it, and all of the new one.
                let rest = followed
                    .file
                    .as_ref()
                    .and_then(|file| file.metadata().ok())
                    .map_or(0, |old| old.len().saturating_sub(followed.position));
                rest + now.len()
            })
            .max()
            .unwrap_or(0)
    }

    /// Reads at most [`READ_CHUNK`] new bytes of each file; complete lines go to the queue.
    /// Returns whether more may be waiting.
    fn read(&mut self) -> bool {
        let mut more = false;
        for followed in &mut self.files {
            more |= followed.read(&mut self.queue, self.format);
        }
        more
    }
}

impl FollowedFile {
    fn open(target: Target) -> FollowedFile {
        let file = File::open(&target.path).ok();
        let (inode, position) = file
            .as_ref()
            .and_then(|file| file.metadata().ok())
            .map_or((0, 0), |metadata| (metadata.ino(), metadata.len()));
        FollowedFile {
            target,
            file,
            inode,
            position,
            lines: LineSplitter::default(),
        }
    }

    fn read(&mut self, out: &mut Vec<u8>, format: Format) -> bool {
        let Ok(metadata) = std::fs::metadata(&self.target.path) else {
            // Gone (between a rotation's rename and its new file): what we hold is still read.
            return self.read_available(out, format);
        };
        let replaced =
            self.file.is_none() || metadata.ino() != self.inode || metadata.len() < self.position;
        if !replaced {
            return self.read_available(out, format);
        }
        // Finish the file we have, then start the new one from its beginning.
        if self.read_available(out, format) {
            return true;
        }
        self.file = File::open(&self.target.path).ok();
        self.inode = metadata.ino();
        self.position = 0;
        self.read_available(out, format)
    }

    /// One read of at most [`READ_CHUNK`] bytes; returns whether the chunk was full.
    fn read_available(&mut self, out: &mut Vec<u8>, format: Format) -> bool {
        let Some(file) = &mut self.file else {
            return false;
        };
        let mut chunk = [0u8; READ_CHUNK];
        if file.seek(SeekFrom::Start(self.position)).is_err() {
            return false;
        }
        let count = loop {
            match file.read(&mut chunk) {
                Ok(count) => break count,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        };
        self.position += count as u64;
        let target = &self.target;
        self.lines.push(&chunk[..count], |line| {
            event(out, format, &target.program, target.stream, line);
        });
        count == READ_CHUNK
    }
}

/// The event stream of a follower: first the last `lines` lines of `targets` together (as
/// they were when the follower opened them: nothing written meanwhile is missed or sent
/// twice), then every new line. With [`Format::Raw`] the first lines are given as the plain
/// read gives them (the last `lines` of stdout, then of stderr); with [`Format::Json`], the
/// last `lines` of all merged in time order.
pub async fn respond(
    hub: Arc<Hub>,
    targets: Vec<Target>,
    lines: usize,
    format: Format,
) -> Response {
    let files: Vec<FollowedFile> = targets.into_iter().map(FollowedFile::open).collect();
    let starts: Vec<(Source, Option<(File, u64)>)> = files
        .iter()
        .map(|followed| {
            let source = Source {
                program: followed.target.program.clone(),
                stream: followed.target.stream,
                path: followed.target.path.clone(),
            };
            let start = followed
                .file
                .as_ref()
                .and_then(|file| file.try_clone().ok())
                .map(|file| (file, followed.position));
            (source, start)
        })
        .collect();
    let read = tokio::task::spawn_blocking(move || {
        let logs: Vec<Vec<LogLine>> = starts
            .iter()
            .map(|(source, start)| match start {
                Some((file, end)) => {
                    logread::last_lines_before(source, file, *end, lines).unwrap_or_default()
                }
                None => Vec::new(),
            })
            .collect();
        match format {
            // As the plain read orders them: stdout's lines, then stderr's.
            Format::Raw => {
                let mut all: Vec<LogLine> = logs.into_iter().flatten().collect();
                all.sort_by_key(|line| line.stream != "stdout");
                all
            }
            Format::Json => logread::merge_last(logs, lines),
        }
    })
    .await;
    let initial = read.unwrap_or_default();
    let paths: Vec<PathBuf> = files.iter().map(|file| file.target.path.clone()).collect();
    let mut queue = Vec::new();
    for line in initial {
        initial_event(&mut queue, format, line);
    }
    let subscription = Arc::new(Subscription {
        state: Mutex::new(Following {
            files,
            queue,
            format,
            woken_unread: false,
            checked_inode: 0,
            checked_size: 0,
            dropped: None,
        }),
        notify: Notify::new(),
    });
    let watching = hub.subscribe(&subscription, &paths);
    let follower = Follower {
        hub,
        subscription,
        paths,
        watching,
        ended: false,
        frames: 0,
    };
    let stream = futures_util::stream::unfold(follower, |mut follower| async move {
        let frame = follower.next().await?;
        Some((Ok::<Bytes, Infallible>(frame), follower))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    response
}

/// The most bytes of events in one frame of the response body (but for one longer event).
/// Small, so the frames hyper
/// holds for a connection that does not take them (up to 16) stay small too: they are most
/// of what an idle follower costs, with hyper's own 16 KiB of buffers per connection.
const FRAME: usize = 256;
/// A comment is sent after this long without events, so proxies keep the connection.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

struct Follower {
    hub: Arc<Hub>,
    subscription: Arc<Subscription>,
    paths: Vec<PathBuf>,
    /// Every folder is watched.
    watching: bool,
    ended: bool,
    /// Frames sent, for [`YIELD_EVERY`].
    frames: u64,
}

/// A follower yields to the other tasks after this many frames.
const YIELD_EVERY: u64 = 32;

impl Follower {
    /// The next frame of the stream: events (up to [`FRAME`] bytes), a keep-alive comment,
    /// or the last comment of a dropped follower.
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if self.ended {
                return None;
            }
            let (frame, more) = {
                let mut state = self.subscription.lock();
                if let Some(reason) = state.dropped.take() {
                    self.ended = true;
                    return Some(Bytes::from(format!(": {reason}\n\n")));
                }
                let mut more = true;
                if state.queue.is_empty() {
                    state.woken_unread = false;
                    more = state.read();
                }
                let take = frame_length(&state.queue);
                let frame: Vec<u8> = state.queue.drain(..take).collect();
                if state.queue.is_empty() && state.queue.capacity() > READ_CHUNK * 2 {
                    state.queue = Vec::new();
                }
                (frame, more)
            };
            if !frame.is_empty() {
                // A connection whose socket keeps taking events yields to the others (and to
                // every other request) every few frames: hundreds of followers catching up
                // at once take turns of 16 KiB, and a GET /status waits for a few turns, not
                // for all of them to fill their sockets.
                self.frames += 1;
                if self.frames.is_multiple_of(YIELD_EVERY) {
                    tokio::task::yield_now().await;
                }
                return Some(Bytes::from(frame));
            }
            if more {
                continue;
            }
            if !self.watching {
                // A folder that does not exist yet: look again in a while.
                tokio::time::sleep(MISSING_FOLDER_RETRY).await;
                self.watching = self.hub.subscribe(&self.subscription, &self.paths);
                continue;
            }
            let woken = tokio::time::timeout(KEEP_ALIVE, self.subscription.notify.notified()).await;
            if woken.is_err() {
                return Some(Bytes::from_static(b":\n\n"));
            }
        }
    }
}

/// How much of the queued events the next frame takes: whole events (each ends with a blank
/// line), as many as fit in [`FRAME`] bytes, and at least one. A frame never cuts an event, so
/// each HTTP chunk holds whole events (clients that read the stream without undoing the
/// chunked encoding still see every event).
fn frame_length(queue: &[u8]) -> usize {
    let head = &queue[..queue.len().min(FRAME)];
    if let Some(end) = memchr::memmem::rfind(head, b"\n\n") {
        return end + 2;
    }
    memchr::memmem::find(queue, b"\n\n").map_or(queue.len(), |end| end + 2)
}

/// Appends the event of one stored line (without its newline): `event: NAME` and `data:`
/// the line. The one place per-line work happens for a follower: a copy, and for JSON an
/// escape. Lines carry no newline; a carriage return is sent as a space (it would end the
/// SSE line).
fn event(out: &mut Vec<u8>, format: Format, program: &str, stream: &'static str, stored: &[u8]) {
    match format {
        Format::Raw => {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(stream.as_bytes());
            out.extend_from_slice(b"\ndata: ");
            let start = out.len();
            out.extend_from_slice(String::from_utf8_lossy(stored).as_bytes());
            for byte in &mut out[start..] {
                if *byte == b'\r' {
                    *byte = b' ';
                }
            }
            out.extend_from_slice(b"\n\n");
        }
        Format::Json => {
            let (time, line) = match stamp::split(stored) {
                Some((millis, line)) => (Some(millis), line),
                None => (None, stored),
            };
            out.extend_from_slice(b"event: line\ndata: ");
            json_line(out, program, stream, &String::from_utf8_lossy(line), time);
            out.extend_from_slice(b"\n\n");
        }
    }
}

fn initial_event(out: &mut Vec<u8>, format: Format, line: LogLine) {
    let stored = match &line.time {
        Some(time) => format!("{time} {}", line.line),
        None => line.line,
    };
    event(out, format, &line.program, line.stream, stored.as_bytes());
}

/// `{"program":…,"stream":…,"line":…,"time":…}`, as `data.lines` has them.
fn json_line(out: &mut Vec<u8>, program: &str, stream: &str, line: &str, millis: Option<i64>) {
    // serde_json escapes; writing a `&str` to a Vec through it cannot fail.
    out.extend_from_slice(b"{\"program\":");
    let _ = serde_json::to_writer(&mut *out, program);
    out.extend_from_slice(b",\"stream\":");
    let _ = serde_json::to_writer(&mut *out, stream);
    out.extend_from_slice(b",\"line\":");
    let _ = serde_json::to_writer(&mut *out, line);
    out.extend_from_slice(b",\"time\":");
    match millis {
        Some(millis) => {
            out.push(b'"');
            out.extend_from_slice(&stamp::prefix(millis)[..stamp::STAMP_LEN]);
            out.push(b'"');
        }
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_hold_whole_events() {
        let event = b"event: stdout\ndata: 0123456789\n\n";
        let many: Vec<u8> = event.repeat(20);
        assert_eq!(frame_length(&many), event.len() * (FRAME / event.len()));
        assert_eq!(frame_length(event), event.len());
        let long = [
            b"event: stdout\ndata: ".as_slice(),
            &[b'x'; 600],
            b"\n\n",
            event,
        ]
        .concat();
        assert_eq!(frame_length(&long), 20 + 600 + 2);
        assert_eq!(frame_length(b""), 0);
    }

    #[test]
    fn events_as_sent() {
        let cases: &[(Format, &[u8], &str)] = &[
            (Format::Raw, b"hello", "event: stdout\ndata: hello\n\n"),
            (Format::Raw, b"a\rb", "event: stdout\ndata: a b\n\n"),
            (
                Format::Json,
                b"2026-12-01T08:00:00.123Z hi \"x\"",
                "event: line\ndata: {\"program\":\"web\",\"stream\":\"stdout\",\"line\":\"hi \\\"x\\\"\",\"time\":\"2026-12-01T08:00:00.123Z\"}\n\n",
            ),
            (
                Format::Json,
                b"plain",
                "event: line\ndata: {\"program\":\"web\",\"stream\":\"stdout\",\"line\":\"plain\",\"time\":null}\n\n",
            ),
        ];
        for (format, stored, expected) in cases {
            let mut out = Vec::new();
            event(&mut out, *format, "web", "stdout", stored);
            assert_eq!(String::from_utf8_lossy(&out), *expected);
        }
    }
}
