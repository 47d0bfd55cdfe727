//! Reading logs back as lines: the last lines of one log with their times, and the last lines
//! of many logs (one program's two streams, every program) merged into one list. Built on
//! [`tail`](super::logs::tail), the one function that reads the end of a log file (across its
//! rotated files); anything that wants the last lines of a log comes through here.
//!
//! Order of a merge (SPEC §13: "ordered by time where known"): each log's lines keep their
//! order; between logs, lines go by time. A line without a stamp (`log_timestamps` off, or
//! written before it was turned on) takes the time of the stamped line before it in its log,
//! or sorts before every stamped line when there is none; among equal times the earlier
//! source (in the order given) goes first. So logs without any stamp come out one after the
//! other, whole, in the order given.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::io;
use std::path::PathBuf;

use serde::Serialize;

use super::logs::{tail, tail_before};
use super::stamp;

/// One log to read: whose and which stream it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub program: String,
    pub stream: &'static str,
    pub path: PathBuf,
}

/// One line of a log, as the API gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    pub program: String,
    pub stream: &'static str,
    pub line: String,
    /// RFC 3339 with milliseconds; `None` when the line carries no stamp.
    pub time: Option<String>,
    #[serde(skip)]
    pub millis: Option<i64>,
}

impl LogLine {
    /// A line as stored: its stamp, if it has one, becomes its time.
    pub fn parse(program: &str, stream: &'static str, stored: &str) -> LogLine {
        let (millis, line) = match stamp::split(stored.as_bytes()) {
            // The stamp is ASCII, so what follows it starts on a character boundary.
            Some((millis, _)) => (Some(millis), &stored[stamp::PREFIX_LEN..]),
            None => (None, stored),
        };
        LogLine {
            program: program.to_string(),
            stream,
            line: line.to_string(),
            time: millis.map(stamp::text),
            millis,
        }
    }
}

/// The last `lines` lines of one log, parsed. A missing file has no lines.
pub fn last_lines(source: &Source, lines: usize) -> io::Result<Vec<LogLine>> {
    let text = match tail(&source.path, lines) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    Ok(text
        .lines()
        .map(|line| LogLine::parse(&source.program, source.stream, line))
        .collect())
}

/// The last `lines` lines of one log as it was when `file` (opened at its path) was `end`
/// bytes long (see [`tail_before`]).
pub fn last_lines_before(
    source: &Source,
    file: &std::fs::File,
    end: u64,
    lines: usize,
) -> io::Result<Vec<LogLine>> {
    let text = tail_before(&source.path, file, end, lines)?;
    Ok(text
        .lines()
        .map(|line| LogLine::parse(&source.program, source.stream, line))
        .collect())
}

/// Merges logs already read and keeps the last `lines` lines.
pub fn merge_last(logs: Vec<Vec<LogLine>>, lines: usize) -> Vec<LogLine> {
    let mut all = merge(logs);
    let cut = all.len().saturating_sub(lines);
    all.drain(..cut);
    all
}

/// The last `lines` lines of all the sources together, merged (see the module's notes). A
/// file named by two sources (both streams into one file) is read once, as the first.
pub fn merged(sources: &[Source], lines: usize) -> io::Result<Vec<LogLine>> {
    let mut seen = HashSet::new();
    let mut logs = Vec::new();
    for source in sources {
        if seen.insert(source.path.clone()) {
            logs.push(last_lines(source, lines)?);
        }
    }
    Ok(merge_last(logs, lines))
}

/// Merges logs, each in its own order, by time where known (the module's notes).
pub fn merge(logs: Vec<Vec<LogLine>>) -> Vec<LogLine> {
    let total = logs.iter().map(Vec::len).sum();
    // The sort key of each line: its time, or the last time before it in its log.
    let keyed: Vec<Vec<(i64, LogLine)>> = logs
        .into_iter()
        .map(|log| {
            let mut last = i64::MIN;
            log.into_iter()
                .map(|line| {
                    if let Some(millis) = line.millis {
                        last = millis;
                    }
                    (last, line)
                })
                .collect()
        })
        .collect();
    let mut cursors: Vec<std::vec::IntoIter<(i64, LogLine)>> =
        keyed.into_iter().map(Vec::into_iter).collect();
    let mut heads: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    let mut pending: Vec<Option<LogLine>> = Vec::with_capacity(cursors.len());
    for (index, cursor) in cursors.iter_mut().enumerate() {
        match cursor.next() {
            Some((key, line)) => {
                heads.push(Reverse((key, index)));
                pending.push(Some(line));
            }
            None => pending.push(None),
        }
    }
    let mut out = Vec::with_capacity(total);
    while let Some(Reverse((_, index))) = heads.pop() {
        if let Some(line) = pending[index].take() {
            out.push(line);
        }
        if let Some((key, line)) = cursors[index].next() {
            heads.push(Reverse((key, index)));
            pending[index] = Some(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(program: &str, text: &str) -> LogLine {
        LogLine::parse(program, "stdout", text)
    }

    fn texts(lines: &[LogLine]) -> Vec<String> {
        lines
            .iter()
            .map(|line| format!("{}:{}", line.program, line.line))
            .collect()
    }

    #[test]
    fn a_stamped_line_gives_its_time_and_its_text() {
        let parsed = line("web", "2026-12-01T08:00:00.123Z hello world");
        assert_eq!(parsed.line, "hello world");
        assert_eq!(parsed.time.as_deref(), Some("2026-12-01T08:00:00.123Z"));
        let plain = line("web", "hello");
        assert_eq!((plain.line.as_str(), plain.time), ("hello", None));
    }

    #[test]
    fn merge_orders_by_time_and_keeps_each_logs_order() {
        let t = |millis: i64, text: &str| format!("{} {text}", stamp::text(millis));
        // (logs, expected order)
        let cases: Vec<(Vec<Vec<LogLine>>, Vec<&str>)> = vec![
            (
                vec![
                    vec![line("a", &t(1, "a1")), line("a", &t(5, "a5"))],
                    vec![line("b", &t(3, "b3")), line("b", &t(7, "b7"))],
                ],
                vec!["a:a1", "b:b3", "a:a5", "b:b7"],
            ),
            // Equal times: the earlier source first.
            (
                vec![vec![line("a", &t(2, "a"))], vec![line("b", &t(2, "b"))]],
                vec!["a:a", "b:b"],
            ),
            // Unstamped logs come whole, in the order given, before stamped lines.
            (
                vec![
                    vec![line("a", &t(1, "a1"))],
                    vec![line("b", "x"), line("b", "y")],
                    vec![line("c", "z")],
                ],
                vec!["b:x", "b:y", "c:z", "a:a1"],
            ),
            // An unstamped line follows the stamped line before it in its log.
            (
                vec![
                    vec![
                        line("a", &t(1, "a1")),
                        line("a", "more"),
                        line("a", &t(9, "a9")),
                    ],
                    vec![line("b", &t(4, "b4"))],
                ],
                vec!["a:a1", "a:more", "b:b4", "a:a9"],
            ),
            (vec![vec![], vec![]], vec![]),
        ];
        for (logs, expected) in cases {
            assert_eq!(texts(&merge(logs)), expected);
        }
    }

    #[test]
    fn merged_reads_the_last_lines_of_each_file_and_keeps_the_last_overall() {
        let folder = tempfile::tempdir().unwrap();
        let a = folder.path().join("a.log");
        let b = folder.path().join("b.log");
        let stamped = |millis: i64, text: &str| format!("{} {text}\n", stamp::text(millis));
        std::fs::write(
            &a,
            [stamped(1, "a1"), stamped(3, "a3"), stamped(5, "a5")].concat(),
        )
        .unwrap();
        std::fs::write(&b, [stamped(2, "b2"), stamped(4, "b4")].concat()).unwrap();
        let source = |program: &str, path: &PathBuf| Source {
            program: program.to_string(),
            stream: "stdout",
            path: path.clone(),
        };
        let sources = [
            source("a", &a),
            source("b", &b),
            source("again", &a),
            source("missing", &folder.path().join("none.log")),
        ];
        let got = merged(&sources, 3).unwrap();
        assert_eq!(texts(&got), ["a:a3", "b:b4", "a:a5"]);
        assert_eq!(merged(&sources, 0).unwrap(), Vec::new());
    }
}
