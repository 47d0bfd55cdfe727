//! One daemon per folder: a start takes an exclusive `flock` on its state folder (a `lock` file
//! in it) and on its programs.d itself (the folder's descriptor: it works on a read-only
//! folder, a Kubernetes ConfigMap), so a second daemon on either, whatever its other folders,
//! does not run the same programs twice. The unix socket has its own check (`api::Listener`).
//!
//! A second daemon says at once which process holds the lock (its pid, from `/proc/locks`)
//! and waits at most [`PATIENCE`] for it to go before it exits with an error: a daemon that is
//! shutting down (stopping its programs) holds its folders until its last program is gone, and
//! a service manager's restart may start the next one meanwhile.
//!
//! The locks' descriptors are kept high (`supervisor::keep_high`): a child of the daemon never
//! holds a copy, so a lock is free the moment its daemon is gone, even after kill -9.

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

/// How long a start waits for a folder another daemon holds.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// The locks a running daemon holds, for its whole life (the kernel drops them when the
/// process ends, even by SIGKILL).
pub struct Locks {
    _state: Flock<fs::File>,
    /// `None` where the file system cannot lock a folder (some network file systems): the
    /// daemon runs without that guard, and says so.
    _programs: Option<Flock<fs::File>>,
}

impl Locks {
    /// Creates the state folder if needed (0700: it holds the records of every program; a
    /// folder that exists keeps its mode, and one that others can read gets a warning) and
    /// locks it and programs.d.
    pub fn take(state_dir: &Path, programs_dir: &Path) -> io::Result<Locks> {
        super::persist::create_private_dir(state_dir).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot create the state folder {}: {error}",
                    state_dir.display()
                ),
            )
        })?;
        if let Ok(metadata) = fs::metadata(state_dir) {
            use std::os::unix::fs::PermissionsExt;
            let mode = metadata.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                tracing::warn!(
                    folder = %state_dir.display(),
                    mode = format!("{mode:04o}"),
                    "the state folder can be read by other users; chmod 0700 it"
                );
            }
        }
        let lock_path = state_dir.join("lock");
        let state = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|error| {
                io::Error::new(
                    error.kind(),
                    format!("cannot open {}: {error}", lock_path.display()),
                )
            })?;
        let state = hold(state, &format!("the state folder {}", state_dir.display()))?;
        let programs = fs::File::open(programs_dir).map_err(|error| {
            io::Error::new(
                error.kind(),
                format!(
                    "cannot open the programs folder {}: {error}",
                    programs_dir.display()
                ),
            )
        })?;
        let programs = match hold(
            programs,
            &format!("the programs folder {}", programs_dir.display()),
        ) {
            Ok(lock) => Some(lock),
            Err(error) if error.kind() == io::ErrorKind::Unsupported => {
                tracing::warn!(%error, "running without the lock on the programs folder: a second daemon on it would not be refused");
                None
            }
            Err(error) => return Err(error),
        };
        Ok(Locks {
            _state: state,
            _programs: programs,
        })
    }
}

/// Takes the lock on `file`, waiting at most [`PATIENCE`], and saying at once who holds it.
fn hold(file: fs::File, what: &str) -> io::Result<Flock<fs::File>> {
    let identity = file.metadata().ok().map(|metadata| {
        let dev = metadata.dev();
        (
            nix::sys::stat::major(dev),
            nix::sys::stat::minor(dev),
            metadata.ino(),
        )
    });
    let holder = || {
        identity
            .and_then(|(major, minor, inode)| {
                let locks = fs::read_to_string("/proc/locks").ok()?;
                flock_holder(&locks, major, minor, inode)
            })
            .map_or_else(
                || "another process".to_string(),
                |pid| format!("another hoody-daemon (pid {pid})"),
            )
    };
    let mut file = fs::File::from(crate::supervisor::keep_high(file.into()));
    let give_up = Instant::now() + PATIENCE;
    let mut said = false;
    loop {
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(lock),
            Err((_, errno)) if errno != nix::errno::Errno::EWOULDBLOCK => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    format!("cannot lock {what}: {errno}"),
                ));
            }
            Err((returned, _)) => {
                if Instant::now() >= give_up {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!(
                            "{} is using {what}; one daemon per folder (waited {} s)",
                            holder(),
                            PATIENCE.as_secs()
                        ),
                    ));
                }
                if !said {
                    said = true;
                    tracing::warn!(
                        "{} is using {what}; waiting up to {} s for it to end",
                        holder(),
                        PATIENCE.as_secs()
                    );
                }
                file = returned;
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// The pid holding a `flock` on the file `major:minor:inode`, from the text of `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:02:131 0 EOF`; device numbers in hex; lines with `->`
/// are waiters, not holders).
pub fn flock_holder(locks: &str, major: u64, minor: u64, inode: u64) -> Option<u32> {
    locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.get(1) != Some(&"FLOCK") {
            return None;
        }
        let mut file = fields.get(5)?.split(':');
        let matches = u64::from_str_radix(file.next()?, 16).ok()? == major
            && u64::from_str_radix(file.next()?, 16).ok()? == minor
            && file.next()?.parse::<u64>().ok()? == inode;
        if !matches {
            return None;
        }
        fields.get(4)?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_of_a_flock_is_read_from_proc_locks() {
        let locks = "1: POSIX  ADVISORY  WRITE 99 00:2a:77 0 EOF\n\
                     2: FLOCK  ADVISORY  WRITE 1234 00:2a:77 0 EOF\n\
                     2: -> FLOCK  ADVISORY  WRITE 555 00:2a:77 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 4321 fd:01:131 0 EOF\n";
        let table = [
            ((0x00, 0x2a, 77), Some(1234)),
            ((0xfd, 0x01, 131), Some(4321)),
            ((0x00, 0x2a, 78), None),
            ((0x01, 0x2a, 77), None),
        ];
        for ((major, minor, inode), expected) in table {
            assert_eq!(flock_holder(locks, major, minor, inode), expected);
        }
        assert_eq!(flock_holder("", 0, 0, 0), None);
    }

    #[test]
    fn a_second_lock_on_a_folder_names_the_holder_and_gives_up() {
        let folder = tempfile::tempdir().expect("tempdir");
        let programs = folder.path().join("programs.d");
        fs::create_dir(&programs).expect("programs.d");
        let first = Locks::take(&folder.path().join("state"), &programs).expect("first");
        let began = Instant::now();
        let error = match Locks::take(&folder.path().join("state2"), &programs) {
            Ok(_) => panic!("a second lock on programs.d was given"),
            Err(error) => error,
        };
        assert!(began.elapsed() >= PATIENCE, "it waited");
        let message = error.to_string();
        assert!(
            message.contains(&format!("pid {}", std::process::id())),
            "{message}"
        );
        assert!(message.contains("programs folder"), "{message}");
        drop(first);
        Locks::take(&folder.path().join("state2"), &programs).expect("free once dropped");
    }
}
