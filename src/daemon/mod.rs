//! The daemon: one loop that owns all mutable state — the program table, the supervisor's jobs,
//! the boot waves, the intents — and consumes one stream of events: programs.d changed, a child
//! exited, a deadline came, a request arrived, a signal. After each event that can change
//! something (every event but a read-only request) it reconciles (the pure
//! [`crate::reconcile`]) and applies the plan through the supervisor. Readers never share its
//! state; they ask through [`Handle`] and get plain data back.
//!
//! This file holds the loop itself: starting (the state folder, the leftovers of a crashed run),
//! the event loop, and the dispatch of requests. Each kind of work has a room of its own:
//!
//! - `converge`: programs.d into the program table, the plan into the supervisor, what each
//!   change publishes, what the state folder records after each event;
//! - `writes`: create, edit, put, remove, enable, disable (files in programs.d);
//! - `control`: start, stop, restart (run intents) and the replies that wait for a state;
//! - `reads`: the read-only answers (list, one program, statuses, history, log paths);
//! - `shutdown`: the reverse boot waves and the loop's end;
//! - `health`: health checks, readiness, dependencies pulled in and holds, `health` events,
//!   `GET /ready` (SPEC §12);
//! - `programs` (the table), `persist` (the state folder), `quick` (quick-start programs),
//!   `views` (the JSON of the big reads), `request` (requests and answers as plain data).

mod control;
mod converge;
mod events;
mod health;
pub mod lock;
mod persist;
mod programs;
mod quick;
mod reads;
pub mod request;
mod resources;
mod shutdown;
mod views;
mod writes;

use std::collections::BTreeMap;
use std::io;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Serialize;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::reconcile::{BootWaves, Phase};
use crate::spec::{ProgramSpec, ProtectedFolders};
use crate::store::{FolderWatcher, Ids, Reuse, Scanner, WatchConfig};
use crate::supervisor::cgroup::Cgroups;
use crate::supervisor::marks::Marks;
use crate::supervisor::{Leftovers, ProcessState, Supervisor, SupervisorConfig};

use control::{Until, Waiter};
pub use events::{Published, Since};
pub use lock::Locks;
use persist::{Intents, Running, StateFiles};
use programs::ProgramTable;
pub use programs::{Change, ChangeKind, Source};
pub use request::{
    Answer, Data, Envelope, Failure, FailureKind, ProcessInfo, ProcessesAnswer, REDACTED, Reply,
    Request, View,
};

/// Where the daemon keeps things.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub programs_dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub watch: WatchConfig,
    /// Give each program a cgroup where one can be made (`serve --no-cgroups` turns it off,
    /// to use the fallback of marks: docs/RELIABILITY.md).
    pub cgroups: bool,
    /// Timestamps, console copy and budget of logs (SPEC §13).
    pub logs: crate::supervisor::LogSettings,
    /// Other exporters' names on `GET /metrics` (`serve --metrics-compat`).
    pub metrics_compat: crate::metrics::Compat,
}

impl DaemonConfig {
    /// The defaults of SPEC §8: state and logs beside programs.d, not inside it
    /// (`<parent>/.hoody-daemon/state` and `…/logs`).
    pub fn beside(programs_dir: &Path) -> DaemonConfig {
        let parent = match programs_dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let home = parent.join(".hoody-daemon");
        DaemonConfig {
            programs_dir: programs_dir.to_path_buf(),
            state_dir: home.join("state"),
            log_dir: home.join("logs"),
            watch: WatchConfig::default(),
            cgroups: true,
            logs: crate::supervisor::LogSettings::default(),
            metrics_compat: crate::metrics::Compat::None,
        }
    }

    /// The folders no log path may point into: programs.d and the state folder, as given and
    /// as they resolve (a symlinked programs.d is protected under both names).
    pub fn protected_folders(&self) -> ProtectedFolders {
        let mut protected = ProtectedFolders::default();
        for (folder, what) in [
            (&self.programs_dir, "the programs folder"),
            (&self.state_dir, "the state folder"),
        ] {
            protected = protected.protect(folder, what);
            if let Ok(resolved) = std::fs::canonicalize(folder) {
                protected = protected.protect(&resolved, what);
            }
        }
        protected
    }
}

/// One event of the event stream (`GET /events`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Event {
    /// A program's file changed.
    Config {
        id: u64,
        name: String,
        change: ChangeKind,
        source: Source,
        generation: u64,
        problems: Vec<String>,
    },
    /// A job changed state.
    State {
        id: Option<u64>,
        name: String,
        from: ProcessState,
        to: ProcessState,
        reason: String,
        time: f64,
    },
    /// A program's health or readiness changed, or what it waits for (SPEC §12).
    Health {
        id: u64,
        name: String,
        /// `starting`, `healthy`, `unhealthy`; null without a health check (or a process).
        health: Option<crate::health::Health>,
        ready: bool,
        /// The dependencies (or the boot wave) it is held back by.
        waiting_for: Vec<String>,
        reason: String,
        time: f64,
    },
}

/// How to reach a running daemon's loop.
#[derive(Clone)]
pub struct Handle {
    requests: mpsc::Sender<Envelope>,
    events: broadcast::Sender<Arc<Published>>,
}

impl Handle {
    /// Sends a request and waits for the answer.
    pub async fn ask(&self, request: Request) -> Reply {
        self.ask_as(request, None).await
    }

    /// Sends a request made by `author` (a token's name, `uid N`: who the audit trail names
    /// for the changes it makes) and waits for the answer.
    pub async fn ask_as(&self, request: Request, author: Option<Arc<str>>) -> Reply {
        let (reply, answer) = oneshot::channel();
        let unavailable = || {
            Failure::new(
                FailureKind::Unavailable,
                "shutting_down",
                "the daemon is shutting down",
            )
        };
        self.requests
            .send(Envelope {
                request,
                author,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }

    /// The live events from now on. To resume after an id, subscribe first, then ask for
    /// [`Request::EventsSince`] (`events` module).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Published>> {
        self.events.subscribe()
    }
}

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Every program was stopped in reverse priority order.
    Graceful,
    /// A second signal (or a forced shutdown request) killed what was left.
    Forced,
}

/// Opens the state folder (whose lock, and programs.d's, the caller holds), looks for what a
/// crashed run left behind (ended in the background: the daemon serves meanwhile), makes the
/// cgroup tree, and returns the daemon ready to [`Daemon::run`], with the handle to talk to it.
pub async fn start(config: DaemonConfig, locks: Locks) -> io::Result<(Daemon, Handle)> {
    // Not world-writable (SPEC §10): 0750; a folder that exists keeps its mode.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&config.log_dir)
        .map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot create the log folder {}: {error}",
                    config.log_dir.display()
                ),
            )
        })?;
    let mut state = StateFiles::open(&config.state_dir);
    // Temp files of writes a crash interrupted (the daemon's own pattern only; the locks are
    // held, so no write of this daemon's is in flight).
    for folder in [&config.programs_dir, &config.state_dir] {
        for path in crate::store::remove_stale_temps(folder) {
            tracing::info!(path = %path.display(), "removed the temp file of an interrupted write");
        }
    }
    let running = state.load_running()?;
    let marks = Marks::new(&config.state_dir);
    let previous_tree = Cgroups::recorded(&config.state_dir);
    let cgroups = if config.cgroups {
        match Cgroups::create(&config.state_dir) {
            Ok(cgroups) => {
                tracing::info!(cgroup = %cgroups.path().display(), "each program runs in a cgroup of its own");
                Some(cgroups)
            }
            Err(error) => {
                tracing::warn!(%error, "cannot make cgroups; programs are followed by the marks in their environment (docs/RELIABILITY.md)");
                None
            }
        }
    } else {
        tracing::info!(
            "cgroups off (--no-cgroups): programs are followed by the marks in their environment"
        );
        None
    };
    let leftovers = Leftovers::find(
        &persist::recorded(&running),
        previous_tree,
        cgroups.as_ref(),
        &marks,
        Instant::now(),
    );
    if !leftovers.is_empty() {
        tracing::warn!(programs = ?leftovers.names().collect::<Vec<_>>(), "the last run left processes; they are being stopped, and these programs start once they are gone");
    }
    // The records of what is still pending stay in running.json until it is gone, so a crash
    // meanwhile finds it again with its stop settings.
    let leftover_records: Running = running
        .into_iter()
        .filter(|(name, _)| leftovers.holds(name))
        .collect();
    let saved_intents = state.load_intents()?;
    let generations = state.load_generations()?;
    let ids = Ids::load(&config.state_dir)?;
    let mut quick = quick::QuickStarts::open(&config.state_dir, &config.log_dir)?;
    if let Err(error) = crate::supervisor::become_subreaper() {
        tracing::warn!(%error, "cannot become a child subreaper; orphaned grandchildren go to init");
    }
    let (requests, inbox) = mpsc::channel(256);
    let (events, _) = broadcast::channel(1024);
    // Notify sockets of a crashed run on this state folder (we hold its lock now).
    let notify_dir = crate::health::notify::NotifyDir::location(&config.state_dir);
    if let Err(error) = crate::health::notify::NotifyDir::remove_leftover(&notify_dir) {
        tracing::warn!(path = %notify_dir.display(), %error, "cannot remove the notify folder of the last run");
    }
    let health = health::HealthState::new();
    let supervisor = Supervisor::new(SupervisorConfig {
        log_dir: config.log_dir.clone(),
        marks: Some(marks),
        cgroups,
        logs: crate::supervisor::LogOptions::start(&config.logs)?,
        health: Some(health.sender.clone()),
        notify_dir: Some(notify_dir),
    });
    quick.skip_past(leftovers.names());
    let git_work_tree = git_work_tree(&config.programs_dir);
    let scanner = Scanner::protecting(config.protected_folders());
    let daemon = Daemon {
        git_work_tree,
        config,
        _locks: locks,
        state,
        ids,
        scanner,
        table: ProgramTable::default(),
        saved_intents,
        intent_changes: std::collections::BTreeSet::new(),
        state_failing: false,
        generations,
        generation_changes: std::collections::BTreeSet::new(),
        table_changed: false,
        changed_programs: std::collections::BTreeSet::new(),
        dirty: std::collections::BTreeSet::new(),
        dirty_all: true,
        running_dirty: true,
        running_changes: std::collections::BTreeSet::new(),
        recorded_running: Running::new(),
        leftovers,
        leftover_records,
        jobs: BTreeMap::new(),
        supervisor,
        boot: BootWaves::Done,
        boot_wake: None,
        api_sources: BTreeMap::new(),
        author: None,
        waiters: Vec::new(),
        events: events.clone(),
        ring: events::Ring::unheard(events::base_id(), events::RING_CAPACITY),
        resources: resources::Resources::new(),
        inbox,
        shutdown: None,
        quick,
        health,
    };
    Ok((daemon, Handle { requests, events }))
}

/// What the daemon knows of a job beyond the supervisor's status.
#[derive(Debug, Clone)]
struct JobMeta {
    spec: Arc<ProgramSpec>,
    generation: u64,
    start_epoch: u64,
    restart_epoch: u64,
}

struct Shutdown {
    force: bool,
    replies: Vec<oneshot::Sender<Reply>>,
}

pub struct Daemon {
    config: DaemonConfig,
    /// Held for the daemon's life: one daemon per state folder and per programs.d.
    _locks: Locks,
    /// The git work tree programs.d is in, if any (looked up once, at start): enable and
    /// disable, which write the file, then say that `start`/`stop` change no file.
    git_work_tree: Option<PathBuf>,
    state: StateFiles,
    ids: Ids,
    /// Reads programs.d, keeping what it read for the files that do not change.
    scanner: Scanner,
    table: ProgramTable,
    /// Intents from the last run; `None` with a fresh state folder.
    saved_intents: Option<Intents>,
    /// The programs whose run intent may have changed since `intents.json` was saved.
    intent_changes: std::collections::BTreeSet<String>,
    /// Saving intents or ids failed after the last event (said once, not after every event).
    state_failing: bool,
    /// The last generation of every name ever seen, as `generations.json` keeps it.
    generations: persist::Generations,
    /// The programs whose generation changed since `generations.json` was saved.
    generation_changes: std::collections::BTreeSet<String>,
    /// The table changed since the last converge (observed generations to bring along).
    table_changed: bool,
    /// The programs whose file changed since the last converge.
    changed_programs: std::collections::BTreeSet<String>,
    /// The programs an event named since the last converge (their file, their process, an
    /// operator's intent): what the next converge reconciles, when it need not do them all.
    dirty: std::collections::BTreeSet<String>,
    /// The next converge looks at every program (`converge::converge`).
    dirty_all: bool,
    /// Compare every job with `running.json` after this event (the first one, a whole
    /// converge, quick-starts); else only the jobs in `running_changes`.
    running_dirty: bool,
    /// The jobs whose process or spec changed since `running.json` was compared.
    running_changes: std::collections::BTreeSet<String>,
    recorded_running: Running,
    /// What the last run left, being ended; the programs it holds back start when it is gone.
    leftovers: Leftovers,
    /// Their records from running.json, kept there until they are gone.
    leftover_records: Running,
    jobs: BTreeMap<String, JobMeta>,
    supervisor: Supervisor,
    boot: BootWaves,
    boot_wake: Option<Instant>,
    /// Programs whose next file change was made by the API, with who made it.
    api_sources: BTreeMap<String, Option<Arc<str>>>,
    /// Who made the request being handled (set around `handle`).
    author: Option<Arc<str>>,
    waiters: Vec<Waiter>,
    events: broadcast::Sender<Arc<Published>>,
    /// The last events with their ids, for clients that reconnect (`events`).
    ring: events::Ring,
    /// Units of /proc and the `cpu_percent` readings (`resources`).
    resources: resources::Resources,
    inbox: mpsc::Receiver<Envelope>,
    shutdown: Option<Shutdown>,
    quick: quick::QuickStarts,
    /// Trackers of health and readiness, holds, the health tasks' inbox (SPEC §12).
    health: health::HealthState,
}

/// About how many bytes of JSON one program's status takes (410 with a short name, no config
/// error and no health check), and one program with its fields, file text and status: the
/// first size of the buffers the big reads are written into.
const STATUS_SIZE: usize = 450;
const PROGRAM_SIZE: usize = 1024;

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or(0.0)
}

fn phase_of(state: ProcessState) -> Phase {
    match state {
        ProcessState::Starting | ProcessState::Backoff => Phase::Starting,
        ProcessState::Running => Phase::Running,
        ProcessState::Stopping => Phase::Stopping,
        ProcessState::Stopped => Phase::Stopped,
        ProcessState::Exited | ProcessState::Fatal => Phase::Ended,
    }
}

impl Daemon {
    /// Runs until shutdown: first a full scan of programs.d (nothing is reconciled before it),
    /// then boot waves, then events.
    pub async fn run(mut self) -> io::Result<Ending> {
        let (mut watcher, watch_error) =
            FolderWatcher::new(&self.config.programs_dir, self.config.watch);
        if let Some(error) = watch_error {
            tracing::warn!(%error, "cannot watch the programs folder now; until it can be watched, changes are seen at the periodic rescan only");
        }
        // SIGCHLD from a signalfd on this loop's reactor (SIGCHLD is blocked in every thread:
        // `serve` blocks it before any thread exists).
        let children = crate::supervisor::ChildSignal::new()?;
        let mut terminate = signal(SignalKind::terminate())?;
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut hangup = signal(SignalKind::hangup())?;

        self.rescan(Reuse::Nothing);
        self.boot = BootWaves::new(&self.table.desired());
        self.after_event(Instant::now());

        loop {
            let wake = self.next_wake();
            // A read changes nothing, so nothing needs reconciling after it.
            let mut read_only = false;
            tokio::select! {
                hint = watcher.next() => {
                    tracing::debug!(?hint, "rescanning programs.d");
                    match hint {
                        // Events that all named program files: those files alone.
                        crate::store::Hint::Files(names) => {
                            let names: Vec<String> = names.into_iter().collect();
                            self.refresh(&names);
                        }
                        // The safety rescan reads every file: it is what catches a change the
                        // files' identities cannot show (a user created or removed,
                        // store/scan.rs). It also reconciles every program.
                        hint => {
                            if hint == crate::store::Hint::Safety {
                                self.dirty_all = true;
                            }
                            self.rescan(hint.reuse());
                        }
                    }
                }
                woke = children.recv() => {
                    if let Err(error) = woke {
                        tracing::error!(%error, "cannot read SIGCHLD; reaping anyway");
                    }
                    let changes = self.supervisor.reap(Instant::now());
                    self.publish_changes(changes);
                    self.take_probe_outcomes(Instant::now());
                }
                () = sleep_until(wake) => {
                    // A deadline collects the exits that already happened first (probes too).
                    let changes = self.supervisor.on_deadline(Instant::now());
                    self.publish_changes(changes);
                    self.take_probe_outcomes(Instant::now());
                    if self.quick.next_deadline().is_some() {
                        // Quick-starts' processes come and go outside the program table.
                        self.running_dirty = true;
                    }
                    self.quick.on_deadline(&mut self.supervisor, Instant::now());
                    for name in self.leftovers.on_deadline(Instant::now()) {
                        self.leftover_records.remove(&name);
                        // The programs it held back may start now, and its record goes.
                        self.dirty_all = true;
                        self.running_dirty = true;
                    }
                    self.health_due(Instant::now());
                    self.check_memory(Instant::now());
                }
                Some(message) = self.health.inbox.recv() => {
                    // A ping or a status text changes nothing a reconcile looks at.
                    read_only = !self.on_health_message(message, Instant::now());
                }
                envelope = self.inbox.recv() => match envelope {
                    Some(Envelope { request, author, reply }) => {
                        read_only = request.is_read_only();
                        self.author = author;
                        self.handle(request, reply);
                        self.author = None;
                    }
                    None => self.begin_shutdown(false, None),
                },
                _ = terminate.recv() => self.on_signal("SIGTERM"),
                _ = interrupt.recv() => self.on_signal("SIGINT"),
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP: rescanning programs.d");
                    self.dirty_all = true;
                    self.rescan(Reuse::Nothing);
                }
            }
            if !read_only {
                self.after_event(Instant::now());
            }
            if let Some(ending) = self.finished() {
                return Ok(ending);
            }
            // Let the other tasks of this thread (log capture) run between two events: tokio's
            // cooperative budget counts operations, not time, and one event can take long.
            tokio::task::yield_now().await;
        }
    }

    fn on_signal(&mut self, name: &str) {
        let force = self.shutdown.is_some();
        tracing::info!(signal = name, force, "shutting down");
        self.begin_shutdown(force, None);
    }

    fn next_wake(&self) -> Option<Instant> {
        [
            self.supervisor.next_deadline(),
            self.boot_wake,
            self.resources.memory_check_at,
            self.quick.next_deadline(),
            self.leftovers.next_deadline(),
            self.health.next_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Everything that follows any event: converge, persist, publish, answer waiters.
    fn after_event(&mut self, now: Instant) {
        if self.shutdown.is_some() {
            self.shutdown_step(now);
        } else {
            self.converge(now);
        }
        self.persist();
        self.answer_waiters();
        self.watch_memory(now);
    }

    // ---- requests ------------------------------------------------------------------------

    fn handle(&mut self, request: Request, reply: oneshot::Sender<Reply>) {
        // While shutting down, only reads (and a second shutdown) are answered.
        if self.shutdown.is_some()
            && !matches!(request, Request::Shutdown { .. })
            && !request.is_read_only()
        {
            let _ = reply.send(Err(Failure::new(
                FailureKind::Unavailable,
                "shutting_down",
                "the daemon is shutting down",
            )));
            return;
        }
        let now = Instant::now();
        if matches!(
            request,
            Request::QuickStart { .. } | Request::QuickStop { .. }
        ) {
            // Quick-starts' processes come and go outside the program table.
            self.running_dirty = true;
        }
        let outcome = match request {
            // The big reads are written straight to JSON from views of the state (`views`).
            Request::List { view } => self.list(now, view),
            Request::Get { id, view } => self.get(&id, now, view),
            Request::Status { id: None, view } => self.status_all(now, view),
            Request::Status { id: Some(id), view } => self.status_one(&id, now, view),
            Request::History { id, view } => self.history(&id, view),
            Request::LogPaths { id } => self.log_paths(&id),
            Request::AllLogPaths { ids } => self.all_log_paths(&ids),
            Request::Ready { names } => self.readiness(names),
            Request::EventsSince { last_event_id } => {
                Ok(Answer::with(Data::Events(self.ring.since(&last_event_id))))
            }
            Request::Metrics => Ok(self.metrics(now)),
            Request::Create { fields, format } => self.create(fields, format, now),
            Request::Edit {
                id,
                changes,
                if_match,
            } => self
                .edit(&id, changes, if_match.as_deref(), now)
                .map(|(answer, _)| answer),
            Request::Put {
                file,
                text,
                if_match,
            } => self.put(&file, &text, if_match.as_deref(), now),
            Request::Remove { id, wait } => return self.remove(&id, wait, reply, now),
            Request::SetEnabled { id, enabled, wait } => {
                return self.set_enabled(&id, enabled, wait, reply, now);
            }
            Request::Start { id, wait } => return self.start_program(&id, wait, reply, now),
            Request::Stop { id, wait } => return self.stop_program(&id, wait, reply, now),
            Request::Restart { id, wait } => return self.restart_program(&id, wait, reply, now),
            Request::Processes { id } => self.processes(id.as_deref(), now),
            Request::Signal { id, signal } => self.signal_program(&id, signal),
            Request::ClearLogs { id } => self.clear_logs(&id),
            Request::Rescan => {
                self.dirty_all = true;
                Ok(self.rescan_now())
            }
            Request::QuickStart { fields } => {
                self.quick
                    .launch(&fields, &self.config.log_dir, &mut self.supervisor, now)
            }
            Request::QuickList => Ok(self.quick.list(&self.supervisor, now)),
            Request::QuickStatus { id } => self.quick.status(&id, &self.supervisor, now),
            Request::QuickStop { id, wait } => {
                match self.quick.stop(&id, &mut self.supervisor, now) {
                    Ok((name, answer)) if wait => {
                        self.waiters.push(Waiter {
                            name,
                            until: Until::Down,
                            answer,
                            reply,
                        });
                        return;
                    }
                    Ok((_, answer)) => Ok(answer),
                    Err(failure) => Err(failure),
                }
            }
            Request::QuickLogPaths { id } => self.quick.log_paths(&id),
            Request::Shutdown { force } => {
                self.begin_shutdown(force, Some(reply));
                return;
            }
        };
        let _ = reply.send(outcome);
    }
}

/// The folder holding `.git` that `dir` is in (a clone of a repository of program files).
fn git_work_tree(dir: &Path) -> Option<PathBuf> {
    let dir = std::fs::canonicalize(dir).ok()?;
    dir.ancestors()
        .find(|folder| folder.join(".git").exists())
        .map(Path::to_path_buf)
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(wake) => tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await,
        None => std::future::pending().await,
    }
}
