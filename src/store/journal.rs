//! A map by name kept in the state folder as a JSON file (`ids.json`, `generations.json`,
//! `intents.json`, `running.json`) plus a journal beside it (`NAME.json.journal`): the changes
//! made since the file was last written, one JSON line per name changed. A change costs one
//! append (and one `fdatasync` when the record must survive a power cut), whatever the size of
//! the map; rewriting the whole file after each change made every API write cost O(programs)
//! (with 10,000 programs, about a megabyte of JSON per write).
//!
//! When the journal holds more lines than the map has entries (and at least
//! [`COMPACT_AFTER`]), the owner rewrites the file atomically ([`super::write_atomic`]) and
//! calls [`Journal::compacted`], which empties the journal: a rewrite of N entries every N
//! changes, so the cost per change stays constant. A crash between the two leaves a journal
//! whose lines are already in the file; replaying them again sets the same values.
//!
//! Reading: the file, then every line of the journal in order. A line cut short by a crash in
//! the middle of an append (no newline, or not JSON) can only be the last one, was never made
//! durable, and ends the replay. An older daemon that knows no journal reads the file alone
//! (what it misses is the changes since the last rewrite).

use std::fs;
use std::io::{self, Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The journal is folded into its file once it has this many lines, or more lines than the
/// map has entries, whichever is more.
pub const COMPACT_AFTER: usize = 1024;

/// One line: a name's new value, or (no `value`) its removal.
#[derive(Serialize, Deserialize)]
struct Line<V> {
    name: String,
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    value: Option<V>,
}

/// The journal of one state file.
#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    /// Open for appending once something was appended.
    file: Option<fs::File>,
    /// Lines in the journal now.
    lines: usize,
    /// Appends are `fdatasync`ed (the record must outlive a power cut).
    synced: bool,
}

impl Journal {
    /// The journal of the state file `file` (`file` + `.journal`). `synced`: each append is
    /// made durable before [`Journal::append`] returns.
    pub fn of(file: &Path, synced: bool) -> Journal {
        let mut path = file.as_os_str().to_owned();
        path.push(".journal");
        Journal {
            path: PathBuf::from(path),
            file: None,
            lines: 0,
            synced,
        }
    }

    /// The changes the journal holds, in order (`None`: the name was removed).
    pub fn replay<V: DeserializeOwned>(&mut self) -> io::Result<Vec<(String, Option<V>)>> {
        let mut text = String::new();
        match fs::File::open(&self.path) {
            Ok(mut file) => {
                file.read_to_string(&mut text)?;
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
        let mut changes = Vec::new();
        let mut rest = text.as_str();
        while let Some((line, after)) = rest.split_once('\n') {
            rest = after;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line<V>>(line) {
                Ok(line) => changes.push((line.name, line.value)),
                Err(error) => {
                    tracing::warn!(journal = %self.path.display(), %error, "a journal line cut short ends its replay");
                    break;
                }
            }
        }
        self.lines = changes.len();
        Ok(changes)
    }

    /// Appends these changes (one write, then one `fdatasync` when synced).
    pub fn append<'a, V: Serialize + 'a>(
        &mut self,
        changes: impl IntoIterator<Item = (&'a str, Option<&'a V>)>,
    ) -> io::Result<()> {
        let mut text = Vec::new();
        let mut count = 0;
        for (name, value) in changes {
            serde_json::to_writer(
                &mut text,
                &Line {
                    name: name.to_string(),
                    value,
                },
            )
            .map_err(io::Error::other)?;
            text.push(b'\n');
            count += 1;
        }
        if count == 0 {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => {
                let created = !self.path.exists();
                let file = fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o600)
                    .open(&self.path)?;
                if created && self.synced {
                    // The journal's name must be durable too.
                    file.sync_all()?;
                    if let Some(dir) = self.path.parent() {
                        super::sync_dir(dir)?;
                    }
                }
                self.file.insert(file)
            }
        };
        // A full filesystem refuses the change, as a rewrite of the file would: an append may
        // still fit in the last page the journal already has, and whether a write is saved
        // must not depend on that (SPEC §11: a full disk is a 507, every time).
        let stat = nix::sys::statvfs::fstatvfs(&*file).map_err(io::Error::from)?;
        if stat.blocks_free() == 0 {
            return Err(io::Error::from_raw_os_error(libc::ENOSPC));
        }
        file.write_all(&text)?;
        if self.synced {
            file.sync_data()?;
        }
        self.lines += count;
        Ok(())
    }

    /// Whether the owner should rewrite its file now (and then call [`Journal::compacted`]):
    /// the journal has more lines than the map, of `entries`, has entries.
    pub fn wants_compaction(&self, entries: usize) -> bool {
        self.lines > entries.max(COMPACT_AFTER)
    }

    /// The owner has just written its whole file: the journal is emptied.
    pub fn compacted(&mut self) -> io::Result<()> {
        if self.lines == 0 && self.file.is_none() && !self.path.exists() {
            return Ok(());
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(0o600)
            .open(&self.path)?;
        if self.synced {
            file.sync_all()?;
        }
        // Appends go on through a descriptor opened with O_APPEND: it writes at the new end.
        self.lines = 0;
        Ok(())
    }

    /// Lines in the journal now.
    pub fn lines(&self) -> usize {
        self.lines
    }
}

/// Applies replayed changes to a map.
pub fn apply_changes<V>(
    map: &mut std::collections::BTreeMap<String, V>,
    changes: Vec<(String, Option<V>)>,
) {
    for (name, value) in changes {
        match value {
            Some(value) => {
                map.insert(name, value);
            }
            None => {
                map.remove(&name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn appends_replay_in_order_and_a_torn_last_line_ends_the_replay() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("generations.json");
        let mut journal = Journal::of(&file, true);
        journal
            .append([("web", Some(&3u64)), ("db", Some(&1))])
            .expect("append");
        journal.append([("web", None::<&u64>)]).expect("append");
        journal.append([("web", Some(&5u64))]).expect("append");
        assert_eq!(journal.lines(), 4);
        let mut journal_path = file.as_os_str().to_owned();
        journal_path.push(".journal");
        let mut raw = fs::OpenOptions::new()
            .append(true)
            .open(PathBuf::from(&journal_path))
            .expect("open");
        raw.write_all(b"{\"name\":\"cut\",\"val").expect("torn");

        let mut again = Journal::of(&file, true);
        let changes: Vec<(String, Option<u64>)> = again.replay().expect("replay");
        let mut map = BTreeMap::from([("old".to_string(), 9u64)]);
        apply_changes(&mut map, changes);
        assert_eq!(
            map,
            BTreeMap::from([
                ("db".to_string(), 1),
                ("old".to_string(), 9),
                ("web".to_string(), 5)
            ])
        );
        assert_eq!(again.lines(), 4);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(PathBuf::from(&journal_path))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn compaction_empties_the_journal_and_appends_go_on_after_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("intents.json");
        let mut journal = Journal::of(&file, false);
        for index in 0..=COMPACT_AFTER {
            journal
                .append([("p", Some(&(index % 2 == 0)))])
                .expect("append");
        }
        assert!(journal.wants_compaction(10));
        assert!(!journal.wants_compaction(COMPACT_AFTER + 1));
        journal.compacted().expect("compacted");
        assert_eq!(journal.lines(), 0);
        journal.append([("q", Some(&true))]).expect("append");
        let changes: Vec<(String, Option<bool>)> =
            Journal::of(&file, false).replay().expect("replay");
        assert_eq!(changes, [("q".to_string(), Some(true))]);
    }
}
