//! Convergence: programs.d into the program table (`rescan`), the table and the supervisor's
//! jobs into a plan (`converge`, the pure [`crate::reconcile`]) and the plan back into the
//! supervisor (`apply`); what each change publishes on `/events`; and what the state folder
//! records after each event (`persist`: run intents, running processes).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::reconcile::{Action, Observed, lower_boot_priorities, reconcile};
use crate::spec::{ProgramSpec, SystemUsers};
use crate::store::{Refreshed, Reuse};
use crate::supervisor::{ExitInfo, ProcessState, StateChange};

use super::persist::{self, GenerationRecord, Intents, RunningRecord};
use super::programs::{ApplyContext, ChangeKind, ConfigEvent, Source};
use super::request::Answer;
use super::{Daemon, Event, JobMeta, phase_of, unix_now};

/// What the program table is told of the programs it takes in, from the daemon's records.
struct TableInputs<'a> {
    ids: &'a crate::store::Ids,
    saved_intents: Option<&'a Intents>,
    api_sources: &'a BTreeMap<String, Option<Arc<str>>>,
    generations: &'a persist::Generations,
}

impl ApplyContext for TableInputs<'_> {
    fn id_of(&self, name: &str) -> u64 {
        self.ids.get(name).unwrap_or(0)
    }

    fn first_intent(&self, name: &str, spec: Option<&ProgramSpec>) -> bool {
        match self.saved_intents.and_then(|intents| intents.get(name)) {
            Some(run) => *run && spec.is_some_and(|spec| spec.enabled),
            None => spec.is_some_and(|spec| spec.boot && spec.enabled),
        }
    }

    fn first_generation(&self, name: &str, text: Option<&str>) -> u64 {
        persist::first_generation(self.generations.get(name), text)
    }

    fn source_of(&self, name: &str) -> (Source, Option<Arc<str>>) {
        match self.api_sources.get(name) {
            Some(author) => (Source::Api, author.clone()),
            None => (Source::File, None),
        }
    }
}

impl Daemon {
    // ---- programs.d ----------------------------------------------------------------------

    /// Scans programs.d into the program table. `reuse`: see [`Scanner::scan`]. Returns what
    /// changed (program, kind of change).
    pub(super) fn rescan(&mut self, reuse: Reuse) -> Vec<(String, ChangeKind)> {
        let began = Instant::now();
        // What is read again unchanged is shared with the table, not kept twice.
        let table = &self.table.programs;
        let (snapshot, stats) =
            self.scanner
                .scan_sharing(&self.config.programs_dir, &SystemUsers, reuse, &|name| {
                    table.get(name).map(|program| &program.entry)
                });
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
        let inputs = TableInputs {
            ids: &self.ids,
            saved_intents: self.saved_intents.as_ref(),
            api_sources: &self.api_sources,
            generations: &self.generations,
        };
        let events = self.table.apply(&snapshot, &inputs, SystemTime::now());
        self.take_config_events(events)
    }

    /// Reads the files of these programs alone into the program table: what an API write (its
    /// own file) and a watch hint naming program files need, at a cost that does not grow with
    /// the folder. Where that cannot stand for a scan (`depends_on` in use: its checks are over
    /// the whole folder), it is a reusing scan. Returns what changed, as [`Daemon::rescan`].
    pub(super) fn refresh(&mut self, names: &[String]) -> Vec<(String, ChangeKind)> {
        let began = Instant::now();
        let table = &self.table.programs;
        let refreshed =
            self.scanner
                .refresh_sharing(&self.config.programs_dir, &SystemUsers, names, &|name| {
                    table.get(name).map(|program| &program.entry)
                });
        let Refreshed::Entries(entries) = refreshed else {
            return self.rescan(Reuse::Unchanged);
        };
        tracing::debug!(
            files = entries.len(),
            micros = began.elapsed().as_micros(),
            "refreshed program files"
        );
        let present = entries
            .iter()
            .map(|(name, entry)| (name.as_str(), entry.is_some()));
        if let Err(error) = self.ids.sync_some(present) {
            tracing::error!(%error, "cannot save program ids");
        }
        let inputs = TableInputs {
            ids: &self.ids,
            saved_intents: self.saved_intents.as_ref(),
            api_sources: &self.api_sources,
            generations: &self.generations,
        };
        let events = self
            .table
            .apply_entries(&entries, &inputs, SystemTime::now());
        self.take_config_events(events)
    }

    /// After the table took in files: marks what must be saved, records each changed
    /// program's generation, logs and publishes each change. Returns what changed.
    fn take_config_events(&mut self, events: Vec<ConfigEvent>) -> Vec<(String, ChangeKind)> {
        if !events.is_empty() {
            self.table_changed = true;
        }
        let mut changes = Vec::with_capacity(events.len());
        for event in events {
            self.dirty.insert(event.name.clone());
            self.intent_changes.insert(event.name.clone());
            self.generation_changes.insert(event.name.clone());
            self.changed_programs.insert(event.name.clone());
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
        let names: Vec<String> = self.jobs.keys().cloned().collect();
        self.sync_observed_generations_of(names.iter().map(String::as_str));
    }

    /// [`Daemon::sync_observed_generations`] of these jobs alone (the programs that changed).
    pub(super) fn sync_observed_generations_of<'a>(
        &mut self,
        names: impl Iterator<Item = &'a str>,
    ) {
        for name in names {
            let Some(meta) = self.jobs.get_mut(name) else {
                continue;
            };
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

    /// Gives an event its id, keeps it in the ring, and sends it to the streams (the ring
    /// keeps events from the first one a stream received: `Ring::unheard`).
    pub(super) fn publish(&mut self, event: Event) {
        let published = self.ring.push(event);
        if self
            .events
            .send(published.clone())
            .is_ok_and(|streams| streams > 0)
        {
            self.ring.heard(&published);
        }
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
                tracing::info!(program = %name, id, source = ?change.source, by = change.by.as_deref().unwrap_or("-"), "program added\n{}", log_diff.text())
            }
            ChangeKind::Edited => {
                tracing::info!(program = %name, id, source = ?change.source, by = change.by.as_deref().unwrap_or("-"), generation = change.generation, "program changed\n{}", log_diff.text())
            }
            ChangeKind::Removed => {
                tracing::info!(program = %name, id, source = ?change.source, by = change.by.as_deref().unwrap_or("-"), "program removed\n{}", log_diff.text())
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
            self.dirty.insert(change.name.clone());
            self.running_changes.insert(change.name.clone());
            if !self.supervisor.has_job(&change.name) {
                // Dropped by the supervisor (a removed program, stopped): its metadata goes.
                self.jobs.remove(&change.name);
            }
            if !change.to.has_process() {
                // Its process ended: what was kept to read its figures goes with it.
                self.forget_figures(&change.name);
            }
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
                let observed = self.observed_of(&status)?;
                Some((status.name, observed))
            })
            .collect()
    }

    /// One job as reconcile sees it; `None` for a job the daemon keeps no metadata of (a
    /// quick-start).
    fn observed_of(&self, status: &crate::supervisor::JobStatus) -> Option<Observed> {
        let meta = self.jobs.get(&status.name)?;
        let succeeded = status.state == ProcessState::Exited
            && matches!(status.last_exit, Some(ExitInfo::Code(code)) if meta.spec.exitcodes.contains(&code));
        Some(Observed {
            phase: phase_of(status.state),
            spec: Arc::clone(&meta.spec),
            start_epoch: meta.start_epoch,
            restart_epoch: meta.restart_epoch,
            ready: self.is_ready(&status.name, status.state, status.pid),
            succeeded,
            fatal: status.state == ProcessState::Fatal,
        })
    }

    /// Reconciles what changed since the last converge. While boot waves run, some program
    /// uses `depends_on`, some hold is in place, the last run's leftovers are being ended, or
    /// something asked for it (`dirty_all`: the
    /// first converge, a full rescan, a health step, a request of an unusual kind), that is
    /// every program; else only the programs named by the events since (`dirty`: their file,
    /// their process's state, an operator's start or stop), since then reconcile's answer for
    /// any other program cannot have changed. So a write or a process exit costs the same with
    /// 10 programs and with 10,000.
    pub(super) fn converge(&mut self, now: Instant) {
        let everything = self.dirty_all
            || self.boot != crate::reconcile::BootWaves::Done
            || self.table.depending() > 0
            || !self.health.holds.is_empty()
            || !self.leftovers.is_empty();
        if everything {
            self.dirty_all = false;
            self.dirty.clear();
            self.converge_all(now);
            self.changed_programs.clear();
        } else {
            self.converge_dirty(now);
        }
    }

    /// [`Daemon::converge`] of the programs named in `dirty` alone.
    fn converge_dirty(&mut self, now: Instant) {
        self.boot_wake = None;
        let holds = crate::health::Holds::new();
        for _pass in 0..4 {
            if self.dirty.is_empty() {
                break;
            }
            let names = std::mem::take(&mut self.dirty);
            let desired: BTreeMap<String, crate::reconcile::Desired> = names
                .iter()
                .filter_map(|name| {
                    let want = self.table.programs.get(name)?.desired()?;
                    Some((name.clone(), want))
                })
                .collect();
            let observed: BTreeMap<String, Observed> = names
                .iter()
                .filter_map(|name| {
                    let status = self.supervisor.status(name, now)?;
                    Some((name.clone(), self.observed_of(&status)?))
                })
                .collect();
            let plan = reconcile(&desired, &observed, crate::reconcile::Gate::Open, &holds);
            if plan.is_empty() {
                break;
            }
            for action in plan {
                // Looked at again in the next pass: where the action left it.
                self.dirty.insert(action.name().to_string());
                self.apply(action, now);
            }
        }
        if !self.changed_programs.is_empty() {
            let names = std::mem::take(&mut self.changed_programs);
            self.table_changed = false;
            self.sync_observed_generations_of(names.iter().map(String::as_str));
        }
        #[cfg(debug_assertions)]
        if self.dirty.is_empty() {
            // The whole folder must agree: nothing left to do for any program.
            let plan = reconcile(
                &self.table.desired(),
                &self.observed(now),
                crate::reconcile::Gate::Open,
                &holds,
            );
            debug_assert!(
                plan.is_empty(),
                "a converge of the changed programs left work for others: {:?}",
                plan.iter().map(Action::name).collect::<Vec<_>>()
            );
        }
    }

    fn converge_all(&mut self, now: Instant) {
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
        // What the actions marked is covered: every program was looked at.
        self.dirty.clear();
        self.running_dirty = true;
        if self.table_changed {
            self.table_changed = false;
            self.sync_observed_generations();
        }
        // Forget the metadata of jobs the supervisor has dropped (removed programs).
        let supervisor = &self.supervisor;
        self.jobs.retain(|name, _| supervisor.has_job(name));
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
        // Its stop settings may have changed: its running record is compared again.
        self.running_changes.insert(name.to_string());
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

    /// Saves the run intents that changed since they were last saved (appended to the
    /// journal, or the whole file when it is due); on failure they stay to be saved.
    pub(super) fn save_intents(&mut self) -> std::io::Result<()> {
        if self.intent_changes.is_empty() {
            return Ok(());
        }
        let changed = std::mem::take(&mut self.intent_changes);
        let programs = &self.table.programs;
        let changes: Vec<(String, Option<bool>)> = changed
            .iter()
            .map(|name| (name.clone(), programs.get(name).map(|program| program.run)))
            .collect();
        let whole = || {
            programs
                .iter()
                .map(|(name, program)| (name.clone(), program.run))
                .collect::<Intents>()
        };
        let saved = self
            .state
            .save_intent_changes(&changes, programs.len(), whole);
        if saved.is_err() {
            self.intent_changes = changed;
        }
        saved
    }

    pub(super) fn persist(&mut self) {
        // Changes made by files and operators (a new program's boot intent, a disabled
        // one's, generations), saved after the event: the entries it changed, appended to the
        // journals; tried again after the next event when the disk was full.
        let generations = if self.generation_changes.is_empty() {
            Ok(())
        } else {
            let changed = std::mem::take(&mut self.generation_changes);
            let names: Vec<&str> = changed.iter().map(String::as_str).collect();
            let saved = self
                .state
                .save_generation_changes(&names, &self.generations);
            if saved.is_err() {
                self.generation_changes = changed;
            }
            saved
        };
        let intents = self.save_intents();
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
        // What the last run left is recorded with the rest until it is gone: compared whole.
        if std::mem::take(&mut self.running_dirty) || !self.leftover_records.is_empty() {
            self.running_changes.clear();
            self.persist_all_running();
        } else if !self.running_changes.is_empty() {
            let names = std::mem::take(&mut self.running_changes);
            self.persist_running_of(&names);
        }
    }

    /// `running.json` after an event that may have changed any process: compared whole,
    /// without allocating; rebuilt only when a process or its stop settings changed.
    fn persist_all_running(&mut self) {
        if self.running_unchanged() {
            return;
        }
        // What the last run left and is still being ended stays recorded.
        let mut running = self.leftover_records.clone();
        for (name, pid) in self.supervisor.pids() {
            if let Some(record) = self.running_record(name, pid) {
                running.insert(name.to_string(), record);
            }
        }
        if running != self.recorded_running {
            match self.state.save_running(&running) {
                Ok(()) => self.recorded_running = running,
                Err(error) => tracing::error!(%error, "cannot record running processes"),
            }
        }
    }

    /// `running.json` after an event that changed these jobs alone (their process, their
    /// spec): their records, appended to its journal.
    fn persist_running_of(&mut self, names: &std::collections::BTreeSet<String>) {
        let now = Instant::now();
        let mut changes = Vec::new();
        for name in names {
            let pid = self.supervisor.view(name, now).and_then(|view| view.pid);
            let record = pid.and_then(|pid| self.running_record(name, pid));
            if self.recorded_running.get(name) != record.as_ref() {
                changes.push((name.clone(), record));
            }
        }
        if changes.is_empty() {
            return;
        }
        for (name, record) in &changes {
            match record {
                Some(record) => {
                    self.recorded_running.insert(name.clone(), record.clone());
                }
                None => {
                    self.recorded_running.remove(name);
                }
            }
        }
        if let Err(error) = self
            .state
            .save_running_changes(&changes, &self.recorded_running)
        {
            tracing::error!(%error, "cannot record running processes");
            // The next event compares every job with an empty record, and saves the whole.
            self.recorded_running.clear();
            self.running_dirty = true;
        }
    }

    /// What `running.json` says of a job's process: its pid, its kernel start time (kept
    /// from the last record of the same pid, else read from /proc), its stop settings.
    fn running_record(&self, name: &str, pid: u32) -> Option<RunningRecord> {
        let previous = self
            .recorded_running
            .get(name)
            .filter(|record| record.pid == pid);
        let start_time = match previous {
            Some(record) => record.start_time,
            None => crate::supervisor::process_start_time(pid)?,
        };
        let (stopsignal, stopwaitsecs) = self.stop_settings(name);
        Some(RunningRecord {
            pid,
            start_time,
            stopsignal: stopsignal.into(),
            stopwaitsecs,
        })
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
