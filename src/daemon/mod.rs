//! The daemon: one loop that owns all mutable state — the program table, the supervisor's jobs,
//! the boot waves, the intents — and consumes one stream of events: programs.d changed, a child
//! exited, a deadline came, a request arrived, a signal. After each event that can change
//! something (every event but a read-only request) it reconciles (the pure
//! [`crate::reconcile`]) and applies the plan through the supervisor. Readers never share its
//! state; they ask through [`Handle`] and get plain data back.

mod persist;
mod programs;
pub mod request;
mod views;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::reconcile::{Action, BootWaves, Observed, Phase, reconcile};
use crate::spec::name::{check_name, quote_short};
use crate::spec::{Format, ProgramSpec, RawProgram, Stream, SystemUsers};
use crate::store::{self, FolderWatcher, Ids, Reuse, Scanner, WatchConfig};
use crate::supervisor::{JobStatus, ProcessState, StateChange, Supervisor, SupervisorConfig};

use persist::{Intents, Running, RunningRecord, StateFiles};
pub use programs::{Change, ChangeKind, Source};
use programs::{ConfigEvent, Program, ProgramTable};
pub use request::{Answer, Data, Envelope, Failure, FailureKind, Reply, Request};
use views::{InOrder, OneProgramView, OneStatusView, ProgramView, ProgramsView, StatusView};

/// Where the daemon keeps things.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    pub programs_dir: PathBuf,
    pub state_dir: PathBuf,
    pub log_dir: PathBuf,
    pub watch: WatchConfig,
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
        }
    }
}

/// One event of the event stream (`GET /events`).
#[derive(Debug, Clone, Serialize)]
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
}

/// How to reach a running daemon's loop.
#[derive(Clone)]
pub struct Handle {
    requests: mpsc::Sender<Envelope>,
    events: broadcast::Sender<Arc<Event>>,
}

impl Handle {
    /// Sends a request and waits for the answer.
    pub async fn ask(&self, request: Request) -> Reply {
        let (reply, answer) = oneshot::channel();
        let unavailable = || {
            Failure::new(
                FailureKind::Unavailable,
                "shutting_down",
                "the daemon is shutting down",
            )
        };
        self.requests
            .send(Envelope { request, reply })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
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

/// Opens the state folder, ends what a crashed run left behind, and returns the daemon ready to
/// [`Daemon::run`], with the handle to talk to it.
pub async fn start(config: DaemonConfig) -> io::Result<(Daemon, Handle)> {
    std::fs::create_dir_all(&config.log_dir).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!(
                "cannot create the log folder {}: {error}",
                config.log_dir.display()
            ),
        )
    })?;
    let state = StateFiles::open(&config.state_dir)?;
    let leftovers = state.load_running()?;
    if !leftovers.is_empty() {
        let ended = persist::end_leftovers(&leftovers).await;
        if !ended.is_empty() {
            tracing::warn!(programs = ?ended, "ended processes left by the previous run");
        }
    }
    // What running.json could not hold: a process forked in the instant before a crash, or a
    // grandchild that left its program's process group. Every process the daemon starts
    // carries the mark; holding the state folder's lock, any marked process is a leftover.
    let (key, value) = persist::marker(&config.state_dir);
    let marked = persist::marked_processes(&format!("{key}={value}"));
    if !marked.is_empty() {
        tracing::warn!(pids = ?marked.iter().map(|(pid, _)| pid).collect::<Vec<_>>(), "ending unrecorded processes left by the previous run");
        persist::end_marked(&marked).await;
    }
    if !leftovers.is_empty() {
        state.save_running(&Running::new())?;
    }
    let saved_intents = state.load_intents()?;
    let ids = Ids::load(&config.state_dir)?;
    if let Err(error) = crate::supervisor::become_subreaper() {
        tracing::warn!(%error, "cannot become a child subreaper; orphaned grandchildren go to init");
    }
    let (requests, inbox) = mpsc::channel(256);
    let (events, _) = broadcast::channel(1024);
    let supervisor = Supervisor::new(SupervisorConfig {
        log_dir: config.log_dir.clone(),
        marker: Some(persist::marker(&config.state_dir)),
    });
    let daemon = Daemon {
        config,
        state,
        ids,
        scanner: Scanner::new(),
        table: ProgramTable::default(),
        saved_intents,
        intents_dirty: false,
        recorded_running: Running::new(),
        jobs: BTreeMap::new(),
        supervisor,
        boot: BootWaves::Done,
        boot_wake: None,
        api_sources: BTreeSet::new(),
        waiters: Vec::new(),
        events: events.clone(),
        inbox,
        shutdown: None,
        quick: quick::QuickStarts::default(),
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

/// A reply held back until a program reaches a state.
struct Waiter {
    name: String,
    until: Until,
    answer: Answer,
    reply: oneshot::Sender<Reply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Until {
    /// RUNNING, or failed (FATAL, EXITED), or stopped meanwhile.
    Up,
    /// No process and none coming: STOPPED, EXITED, FATAL.
    Down,
    /// The job is gone.
    Gone,
}

struct Shutdown {
    force: bool,
    replies: Vec<oneshot::Sender<Reply>>,
}

pub struct Daemon {
    config: DaemonConfig,
    state: StateFiles,
    ids: Ids,
    /// Reads programs.d, keeping what it read for the files that do not change.
    scanner: Scanner,
    table: ProgramTable,
    /// Intents from the last run; `None` with a fresh state folder.
    saved_intents: Option<Intents>,
    intents_dirty: bool,
    recorded_running: Running,
    jobs: BTreeMap<String, JobMeta>,
    supervisor: Supervisor,
    boot: BootWaves,
    boot_wake: Option<Instant>,
    /// Programs whose next file change was made by the API.
    api_sources: BTreeSet<String>,
    waiters: Vec<Waiter>,
    events: broadcast::Sender<Arc<Event>>,
    inbox: mpsc::Receiver<Envelope>,
    shutdown: Option<Shutdown>,
    quick: quick::QuickStarts,
}

mod quick;

/// About how many bytes of JSON one program's status takes (250 with a short name and no
/// config error), and one program with its fields, file text and status: the first size of
/// the buffers the big reads are written into.
const STATUS_SIZE: usize = 288;
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
        let mut children = signal(SignalKind::child())?;
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
                    // The safety rescan reads every file: it is what catches a change the
                    // files' identities cannot show (a user created or removed, store/scan.rs).
                    self.rescan(hint.reuse());
                }
                _ = children.recv() => {
                    let changes = self.supervisor.reap(Instant::now());
                    self.publish_changes(changes);
                }
                () = sleep_until(wake) => {
                    let changes = self.supervisor.on_deadline(Instant::now());
                    self.publish_changes(changes);
                    self.quick.on_deadline(&mut self.supervisor, Instant::now());
                }
                envelope = self.inbox.recv() => match envelope {
                    Some(Envelope { request, reply }) => {
                        read_only = request.is_read_only();
                        self.handle(request, reply);
                    }
                    None => self.begin_shutdown(false, None),
                },
                _ = terminate.recv() => self.on_signal("SIGTERM"),
                _ = interrupt.recv() => self.on_signal("SIGINT"),
                _ = hangup.recv() => {
                    tracing::info!("SIGHUP: rescanning programs.d");
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
            self.quick.next_deadline(),
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
    }

    // ---- programs.d ----------------------------------------------------------------------

    /// Scans programs.d into the program table. `reuse`: see [`Scanner::scan`].
    fn rescan(&mut self, reuse: Reuse) {
        let began = Instant::now();
        let (snapshot, stats) = self
            .scanner
            .scan(&self.config.programs_dir, &SystemUsers, reuse);
        tracing::debug!(
            ?reuse,
            read = stats.read,
            reused = stats.reused,
            micros = began.elapsed().as_micros(),
            "scanned programs.d"
        );
        for problem in &snapshot.folder_problems {
            tracing::error!(%problem, "programs folder");
        }
        let names: Vec<&str> = snapshot.programs.keys().map(String::as_str).collect();
        if let Err(error) = self.ids.sync(names) {
            tracing::error!(%error, "cannot save program ids");
        }
        let ids = &self.ids;
        let saved = &self.saved_intents;
        let api_sources = &self.api_sources;
        let events = self.table.apply(
            &snapshot,
            |name| ids.get(name).unwrap_or(0),
            |name, spec| match saved.as_ref().and_then(|intents| intents.get(name)) {
                Some(run) => *run && spec.is_some_and(|spec| spec.enabled),
                None => spec.is_some_and(|spec| spec.boot && spec.enabled),
            },
            |name| {
                if api_sources.contains(name) {
                    Source::Api
                } else {
                    Source::File
                }
            },
            SystemTime::now(),
        );
        if !events.is_empty() {
            self.intents_dirty = true;
        }
        for event in events {
            self.api_sources.remove(&event.name);
            self.publish_config(event);
        }
    }

    fn publish_config(&self, event: ConfigEvent) {
        let ConfigEvent { name, id, change } = event;
        match change.change {
            ChangeKind::Created => {
                tracing::info!(program = %name, id, source = ?change.source, "program added\n{}", change.diff)
            }
            ChangeKind::Edited => {
                tracing::info!(program = %name, id, source = ?change.source, generation = change.generation, "program changed\n{}", change.diff)
            }
            ChangeKind::Removed => {
                tracing::info!(program = %name, id, source = ?change.source, "program removed\n{}", change.diff)
            }
        }
        for problem in &change.problems {
            tracing::error!(program = %name, "{problem}; the last good version stays in effect");
        }
        let _ = self.events.send(Arc::new(Event::Config {
            id,
            name,
            change: change.change,
            source: change.source,
            generation: change.generation,
            problems: change.problems,
        }));
    }

    fn publish_changes(&mut self, changes: Vec<StateChange>) {
        let time = unix_now();
        for change in changes {
            let id = self
                .table
                .programs
                .get(&change.name)
                .map(|program| program.id);
            if self.quick.owns(&change.name) {
                self.quick.on_state(&change, Instant::now());
            }
            let _ = self.events.send(Arc::new(Event::State {
                id,
                name: change.name,
                from: change.from,
                to: change.to,
                reason: change.reason,
                time,
            }));
        }
    }

    // ---- convergence ---------------------------------------------------------------------

    fn observed(&self, now: Instant) -> BTreeMap<String, Observed> {
        self.supervisor
            .statuses(now)
            .filter_map(|status| {
                let meta = self.jobs.get(&status.name)?;
                Some((
                    status.name.clone(),
                    Observed {
                        phase: phase_of(status.state),
                        spec: Arc::clone(&meta.spec),
                        start_epoch: meta.start_epoch,
                        restart_epoch: meta.restart_epoch,
                    },
                ))
            })
            .collect()
    }

    fn converge(&mut self, now: Instant) {
        // A few passes: an action can make the next one possible (a boot wave opening).
        for _ in 0..4 {
            let desired = self.table.desired();
            let observed = self.observed(now);
            let (gate, wake) = self.boot.advance(&desired, &observed, now);
            self.boot_wake = wake;
            let plan = reconcile(&desired, &observed, gate);
            if plan.is_empty() {
                return;
            }
            for action in plan {
                self.apply(action, now);
            }
        }
    }

    fn apply(&mut self, action: Action, now: Instant) {
        tracing::debug!(?action, "applying");
        let name = action.name().to_string();
        let changes = match action {
            Action::Start { spec, .. } => {
                self.record_job(&name, &spec, true);
                self.supervisor.start(spec, now)
            }
            Action::Restart { spec, .. } => {
                self.record_job(&name, &spec, true);
                self.supervisor.restart(spec, now)
            }
            Action::Update { spec, .. } => {
                self.record_job(&name, &spec, false);
                self.supervisor.update_spec(spec);
                Vec::new()
            }
            Action::Stop { spec, .. } => {
                self.record_job(&name, &spec, false);
                self.supervisor.update_spec(spec);
                self.supervisor.stop(&name, now)
            }
            Action::Remove { .. } => {
                let changes = self.supervisor.remove(&name, now);
                if self.supervisor.status(&name, now).is_none() {
                    self.jobs.remove(&name);
                }
                changes
            }
        };
        self.publish_changes(changes);
    }

    /// Notes the spec a job now holds, and the generation it came from. A (re)start also takes
    /// the operator's epochs, so reconcile knows which start requests it has served.
    fn record_job(&mut self, name: &str, spec: &Arc<ProgramSpec>, starting: bool) {
        let Some(program) = self.table.programs.get(name) else {
            return;
        };
        let generation = program.good_generation;
        let epochs = (program.start_epoch, program.restart_epoch);
        match self.jobs.get_mut(name) {
            Some(meta) => {
                meta.spec = Arc::clone(spec);
                meta.generation = generation;
                if starting {
                    (meta.start_epoch, meta.restart_epoch) = epochs;
                }
            }
            None if starting => {
                self.jobs.insert(
                    name.to_string(),
                    JobMeta {
                        spec: Arc::clone(spec),
                        generation,
                        start_epoch: epochs.0,
                        restart_epoch: epochs.1,
                    },
                );
            }
            None => {}
        }
    }

    fn persist(&mut self) {
        if self.intents_dirty {
            let intents: Intents = self
                .table
                .programs
                .iter()
                .map(|(name, program)| (name.clone(), program.run))
                .collect();
            match self.state.save_intents(&intents) {
                Ok(()) => self.intents_dirty = false,
                Err(error) => tracing::error!(%error, "cannot save run intents"),
            }
        }
        // Forget the metadata of jobs the supervisor has dropped (removed programs).
        let supervisor = &self.supervisor;
        self.jobs.retain(|name, _| supervisor.has_job(name));

        // This runs after every event: with 1,000 programs, rebuilding the record each time
        // (strings, a /proc read for new pids) cost more than the event itself. Compare first,
        // without allocating; rebuild only when a process or its stop settings changed.
        if self.running_unchanged() {
            return;
        }
        let mut running = Running::new();
        for (name, pid) in self.supervisor.pids() {
            let previous = self
                .recorded_running
                .get(name)
                .filter(|record| record.pid == pid);
            let start_time = match previous {
                Some(record) => record.start_time,
                None => match crate::supervisor::process_start_time(pid) {
                    Some(start_time) => start_time,
                    None => continue,
                },
            };
            let (stopsignal, stopwaitsecs) = self.stop_settings(name);
            running.insert(
                name.to_string(),
                RunningRecord {
                    pid,
                    start_time,
                    stopsignal: stopsignal.to_string(),
                    stopwaitsecs,
                },
            );
        }
        if running != self.recorded_running {
            match self.state.save_running(&running) {
                Ok(()) => self.recorded_running = running,
                Err(error) => tracing::error!(%error, "cannot record running processes"),
            }
        }
    }

    /// The stop signal and wait recorded for a process of this job (quick-starts included).
    fn stop_settings(&self, name: &str) -> (&'static str, f64) {
        let spec = self
            .jobs
            .get(name)
            .map(|meta| Arc::clone(&meta.spec))
            .or_else(|| self.quick.spec_of(name));
        spec.map_or(("TERM", 10.0), |spec| {
            (spec.stopsignal.name(), spec.stopwaitsecs.as_secs_f64())
        })
    }

    /// Whether `recorded_running` already says what runs: the same jobs with the same pids
    /// and stop settings.
    fn running_unchanged(&self) -> bool {
        let mut count = 0;
        for (name, pid) in self.supervisor.pids() {
            count += 1;
            let Some(record) = self.recorded_running.get(name) else {
                return false;
            };
            let (stopsignal, stopwaitsecs) = self.stop_settings(name);
            if record.pid != pid
                || record.stopsignal != stopsignal
                || record.stopwaitsecs != stopwaitsecs
            {
                return false;
            }
        }
        count == self.recorded_running.len()
    }

    // ---- shutdown ------------------------------------------------------------------------

    fn begin_shutdown(&mut self, force: bool, reply: Option<oneshot::Sender<Reply>>) {
        let shutdown = self.shutdown.get_or_insert(Shutdown {
            force: false,
            replies: Vec::new(),
        });
        shutdown.force |= force;
        shutdown.replies.extend(reply);
        if shutdown.force {
            let changes = self.supervisor.kill_all(Instant::now());
            self.publish_changes(changes);
        }
    }

    /// Stops the highest priority that still has processes; lower ones wait for it.
    fn shutdown_step(&mut self, now: Instant) {
        let statuses: Vec<JobStatus> = self.supervisor.statuses(now).collect();
        let priorities: BTreeMap<String, i32> = self
            .jobs
            .iter()
            .map(|(name, meta)| (name.clone(), meta.spec.priority))
            .collect();
        let priority_of = |name: &str| -> i32 { priorities.get(name).copied().unwrap_or(i32::MAX) };
        // Jobs without a process (BACKOFF, waiting to retry) stop at once.
        let idle: Vec<String> = statuses
            .iter()
            .filter(|status| status.state == ProcessState::Backoff)
            .map(|status| status.name.clone())
            .collect();
        for name in idle {
            let changes = self.supervisor.stop(&name, now);
            self.publish_changes(changes);
        }
        let live: Vec<&JobStatus> = statuses
            .iter()
            .filter(|status| status.state.has_process())
            .collect();
        let Some(top) = live.iter().map(|status| priority_of(&status.name)).max() else {
            return;
        };
        let wave: Vec<String> = live
            .iter()
            .filter(|status| {
                priority_of(&status.name) == top && status.state != ProcessState::Stopping
            })
            .map(|status| status.name.clone())
            .collect();
        for name in wave {
            let changes = self.supervisor.stop(&name, now);
            self.publish_changes(changes);
        }
    }

    fn finished(&mut self) -> Option<Ending> {
        let shutdown = self.shutdown.as_ref()?;
        if self.supervisor.has_processes() || self.supervisor.is_busy() {
            return None;
        }
        let ending = if shutdown.force {
            Ending::Forced
        } else {
            Ending::Graceful
        };
        if let Some(shutdown) = self.shutdown.take() {
            for reply in shutdown.replies {
                let _ = reply.send(Ok(Answer::ok(json!({ "stopped": true }))));
            }
        }
        for waiter in self.waiters.drain(..) {
            let _ = waiter.reply.send(Ok(waiter.answer));
        }
        Some(ending)
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
        let outcome = match request {
            // The big reads are written straight to JSON from views of the state (`views`).
            Request::List => Answer::json(
                &ProgramsView {
                    programs: self
                        .table
                        .programs
                        .values()
                        .map(|program| self.program_view(program, now))
                        .collect(),
                },
                self.table.programs.len() * PROGRAM_SIZE,
            ),
            Request::Get { id } => self.get(&id, now),
            Request::Status { id: None } => {
                // The program table, the jobs and their metadata are all sorted by name: walk
                // them together.
                let mut views = InOrder::new(self.supervisor.views(now));
                let mut metas = InOrder::new(
                    self.jobs
                        .iter()
                        .map(|(name, meta)| (name.as_str(), meta.generation)),
                );
                let statuses = self.table.programs.values().map(|program| {
                    let name = program.entry.name.as_str();
                    StatusView::new(program, views.get(name), metas.get(name))
                });
                Answer::written(self.table.programs.len() * STATUS_SIZE, |json| {
                    views::write_statuses(json, statuses)
                })
            }
            Request::Status { id: Some(id) } => match self.table.find(&id) {
                Some(program) => Answer::json(
                    &OneStatusView {
                        status: self.status_view(program, now),
                        success: true,
                    },
                    STATUS_SIZE,
                ),
                None => Err(Failure::not_found(&id)),
            },
            Request::History { id } => match self.table.find(&id) {
                Some(program) => Ok(Answer::ok(json!({
                    "id": program.id,
                    "name": program.entry.name,
                    "history": program.history,
                }))),
                None => Err(Failure::not_found(&id)),
            },
            Request::LogPaths { id } => self.log_paths(&id),
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

    fn etag(program: &Program) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        program.entry.text.hash(&mut hasher);
        format!("\"{}-{:016x}\"", program.generation, hasher.finish())
    }

    fn get(&self, id: &str, now: Instant) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let mut answer = Answer::json(
            &OneProgramView {
                program: self.program_view(program, now),
            },
            PROGRAM_SIZE,
        )?;
        answer.etag = Some(Self::etag(program));
        Ok(answer)
    }

    /// A program as the API shows it: its fields (defaults filled in, values as written in
    /// canonical form), where it lives, its status and its config error.
    fn program_view<'a>(&'a self, program: &'a Program, now: Instant) -> ProgramView<'a> {
        let mut fields = match &program.last_good {
            Some(spec) => spec.to_fields(),
            None => Map::new(),
        };
        // What the file says, in the form it was written (a command stays a string).
        if program.problems().is_empty()
            && let Some(text) = &program.entry.text
            && let Ok(document) = crate::spec::parse(program.entry.format, text)
        {
            let (raw, _) = RawProgram::read_fields(&document.fields);
            for (key, value) in raw.to_fields() {
                fields.insert(key, value);
            }
        }
        fields.insert("name".into(), Value::from(program.entry.name.clone()));
        ProgramView {
            fields,
            config_error: views::ConfigErrorView::of(program),
            file: program.entry.path.to_string_lossy(),
            format: program.entry.format,
            generation: program.generation,
            id: program.id,
            observed_generation: self.observed_generation(&program.entry.name),
            status: self.status_view(program, now),
            text: program.entry.text.as_deref(),
        }
    }

    fn observed_generation(&self, name: &str) -> Option<u64> {
        self.jobs.get(name).map(|meta| meta.generation)
    }

    fn status_view<'a>(&'a self, program: &'a Program, now: Instant) -> StatusView<'a> {
        let name = &program.entry.name;
        StatusView::new(
            program,
            self.supervisor.view(name, now),
            self.observed_generation(name),
        )
    }

    /// A program's status as a value, to add to the answer of a write.
    fn status_value(&self, program: &Program, now: Instant) -> Value {
        serde_json::to_value(self.status_view(program, now)).unwrap_or(Value::Null)
    }

    fn log_paths(&self, id: &str) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let spec = self
            .jobs
            .get(&program.entry.name)
            .map(|meta| Arc::clone(&meta.spec))
            .or_else(|| program.last_good.clone())
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::Conflict,
                    "no_valid_version",
                    "the program has never had a valid file, so it has no logs",
                )
            })?;
        Ok(Answer::ok(log_paths_json(&spec, &self.config.log_dir)))
    }

    // ---- writes --------------------------------------------------------------------------

    /// The files in programs.d that would define a program of this name (any extension).
    fn existing_files(&self, name: &str) -> Vec<PathBuf> {
        crate::spec::name::EXTENSIONS
            .iter()
            .map(|extension| self.config.programs_dir.join(format!("{name}.{extension}")))
            .filter(|path| std::fs::symlink_metadata(path).is_ok())
            .collect()
    }

    fn create(&mut self, mut fields: Map<String, Value>, format: Format, now: Instant) -> Reply {
        let name = match fields.remove("name") {
            Some(Value::String(name)) => name,
            Some(other) => {
                return Err(invalid_field(
                    "name",
                    &format!("expected a string, found {other}"),
                ));
            }
            None => return Err(invalid_field("name", "is required")),
        };
        check_name(&name).map_err(|message| invalid_field("name", &message))?;
        if self.table.programs.contains_key(&name) || !self.existing_files(&name).is_empty() {
            return Err(Failure::new(
                FailureKind::Conflict,
                "name_taken",
                format!("a program named {} already exists", quote_short(&name)),
            )
            .with_details(json!({ "field": "name", "name": name })));
        }
        let raw = RawProgram::from_fields(&fields).map_err(problems_failure)?;
        raw.clone()
            .into_spec(&name, &SystemUsers)
            .map_err(problems_failure)?;
        let text = crate::spec::render(format, &raw.to_fields());
        let path = self
            .config
            .programs_dir
            .join(format!("{name}.{}", format.extension()));
        store::write_atomic(&path, &text).map_err(|error| write_failure(&path, &error))?;
        self.api_sources.insert(name.clone());
        self.rescan(Reuse::Unchanged);
        self.converge(now);
        let program = self.table.programs.get(&name).ok_or_else(|| {
            Failure::new(
                FailureKind::Internal,
                "lost_write",
                format!("{} was written but not found on rescan", path.display()),
            )
        })?;
        let diff = program
            .history
            .back()
            .map(|change| change.diff.clone())
            .unwrap_or_default();
        let mut answer = Answer::ok(json!({
            "id": program.id,
            "name": name,
            "file": path.to_string_lossy(),
            "diff": diff,
            "generation": program.generation,
        }));
        answer.message = "Created".to_string();
        answer.created = true;
        answer.etag = Some(Self::etag(program));
        Ok(answer)
    }

    /// Edits a program's file (a merge; `null` resets a field). Returns the answer and whether
    /// the file changed.
    fn edit(
        &mut self,
        id: &str,
        mut changes: Map<String, Value>,
        if_match: Option<&str>,
        now: Instant,
    ) -> Result<(Answer, bool), Failure> {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let name = program.entry.name.clone();
        if let Some(expected) = if_match {
            let current = Self::etag(program);
            if expected.trim() != "*" && expected.trim() != current {
                return Err(Failure::new(
                    FailureKind::Stale,
                    "stale",
                    "the program changed since you read it (If-Match does not match its ETag)",
                )
                .with_details(json!({ "etag": current })));
            }
        }
        if let Some(new_name) = changes.remove("name")
            && new_name.as_str() != Some(name.as_str())
            && !new_name.is_null()
        {
            return Err(invalid_field(
                "name",
                "renaming is refused: create a program with the new name and remove this one",
            ));
        }
        let set: Map<String, Value> = changes
            .iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let (_, mut problems) = RawProgram::read_fields(&set);
        for key in changes.keys() {
            if !crate::spec::FIELDS.contains(&key.as_str())
                && !key.starts_with("x-")
                && !problems.iter().any(|p| p.field.as_deref() == Some(key))
            {
                problems.push(crate::spec::Problem::field(
                    key,
                    format!("unknown field {}", quote_short(key)),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems_failure(problems));
        }
        let old_text = program.entry.text.clone().ok_or_else(|| {
            Failure::new(
                FailureKind::Conflict,
                "unreadable_file",
                format!(
                    "{} cannot be read, so it cannot be edited; fix or replace the file",
                    program.entry.path.display()
                ),
            )
        })?;
        // Canonical forms in the file (a bool stays a bool), whatever the request sent.
        let mut canonical = RawProgram::from_fields(&set)
            .map_err(problems_failure)?
            .to_fields();
        for (key, value) in &changes {
            if value.is_null() {
                canonical.insert(key.clone(), Value::Null);
            }
        }
        let format = program.entry.format;
        let path = program.entry.path.clone();
        let new_text = crate::spec::edit(format, &old_text, &canonical)
            .map_err(|problem| problems_failure(vec![problem]))?;
        crate::spec::ProgramSpec::from_text(&name, format, &new_text, &SystemUsers)
            .map_err(problems_failure)?;
        if new_text == *old_text {
            let program = self
                .table
                .programs
                .get(&name)
                .ok_or_else(|| Failure::not_found(id))?;
            let mut answer = Answer::ok(
                json!({ "id": program.id, "name": name, "diff": "", "generation": program.generation, "changed": false }),
            );
            answer.etag = Some(Self::etag(program));
            return Ok((answer, false));
        }
        store::write_atomic(&path, &new_text).map_err(|error| write_failure(&path, &error))?;
        self.api_sources.insert(name.clone());
        self.rescan(Reuse::Unchanged);
        self.converge(now);
        let program = self
            .table
            .programs
            .get(&name)
            .ok_or_else(|| Failure::not_found(id))?;
        let diff = programs::diff(&program.entry, &old_text, &new_text, &name);
        let mut answer = Answer::ok(
            json!({ "id": program.id, "name": name, "diff": diff, "generation": program.generation, "changed": true }),
        );
        answer.etag = Some(Self::etag(program));
        Ok((answer, true))
    }

    /// Creates or replaces a program's whole file with the given text (what `hoody-daemon apply`
    /// sends, so comments and layout arrive byte for byte). The text is validated as a file of
    /// that name would be; another file of the same name with a different extension is removed
    /// in the same step, so the folder never holds a conflict.
    fn put(&mut self, file: &str, text: &str, if_match: Option<&str>, now: Instant) -> Reply {
        let (name, format) = match crate::spec::name::classify(file) {
            crate::spec::name::FileKind::Program { name, format } if !file.contains('/') => {
                (name, format)
            }
            _ => {
                return Err(invalid_field(
                    "file",
                    "must be NAME.toml, NAME.yaml or NAME.yml, with no folder",
                ));
            }
        };
        check_name(&name).map_err(|message| invalid_field("file", &message))?;
        ProgramSpec::from_text(&name, format, text, &SystemUsers).map_err(problems_failure)?;
        let path = self.config.programs_dir.join(file);
        let existing = self.table.programs.get(&name);
        if let (Some(expected), Some(program)) = (if_match, existing) {
            let current = Self::etag(program);
            if expected.trim() != "*" && expected.trim() != current {
                return Err(Failure::new(
                    FailureKind::Stale,
                    "stale",
                    "the program changed since you read it (If-Match does not match its ETag)",
                )
                .with_details(json!({ "etag": current })));
            }
        }
        let old_text: Arc<str> = existing
            .and_then(|program| program.entry.text.clone())
            .unwrap_or_else(|| Arc::from(""));
        let same_file = existing.is_some_and(|program| {
            program.entry.path == path && program.entry.text.as_deref() == Some(text)
        });
        let others: Vec<PathBuf> = self
            .existing_files(&name)
            .into_iter()
            .filter(|other| *other != path)
            .collect();
        if same_file && others.is_empty() {
            let program = existing.ok_or_else(|| Failure::not_found(&name))?;
            let mut answer = Answer::ok(
                json!({ "id": program.id, "name": name, "file": path.to_string_lossy(), "diff": "", "generation": program.generation, "changed": false, "created": false }),
            );
            answer.etag = Some(Self::etag(program));
            return Ok(answer);
        }
        let created = existing.is_none();
        let old_file = existing
            .and_then(|program| program.entry.path.file_name())
            .map_or_else(
                || file.to_string(),
                |old| old.to_string_lossy().into_owned(),
            );
        store::write_atomic(&path, text).map_err(|error| write_failure(&path, &error))?;
        for other in &others {
            store::remove_durable(other).map_err(|error| write_failure(other, &error))?;
        }
        self.api_sources.insert(name.clone());
        self.rescan(Reuse::Unchanged);
        self.converge(now);
        let program = self.table.programs.get(&name).ok_or_else(|| {
            Failure::new(
                FailureKind::Internal,
                "lost_write",
                format!("{} was written but not found on rescan", path.display()),
            )
        })?;
        let old_label = if created {
            "/dev/null".to_string()
        } else {
            format!("a/{old_file}")
        };
        let diff = similar::TextDiff::from_lines(&*old_text, text)
            .unified_diff()
            .header(&old_label, &format!("b/{file}"))
            .to_string();
        let mut answer = Answer::ok(json!({
            "id": program.id,
            "name": name,
            "file": path.to_string_lossy(),
            "diff": diff,
            "generation": program.generation,
            "changed": true,
            "created": created,
        }));
        if created {
            answer.message = "Created".to_string();
            answer.created = true;
        }
        answer.etag = Some(Self::etag(program));
        Ok(answer)
    }

    fn remove(&mut self, id: &str, wait: bool, reply: oneshot::Sender<Reply>, now: Instant) {
        let Some(program) = self.table.find(id) else {
            let _ = reply.send(Err(Failure::not_found(id)));
            return;
        };
        let name = program.entry.name.clone();
        let program_id = program.id;
        let paths = self.existing_files(&name);
        let old_text = program.entry.text.clone().unwrap_or_else(|| Arc::from(""));
        let diff = programs::diff(&program.entry, &old_text, "", &name);
        for path in &paths {
            if let Err(error) = store::remove_durable(path) {
                let _ = reply.send(Err(write_failure(path, &error)));
                return;
            }
        }
        self.api_sources.insert(name.clone());
        self.rescan(Reuse::Unchanged);
        self.converge(now);
        let answer =
            Answer::ok(json!({ "id": program_id, "name": name, "diff": diff, "removed": true }));
        self.reply_when(name, Until::Gone, wait, answer, reply);
    }

    fn set_enabled(
        &mut self,
        id: &str,
        enabled: bool,
        wait: bool,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
        let mut changes = Map::new();
        changes.insert("enabled".into(), Value::Bool(enabled));
        match self.edit(id, changes, None, now) {
            Ok((mut answer, _)) => {
                let name = answer
                    .data
                    .as_value()
                    .and_then(|data| data["name"].as_str())
                    .unwrap_or_default()
                    .to_string();
                if let Some(object) = answer.data.as_object_mut() {
                    object.insert("enabled".into(), Value::Bool(enabled));
                }
                let until = if enabled { None } else { Some(Until::Down) };
                match until {
                    Some(until) => self.reply_when(name, until, wait, answer, reply),
                    None => {
                        let _ = reply.send(Ok(answer));
                    }
                }
            }
            Err(failure) => {
                let _ = reply.send(Err(failure));
            }
        }
    }

    /// Looks a program up for start/stop/restart: it must exist and have a valid version.
    fn controllable(&self, id: &str) -> Result<(String, Arc<ProgramSpec>), Failure> {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let spec = program.last_good.clone().ok_or_else(|| {
            Failure::new(
                FailureKind::Conflict,
                "no_valid_version",
                "the program's file has never been valid; fix it first",
            )
            .with_details(
                serde_json::to_value(views::ConfigErrorView::of(program)).unwrap_or(Value::Null),
            )
        })?;
        Ok((program.entry.name.clone(), spec))
    }

    /// Looks a program up for start/restart: it must also be enabled (seed: start of a program
    /// that is not enabled fails).
    fn startable(&self, id: &str) -> Result<String, Failure> {
        let (name, spec) = self.controllable(id)?;
        if !spec.enabled {
            return Err(
                Failure::new(FailureKind::Conflict, "not_enabled", "program not enabled")
                    .with_details(json!({ "name": name, "hint": "enable it first" })),
            );
        }
        Ok(name)
    }

    fn start_program(&mut self, id: &str, wait: bool, reply: oneshot::Sender<Reply>, now: Instant) {
        let name = match self.startable(id) {
            Ok(name) => name,
            Err(failure) => {
                let _ = reply.send(Err(failure));
                return;
            }
        };
        let state = self
            .supervisor
            .status(&name, now)
            .map(|status| status.state);
        let already = matches!(
            state,
            Some(ProcessState::Starting | ProcessState::Running | ProcessState::Backoff)
        );
        if let Some(program) = self.table.programs.get_mut(&name) {
            if !program.run {
                program.run = true;
                self.intents_dirty = true;
            }
            if !already {
                program.start_epoch += 1;
            }
        }
        self.converge(now);
        let answer = self.control_answer(&name, !already);
        self.reply_when(name, Until::Up, wait, answer, reply);
    }

    fn stop_program(&mut self, id: &str, wait: bool, reply: oneshot::Sender<Reply>, now: Instant) {
        let (name, _) = match self.controllable(id) {
            Ok(found) => found,
            Err(failure) => {
                let _ = reply.send(Err(failure));
                return;
            }
        };
        let state = self
            .supervisor
            .status(&name, now)
            .map(|status| status.state);
        let active =
            state.is_some_and(|state| state.has_process() || state == ProcessState::Backoff);
        if let Some(program) = self.table.programs.get_mut(&name)
            && program.run
        {
            program.run = false;
            self.intents_dirty = true;
        }
        self.converge(now);
        let answer = self.control_answer(&name, active);
        self.reply_when(name, Until::Down, wait, answer, reply);
    }

    fn restart_program(
        &mut self,
        id: &str,
        wait: bool,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
        let name = match self.startable(id) {
            Ok(name) => name,
            Err(failure) => {
                let _ = reply.send(Err(failure));
                return;
            }
        };
        if let Some(program) = self.table.programs.get_mut(&name) {
            program.run = true;
            program.restart_epoch += 1;
            program.start_epoch += 1;
            self.intents_dirty = true;
        }
        self.converge(now);
        let answer = self.control_answer(&name, true);
        self.reply_when(name, Until::Up, wait, answer, reply);
    }

    /// The answer to start, stop and restart (the status is added once the wait is over).
    fn control_answer(&self, name: &str, changed: bool) -> Answer {
        let id = self.table.programs.get(name).map(|program| program.id);
        Answer::ok(json!({ "id": id, "name": name, "changed": changed }))
    }

    fn reply_when(
        &mut self,
        name: String,
        until: Until,
        wait: bool,
        answer: Answer,
        reply: oneshot::Sender<Reply>,
    ) {
        if !wait {
            let _ = reply.send(Ok(answer));
            return;
        }
        self.waiters.push(Waiter {
            name,
            until,
            answer,
            reply,
        });
        self.answer_waiters();
    }

    fn answer_waiters(&mut self) {
        if self.waiters.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut pending = Vec::new();
        for waiter in std::mem::take(&mut self.waiters) {
            let state = self
                .supervisor
                .status(&waiter.name, now)
                .map(|status| status.state);
            let done = match waiter.until {
                Until::Up => matches!(
                    state,
                    Some(
                        ProcessState::Running
                            | ProcessState::Fatal
                            | ProcessState::Exited
                            | ProcessState::Stopped
                    ) | None
                ),
                Until::Down => !matches!(
                    state,
                    Some(
                        ProcessState::Starting
                            | ProcessState::Running
                            | ProcessState::Stopping
                            | ProcessState::Backoff
                    )
                ),
                Until::Gone => state.is_none(),
            };
            if !done || waiter.reply.is_closed() {
                if !waiter.reply.is_closed() {
                    pending.push(waiter);
                }
                continue;
            }
            let mut answer = waiter.answer;
            if let Some(object) = answer.data.as_object_mut() {
                let status = self
                    .table
                    .programs
                    .get(&waiter.name)
                    .map(|program| self.status_value(program, now));
                if let Some(status) = status {
                    object.insert("status".into(), status);
                } else if let Some(status) =
                    self.quick.status_value(&waiter.name, &self.supervisor, now)
                {
                    object.insert("status".into(), status);
                }
            }
            let _ = waiter.reply.send(Ok(answer));
        }
        self.waiters = pending;
    }
}

fn log_paths_json(spec: &ProgramSpec, log_dir: &Path) -> Value {
    let path = |stream| {
        spec.log_path(log_dir, stream)
            .map(|path| path.to_string_lossy().into_owned())
    };
    json!({
        "stdout": path(Stream::Stdout),
        "stderr": path(Stream::Stderr),
        "redirect_stderr": spec.process.redirect_stderr,
    })
}

fn invalid_field(field: &str, message: &str) -> Failure {
    Failure::new(
        FailureKind::Invalid,
        "invalid_fields",
        format!("field `{field}`: {message}"),
    )
    .with_details(json!([{ "field": field, "message": message }]))
}

fn problems_failure(problems: Vec<crate::spec::Problem>) -> Failure {
    let message = problems
        .iter()
        .map(|problem| match &problem.field {
            Some(field) => format!("field `{field}`: {}", problem.message),
            None => problem.message.clone(),
        })
        .collect::<Vec<_>>()
        .join("; ");
    let details: Vec<Value> = problems
        .iter()
        .map(|problem| json!({ "field": problem.field, "message": problem.message }))
        .collect();
    Failure::new(FailureKind::Invalid, "invalid_fields", message)
        .with_details(Value::Array(details))
}

fn write_failure(path: &Path, error: &io::Error) -> Failure {
    let kind = match error.kind() {
        io::ErrorKind::ReadOnlyFilesystem | io::ErrorKind::PermissionDenied => {
            FailureKind::Conflict
        }
        _ => FailureKind::Internal,
    };
    if kind == FailureKind::Internal {
        tracing::error!(path = %path.display(), %error, "cannot write a program file");
    }
    Failure::new(
        kind,
        "write_failed",
        format!("cannot write {}: {error}", path.display()),
    )
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(wake) => tokio::time::sleep_until(tokio::time::Instant::from_std(wake)).await,
        None => std::future::pending().await,
    }
}
