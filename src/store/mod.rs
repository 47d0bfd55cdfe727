//! programs.d on disk: scanning it into a [`Snapshot`], watching it, writing it atomically, and
//! the stable program ids kept in the state folder. The store knows files, not processes.

mod ids;
mod scan;
mod watch;
mod write;

pub use ids::Ids;
pub use scan::{Entry, Reuse, SETTLE, ScanStats, Scanner, Snapshot, scan, scan_protected};
pub use watch::{FolderWatcher, Hint, WatchConfig};
pub use write::{
    is_own_temp, remove_durable, remove_stale_temps, replace_unsynced, sync_dir, write_atomic,
};

#[cfg(test)]
mod tests;
