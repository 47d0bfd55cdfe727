//! `hoody-daemon diff DIR` and `apply DIR`: the GitOps flow. DIR (a git checkout's programs.d)
//! is the desired program set; the running daemon's program files are read through the API
//! (`GET /programs` carries each file's text) and compared byte for byte. `apply` changes the
//! daemon only through the API: `POST /programs/put` sends each new or changed file whole, so
//! comments and layout arrive as written, and `--prune` removes what DIR lacks. DIR must pass
//! validation first, with this machine's users; the daemon validates every file again.

use std::path::Path;

use serde_json::{Value, json};

use super::output;
use super::session::{CliError, Session, scalar, segment};
use super::{GlobalArgs, exit};
use crate::spec::SystemUsers;
use crate::store::{self, Snapshot};

#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    pub prune: bool,
    pub dry_run: bool,
}

/// A program file: its file name in the folder and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct File {
    name: String,
    file: String,
    /// `None` when the daemon could not read it as text.
    text: Option<String>,
}

/// What it takes to make the daemon's program equal DIR's.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Change {
    Create { wanted: File },
    Update { current: File, wanted: File },
    Remove { current: File },
    Same { current: File },
}

impl Change {
    fn name(&self) -> &str {
        match self {
            Change::Create { wanted } | Change::Update { wanted, .. } => &wanted.name,
            Change::Remove { current } | Change::Same { current } => &current.name,
        }
    }

    fn diff(&self) -> String {
        let text = |file: &File| file.text.clone().unwrap_or_default();
        match self {
            Change::Create { wanted } => unified(
                "",
                &text(wanted),
                "/dev/null",
                &format!("b/{}", wanted.file),
            ),
            Change::Update { current, wanted } => unified(
                &text(current),
                &text(wanted),
                &format!("a/{}", current.file),
                &format!("b/{}", wanted.file),
            ),
            Change::Remove { current } => unified(
                &text(current),
                "",
                &format!("a/{}", current.file),
                "/dev/null",
            ),
            Change::Same { .. } => String::new(),
        }
    }
}

fn unified(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(old_label, new_label)
        .to_string()
}

/// Reads DIR; refuses it (exit 3) with every problem when it does not validate.
fn read_folder(dir: &Path) -> Result<Snapshot, CliError> {
    let snapshot = store::scan(dir, &SystemUsers);
    if !snapshot.is_valid() {
        super::report_problems(dir, &snapshot);
        return Err(CliError::new(
            exit::INVALID,
            format!(
                "{} does not validate; nothing was compared or changed",
                dir.display()
            ),
        ));
    }
    Ok(snapshot)
}

fn wanted_files(snapshot: &Snapshot) -> Vec<File> {
    snapshot
        .programs
        .values()
        .map(|entry| File {
            name: entry.name.clone(),
            file: entry.path.file_name().map_or_else(
                || entry.name.clone(),
                |file| file.to_string_lossy().into_owned(),
            ),
            text: entry.text.as_deref().map(str::to_string),
        })
        .collect()
}

fn current_files(session: &Session) -> Result<Vec<File>, CliError> {
    let answered = session.get("/programs")?;
    let programs = answered.data["programs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Only admin tokens see file text (SPEC §10): without it every file would look changed.
    if programs.iter().any(|program| program.get("text").is_none()) {
        return Err(CliError::new(
            exit::ERROR,
            "the daemon shows program files' text only to the admin role: diff and apply need an admin token",
        ));
    }
    Ok(programs
        .iter()
        .map(|program| {
            let name = scalar(&program["name"]);
            let path = program["file"].as_str().unwrap_or_default();
            let file = path
                .rsplit('/')
                .next()
                .filter(|file| !file.is_empty())
                .unwrap_or(&name)
                .to_string();
            File {
                name,
                file,
                text: program["text"].as_str().map(str::to_string),
            }
        })
        .collect())
}

/// Every program of either side, in name order, with what makes the daemon equal DIR.
fn plan(current: Vec<File>, wanted: Vec<File>) -> Vec<Change> {
    let mut current: std::collections::BTreeMap<String, File> = current
        .into_iter()
        .map(|file| (file.name.clone(), file))
        .collect();
    let mut changes: Vec<Change> = Vec::new();
    for wanted in wanted {
        changes.push(match current.remove(&wanted.name) {
            None => Change::Create { wanted },
            Some(current)
                if current.file == wanted.file
                    && current.text.is_some()
                    && current.text == wanted.text =>
            {
                Change::Same { current }
            }
            Some(current) => Change::Update { current, wanted },
        });
    }
    changes.extend(
        current
            .into_values()
            .map(|current| Change::Remove { current }),
    );
    changes.sort_by(|a, b| a.name().cmp(b.name()));
    changes
}

#[derive(Debug, Default)]
struct Tally {
    created: Vec<String>,
    updated: Vec<String>,
    removed: Vec<String>,
    kept: Vec<String>,
    unchanged: Vec<String>,
}

impl Tally {
    fn json(&self, diffs: serde_json::Map<String, Value>, dry_run: bool, applied: bool) -> Value {
        json!({
            "dry_run": dry_run,
            "applied": applied,
            "create": self.created,
            "update": self.updated,
            "remove": self.removed,
            "not_in_dir": self.kept,
            "unchanged": self.unchanged,
            "diffs": diffs,
        })
    }
}

/// `hoody-daemon diff DIR [--exit-code]`: with `--exit-code`, exit 1 when the daemon's
/// programs.d differs from DIR in any way (new, changed, or a program DIR lacks), as
/// `git diff --exit-code` does.
pub fn diff(global: &GlobalArgs, dir: &Path, exit_code: bool) -> Result<(), CliError> {
    let snapshot = read_folder(dir)?;
    let session = Session::open(global)?;
    let changes = plan(current_files(&session)?, wanted_files(&snapshot));
    let mut tally = Tally::default();
    let mut diffs = serde_json::Map::new();
    for change in &changes {
        let name = change.name().to_string();
        let diff = change.diff();
        match change {
            Change::Create { wanted } => {
                if !session.json {
                    println!("new program {name} ({})", wanted.file);
                }
                tally.created.push(name.clone());
            }
            Change::Update { .. } => {
                if !session.json {
                    println!("changed program {name}");
                }
                tally.updated.push(name.clone());
            }
            Change::Remove { .. } => {
                if !session.json {
                    println!(
                        "program {name} is not in {} (apply --prune removes it)",
                        dir.display()
                    );
                }
                tally.removed.push(name.clone());
            }
            Change::Same { .. } => tally.unchanged.push(name.clone()),
        }
        if !diff.is_empty() {
            if !session.json {
                output::print_diff(&diff);
            }
            diffs.insert(name, Value::from(diff));
        }
    }
    let differs =
        !(tally.created.is_empty() && tally.updated.is_empty() && tally.removed.is_empty());
    if session.json {
        output::print_json(&tally.json(diffs, true, false));
    } else {
        println!(
            "{} new, {} changed, {} not in {}, {} unchanged",
            tally.created.len(),
            tally.updated.len(),
            tally.removed.len(),
            dir.display(),
            tally.unchanged.len()
        );
    }
    if exit_code && differs {
        // The diff was the message: exit 1 says only "there are changes".
        return Err(CliError::new(exit::ERROR, ""));
    }
    Ok(())
}

/// `hoody-daemon apply DIR [--prune] [--dry-run]`.
pub fn apply(global: &GlobalArgs, dir: &Path, options: ApplyOptions) -> Result<(), CliError> {
    let snapshot = read_folder(dir)?;
    let session = Session::open(global)?;
    let changes = plan(current_files(&session)?, wanted_files(&snapshot));
    let mut tally = Tally::default();
    let mut diffs = serde_json::Map::new();
    let would = if options.dry_run { "would " } else { "" };
    for change in &changes {
        let name = change.name().to_string();
        let mut diff = change.diff();
        match change {
            Change::Same { .. } => {
                tally.unchanged.push(name);
                continue;
            }
            Change::Remove { .. } if !options.prune => {
                if !session.json {
                    println!("keep {name}: not in {} (--prune removes it)", dir.display());
                }
                tally.kept.push(name);
                continue;
            }
            Change::Create { wanted } | Change::Update { wanted, .. } => {
                let verb = if matches!(change, Change::Create { .. }) {
                    "create"
                } else {
                    "update"
                };
                if !session.json {
                    println!("{would}{verb} {name} ({})", wanted.file);
                }
                if !options.dry_run {
                    let body = json!({ "file": wanted.file, "text": wanted.text.clone().unwrap_or_default() });
                    let answered = session
                        .post("/programs/put", Some(&body))
                        .map_err(|error| stopped(error, &name, &tally))?;
                    if let Some(applied) = answered.data["diff"]
                        .as_str()
                        .filter(|applied| !applied.is_empty())
                    {
                        diff = applied.to_string();
                    }
                }
                if verb == "create" {
                    tally.created.push(name.clone());
                } else {
                    tally.updated.push(name.clone());
                }
            }
            Change::Remove { current } => {
                if !session.json {
                    println!("{would}remove {name} ({})", current.file);
                }
                if !options.dry_run {
                    session
                        .post(&format!("/programs/remove/{}", segment(&name)), None)
                        .map_err(|error| stopped(error, &name, &tally))?;
                }
                tally.removed.push(name.clone());
            }
        }
        if !session.json {
            output::print_diff(&diff);
        }
        diffs.insert(name, Value::from(diff));
    }
    if session.json {
        output::print_json(&tally.json(diffs, options.dry_run, !options.dry_run));
        return Ok(());
    }
    let total = tally.created.len() + tally.updated.len() + tally.removed.len();
    let summary = format!(
        "{} created, {} updated, {} removed, {} unchanged{}",
        tally.created.len(),
        tally.updated.len(),
        tally.removed.len(),
        tally.unchanged.len(),
        if tally.kept.is_empty() {
            String::new()
        } else {
            format!(", {} not in {} kept", tally.kept.len(), dir.display())
        }
    );
    if options.dry_run {
        println!("Dry run, nothing changed: {summary}");
    } else if total == 0 {
        println!("Already up to date: {summary}");
    } else {
        println!("Applied: {summary}");
    }
    Ok(())
}

/// An error in the middle of an apply: what failed, and what had been done before it.
fn stopped(error: CliError, name: &str, tally: &Tally) -> CliError {
    let done = tally.created.len() + tally.updated.len() + tally.removed.len();
    CliError {
        message: format!(
            "apply stopped at {name}: {}\n  {done} change{} before it {} applied; run apply again once it is fixed",
            error.message,
            if done == 1 { "" } else { "s" },
            if done == 1 { "was" } else { "were" },
        ),
        ..error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, file: &str, text: &str) -> File {
        File {
            name: name.into(),
            file: file.into(),
            text: Some(text.into()),
        }
    }

    #[test]
    fn plans_compare_names_files_and_bytes() {
        let current = vec![
            file("same", "same.toml", "command = \"a\"\n"),
            file("edited", "edited.toml", "command = \"a\"\n"),
            file("moved", "moved.toml", "command = \"a\"\n"),
            file("gone", "gone.toml", "command = \"a\"\n"),
        ];
        let wanted = vec![
            file("same", "same.toml", "command = \"a\"\n"),
            file("edited", "edited.toml", "# a comment\ncommand = \"a\"\n"),
            file("moved", "moved.yaml", "command: a\n"),
            file("fresh", "fresh.toml", "command = \"b\"\n"),
        ];
        let kinds: Vec<(String, &str)> = plan(current, wanted)
            .iter()
            .map(|change| {
                let kind = match change {
                    Change::Create { .. } => "create",
                    Change::Update { .. } => "update",
                    Change::Remove { .. } => "remove",
                    Change::Same { .. } => "same",
                };
                (change.name().to_string(), kind)
            })
            .collect();
        let expected = [
            ("edited", "update"),
            ("fresh", "create"),
            ("gone", "remove"),
            ("moved", "update"),
            ("same", "same"),
        ];
        let expected: Vec<(String, &str)> = expected
            .iter()
            .map(|(name, kind)| (name.to_string(), *kind))
            .collect();
        assert_eq!(kinds, expected);
    }

    #[test]
    fn a_new_file_diffs_from_dev_null() {
        let change = Change::Create {
            wanted: file("web", "web.toml", "command = \"sleep 1\"\n"),
        };
        assert_eq!(
            change.diff(),
            "--- /dev/null\n+++ b/web.toml\n@@ -0,0 +1 @@\n+command = \"sleep 1\"\n"
        );
    }
}
