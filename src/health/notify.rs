//! The sd_notify socket of a program with `notify = true`: a datagram socket per process,
//! named by `$NOTIFY_SOCKET`, read on the loop's runtime; each datagram's `READY=1`, `STATUS=`
//! and `WATCHDOG=` go to the loop as a [`HealthMessage`].
//!
//! Where the sockets are, and who may send (a program may run as another `user`; other users
//! must not reach it):
//! - One folder per daemon, made on the first use: `hoody-daemon-<hash of the state folder>`
//!   in `/run` when the daemon is root, else in `$XDG_RUNTIME_DIR`, else in the temporary
//!   folder. Mode 0711, owned by the daemon: anyone may pass through it, nobody else may list
//!   or change it. A short path, far below the 108 bytes a socket address holds (a longer one
//!   is refused with a clear error rather than cut). A leftover of a crashed daemon on the same
//!   state folder is removed at the next start; a folder of that name owned by someone else is
//!   refused (it could be a trap in a shared `/tmp`).
//! - Each socket is bound inside a private sub-folder (0700), made 0600 and owned by the
//!   program's user, and only then renamed into the shared folder: so at no moment can anyone
//!   but that user (and root) connect to it. This is why it is not an abstract `@…` address,
//!   although that would need no folder and vanish by itself: anyone on the host (in the same
//!   network namespace) could send to one, and only a credentials check on every datagram would
//!   keep them out.
//! - The socket lives as long as its process: it is removed when the process is gone, and the
//!   folder when the daemon ends.
//! - Descriptors passed with a datagram are never taken (the daemon reads without a control
//!   buffer, so the kernel discards them), and each wake reads a bounded number of datagrams.

use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::HealthMessage;
use super::state::NotifyMessage;

/// The longest socket path a `sockaddr_un` holds (its 108 bytes, less the final NUL).
pub const MAX_SOCKET_PATH: usize = 107;
/// The largest datagram read; a longer one is cut there (sd_notify's are a few bytes).
const MAX_DATAGRAM: usize = 4096;
/// Datagrams read per wake before the reader yields to the rest of the loop.
const DATAGRAMS_PER_WAKE: usize = 64;

/// The folder of a daemon's notify sockets (see the module docs).
#[derive(Debug)]
pub struct NotifyDir {
    path: PathBuf,
    /// Where sockets are bound before they are renamed into `path`.
    staging: PathBuf,
}

/// FNV-1a: a hash that stays the same from one build to the next, so the next daemon on a
/// state folder finds the folder a crashed one left.
fn stable_hash(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl NotifyDir {
    /// Where the notify folder of the daemon on `state_dir` is.
    pub fn location(state_dir: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let state = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.to_path_buf());
        let name = format!(
            "hoody-daemon-{:016x}",
            stable_hash(state.as_os_str().as_bytes())
        );
        let run = Path::new("/run");
        let base = if nix::unistd::geteuid().is_root() && run.is_dir() {
            run.to_path_buf()
        } else {
            match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
                Some(runtime) if runtime.is_absolute() && runtime.is_dir() => runtime,
                _ => std::env::temp_dir(),
            }
        };
        base.join(name)
    }

    /// Removes what a crashed daemon on the same state folder left at `path` (the caller holds
    /// the state folder's lock, so no live daemon uses it). Only a real folder owned by this
    /// user is removed.
    pub fn remove_leftover(path: &Path) -> io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(metadata)
                if metadata.is_dir() && metadata.uid() == nix::unistd::geteuid().as_raw() =>
            {
                std::fs::remove_dir_all(path)
            }
            Ok(_) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Makes the folder (mode 0711) and its private staging folder.
    pub fn create(path: &Path) -> io::Result<NotifyDir> {
        Self::remove_leftover(path)?;
        if let Err(error) = std::fs::create_dir(path) {
            return Err(io::Error::new(
                error.kind(),
                format!("cannot make the notify folder {}: {error}", path.display()),
            ));
        }
        let metadata = std::fs::symlink_metadata(path)?;
        if !metadata.is_dir() || metadata.uid() != nix::unistd::geteuid().as_raw() {
            return Err(io::Error::other(format!(
                "the notify folder {} is not a folder of this user; refusing it",
                path.display()
            )));
        }
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o711))?;
        let staging = path.join("staging");
        std::fs::create_dir(&staging)?;
        std::fs::set_permissions(&staging, std::fs::Permissions::from_mode(0o700))?;
        Ok(NotifyDir {
            path: path.to_path_buf(),
            staging,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Binds a new socket for one process, usable by `owner` (uid, gid) — the program's user —
    /// or by the daemon's own user when `None`.
    pub fn bind(&self, owner: Option<(u32, u32)>) -> io::Result<NotifySocket> {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        let file = format!("{}.sock", NEXT.fetch_add(1, Ordering::Relaxed));
        let path = self.path.join(&file);
        let length = path.as_os_str().len();
        if length > MAX_SOCKET_PATH {
            return Err(io::Error::other(format!(
                "the notify socket path {} is {length} bytes, over the {MAX_SOCKET_PATH} a socket address holds; set TMPDIR (or XDG_RUNTIME_DIR) to a shorter folder",
                path.display()
            )));
        }
        let staged = self.staging.join(&file);
        let socket = UnixDatagram::bind(&staged)?;
        let prepared = (|| {
            if let Some((uid, gid)) = owner
                && uid != nix::unistd::geteuid().as_raw()
            {
                std::os::unix::fs::chown(&staged, Some(uid), Some(gid))?;
            }
            std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&staged, &path)
        })();
        if let Err(error) = prepared {
            let _ = std::fs::remove_file(&staged);
            return Err(error);
        }
        socket.set_nonblocking(true)?;
        let socket = crate::supervisor::keep_high(OwnedFd::from(socket));
        Ok(NotifySocket {
            path,
            socket: Some(UnixDatagram::from(socket)),
        })
    }
}

impl Drop for NotifyDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.path)
            && error.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.path.display(), %error, "cannot remove the notify folder");
        }
    }
}

/// One process's notify socket: its path (for `$NOTIFY_SOCKET`), then, once [`listen`]ed, a
/// guard that ends the reader and removes the socket when the process is gone.
#[derive(Debug)]
pub struct NotifySocket {
    path: PathBuf,
    socket: Option<UnixDatagram>,
}

impl NotifySocket {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts reading on the loop's runtime: messages of process `pid` of program `name` go
    /// to `sender`.
    pub fn listen(
        mut self,
        name: String,
        pid: u32,
        sender: mpsc::Sender<HealthMessage>,
    ) -> io::Result<NotifyGuard> {
        let socket = match self.socket.take() {
            Some(socket) => tokio::net::UnixDatagram::from_std(socket)?,
            None => return Err(io::Error::other("the notify socket was already used")),
        };
        let task = tokio::spawn(read(socket, name, pid, sender));
        Ok(NotifyGuard {
            path: std::mem::take(&mut self.path),
            task,
        })
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Ends the reader of a process's notify socket and removes the socket, when dropped.
#[derive(Debug)]
pub struct NotifyGuard {
    path: PathBuf,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for NotifyGuard {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

async fn read(
    socket: tokio::net::UnixDatagram,
    name: String,
    pid: u32,
    sender: mpsc::Sender<HealthMessage>,
) {
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        if socket.readable().await.is_err() {
            return;
        }
        let mut merged: Option<NotifyMessage> = None;
        for _ in 0..DATAGRAMS_PER_WAKE {
            match socket.try_recv(&mut buffer) {
                Ok(count) => {
                    let message = NotifyMessage::parse(&buffer[..count]);
                    match &mut merged {
                        Some(merged) => merged.merge(message),
                        None => merged = Some(message),
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    tracing::warn!(program = %name, %error, "cannot read the notify socket");
                    return;
                }
            }
        }
        if let Some(message) = merged
            && message != NotifyMessage::default()
            && sender
                .send(HealthMessage::Notify {
                    name: name.clone(),
                    pid,
                    message,
                })
                .await
                .is_err()
        {
            return;
        }
        tokio::task::yield_now().await;
    }
}
