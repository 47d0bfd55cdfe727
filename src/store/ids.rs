//! Stable numeric program ids (SPEC §2): given when the daemon first sees a name, kept in the
//! state folder (`ids.json`), never reused — a removed program's id is retired, and a program of
//! the same name added later gets a new one. Never written into the user's files.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

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
    /// A change that could not be saved yet (a full disk): saved at the next chance.
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
        Ok(Ids {
            path,
            file,
            unsaved: false,
        })
    }

    /// Gives `name` an id now, if it has none, and saves it: the API does this before it writes
    /// a new program's file, so the id is on disk before the file is (a crash in between
    /// leaves an id retired at the next scan, never two programs swapping ids). When the save
    /// fails nothing changes.
    pub fn reserve(&mut self, name: &str) -> io::Result<u64> {
        if let Some(id) = self.get(name) {
            return Ok(id);
        }
        let id = self.file.next;
        self.file.ids.insert(name.to_string(), id);
        self.file.next += 1;
        if let Err(error) = self.save() {
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
        let before = self.file.ids.len();
        self.file
            .ids
            .retain(|name, _| wanted.contains(name.as_str()));
        let mut changed = self.file.ids.len() != before;
        for name in wanted {
            if !self.file.ids.contains_key(name) {
                self.file.ids.insert(name.to_string(), self.file.next);
                self.file.next += 1;
                changed = true;
            }
        }
        if changed || self.unsaved {
            self.unsaved = true;
            self.save()?;
            self.unsaved = false;
        }
        Ok(())
    }

    /// Saves a change an earlier [`Ids::sync`] could not.
    pub fn save_unsaved(&mut self) -> io::Result<()> {
        if self.unsaved {
            self.save()?;
            self.unsaved = false;
        }
        Ok(())
    }

    fn save(&self) -> io::Result<()> {
        let text = serde_json::to_string_pretty(&self.file).map_err(io::Error::other)?;
        write_atomic(&self.path, &text)
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
    fn a_reserved_id_is_saved_first_and_nothing_changes_when_it_cannot_be() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut ids = Ids::load(dir.path()).expect("load");
        assert_eq!(ids.reserve("web").expect("reserve"), 1);
        assert_eq!(ids.reserve("web").expect("again"), 1);
        assert_eq!(Ids::load(dir.path()).expect("reload").get("web"), Some(1));
        // The state folder gone: the save fails, and the id is not given.
        let mut lost = Ids {
            path: dir.path().join("missing/ids.json"),
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
