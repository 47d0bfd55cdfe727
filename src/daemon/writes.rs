//! The writes to programs.d: create, edit (a merge), put (a whole file), remove, enable and
//! disable. Each validates, writes atomically, reads back the written program's files (not the
//! folder: the cost of a write does not grow with the number of programs) and reconciles before
//! it answers, so the answer carries the change as it took effect.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde_json::{Map, Value, json};
use tokio::sync::oneshot;

use crate::spec::name::{check_name, quote_short};
use crate::spec::{Format, ProgramSpec, RawProgram, SystemUsers, merge_patch};
use crate::store;

use super::Daemon;
use super::control::Until;
use super::programs;
use super::request::{Answer, Failure, FailureKind, Reply};

impl Daemon {
    // ---- writes --------------------------------------------------------------------------

    /// A log path inside programs.d or the state folder is a 400 naming the field (SPEC §10),
    /// as it is a config error of a file.
    pub(super) fn check_log_paths(&self, spec: &ProgramSpec) -> Result<(), Failure> {
        let problems = self.config.protected_folders().check(spec);
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems_failure(problems))
        }
    }

    /// The files in programs.d that would define a program of this name (any extension).
    pub(super) fn existing_files(&self, name: &str) -> Vec<PathBuf> {
        crate::spec::name::EXTENSIONS
            .iter()
            .map(|extension| self.config.programs_dir.join(format!("{name}.{extension}")))
            .filter(|path| std::fs::symlink_metadata(path).is_ok())
            .collect()
    }

    pub(super) fn create(
        &mut self,
        mut fields: Map<String, Value>,
        format: Format,
        now: Instant,
    ) -> Reply {
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
        let spec = raw
            .clone()
            .into_spec(&name, &SystemUsers)
            .map_err(problems_failure)?;
        self.check_log_paths(&spec)?;
        let text = crate::spec::render(format, &raw.to_fields());
        let path = self
            .config
            .programs_dir
            .join(format!("{name}.{}", format.extension()));
        self.reserve_id(&name)?;
        store::write_atomic(&path, &text).map_err(|error| write_failure(&path, &error))?;
        self.api_sources.insert(name.clone(), self.author.clone());
        self.refresh(std::slice::from_ref(&name));
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
            .map(|change| change.diff.text().into_owned())
            .unwrap_or_default();
        let mut answer = Answer::ok(json!({
            "id": program.id,
            "name": name,
            "file": path.to_string_lossy(),
            "diff": diff,
            "generation": program.generation,
            "changed": true,
            "created": true,
        }));
        answer.message = "Created".to_string();
        answer.created = true;
        answer.etag = Some(Self::etag(program));
        Ok(answer)
    }

    /// Edits a program's file: the changes are a JSON merge patch of its fields (`null` resets
    /// a field, maps such as the environment merge per key). Returns the answer and whether the
    /// file changed.
    pub(super) fn edit(
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
        // A JSON merge patch (RFC 7396) all the way down: an object (the environment) merges
        // into what the file has, key by key, and `null` inside it removes that key.
        let current = program
            .entry
            .text
            .as_deref()
            .and_then(|text| crate::spec::parse(program.entry.format, text).ok())
            .map(|document| document.fields)
            .unwrap_or_default();
        for (key, value) in changes.iter_mut() {
            if value.is_object() {
                let mut merged = current.get(key).cloned().unwrap_or(Value::Null);
                merge_patch(&mut merged, value);
                *value = merged;
            }
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
        let spec = crate::spec::ProgramSpec::from_text(&name, format, &new_text, &SystemUsers)
            .map_err(problems_failure)?;
        self.check_log_paths(&spec)?;
        if new_text == *old_text {
            let program = self
                .table
                .programs
                .get(&name)
                .ok_or_else(|| Failure::not_found(id))?;
            let mut answer = Answer::ok(
                json!({ "id": program.id, "name": name, "file": program.entry.path.to_string_lossy(), "diff": "", "generation": program.generation, "changed": false, "created": false }),
            );
            answer.etag = Some(Self::etag(program));
            return Ok((answer, false));
        }
        store::write_atomic(&path, &new_text).map_err(|error| write_failure(&path, &error))?;
        self.api_sources.insert(name.clone(), self.author.clone());
        self.refresh(std::slice::from_ref(&name));
        self.converge(now);
        let program = self
            .table
            .programs
            .get(&name)
            .ok_or_else(|| Failure::not_found(id))?;
        let diff = programs::diff(&program.entry, &old_text, &new_text, &name);
        let mut answer = Answer::ok(
            json!({ "id": program.id, "name": name, "file": program.entry.path.to_string_lossy(), "diff": diff, "generation": program.generation, "changed": true, "created": false }),
        );
        answer.etag = Some(Self::etag(program));
        Ok((answer, true))
    }

    /// Creates or replaces a program's whole file with the given text (what `hoody-daemon apply`
    /// sends, so comments and layout arrive byte for byte). The text is validated as a file of
    /// that name would be; another file of the same name with a different extension is removed
    /// in the same step, so the folder never holds a conflict.
    pub(super) fn put(
        &mut self,
        file: &str,
        text: &str,
        if_match: Option<&str>,
        now: Instant,
    ) -> Reply {
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
        let spec =
            ProgramSpec::from_text(&name, format, text, &SystemUsers).map_err(problems_failure)?;
        self.check_log_paths(&spec)?;
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
        if created {
            self.reserve_id(&name)?;
        }
        store::write_atomic(&path, text).map_err(|error| write_failure(&path, &error))?;
        for other in &others {
            store::remove_durable(other).map_err(|error| write_failure(other, &error))?;
        }
        self.api_sources.insert(name.clone(), self.author.clone());
        self.refresh(std::slice::from_ref(&name));
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

    /// The id of a program the API is about to create, saved before its file is written.
    fn reserve_id(&mut self, name: &str) -> Result<u64, Failure> {
        self.ids
            .reserve(name)
            .map_err(|error| state_failure(&self.config.state_dir.join("ids.json"), &error))
    }

    pub(super) fn remove(
        &mut self,
        id: &str,
        wait: bool,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
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
        self.api_sources.insert(name.clone(), self.author.clone());
        self.refresh(std::slice::from_ref(&name));
        self.converge(now);
        let answer =
            Answer::ok(json!({ "id": program_id, "name": name, "diff": diff, "removed": true }));
        self.reply_when(name, Until::Gone, wait, answer, reply);
    }

    pub(super) fn set_enabled(
        &mut self,
        id: &str,
        enabled: bool,
        wait: bool,
        reply: oneshot::Sender<Reply>,
        now: Instant,
    ) {
        // Already so (spelled out in the file or by default): nothing is written, and the
        // answer is the same either way; writing the default out would raise the generation
        // for a change that changes nothing.
        let unchanged = self.table.find(id).and_then(|program| {
            let spec = program.last_good.as_ref()?;
            (program.problems().is_empty() && spec.enabled == enabled).then(|| {
                let mut answer = Answer::ok(json!({
                    "id": program.id,
                    "name": program.entry.name,
                    "diff": "",
                    "generation": program.generation,
                    "changed": false,
                }));
                answer.etag = Some(Self::etag(program));
                answer
            })
        });
        let mut changes = Map::new();
        changes.insert("enabled".into(), Value::Bool(enabled));
        let edited = match unchanged {
            Some(answer) => Ok((answer, false)),
            None => self.edit(id, changes, None, now),
        };
        match edited {
            Ok((mut answer, _)) => {
                let name = answer
                    .data
                    .as_value()
                    .and_then(|data| data["name"].as_str())
                    .unwrap_or_default()
                    .to_string();
                let changed = answer
                    .data
                    .as_value()
                    .is_some_and(|data| data["changed"] == Value::Bool(true));
                if let Some(object) = answer.data.as_object_mut() {
                    object.insert("enabled".into(), Value::Bool(enabled));
                    if changed && let Some(tree) = &self.git_work_tree {
                        object.insert(
                            "hint".into(),
                            Value::from(format!(
                                "programs.d is in the git work tree {}: this changed a file git may track, and a later `git pull` can refuse to overwrite it; to run or stop a program without touching its file, use start and stop (run intents, kept in the state folder)",
                                tree.display()
                            )),
                        );
                    }
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
}

pub(super) fn invalid_field(field: &str, message: &str) -> Failure {
    Failure::new(
        FailureKind::Invalid,
        "invalid_fields",
        format!("field `{field}`: {message}"),
    )
    .with_details(json!([{ "field": field, "message": message }]))
}

/// A 400 naming every problem: its field and, for a file's text (`programs/put`), its line
/// and column (`line 2:1: field `boot`: …`, as `validate` prints them).
pub(super) fn problems_failure(problems: Vec<crate::spec::Problem>) -> Failure {
    let message = problems
        .iter()
        .map(|problem| {
            let field = match &problem.field {
                Some(field) => format!("field `{field}`: {}", problem.message),
                None => problem.message.clone(),
            };
            match (problem.line, problem.column) {
                (Some(line), Some(column)) => format!("line {line}:{column}: {field}"),
                (Some(line), None) => format!("line {line}: {field}"),
                _ => field,
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let details: Vec<Value> = problems
        .iter()
        .map(|problem| {
            let mut detail = json!({ "field": problem.field, "message": problem.message });
            if let Some(line) = problem.line {
                detail["line"] = json!(line);
                detail["column"] = json!(problem.column);
            }
            detail
        })
        .collect();
    Failure::new(FailureKind::Invalid, "invalid_fields", message)
        .with_details(Value::Array(details))
}

pub(super) fn write_failure(path: &Path, error: &io::Error) -> Failure {
    if is_full(error) {
        return storage_failure(path, error);
    }
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

/// A full disk or quota (ENOSPC, EDQUOT): the write is refused with 507, and nothing changed.
pub(super) fn is_full(error: &io::Error) -> bool {
    matches!(
        error.raw_os_error(),
        Some(libc::ENOSPC) | Some(libc::EDQUOT)
    ) || matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// 507 `insufficient_storage`: a file the write needs (the program's file, ids, intents) could
/// not be saved. Nothing changed.
pub(super) fn storage_failure(path: &Path, error: &io::Error) -> Failure {
    tracing::error!(path = %path.display(), %error, "a write is refused: the disk is full");
    Failure::new(
        FailureKind::InsufficientStorage,
        "insufficient_storage",
        format!(
            "cannot save {}: {error}; nothing was changed",
            path.display()
        ),
    )
    .with_details(serde_json::json!({ "path": path.to_string_lossy() }))
}

/// A file of the state folder could not be saved: 507 when the disk is full, else 500.
pub(super) fn state_failure(path: &Path, error: &io::Error) -> Failure {
    if is_full(error) {
        return storage_failure(path, error);
    }
    tracing::error!(path = %path.display(), %error, "cannot save the state folder");
    Failure::new(
        FailureKind::Internal,
        "state_write_failed",
        format!(
            "cannot save {}: {error}; nothing was changed",
            path.display()
        ),
    )
}
