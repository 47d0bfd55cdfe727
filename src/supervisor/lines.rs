//! Lines in captured output: the one place that cuts a pipe's bytes into lines. Pure (no I/O,
//! no clock), so the capture path, the console, readiness checks on log lines and the readers
//! share one meaning of "a line".
//!
//! - [`stamp`] puts a time before every line that *starts* in a chunk, carrying whether the
//!   next byte starts a line from one chunk to the next: a line longer than a pipe's buffer,
//!   or one written in several pieces, gets one stamp, at its first byte, and is never cut in
//!   two by one. Nothing is held back: a partial last line is stored at once (so `tail -f`
//!   shows a prompt), and its continuation carries no second stamp.
//! - [`LineSplitter`] hands out complete lines (without their newline) to whoever needs whole
//!   lines (the console copy; a readiness pattern): a partial line waits for its end, up to
//!   [`MAX_LINE`] bytes, beyond which it is handed out in pieces of that size (as Docker's
//!   16 KiB pieces), and a last partial line is handed out when the stream ends.

use super::stamp::PREFIX_LEN;

/// The longest line handed out whole; a longer one comes in pieces of this size.
pub const MAX_LINE: usize = 16 * 1024;

/// Appends `data` to `out` with `prefix` before every line that starts in it. `at_line_start`
/// says whether `data`'s first byte starts a line, and is left saying the same of the byte
/// after `data`.
pub fn stamp(out: &mut Vec<u8>, data: &[u8], at_line_start: &mut bool, prefix: &[u8; PREFIX_LEN]) {
    let mut rest = data;
    while !rest.is_empty() {
        if *at_line_start {
            out.extend_from_slice(prefix);
        }
        match memchr::memchr(b'\n', rest) {
            Some(end) => {
                out.extend_from_slice(&rest[..=end]);
                rest = &rest[end + 1..];
                *at_line_start = true;
            }
            None => {
                out.extend_from_slice(rest);
                *at_line_start = false;
                return;
            }
        }
    }
}

/// Cuts a stream into complete lines. One per pipe, for the pipe's life; it holds at most
/// [`MAX_LINE`] bytes of a partial line (and nothing once it is handed out).
#[derive(Debug, Default)]
pub struct LineSplitter {
    partial: Vec<u8>,
}

impl LineSplitter {
    /// Hands every line completed by `data` to `each`, without its newline.
    pub fn push(&mut self, data: &[u8], mut each: impl FnMut(&[u8])) {
        let mut rest = data;
        while let Some(end) = memchr::memchr(b'\n', rest) {
            let line = &rest[..end];
            if self.partial.is_empty() {
                for piece in pieces(line) {
                    each(piece);
                }
            } else {
                self.fill(line, &mut each);
                each(&self.partial);
                self.partial.clear();
            }
            rest = &rest[end + 1..];
        }
        self.fill(rest, &mut each);
        if self.partial.is_empty() {
            // Give back what a long line used (a splitter lives as long as its pipe).
            self.partial = Vec::new();
        }
    }

    /// Keeps `data` as the start of a line, handing out full pieces of [`MAX_LINE`] once more
    /// of the line follows them (a full piece followed by the newline is the whole line).
    fn fill(&mut self, data: &[u8], each: &mut impl FnMut(&[u8])) {
        let mut rest = data;
        while !rest.is_empty() {
            if self.partial.len() == MAX_LINE {
                each(&self.partial);
                self.partial.clear();
            }
            let take = (MAX_LINE - self.partial.len()).min(rest.len());
            self.partial.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
        }
    }

    /// The stream ended: a last line without its newline is handed out.
    pub fn finish(&mut self, mut each: impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            each(&self.partial);
        }
        self.partial = Vec::new();
    }
}

/// A line in pieces of at most [`MAX_LINE`] bytes (one empty piece for an empty line).
fn pieces(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    let count = line.len().div_ceil(MAX_LINE).max(1);
    (0..count).map(move |index| {
        &line[(index * MAX_LINE).min(line.len())..((index + 1) * MAX_LINE).min(line.len())]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_go_before_every_line_start_and_nowhere_else() {
        let prefix: [u8; PREFIX_LEN] = *b"2026-12-01T08:00:00.123Z ";
        let p = "2026-12-01T08:00:00.123Z ";
        // (chunks as the pipe gave them, what the file holds)
        let cases: &[(&[&str], String)] = &[
            (&["a\n"], format!("{p}a\n")),
            (&["a\nb\n"], format!("{p}a\n{p}b\n")),
            (&["a", "b", "c\n"], format!("{p}abc\n")),
            (&["a\n", "b"], format!("{p}a\n{p}b")),
            (&["a\nb", "c\nd"], format!("{p}a\n{p}bc\n{p}d")),
            (&["\n\n"], format!("{p}\n{p}\n")),
            (&["", "x", ""], format!("{p}x")),
        ];
        for (chunks, expected) in cases {
            let mut out = Vec::new();
            let mut at_start = true;
            for chunk in *chunks {
                stamp(&mut out, chunk.as_bytes(), &mut at_start, &prefix);
            }
            assert_eq!(String::from_utf8_lossy(&out), *expected, "{chunks:?}");
        }
        // A line far longer than any pipe buffer, in 64 KiB chunks: one stamp.
        let mut out = Vec::new();
        let mut at_start = true;
        let chunk = vec![b'z'; 64 * 1024];
        for _ in 0..20 {
            stamp(&mut out, &chunk, &mut at_start, &prefix);
        }
        stamp(&mut out, b"\n", &mut at_start, &prefix);
        assert_eq!(out.len(), PREFIX_LEN + 20 * 64 * 1024 + 1);
        assert!(out.starts_with(&prefix));
        assert_eq!(memchr::memmem::find_iter(&out, b"2026-").count(), 1);
    }

    #[test]
    fn splitter_hands_out_complete_lines() {
        // (chunks, lines handed out while pushing, lines at the end)
        let cases: &[(&[&str], &[&str], &[&str])] = &[
            (&["a\nb\n"], &["a", "b"], &[]),
            (&["a", "b\nc"], &["ab"], &["c"]),
            (&["\n", "\n"], &["", ""], &[]),
            (&["x"], &[], &["x"]),
            (&[""], &[], &[]),
        ];
        for (chunks, during, after) in cases {
            let mut splitter = LineSplitter::default();
            let mut lines: Vec<String> = Vec::new();
            for chunk in *chunks {
                splitter.push(chunk.as_bytes(), |line| {
                    lines.push(String::from_utf8_lossy(line).into_owned())
                });
            }
            assert_eq!(&lines, during, "{chunks:?}");
            let mut last: Vec<String> = Vec::new();
            splitter.finish(|line| last.push(String::from_utf8_lossy(line).into_owned()));
            assert_eq!(&last, after, "{chunks:?}");
        }
    }

    #[test]
    fn splitter_cuts_long_lines_into_pieces() {
        let long = vec![b'q'; MAX_LINE * 2 + 10];
        for split_at in [0, 1, MAX_LINE, MAX_LINE + 3, long.len()] {
            let mut splitter = LineSplitter::default();
            let mut sizes = Vec::new();
            splitter.push(&long[..split_at], |line| sizes.push(line.len()));
            splitter.push(&long[split_at..], |line| sizes.push(line.len()));
            splitter.push(b"\nnext\n", |line| sizes.push(line.len()));
            assert_eq!(sizes, [MAX_LINE, MAX_LINE, 10, 4], "split at {split_at}");
        }
    }
}
