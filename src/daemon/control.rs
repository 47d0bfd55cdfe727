//! Start, stop and restart (the operator's run intent), signals and clearing logs (what an
//! operator does to a process), and the replies held back until a program reaches the state a
//! request waits for.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use nix::sys::signal::Signal;

use serde_json::{Value, json};
use tokio::sync::oneshot;

use crate::spec::{ProgramSpec, Stream};
use crate::supervisor::{ProcessState, SignalRefused};

use super::Daemon;
use super::request::{Answer, Failure, FailureKind, Reply};
use super::views;

/// A reply held back until a program reaches a state.
pub(super) struct Waiter {
    pub(super) name: String,
    pub(super) until: Until,
    pub(super) answer: Answer,
    pub(super) reply: oneshot::Sender<Reply>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    /// RUNNING, or failed (FATAL, EXITED), or stopped meanwhile; not while its dependencies
    /// hold it back.
    Up,
    /// No process and none coming: STOPPED, EXITED, FATAL.
    Down,
    /// The job is gone.
    Gone,
}

impl Daemon {
    /// Looks a program up for start/stop/restart: it must exist and have a valid version.
    pub(super) fn controllable(&self, id: &str) -> Result<(String, Arc<ProgramSpec>), Failure> {
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
    /// that is not enabled fails), and not held back by processes the last run left (503 with
    /// `Retry-After`: they are being stopped, with their grace).
    pub(super) fn startable(&self, id: &str) -> Result<String, Failure> {
        let (name, spec) = self.controllable(id)?;
        if !spec.enabled {
            return Err(
                Failure::new(FailureKind::Conflict, "not_enabled", "program not enabled")
                    .with_details(json!({ "name": name, "hint": "enable it first" })),
            );
        }
        if let Some(wait) = self.leftovers.retry_after(&name, Instant::now()) {
            let seconds = wait.as_secs_f64().ceil() as u64;
            return Err(Failure::new(
                FailureKind::Unavailable,
                "recovering",
                format!(
                    "processes the last run of the daemon left are still being stopped; {name} starts once they are gone (at most {seconds} s)"
                ),
            )
            .with_details(json!({ "name": name, "retry_after": seconds }))
            .with_retry_after(seconds));
        }
        Ok(name)
    }

    pub(super) fn start_program(
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
        let state = self
            .supervisor
            .status(&name, now)
            .map(|status| status.state);
        let already = matches!(
            state,
            Some(ProcessState::Starting | ProcessState::Running | ProcessState::Backoff)
        );
        if let Err(failure) = self.set_intent(&name, true) {
            let _ = reply.send(Err(failure));
            return;
        }
        if let Some(program) = self.table.programs.get_mut(&name)
            && !already
        {
            program.start_epoch += 1;
        }
        if !already {
            // What it depends on starts first (SPEC §12), and a one-shot that ended runs again.
            self.rerun_dependencies(&name, now);
        }
        self.converge(now);
        let answer = self.control_answer(&name, !already);
        self.reply_when(name, Until::Up, wait, answer, reply);
    }

    pub(super) fn stop_program(
        &mut self,
        id: &str,
        wait: bool,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
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
        if let Err(failure) = self.set_intent(&name, false) {
            let _ = reply.send(Err(failure));
            return;
        }
        self.converge(now);
        let answer = self.control_answer(&name, active);
        self.reply_when(name, Until::Down, wait, answer, reply);
    }

    pub(super) fn restart_program(
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
        if let Err(failure) = self.set_intent(&name, true) {
            let _ = reply.send(Err(failure));
            return;
        }
        if let Some(program) = self.table.programs.get_mut(&name) {
            program.restart_epoch += 1;
            program.start_epoch += 1;
        }
        self.rerun_dependencies(&name, now);
        self.converge(now);
        let answer = self.control_answer(&name, true);
        self.reply_when(name, Until::Up, wait, answer, reply);
    }

    /// Sets a program's run intent and saves the intents before anything acts on it: an
    /// acknowledged start or stop survives a crash. When they cannot be saved (507 on a full
    /// disk) the intent is put back and nothing changes.
    fn set_intent(&mut self, name: &str, run: bool) -> Result<(), Failure> {
        let Some(program) = self.table.programs.get_mut(name) else {
            return Ok(());
        };
        if program.run == run && !self.intents_dirty {
            return Ok(());
        }
        let before = program.run;
        program.run = run;
        match self.save_intents() {
            Ok(()) => Ok(()),
            Err(error) => {
                if let Some(program) = self.table.programs.get_mut(name) {
                    program.run = before;
                }
                Err(super::writes::state_failure(
                    &self.config.state_dir.join("intents.json"),
                    &error,
                ))
            }
        }
    }

    /// Sends a signal to the program's main process (`Request::Signal`: `POST
    /// /programs/{id}/signal`, supervisorctl's `signal`); 409 `not_running` when it has none.
    /// Changes no intent and no file.
    pub(super) fn signal_program(&mut self, id: &str, signal: Signal) -> Reply {
        let (name, _) = self.controllable(id)?;
        let program_id = self.table.programs.get(&name).map(|program| program.id);
        let signal_name = signal.as_str().trim_start_matches("SIG");
        match self.supervisor.signal(&name, signal) {
            Ok(pid) => Ok(Answer::ok(json!({
                "id": program_id,
                "name": name,
                "signal": signal_name,
                "number": signal as i32,
                "pid": pid,
            }))),
            Err(SignalRefused::NotRunning) => {
                let state = self
                    .supervisor
                    .status(&name, Instant::now())
                    .map_or(ProcessState::Stopped, |status| status.state);
                Err(Failure::new(
                    FailureKind::Conflict,
                    "not_running",
                    format!("program not running ({state}): {name} has no process to signal"),
                )
                .with_details(json!({ "id": program_id, "name": name, "status": state })))
            }
            Err(SignalRefused::Failed(error)) => Err(Failure::new(
                FailureKind::Internal,
                "signal_failed",
                format!("cannot send {signal_name} to {name}: {error}"),
            )),
        }
    }

    /// Empties the program's log files (`Request::ClearLogs`).
    pub(super) fn clear_logs(&mut self, id: &str) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let name = program.entry.name.clone();
        let program_id = program.id;
        let spec = self
            .jobs
            .get(&name)
            .map(|meta| Arc::clone(&meta.spec))
            .or_else(|| program.last_good.clone());
        let mut cleared: Vec<PathBuf> = Vec::new();
        if let Some(spec) = spec {
            for stream in [Stream::Stdout, Stream::Stderr] {
                if let Some(path) = spec.log_path(&self.config.log_dir, stream)
                    && !cleared.contains(&path)
                {
                    self.supervisor.clear_log(&path).map_err(|error| {
                        Failure::new(
                            FailureKind::Internal,
                            "clear_failed",
                            format!("cannot clear the log {}: {error}", path.display()),
                        )
                    })?;
                    cleared.push(path);
                }
            }
        }
        tracing::info!(program = %name, files = ?cleared, "logs cleared");
        Ok(Answer::ok(json!({
            "id": program_id,
            "name": name,
            "cleared": cleared.iter().map(|path| path.to_string_lossy()).collect::<Vec<_>>(),
        })))
    }

    /// The answer to start, stop and restart (the status is added once the wait is over).
    pub(super) fn control_answer(&self, name: &str, changed: bool) -> Answer {
        let id = self.table.programs.get(name).map(|program| program.id);
        Answer::ok(json!({ "id": id, "name": name, "changed": changed }))
    }

    /// A start (or restart) that ended without the program running (FATAL, or not started
    /// because a dependency can no longer come up), with its reason and the status
    /// (`last_error`, `last_stderr`) in the details. 422: the request was carried out and the
    /// daemon is fine; the program, as written or in its environment, cannot run (README, "A
    /// start that does not start is an error").
    pub(super) fn start_failed(&self, name: &str, now: Instant) -> Failure {
        let program = self.table.programs.get(name);
        let status = program.map_or(Value::Null, |program| self.status_value(program, now));
        let state = status["status"].as_str().unwrap_or("STOPPED");
        let reason = status["last_error"]
            .as_str()
            .map(|error| format!(": {error}"))
            .unwrap_or_default();
        Failure::new(
            FailureKind::Unprocessable,
            "start_failed",
            format!("{name} did not start ({state}{reason})"),
        )
        .with_details(json!({
            "id": program.map(|program| program.id),
            "name": name,
            "status": status,
        }))
    }

    pub(super) fn reply_when(
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

    pub(super) fn answer_waiters(&mut self) {
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
            // Held back by its dependencies, it is on its way up until they allow it (or one
            // of them can no longer come up).
            let waiting = self
                .health
                .holds
                .get(&waiter.name)
                .is_some_and(|hold| hold.blocked.is_none());
            let done = match waiter.until {
                Until::Up => {
                    !waiting
                        && matches!(
                            state,
                            Some(
                                ProcessState::Running
                                    | ProcessState::Fatal
                                    | ProcessState::Exited
                                    | ProcessState::Stopped
                            ) | None
                        )
                }
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
            // Ended without the program running: FATAL, or held back by a dependency that can
            // no longer come up (SPEC §12).
            let blocked = self
                .health
                .holds
                .get(&waiter.name)
                .is_some_and(|hold| hold.blocked.is_some());
            if waiter.until == Until::Up && (state == Some(ProcessState::Fatal) || blocked) {
                let _ = waiter.reply.send(Err(self.start_failed(&waiter.name, now)));
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
