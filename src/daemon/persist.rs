//! What the daemon keeps in its state folder besides the ids: the operators' run intents
//! (`intents.json`, so a daemon restart keeps what they did), the processes it runs
//! (`running.json`, pid plus kernel start time, so the next start after a crash ends the
//! leftovers without ever hitting a reused pid). The lock that keeps two daemons off one
//! state folder is `lock`'s.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::spec::StopSignal;
use crate::store::write_atomic;
use crate::supervisor::Recorded;

/// The run intent of every program the daemon knows.
pub type Intents = BTreeMap<String, bool>;

/// One process of the last run, as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningRecord {
    pub pid: u32,
    /// Field 22 of /proc/PID/stat when it was spawned.
    pub start_time: u64,
    pub stopsignal: String,
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

pub struct StateFiles {
    dir: PathBuf,
}

impl StateFiles {
    /// The state folder, which the daemon has locked (`lock::Locks`).
    pub fn open(dir: &Path) -> StateFiles {
        StateFiles {
            dir: dir.to_path_buf(),
        }
    }

    pub fn load_intents(&self) -> io::Result<Option<Intents>> {
        load_json(&self.dir.join("intents.json"))
    }

    pub fn save_intents(&self, intents: &Intents) -> io::Result<()> {
        save_json(&self.dir.join("intents.json"), intents)
    }

    pub fn load_running(&self) -> io::Result<Running> {
        Ok(load_json(&self.dir.join("running.json"))?.unwrap_or_default())
    }

    /// Written after every change of the set of processes, so without fsync: the record only
    /// has to outlive a crash of the daemon (a power cut ends the processes it lists too).
    pub fn save_running(&self, running: &Running) -> io::Result<()> {
        let text = serde_json::to_string_pretty(running).map_err(io::Error::other)?;
        crate::store::replace_unsynced(&self.dir.join("running.json"), &text)
    }
}

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
