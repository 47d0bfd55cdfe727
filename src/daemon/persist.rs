//! What the daemon keeps in its state folder besides the ids: the operators' run intents
//! (`intents.json`, so a daemon restart keeps what they did), each program's generation
//! (`generations.json`, so a generation never goes down for the life of a state folder, SPEC
//! §4), the processes it runs
//! (`running.json`, pid plus kernel start time, so the next start after a crash ends the
//! leftovers without ever hitting a reused pid). The lock that keeps two daemons off one
//! state folder is `lock`'s. Each file has a journal beside it ([`crate::store::Journal`]): the
//! changes of one event are appended to it, and the file is rewritten only when the journal
//! has grown as long as the file, so saving after an event costs the same with 10 programs and
//! 10,000.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::StopSignal;
use crate::store::{Journal, apply_changes, write_atomic};
use crate::supervisor::Recorded;

/// The run intent of every program the daemon knows.
pub type Intents = BTreeMap<String, bool>;

/// One process of the last run, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningRecord {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat when it was spawned.
    pub start_time: u64,
    /// A signal's name (`TERM`); borrowed from the spec's [`StopSignal::name`] when recorded
    /// here, owned when read back from the file (one allocation less per running program).
    pub stopsignal: Cow<'static, str>,
    pub stopwaitsecs: f64,
}

pub type Running = BTreeMap<String, RunningRecord>;

/// The records as the supervisor's search for leftovers takes them.
pub fn recorded(running: &Running) -> Vec<Recorded> {
    running
        .iter()
        .map(|(name, record)| Recorded {
            name: name.clone(),
            pid: record.pid,
            start_time: record.start_time,
            stop_signal: StopSignal::parse(&record.stopsignal).unwrap_or(StopSignal::Term),
            grace: Duration::from_secs_f64(record.stopwaitsecs.clamp(0.0, 86_400.0)),
        })
        .collect()
}

/// The last generation of a program and a hash of the file text it was given for, kept for
/// every name ever seen (a removed program's too, so a file of that name that comes back goes
/// on counting from there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRecord {
    pub generation: u64,
    /// [`text_hash`] of the file's text (0: unreadable or removed).
    pub text: u64,
}

pub type Generations = BTreeMap<String, GenerationRecord>;

/// A hash of a program file's text that stays the same across runs and builds (FNV-1a; std's
/// hasher makes no such promise): whether a file changed while the daemon was down.
pub fn text_hash(text: Option<&str>) -> u64 {
    let Some(text) = text else {
        return 0;
    };
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// The generation of a program seen for the first time in this run: 1 for a name never seen,
/// the recorded one when its file is the text it had, one more when it changed meanwhile.
pub fn first_generation(saved: Option<&GenerationRecord>, text: Option<&str>) -> u64 {
    match saved {
        None => 1,
        Some(record) if record.text != 0 && record.text == text_hash(text) => {
            record.generation.max(1)
        }
        Some(record) => record.generation + 1,
    }
}

pub struct StateFiles {
    dir: PathBuf,
    intents: Journal,
    generations: Journal,
    /// Not synced, as `running.json` itself.
    running: Journal,
}

impl StateFiles {
    /// The state folder, which the daemon has locked (`lock::Locks`).
    pub fn open(dir: &Path) -> StateFiles {
        StateFiles {
            dir: dir.to_path_buf(),
            intents: Journal::of(&dir.join("intents.json"), true),
            generations: Journal::of(&dir.join("generations.json"), true),
            running: Journal::of(&dir.join("running.json"), false),
        }
    }

    /// `None` with a fresh state folder (neither the file nor its journal).
    pub fn load_intents(&mut self) -> io::Result<Option<Intents>> {
        let base: Option<Intents> = load_json(&self.dir.join("intents.json"))?;
        let changes = self.intents.replay::<bool>()?;
        if base.is_none() && changes.is_empty() {
            return Ok(None);
        }
        let mut intents = base.unwrap_or_default();
        apply_changes(&mut intents, changes);
        Ok(Some(intents))
    }

    /// Saves the intents of these programs (`None`: gone), of the `entries` programs there
    /// are; `whole` makes every intent, called only when the file is rewritten.
    pub fn save_intent_changes(
        &mut self,
        changes: &[(String, Option<bool>)],
        entries: usize,
        whole: impl FnOnce() -> Intents,
    ) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        if changes.len() > entries / 2 || self.intents.wants_compaction(entries) {
            save_json(&self.dir.join("intents.json"), &whole())?;
            return self.intents.compacted();
        }
        self.intents.append(
            changes
                .iter()
                .map(|(name, run)| (name.as_str(), run.as_ref())),
        )
    }

    pub fn load_generations(&mut self) -> io::Result<Generations> {
        let mut generations: Generations =
            load_json(&self.dir.join("generations.json"))?.unwrap_or_default();
        apply_changes(&mut generations, self.generations.replay()?);
        Ok(generations)
    }

    /// Saves the generations of these programs (every name ever seen keeps its record).
    pub fn save_generation_changes(
        &mut self,
        changed: &[&str],
        generations: &Generations,
    ) -> io::Result<()> {
        if changed.is_empty() {
            return Ok(());
        }
        if changed.len() > generations.len() / 2
            || self.generations.wants_compaction(generations.len())
        {
            save_json(&self.dir.join("generations.json"), generations)?;
            return self.generations.compacted();
        }
        self.generations.append(
            changed
                .iter()
                .filter_map(|name| generations.get_key_value(*name))
                .map(|(name, record)| (name.as_str(), Some(record))),
        )
    }

    pub fn load_running(&mut self) -> io::Result<Running> {
        let mut running: Running = load_json(&self.dir.join("running.json"))?.unwrap_or_default();
        apply_changes(&mut running, self.running.replay()?);
        Ok(running)
    }

    /// Written after every change of the set of processes, so without fsync: the record only
    /// has to outlive a crash of the daemon (a power cut ends the processes it lists too).
    pub fn save_running(&mut self, running: &Running) -> io::Result<()> {
        let text = serde_json::to_string_pretty(running).map_err(io::Error::other)?;
        crate::store::replace_unsynced(&self.dir.join("running.json"), &text)?;
        self.running.compacted()
    }

    /// Saves the records of these processes' jobs (`None`: no process any more); `whole` is
    /// the record as it is now, for when the file is rewritten.
    pub fn save_running_changes(
        &mut self,
        changes: &[(String, Option<RunningRecord>)],
        whole: &Running,
    ) -> io::Result<()> {
        if changes.is_empty() {
            return Ok(());
        }
        // Rewritten when most of a big record changed at once (a boot wave); otherwise the
        // changes are appended. A rewrite is a new file (a new inode: under load ext4's
        // allocator made it 0.3–0.8 ms) where an append is one write: with a few programs,
        // "more than half changed" was every restart.
        if (changes.len() > whole.len() / 2 && changes.len() >= REWRITE_AT_CHANGES)
            || self.running.wants_compaction(whole.len())
        {
            return self.save_running(whole);
        }
        self.running.append(
            changes
                .iter()
                .map(|(name, record)| (name.as_str(), record.as_ref())),
        )
    }
}

/// `running.json` is rewritten instead of journalled when an event changed at least this many
/// records and more than half of them (see `save_running_changes`).
const REWRITE_AT_CHANGES: usize = 64;

/// Creates a folder and any missing parents with mode 0700 (less the umask).
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

fn load_json<T: for<'de> Deserialize<'de>>(path: &Path) -> io::Result<Option<T>> {
    match fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} is damaged: {error}", path.display()),
            )
        }),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

fn save_json<T: Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A restart among a few programs appends to the journal (the file is not rewritten, no
    /// new inode); a big record that mostly changed at once is rewritten; both load back the
    /// same records.
    #[test]
    fn few_changes_are_journalled_and_a_mostly_changed_big_record_is_rewritten() {
        let dir = tempfile::tempdir().expect("tempdir");
        let record = |pid| RunningRecord {
            pid,
            start_time: u64::from(pid) * 10,
            stopsignal: "TERM".into(),
            stopwaitsecs: 10.0,
        };
        let mut state = StateFiles::open(dir.path());
        let mut whole = Running::from([("web".to_string(), record(100))]);
        state.save_running(&whole).expect("save");
        let file = dir.path().join("running.json");
        let inode =
            |path: &Path| std::os::unix::fs::MetadataExt::ino(&fs::metadata(path).expect("stat"));
        let first = inode(&file);
        // The one program restarted: one of one record changed.
        whole.insert("web".to_string(), record(101));
        state
            .save_running_changes(&[("web".to_string(), Some(record(101)))], &whole)
            .expect("append");
        assert_eq!(inode(&file), first, "rewritten for one change");
        assert_eq!(state.running.lines(), 1);
        assert_eq!(
            StateFiles::open(dir.path()).load_running().expect("load"),
            whole
        );
        // A boot wave: 100 programs of 100 changed.
        let changes: Vec<(String, Option<RunningRecord>)> = (0..100)
            .map(|index| (format!("p{index}"), Some(record(1000 + index))))
            .collect();
        let mut big = Running::new();
        for (name, record) in &changes {
            big.insert(name.clone(), record.clone().expect("record"));
        }
        state.save_running_changes(&changes, &big).expect("rewrite");
        assert_ne!(
            inode(&file),
            first,
            "a mostly changed big record is rewritten"
        );
        assert_eq!(
            state.running.lines(),
            0,
            "the journal is emptied by the rewrite"
        );
        assert_eq!(
            StateFiles::open(dir.path()).load_running().expect("load"),
            big
        );
    }

    #[test]
    fn a_generation_never_goes_down_across_runs() {
        let text = "command = \"sleep 1\"\n";
        let record = |generation, text| GenerationRecord {
            generation,
            text: text_hash(text),
        };
        let cases = [
            // Never seen: the first generation.
            (None, Some(text), 1),
            // Seen with this very text: the same generation (nothing changed).
            (Some(record(7, Some(text))), Some(text), 7),
            // Changed while the daemon was down, or unreadable now: one more.
            (
                Some(record(7, Some(text))),
                Some("command = \"sleep 2\"\n"),
                8,
            ),
            (Some(record(7, Some(text))), None, 8),
            // Removed, and a file of that name is back: it goes on counting.
            (Some(record(9, None)), Some(text), 10),
        ];
        for (saved, now, expected) in cases {
            assert_eq!(
                first_generation(saved.as_ref(), now),
                expected,
                "{saved:?} {now:?}"
            );
        }
        assert_ne!(text_hash(Some(text)), text_hash(Some("")));
        assert_eq!(
            text_hash(Some("abc")),
            0xe71f_a219_0541_574b,
            "FNV-1a, stable across builds"
        );
    }
}
