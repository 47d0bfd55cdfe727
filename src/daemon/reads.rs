//! The read-only answers: one program and the list (with their fields as written), statuses,
//! the ETag of a program's file, and where its logs are. None of them changes anything, so no
//! reconcile follows them.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};

use crate::spec::{ProgramSpec, RawProgram, Stream};
use crate::supervisor::ExitInfo;

use super::health::{HealthView, Monitored};
use super::programs::Program;
use super::request::{
    Answer, Failure, FailureKind, ProcessInfo, ProcessesAnswer, REDACTED, Reply, View,
};
use super::views::{self, InOrder, OneStatusView, ProgramView, StatusView};
use super::{Daemon, JobMeta, PROGRAM_SIZE, STATUS_SIZE};
use crate::supervisor::{JobView, ProcessState};

/// The program table, the supervisor's jobs, their metadata and the monitored programs are
/// all sorted by name: a read of every program walks them together, one pass alongside the
/// table ([`InOrder`]) instead of a search of each map per program, which was a tenth of a
/// status of all and a sixth of the list's time (their string comparisons).
struct Walk<'a> {
    jobs: InOrder<'a, JobView<'a>, Walked<'a, JobView<'a>>>,
    metas: InOrder<'a, &'a JobMeta, Walked<'a, &'a JobMeta>>,
    monitored: InOrder<'a, &'a Monitored, Walked<'a, &'a Monitored>>,
}

/// One of the maps a [`Walk`] goes through, by name (boxed: the iterators' types cannot be
/// named; three dynamic calls per program).
type Walked<'a, V> = Box<dyn Iterator<Item = (&'a str, V)> + 'a>;

fn walk(daemon: &Daemon, now: Instant) -> Walk<'_> {
    Walk {
        jobs: InOrder::new(Box::new(daemon.supervisor.views(now))),
        metas: InOrder::new(Box::new(
            daemon.jobs.iter().map(|(name, meta)| (name.as_str(), meta)),
        )),
        monitored: InOrder::new(Box::new(
            daemon
                .health
                .monitored
                .iter()
                .map(|(name, monitored)| (name.as_str(), monitored)),
        )),
    }
}

impl<'a> Walk<'a> {
    /// What there is of `name`; names must be asked in ascending order (the table's).
    fn next(
        &mut self,
        name: &str,
    ) -> (
        Option<JobView<'a>>,
        Option<&'a JobMeta>,
        Option<&'a Monitored>,
    ) {
        (
            self.jobs.get(name),
            self.metas.get(name),
            self.monitored.get(name),
        )
    }
}

impl Daemon {
    /// Every program with its fields and status (`GET /programs`): the table walked with
    /// the jobs as the status of all walks them.
    pub(super) fn list(&self, now: Instant, view: View) -> Reply {
        let mut walk = walk(self, now);
        let programs = self.table.programs.values().map(|program| {
            let (job, meta, monitored) = walk.next(&program.entry.name);
            self.program_view_of(program, view, job, meta, monitored)
        });
        Answer::written(self.table.programs.len() * PROGRAM_SIZE, |json| {
            views::write_programs(json, programs)
        })
    }

    /// The status of every program (`GET /status`), written by hand (`views`).
    pub(super) fn status_all(&self, now: Instant, view: View) -> Reply {
        let mut walk = walk(self, now);
        let counts = self.supervisor.process_counts();
        let statuses = self.table.programs.values().map(|program| {
            let name = program.entry.name.as_str();
            let (job, meta, monitored) = walk.next(name);
            let (processes, usage) = self.figures_of(name, job.as_ref(), Some(&counts), now);
            self.with_leftovers(
                self.status_without_figures(program, job, meta, monitored, view)
                    .with_usage(processes, usage),
            )
        });
        Answer::written(self.table.programs.len() * STATUS_SIZE, |json| {
            views::write_statuses(json, statuses)
        })
    }

    /// What there is of one program: its job, its job's metadata, its health record (what a
    /// [`Walk`] finds for each program in turn).
    fn lookup(
        &self,
        name: &str,
        now: Instant,
    ) -> (Option<JobView<'_>>, Option<&JobMeta>, Option<&Monitored>) {
        (
            self.supervisor.view(name, now),
            self.jobs.get(name),
            self.health.monitored.get(name),
        )
    }

    /// A program's status from its job, metadata and health record, without the figures (a
    /// program object's status; the status routes add them).
    fn status_without_figures<'a>(
        &'a self,
        program: &'a Program,
        job: Option<JobView<'a>>,
        meta: Option<&'a JobMeta>,
        monitored: Option<&'a Monitored>,
        view: View,
    ) -> StatusView<'a> {
        let health = self.health_of(program, job.as_ref(), meta, monitored);
        // Only a program that exited or failed has stderr to show: read for those alone.
        let last_stderr = job
            .as_ref()
            .filter(|job| {
                matches!(
                    job.state,
                    ProcessState::Exited | ProcessState::Backoff | ProcessState::Fatal
                )
            })
            .filter(|_| view.shows_logs())
            .and_then(|_| self.supervisor.last_stderr(&program.entry.name));
        StatusView::new(
            program,
            job,
            meta.map(|meta| meta.generation),
            health,
            last_stderr,
        )
    }

    pub(super) fn status_one(&self, id: &str, now: Instant, view: View) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        Answer::json(
            &OneStatusView {
                status: self.status_view(program, now, view),
                success: true,
            },
            STATUS_SIZE,
        )
    }

    /// A program's audit trail (`GET /programs/{id}/history`). The redacted view has no
    /// diffs (a diff is file text, environment values included); the rest of each entry stays.
    pub(super) fn history(&self, id: &str, view: View) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let mut history = serde_json::to_value(&program.history).unwrap_or(Value::Null);
        if !view.shows_secrets()
            && let Value::Array(changes) = &mut history
        {
            for change in changes {
                if let Value::Object(change) = change {
                    change.remove("diff");
                }
            }
        }
        Ok(Answer::ok(json!({
            "id": program.id,
            "name": program.entry.name,
            "history": history,
        })))
    }

    pub(super) fn etag(program: &Program) -> String {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        program.entry.text.hash(&mut hasher);
        format!("\"{}-{:016x}\"", program.generation, hasher.finish())
    }

    pub(super) fn get(&self, id: &str, now: Instant, view: View) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let one = self.program_view(program, now, view);
        let mut answer = Answer::written(PROGRAM_SIZE, |json| {
            json.extend_from_slice(b"{\"program\":");
            one.write_json(json)?;
            json.push(b'}');
            Ok(())
        })?;
        // The ETag is a hash of the text: only for who may see (and edit) it.
        if view.shows_secrets() {
            answer.etag = Some(Self::etag(program));
        }
        Ok(answer)
    }

    /// A program as the API shows it: its fields (defaults filled in, values as written in
    /// canonical form), where it lives, its status and its config error.
    /// The redacted view has environment values as `"<redacted>"` and no `text`.
    pub(super) fn program_view<'a>(
        &'a self,
        program: &'a Program,
        now: Instant,
        view: View,
    ) -> ProgramView<'a> {
        // The live figures are the status routes' (SPEC §14): a program object carries its
        // state, not three or four kernel reads per running program.
        let (job, meta, monitored) = self.lookup(&program.entry.name, now);
        self.program_view_of(program, view, job, meta, monitored)
    }

    /// A program as the API shows it, from its job, metadata and health record (one
    /// [`Daemon::lookup`], or a [`Walk`]'s step).
    fn program_view_of<'a>(
        &'a self,
        program: &'a Program,
        view: View,
        job: Option<JobView<'a>>,
        meta: Option<&'a JobMeta>,
        monitored: Option<&'a Monitored>,
    ) -> ProgramView<'a> {
        let observed_generation = meta.map(|meta| meta.generation);
        let status = self.status_without_figures(program, job, meta, monitored, view);
        ProgramView {
            fields: fields_json(program, view),
            config_error: views::ConfigErrorView::of(program),
            file: program.entry.path.to_string_lossy(),
            format: program.entry.format,
            generation: program.generation,
            id: program.id,
            observed_generation,
            status,
            text: view
                .shows_secrets()
                .then_some(program.entry.text.as_deref()),
        }
    }

    /// A program's status with its figures (`GET /status/{id}`, a write's answer);
    /// `last_stderr` only for a view that shows logs.
    pub(super) fn status_view<'a>(
        &'a self,
        program: &'a Program,
        now: Instant,
        view: View,
    ) -> StatusView<'a> {
        let name = &program.entry.name;
        let (job, meta, monitored) = self.lookup(name, now);
        let (processes, usage) = self.figures_of(name, job.as_ref(), None, now);
        self.with_leftovers(
            self.status_without_figures(program, job, meta, monitored, view)
                .with_usage(processes, usage),
        )
    }

    /// A program held back by what the last run left counts those processes too.
    fn with_leftovers<'a>(&self, mut view: StatusView<'a>) -> StatusView<'a> {
        if let Some(processes) = view.processes.as_mut()
            && !self.leftovers.is_empty()
        {
            let left = self.leftovers.processes(view.name);
            *processes = processes.saturating_add(u32::try_from(left).unwrap_or(u32::MAX));
        }
        view
    }

    /// A program's health for its status: judged by the spec its process runs with.
    pub(super) fn health_of<'a>(
        &'a self,
        program: &'a Program,
        job: Option<&JobView<'_>>,
        meta: Option<&'a JobMeta>,
        monitored: Option<&'a Monitored>,
    ) -> HealthView<'a> {
        let (state, pid) = job.map_or((ProcessState::Stopped, None), |job| (job.state, job.pid));
        let spec = meta
            .map(|meta| meta.spec.as_ref())
            .or(program.last_good.as_deref());
        self.health_view(
            &program.entry.name,
            spec,
            state,
            pid,
            monitored,
            program.run,
        )
    }

    /// A program's status as a value, to add to the answer of a write (start, stop…: roles
    /// that read logs).
    pub(super) fn status_value(&self, program: &Program, now: Instant) -> Value {
        serde_json::to_value(self.status_view(program, now, View::Redacted)).unwrap_or(Value::Null)
    }

    /// Every program's process, or one's (`Request::Processes`), for the supervisord bridge.
    pub(super) fn processes(&self, id: Option<&str>, now: Instant) -> Reply {
        let programs: Vec<&Program> = match id {
            Some(id) => vec![self.table.find(id).ok_or_else(|| Failure::not_found(id))?],
            None => self
                .table
                .programs
                .values()
                .map(|program| &**program)
                .collect(),
        };
        let answer = ProcessesAnswer {
            shutting_down: self.shutdown.is_some(),
            processes: programs
                .into_iter()
                .map(|program| self.process_info(program, now))
                .collect(),
        };
        serde_json::to_value(answer)
            .map(Answer::ok)
            .map_err(|error| {
                Failure::new(
                    FailureKind::Internal,
                    "serialize_failed",
                    format!("cannot write the answer as JSON: {error}"),
                )
            })
    }

    fn process_info(&self, program: &Program, now: Instant) -> ProcessInfo {
        let name = &program.entry.name;
        let job = self.supervisor.view(name, now);
        let spec = self
            .jobs
            .get(name)
            .map(|meta| Arc::clone(&meta.spec))
            .or_else(|| program.last_good.clone());
        let log = |stream| {
            spec.as_ref()
                .and_then(|spec| spec.log_path(&self.config.log_dir, stream))
                .map(|path| path.to_string_lossy().into_owned())
        };
        let unix = |time: Option<std::time::SystemTime>| {
            time.and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|since| since.as_secs())
        };
        let exit = job.as_ref().and_then(|job| job.last_exit);
        ProcessInfo {
            id: program.id,
            name: name.clone(),
            priority: program
                .last_good
                .as_ref()
                .map_or(crate::spec::defaults::PRIORITY, |spec| spec.priority),
            enabled: program.last_good.as_ref().is_some_and(|spec| spec.enabled),
            boot: program.last_good.as_ref().is_some_and(|spec| spec.boot),
            config_error: views::ConfigErrorView::of(program).map(|error| error.message),
            state: job.as_ref().map_or(ProcessState::Stopped, |job| job.state),
            pid: job.as_ref().and_then(|job| job.pid),
            started_at: unix(job.as_ref().and_then(|job| job.started_at)),
            stopped_at: unix(job.as_ref().and_then(|job| job.stopped_at)),
            exit_code: match exit {
                Some(ExitInfo::Code(code)) => Some(code),
                _ => None,
            },
            exit_signal: match exit {
                Some(ExitInfo::Signal(signal)) => Some(signal),
                _ => None,
            },
            last_error: job
                .as_ref()
                .and_then(|job| job.last_error.as_ref().map(|error| error.to_string())),
            stdout_logfile: log(Stream::Stdout),
            stderr_logfile: log(Stream::Stderr),
        }
    }

    pub(super) fn log_paths(&self, id: &str) -> Reply {
        let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
        let spec = self.log_spec(program)?;
        let mut paths = log_paths_json(&spec, &self.config.log_dir);
        paths["name"] = Value::from(spec.name.clone());
        Ok(Answer::ok(paths))
    }

    /// The log paths of the programs named (each must exist), or of every program that has
    /// had a valid version, by name: `{"programs": [{name, stdout, stderr, redirect_stderr}]}`.
    pub(super) fn all_log_paths(&self, ids: &[String]) -> Reply {
        let mut programs = Vec::new();
        if ids.is_empty() {
            for program in self.table.programs.values() {
                if let Ok(spec) = self.log_spec(program) {
                    let mut paths = log_paths_json(&spec, &self.config.log_dir);
                    paths["name"] = Value::from(spec.name.clone());
                    programs.push(paths);
                }
            }
        } else {
            for id in ids {
                let program = self.table.find(id).ok_or_else(|| Failure::not_found(id))?;
                let spec = self.log_spec(program)?;
                let mut paths = log_paths_json(&spec, &self.config.log_dir);
                paths["name"] = Value::from(spec.name.clone());
                programs.push(paths);
            }
        }
        Ok(Answer::ok(json!({ "programs": programs })))
    }

    /// The spec whose logs a program writes: its running job's, else its last good one.
    fn log_spec(&self, program: &Program) -> Result<Arc<ProgramSpec>, Failure> {
        self.jobs
            .get(&program.entry.name)
            .map(|meta| Arc::clone(&meta.spec))
            .or_else(|| program.last_good.clone())
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::Conflict,
                    "no_valid_version",
                    "the program has never had a valid file, so it has no logs",
                )
            })
    }
}

/// The JSON object of a program's fields for this view, from its cache (made on first use:
/// [`program_fields`] of this version of its file).
pub(super) fn fields_json(program: &Program, view: View) -> &str {
    let cell = if view.shows_secrets() {
        &program.fields_json.full
    } else {
        &program.fields_json.redacted
    };
    cell.get_or_init(|| {
        let fields = program_fields(program, view);
        serde_json::to_string(&fields)
            .unwrap_or_else(|_| "{}".to_string())
            .into_boxed_str()
    })
}

/// A program's fields as the API shows them: the last good spec's (defaults filled in), then
/// what the file says in the form it was written (a command stays a string), and the name;
/// environment values redacted unless the view shows secrets.
pub(super) fn program_fields(program: &Program, view: View) -> Map<String, Value> {
    let mut fields = match &program.last_good {
        Some(spec) => spec.to_fields(),
        None => Map::new(),
    };
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
    // A size is always a string ("50MB", or "1000" bytes), whichever way the file wrote
    // it, so a typed client reads one type.
    for key in ["stdout_logfile_maxbytes", "stderr_logfile_maxbytes"] {
        if let Some(value) = fields.get_mut(key)
            && let Value::Number(bytes) = value
        {
            *value = Value::from(bytes.to_string());
        }
    }
    if !view.shows_secrets()
        && let Some(Value::Object(environment)) = fields.get_mut("environment")
    {
        for value in environment.values_mut() {
            *value = Value::from(REDACTED);
        }
    }
    fields
}

pub(super) fn log_paths_json(spec: &ProgramSpec, log_dir: &Path) -> Value {
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
