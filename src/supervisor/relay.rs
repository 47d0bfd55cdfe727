//! The relay pipe of captured logs: one per thread that drains captures (the loop's), made at
//! the first spliced move.
//!
//! `splice(2)` from a program's pipe straight into its log file copies the bytes into the page
//! cache while it holds the pipe's lock, so the program cannot write a byte until the copy is
//! done: the program and the daemon take turns, and a chatty program runs at the speed of the
//! two together. Through the relay, a move is two splices: the program's pipe into the relay
//! (pipe to pipe moves page references, no copy; the program's pipe is free again at once, and
//! the program is woken), then the relay into the file (the copy, under the relay's lock, which
//! nothing else wants). The program fills its pipe again while the daemon copies: on two cores
//! the two overlap (docs/PERFORMANCE.md, "Logs of wave 2").
//!
//! A move that takes less than it asked emptied the program's pipe (what `captures.rs` counts
//! on to end a wake): the relay has 256 slots, and a program's pipe as many as its size in
//! pages — 16 by default, 256 at most unless the program is privileged and raises it past
//! `/proc/sys/fs/pipe-max-size`. Where the relay cannot have 1 MiB, there is none and moves
//! splice straight into the file.
//!
//! Between moves the relay is empty: what one move took from a pipe is in the file, or counted
//! lost and thrown away, before the next move (of any pipe) begins. So one program's bytes never
//! reach another program's file.

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, SpliceFFlags, fcntl, splice};

use super::spawn::keep_high;

/// The relay's size: what an unprivileged process may give a pipe by default
/// (`/proc/sys/fs/pipe-max-size`), and at most what one move asks of a program's pipe.
const RELAY_BYTES: usize = 1 << 20;

struct Relay {
    read: OwnedFd,
    write: OwnedFd,
    /// The relay's size in bytes, as the kernel gave it.
    capacity: usize,
}

thread_local! {
    /// `None`: not made yet; `Some(None)`: it could not be made (moves splice straight).
    static RELAY: RefCell<Option<Option<Relay>>> = const { RefCell::new(None) };
}

/// What a move through the relay did.
#[derive(Debug)]
pub(crate) enum Through {
    /// `taken` bytes left the program's pipe, `written` of them are in the file; `error` is why
    /// the rest is not (thrown away: the relay is empty again).
    Moved {
        taken: usize,
        written: usize,
        error: Option<io::Error>,
    },
    /// The program's pipe held nothing.
    Empty,
    /// Every writer has closed the program's pipe, and it is drained.
    Eof,
    Interrupted,
    /// No relay here, or the kernel will not splice this pipe into one: move straight.
    Unavailable,
    ReadFailed(io::Error),
}

/// Moves at most `len` bytes from `pipe` into `file` at `offset` through the relay. A move
/// that takes less than it asked (`taken` < the asked length, which is `len` up to the relay's
/// size: [`asked`]) emptied `pipe`.
pub(crate) fn through(
    pipe: BorrowedFd<'_>,
    file: BorrowedFd<'_>,
    offset: u64,
    len: usize,
) -> Through {
    RELAY.with(|cell| {
        let mut cell = cell.borrow_mut();
        let Some(relay) = cell.get_or_insert_with(make).as_ref() else {
            return Through::Unavailable;
        };
        let len = len.min(relay.capacity);
        let taken = match splice(
            pipe,
            None,
            relay.write.as_fd(),
            None,
            len,
            SpliceFFlags::SPLICE_F_NONBLOCK | SpliceFFlags::SPLICE_F_MOVE,
        ) {
            Ok(0) => return Through::Eof,
            Ok(taken) => taken,
            Err(Errno::EAGAIN) => return Through::Empty,
            Err(Errno::EINTR) => return Through::Interrupted,
            Err(Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP | Errno::ESPIPE) => {
                return Through::Unavailable;
            }
            Err(errno) => return Through::ReadFailed(io::Error::from(errno)),
        };
        let mut written = 0;
        let mut error = None;
        while written < taken {
            let mut at = (offset + written as u64) as libc::loff_t;
            match splice(
                relay.read.as_fd(),
                None,
                file,
                Some(&mut at),
                taken - written,
                SpliceFFlags::SPLICE_F_MOVE,
            ) {
                Ok(0) => {
                    error = Some(io::Error::from(io::ErrorKind::WriteZero));
                    break;
                }
                Ok(count) => written += count,
                Err(Errno::EINTR) => {}
                Err(errno) => {
                    error = Some(io::Error::from(errno));
                    break;
                }
            }
        }
        if written < taken {
            empty(&relay.read);
        }
        Through::Moved {
            taken,
            written,
            error,
        }
    })
}

/// What [`through`] asks of a program's pipe when given `len`: a move that takes less emptied
/// the pipe.
pub(crate) fn asked(len: usize) -> usize {
    RELAY.with(|cell| match &*cell.borrow() {
        Some(Some(relay)) => len.min(relay.capacity),
        _ => len.min(RELAY_BYTES),
    })
}

fn make() -> Option<Relay> {
    let made = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).ok()?;
    let (read, write) = (keep_high(made.0), keep_high(made.1));
    // A relay of fewer slots than a program's pipe could stop a move before the program's pipe
    // is empty, and a move that takes less than it asked must mean an empty pipe: no relay
    // then (a pipe of the kernel's default size has 16 slots, one of 1 MiB 256).
    let capacity = fcntl(&write, FcntlArg::F_SETPIPE_SZ(RELAY_BYTES as libc::c_int)).ok()?;
    let capacity = usize::try_from(capacity)
        .ok()
        .filter(|size| *size >= RELAY_BYTES)?;
    Some(Relay {
        read,
        write,
        capacity,
    })
}

/// Throws away what the relay holds (the file refused it; the caller counts it lost).
fn empty(read: &OwnedFd) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match nix::unistd::read(read, &mut buffer) {
            Ok(0) | Err(Errno::EAGAIN) => return,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Bytes written into a pipe end in the file at the offset asked, all of them, and a move
    /// that takes less than it asked left the pipe empty.
    #[test]
    fn a_move_through_the_relay_puts_the_bytes_at_the_offset_and_a_short_one_empties_the_pipe() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("out.log");
        let file = std::fs::File::create(&path).unwrap();
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).unwrap();
        let mut writer = std::fs::File::from(write);
        writer.write_all(b"hello ").unwrap();
        let asked = asked(1 << 30);
        match through(read.as_fd(), file.as_fd(), 0, 1 << 30) {
            Through::Moved {
                taken: 6,
                written: 6,
                error: None,
            } => {}
            other => panic!("{other:?}"),
        }
        assert!(6 < asked);
        assert!(matches!(
            through(read.as_fd(), file.as_fd(), 6, 1 << 30),
            Through::Empty
        ));
        writer.write_all(b"world\n").unwrap();
        assert!(matches!(
            through(read.as_fd(), file.as_fd(), 6, 1 << 30),
            Through::Moved {
                taken: 6,
                written: 6,
                error: None
            }
        ));
        drop(writer);
        assert!(matches!(
            through(read.as_fd(), file.as_fd(), 12, 1 << 30),
            Through::Eof
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world\n");
    }

    /// A file that refuses the bytes: they are counted as not written and the relay is empty
    /// again, so the next move's bytes are the next ones of the pipe.
    #[test]
    fn bytes_the_file_refuses_leave_the_relay_empty() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("out.log");
        std::fs::File::create(&path).unwrap();
        // Opened read-only: every write into it fails (EBADF).
        let refusing = std::fs::File::open(&path).unwrap();
        let good = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC | OFlag::O_NONBLOCK).unwrap();
        let mut writer = std::fs::File::from(write);
        writer.write_all(b"lost\n").unwrap();
        match through(read.as_fd(), refusing.as_fd(), 0, 1 << 20) {
            Through::Moved {
                taken: 5,
                written: 0,
                error: Some(_),
            } => {}
            other => panic!("{other:?}"),
        }
        writer.write_all(b"kept\n").unwrap();
        assert!(matches!(
            through(read.as_fd(), good.as_fd(), 0, 1 << 20),
            Through::Moved {
                taken: 5,
                written: 5,
                error: None
            }
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"kept\n");
    }
}
