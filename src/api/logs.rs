//! `GET …/programs/{id}/logs` and `GET …/logs` (SPEC §6, §13): the last N lines of a program's
//! stdout and stderr (each as one string, or with `stream=all` as one list of lines in time
//! order), and of every program merged (`data.lines: [{program, stream, line, time}]`); with
//! `follow=true`, a server-sent event per new line (`follow.rs`), across rotations.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::follow::{self, Format, Hub, Target};
use super::{error, failure_response};
use crate::daemon::Reply;
use crate::supervisor::logread::{self, LogLine, Source};

/// The send buffer of a follower's socket. The kernel otherwise grows it to megabytes for a
/// client that does not read, and each of those bytes is a line the API thread read and
/// formatted for nobody: with 400 such followers, seconds of work that delayed every other
/// request. (The kernel doubles the figure.)
const FOLLOWER_SEND_BUFFER: usize = 16 * 1024;

/// Sets the send buffer of a follower's connection (see [`FOLLOWER_SEND_BUFFER`]).
fn limit_send_buffer(socket: Option<super::PeerSocket>) {
    let Some(fd) = socket.map(|socket| socket.raw_fd()) else {
        return;
    };
    let size = FOLLOWER_SEND_BUFFER as libc::c_int;
    // SAFETY: the connection (and so its descriptor) is open while its request is handled,
    // which is when this runs; the option value is a c_int that lives across the call, and
    // its size is given.
    let result = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            std::ptr::from_ref(&size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if result != 0 {
        tracing::debug!(error = %std::io::Error::last_os_error(), "cannot set a follower's send buffer");
    }
}

/// Lines returned when the request does not say.
const DEFAULT_LINES: usize = 100;
const MAX_LINES: usize = 100_000;

/// The followers' inotify hub, made with the first follower.
#[derive(Clone, Default)]
pub struct Followers(Arc<Mutex<Option<Arc<Hub>>>>);

impl Followers {
    fn hub(&self) -> Result<Arc<Hub>, Response> {
        let mut hub = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(hub) = hub.as_ref() {
            return Ok(Arc::clone(hub));
        }
        match Hub::start() {
            Ok(started) => {
                *hub = Some(Arc::clone(&started));
                Ok(started)
            }
            Err(problem) => Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "follow_unavailable",
                &format!("cannot follow logs: {problem}"),
                Value::Null,
            )),
        }
    }
}

/// Which streams a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Streams {
    Stdout,
    Stderr,
    /// Both, each as its own string (`both`, the default).
    Both,
    /// Both, as one list of lines (`all`).
    All,
}

impl Streams {
    fn includes(self, stream: &str) -> bool {
        match self {
            Streams::Stdout => stream == "stdout",
            Streams::Stderr => stream == "stderr",
            Streams::Both | Streams::All => true,
        }
    }
}

fn lines_param(params: &HashMap<String, String>) -> Result<usize, Response> {
    match params.get("lines").map(|value| value.parse::<usize>()) {
        None => Ok(DEFAULT_LINES),
        Some(Ok(lines)) if lines <= MAX_LINES => Ok(lines),
        Some(_) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            &format!("query parameter `lines` must be a number from 0 to {MAX_LINES}"),
            json!({ "field": "lines" }),
        )),
    }
}

/// `follow=true|false` (or 1/0, yes/no); anything else is a 400 naming the parameter.
fn follow_param(params: &HashMap<String, String>) -> Result<bool, Response> {
    super::flag(params, "follow", false)
}

/// One program's log paths (`daemon::reads::log_paths_json`), as sources to read.
fn sources_of(paths: &Value, streams: Streams) -> Vec<Source> {
    let program = paths["name"].as_str().unwrap_or("quick-start").to_string();
    ["stdout", "stderr"]
        .into_iter()
        .filter(|stream| streams.includes(stream))
        .filter_map(|stream| {
            paths[stream].as_str().map(|path| Source {
                program: program.clone(),
                stream,
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// What a program keeps no log of, in words (`stdout_logfile = "none"`).
fn missing_logs(paths: &Value, streams: Streams) -> Vec<String> {
    let program = paths["name"].as_str().unwrap_or("this program");
    let mut notes = Vec::new();
    if streams.includes("stdout") && paths["stdout"].is_null() {
        notes.push(format!(
            "{program} keeps no stdout (stdout_logfile = \"none\")"
        ));
    }
    if streams.includes("stderr") && paths["stderr"].is_null() {
        if paths["redirect_stderr"] == true {
            if streams == Streams::Stderr {
                notes.push(format!(
                    "{program} sends its stderr to its stdout log (redirect_stderr = true)"
                ));
            }
        } else {
            notes.push(format!(
                "{program} keeps no stderr (stderr_logfile = \"none\")"
            ));
        }
    }
    notes
}

async fn read_merged(sources: Vec<Source>, lines: usize) -> Result<Vec<LogLine>, Response> {
    match tokio::task::spawn_blocking(move || logread::merged(&sources, lines)).await {
        Ok(Ok(lines)) => Ok(lines),
        Ok(Err(problem)) => Err(error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "log_unreadable",
            &format!("cannot read the logs: {problem}"),
            Value::Null,
        )),
        Err(_) => Ok(Vec::new()),
    }
}

fn targets(sources: &[Source]) -> Vec<Target> {
    let mut seen = std::collections::HashSet::new();
    sources
        .iter()
        .filter(|source| seen.insert(source.path.clone()))
        .map(|source| Target {
            program: source.program.clone(),
            stream: source.stream,
            path: source.path.clone(),
        })
        .collect()
}

/// `GET …/programs/{id}/logs` (and the quick-start one).
pub async fn respond(
    paths: Reply,
    params: &HashMap<String, String>,
    followers: &Followers,
    socket: Option<super::PeerSocket>,
) -> Response {
    let answer = match paths {
        Ok(answer) => answer,
        Err(failure) => return failure_response(failure),
    };
    // The log paths are a value (`Data::Json` is for the big reads only).
    let paths = answer.data.as_value().cloned().unwrap_or(Value::Null);
    let lines = match lines_param(params) {
        Ok(lines) => lines,
        Err(response) => return response,
    };
    let streams = match params.get("stream").map(String::as_str) {
        None | Some("both") => Streams::Both,
        Some("all") => Streams::All,
        Some("stdout") => Streams::Stdout,
        Some("stderr") => Streams::Stderr,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "query parameter `stream` must be stdout, stderr, both or all",
                json!({ "field": "stream" }),
            );
        }
    };
    let sources = sources_of(&paths, streams);
    let notes = missing_logs(&paths, streams);
    let follow = match follow_param(params) {
        Ok(follow) => follow,
        Err(response) => return response,
    };
    if follow {
        let hub = match followers.hub() {
            Ok(hub) => hub,
            Err(response) => return response,
        };
        let format = if streams == Streams::All {
            Format::Json
        } else {
            Format::Raw
        };
        limit_send_buffer(socket);
        return follow::respond(hub, targets(&sources), lines, format).await;
    }
    let mut data = serde_json::Map::new();
    if streams == Streams::All {
        let merged = match read_merged(sources, lines).await {
            Ok(merged) => merged,
            Err(response) => return response,
        };
        data.insert("lines".into(), json!(merged));
        // The same keys as the other forms, so a typed client reads one shape.
        data.insert("stdout".into(), Value::Null);
        data.insert("stderr".into(), Value::Null);
    } else {
        for stream in ["stdout", "stderr"] {
            let text = match sources.iter().find(|source| source.stream == stream) {
                Some(source) => {
                    let path = source.path.clone();
                    let read =
                        tokio::task::spawn_blocking(move || crate::supervisor::tail(&path, lines))
                            .await;
                    match read {
                        Ok(Ok(text)) => Value::from(text),
                        Ok(Err(problem)) if problem.kind() == std::io::ErrorKind::NotFound => {
                            Value::from("")
                        }
                        Ok(Err(problem)) => {
                            return error(
                                StatusCode::INTERNAL_SERVER_ERROR,
                                "log_unreadable",
                                &format!("cannot read the {stream} log: {problem}"),
                                Value::Null,
                            );
                        }
                        Err(_) => Value::from(""),
                    }
                }
                // Asked for, but kept nowhere (`none`: `notes` says so) or in the stdout log
                // (redirect_stderr): no lines.
                None if streams.includes(stream) => Value::from(""),
                None => Value::Null,
            };
            data.insert(stream.to_string(), text);
        }
    }
    data.insert("stdout_logfile".into(), paths["stdout"].clone());
    data.insert("stderr_logfile".into(), paths["stderr"].clone());
    data.insert("redirect_stderr".into(), paths["redirect_stderr"].clone());
    data.insert("notes".into(), json!(notes));
    let message = if notes.is_empty() {
        "OK".to_string()
    } else {
        format!("OK; {}", notes.join("; "))
    };
    super::envelope(StatusCode::OK, &message, Value::Object(data))
}

/// `GET …/logs`: every program's (or those named in `programs=a,b`) last lines, merged.
pub async fn respond_all(
    paths: Reply,
    params: &HashMap<String, String>,
    followers: &Followers,
    socket: Option<super::PeerSocket>,
) -> Response {
    let answer = match paths {
        Ok(answer) => answer,
        Err(failure) => return failure_response(failure),
    };
    let programs = answer
        .data
        .as_value()
        .and_then(|data| data["programs"].as_array().cloned())
        .unwrap_or_default();
    let lines = match lines_param(params) {
        Ok(lines) => lines,
        Err(response) => return response,
    };
    let sources: Vec<Source> = programs
        .iter()
        .flat_map(|paths| sources_of(paths, Streams::All))
        .collect();
    let notes: Vec<String> = programs
        .iter()
        .flat_map(|paths| missing_logs(paths, Streams::All))
        .collect();
    let follow = match follow_param(params) {
        Ok(follow) => follow,
        Err(response) => return response,
    };
    if follow {
        let hub = match followers.hub() {
            Ok(hub) => hub,
            Err(response) => return response,
        };
        limit_send_buffer(socket);
        return follow::respond(hub, targets(&sources), lines, Format::Json).await;
    }
    let merged = match read_merged(sources, lines).await {
        Ok(merged) => merged,
        Err(response) => return response,
    };
    super::envelope(
        StatusCode::OK,
        "OK",
        json!({ "lines": merged, "notes": notes }),
    )
}
