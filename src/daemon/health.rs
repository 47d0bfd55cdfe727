//! Health, readiness and dependencies in the loop (SPEC §12): the trackers of the processes of
//! programs with a health check, a ready line or `notify` (the pure `health::Tracker`, one per
//! process, made when it is spawned and dropped when it stops); running the probes they ask for
//! (exec probes through the supervisor, http and tcp probes as tasks on this runtime); the
//! messages of those tasks, of the log captures and of notify sockets; restarts for health; the
//! dependencies pulled in when a program is to start; the holds of the last converge; the
//! `health` events; and `GET /ready`.
//!
//! A program with none of these fields has no tracker: nothing here runs for it but a look at
//! whether it has `depends_on` when the loop converges.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use serde_json::json;
use tokio::sync::mpsc;

use crate::health::depends::dependencies_of;
use crate::health::{Health, HealthMessage, Hold, Holds, LastProbe, Step, Tracker};
use crate::reconcile::{BootWaves, Desired, Observed, will_start};
use crate::spec::{Probe, ProgramSpec};
use crate::supervisor::{ProcessState, StateChange};

use super::request::{Answer, Failure, FailureKind, Reply};
use super::{Daemon, Event, unix_now};

/// How many health messages may wait for the loop; their senders wait beyond that.
pub(super) const INBOX: usize = 256;

/// The tracker of one program's current process.
#[derive(Debug)]
pub(super) struct Monitored {
    /// The process it tracks.
    pub pid: u32,
    pub tracker: Tracker,
    /// The http or tcp probe that runs now, if any.
    probe: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Monitored {
    fn drop(&mut self) {
        if let Some(task) = self.probe.take() {
            task.abort();
        }
    }
}

/// What a program of a later boot wave waits for.
#[derive(Debug, Default)]
pub(super) struct BootHold {
    /// The priority of the wave that starts now.
    pub priority: i32,
    /// Its programs that are not settled yet.
    pub unsettled: Vec<String>,
    /// Boot priorities lowered below a program's own by its dependents.
    pub lowered: BTreeMap<String, i32>,
}

/// The loop's health state.
#[derive(Debug)]
pub(super) struct HealthState {
    /// By program name (sorted, for the status of all programs).
    pub monitored: BTreeMap<String, Monitored>,
    /// The holds of the last converge.
    pub holds: Holds,
    /// While boot runs: what later waves wait for.
    pub boot: Option<BootHold>,
    pub inbox: mpsc::Receiver<HealthMessage>,
    pub sender: mpsc::Sender<HealthMessage>,
}

impl HealthState {
    pub fn new() -> HealthState {
        let (sender, inbox) = mpsc::channel(INBOX);
        HealthState {
            monitored: BTreeMap::new(),
            holds: Holds::new(),
            boot: None,
            inbox,
            sender,
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.monitored
            .values()
            .filter_map(|monitored| monitored.tracker.next_deadline())
            .min()
    }
}

/// What status shows of a program's health (SPEC §12).
#[derive(Debug, Clone, Copy, Default)]
pub struct HealthView<'a> {
    pub health: Option<Health>,
    pub last_probe: Option<&'a LastProbe>,
    pub ready: bool,
    pub status_text: Option<&'a str>,
    pub waiting_for: &'a [String],
    /// Why it is not started: a dependency that can no longer come up.
    pub blocked: Option<&'a str>,
}

impl Daemon {
    // ---- processes come and go -----------------------------------------------------------

    /// Follows the state changes of jobs: a new process gets a tracker (when its program has
    /// health fields), RUNNING starts its probes, and a process that stops loses its tracker
    /// and its probes.
    pub(super) fn track(&mut self, changes: &[StateChange], now: Instant) {
        for change in changes {
            match change.to {
                ProcessState::Starting => {
                    let Some(tracker) = self
                        .jobs
                        .get(&change.name)
                        .and_then(|meta| Tracker::new(&meta.spec, now))
                    else {
                        self.untrack(&change.name);
                        continue;
                    };
                    let pid = self
                        .supervisor
                        .view(&change.name, now)
                        .and_then(|view| view.pid);
                    match pid {
                        Some(pid) => {
                            self.health.monitored.insert(
                                change.name.clone(),
                                Monitored {
                                    pid,
                                    tracker,
                                    probe: None,
                                },
                            );
                        }
                        None => self.untrack(&change.name),
                    }
                }
                ProcessState::Running => {
                    let steps = match self.health.monitored.get_mut(&change.name) {
                        Some(monitored) => monitored.tracker.on_running(now),
                        None => continue,
                    };
                    self.run_steps(&change.name, steps, now);
                }
                _ => self.untrack(&change.name),
            }
        }
    }

    fn untrack(&mut self, name: &str) {
        if let Some(monitored) = self.health.monitored.remove(name) {
            self.supervisor.cancel_probes(name);
            let tracker = &monitored.tracker;
            if tracker.ready()
                || tracker
                    .health()
                    .is_some_and(|health| health != Health::Starting)
            {
                self.publish_health(name, "its process stopped");
            }
        }
    }

    /// A program's spec changed without a restart: a new health check applies to the process
    /// that runs.
    pub(super) fn retrack(&mut self, spec: &ProgramSpec, now: Instant) {
        let name = &spec.name;
        let steps = match self.health.monitored.get_mut(name) {
            Some(monitored) => monitored
                .tracker
                .set_check(spec.healthcheck.as_deref(), now),
            None => {
                // A check added to a program whose process had none: it gets a tracker now.
                let Some(view) = self.supervisor.view(name, now) else {
                    return;
                };
                let (state, pid) = (view.state, view.pid);
                let up = matches!(state, ProcessState::Starting | ProcessState::Running);
                let (Some(pid), true, Some(mut tracker)) = (pid, up, Tracker::new(spec, now))
                else {
                    return;
                };
                let steps = if state == ProcessState::Running {
                    tracker.on_running(now)
                } else {
                    Vec::new()
                };
                self.health.monitored.insert(
                    name.clone(),
                    Monitored {
                        pid,
                        tracker,
                        probe: None,
                    },
                );
                steps
            }
        };
        self.run_steps(name, steps, now);
    }

    // ---- inputs --------------------------------------------------------------------------

    /// A message of a probe task, a log capture or a notify socket. Returns whether it changed
    /// anything a reconcile would look at (readiness, a restart).
    pub(super) fn on_health_message(&mut self, message: HealthMessage, now: Instant) -> bool {
        let name = message.name().to_string();
        let Some(monitored) = self.health.monitored.get_mut(&name) else {
            return false;
        };
        let steps = match message {
            HealthMessage::Probe {
                pid,
                ok,
                output,
                time,
                ..
            } if pid == monitored.pid => {
                monitored.probe = None;
                monitored.tracker.on_probe(ok, output, time, now)
            }
            HealthMessage::LogLine { pid, .. } if pid == monitored.pid => {
                monitored.tracker.on_log_line()
            }
            HealthMessage::Notify { pid, message, .. } if pid == monitored.pid => {
                monitored.tracker.on_notify(message, now)
            }
            // Of an earlier process of the program.
            _ => return false,
        };
        self.run_steps(&name, steps, now)
    }

    /// The outcomes of exec probes reaped since the last look.
    pub(super) fn take_probe_outcomes(&mut self, now: Instant) {
        for outcome in self.supervisor.take_probe_outcomes() {
            let steps = match self.health.monitored.get_mut(&outcome.name) {
                Some(monitored) if monitored.pid == outcome.pid => {
                    monitored
                        .tracker
                        .on_probe(outcome.ok, outcome.output, unix_now(), now)
                }
                _ => continue,
            };
            self.run_steps(&outcome.name, steps, now);
        }
    }

    /// The trackers' deadlines that have come: probes to run, watchdogs expired.
    pub(super) fn health_due(&mut self, now: Instant) {
        // What already came first: a ping that waited behind a busy turn of the loop must not
        // lose to the watchdog's deadline.
        while let Ok(message) = self.health.inbox.try_recv() {
            self.on_health_message(message, now);
        }
        let due: Vec<String> = self
            .health
            .monitored
            .iter()
            .filter(|(_, monitored)| {
                monitored
                    .tracker
                    .next_deadline()
                    .is_some_and(|deadline| deadline <= now)
            })
            .map(|(name, _)| name.clone())
            .collect();
        for name in due {
            let steps = match self.health.monitored.get_mut(&name) {
                Some(monitored) => monitored.tracker.due(now),
                None => continue,
            };
            self.run_steps(&name, steps, now);
        }
    }

    /// Does what a tracker asked. Returns whether readiness changed or a restart began.
    fn run_steps(&mut self, name: &str, steps: Vec<Step>, now: Instant) -> bool {
        let mut changed = false;
        for step in steps {
            match step {
                Step::Probe(probe) => self.start_probe(name, probe, now),
                Step::Health { from, to, reason } => {
                    match to {
                        Health::Unhealthy => {
                            tracing::warn!(program = %name, %from, %to, %reason, "health")
                        }
                        _ => tracing::info!(program = %name, %from, %to, %reason, "health"),
                    }
                    self.publish_health(name, &reason);
                }
                Step::Ready(ready) => {
                    tracing::info!(program = %name, ready, "readiness");
                    self.publish_health(name, if ready { "ready" } else { "not ready" });
                    changed = true;
                }
                // While shutting down, nothing is started again.
                Step::Restart(_) if self.shutdown.is_some() => {}
                Step::Restart(reason) => {
                    let changes = self.supervisor.restart_for(name, &reason, now);
                    self.publish_changes(changes);
                    changed = true;
                }
            }
        }
        changed
    }

    fn start_probe(&mut self, name: &str, probe: Probe, now: Instant) {
        let Some(monitored) = self.health.monitored.get_mut(name) else {
            return;
        };
        let timeout = self
            .jobs
            .get(name)
            .and_then(|meta| meta.spec.healthcheck.as_ref())
            .map_or(std::time::Duration::from_secs(2), |check| check.timeout);
        match probe {
            Probe::Exec(argv) => self.supervisor.spawn_probe(name, &argv, timeout, now),
            network => {
                let sender = self.health.sender.clone();
                let (name, pid) = (name.to_string(), monitored.pid);
                monitored.probe = Some(tokio::spawn(async move {
                    let found = crate::health::probe::run(network, timeout).await;
                    let _ = sender
                        .send(HealthMessage::Probe {
                            name,
                            pid,
                            ok: found.ok,
                            output: found.output,
                            time: unix_now(),
                        })
                        .await;
                }));
            }
        }
    }

    // ---- dependencies --------------------------------------------------------------------

    /// A program that reconcile is to start pulls in what it depends on: their run intent goes
    /// on (systemd's `Wants=`). A program that runs, or that ended and stays down, pulls in
    /// nothing, so a dependency can be stopped under it. Returns whether an intent changed.
    /// Only programs with `depends_on` are looked at.
    pub(super) fn pull_in_dependencies(
        &mut self,
        desired: &BTreeMap<String, Desired>,
        observed: &BTreeMap<String, Observed>,
    ) -> bool {
        let mut wanted: BTreeSet<String> = BTreeSet::new();
        for (name, want) in desired {
            if !want.spec.depends_on.is_empty() && will_start(want, observed.get(name)) {
                wanted.extend(dependencies_of(desired, name));
            }
        }
        let mut changed = false;
        for name in wanted {
            if let Some(program) = self.table.programs.get_mut(&name)
                && program.last_good.as_ref().is_some_and(|spec| spec.enabled)
                && !program.run
            {
                tracing::info!(program = %name, "started: a program that depends on it is to start");
                program.run = true;
                self.intent_changes.insert(name.clone());
                changed = true;
            }
        }
        changed
    }

    /// An operator start or restart of `name`: its dependencies that ended (EXITED, FATAL)
    /// run again, so a one-shot like a migration runs before the program it gates, every time.
    pub(super) fn rerun_dependencies(&mut self, name: &str, now: Instant) {
        // Most programs depend on nothing: then the table is not looked at.
        let depends = self
            .table
            .programs
            .get(name)
            .and_then(|program| program.last_good.as_ref())
            .is_some_and(|spec| !spec.depends_on.is_empty());
        if !depends {
            return;
        }
        let desired = self.table.desired();
        for dependency in dependencies_of(&desired, name) {
            let ended = self.supervisor.view(&dependency, now).is_some_and(|view| {
                matches!(view.state, ProcessState::Exited | ProcessState::Fatal)
            });
            if let Some(program) = self.table.programs.get_mut(&dependency)
                && program.last_good.as_ref().is_some_and(|spec| spec.enabled)
            {
                if !program.run {
                    program.run = true;
                    self.intent_changes.insert(dependency.clone());
                }
                if ended {
                    program.start_epoch += 1;
                }
            }
        }
    }

    /// Keeps what the last converge found (holds, boot waves) for status and `/ready`, and
    /// publishes the holds that changed.
    pub(super) fn keep_holds(
        &mut self,
        holds: Holds,
        desired: &BTreeMap<String, Desired>,
        observed: &BTreeMap<String, Observed>,
    ) {
        let changed: Vec<String> = holds
            .iter()
            .filter(|(name, hold)| self.health.holds.get(*name) != Some(hold))
            .map(|(name, _)| name.clone())
            .chain(
                self.health
                    .holds
                    .keys()
                    .filter(|name| !holds.contains_key(*name))
                    .cloned(),
            )
            .collect();
        let old = std::mem::replace(&mut self.health.holds, holds);
        for name in changed {
            let reason = match self.health.holds.get(&name) {
                Some(Hold {
                    blocked: Some(reason),
                    ..
                }) => {
                    tracing::warn!(program = %name, "{reason}");
                    reason.clone()
                }
                Some(hold) => format!("waiting for {}", hold.waiting_for.join(", ")),
                None if old.contains_key(&name) => "its dependencies allow it to start".to_string(),
                None => continue,
            };
            self.publish_health(&name, &reason);
        }
        self.health.boot = match &self.boot {
            BootWaves::Done => None,
            BootWaves::Wave { priority, .. } => Some(BootHold {
                priority: *priority,
                unsettled: self.boot.waiting_for(desired, observed, &self.health.holds),
                lowered: desired
                    .iter()
                    .filter(|(_, want)| want.boot_priority < want.spec.priority)
                    .map(|(name, want)| (name.clone(), want.boot_priority))
                    .collect(),
            }),
        };
    }

    // ---- what status shows ---------------------------------------------------------------

    /// Whether the job's process is ready: RUNNING, and its tracker (if it has one) says so.
    pub(super) fn is_ready(&self, name: &str, state: ProcessState, pid: Option<u32>) -> bool {
        if state != ProcessState::Running {
            return false;
        }
        match self.health.monitored.get(name) {
            Some(monitored) => Some(monitored.pid) == pid && monitored.tracker.ready(),
            None => self
                .jobs
                .get(name)
                .is_none_or(|meta| !Tracker::wanted(&meta.spec)),
        }
    }

    /// A program's health as status shows it. `monitored` is its tracker, if any (the status
    /// of all programs walks them in order).
    pub(super) fn health_view<'a>(
        &'a self,
        name: &str,
        spec: Option<&ProgramSpec>,
        state: ProcessState,
        pid: Option<u32>,
        monitored: Option<&'a Monitored>,
        run: bool,
    ) -> HealthView<'a> {
        let monitored = monitored.filter(|monitored| Some(monitored.pid) == pid);
        let ready = state == ProcessState::Running
            && match monitored {
                Some(monitored) => monitored.tracker.ready(),
                None => spec.is_none_or(|spec| !Tracker::wanted(spec)),
            };
        let mut view = HealthView {
            health: monitored.and_then(|monitored| monitored.tracker.health()),
            last_probe: monitored.and_then(|monitored| monitored.tracker.last_probe()),
            ready,
            status_text: monitored.and_then(|monitored| monitored.tracker.status_text()),
            waiting_for: &[],
            blocked: None,
        };
        let has_process = matches!(
            state,
            ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
        );
        if has_process || !run {
            return view;
        }
        if let Some(hold) = self.health.holds.get(name) {
            view.waiting_for = &hold.waiting_for;
            view.blocked = hold.blocked.as_deref();
        } else if let (Some(boot), Some(spec)) = (&self.health.boot, spec) {
            let priority = boot.lowered.get(name).copied().unwrap_or(spec.priority);
            if priority > boot.priority && spec.enabled {
                view.waiting_for = &boot.unsettled;
            }
        }
        view
    }

    /// Publishes a `health` event: the program's health, readiness and what it waits for now.
    pub(super) fn publish_health(&mut self, name: &str, reason: &str) {
        let now = Instant::now();
        let Some(program) = self.table.programs.get(name) else {
            return;
        };
        let view = self.supervisor.view(name, now);
        let (state, pid) = view
            .as_ref()
            .map_or((ProcessState::Stopped, None), |view| (view.state, view.pid));
        let health = self.health_view(
            name,
            program.last_good.as_deref(),
            state,
            pid,
            self.health.monitored.get(name),
            program.run,
        );
        self.publish(Event::Health {
            id: program.id,
            name: name.to_string(),
            health: health.health,
            ready: health.ready,
            waiting_for: health.waiting_for.to_vec(),
            reason: reason.to_string(),
            time: unix_now(),
        });
    }

    // ---- GET /ready ----------------------------------------------------------------------

    /// 200 when every program that should run is ready (a one-shot that completed counts),
    /// else 503; `names` (a caller with a valid token) also says which are not and why.
    pub(super) fn readiness(&self, names: bool) -> Reply {
        let now = Instant::now();
        let mut not_ready = Vec::new();
        for (name, program) in &self.table.programs {
            let Some(spec) = &program.last_good else {
                continue;
            };
            if !(spec.enabled && program.run) {
                continue;
            }
            let view = self.supervisor.view(name, now);
            let (state, pid, last_exit) = view
                .as_ref()
                .map_or((ProcessState::Stopped, None, None), |view| {
                    (view.state, view.pid, view.last_exit)
                });
            let completed = state == ProcessState::Exited
                && matches!(last_exit, Some(crate::supervisor::ExitInfo::Code(code)) if spec.exitcodes.contains(&code));
            let health = self.health_view(
                name,
                Some(spec),
                state,
                pid,
                self.health.monitored.get(name),
                program.run,
            );
            if health.ready || completed {
                continue;
            }
            if !names {
                not_ready.push(json!(null));
                break;
            }
            let reason = match (health.blocked, health.waiting_for.is_empty(), health.health) {
                (Some(blocked), _, _) => blocked.to_string(),
                (None, false, _) => format!("waiting for {}", health.waiting_for.join(", ")),
                (None, true, Some(health)) if state == ProcessState::Running => {
                    format!("health {health}")
                }
                _ => state.as_str().to_string(),
            };
            not_ready.push(json!({
                "id": program.id,
                "name": name,
                "status": state,
                "health": health.health,
                "waiting_for": health.waiting_for,
                "reason": reason,
            }));
        }
        if self.shutdown.is_some() {
            return Err(Failure::new(
                FailureKind::Unavailable,
                "not_ready",
                "not ready: the daemon is shutting down",
            ));
        }
        if not_ready.is_empty() {
            let mut answer = Answer::ok(json!({ "ready": true }));
            answer.message = "ready".to_string();
            return Ok(answer);
        }
        if !names {
            return Err(Failure::new(
                FailureKind::Unavailable,
                "not_ready",
                "not ready",
            ));
        }
        let listed: Vec<String> = not_ready
            .iter()
            .filter_map(|item| item["name"].as_str().map(str::to_string))
            .collect();
        Err(Failure::new(
            FailureKind::Unavailable,
            "not_ready",
            format!("not ready: {}", listed.join(", ")),
        )
        .with_details(json!({ "not_ready": not_ready })))
    }
}
