//! Stable numeric program ids (SPEC §2): given when the daemon first sees a name, kept in the
//! state folder (`ids.json`), never reused — a removed program's id is retired, and a program of
//! the same name added later gets a new one. Never written into the user's files. A change of a
//! few names (an API write) is appended to `ids.json.journal` ([`super::Journal`]); a sync of
//! the whole folder rewrites the file.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::journal::Journal;
use super::write::write_atomic;

#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
struct IdFile {
    /// The next id to give; only grows.
    next: u64,
    ids: BTreeMap<String, u64>,
}

/// The id registry, saved to the state folder after every change.
#[derive(Debug)]
pub struct Ids {
    path: PathBuf,
    file: IdFile,
    journal: Journal,
    /// A change that could not be saved yet (a full disk): saved at the next chance, by
    /// rewriting the whole file.
    unsaved: bool,
}

impl Ids {
    /// Loads `ids.json` from the state folder, or starts empty when there is none.
    pub fn load(state_dir: &Path) -> io::Result<Ids> {
        let path = state_dir.join("ids.json");
        let file = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|error| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{} is damaged: {error}", path.display()),
                )
            })?,
            Err(error) if error.kind() == io::ErrorKind::NotFound => IdFile {
                next: 1,
                ids: BTreeMap::new(),
            },
            Err(error) => return Err(error),
        };
        let mut journal = Journal::of(&path, true);
        let mut file = file;
        for (name, id) in journal.replay::<u64>()? {
            match id {
                Some(id) => {
                    file.next = file.next.max(id + 1);
                    file.ids.insert(name, id);
                }
                None => {
                    file.ids.remove(&name);
                }
            }
        }
        Ok(Ids {
            path,
            file,
            journal,
            unsaved: false,
        })
    }

    /// Gives `name` an id now, if it has none, and saves it: the API does this before it writes
    /// a new program's file, so the id is on disk before the file is (a crash in between
    /// leaves an id retired at the next scan, never two programs swapping ids). When the save
    /// fails nothing changes. One line appended to the journal.
    pub fn reserve(&mut self, name: &str) -> io::Result<u64> {
        if let Some(id) = self.get(name) {
            return Ok(id);
        }
        let id = self.file.next;
        self.file.ids.insert(name.to_string(), id);
        self.file.next += 1;
        if let Err(error) = self.record(&[(name.to_string(), Some(id))]) {
            self.file.ids.remove(name);
            self.file.next = id;
            return Err(error);
        }
        Ok(id)
    }

    pub fn get(&self, name: &str) -> Option<u64> {
        self.file.ids.get(name).copied()
    }

    pub fn name_of(&self, id: u64) -> Option<&str> {
        self.file
            .ids
            .iter()
            .find(|(_, known)| **known == id)
            .map(|(name, _)| name.as_str())
    }

    /// Makes the set of named programs exactly `names`: new names get the next ids, names that
    /// are gone are retired. Saves when anything changed.
    pub fn sync<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) -> io::Result<()> {
        let wanted: std::collections::BTreeSet<&str> = names.into_iter().collect();
        let gone: Vec<String> = self
            .file
            .ids
            .keys()
            .filter(|name| !wanted.contains(name.as_str()))
            .cloned()
            .collect();
        let mut changes: Vec<(String, Option<u64>)> = Vec::new();
        for name in gone {
            self.file.ids.remove(&name);
            changes.push((name, None));
        }
        for name in wanted {
            if !self.file.ids.contains_key(name) {
                self.file.ids.insert(name.to_string(), self.file.next);
                changes.push((name.to_string(), Some(self.file.next)));
                self.file.next += 1;
            }
        }
        self.record(&changes)
    }

    /// Gives ids to the names that are `present` and have none, and retires those that are
    /// not: what [`Ids::sync`] does, for these names alone. Saves when anything changed.
    pub fn sync_some<'a>(
        &mut self,
        names: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> io::Result<()> {
        let mut changes: Vec<(String, Option<u64>)> = Vec::new();
        for (name, present) in names {
            if !present {
                if self.file.ids.remove(name).is_some() {
                    changes.push((name.to_string(), None));
                }
            } else if !self.file.ids.contains_key(name) {
                self.file.ids.insert(name.to_string(), self.file.next);
                changes.push((name.to_string(), Some(self.file.next)));
                self.file.next += 1;
            }
        }
        self.record(&changes)
    }

    /// Saves a change an earlier [`Ids::sync`] could not.
    pub fn save_unsaved(&mut self) -> io::Result<()> {
        if self.unsaved {
            self.save()?;
        }
        Ok(())
    }

    /// Saves changes made to the map: appended to the journal, or, when the journal is due
    /// for it, the changes are many or an earlier change could not be saved, by rewriting the
    /// file. A failure leaves the change unsaved (and the next save rewrites the file).
    fn record(&mut self, changes: &[(String, Option<u64>)]) -> io::Result<()> {
        if changes.is_empty() && !self.unsaved {
            return Ok(());
        }
        let result = if self.unsaved
            || changes.len() > self.file.ids.len() / 2
            || self.journal.wants_compaction(self.file.ids.len())
        {
            self.save()
        } else {
            self.journal.append(
                changes
                    .iter()
                    .map(|(name, id)| (name.as_str(), id.as_ref())),
            )
        };
        if result.is_err() {
            self.unsaved = true;
        }
        result
    }

    /// Rewrites `ids.json` whole and empties its journal.
    fn save(&mut self) -> io::Result<()> {
        let text = serde_json::to_string_pretty(&self.file).map_err(io::Error::other)?;
        write_atomic(&self.path, &text)?;
        self.unsaved = false;
        self.journal.compacted()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_retired_and_never_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ids = Ids::load(dir.path()).expect("load");
        ids.sync(["web", "worker"]).expect("sync");
        assert_eq!((ids.get("web"), ids.get("worker")), (Some(1), Some(2)));
        ids.sync(["worker", "cron"]).expect("sync");
        assert_eq!(ids.get("web"), None);
        assert_eq!(ids.get("cron"), Some(3));
        let mut reloaded = Ids::load(dir.path()).expect("reload");
        assert_eq!(reloaded.get("worker"), Some(2));
        assert_eq!(reloaded.name_of(3), Some("cron"));
        reloaded.sync(["worker", "cron", "web"]).expect("sync");
        assert_eq!(
            reloaded.get("web"),
            Some(4),
            "a retired id is not given again"
        );
    }

    #[test]
    fn ids_given_and_retired_a_few_at_a_time_survive_a_reload() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ids = Ids::load(dir.path()).expect("load");
        ids.sync(["web", "worker"]).expect("sync");
        ids.sync_some([("cron", true), ("web", false)])
            .expect("some");
        ids.sync_some([("web", true)]).expect("some");
        assert!(dir.path().join("ids.json.journal").exists());
        let mut reloaded = Ids::load(dir.path()).expect("reload");
        assert_eq!(
            (
                reloaded.get("worker"),
                reloaded.get("cron"),
                reloaded.get("web")
            ),
            (Some(2), Some(3), Some(4))
        );
        reloaded.sync_some([("new", true)]).expect("some");
        assert_eq!(reloaded.get("new"), Some(5), "next follows the journal");
        reloaded
            .sync(["new"])
            .expect("a whole sync rewrites the file");
        let again = Ids::load(dir.path()).expect("reload");
        assert_eq!((again.get("new"), again.get("web")), (Some(5), None));
    }

    #[test]
    fn a_reserved_id_is_saved_first_and_nothing_changes_when_it_cannot_be() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ids = Ids::load(dir.path()).expect("load");
        assert_eq!(ids.reserve("web").expect("reserve"), 1);
        assert_eq!(ids.reserve("web").expect("again"), 1);
        assert_eq!(Ids::load(dir.path()).expect("reload").get("web"), Some(1));
        // The state folder gone: the save fails, and the id is not given.
        let missing = dir.path().join("missing/ids.json");
        let mut lost = Ids {
            journal: Journal::of(&missing, true),
            path: missing,
            file: IdFile {
                next: 2,
                ids: BTreeMap::new(),
            },
            unsaved: false,
        };
        assert!(lost.reserve("db").is_err());
        assert_eq!((lost.get("db"), lost.file.next), (None, 2));
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("ids.json"), "{not json").expect("write");
        let error = Ids::load(dir.path()).expect_err("damaged");
        assert!(error.to_string().contains("ids.json is damaged"), "{error}");
    }
}
