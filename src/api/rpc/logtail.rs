//! `GET /logtail/NAME[/stdout|/stderr]`: what `supervisorctl tail -f` reads. As supervisord
//! does it: a `text/plain` response without a length (so chunked), the last 1 KiB of the log,
//! then every byte appended, raw, for as long as the client stays; a log replaced by rotation
//! is followed into its new file, and a truncated one is read again from its start after a
//! `==> File truncated <==` line. Unlike supervisord, a program whose log does not exist yet
//! (never started) is followed too, from the moment the file appears.
//!
//! The follower looks at the file every [`FOLLOW_PERIOD`] while a client is connected, and at
//! nothing otherwise: no task, timer or descriptor exists without a `tail -f`. While the log is
//! quiet it also asks the client's socket whether the client left ([`PeerSocket`]), so a
//! finished `tail -f` does not leave a follower behind.

use std::convert::Infallible;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::super::{AppState, PeerSocket, error, failure_response};
use super::refuse_pages;
use super::supervisord::{self, Target};
use crate::daemon::Request;

/// How often a follower looks for new bytes (supervisord: 0.1 s).
const FOLLOW_PERIOD: Duration = Duration::from_millis(200);
/// What a new follower is sent of the log's end first (supervisord's `head`).
const HEAD: u64 = 1024;
/// The most bytes sent per look, so one chatty log cannot hold the API's thread.
const CHUNK: u64 = 256 * 1024;

/// `GET /logtail/{id}`: stdout.
pub async fn logtail(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<PeerSocket>>,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    match id {
        Ok(Path(id)) => respond(&state, &headers, peer, &id, "stdout").await,
        Err(rejection) => bad_path(&rejection),
    }
}

/// `GET /logtail/{id}/{stream}`.
pub async fn logtail_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    peer: Option<Extension<PeerSocket>>,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Response {
    match path {
        Ok(Path((id, stream))) => respond(&state, &headers, peer, &id, &stream).await,
        Err(rejection) => bad_path(&rejection),
    }
}

fn bad_path(rejection: &PathRejection) -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "invalid_id",
        &format!("the program in the path is not valid: {rejection}"),
        Value::Null,
    )
}

fn no_log(message: String, id: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no_log",
        &message,
        json!({ "id": crate::spec::name::quote_short(id) }),
    )
}

async fn respond(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<Extension<PeerSocket>>,
    id: &str,
    stream: &str,
) -> Response {
    if let Some(refused) = refuse_pages(headers) {
        return refused;
    }
    if !matches!(stream, "stdout" | "stderr") {
        return no_log(
            format!("no such log {stream:?}: the channel is stdout or stderr"),
            id,
        );
    }
    let name = match supervisord::target(id) {
        Ok(Target::Process(name)) if !name.is_empty() && !name.contains(['\0', '/']) => name,
        _ => return no_log("a program name (or name:name) is needed".to_string(), id),
    };
    let paths = match state
        .handle
        .ask(Request::LogPaths { id: name.clone() })
        .await
    {
        Ok(answer) => answer,
        Err(failure) if failure.code == "no_valid_version" => {
            return no_log(format!("{name} has never had a valid file: no log yet"), id);
        }
        Err(failure) => return failure_response(failure),
    };
    let data = paths.data.as_value().cloned().unwrap_or(Value::Null);
    let Some(path) = data[stream].as_str().map(PathBuf::from) else {
        let why = if stream == "stderr" && data["redirect_stderr"] == true {
            "stderr goes to the stdout log (redirect_stderr)"
        } else {
            "its output is discarded (\"none\")"
        };
        return no_log(format!("{name} has no {stream} log: {why}"), id);
    };
    let follower = Follower::start(path);
    let peer = peer.map(|Extension(peer)| peer);
    let body = futures_util::stream::unfold(follower, move |mut follower| async move {
        loop {
            let bytes = follower.read_new();
            if !bytes.is_empty() {
                return Some((Ok::<Bytes, Infallible>(Bytes::from(bytes)), follower));
            }
            // Nothing to write, so nothing would tell that the client left: ask its socket.
            if peer.is_some_and(|peer| peer.is_closed()) {
                return None;
            }
            tokio::time::sleep(FOLLOW_PERIOD).await;
        }
    });
    (
        StatusCode::OK,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain;charset=utf-8"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // A reverse proxy (nginx) must not buffer the stream.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// One followed log file.
struct Follower {
    path: PathBuf,
    file: Option<File>,
    inode: u64,
    position: u64,
    /// The next read starts with the last [`HEAD`] bytes instead of everything.
    fresh: bool,
}

impl Follower {
    fn start(path: PathBuf) -> Follower {
        Follower {
            path,
            file: None,
            inode: 0,
            position: 0,
            fresh: true,
        }
    }

    /// The bytes appended since the last look (at most [`CHUNK`]); follows a rotation into the
    /// new file and a truncation back to the start.
    fn read_new(&mut self) -> Vec<u8> {
        let Ok(metadata) = std::fs::metadata(&self.path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if self.file.is_none() || metadata.ino() != self.inode {
            // Rotated away (or first sight): what the old file still had, then the new one.
            out = self.read_chunk();
            self.file = File::open(&self.path).ok();
            self.inode = metadata.ino();
            self.position = if self.fresh {
                metadata.len().saturating_sub(HEAD)
            } else {
                0
            };
            self.fresh = false;
        } else if metadata.len() < self.position {
            self.position = 0;
            out.extend_from_slice(b"==> File truncated <==\n");
        }
        out.extend(self.read_chunk());
        out
    }

    fn read_chunk(&mut self) -> Vec<u8> {
        let Some(file) = &mut self.file else {
            return Vec::new();
        };
        let mut chunk = Vec::new();
        if file.seek(SeekFrom::Start(self.position)).is_err() {
            return chunk;
        }
        let read = file.take(CHUNK).read_to_end(&mut chunk).unwrap_or(0);
        self.position += read as u64;
        chunk
    }
}
