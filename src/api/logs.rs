//! `GET …/logs`: the last N lines of a program's stdout and stderr, and `?follow=true`, a
//! server-sent event per new line that keeps following across rotations (the file is replaced
//! by a new one, or truncated).

use std::collections::HashMap;
use std::convert::Infallible;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{error, failure_response};
use crate::daemon::Reply;

/// Lines returned when the request does not say.
const DEFAULT_LINES: usize = 100;
const MAX_LINES: usize = 100_000;
/// How often a follower looks for new output.
const FOLLOW_PERIOD: Duration = Duration::from_millis(200);

pub async fn respond(paths: Reply, params: &HashMap<String, String>) -> Response {
    let answer = match paths {
        Ok(answer) => answer,
        Err(failure) => return failure_response(failure),
    };
    // The log paths are a value (`Data::Json` is for the big reads only).
    let paths = answer.data.as_value().unwrap_or(&Value::Null);
    let lines = match params.get("lines").map(|value| value.parse::<usize>()) {
        None => DEFAULT_LINES,
        Some(Ok(lines)) if lines <= MAX_LINES => lines,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                &format!("query parameter `lines` must be a number from 0 to {MAX_LINES}"),
                json!({ "field": "lines" }),
            );
        }
    };
    let streams: Vec<&str> = match params.get("stream").map(String::as_str) {
        None | Some("both") | Some("all") => vec!["stdout", "stderr"],
        Some("stdout") => vec!["stdout"],
        Some("stderr") => vec!["stderr"],
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "query parameter `stream` must be stdout, stderr or both",
                json!({ "field": "stream" }),
            );
        }
    };
    let follow = matches!(
        params.get("follow").map(String::as_str),
        Some("true" | "1" | "yes")
    );
    let path_of = |stream: &str| paths[stream].as_str().map(PathBuf::from);
    if follow {
        let targets: Vec<(String, PathBuf)> = streams
            .iter()
            .filter_map(|stream| path_of(stream).map(|path| (stream.to_string(), path)))
            .collect();
        return follow_response(targets, lines).into_response();
    }
    let mut data = serde_json::Map::new();
    for stream in ["stdout", "stderr"] {
        let text = match path_of(stream) {
            Some(path) if streams.contains(&stream) => {
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
            Some(_) => Value::Null,
            None if streams.contains(&stream) => Value::from(""),
            None => Value::Null,
        };
        data.insert(stream.to_string(), text);
    }
    data.insert("stdout_logfile".into(), paths["stdout"].clone());
    data.insert("stderr_logfile".into(), paths["stderr"].clone());
    data.insert("redirect_stderr".into(), paths["redirect_stderr"].clone());
    super::envelope(StatusCode::OK, "OK", Value::Object(data))
}

/// One followed file.
struct Follower {
    stream: String,
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    position: u64,
    partial: Vec<u8>,
}

impl Follower {
    /// New complete lines since the last look. Reopens the file when it was rotated away or
    /// truncated, so output after a rotation keeps coming.
    fn poll(&mut self) -> Vec<String> {
        let Ok(metadata) = std::fs::metadata(&self.path) else {
            return Vec::new();
        };
        if self.file.is_none() || metadata.ino() != self.inode || metadata.len() < self.position {
            // Drain what the old file still had, then start the new one from its beginning.
            let mut lines = self.read_available();
            self.file = File::open(&self.path).ok();
            self.inode = metadata.ino();
            self.position = 0;
            lines.extend(self.read_available());
            return lines;
        }
        self.read_available()
    }

    fn read_available(&mut self) -> Vec<String> {
        let Some(file) = &mut self.file else {
            return Vec::new();
        };
        let mut chunk = Vec::new();
        if file.seek(SeekFrom::Start(self.position)).is_err() {
            return Vec::new();
        }
        let read = file.take(1 << 20).read_to_end(&mut chunk).unwrap_or(0);
        self.position += read as u64;
        self.partial.extend_from_slice(&chunk);
        let mut lines = Vec::new();
        while let Some(end) = self.partial.iter().position(|byte| *byte == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            lines.push(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
        }
        lines
    }
}

fn follow_response(
    targets: Vec<(String, PathBuf)>,
    lines: usize,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let mut initial = Vec::new();
    let mut followers = Vec::new();
    for (stream, path) in targets {
        let tail = crate::supervisor::tail(&path, lines).unwrap_or_default();
        for line in tail.lines() {
            initial.push((stream.clone(), line.to_string()));
        }
        let file = File::open(&path).ok();
        let (inode, position) = file
            .as_ref()
            .and_then(|file| file.metadata().ok())
            .map_or((0, 0), |metadata| (metadata.ino(), metadata.len()));
        followers.push(Follower {
            stream,
            path,
            file,
            inode,
            position,
            partial: Vec::new(),
        });
    }
    let state = (
        initial
            .into_iter()
            .collect::<std::collections::VecDeque<_>>(),
        followers,
    );
    let stream = futures_util::stream::unfold(state, |(mut queue, mut followers)| async move {
        loop {
            if let Some((stream, line)) = queue.pop_front() {
                let event = SseEvent::default().event(stream).data(line);
                return Some((Ok(event), (queue, followers)));
            }
            tokio::time::sleep(FOLLOW_PERIOD).await;
            for follower in &mut followers {
                for line in follower.poll() {
                    queue.push_back((follower.stream.clone(), line));
                }
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
