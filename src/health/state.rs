//! The pure core of health and readiness for one process: probe results, log lines seen and
//! sd_notify messages in; health, readiness and what to do (probe now, restart) out. No I/O, no
//! clock of its own: every input carries `now`, and [`Tracker::next_deadline`] tells the caller
//! when to call [`Tracker::due`]. Tested with tables (`health/tests.rs`), like the supervisor's
//! state machine.
//!
//! The rules (SPEC §12, where it is silent: Docker's and Kubernetes' habits, docs/HEALTH.md):
//! - Probes start when the process is RUNNING (after `startsecs`) and then run every
//!   `interval`, counted from the start of the one before; one at a time.
//! - A pass makes it healthy and resets the count of failures. A failure within
//!   `start_period` of the process's start does not count; after it, `retries` failures in a
//!   row make it unhealthy, and with `on_unhealthy = "restart"` it is restarted (once: the new
//!   process gets a new tracker).
//! - Ready: RUNNING, and its first probe passed, or its `ready_log_line` was seen, or it sent
//!   `READY=1` (whichever of these it has; any one is enough), and not unhealthy. Readiness is
//!   latched by that first signal; only unhealthiness takes it away again (and a pass gives it
//!   back), as Kubernetes takes an unready pod out of service without killing it.
//! - The watchdog (`watchdog_sec`, with `notify`) is armed when start-up is over, at `READY=1`
//!   (as systemd does), or at the first `WATCHDOG=1`; each `WATCHDOG=1` moves its deadline;
//!   `WATCHDOG=trigger` or a deadline passed restarts it.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::spec::{Healthcheck, OnUnhealthy, Probe, ProgramSpec};

/// The longest probe output kept for `last_probe` (and the longest `STATUS=` text).
pub const MAX_OUTPUT: usize = 1024;

/// A program's health, while it has a health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// No probe has passed yet, nor have enough failed.
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl fmt::Display for Health {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What the last probe found (status's `last_probe`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LastProbe {
    /// When it ended, unix seconds.
    pub time: f64,
    pub ok: bool,
    /// What it said, at most [`MAX_OUTPUT`] bytes.
    pub output: String,
}

/// One sd_notify datagram (or several merged), as far as the daemon acts on it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyMessage {
    /// `READY=1`.
    pub ready: bool,
    /// `STATUS=…`: the last one.
    pub status: Option<String>,
    /// `WATCHDOG=1`.
    pub watchdog: bool,
    /// `WATCHDOG=trigger`.
    pub watchdog_trigger: bool,
}

impl NotifyMessage {
    /// Reads a datagram: newline-separated `KEY=VALUE` assignments; unknown keys are ignored.
    pub fn parse(datagram: &[u8]) -> NotifyMessage {
        let mut message = NotifyMessage::default();
        for line in datagram.split(|byte| *byte == b'\n') {
            let Some(equals) = line.iter().position(|byte| *byte == b'=') else {
                continue;
            };
            let (key, value) = (&line[..equals], &line[equals + 1..]);
            match key {
                b"READY" => message.ready |= value == b"1",
                b"STATUS" => message.status = Some(bounded_text(value)),
                b"WATCHDOG" if value == b"1" => message.watchdog = true,
                b"WATCHDOG" if value == b"trigger" => message.watchdog_trigger = true,
                _ => {}
            }
        }
        message
    }

    /// Adds a later message to this one.
    pub fn merge(&mut self, later: NotifyMessage) {
        self.ready |= later.ready;
        self.watchdog |= later.watchdog;
        self.watchdog_trigger |= later.watchdog_trigger;
        if later.status.is_some() {
            self.status = later.status;
        }
    }
}

/// Text from a program, as UTF-8 (invalid bytes replaced), at most [`MAX_OUTPUT`] bytes, cut on
/// a character boundary, without trailing whitespace.
pub fn bounded_text(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_OUTPUT + 4)]).into_owned();
    if text.len() > MAX_OUTPUT {
        let mut cut = MAX_OUTPUT;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    text.truncate(text.trim_end().len());
    text
}

/// What the caller is to do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run this probe now and report its result with [`Tracker::on_probe`].
    Probe(Probe),
    /// Health went from one value to another (an event).
    Health {
        from: Health,
        to: Health,
        reason: String,
    },
    /// Readiness changed (an event).
    Ready(bool),
    /// Restart the program: unhealthy, or its watchdog expired.
    Restart(String),
}

#[derive(Debug, Clone)]
struct CheckState {
    check: Healthcheck,
    health: Health,
    /// Counted failures in a row.
    failures: u32,
    /// When the next probe is due; `None` before RUNNING and while one runs.
    next: Option<Instant>,
    /// When the probe that runs now began.
    probing: Option<Instant>,
    last: Option<LastProbe>,
}

#[derive(Debug, Clone, Copy)]
struct Watchdog {
    period: Duration,
    deadline: Option<Instant>,
    /// It was armed (and stays disarmed once it has fired).
    armed: bool,
}

/// Health and readiness of one process of a program.
#[derive(Debug, Clone)]
pub struct Tracker {
    check: Option<CheckState>,
    /// It has a `ready_log_line`.
    line: bool,
    /// It has `notify = true`.
    notify: bool,
    watchdog: Option<Watchdog>,
    /// When the process was spawned.
    started: Instant,
    running: bool,
    /// The first readiness signal came.
    signalled: bool,
    status_text: Option<String>,
}

impl Tracker {
    /// A tracker for a process of `spec` spawned at `now`; `None` when the program has none of
    /// the fields that need one (it is then ready when RUNNING, and costs nothing).
    pub fn new(spec: &ProgramSpec, now: Instant) -> Option<Tracker> {
        if !Tracker::wanted(spec) {
            return None;
        }
        let process = &spec.process;
        Some(Tracker {
            check: spec.healthcheck.as_deref().cloned().map(CheckState::new),
            line: process.ready_log_line.is_some(),
            notify: process.notify,
            // Armed once start-up is over (systemd: READY=1), or at the first ping.
            watchdog: process.watchdog.map(|period| Watchdog {
                period,
                deadline: None,
                armed: false,
            }),
            started: now,
            running: false,
            signalled: false,
            status_text: None,
        })
    }

    /// Whether a program's processes get a tracker: it has a health check, a ready line or
    /// `notify`. Without, a process is ready when it is RUNNING.
    pub fn wanted(spec: &ProgramSpec) -> bool {
        spec.healthcheck.is_some() || spec.process.ready_log_line.is_some() || spec.process.notify
    }

    pub fn health(&self) -> Option<Health> {
        self.check.as_ref().map(|state| state.health)
    }

    pub fn last_probe(&self) -> Option<&LastProbe> {
        self.check.as_ref().and_then(|state| state.last.as_ref())
    }

    pub fn status_text(&self) -> Option<&str> {
        self.status_text.as_deref()
    }

    pub fn ready(&self) -> bool {
        let needs_signal = self.check.is_some() || self.line || self.notify;
        self.running
            && (self.signalled || !needs_signal)
            && self.health() != Some(Health::Unhealthy)
    }

    /// The earliest instant at which [`Tracker::due`] has something to do.
    pub fn next_deadline(&self) -> Option<Instant> {
        let probe = self.check.as_ref().and_then(|state| state.next);
        let watchdog = self.watchdog.and_then(|watchdog| watchdog.deadline);
        probe.into_iter().chain(watchdog).min()
    }

    /// The process reached RUNNING: probing begins.
    pub fn on_running(&mut self, now: Instant) -> Vec<Step> {
        let was_ready = self.ready();
        self.running = true;
        if let Some(state) = &mut self.check
            && state.probing.is_none()
        {
            state.next = Some(now);
        }
        let mut steps = self.due(now);
        self.ready_step(was_ready, &mut steps);
        steps
    }

    /// Acts on the deadlines that have come: a probe to run, a watchdog that expired.
    pub fn due(&mut self, now: Instant) -> Vec<Step> {
        let mut steps = Vec::new();
        if let Some(state) = &mut self.check
            && state.next.is_some_and(|next| next <= now)
        {
            state.next = None;
            state.probing = Some(now);
            steps.push(Step::Probe(state.check.probe.clone()));
        }
        if let Some(watchdog) = &mut self.watchdog
            && watchdog.deadline.is_some_and(|deadline| deadline <= now)
        {
            // Once: the restart ends this process, and the next one has a tracker of its own.
            watchdog.deadline = None;
            steps.push(Step::Restart(format!(
                "watchdog: no WATCHDOG=1 for {}",
                seconds(watchdog.period)
            )));
        }
        steps
    }

    /// The probe begun at the last [`Step::Probe`] ended.
    pub fn on_probe(&mut self, ok: bool, output: String, time: f64, now: Instant) -> Vec<Step> {
        let was_ready = self.ready();
        let mut steps = Vec::new();
        let in_start_period = now < self.started + self.check_start_period();
        let Some(state) = &mut self.check else {
            return steps;
        };
        let began = state.probing.take().unwrap_or(now);
        if self.running {
            state.next = Some((began + state.check.interval).max(now));
        }
        let from = state.health;
        if ok {
            state.failures = 0;
            state.health = Health::Healthy;
            self.signalled = true;
        } else if !in_start_period {
            state.failures = state.failures.saturating_add(1);
            if state.failures >= state.check.retries {
                state.health = Health::Unhealthy;
            }
        }
        let to = state.health;
        if from != to {
            let reason = match to {
                Health::Healthy => format!("probe passed: {}", summary(&output)),
                _ => format!(
                    "{} probe{} failed in a row: {}",
                    state.failures,
                    if state.failures == 1 { "" } else { "s" },
                    summary(&output)
                ),
            };
            if to == Health::Unhealthy && state.check.on_unhealthy == OnUnhealthy::Restart {
                steps.push(Step::Health {
                    from,
                    to,
                    reason: reason.clone(),
                });
                steps.push(Step::Restart(format!("unhealthy: {reason}")));
            } else {
                steps.push(Step::Health { from, to, reason });
            }
        }
        state.last = Some(LastProbe { time, ok, output });
        self.ready_step(was_ready, &mut steps);
        steps
    }

    /// A line of output contained the program's `ready_log_line`.
    pub fn on_log_line(&mut self) -> Vec<Step> {
        let was_ready = self.ready();
        self.signalled = true;
        let mut steps = Vec::new();
        self.ready_step(was_ready, &mut steps);
        steps
    }

    /// The program sent an sd_notify message.
    pub fn on_notify(&mut self, message: NotifyMessage, now: Instant) -> Vec<Step> {
        let was_ready = self.ready();
        let mut steps = Vec::new();
        if message.ready {
            self.signalled = true;
        }
        if let Some(status) = message.status {
            self.status_text = Some(status);
        }
        if let Some(watchdog) = &mut self.watchdog {
            if !watchdog.armed && (message.ready || message.watchdog) {
                watchdog.armed = true;
                watchdog.deadline = Some(now + watchdog.period);
            }
            if watchdog.deadline.is_some() {
                if message.watchdog_trigger {
                    watchdog.deadline = None;
                    steps.push(Step::Restart("watchdog: WATCHDOG=trigger".to_string()));
                } else if message.watchdog {
                    watchdog.deadline = Some(now + watchdog.period);
                }
            }
        }
        self.ready_step(was_ready, &mut steps);
        steps
    }

    /// The program's health check changed while this process runs (an edit that applies
    /// live): the new check starts from "starting", probing at once if RUNNING.
    pub fn set_check(&mut self, check: Option<&Healthcheck>, now: Instant) -> Vec<Step> {
        if self.check.as_ref().map(|state| &state.check) == check {
            return Vec::new();
        }
        let was_ready = self.ready();
        self.check = check.cloned().map(CheckState::new);
        if self.running
            && let Some(state) = &mut self.check
        {
            state.next = Some(now);
        }
        let mut steps = self.due(now);
        self.ready_step(was_ready, &mut steps);
        steps
    }

    fn check_start_period(&self) -> Duration {
        self.check
            .as_ref()
            .map_or(Duration::ZERO, |state| state.check.start_period)
    }

    fn ready_step(&self, was_ready: bool, steps: &mut Vec<Step>) {
        let ready = self.ready();
        if ready != was_ready {
            steps.push(Step::Ready(ready));
        }
    }
}

impl CheckState {
    fn new(check: Healthcheck) -> CheckState {
        CheckState {
            check,
            health: Health::Starting,
            failures: 0,
            next: None,
            probing: None,
            last: None,
        }
    }
}

/// A probe's output in one short line, for reasons and events.
fn summary(output: &str) -> String {
    let line = output.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        return "(no output)".to_string();
    }
    let mut cut = line.len().min(200);
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    line[..cut].to_string()
}

fn seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0}s")
    } else {
        format!("{seconds}s")
    }
}
