//! The daemon's table of programs: the desired side of the world. Each program has its id, its
//! file as last read, its last good spec (an invalid edit keeps the one before running), its
//! generation, the operator's run intent, and its audit trail. Applying a new snapshot of
//! programs.d updates the table and says what changed; no I/O happens here.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;

use crate::reconcile::Desired;
use crate::spec::{Problem, ProgramSpec};
use crate::store::{Entry, Snapshot};

/// How many changes each program's audit trail keeps.
const HISTORY_LENGTH: usize = 100;

/// Who changed a program's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The folder changed on its own: an editor, `cp`, `git pull`, a ConfigMap.
    File,
    /// An API call (or the CLI, which uses the API).
    Api,
}

/// What happened to a program's file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Created,
    Edited,
    Removed,
}

/// One entry of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct Change {
    /// Unix seconds.
    pub time: f64,
    pub source: Source,
    /// Who made an API change: the token's name, or `uid N` for a caller let in by its peer
    /// credentials; `null` for a change of the folder itself.
    pub by: Option<Arc<str>>,
    pub change: ChangeKind,
    pub generation: u64,
    /// Unified diff of the file, old to new.
    pub diff: Diff,
    /// The file's problems after the change; empty when it is valid.
    pub problems: Vec<String>,
}

/// A change's unified diff. A creation keeps the file's text (shared with the entry while it
/// lasts) and writes its diff when it is read: at a boot of N programs, N diffs of whole files
/// were made and kept, each about as long as its file, for a history that is rarely read.
#[derive(Debug, Clone, PartialEq)]
pub enum Diff {
    Text(String),
    /// From nothing to `text`; `file` names it in the headers.
    Created {
        file: Box<str>,
        text: Arc<str>,
    },
}

impl Diff {
    /// The diff's text.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Diff::Text(text) => std::borrow::Cow::Borrowed(text),
            Diff::Created { file, text } => std::borrow::Cow::Owned(unified(file, "", text)),
        }
    }
}

impl Serialize for Diff {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text())
    }
}

/// The diff the daemon's own log shows (see [`log_diff`]), made only when the log line is
/// written.
#[derive(Debug, Clone)]
pub enum LogDiff {
    Text(String),
    /// A creation: from nothing to `text` (environment values redacted when it names any).
    Created {
        format: crate::spec::Format,
        file: Box<str>,
        text: Arc<str>,
    },
}

impl LogDiff {
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            LogDiff::Text(text) => std::borrow::Cow::Borrowed(text),
            LogDiff::Created { format, file, text } => {
                let shown = if text.contains("environment") {
                    std::borrow::Cow::Owned(redact_environment(*format, text))
                } else {
                    std::borrow::Cow::Borrowed(&**text)
                };
                std::borrow::Cow::Owned(unified(file, "", &shown))
            }
        }
    }
}

/// One program of the folder.
#[derive(Debug, Clone)]
pub struct Program {
    pub id: u64,
    pub entry: Entry,
    pub last_good: Option<Arc<ProgramSpec>>,
    /// Grows with every change of the file (valid or not).
    pub generation: u64,
    /// The generation `last_good` came from.
    pub good_generation: u64,
    pub run: bool,
    pub start_epoch: u64,
    pub restart_epoch: u64,
    pub history: VecDeque<Change>,
    /// The JSON of its fields as the API shows them, made at the first read that needs it
    /// (`GET /programs`, `GET /programs/{id}`) and dropped with the entry it was made from:
    /// every change of the file, whoever made it, comes in through [`ProgramTable::apply`] or
    /// [`ProgramTable::apply_entries`], which give a changed program a new, empty cache.
    pub fields_json: FieldsCache,
}

/// The JSON object of a program's fields, per view (environment values shown or redacted),
/// each made once per version of the file.
#[derive(Debug, Clone, Default)]
pub struct FieldsCache {
    pub full: std::cell::OnceCell<Box<str>>,
    pub redacted: std::cell::OnceCell<Box<str>>,
}

impl Program {
    pub fn desired(&self) -> Option<Desired> {
        self.last_good.as_ref().map(|spec| Desired {
            spec: Arc::clone(spec),
            run: self.run,
            start_epoch: self.start_epoch,
            restart_epoch: self.restart_epoch,
            boot_priority: spec.priority,
        })
    }

    pub fn problems(&self) -> &[Problem] {
        self.entry.problems()
    }

    fn record(&mut self, change: Change) {
        if self.history.len() == HISTORY_LENGTH {
            self.history.pop_front();
        }
        self.history.push_back(change);
    }
}

/// A change of the table, for the log and the event stream.
#[derive(Debug, Clone)]
pub struct ConfigEvent {
    pub name: String,
    pub id: u64,
    pub change: Change,
    /// The diff the daemon's own log shows: `change.diff` with environment values redacted.
    pub log_diff: LogDiff,
}

/// What [`ProgramTable::apply`] asks of the daemon about the programs it takes in.
pub trait ApplyContext {
    /// The id of a name (the caller has synced the ids).
    fn id_of(&self, name: &str) -> u64;
    /// The run intent of a program seen for the first time.
    fn first_intent(&self, name: &str, spec: Option<&ProgramSpec>) -> bool;
    /// The generation of a program seen for the first time, from its file's text
    /// (generations never go down for the life of a state folder).
    fn first_generation(&self, name: &str, text: Option<&str>) -> u64;
    /// Who made a program's change.
    fn source_of(&self, name: &str) -> (Source, Option<Arc<str>>);
}

fn unix_seconds(now: SystemTime) -> f64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map(|since| since.as_secs_f64())
        .unwrap_or(0.0)
}

#[derive(Debug, Default)]
pub struct ProgramTable {
    /// Boxed: a B-tree node holds 11 entries and is about half full after a boot in name
    /// order; an inline `Program` (216 bytes) left half of each node empty.
    pub programs: BTreeMap<String, Box<Program>>,
    /// How many programs' last good spec has a `depends_on`.
    depending: usize,
}

/// Whether a program's last good version depends on others.
fn depends(program: &Program) -> bool {
    program
        .last_good
        .as_ref()
        .is_some_and(|spec| !spec.depends_on.is_empty())
}

impl ProgramTable {
    /// Takes in a new snapshot. `context` says the id of a name (the caller has synced the
    /// ids), the run intent and generation of a program seen for the first time, and who made
    /// each change. Returns the changes, each with its diff.
    pub fn apply(
        &mut self,
        snapshot: &Snapshot,
        context: &impl ApplyContext,
        now: SystemTime,
    ) -> Vec<ConfigEvent> {
        let time = unix_seconds(now);
        let mut events = Vec::new();
        let gone: Vec<String> = self
            .programs
            .keys()
            .filter(|name| !snapshot.programs.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            self.apply_one(&name, None, context, time, &mut events);
        }
        for (name, entry) in &snapshot.programs {
            self.apply_one(name, Some(entry), context, time, &mut events);
        }
        events
    }

    /// Takes in the entries of some programs alone (`None`: its file is gone), as a snapshot
    /// holding them would: what a refresh of the files of an API write or of a watch hint
    /// gives. The programs not named are not looked at.
    pub fn apply_entries(
        &mut self,
        entries: &[(String, Option<Entry>)],
        context: &impl ApplyContext,
        now: SystemTime,
    ) -> Vec<ConfigEvent> {
        let time = unix_seconds(now);
        let mut events = Vec::new();
        for (name, entry) in entries {
            self.apply_one(name, entry.as_ref(), context, time, &mut events);
        }
        events
    }

    /// How many programs' last good version has a `depends_on` (while any does, every
    /// converge looks at the whole table).
    pub fn depending(&self) -> usize {
        self.depending
    }

    /// One program's entry of the folder now (`None`: gone) into the table.
    fn apply_one(
        &mut self,
        name: &str,
        entry: Option<&Entry>,
        context: &impl ApplyContext,
        time: f64,
        events: &mut Vec<ConfigEvent>,
    ) {
        let before = self
            .programs
            .get(name)
            .is_some_and(|program| depends(program));
        self.apply_entry(name, entry, context, time, events);
        let after = self
            .programs
            .get(name)
            .is_some_and(|program| depends(program));
        match (before, after) {
            (false, true) => self.depending += 1,
            (true, false) => self.depending -= 1,
            _ => {}
        }
    }

    fn apply_entry(
        &mut self,
        name: &str,
        entry: Option<&Entry>,
        context: &impl ApplyContext,
        time: f64,
        events: &mut Vec<ConfigEvent>,
    ) {
        let Some(entry) = entry else {
            if let Some(program) = self.programs.remove(name) {
                let old = program.entry.text.as_deref().unwrap_or("");
                let (source, by) = context.source_of(name);
                let diff = diff(&program.entry, old, "", name);
                events.push(ConfigEvent {
                    name: name.to_string(),
                    id: program.id,
                    log_diff: LogDiff::Text(log_diff(&program.entry, old, "", name, &diff)),
                    change: Change {
                        time,
                        source,
                        by,
                        change: ChangeKind::Removed,
                        generation: program.generation + 1,
                        diff: Diff::Text(diff),
                        problems: Vec::new(),
                    },
                });
            }
            return;
        };
        let problems: Vec<String> = entry.problems().iter().map(ToString::to_string).collect();
        let good = entry.spec.as_ref().ok().cloned();
        match self.programs.get_mut(name) {
            None => {
                let generation = context.first_generation(name, entry.text.as_deref());
                let mut program = Program {
                    id: context.id_of(name),
                    entry: entry.clone(),
                    run: context.first_intent(name, good.as_deref()),
                    last_good: good.clone(),
                    generation,
                    good_generation: if good.is_some() { generation } else { 0 },
                    start_epoch: 0,
                    restart_epoch: 0,
                    // Most programs only ever have their "created" entry: room for one,
                    // not the four a first push would reserve (about 200 bytes each).
                    history: VecDeque::with_capacity(1),
                    fields_json: FieldsCache::default(),
                };
                let (source, by) = context.source_of(name);
                let text = entry.text.clone().unwrap_or_else(|| Arc::from(""));
                let file: Box<str> = file_name(entry, name).into();
                let change = Change {
                    time,
                    source,
                    by,
                    change: ChangeKind::Created,
                    generation,
                    diff: Diff::Created {
                        file: file.clone(),
                        text: text.clone(),
                    },
                    problems,
                };
                program.record(change.clone());
                events.push(ConfigEvent {
                    name: name.to_string(),
                    id: program.id,
                    log_diff: LogDiff::Created {
                        format: entry.format,
                        file,
                        text,
                    },
                    change,
                });
                self.programs.insert(name.to_string(), Box::new(program));
            }
            Some(program) => {
                if program.entry == *entry {
                    return;
                }
                let old_text = program.entry.text.clone();
                program.entry = entry.clone();
                program.fields_json = FieldsCache::default();
                program.generation += 1;
                if let Some(spec) = good {
                    if program.last_good.is_none() {
                        // Its first valid version: "boot" means "when its file first appears",
                        // and a file that never parsed has not really appeared yet.
                        program.run = context.first_intent(name, Some(&spec));
                    }
                    if !spec.enabled {
                        // Disabled means "may not run": the intent goes, so a later enable
                        // never starts the program by itself (seed: enable is not start).
                        program.run = false;
                    }
                    program.last_good = Some(spec);
                    program.good_generation = program.generation;
                }
                let (source, by) = context.source_of(name);
                let old = old_text.as_deref().unwrap_or("");
                let new = entry.text.as_deref().unwrap_or("");
                let change = Change {
                    time,
                    source,
                    by,
                    change: ChangeKind::Edited,
                    generation: program.generation,
                    diff: Diff::Text(diff(entry, old, new, name)),
                    problems,
                };
                program.record(change.clone());
                events.push(ConfigEvent {
                    name: name.to_string(),
                    id: program.id,
                    log_diff: LogDiff::Text(log_diff(entry, old, new, name, &change.diff.text())),
                    change,
                });
            }
        }
    }

    /// The desired state for reconcile: every program with a good spec.
    pub fn desired(&self) -> BTreeMap<String, Desired> {
        self.programs
            .iter()
            .filter_map(|(name, program)| program.desired().map(|want| (name.clone(), want)))
            .collect()
    }

    /// Finds a program by id or name (SPEC §2: every `{id}` also takes the name).
    pub fn find(&self, id_or_name: &str) -> Option<&Program> {
        if let Some(program) = self.programs.get(id_or_name) {
            return Some(program);
        }
        let id: u64 = id_or_name.parse().ok()?;
        self.programs
            .values()
            .map(|program| &**program)
            .find(|program| program.id == id)
    }
}

/// The diff the daemon's own log shows (SPEC §10: environment values never appear there): the
/// file's diff with every value of `environment` replaced by `"<redacted>"` on both sides
/// (TOML keeps its layout). A text that names no `environment` has nothing to hide: `full`
/// is taken as it is.
pub fn log_diff(entry: &Entry, old: &str, new: &str, name: &str, full: &str) -> String {
    if !old.contains("environment") && !new.contains("environment") {
        return full.to_string();
    }
    let old = redact_environment(entry.format, old);
    let new = redact_environment(entry.format, new);
    diff(entry, &old, &new, name)
}

/// A program file's text with its environment values replaced by `"<redacted>"`. A text that
/// cannot be read as a program file is not shown at all.
pub fn redact_environment(format: crate::spec::Format, text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    let Ok(document) = crate::spec::parse(format, text) else {
        return "(not shown: not a program file)\n".to_string();
    };
    let Some(environment) = document.fields.get("environment") else {
        return text.to_string();
    };
    let redacted = match environment {
        serde_json::Value::Object(variables) => serde_json::Value::Object(
            variables
                .keys()
                .map(|key| {
                    (
                        key.clone(),
                        serde_json::Value::from(crate::daemon::REDACTED),
                    )
                })
                .collect(),
        ),
        _ => serde_json::Value::from(crate::daemon::REDACTED),
    };
    let mut changes = serde_json::Map::new();
    changes.insert("environment".into(), redacted);
    crate::spec::edit(format, text, &changes)
        .unwrap_or_else(|_| "(not shown: the environment could not be redacted)\n".to_string())
}

/// The unified diff of a program file, with `a/` and `b/` headers naming it.
pub fn diff(entry: &Entry, old: &str, new: &str, name: &str) -> String {
    unified(&file_name(entry, name), old, new)
}

/// The name of a program's file in its diffs' headers.
fn file_name(entry: &Entry, name: &str) -> String {
    entry
        .path
        .file_name()
        .map(|file| file.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string())
}

/// The unified diff of `file`'s text, old to new, with `a/` and `b/` headers.
fn unified(file: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(&format!("a/{file}"), &format!("b/{file}"))
        .to_string()
}
