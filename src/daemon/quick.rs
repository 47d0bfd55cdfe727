//! Quick-start programs (seed: "ephemeral programs"): one-off commands run by the same
//! supervisor, never written to programs.d, gone when the daemon restarts. Their output is kept
//! for `…/quick-start/{id}/logs`; finished ones are kept for an hour (and at most the last 100),
//! then dropped with their logs. Their job names start with `_`, which no program name can.
//!
//! Runs never share output (SPEC §10): ids are unique across daemon restarts (the last one
//! given is kept in `<state>/quick-start.json`), each run starts on fresh log files, a dropped
//! run's logs (and their rotated copies) are deleted, and at start the daemon deletes what the
//! runs of its previous life left in `<log dir>/quick-start/` (those runs are gone).

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::reads::log_paths_json;
use super::request::{Answer, Failure, FailureKind, Reply};
use super::writes::problems_failure;
use crate::spec::{ProgramSpec, RawProgram, SystemUsers};
use crate::supervisor::{ProcessState, StateChange, Supervisor};

/// How long a finished quick-start is kept.
const KEEP_FINISHED: Duration = Duration::from_secs(3600);
/// How many finished quick-starts are kept at most.
const KEEP_COUNT: usize = 100;
/// The fields a quick-start request may carry.
const QUICK_FIELDS: &[&str] = &[
    "command",
    "directory",
    "environment",
    "user",
    "timeout_seconds",
];

#[derive(Debug)]
struct Quick {
    spec: Arc<ProgramSpec>,
    command: Value,
    created: SystemTime,
    timeout_at: Option<Instant>,
    timed_out: bool,
    finished_at: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct QuickStarts {
    /// The last id given (by this daemon or an earlier one on the same state folder).
    next_id: u64,
    runs: BTreeMap<u64, Quick>,
    /// `<state>/quick-start.json`, where the last id is kept; `None` keeps it in memory only.
    counter: Option<PathBuf>,
}

/// What `quick-start.json` holds.
#[derive(Debug, Serialize, Deserialize)]
struct Counter {
    last_id: u64,
}

fn job_name(id: u64) -> String {
    format!("_quick-start-{id}")
}

fn id_of(name: &str) -> Option<u64> {
    name.strip_prefix("_quick-start-")?.parse().ok()
}

/// Deletes a log file and its rotated copies (quick-starts keep at most one).
fn remove_logs(path: &Path) {
    for path in [path.to_path_buf(), crate::supervisor::rotated_path(path, 1)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), %error, "cannot delete a quick-start log");
            }
        }
    }
}

impl QuickStarts {
    /// Quick-starts of this run get ids after those of `names` (jobs the last run left
    /// processes of), so none shares a cgroup or a record with a leftover.
    pub fn skip_past<'a>(&mut self, names: impl Iterator<Item = &'a str>) {
        if let Some(last) = names.filter_map(id_of).max() {
            self.next_id = self.next_id.max(last);
        }
    }

    /// The quick-starts of a daemon on this state folder: ids continue after the last one an
    /// earlier daemon gave, and the logs its runs left behind are deleted.
    pub fn open(state_dir: &Path, log_dir: &Path) -> io::Result<QuickStarts> {
        let counter = state_dir.join("quick-start.json");
        let last_id = match std::fs::read_to_string(&counter) {
            Ok(text) => {
                serde_json::from_str::<Counter>(&text)
                    .map_err(|error| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("{} is damaged: {error}", counter.display()),
                        )
                    })?
                    .last_id
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => 0,
            Err(error) => return Err(error),
        };
        let folder = log_dir.join("quick-start");
        if let Ok(listing) = std::fs::read_dir(&folder) {
            for entry in listing.flatten() {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                let is_log = name.ends_with(".log") || name.ends_with(".log.1");
                if is_log && entry.file_type().is_ok_and(|kind| kind.is_file()) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(QuickStarts {
            next_id: last_id,
            runs: BTreeMap::new(),
            counter: Some(counter),
        })
    }

    /// Keeps the last id given, so a restarted daemon never gives it again.
    fn save_counter(&self) -> io::Result<()> {
        let Some(path) = &self.counter else {
            return Ok(());
        };
        let text = serde_json::to_string(&Counter {
            last_id: self.next_id,
        })
        .map_err(io::Error::other)?;
        crate::store::write_atomic(path, &text)
    }

    pub fn owns(&self, name: &str) -> bool {
        id_of(name).is_some_and(|id| self.runs.contains_key(&id))
    }

    pub fn spec_of(&self, name: &str) -> Option<Arc<ProgramSpec>> {
        id_of(name)
            .and_then(|id| self.runs.get(&id))
            .map(|run| Arc::clone(&run.spec))
    }

    pub fn launch(
        &mut self,
        fields: &Map<String, Value>,
        log_dir: &Path,
        supervisor: &mut Supervisor,
        now: Instant,
    ) -> Reply {
        let mut problems = Vec::new();
        for key in fields.keys() {
            if !QUICK_FIELDS.contains(&key.as_str()) {
                problems.push(crate::spec::Problem::field(
                    key,
                    format!(
                        "unknown field; a quick-start takes {}",
                        QUICK_FIELDS.join(", ")
                    ),
                ));
            }
        }
        let timeout = match fields.get("timeout_seconds") {
            None | Some(Value::Null) => None,
            Some(value) => match value.as_f64() {
                Some(seconds) if seconds.is_finite() && seconds > 0.0 && seconds <= 86_400.0 => {
                    Some(Duration::from_secs_f64(seconds))
                }
                _ => {
                    problems.push(crate::spec::Problem::field(
                        "timeout_seconds",
                        "expected a number of seconds above 0 and at most 86400",
                    ));
                    None
                }
            },
        };
        if !fields.contains_key("command") {
            problems.push(crate::spec::Problem::field("command", "is required"));
        }
        if !problems.is_empty() {
            return Err(problems_failure(problems));
        }
        let id = self.next_id + 1;
        let folder = log_dir.join("quick-start");
        let mut program: Map<String, Value> = fields
            .iter()
            .filter(|(key, _)| key.as_str() != "timeout_seconds")
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        program.insert("autorestart".into(), Value::from("false"));
        program.insert("startsecs".into(), Value::from(0));
        program.insert("startretries".into(), Value::from(0));
        program.insert("stopwaitsecs".into(), Value::from(5));
        let stdout = folder.join(format!("{id}.stdout.log"));
        let stderr = folder.join(format!("{id}.stderr.log"));
        program.insert(
            "stdout_logfile".into(),
            Value::from(stdout.to_string_lossy().into_owned()),
        );
        program.insert(
            "stderr_logfile".into(),
            Value::from(stderr.to_string_lossy().into_owned()),
        );
        program.insert("stdout_logfile_maxbytes".into(), Value::from("10MB"));
        program.insert("stderr_logfile_maxbytes".into(), Value::from("10MB"));
        program.insert("stdout_logfile_backups".into(), Value::from(1));
        program.insert("stderr_logfile_backups".into(), Value::from(1));
        let raw = RawProgram::from_fields(&program).map_err(problems_failure)?;
        let mut spec = raw
            .into_spec(&format!("quick-start-{id}"), &SystemUsers)
            .map_err(problems_failure)?;
        spec.name = job_name(id);
        let spec = Arc::new(spec);
        // The id is kept before the run starts: a crash right after must not give it again.
        self.next_id = id;
        self.save_counter().map_err(|error| {
            Failure::new(
                FailureKind::Internal,
                "write_failed",
                format!("cannot keep the quick-start id in the state folder: {error}"),
            )
        })?;
        // Fresh files: nothing of an earlier run (of a state folder that was reset) shows.
        remove_logs(&stdout);
        remove_logs(&stderr);
        supervisor.start(Arc::clone(&spec), now);
        self.runs.insert(
            id,
            Quick {
                spec,
                command: fields.get("command").cloned().unwrap_or(Value::Null),
                created: SystemTime::now(),
                timeout_at: timeout.map(|timeout| now + timeout),
                timed_out: false,
                finished_at: None,
            },
        );
        self.drop_old(supervisor, now);
        let status = self.status_value(&job_name(id), supervisor, now);
        let mut answer = Answer::ok(json!({ "id": id, "status": status }));
        answer.created = true;
        answer.message = "Created".to_string();
        Ok(answer)
    }

    /// A run by its number or its name (`quick-start-N`, as its status shows it).
    fn find(&self, id: &str) -> Result<(u64, &Quick), Failure> {
        let number: Option<u64> = id.strip_prefix("quick-start-").unwrap_or(id).parse().ok();
        number
            .and_then(|number| self.runs.get(&number).map(|run| (number, run)))
            .ok_or_else(|| {
                Failure::new(
                    FailureKind::NotFound,
                    "not_found",
                    format!(
                        "no quick-start program {}",
                        crate::spec::name::quote_short(id)
                    ),
                )
            })
    }

    pub fn status_value(&self, name: &str, supervisor: &Supervisor, now: Instant) -> Option<Value> {
        let id = id_of(name)?;
        let run = self.runs.get(&id)?;
        let status = supervisor.status(name, now)?;
        let exit_code = match (status.state, status.last_exit) {
            (
                ProcessState::Exited | ProcessState::Fatal | ProcessState::Stopped,
                Some(crate::supervisor::ExitInfo::Code(code)),
            ) => Value::from(code),
            _ => Value::Null,
        };
        let mut value = serde_json::to_value(&status).ok()?;
        if let Value::Object(object) = &mut value {
            if let Some(state) = object.remove("state") {
                object.insert("status".into(), state);
            }
            object.insert("id".into(), Value::from(id));
            object.insert("name".into(), Value::from(format!("quick-start-{id}")));
            object.insert("command".into(), run.command.clone());
            object.insert("exit_code".into(), exit_code);
            object.insert("timed_out".into(), Value::from(run.timed_out));
            object.insert(
                "created_at".into(),
                Value::from(
                    run.created
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map(|d| d.as_secs())
                        .unwrap_or(0),
                ),
            );
        }
        Some(value)
    }

    pub fn list(&self, supervisor: &Supervisor, now: Instant) -> Answer {
        let programs: Vec<Value> = self
            .runs
            .keys()
            .filter_map(|id| self.status_value(&job_name(*id), supervisor, now))
            .collect();
        Answer::ok(json!({ "programs": programs }))
    }

    pub fn status(&self, id: &str, supervisor: &Supervisor, now: Instant) -> Reply {
        let (number, _) = self.find(id)?;
        let status = self
            .status_value(&job_name(number), supervisor, now)
            .unwrap_or(Value::Null);
        Ok(Answer::ok(json!({ "success": true, "status": status })))
    }

    pub fn stop(
        &mut self,
        id: &str,
        supervisor: &mut Supervisor,
        now: Instant,
    ) -> Result<(String, Answer), Failure> {
        let (number, _) = self.find(id)?;
        let name = job_name(number);
        supervisor.stop(&name, now);
        Ok((name, Answer::ok(json!({ "id": number }))))
    }

    pub fn log_paths(&self, id: &str) -> Reply {
        let (_, run) = self.find(id)?;
        Ok(Answer::ok(log_paths_json(&run.spec, Path::new("/"))))
    }

    pub fn on_state(&mut self, change: &StateChange, time: Instant) {
        let Some(run) = id_of(&change.name).and_then(|id| self.runs.get_mut(&id)) else {
            return;
        };
        let ended = matches!(
            change.to,
            ProcessState::Exited | ProcessState::Fatal | ProcessState::Stopped
        );
        if ended && run.finished_at.is_none() {
            run.finished_at = Some(time);
            run.timeout_at = None;
        }
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let timeouts = self.runs.values().filter_map(|run| run.timeout_at);
        let expiries = self
            .runs
            .values()
            .filter_map(|run| run.finished_at.map(|at| at + KEEP_FINISHED));
        timeouts.chain(expiries).min()
    }

    /// Stops the runs whose timeout has come and drops the finished ones that are too old.
    pub fn on_deadline(&mut self, supervisor: &mut Supervisor, now: Instant) {
        for (id, run) in &mut self.runs {
            if run.timeout_at.is_some_and(|at| at <= now) {
                run.timeout_at = None;
                run.timed_out = true;
                tracing::info!(quick_start = id, "timeout reached; stopping");
                supervisor.stop(&job_name(*id), now);
            }
        }
        self.drop_old(supervisor, now);
    }

    /// Drops finished runs older than [`KEEP_FINISHED`], and the oldest beyond [`KEEP_COUNT`].
    fn drop_old(&mut self, supervisor: &mut Supervisor, now: Instant) {
        let finished: Vec<u64> = self
            .runs
            .iter()
            .filter(|(_, run)| run.finished_at.is_some())
            .map(|(id, _)| *id)
            .collect();
        let excess = finished.len().saturating_sub(KEEP_COUNT);
        let dropped: Vec<u64> = finished
            .iter()
            .enumerate()
            .filter(|(index, id)| {
                *index < excess
                    || self.runs[*id]
                        .finished_at
                        .is_some_and(|at| now.duration_since(at) >= KEEP_FINISHED)
            })
            .map(|(_, id)| *id)
            .collect();
        for id in dropped {
            if let Some(run) = self.runs.remove(&id) {
                supervisor.remove(&job_name(id), now);
                for target in [
                    &run.spec.process.stdout.target,
                    &run.spec.process.stderr.target,
                ] {
                    if let crate::spec::LogTarget::File(path) = target {
                        remove_logs(path);
                    }
                }
            }
        }
    }
}
