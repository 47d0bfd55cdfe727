//! Exec probes (`[healthcheck] exec = …`): short-lived processes run for a program, as its user,
//! in its folder and with its environment, each in a process group of its own. The supervisor
//! spawns them like programs (the same `spawn::prepare`), reaps them in the same `waitid` loop,
//! SIGKILLs the whole group at the probe's timeout (and when its program stops), and keeps the
//! first [`MAX_OUTPUT`] bytes of their stdout and stderr (one pipe for both) for `last_probe`:
//! the rest is read and thrown away, so a chatty probe never blocks on a full pipe.

use std::os::fd::AsFd;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use nix::errno::Errno;

use crate::health::probe::describe_duration;
use crate::health::state::{MAX_OUTPUT, bounded_text};

use super::logs::RawPipe as Pipe;
use super::state::ExitInfo;

/// What an exec probe said so far (at most [`MAX_OUTPUT`] bytes kept).
#[derive(Debug, Default)]
pub(crate) struct Captured {
    bytes: Vec<u8>,
}

impl Captured {
    fn take_in(&mut self, chunk: &[u8]) {
        let room = (MAX_OUTPUT + 4).saturating_sub(self.bytes.len());
        self.bytes
            .extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

pub(crate) type SharedOutput = Arc<Mutex<Captured>>;

/// One exec probe that runs now.
#[derive(Debug)]
pub(crate) struct ProbeRun {
    /// The program it probes, and the pid of that program's process.
    pub name: String,
    pub target_pid: u32,
    pub deadline: Instant,
    pub timeout: Duration,
    /// SIGKILL sent: it timed out, or its program went.
    pub killed: bool,
    /// Its program went: its result is of no use.
    pub cancelled: bool,
    pub output: SharedOutput,
    pub pipe: Pipe,
    pub reader: tokio::task::JoinHandle<()>,
}

/// The result of an exec probe, for the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The program probed, and the pid of the process it probed.
    pub name: String,
    pub pid: u32,
    pub ok: bool,
    pub output: String,
}

/// Reads a probe's output until every writer has closed the pipe.
pub(crate) async fn read_output(pipe: Pipe, output: SharedOutput) {
    let mut buffer = [0u8; 4096];
    loop {
        let Ok(mut guard) = pipe.readable().await else {
            return;
        };
        match read_available(guard.get_inner().as_fd(), &output, &mut buffer) {
            Ok(true) => return,
            Ok(false) => guard.clear_ready(),
            Err(()) => return,
        }
    }
}

/// Reads what the pipe holds now; `Ok(true)` at its end.
fn read_available(
    pipe: std::os::fd::BorrowedFd<'_>,
    output: &SharedOutput,
    buffer: &mut [u8],
) -> Result<bool, ()> {
    loop {
        match nix::unistd::read(pipe, buffer) {
            Ok(0) => return Ok(true),
            Ok(count) => output
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take_in(&buffer[..count]),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => return Ok(false),
            Err(_) => return Err(()),
        }
    }
}

impl ProbeRun {
    /// The probe's process was reaped: what it found. What its pipe still holds is read now
    /// (its process group is gone, so nothing more is coming but from an escaped descendant).
    pub fn finish(self, exit: ExitInfo) -> ProbeOutcome {
        let mut buffer = [0u8; 4096];
        let _ = read_available(self.pipe.get_ref().as_fd(), &self.output, &mut buffer);
        self.reader.abort();
        let text = {
            let captured = self.output.lock().unwrap_or_else(PoisonError::into_inner);
            bounded_text(&captured.bytes)
        };
        let (ok, output) = if self.killed && !self.cancelled {
            let said = if text.is_empty() {
                String::new()
            } else {
                format!(": {text}")
            };
            (
                false,
                format!("timed out after {}{said}", describe_duration(self.timeout)),
            )
        } else {
            match exit {
                ExitInfo::Code(0) => (true, text),
                other if text.is_empty() => (false, other.to_string()),
                other => (false, format!("{text} ({other})")),
            }
        };
        ProbeOutcome {
            name: self.name,
            pid: self.target_pid,
            ok,
            output: bounded_text(output.as_bytes()),
        }
    }
}
