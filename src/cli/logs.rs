//! Printing logs: `hoody-daemon logs [NAME…]` (every program's lines merged, `NAME stream |
//! line`), `programs logs NAME` (one program; both streams labelled `stream | line`, or one
//! stream as it is) and `quick-start logs ID` (as stored: stdout to stdout, stderr to stderr);
//! with `-f`, then every new line as the daemon sends it (server-sent events).
//!
//! A line with a stamp (`log_timestamps`) is printed with its time before the text:
//! `web stdout | 2026-12-01T08:00:00.123Z hello`. What a program keeps no log of
//! (`stdout_logfile = "none"`) is said on stderr.

use std::io::Write;

use serde_json::{Value, json};

use super::session::{CliError, Session, segment};
use super::sse::{self, Item};
use super::{AllLogsArgs, LogStream, LogsArgs};
use crate::api::BASE;

/// `hoody-daemon logs [NAME…] [-f] [-n N]`.
pub fn all(session: &Session, args: &AllLogsArgs) -> Result<(), CliError> {
    let mut path = format!("/logs?lines={}", args.lines);
    if !args.names.is_empty() {
        let names: Vec<String> = args.names.iter().map(|name| segment(name)).collect();
        path.push_str(&format!("&programs={}", names.join(",")));
    }
    if args.follow {
        return follow(
            session,
            &format!("{BASE}{path}&follow=true"),
            Label::Program,
        );
    }
    let answered = session.get(&path)?;
    if session.json {
        super::output::print_json(&answered.data);
        return Ok(());
    }
    print_notes(&answered.data);
    let mut stdout = std::io::stdout().lock();
    for line in answered.data["lines"].as_array().into_iter().flatten() {
        writeln!(stdout, "{}", labelled(line, Label::Program))?;
    }
    stdout.flush()?;
    Ok(())
}

/// `… logs ID`: the last lines. Both streams of a program are `labelled` (`stream | line`,
/// in time order); one stream, or a quick-start's output, is printed as stored, stdout's to
/// stdout and stderr's to stderr.
pub fn logs(
    session: &Session,
    base: &str,
    args: &LogsArgs,
    labelled_streams: bool,
) -> Result<(), CliError> {
    let label = labelled_streams && args.stream == LogStream::Both;
    let stream = if label { "all" } else { args.stream.as_str() };
    let path = format!(
        "{base}/{}/logs?stream={stream}&lines={}",
        segment(&args.id),
        args.lines
    );
    if args.follow {
        let how = if label { Label::Stream } else { Label::None };
        return follow(session, &format!("{BASE}{path}&follow=true"), how);
    }
    let answered = session.get(&path)?;
    if session.json {
        super::output::print_json(&answered.data);
        return Ok(());
    }
    let data = &answered.data;
    print_notes(data);
    if label {
        let mut stdout = std::io::stdout().lock();
        for line in data["lines"].as_array().into_iter().flatten() {
            writeln!(stdout, "{}", labelled(line, Label::Stream))?;
        }
        stdout.flush()?;
        return Ok(());
    }
    if args.stream != LogStream::Stderr
        && let Some(text) = data["stdout"].as_str()
    {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(text.as_bytes())?;
        stdout.flush()?;
    }
    if args.stream != LogStream::Stdout
        && let Some(text) = data["stderr"].as_str()
    {
        std::io::stderr().lock().write_all(text.as_bytes())?;
    }
    Ok(())
}

/// How a line is labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    /// `NAME stream | line`.
    Program,
    /// `stream | line`.
    Stream,
    /// The line alone.
    None,
}

/// One line of `data.lines` (or of a followed `line` event) as printed.
fn labelled(line: &Value, label: Label) -> String {
    let text = line["line"].as_str().unwrap_or("");
    let text = match line["time"].as_str() {
        Some(time) => format!("{time} {text}"),
        None => text.to_string(),
    };
    let stream = line["stream"].as_str().unwrap_or("");
    match label {
        Label::Program => format!(
            "{} {stream} | {text}",
            line["program"].as_str().unwrap_or("")
        ),
        Label::Stream => format!("{stream} | {text}"),
        Label::None => text,
    }
}

fn print_notes(data: &Value) {
    for note in data["notes"].as_array().into_iter().flatten() {
        if let Some(note) = note.as_str() {
            eprintln!("hoody-daemon: {note}");
        }
    }
}

fn follow(session: &Session, path: &str, label: Label) -> Result<(), CliError> {
    sse::follow(session, path, &[], |item| match item {
        Item::Event { event, data, .. } => emit(session, &event, &data, label),
        Item::Comment(comment) => {
            if let Some(why) = comment.strip_prefix(" dropped:") {
                // The daemon ended this follower (it did not keep up); say why.
                eprintln!("hoody-daemon: follow ended: dropped:{why}");
            }
            Ok(())
        }
    })
}

fn emit(session: &Session, event: &str, text: &str, label: Label) -> Result<(), CliError> {
    let mut stdout = std::io::stdout().lock();
    if event == "line" {
        // `{program, stream, line, time}`.
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if session.json {
            writeln!(stdout, "{value}")?;
        } else {
            writeln!(stdout, "{}", labelled(&value, label))?;
        }
        stdout.flush()?;
    } else if session.json {
        writeln!(stdout, "{}", json!({ "stream": event, "line": text }))?;
        stdout.flush()?;
    } else if event == "stderr" {
        writeln!(std::io::stderr().lock(), "{text}")?;
    } else {
        writeln!(stdout, "{text}")?;
        stdout.flush()?;
    }
    Ok(())
}
