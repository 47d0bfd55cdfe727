//! The log budget (`serve --log-budget SIZE`, SPEC §13): every log file the daemon writes,
//! rotated ones included, stays within SIZE plus one file's `maxbytes`; the oldest rotated
//! files go first and current files are never deleted.
//!
//! How it keeps the bound without a timer: it is checked right after each rotation (the only
//! moment a rotated file appears) and counts each current file at the size it may reach
//! before its own rotation, `max(size, maxbytes)`, since it grows between checks. So after a
//! check the files take at most SIZE, whatever the current files do until the next rotation;
//! a rotation adds one file's `maxbytes` to the count until the check that follows it.
//! Rotated files are deleted oldest first (by modification time, the highest number first
//! among equals) until the count fits. A log that never rotates (`maxbytes = 0`) is counted at
//! its size and can outgrow the budget: only rotated files are ever deleted. The files are
//! those the daemon has written since it started (each log path it opened, and its `.N`
//! files); old files of programs removed before the start are not counted.
//!
//! Unset, it costs nothing: no table, no check. Set, a check costs a `stat` per log file,
//! once per rotation.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::SystemTime;

use super::logs::rotated_path;

/// Rotated files looked for per log, at most.
const MAX_ROTATED: u32 = 10_000;

/// One log file, as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    pub path: PathBuf,
    pub size: u64,
    /// The log's `maxbytes` (0: never rotates).
    pub max_bytes: u64,
    /// `Some(N)` for `file.N` (deletable), `None` for the current file.
    pub rotated: Option<u32>,
    pub modified: SystemTime,
}

impl LogFile {
    /// What the file counts for: a current file may still grow to its `maxbytes`.
    fn counted(&self) -> u64 {
        match self.rotated {
            Some(_) => self.size,
            None => self.size.max(self.max_bytes),
        }
    }
}

/// Which files to delete (indexes into `files`, in deletion order) so that the files count
/// for at most `limit`; the oldest rotated files first.
pub fn plan(files: &[LogFile], limit: u64) -> Vec<usize> {
    let mut total: u64 = files.iter().map(LogFile::counted).sum();
    let mut rotated: Vec<usize> = (0..files.len())
        .filter(|index| files[*index].rotated.is_some())
        .collect();
    rotated.sort_by(|a, b| {
        let (a, b) = (&files[*a], &files[*b]);
        a.modified
            .cmp(&b.modified)
            .then(b.rotated.cmp(&a.rotated))
            .then(a.path.cmp(&b.path))
    });
    let mut delete = Vec::new();
    for index in rotated {
        if total <= limit {
            break;
        }
        total -= files[index].size;
        delete.push(index);
    }
    delete
}

/// The budget and the logs it covers.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    /// Every log path written since the start, with its `maxbytes`.
    logs: Mutex<BTreeMap<PathBuf, u64>>,
    warned: AtomicBool,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            logs: Mutex::new(BTreeMap::new()),
            warned: AtomicBool::new(false),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// A log path the daemon writes (again), with its current `maxbytes`.
    pub fn register(&self, path: &Path, max_bytes: u64) {
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        match logs.get_mut(path) {
            Some(known) => *known = max_bytes,
            None => {
                logs.insert(path.to_path_buf(), max_bytes);
            }
        }
    }

    /// Looks at every file and deletes the oldest rotated ones until the budget holds.
    pub fn enforce(&self) {
        let files = self.files();
        let delete = plan(&files, self.limit);
        for index in &delete {
            let file = &files[*index];
            match std::fs::remove_file(&file.path) {
                Ok(()) => tracing::debug!(path = %file.path.display(), "log budget: deleted"),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => {
                    tracing::warn!(path = %file.path.display(), %error, "log budget: cannot delete")
                }
            }
        }
        let left: u64 = files
            .iter()
            .enumerate()
            .filter(|(index, _)| !delete.contains(index))
            .map(|(_, file)| file.counted())
            .sum();
        if left > self.limit && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                budget = self.limit,
                needed = left,
                "the log budget is smaller than the current log files may grow (each counts as its maxbytes); only rotated files are deleted"
            );
        }
    }

    fn files(&self) -> Vec<LogFile> {
        let logs: Vec<(PathBuf, u64)> = self
            .logs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(path, max_bytes)| (path.clone(), *max_bytes))
            .collect();
        let mut files = Vec::new();
        for (path, max_bytes) in logs {
            let look = |path: PathBuf, rotated: Option<u32>| {
                let metadata = std::fs::symlink_metadata(&path).ok()?;
                metadata.is_file().then(|| LogFile {
                    size: metadata.len(),
                    modified: metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    path,
                    max_bytes,
                    rotated,
                })
            };
            if let Some(current) = look(path.clone(), None) {
                files.push(current);
            }
            for number in 1..=MAX_ROTATED {
                match look(rotated_path(&path, number), Some(number)) {
                    Some(file) => files.push(file),
                    None => break,
                }
            }
        }
        files
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn file(name: &str, size: u64, max_bytes: u64, rotated: Option<u32>, age: u64) -> LogFile {
        LogFile {
            path: PathBuf::from(name),
            size,
            max_bytes,
            rotated,
            modified: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age),
        }
    }

    #[test]
    fn plan_deletes_the_oldest_rotated_files_until_the_budget_holds() {
        let files = [
            file("a", 10, 100, None, 0),
            file("a.1", 100, 100, Some(1), 20),
            file("a.2", 100, 100, Some(2), 40),
            file("b", 300, 100, None, 0),
            file("b.1", 100, 100, Some(1), 30),
            file("c", 50, 0, None, 0),
        ];
        // Counted: a 100 (its maxbytes), a.1 100, a.2 100, b 300, b.1 100, c 50 = 750.
        let names = |limit| -> Vec<&str> {
            plan(&files, limit)
                .into_iter()
                .map(|index| files[index].path.to_str().unwrap())
                .collect()
        };
        assert_eq!(names(750), Vec::<&str>::new());
        assert_eq!(names(749), ["a.2"]);
        assert_eq!(names(650), ["a.2"]);
        assert_eq!(names(600), ["a.2", "b.1"]);
        // Current files are never deleted, even when they alone are over the budget.
        assert_eq!(names(10), ["a.2", "b.1", "a.1"]);
    }

    #[test]
    fn among_files_of_the_same_age_the_highest_number_goes_first() {
        let files = [
            file("x.1", 10, 10, Some(1), 5),
            file("x.3", 10, 10, Some(3), 5),
            file("x.2", 10, 10, Some(2), 5),
        ];
        assert_eq!(plan(&files, 15), [1, 2]);
    }

    #[test]
    fn enforce_deletes_rotated_files_on_disk() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("p.log");
        std::fs::write(&path, vec![b'x'; 10]).unwrap();
        // Oldest first, as rotation leaves them.
        for number in (1..=3).rev() {
            std::fs::write(rotated_path(&path, number), vec![b'y'; 100]).unwrap();
        }
        let budget = Budget::new(250);
        budget.register(&path, 100);
        budget.enforce();
        // 100 (current, counted at maxbytes) + 3 × 100 > 250: the oldest two go.
        assert!(path.exists());
        assert!(rotated_path(&path, 1).exists());
        let kept = (2..=3)
            .filter(|number| rotated_path(&path, *number).exists())
            .count();
        assert_eq!(kept, 0);
    }
}
