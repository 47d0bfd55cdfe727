//! Convergence: programs.d into the program table (`rescan`), the table and the supervisor's
//! jobs into a plan (`converge`, the pure [`crate::reconcile`]) and the plan back into the
//! supervisor (`apply`); what each change publishes on `/events`; and what the state folder
//! records after each event (`persist`: run intents, running processes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::reconcile::{Action, Observed, lower_boot_priorities, reconcile};
use crate::spec::{ProgramSpec, SystemUsers};
use crate::store::Reuse;
use crate::supervisor::{ExitInfo, ProcessState, StateChange};

use super::persist::{self, GenerationRecord, Intents, RunningRecord};
use super::programs::{ChangeKind, ConfigEvent, Source};
use super::request::Answer;
use super::{Daemon, Event, JobMeta, phase_of, unix_now};

impl Daemon {
    // ---- programs.d ----------------------------------------------------------------------

    /// Scans programs.d into the program table. `reuse`: see [`Scanner::scan`]. Returns what
    /// changed (program, kind of change).
    pub(super) fn rescan(&mut self, reuse: Reuse) -> Vec<(String, ChangeKind)> {
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
        let generations = &self.generations;
        let events = self.table.apply(
            &snapshot,
            |name| ids.get(name).unwrap_or(0),
            |name, spec| match saved.as_ref().and_then(|intents| intents.get(name)) {
                Some(run) => *run && spec.is_some_and(|spec| spec.enabled),
                None => spec.is_some_and(|spec| spec.boot && spec.enabled),
            },
            |name, text| persist::first_generation(generations.get(name), text),
            |name| match api_sources.get(name) {
                Some(author) => (Source::Api, author.clone()),
                None => (Source::File, None),
            },
            SystemTime::now(),
        );
        if !events.is_empty() {
            self.intents_dirty = true;
            self.generations_dirty = true;
            self.table_changed = true;
        }
        let mut changes = Vec::with_capacity(events.len());
        for event in events {
            self.api_sources.remove(&event.name);
            let text = match event.change.change {
                ChangeKind::Removed => None,
                ChangeKind::Created | ChangeKind::Edited => self
                    .table
                    .programs
                    .get(&event.name)
                    .and_then(|program| program.entry.text.as_deref()),
            };
            self.generations.insert(
                event.name.clone(),
                GenerationRecord {
                    generation: event.change.generation,
                    text: persist::text_hash(text),
                },
            );
            changes.push((event.name.clone(), event.change.change));
            self.publish_config(event);
        }
        changes
    }

    /// `Request::Rescan`: a full rescan now, answered with the programs added, changed and
    /// removed (supervisord's `reloadConfig`).
    pub(super) fn rescan_now(&mut self) -> Answer {
        tracing::info!("rescanning programs.d on request");
        let changes = self.rescan(Reuse::Nothing);
        let named = |kind: ChangeKind| {
            changes
                .iter()
                .filter(|(_, change)| *change == kind)
                .map(|(name, _)| name.clone())
                .collect::<Vec<_>>()
        };
        Answer::ok(serde_json::json!({
            "added": named(ChangeKind::Created),
            "changed": named(ChangeKind::Edited),
            "removed": named(ChangeKind::Removed),
        }))
    }

    /// After the table changed: a job whose spec is the program's last good one (an edit that
    /// changes nothing the job uses, such as `enabled = true` written out where it was the
    /// default) runs that generation, so its `observed_generation` follows. Pointers first:
    /// the whole spec is compared only for a job given a new version, once.
    pub(super) fn sync_observed_generations(&mut self) {
        for (name, meta) in &mut self.jobs {
            let Some(program) = self.table.programs.get(name) else {
                continue;
            };
            let Some(good) = &program.last_good else {
                continue;
            };
            if meta.generation == program.good_generation {
                continue;
            }
            if Arc::ptr_eq(&meta.spec, good) || *meta.spec == **good {
                meta.spec = Arc::clone(good);
                meta.generation = program.good_generation;
            }
        }
    }

    /// Gives an event its id, keeps it in the ring, and sends it to the streams.
    pub(super) fn publish(&mut self, event: Event) {
        let published = self.ring.push(event);
        let _ = self.events.send(published);
    }

    pub(super) fn publish_config(&mut self, event: ConfigEvent) {
        let ConfigEvent {
            name,
            id,
            change,
            log_diff,
        } = event;
        match change.change {
            ChangeKind::Created => {
                tracing::info!(program = %name, id, source = ?change.source, by = change.by.as_deref().unwrap_or("-"), "program added\n{}", log_diff)
            }
            ChangeKind::Edited => {
                tracing::info!(program = %name, id, source = ?change.source, by = change.by.as_deref().unwrap_or("-"), generation = change.generation, "program changed\n{}", log_diff)
            }
            ChangeKind::Removed => {
                tracing::info!(program = %name, id, source = ?change.source, by = change.by.as_deref().unwrap_or("-"), "program removed\n{}", log_diff)
            }
        }
        let effect = match self.table.programs.get(&name) {
            Some(program) if program.last_good.is_some() => "the last good version stays in effect",
            _ => "it has never been valid, so nothing of it runs",
        };
        for problem in &change.problems {
            tracing::error!(program = %name, "{problem}; {effect}");
        }
        self.publish(Event::Config {
            id,
            name,
            change: change.change,
            source: change.source,
            generation: change.generation,
            problems: change.problems,
        });
    }

    pub(super) fn publish_changes(&mut self, changes: Vec<StateChange>) {
        if changes.is_empty() {
            return;
        }
        self.track(&changes, Instant::now());
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
            self.publish(Event::State {
                id,
                name: change.name,
                from: change.from,
                to: change.to,
                reason: change.reason,
                time,
            });
        }
    }

    // ---- convergence ---------------------------------------------------------------------

    pub(super) fn observed(&self, now: Instant) -> BTreeMap<String, Observed> {
        self.supervisor
            .statuses(now)
            .filter_map(|status| {
                let meta = self.jobs.get(&status.name)?;
                let succeeded = status.state == ProcessState::Exited
                    && matches!(status.last_exit, Some(ExitInfo::Code(code)) if meta.spec.exitcodes.contains(&code));
                Some((
                    status.name.clone(),
                    Observed {
                        phase: phase_of(status.state),
                        spec: Arc::clone(&meta.spec),
                        start_epoch: meta.start_epoch,
                        restart_epoch: meta.restart_epoch,
                        ready: self.is_ready(&status.name, status.state, status.pid),
                        succeeded,
                        fatal: status.state == ProcessState::Fatal,
                    },
                ))
            })
            .collect()
    }

    pub(super) fn converge(&mut self, now: Instant) {
        // A few passes: an action can make the next one possible (a boot wave opening, a
        // dependency started).
        for pass in 0..4 {
            let mut desired = self.table.desired();
            let observed = self.observed(now);
            if self.pull_in_dependencies(&desired, &observed) {
                desired = self.table.desired();
            }
            lower_boot_priorities(&mut desired);
            let holds = crate::health::depends::holds(&desired, &observed);
            let (gate, wake) = self.boot.advance(&desired, &observed, &holds, now);
            self.boot_wake = wake;
            let mut plan = reconcile(&desired, &observed, gate, &holds);
            // A program the last run left processes of starts once they are gone.
            if !self.leftovers.is_empty() {
                plan.retain(|action| {
                    !matches!(action, Action::Start { .. } | Action::Restart { .. })
                        || !self.leftovers.holds(action.name())
                });
            }
            if plan.is_empty() || pass == 3 {
                self.keep_holds(holds, &desired, &observed);
                if plan.is_empty() {
                    break;
                }
            }
            for action in plan {
                self.apply(action, now);
            }
        }
        if self.table_changed {
            self.table_changed = false;
            self.sync_observed_generations();
        }
    }

    pub(super) fn apply(&mut self, action: Action, now: Instant) {
        let name = action.name().to_string();
        // The action's kind and program, not the action: its spec holds environment values,
        // which never go to the daemon's log.
        let kind = match &action {
            Action::Start { .. } => "start",
            Action::Restart { .. } => "restart",
            Action::Update { .. } => "update",
            Action::Stop { .. } => "stop",
            Action::Remove { .. } => "remove",
        };
        tracing::debug!(action = kind, program = %name, "applying");
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
                self.retrack(&spec, now);
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
    pub(super) fn record_job(&mut self, name: &str, spec: &Arc<ProgramSpec>, starting: bool) {
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

    /// Saves every program's run intent now.
    pub(super) fn save_intents(&mut self) -> std::io::Result<()> {
        let intents: Intents = self
            .table
            .programs
            .iter()
            .map(|(name, program)| (name.clone(), program.run))
            .collect();
        self.state.save_intents(&intents)?;
        self.intents_dirty = false;
        Ok(())
    }

    pub(super) fn persist(&mut self) {
        // Changes made by files (a new program's boot intent, a disabled one's, generations),
        // saved after the event; tried again after the next one when the disk was full.
        let generations = if self.generations_dirty {
            self.state
                .save_generations(&self.generations)
                .map(|()| self.generations_dirty = false)
        } else {
            Ok(())
        };
        let intents = if self.intents_dirty {
            self.save_intents()
        } else {
            Ok(())
        };
        let failing = generations
            .and(intents)
            .and_then(|()| self.ids.save_unsaved())
            .err();
        match (&failing, self.state_failing) {
            (Some(error), false) => {
                tracing::error!(%error, "cannot save the state folder; trying again after each event")
            }
            (None, true) => tracing::info!("the state folder is saved again"),
            _ => {}
        }
        self.state_failing = failing.is_some();
        // Forget the metadata of jobs the supervisor has dropped (removed programs).
        let supervisor = &self.supervisor;
        self.jobs.retain(|name, _| supervisor.has_job(name));

        // This runs after every event: with 1,000 programs, rebuilding the record each time
        // (strings, a /proc read for new pids) cost more than the event itself. Compare first,
        // without allocating; rebuild only when a process or its stop settings changed.
        if self.running_unchanged() {
            return;
        }
        // What the last run left and is still being ended stays recorded.
        let mut running = self.leftover_records.clone();
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
    pub(super) fn stop_settings(&self, name: &str) -> (&'static str, f64) {
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
    pub(super) fn running_unchanged(&self) -> bool {
        let mut count = self.leftover_records.len();
        if self
            .leftover_records
            .iter()
            .any(|(name, record)| self.recorded_running.get(name) != Some(record))
        {
            return false;
        }
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
}
