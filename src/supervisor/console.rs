//! The console copy (`serve --log-console`, SPEC §13): every captured line of every program
//! (that does not opt out with `console = false`) is also written to the daemon's own stdout
//! (stderr lines to its stderr), as `NAME | line` or, with `--log-console-format json`, one
//! object a line: `{"time","program","stream","line"}`. This is what `docker logs` and
//! `kubectl logs` show.
//!
//! The daemon's stdout is a pipe that someone else drains (the container runtime), and it may
//! stop draining. Programs must not stall for it, and neither may the loop: lines are appended
//! to a buffer in memory ([`CAPACITY`] per stream) and a thread of the console's own (started
//! only with `--log-console`) writes them out. When the buffer is full, lines are dropped and
//! counted, and once the console takes data again a line says how many were lost
//! (`hoody-daemon | 12 lines dropped: the console did not keep up`). The log files get every
//! line whatever the console does.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::spec::Stream;

use super::stamp;

/// Bytes waiting for each of stdout and stderr, at most.
pub const CAPACITY: usize = 1 << 20;

/// How console lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsoleFormat {
    /// `NAME | line`.
    Plain,
    /// `{"time":"…","program":"…","stream":"stdout","line":"…"}`.
    Json,
}

/// A handle on the console writer; clones share it.
#[derive(Debug, Clone)]
pub struct Console {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    format: ConsoleFormat,
    pending: Mutex<Pending>,
    ready: Condvar,
}

#[derive(Debug, Default)]
struct Pending {
    out: Vec<u8>,
    err: Vec<u8>,
    dropped_out: u64,
    dropped_err: u64,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.out.is_empty() && self.err.is_empty()
    }
}

impl Console {
    /// Starts the console's writer thread.
    pub fn start(format: ConsoleFormat) -> io::Result<Console> {
        let shared = Arc::new(Shared {
            format,
            pending: Mutex::new(Pending::default()),
            ready: Condvar::new(),
        });
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("console".into())
            .spawn(move || writer.run())?;
        Ok(Console { shared })
    }

    /// Queues one line of a program's output (without its newline), read at `millis`.
    pub fn line(&self, program: &str, stream: Stream, line: &[u8], millis: i64) {
        let mut entry = Vec::with_capacity(program.len() + line.len() + 80);
        format_line(
            self.shared.format,
            &mut entry,
            program,
            stream,
            line,
            millis,
        );
        let mut guard = self.shared.lock();
        let was_empty = guard.is_empty();
        let pending = &mut *guard;
        let (buffer, dropped) = match stream {
            Stream::Stdout => (&mut pending.out, &mut pending.dropped_out),
            Stream::Stderr => (&mut pending.err, &mut pending.dropped_err),
        };
        if buffer.len() + entry.len() > CAPACITY {
            *dropped += 1;
            return;
        }
        buffer.extend_from_slice(&entry);
        drop(guard);
        if was_empty {
            self.shared.ready.notify_one();
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        let mut out = Vec::new();
        let mut err = Vec::new();
        loop {
            let (dropped_out, dropped_err) = {
                let mut pending = self.lock();
                while pending.is_empty() {
                    pending = self
                        .ready
                        .wait(pending)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                std::mem::swap(&mut out, &mut pending.out);
                std::mem::swap(&mut err, &mut pending.err);
                (
                    std::mem::take(&mut pending.dropped_out),
                    std::mem::take(&mut pending.dropped_err),
                )
            };
            for (buffer, dropped, stream, fd) in [
                (&mut out, dropped_out, Stream::Stdout, io::stdout().as_fd()),
                (&mut err, dropped_err, Stream::Stderr, io::stderr().as_fd()),
            ] {
                if dropped > 0 {
                    let notice = format!(
                        "{dropped} line{} dropped: the console did not keep up",
                        if dropped == 1 { "" } else { "s" }
                    );
                    format_line(
                        self.format,
                        buffer,
                        "hoody-daemon",
                        stream,
                        notice.as_bytes(),
                        stamp::unix_millis(std::time::SystemTime::now()),
                    );
                }
                write_all(fd, buffer);
                buffer.clear();
                if buffer.capacity() > CAPACITY {
                    buffer.shrink_to(CAPACITY);
                }
            }
        }
    }
}

/// Writes everything, blocking; a console that fails (closed, gone) loses the text.
fn write_all(fd: BorrowedFd<'_>, mut data: &[u8]) {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(0) => return,
            Ok(count) => data = &data[count..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return,
        }
    }
}

/// One console line, with its newline.
pub fn format_line(
    format: ConsoleFormat,
    out: &mut Vec<u8>,
    program: &str,
    stream: Stream,
    line: &[u8],
    millis: i64,
) {
    match format {
        ConsoleFormat::Plain => {
            out.extend_from_slice(program.as_bytes());
            out.extend_from_slice(b" | ");
            out.extend_from_slice(line);
        }
        ConsoleFormat::Json => {
            // The keys in the order SPEC §13 names them; strings escaped by serde_json
            // (writing a `&str` to a Vec cannot fail).
            out.extend_from_slice(b"{\"time\":\"");
            out.extend_from_slice(&stamp::prefix(millis)[..stamp::STAMP_LEN]);
            out.extend_from_slice(b"\",\"program\":");
            let _ = serde_json::to_writer(&mut *out, program);
            out.extend_from_slice(b",\"stream\":\"");
            out.extend_from_slice(stream.as_str().as_bytes());
            out.extend_from_slice(b"\",\"line\":");
            let _ = serde_json::to_writer(&mut *out, &String::from_utf8_lossy(line));
            out.push(b'}');
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_lines_in_both_formats() {
        let mut out = Vec::new();
        format_line(
            ConsoleFormat::Plain,
            &mut out,
            "web",
            Stream::Stdout,
            b"hello",
            0,
        );
        assert_eq!(out, b"web | hello\n");
        let mut out = Vec::new();
        format_line(
            ConsoleFormat::Json,
            &mut out,
            "web",
            Stream::Stderr,
            b"a \"quoted\" \xff",
            1_796_112_000_123,
        );
        let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "time": "2026-12-01T08:00:00.123Z",
                "program": "web",
                "stream": "stderr",
                "line": "a \"quoted\" \u{fffd}",
            })
        );
        assert!(
            out.starts_with(b"{\"time\":"),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(out.last(), Some(&b'\n'));
    }
}
