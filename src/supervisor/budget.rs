//! The log budget (`serve --log-budget SIZE`, SPEC §13): every log file the daemon writes,
//! rotated ones included, stays within SIZE plus one file's `maxbytes`; the oldest rotated
//! files go first and current files are never deleted.
//!
//! How it keeps the bound without a timer: the budget keeps a running count of the bytes in
//! its files, set from the files themselves at each check and raised by every write of a
//! captured log (one atomic add). A write that takes the count over SIZE runs a check on the
//! spot: a `stat` of every file, and the oldest rotated files (by modification time, the
//! highest number first among equals) are deleted until the files fit in SIZE again. So the
//! files exceed SIZE by at most one write between two checks, which is less than one file's
//! `maxbytes`. When the current files alone are over SIZE (nothing left to delete), the next
//! check waits until the count has grown by the largest `maxbytes` (or 1 MiB), so a full
//! budget does not cost a check per write; a warning says so once.
//!
//! Counted: every log path the daemon has opened since it started (captured or direct) and
//! its `.N` files. A log that never rotates (`maxbytes = 0`, written by the program itself)
//! is counted at each check but its writes do not start one, and it is never deleted; nor are
//! old files of programs removed before the start.
//!
//! Unset, it costs nothing: no table, no count, no check.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Which files to delete (indexes into `files`, in deletion order) so that the files take at
/// most `limit` bytes; the oldest rotated files first, never a current file.
pub fn plan(files: &[LogFile], limit: u64) -> Vec<usize> {
    let mut total: u64 = files.iter().map(|file| file.size).sum();
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
    /// The bytes in the files: measured at each check, raised by each captured write.
    counted: AtomicU64,
    /// The count at which the next check runs.
    check_at: AtomicU64,
    warned: AtomicBool,
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            logs: Mutex::new(BTreeMap::new()),
            counted: AtomicU64::new(0),
            check_at: AtomicU64::new(limit),
            warned: AtomicBool::new(false),
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// A log path the daemon writes (again), with its current `maxbytes`. A new one adds what
    /// its files already hold to the count (the next write checks, if that is too much).
    pub fn register(&self, path: &Path, max_bytes: u64) {
        let mut logs = self.logs.lock().unwrap_or_else(PoisonError::into_inner);
        match logs.get_mut(path) {
            Some(known) => *known = max_bytes,
            None => {
                logs.insert(path.to_path_buf(), max_bytes);
                drop(logs);
                let held: u64 = log_files(path, max_bytes)
                    .iter()
                    .map(|file| file.size)
                    .sum();
                self.counted.fetch_add(held, Ordering::Relaxed);
            }
        }
    }

    /// `bytes` were written to a captured log; checks when that takes the count over.
    pub fn wrote(&self, bytes: u64) {
        let counted = self.counted.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if counted > self.check_at.load(Ordering::Relaxed) {
            self.enforce();
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
            .map(|(_, file)| file.size)
            .sum();
        self.counted.store(left, Ordering::Relaxed);
        if left <= self.limit {
            self.check_at.store(self.limit, Ordering::Relaxed);
            return;
        }
        // Nothing left to delete: look again once the files have grown by a rotation.
        let step = files
            .iter()
            .map(|file| file.max_bytes)
            .max()
            .unwrap_or(0)
            .max(1 << 20);
        self.check_at
            .store(left.saturating_add(step), Ordering::Relaxed);
        if !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                budget = self.limit,
                current = left,
                "the current log files alone are over the log budget; only rotated files are ever deleted"
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
        logs.into_iter()
            .flat_map(|(path, max_bytes)| log_files(&path, max_bytes))
            .collect()
    }
}

/// A log's current file and its rotated ones (`.1`, `.2`… up to the first missing number).
fn log_files(path: &Path, max_bytes: u64) -> Vec<LogFile> {
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
    let mut files: Vec<LogFile> = look(path.to_path_buf(), None).into_iter().collect();
    for number in 1..=MAX_ROTATED {
        match look(rotated_path(path, number), Some(number)) {
            Some(file) => files.push(file),
            None => break,
        }
    }
    files
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
        // a 10, a.1 100, a.2 100, b 300, b.1 100, c 50 = 660.
        let names = |limit| -> Vec<&str> {
            plan(&files, limit)
                .into_iter()
                .map(|index| files[index].path.to_str().unwrap())
                .collect()
        };
        assert_eq!(names(660), Vec::<&str>::new());
        assert_eq!(names(659), ["a.2"]);
        assert_eq!(names(560), ["a.2"]);
        assert_eq!(names(559), ["a.2", "b.1"]);
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
        // 310 bytes are already there: the next write checks.
        budget.register(&path, 100);
        assert!(rotated_path(&path, 3).exists());
        budget.wrote(0);
        // 10 + 3 × 100 > 250: the oldest goes (210 left).
        assert!(path.exists() && rotated_path(&path, 2).exists());
        assert!(!rotated_path(&path, 3).exists());
        // A write that keeps the count within the budget checks nothing (240).
        std::fs::write(&path, vec![b'x'; 40]).unwrap();
        budget.wrote(30);
        assert!(rotated_path(&path, 2).exists());
        // One that takes it over does: 70 + 200 = 270 > 250.
        std::fs::write(&path, vec![b'x'; 70]).unwrap();
        budget.wrote(30);
        assert!(!rotated_path(&path, 2).exists() && rotated_path(&path, 1).exists());
    }
}
