//! The HTTP API (SPEC §6–7, §10): axum routes under `/api/v1/daemon`, the JSON envelope, who
//! may do what (`access`: Host, Origin, Content-Type, tokens and roles, peer credentials), body
//! limits and timeouts. The only module that knows HTTP. Every handler turns a request into a
//! [`Request`] for the daemon's loop and its [`Reply`] into the envelope; nothing here touches
//! a file or a process.

// Handlers return a ready `Response` as their error: it is what axum sends, and boxing it would
// only add an allocation to every failed request.
#![allow(clippy::result_large_err)]

pub mod access;
pub mod dashboard;
mod follow;
mod logs;
pub mod openapi;
pub mod peer;
pub mod rpc;
pub mod schemas;
pub mod tokens;

pub use access::{Access, AccessConfig, Auth};
pub use tokens::Tokens;

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use peer::{Peer, Transport};
use serde_json::{Map, Value, json};

use crate::daemon::{Answer, Data, Failure, FailureKind, Handle, Reply, Request, View};
use crate::spec::Format;

/// The base path of every route.
pub const BASE: &str = "/api/v1/daemon";
/// The largest request body accepted (SPEC §7).
pub const MAX_BODY: usize = 1024 * 1024;
/// The largest request head (request line and headers) accepted; past it, 431.
pub const MAX_HEAD: usize = 32 * 1024;
/// How long a client may take to send its request headers or body.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the API listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl Listen {
    /// `127.0.0.1:7575`, `[::1]:7575`, `localhost:7575` or `unix:/run/hoody.sock`.
    pub fn parse(text: &str) -> Result<Listen, String> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("unix: needs a socket path, as in unix:/run/hoody-daemon.sock".into());
            }
            return Ok(Listen::Unix(PathBuf::from(path)));
        }
        let text = text.replace("localhost:", "127.0.0.1:");
        text.parse::<SocketAddr>().map(Listen::Tcp).map_err(|_| {
            format!("{text:?} is not an address; give HOST:PORT (127.0.0.1:7575) or unix:/path")
        })
    }

    pub fn is_loopback(&self) -> bool {
        match self {
            Listen::Tcp(address) => address.ip().is_loopback(),
            Listen::Unix(_) => true,
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Tcp(address) => write!(formatter, "http://{address}"),
            Listen::Unix(path) => write!(formatter, "unix:{}", path.display()),
        }
    }
}

#[derive(Clone)]
struct AppState {
    handle: Handle,
    access: Arc<AccessConfig>,
    roles: Arc<access::RouteRoles>,
    /// The daemon's effective uid: without tokens, its peers (and root's) are served.
    daemon_uid: u32,
    /// Log followers' inotify hub, made with the first follower.
    followers: logs::Followers,
}

/// Every route of the API, behind the checks of [`access::check`].
pub fn router(handle: Handle, config: AccessConfig) -> Router {
    let state = AppState {
        handle,
        access: Arc::new(config),
        roles: Arc::new(access::RouteRoles::from_table()),
        daemon_uid: nix::unistd::geteuid().as_raw(),
        followers: logs::Followers::default(),
    };
    let api = Router::new()
        .route("/health", get(health))
        .route("/whoami", get(whoami))
        .route("/ready", get(ready))
        .route("/openapi.json", get(openapi_document))
        .route("/programs", get(list_programs))
        // A program may be named "add" or "put": GET of those paths is that program.
        .route("/programs/add", post(add_program).get(get_program_add))
        .route("/programs/edit/{id}", post(edit_program))
        .route("/programs/put", post(put_program).get(get_program_put))
        .route("/programs/remove/{id}", post(remove_program))
        .route("/programs/{id}", get(get_program))
        .route("/programs/{id}/enable", post(enable_program))
        .route("/programs/{id}/disable", post(disable_program))
        .route("/programs/{id}/start", post(start_program))
        .route("/programs/{id}/stop", post(stop_program))
        .route("/programs/{id}/restart", post(restart_program))
        .route("/programs/{id}/signal", post(signal_program))
        .route("/programs/{id}/logs", get(program_logs))
        .route("/programs/{id}/history", get(program_history))
        .route("/status", get(all_status))
        .route("/status/{id}", get(one_status))
        .route("/events", get(events))
        .route("/metrics", get(metrics))
        .route("/logs", get(all_logs))
        .route("/quick-start", get(quick_list).post(quick_launch))
        .route("/quick-start/{id}/status", get(quick_status))
        .route("/quick-start/{id}/stop", post(quick_stop))
        .route("/quick-start/{id}/logs", get(quick_logs));
    Router::new()
        .route("/", get(dashboard::page))
        .route("/dashboard/{file}", get(dashboard::file))
        .nest(BASE, api)
        // The supervisord bridge, at the root where supervisorctl asks for it.
        // Where Prometheus scrapes by default.
        .route("/metrics", get(metrics))
        .route("/RPC2", post(rpc::rpc2))
        .route("/logtail/{id}", get(rpc::logtail))
        .route("/logtail/{id}/{stream}", get(rpc::logtail_stream))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            access::check,
        ))
        .with_state(state)
}

// ---- the envelope ------------------------------------------------------------------------

/// `{"data": …, "message": …, "statusCode": …}`: the keys in the order a `serde_json` map has
/// always written them.
fn envelope(status: StatusCode, message: &str, data: Value) -> Response {
    let mut body = b"{\"data\":".to_vec();
    let written = serde_json::to_writer(&mut body, &data)
        .and_then(|()| end_envelope(&mut body, status, message));
    match written {
        Ok(()) => json_response(status, vec![Bytes::from(body)]),
        Err(problem) => serialize_failed(&problem),
    }
}

/// The envelope around data the daemon's loop has already written as JSON (the big reads:
/// status, the list of programs, one program): sent as it is after the envelope's beginning,
/// neither parsed nor copied (its end is appended to the buffer, which the loop sized with
/// room to spare).
fn envelope_json(status: StatusCode, message: &str, mut data: Vec<u8>) -> Response {
    match end_envelope(&mut data, status, message) {
        Ok(()) => json_response(
            status,
            vec![Bytes::from_static(b"{\"data\":"), Bytes::from(data)],
        ),
        Err(problem) => serialize_failed(&problem),
    }
}

/// `,"message":…,"statusCode":…}`.
fn end_envelope(body: &mut Vec<u8>, status: StatusCode, message: &str) -> serde_json::Result<()> {
    body.extend_from_slice(b",\"message\":");
    serde_json::to_writer(&mut *body, message)?;
    body.extend_from_slice(b",\"statusCode\":");
    body.extend_from_slice(status.as_str().as_bytes());
    body.push(b'}');
    Ok(())
}

fn json_response(status: StatusCode, parts: Vec<Bytes>) -> Response {
    let content_type = HeaderValue::from_static("application/json");
    (
        status,
        [(header::CONTENT_TYPE, content_type)],
        Body::new(Parts::new(parts)),
    )
        .into_response()
}

/// Values with string keys always serialize: this is not expected to happen.
fn serialize_failed(problem: &serde_json::Error) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "serialize_failed",
        &format!("cannot write the answer as JSON: {problem}"),
        Value::Null,
    )
}

/// A response body of a few chunks sent in turn, with its exact length (so it goes out with a
/// `Content-Length`, and hyper writes the head and the chunks in one vectored write): the
/// envelope's beginning and ready JSON, without copying the JSON into a new buffer (250 KB for
/// the status of 1,000 programs).
struct Parts {
    parts: std::vec::IntoIter<Bytes>,
    length: u64,
}

impl Parts {
    fn new(parts: Vec<Bytes>) -> Parts {
        let length = parts.iter().map(|part| part.len() as u64).sum();
        Parts {
            parts: parts.into_iter(),
            length,
        }
    }
}

impl http_body::Body for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        let this = self.get_mut();
        let part = this.parts.next().map(|part| {
            this.length -= part.len() as u64;
            Ok(http_body::Frame::data(part))
        });
        Poll::Ready(part)
    }

    fn is_end_stream(&self) -> bool {
        self.length == 0 && self.parts.len() == 0
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(self.length)
    }
}

/// An error in the envelope: `{"statusCode", "message", "error": {"code", "details"}}`.
pub fn error(status: StatusCode, code: &str, message: &str, details: Value) -> Response {
    let body = json!({
        "statusCode": status.as_u16(),
        "message": message,
        "error": { "code": code, "details": details },
    });
    (status, axum::Json(body)).into_response()
}

fn failure_response(failure: Failure) -> Response {
    let status = match failure.kind {
        FailureKind::Invalid => StatusCode::BAD_REQUEST,
        FailureKind::NotFound => StatusCode::NOT_FOUND,
        FailureKind::Conflict => StatusCode::CONFLICT,
        FailureKind::Stale => StatusCode::PRECONDITION_FAILED,
        FailureKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
        FailureKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        FailureKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        FailureKind::InsufficientStorage => StatusCode::INSUFFICIENT_STORAGE,
    };
    let mut response = error(status, failure.code, &failure.message, failure.details);
    if let Some(seconds) = failure.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// A write that may create something: a 201 answer carries a `Location`, where what it created
/// (`data.id`) is read.
async fn ask_creating(
    state: &AppState,
    access: &Access,
    request: Request,
    location: impl Fn(u64) -> String,
) -> Response {
    let reply = state.handle.ask_as(request, access.author()).await;
    let created = reply
        .as_ref()
        .ok()
        .filter(|answer| answer.created)
        .and_then(|answer| answer.data.as_value())
        .and_then(|data| data["id"].as_u64())
        .and_then(|id| HeaderValue::from_str(&location(id)).ok());
    let mut response = reply_response(reply);
    if let Some(value) = created {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn reply_response(reply: Reply) -> Response {
    match reply {
        Ok(answer) => answer_response(answer),
        Err(failure) => failure_response(failure),
    }
}

fn answer_response(answer: Answer) -> Response {
    let status = if answer.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = match answer.data {
        Data::Value(data) => envelope(status, &answer.message, data),
        Data::Json(data) => envelope_json(status, &answer.message, data),
        Data::Text(text) => (
            status,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            text,
        )
            .into_response(),
        // Only the event stream asks for these, and it reads them itself.
        Data::Events(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "unexpected_answer",
            "the daemon answered with events where none were asked for",
            Value::Null,
        ),
    };
    if let Some(etag) = answer
        .etag
        .and_then(|etag| HeaderValue::from_str(&etag).ok())
    {
        response.headers_mut().insert(header::ETAG, etag);
    }
    response
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        "no_route",
        "no such endpoint; see /api/v1/daemon/openapi.json",
        Value::Null,
    )
}

async fn method_not_allowed() -> Response {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
        Value::Null,
    )
}

// ---- extraction --------------------------------------------------------------------------

type Params = Result<Query<HashMap<String, String>>, QueryRejection>;
type Id = Result<Path<String>, PathRejection>;

fn id_of(id: Id) -> Result<String, Response> {
    let Path(id) = id.map_err(|rejection| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            &format!("the program id in the path is not valid: {rejection}"),
            Value::Null,
        )
    })?;
    if id.is_empty()
        || id.len() > 200
        || id.contains(['\0', '/'])
        || id.chars().any(char::is_control)
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_id",
            "a program id is a number or a program name",
            json!({ "id": crate::spec::name::quote_short(&id) }),
        ));
    }
    Ok(id)
}

fn params_of(params: Params) -> Result<HashMap<String, String>, Response> {
    params.map(|Query(params)| params).map_err(|rejection| {
        error(
            StatusCode::BAD_REQUEST,
            "invalid_query",
            &format!("the query string is not valid: {rejection}"),
            Value::Null,
        )
    })
}

fn flag(params: &HashMap<String, String>, name: &str, default: bool) -> Result<bool, Response> {
    match params.get(name).map(|value| value.to_ascii_lowercase()) {
        None => Ok(default),
        Some(value) => match value.as_str() {
            "true" | "1" | "yes" => Ok(true),
            "false" | "0" | "no" => Ok(false),
            _ => Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                &format!("query parameter `{name}` must be true or false"),
                json!({ "field": name }),
            )),
        },
    }
}

/// The `If-Match` header, if any.
fn if_match_of(headers: &HeaderMap) -> Result<Option<String>, Response> {
    match headers.get(header::IF_MATCH).map(|value| value.to_str()) {
        None => Ok(None),
        Some(Ok(text)) => Ok(Some(text.to_string())),
        Some(Err(_)) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_header",
            "If-Match is not valid text",
            Value::Null,
        )),
    }
}

/// Reads a request body: at most [`MAX_BODY`] bytes, within [`READ_TIMEOUT`].
async fn body_bytes(body: Body) -> Result<Bytes, Response> {
    // A Content-Length over the limit is refused at once, not after waiting for the bytes.
    if axum::body::HttpBody::size_hint(&body).lower() > MAX_BODY as u64 {
        return Err(body_too_large());
    }
    let read = tokio::time::timeout(READ_TIMEOUT, axum::body::to_bytes(body, MAX_BODY)).await;
    match read {
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request body took too long to arrive",
            Value::Null,
        )),
        Ok(Err(_)) => Err(body_too_large()),
        Ok(Ok(bytes)) => Ok(bytes),
    }
}

/// Reads a JSON object body: at most [`MAX_BODY`] bytes, within [`READ_TIMEOUT`].
async fn json_object(body: Body, required: bool) -> Result<Map<String, Value>, Response> {
    let bytes = body_bytes(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if required {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                "the request needs a JSON object body",
                Value::Null,
            ));
        }
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            &format!("the body must be a JSON object, not {}", kind_of(&other)),
            Value::Null,
        )),
        Err(parse) => Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            &format!("the body is not valid JSON: {parse}"),
            json!({ "line": parse.line(), "column": parse.column() }),
        )),
    }
}

fn body_too_large() -> Response {
    error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        &format!("the request body is over {MAX_BODY} bytes"),
        json!({ "limit": MAX_BODY }),
    )
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

async fn ask(state: &AppState, request: Request) -> Response {
    reply_response(state.handle.ask(request).await)
}

/// A write: the loop records who made it (the audit trail, its log).
async fn ask_as(state: &AppState, access: &Access, request: Request) -> Response {
    reply_response(state.handle.ask_as(request, access.author()).await)
}

/// What a caller sees of secrets (file text, environment values, diffs, ETags): all of it for
/// `admin`, the redacted view for `operate`, and for `read` no log lines either (a status's
/// `last_stderr`).
fn view_of(access: &Access) -> View {
    if access.sees_secrets() {
        View::Full
    } else if access.role >= Some(openapi::Role::Operate) {
        View::Redacted
    } else {
        View::NoLogs
    }
}

macro_rules! try_response {
    ($value:expr) => {
        match $value {
            Ok(value) => value,
            Err(response) => return response,
        }
    };
}

// ---- handlers ----------------------------------------------------------------------------

async fn health() -> Response {
    envelope(
        StatusCode::OK,
        "OK",
        json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }),
    )
}

/// `GET /whoami`: the role the credentials of this request give, never a secret.
async fn whoami(Extension(access): Extension<Access>) -> Response {
    envelope(
        StatusCode::OK,
        "OK",
        json!({
            "role": access.role.map(openapi::Role::as_str),
            "token": access.token_name.as_deref(),
            "auth": access.auth.as_str(),
        }),
    )
}

/// `GET /ready` (SPEC §12): 200 when every program that should run is ready, 503 otherwise.
/// Public, for a container HEALTHCHECK or a Kubernetes readinessProbe; only a caller whose
/// credentials give a role (`read` or more) is told which programs are not ready.
async fn ready(State(state): State<AppState>, Extension(access): Extension<Access>) -> Response {
    let names = access.allows(openapi::Role::Read);
    ask(&state, Request::Ready { names }).await
}

/// The document states security as it is configured: bearer with tokens, none without.
async fn openapi_document(State(state): State<AppState>) -> Response {
    let secured = !state.access.tokens.is_empty();
    (StatusCode::OK, axum::Json(openapi::document(secured))).into_response()
}

async fn list_programs(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Response {
    let view = view_of(&access);
    ask(&state, Request::List { view }).await
}

async fn get_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
    headers: HeaderMap,
) -> Response {
    let id = try_response!(id_of(id));
    read_program(&state, &access, id, &headers).await
}

async fn get_program_add(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
) -> Response {
    read_program(&state, &access, "add".to_string(), &headers).await
}

async fn get_program_put(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
) -> Response {
    read_program(&state, &access, "put".to_string(), &headers).await
}

/// `GET /programs/{id}`: the program, with its ETag (admin); 304 without a body when
/// `If-None-Match` names that ETag (or is `*`).
async fn read_program(
    state: &AppState,
    access: &Access,
    id: String,
    headers: &HeaderMap,
) -> Response {
    let view = view_of(access);
    let reply = state.handle.ask(Request::Get { id, view }).await;
    if let Ok(answer) = &reply
        && let Some(etag) = &answer.etag
        && headers
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| etag_listed(value, etag))
        && let Ok(value) = HeaderValue::from_str(etag)
    {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, value)]).into_response();
    }
    reply_response(reply)
}

/// Whether an `If-None-Match` value (a list of ETags, weak ones included, or `*`) names
/// `etag` (RFC 9110: the weak comparison).
fn etag_listed(header: &str, etag: &str) -> bool {
    let bare = |tag: &str| tag.trim().trim_start_matches("W/").to_string();
    header.trim() == "*" || header.split(',').any(|tag| bare(tag) == bare(etag))
}

async fn add_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    params: Params,
    body: Body,
) -> Response {
    let params = try_response!(params_of(params));
    let format = match params.get("format").map(String::as_str) {
        None | Some("toml") => Format::Toml,
        Some("yaml") | Some("yml") => Format::Yaml,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_query",
                "query parameter `format` must be toml or yaml",
                json!({ "field": "format" }),
            );
        }
    };
    let fields = try_response!(json_object(body, true).await);
    let request = Request::Create { fields, format };
    ask_creating(&state, &access, request, |id| {
        format!("{BASE}/programs/{id}")
    })
    .await
}

async fn edit_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let id = try_response!(id_of(id));
    let if_match = try_response!(if_match_of(&headers));
    let changes = try_response!(json_object(body, true).await);
    ask_as(
        &state,
        &access,
        Request::Edit {
            id,
            changes,
            if_match,
        },
    )
    .await
}

/// `POST /programs/put` `{"file": "NAME.toml", "text": "…"}`: create or replace a whole file.
async fn put_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let if_match = try_response!(if_match_of(&headers));
    let mut body = try_response!(json_object(body, true).await);
    let (Some(Value::String(file)), Some(Value::String(text))) =
        (body.remove("file"), body.remove("text"))
    else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_fields",
            "fields `file` and `text` are required, both strings",
            json!([{ "field": "file", "message": "is required, a string" }, { "field": "text", "message": "is required, a string" }]),
        );
    };
    if let Some(extra) = body.keys().next() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_fields",
            &format!("field `{extra}`: unknown field; a put takes file and text"),
            json!([{ "field": extra, "message": "unknown field; a put takes file and text" }]),
        );
    }
    let request = Request::Put {
        file,
        text,
        if_match,
    };
    ask_creating(&state, &access, request, |id| {
        format!("{BASE}/programs/{id}")
    })
    .await
}

async fn remove_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
    params: Params,
) -> Response {
    let id = try_response!(id_of(id));
    let params = try_response!(params_of(params));
    let wait = try_response!(flag(&params, "wait", true));
    ask_as(&state, &access, Request::Remove { id, wait }).await
}

async fn enable_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
    params: Params,
) -> Response {
    set_enabled(state, access, id, params, true).await
}

async fn disable_program(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
    params: Params,
) -> Response {
    set_enabled(state, access, id, params, false).await
}

async fn set_enabled(
    state: AppState,
    access: Access,
    id: Id,
    params: Params,
    enabled: bool,
) -> Response {
    let id = try_response!(id_of(id));
    let params = try_response!(params_of(params));
    let wait = try_response!(flag(&params, "wait", true));
    ask_as(&state, &access, Request::SetEnabled { id, enabled, wait }).await
}

async fn start_program(State(state): State<AppState>, id: Id, params: Params) -> Response {
    let id = try_response!(id_of(id));
    let params = try_response!(params_of(params));
    let wait = try_response!(flag(&params, "wait", true));
    ask(&state, Request::Start { id, wait }).await
}

async fn stop_program(State(state): State<AppState>, id: Id, params: Params) -> Response {
    let id = try_response!(id_of(id));
    let params = try_response!(params_of(params));
    let wait = try_response!(flag(&params, "wait", true));
    ask(&state, Request::Stop { id, wait }).await
}

async fn restart_program(State(state): State<AppState>, id: Id, params: Params) -> Response {
    let id = try_response!(id_of(id));
    let params = try_response!(params_of(params));
    let wait = try_response!(flag(&params, "wait", true));
    ask(&state, Request::Restart { id, wait }).await
}

/// `POST /programs/{id}/signal` `{"signal": "HUP"}` (a name with or without SIG, or a number).
async fn signal_program(State(state): State<AppState>, id: Id, body: Body) -> Response {
    let id = try_response!(id_of(id));
    let mut body = try_response!(json_object(body, true).await);
    let signal = match body.remove("signal") {
        Some(Value::String(signal)) => signal,
        Some(Value::Number(number)) => number.to_string(),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_fields",
                "field `signal`: is required: a name (HUP, SIGUSR1) or a number",
                json!([{ "field": "signal", "message": "is required: a name (HUP, SIGUSR1) or a number" }]),
            );
        }
    };
    if let Some(extra) = body.keys().next() {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_fields",
            &format!("field `{extra}`: unknown field; a signal takes `signal`"),
            json!([{ "field": extra, "message": "unknown field; a signal takes `signal`" }]),
        );
    }
    let signal = match crate::supervisor::parse_signal(&signal).and_then(|(number, name)| {
        nix::sys::signal::Signal::try_from(number)
            .map_err(|_| format!("{name} cannot be sent: real-time signals are not supported"))
    }) {
        Ok(signal) => signal,
        Err(message) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_fields",
                &format!("field `signal`: {message}"),
                json!([{ "field": "signal", "message": message }]),
            );
        }
    };
    ask(&state, Request::Signal { id, signal }).await
}

async fn program_history(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
) -> Response {
    let id = try_response!(id_of(id));
    let view = view_of(&access);
    ask(&state, Request::History { id, view }).await
}

async fn all_status(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
) -> Response {
    let view = view_of(&access);
    ask(&state, Request::Status { id: None, view }).await
}

async fn one_status(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    id: Id,
) -> Response {
    let id = try_response!(id_of(id));
    let view = view_of(&access);
    ask(&state, Request::Status { id: Some(id), view }).await
}

async fn program_logs(
    State(state): State<AppState>,
    socket: Option<axum::Extension<PeerSocket>>,
    id: Id,
    params: Params,
) -> Response {
    let id = try_response!(id_of(id));
    one_log(state, socket, Request::LogPaths { id }, params).await
}

/// The logs of one program or quick-start run: its paths from the loop, then read or followed.
async fn one_log(
    state: AppState,
    socket: Option<axum::Extension<PeerSocket>>,
    request: Request,
    params: Params,
) -> Response {
    let params = try_response!(params_of(params));
    let paths = state.handle.ask(request).await;
    logs::respond(
        paths,
        &params,
        &state.followers,
        socket.map(|found| found.0),
    )
    .await
}

/// `GET /logs`: every program's logs merged; `programs=a,b` keeps those (ids or names).
async fn all_logs(
    State(state): State<AppState>,
    socket: Option<axum::Extension<PeerSocket>>,
    params: Params,
) -> Response {
    let params = try_response!(params_of(params));
    let ids: Vec<String> = params
        .get("programs")
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|id| !id.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let paths = state.handle.ask(Request::AllLogPaths { ids }).await;
    logs::respond_all(
        paths,
        &params,
        &state.followers,
        socket.map(|found| found.0),
    )
    .await
}

async fn quick_logs(
    State(state): State<AppState>,
    socket: Option<axum::Extension<PeerSocket>>,
    id: Id,
    params: Params,
) -> Response {
    let id = try_response!(id_of(id));
    one_log(state, socket, Request::QuickLogPaths { id }, params).await
}

async fn quick_list(State(state): State<AppState>) -> Response {
    ask(&state, Request::QuickList).await
}

async fn quick_launch(
    State(state): State<AppState>,
    Extension(access): Extension<Access>,
    body: Body,
) -> Response {
    let fields = try_response!(json_object(body, true).await);
    let request = Request::QuickStart { fields };
    ask_creating(&state, &access, request, |id| {
        format!("{BASE}/quick-start/{id}/status")
    })
    .await
}

async fn quick_status(State(state): State<AppState>, id: Id) -> Response {
    let id = try_response!(id_of(id));
    ask(&state, Request::QuickStatus { id }).await
}

async fn quick_stop(State(state): State<AppState>, id: Id, params: Params) -> Response {
    let id = try_response!(id_of(id));
    let params = try_response!(params_of(params));
    let wait = try_response!(flag(&params, "wait", true));
    ask(&state, Request::QuickStop { id, wait }).await
}

/// `GET /metrics` (both paths): the loop writes the text; sent with the format's type.
async fn metrics(State(state): State<AppState>) -> Response {
    match state.handle.ask(Request::Metrics).await {
        Ok(Answer {
            data: Data::Text(text),
            ..
        }) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
            text,
        )
            .into_response(),
        Ok(answer) => answer_response(answer),
        Err(failure) => failure_response(failure),
    }
}

/// What an event stream has still to send before the live events.
struct EventStream {
    /// Missed events (or a reset), sent first.
    replay: std::collections::VecDeque<SseEvent>,
    /// Live events up to this id were in the replay: not sent twice.
    sent_through: u64,
    receiver: tokio::sync::broadcast::Receiver<Arc<crate::daemon::Published>>,
}

fn sse_of(published: &crate::daemon::Published) -> SseEvent {
    let data = serde_json::to_string(&published.event).unwrap_or_default();
    SseEvent::default()
        .event(published.kind())
        .id(published.id.to_string())
        .data(data)
}

/// `GET /events`: every event with its `id:`. A client that reconnects with `Last-Event-ID`
/// (an `EventSource` does it by itself) or `?last_event_id=` first gets the events it missed
/// from the daemon's ring, or `event: reset` when the ring no longer has them; then the live
/// ones. The stream subscribes before it asks for the missed ones, so nothing falls between.
async fn events(State(state): State<AppState>, headers: HeaderMap, params: Params) -> Response {
    let params = try_response!(params_of(params));
    let receiver = state.handle.subscribe();
    let last_event_id = headers
        .get("last-event-id")
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .or_else(|| params.get("last_event_id").cloned());
    let mut replay = std::collections::VecDeque::new();
    let mut sent_through = 0;
    if let Some(last_event_id) = last_event_id {
        let answer = state
            .handle
            .ask(Request::EventsSince {
                last_event_id: last_event_id.clone(),
            })
            .await;
        match answer {
            Ok(Answer {
                data: Data::Events(crate::daemon::Since::Missed(missed)),
                ..
            }) => {
                sent_through = missed
                    .last()
                    .map(|published| published.id)
                    .or_else(|| last_event_id.trim().parse().ok())
                    .unwrap_or(0);
                replay.extend(missed.iter().map(|published| sse_of(published)));
            }
            Ok(Answer {
                data: Data::Events(crate::daemon::Since::Reset { latest }),
                ..
            }) => {
                // The id moves on to the latest: a client that reconnects after re-reading
                // the state resumes from there.
                let data = json!({
                    "type": "reset",
                    "last_event_id": last_event_id,
                    "reason": "the events after this id are no longer kept (or the id is not one of this daemon's run): read the state again",
                })
                .to_string();
                replay.push_back(
                    SseEvent::default()
                        .event("reset")
                        .id(latest.to_string())
                        .data(data),
                );
                sent_through = latest;
            }
            Ok(answer) => return answer_response(answer),
            Err(failure) => return failure_response(failure),
        }
    }
    let stream = EventStream {
        replay,
        sent_through,
        receiver,
    };
    let stream = futures_util::stream::unfold(stream, |mut stream| async move {
        if let Some(event) = stream.replay.pop_front() {
            return Some((Ok::<_, Infallible>(event), stream));
        }
        loop {
            let event = match stream.receiver.recv().await {
                Ok(published) if published.id <= stream.sent_through => continue,
                Ok(published) => sse_of(&published),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                    // A slow reader missed events: say so, so it can re-read the state (or
                    // reconnect with the last id it has, while the ring still holds the rest).
                    let data = json!({ "type": "lagged", "missed": missed }).to_string();
                    SseEvent::default().event("lagged").data(data)
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), stream));
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

// ---- serving -----------------------------------------------------------------------------

/// A bound listener, so a bad address fails before the daemon starts anything.
pub enum Listener {
    Tcp(tokio::net::TcpListener),
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Listener {
    /// Binds. A unix socket is created with mode 0600; an existing socket file is replaced only
    /// when nothing answers on it (a stale one): a live daemon there is an error naming its pid
    /// ([`unix_socket_holder`]), and its socket is left alone.
    ///
    /// The socket is moved to a high descriptor number ([`crate::supervisor::keep_high`]), so
    /// no child of the daemon ever holds a copy: one between clone and exec when the daemon is
    /// killed with SIGKILL would keep the port bound, and the next start could not listen.
    pub async fn bind(listen: &Listen) -> io::Result<Listener> {
        match listen {
            Listen::Tcp(address) => {
                let listener = std::net::TcpListener::bind(address)?;
                let listener = std::net::TcpListener::from(crate::supervisor::keep_high(
                    std::os::fd::OwnedFd::from(listener),
                ));
                listener.set_nonblocking(true)?;
                Ok(Listener::Tcp(tokio::net::TcpListener::from_std(listener)?))
            }
            Listen::Unix(path) => {
                // Two daemons starting at once must not both find the socket stale and unlink
                // each other's: the check and the bind are done holding a lock on the folder.
                let _folder = lock_socket_folder(path)?;
                if let Ok(metadata) = std::fs::symlink_metadata(path) {
                    use std::os::unix::fs::FileTypeExt;
                    if metadata.file_type().is_socket() {
                        if let Some(holder) = unix_socket_holder(path) {
                            return Err(io::Error::new(io::ErrorKind::AddrInUse, holder));
                        }
                        std::fs::remove_file(path)?;
                    }
                }
                let previous =
                    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
                let bound = std::os::unix::net::UnixListener::bind(path);
                nix::sys::stat::umask(previous);
                let listener = std::os::unix::net::UnixListener::from(
                    crate::supervisor::keep_high(std::os::fd::OwnedFd::from(bound?)),
                );
                listener.set_nonblocking(true)?;
                Ok(Listener::Unix(
                    tokio::net::UnixListener::from_std(listener)?,
                    path.clone(),
                ))
            }
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Listener::Tcp(listener) => listener.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }
}

/// Serves the API on a thread of its own, with its own single-threaded runtime, for the life of
/// the process. The daemon's loop can be busy for a long while (each spawn waits for its child
/// to exec; a crash storm restarts dozens of programs per event), and the API must keep
/// accepting and answering meanwhile: `/health` at once, requests for the loop as soon as it
/// takes them. Handlers reach the loop only through the [`Handle`]'s channels, which work
/// across runtimes.
pub fn serve_on_thread(
    listener: Listener,
    router: Router,
    lookup_tcp_peers: bool,
) -> io::Result<()> {
    // Take the socket off this runtime's reactor; it is registered again on the API's.
    let listener = match listener {
        Listener::Tcp(tcp) => StdListener::Tcp(tcp.into_std()?),
        Listener::Unix(unix, path) => StdListener::Unix(unix.into_std()?, path),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Log reads are the only blocking work (`logs.rs`): two at a time is plenty, and 400
        // followers arriving at once must not make 400 threads (their stacks and malloc
        // arenas stayed resident: about 40 KiB per follower).
        .max_blocking_threads(2)
        .build()?;
    std::thread::Builder::new()
        .name("api".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match listener {
                    StdListener::Tcp(tcp) => {
                        tokio::net::TcpListener::from_std(tcp).map(Listener::Tcp)
                    }
                    StdListener::Unix(unix, path) => tokio::net::UnixListener::from_std(unix)
                        .map(|unix| Listener::Unix(unix, path)),
                };
                match listener {
                    Ok(listener) => serve(listener, router, lookup_tcp_peers).await,
                    Err(error) => tracing::error!(%error, "cannot serve the API"),
                }
            });
        })?;
    Ok(())
}

/// Who answers on a unix socket: `None` when nothing does (a stale socket file, safe to
/// replace), else a message naming the process that holds it (its pid from `SO_PEERCRED`).
fn unix_socket_holder(path: &std::path::Path) -> Option<String> {
    let stream = std::os::unix::net::UnixStream::connect(path).ok()?;
    let holder = nix::sys::socket::getsockopt(&stream, nix::sys::socket::sockopt::PeerCredentials)
        .map(|credentials| format!("pid {}", credentials.pid()))
        .unwrap_or_else(|_| "a process".to_string());
    Some(format!(
        "another daemon ({holder}) is listening on unix:{}; its socket is left alone",
        path.display()
    ))
}

/// An exclusive lock on the folder of a unix socket, held while a stale socket is replaced. Only
/// daemons take it, each for the moment of its bind; a folder that cannot be opened is not an
/// error here (the bind will say what is wrong).
fn lock_socket_folder(
    path: &std::path::Path,
) -> io::Result<Option<nix::fcntl::Flock<std::fs::File>>> {
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    let Ok(mut file) = std::fs::File::open(folder) else {
        return Ok(None);
    };
    let give_up = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
            Ok(lock) => return Ok(Some(lock)),
            Err((_, errno)) if errno != nix::errno::Errno::EWOULDBLOCK => {
                return Err(io::Error::from(errno));
            }
            Err((returned, _)) if std::time::Instant::now() < give_up => {
                file = returned;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::WouldBlock,
                    format!("the folder {} stayed locked for 5 s", folder.display()),
                ));
            }
        }
    }
}

enum StdListener {
    Tcp(std::net::TcpListener),
    Unix(std::os::unix::net::UnixListener, PathBuf),
}

/// Who is at the other end of a connection, looked up once when it is accepted (`peer`).
/// `lookup_tcp`: whether the uid of a TCP peer is needed (no token configured); a unix
/// socket's peer credentials cost nothing and are always taken.
fn peer_of(connection: &Connection, peer: Option<SocketAddr>, lookup_tcp: bool) -> Peer {
    match connection {
        Connection::Tcp(stream) => {
            let local = stream.local_addr().ok();
            let uid = match (lookup_tcp, peer, local) {
                (true, Some(peer), Some(local)) => peer::tcp_peer_uid(peer, local),
                _ => None,
            };
            Peer {
                transport: match local {
                    Some(local) => Transport::Tcp { local },
                    // No local address: nothing matches it, the Host rule still applies.
                    None => Transport::Tcp {
                        local: SocketAddr::from(([0, 0, 0, 0], 0)),
                    },
                },
                uid,
            }
        }
        Connection::Unix(stream) => Peer {
            transport: Transport::Unix,
            uid: stream.peer_cred().ok().map(|credentials| credentials.uid()),
        },
    }
}

/// Serves HTTP/1 on the listener until the future returns. Each connection has a header read
/// timeout, so a slow client cannot hold a connection open without sending a request. Every
/// request of a connection carries its [`Peer`] (looked up once, at accept) in its extensions.
pub async fn serve(listener: Listener, router: Router, lookup_tcp_peers: bool) {
    loop {
        let accepted = match &listener {
            Listener::Tcp(tcp) => tcp
                .accept()
                .await
                .map(|(stream, peer)| (Connection::Tcp(stream), Some(peer))),
            Listener::Unix(unix, _) => unix
                .accept()
                .await
                .map(|(stream, _)| (Connection::Unix(stream), None)),
        };
        match accepted {
            Ok((connection, peer)) => {
                let peer = peer_of(&connection, peer, lookup_tcp_peers);
                let socket = PeerSocket(match &connection {
                    Connection::Tcp(stream) => stream.as_raw_fd(),
                    Connection::Unix(stream) => stream.as_raw_fd(),
                });
                let router = router.clone();
                let service = hyper::service::service_fn(
                    move |mut request: hyper::Request<hyper::body::Incoming>| {
                        request.extensions_mut().insert(peer.clone());
                        request.extensions_mut().insert(socket);
                        // A Router is always ready: no poll_ready needed before call.
                        tower_service::Service::call(&mut router.clone(), request)
                    },
                );
                tokio::spawn(async move {
                    let builder = {
                        let mut builder = hyper::server::conn::http1::Builder::new();
                        builder
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(READ_TIMEOUT)
                            // The head of a request (line and headers), checked as it arrives;
                            // max_buf_size alone let a 100 KiB header through.
                            .max_header_size(MAX_HEAD)
                            .max_buf_size(64 * 1024);
                        builder
                    };
                    let result = match connection {
                        Connection::Tcp(stream) => {
                            builder
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await
                        }
                        Connection::Unix(stream) => {
                            builder
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await
                        }
                    };
                    if let Err(error) = result {
                        tracing::debug!(%error, "connection ended with an error");
                    }
                });
            }
            Err(error) => {
                // Out of file descriptors, most likely: back off instead of spinning.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

enum Connection {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

/// The socket a request came on, in its extensions: a long response whose body has nothing
/// to send for a while (`/logtail` of a quiet log) asks it whether the client is still there.
/// hyper notices a client that left only when it writes, or reads, and it does not read while a
/// response is being sent if the client sent a byte more than its request (supervisorctl sends
/// a stray CRLF after its `GET`).
#[derive(Debug, Clone, Copy)]
pub struct PeerSocket(RawFd);

impl PeerSocket {
    /// The descriptor, under the same validity as [`PeerSocket::is_closed`].
    pub fn raw_fd(&self) -> RawFd {
        self.0
    }

    /// The client closed its end (orderly or by reset). Valid only while the request's response
    /// is being sent: the connection that owns the socket is what polls the response's body.
    pub fn is_closed(&self) -> bool {
        let mut byte = 0u8;
        // SAFETY: the descriptor is the connection's socket, open for as long as the request's
        // response is being sent (see above); `recv` writes at most one byte into `byte`, and
        // MSG_PEEK | MSG_DONTWAIT neither consume data nor block.
        let read = unsafe {
            libc::recv(
                self.0,
                std::ptr::addr_of_mut!(byte).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match read {
            0 => true,
            1.. => false,
            _ => !matches!(
                io::Error::last_os_error().raw_os_error(),
                Some(libc::EAGAIN | libc::EINTR)
            ),
        }
    }
}

/// The methods each documented route takes, for the OpenAPI test.
pub fn documented_methods() -> Vec<(Method, String)> {
    openapi::routes()
        .iter()
        .map(|route| (route.method.clone(), format!("{BASE}{}", route.path)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_carries_the_token_only_on_the_bridge() {
        let headers = |value: &str| {
            let mut map = HeaderMap::new();
            map.insert(
                header::AUTHORIZATION,
                HeaderValue::from_str(value).expect("header"),
            );
            map
        };
        let basic = |credentials: &str| {
            headers(&format!(
                "Basic {}",
                crate::xmlrpc::base64_encode(credentials.as_bytes())
            ))
        };
        let table = [
            (headers("Bearer abc"), false, Some("abc")),
            (headers("bearer  abc "), true, Some("abc")),
            (basic("any:abc"), true, Some("abc")),
            (basic(":abc"), true, Some("abc")),
            (basic("user:with:colons"), true, Some("with:colons")),
            // Basic is read on /RPC2 and /logtail only.
            (basic("any:abc"), false, None),
            (basic("no-colon"), true, None),
            (headers("Basic !!!"), true, None),
            (headers("Digest abc"), true, None),
        ];
        for (headers, bridge, expected) in table {
            assert_eq!(
                access::offered_token(&headers, bridge).as_deref(),
                expected,
                "{headers:?} on the bridge: {bridge}"
            );
        }
        assert!(rpc::is_bridge_path("/RPC2"));
        assert!(rpc::is_bridge_path("/logtail/web/stderr"));
        assert!(!rpc::is_bridge_path("/RPC2/x"));
        assert!(!rpc::is_bridge_path("/api/v1/daemon/status"));
    }
}
