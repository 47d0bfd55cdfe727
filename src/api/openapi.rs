//! The OpenAPI 3.1 document of the API, built from one table of routes ([`routes`]): each
//! route states its method and path, its camelCase `operationId`, its role, its query, its body,
//! the schema of the `data` it answers and the statuses it sends. The schemas themselves live
//! in [`super::schemas`]. Adding a route is one entry here (and, for a new kind of answer, one
//! schema there).
//!
//! Three checks keep the document true: a test sends a request to every route of the table and
//! checks the router answers it; `tests/it/openapi.rs` validates real answers of a real daemon
//! (every route, its errors, the event stream) against the document's schemas, strictly (a
//! field the daemon sends that the schema does not name fails it); and schemathesis
//! (`scripts/schemathesis`) fuzzes the daemon against the document.

use axum::http::Method;
use serde_json::{Map, Value, json};

use super::schemas;

/// Who may call a route (SPEC §10). Every route of the table states its role; the route table
/// is where the API's access rules are read from (`access::RouteRoles`), so a route cannot be
/// added without one. Each role covers the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Needs no token (`/health`, `/whoami`).
    Public,
    /// Reads: statuses, the list and programs (environment values redacted, no file text),
    /// the history (no diffs), events, quick-start statuses.
    Read,
    /// Read, logs, start, stop, restart (of programs and quick-starts), signal. Sees what
    /// `read` sees of secrets.
    Operate,
    /// Everything: writes to programs.d and quick-start (which runs any command); the only
    /// role that sees file text, environment values, diffs and ETags.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Public, Role::Read, Role::Operate, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }
}

/// How a route sends its successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// The envelope, `application/json`, with `data` of the route's schema.
    Envelope,
    /// The envelope, or with `follow=true` a `text/event-stream` (logs).
    EnvelopeOrStream,
    /// Only a `text/event-stream` (`/events`).
    Stream,
    /// A JSON document that is not the envelope (`/openapi.json`).
    Document,
    /// Plain text that is not JSON: the Prometheus text format (`/metrics`).
    Text,
    /// Not JSON (the dashboard's files, the supervisord bridge): outside the document.
    Other,
}

/// One documented route. Build one with [`RouteDoc::get`] or [`RouteDoc::post`] and the
/// methods that follow them.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    pub method: Method,
    /// Under the base path, with `{id}` for the program id or name.
    pub path: &'static str,
    /// The camelCase `operationId` (what generated clients name the call).
    pub operation: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, type, description); the schema of each is [`query_schema`].
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// The request body's schema (a component name), if it takes one.
    pub body: Option<&'static str>,
    /// The schema of the `data` of its successful answers (a component name).
    pub data: &'static str,
    /// How the successful answer is sent.
    pub sent: Sent,
    /// The statuses it answers besides the ones every route of its kind may send (those are
    /// added by [`statuses`]: 401/403 by the access checks, 400 for ids, queries and bodies,
    /// 408/413/415 for bodies, 503 for routes the daemon's loop answers).
    pub answers: &'static [u16],
    /// The least role that may call it.
    pub role: Role,
    /// Answered by the API thread alone (no 503 while the daemon shuts down).
    pub local: bool,
    /// It honours `If-Match` (edits): 412 when it does not match.
    pub if_match: bool,
    /// Its answer carries the program file's `ETag` (to admin).
    pub etag: bool,
}

impl RouteDoc {
    fn new(method: Method, path: &'static str, operation: &'static str) -> RouteDoc {
        RouteDoc {
            method,
            path,
            operation,
            summary: "",
            query: &[],
            body: None,
            data: "",
            sent: Sent::Envelope,
            answers: &[200],
            role: Role::Read,
            local: false,
            if_match: false,
            etag: false,
        }
    }

    pub fn get(path: &'static str, operation: &'static str) -> RouteDoc {
        RouteDoc::new(Method::GET, path, operation)
    }

    pub fn post(path: &'static str, operation: &'static str) -> RouteDoc {
        RouteDoc::new(Method::POST, path, operation)
    }

    pub fn summary(mut self, summary: &'static str) -> RouteDoc {
        self.summary = summary;
        self
    }

    pub fn role(mut self, role: Role) -> RouteDoc {
        self.role = role;
        self
    }

    /// The component schema of the answer's `data`.
    pub fn data(mut self, data: &'static str) -> RouteDoc {
        self.data = data;
        self
    }

    pub fn query(
        mut self,
        query: &'static [(&'static str, &'static str, &'static str)],
    ) -> RouteDoc {
        self.query = query;
        self
    }

    pub fn body(mut self, body: &'static str) -> RouteDoc {
        self.body = Some(body);
        self
    }

    pub fn answers(mut self, answers: &'static [u16]) -> RouteDoc {
        self.answers = answers;
        self
    }

    pub fn sent(mut self, sent: Sent) -> RouteDoc {
        self.sent = sent;
        self
    }

    pub fn local(mut self) -> RouteDoc {
        self.local = true;
        self
    }

    pub fn if_match(mut self) -> RouteDoc {
        self.if_match = true;
        self.etag = true;
        self
    }

    pub fn etag(mut self) -> RouteDoc {
        self.etag = true;
        self
    }

    fn has_id(&self) -> bool {
        self.path.contains("{id}")
    }
}

/// The query of both log routes (programs and quick-start programs).
const LOGS_QUERY: &[(&str, &str, &str)] = &[
    (
        "stream",
        "string",
        "stdout, stderr, both (each as one string; the default) or all (data.lines, both streams in time order)",
    ),
    ("lines", "integer", "how many lines (default 100)"),
    (
        "follow",
        "boolean",
        "stream the last lines, then every new one, as server-sent events (`event: stdout` or `stderr`, `data:` the line as stored; with stream=all `event: line`, `data:` a LogLine as JSON)",
    ),
];

/// The query of the merged logs of every program.
const ALL_LOGS_QUERY: &[(&str, &str, &str)] = &[
    (
        "programs",
        "string",
        "ids or names, comma-separated (default: every program)",
    ),
    ("lines", "integer", "how many lines in all (default 100)"),
    (
        "follow",
        "boolean",
        "stream the last lines, then every new one, as server-sent events (`event: line`, `data:` a LogLine as JSON)",
    ),
];

/// The query of the event stream.
const EVENTS_QUERY: &[(&str, &str, &str)] = &[(
    "last_event_id",
    "string",
    "resume after this event id (the Last-Event-ID header does the same)",
)];

const WAIT: (&str, &str, &str) = (
    "wait",
    "boolean",
    "answer once the program is RUNNING/stopped or has failed, with its status (default true)",
);

/// The routes of the JSON API, under [`super::BASE`].
pub fn routes() -> Vec<RouteDoc> {
    vec![
        RouteDoc::get("/health", "getHealth")
            .summary("Liveness; needs no token")
            .data("Health")
            .role(Role::Public)
            .local(),
        RouteDoc::get("/whoami", "getWhoami")
            .summary("The role the credentials of this request give: {role, token, auth}; never a secret")
            .data("Whoami")
            .role(Role::Public)
            .local(),
        RouteDoc::get("/ready", "getReady")
            .summary("Readiness: 200 when every program that should run is ready, 503 otherwise (error.details.not_ready names the programs that are not, only to a caller with a role); needs no token")
            .data("Ready")
            .role(Role::Public),
        RouteDoc::get("/openapi.json", "getOpenApi")
            .summary("This document")
            .sent(Sent::Document)
            .local(),
        RouteDoc::get("/programs", "listPrograms")
            .summary("List all programs with their fields, status and config_error (read, operate: environment values \"<redacted>\", no text)")
            .data("ProgramList"),
        RouteDoc::post("/programs/add", "addProgram")
            .summary("Create a program: writes programs.d/NAME.toml (or .yaml); answers 201 with a Location")
            .query(&[("format", "string", "toml (default) or yaml")])
            .body("NewProgram")
            .data("Written")
            .answers(&[201, 409, 500, 507])
            .role(Role::Admin)
            .etag(),
        RouteDoc::get("/programs/add", "getProgramNamedAdd")
            .summary("The program named \"add\" (GET /programs/{id} for a name that is also a route)")
            .data("ProgramOne")
            .answers(&[200, 304, 404])
            .etag(),
        RouteDoc::post("/programs/edit/{id}", "editProgram")
            .summary("Change fields: a JSON merge patch (RFC 7396) of the program's fields, all the way down: a field given is set, null resets a field to its default, an object (environment) merges per key and null removes a key; renaming is refused; honours If-Match")
            .body("ProgramFields")
            .data("Written")
            .answers(&[200, 404, 409, 500, 507])
            .role(Role::Admin)
            .if_match(),
        RouteDoc::post("/programs/put", "putProgram")
            .summary("Create or replace a program's whole file from its text (comments kept); validated like a file; honours If-Match; 201 with a Location when it creates")
            .body("ProgramFile")
            .data("Written")
            .answers(&[200, 201, 404, 409, 500, 507])
            .role(Role::Admin)
            .if_match(),
        RouteDoc::get("/programs/put", "getProgramNamedPut")
            .summary("The program named \"put\" (GET /programs/{id} for a name that is also a route)")
            .data("ProgramOne")
            .answers(&[200, 304, 404])
            .etag(),
        RouteDoc::post("/programs/remove/{id}", "removeProgram")
            .summary("Delete the program's file and stop its process")
            .query(&[WAIT])
            .data("Removed")
            .answers(&[200, 404, 409, 500])
            .role(Role::Admin),
        RouteDoc::get("/programs/{id}", "getProgram")
            .summary("One program; answers an ETag (admin), and 304 to an If-None-Match that matches it; read, operate: environment values \"<redacted>\", no text, no ETag")
            .data("ProgramOne")
            .answers(&[200, 304, 404])
            .etag(),
        RouteDoc::post("/programs/{id}/enable", "enableProgram")
            .summary("Set enabled = true in the file (never starts it); when it already is, nothing is written (changed false)")
            .query(&[WAIT])
            .data("Toggled")
            .answers(&[200, 404, 409, 500, 507])
            .role(Role::Admin),
        RouteDoc::post("/programs/{id}/disable", "disableProgram")
            .summary("Set enabled = false in the file and stop it; when it already is, nothing is written (changed false)")
            .query(&[WAIT])
            .data("Toggled")
            .answers(&[200, 404, 409, 500, 507])
            .role(Role::Admin),
        RouteDoc::post("/programs/{id}/start", "startProgram")
            .summary("Start the process (409 if not enabled; 422 start_failed if it ends without running, the status in error.details.status)")
            .query(&[WAIT])
            .data("Controlled")
            .answers(&[200, 404, 409, 422, 500, 507])
            .role(Role::Operate),
        RouteDoc::post("/programs/{id}/stop", "stopProgram")
            .summary("Stop the process")
            .query(&[WAIT])
            .data("Controlled")
            .answers(&[200, 404, 409, 500, 507])
            .role(Role::Operate),
        RouteDoc::post("/programs/{id}/restart", "restartProgram")
            .summary("Stop then start the process (422 start_failed if it ends without running)")
            .query(&[WAIT])
            .data("Controlled")
            .answers(&[200, 404, 409, 422, 500, 507])
            .role(Role::Operate),
        RouteDoc::post("/programs/{id}/signal", "signalProgram")
            .summary("Send a signal to the program's main process ({\"signal\": \"HUP\"}: a name with or without SIG, or a number); answers the pid and the signal sent; 409 not_running when it has no process")
            .body("SignalRequest")
            .data("Signalled")
            .answers(&[200, 404, 409, 500])
            .role(Role::Operate),
        RouteDoc::get("/programs/{id}/logs", "getProgramLogs")
            .summary("Last lines of stdout and stderr; follow=true streams server-sent events")
            .query(LOGS_QUERY)
            .data("Logs")
            .sent(Sent::EnvelopeOrStream)
            .answers(&[200, 404, 409, 500])
            .role(Role::Operate),
        RouteDoc::get("/programs/{id}/history", "getProgramHistory")
            .summary("The audit trail: every change of the file, who made it (by), with its unified diff (admin only; read and operate get no diff)")
            .data("History")
            .answers(&[200, 404]),
        RouteDoc::get("/status", "listStatus")
            .summary("Status of every program (read: last_stderr is null; it is log content)")
            .data("StatusList"),
        RouteDoc::get("/status/{id}", "getStatus")
            .summary("Status of one program (read: last_stderr is null; it is log content)")
            .data("StatusOne")
            .answers(&[200, 404]),
        RouteDoc::get("/logs", "getLogs")
            .summary("The last lines of every program (or those named), merged in time order: data.lines [{program, stream, line, time}]; follow=true streams server-sent events")
            .query(ALL_LOGS_QUERY)
            .data("MergedLogs")
            .sent(Sent::EnvelopeOrStream)
            .answers(&[200, 404, 409, 500])
            .role(Role::Operate),
        RouteDoc::get("/metrics", "getMetrics")
            .summary("Prometheus text format 0.0.4 (text/plain): every program's up, state, ready, restarts, start time, exit code, CPU seconds, memory and processes, the programs per state and the daemon's process_* figures; with serve --metrics-compat supervisord also supervisord_exporter's names. Read when scraped, never on a timer; also served at /metrics")
            .sent(Sent::Text),
        RouteDoc::get("/events", "getEvents")
            .summary("Server-sent events of every config, state and health change, each with an `id:`: `event:` config, state, health, lagged or reset; `data:` the event as JSON (the Event schema). A reconnect with Last-Event-ID (or ?last_event_id=) first gets the events it missed, or `event: reset` when they are no longer kept")
            .query(EVENTS_QUERY)
            .data("Event")
            .sent(Sent::Stream)
            .local(),
        RouteDoc::get("/quick-start", "listQuickStarts")
            .summary("List quick-start (ephemeral) programs")
            .data("QuickStartList"),
        RouteDoc::post("/quick-start", "launchQuickStart")
            .summary("Run a one-off command, never written to programs.d; answers 201 with a Location")
            .body("QuickStart")
            .data("QuickStartLaunched")
            .answers(&[201, 500])
            .role(Role::Admin),
        RouteDoc::get("/quick-start/{id}/status", "getQuickStartStatus")
            .summary("Status of a quick-start program, with exit_code once it ended")
            .data("QuickStartOne")
            .answers(&[200, 404]),
        RouteDoc::post("/quick-start/{id}/stop", "stopQuickStart")
            .summary("Stop a quick-start program")
            .query(&[WAIT])
            .data("QuickStartStopped")
            .answers(&[200, 404])
            .role(Role::Operate),
        RouteDoc::get("/quick-start/{id}/logs", "getQuickStartLogs")
            .summary("Output of a quick-start program; follow=true streams server-sent events")
            .query(LOGS_QUERY)
            .data("Logs")
            .sent(Sent::EnvelopeOrStream)
            .answers(&[200, 404, 500])
            .role(Role::Operate),
    ]
}

/// Routes outside the base path, with their full path: the web dashboard (SPEC §15), its page
/// and its files, and the supervisord bridge. They answer HTML, CSS, JavaScript, XML and plain
/// text, not the envelope, so the OpenAPI document (which describes the JSON API) leaves them
/// out; their role is read like any other route's. The dashboard's are Public: they hold no
/// data (what the page shows it asks the API for, with the token the user gives it).
pub fn root_routes() -> Vec<RouteDoc> {
    vec![
        RouteDoc::get("/", "dashboard")
            .summary("The web dashboard (an HTML page; it reads the API with the user's token)")
            .sent(Sent::Other)
            .answers(&[200, 304])
            .role(Role::Public),
        RouteDoc::get("/dashboard/{file}", "dashboardFile")
            .summary("A file of the dashboard: its scripts, style sheet and icon")
            .sent(Sent::Other)
            .answers(&[200, 304, 404])
            .role(Role::Public),
        RouteDoc::get("/metrics", "rootMetrics")
            .summary("The same as /api/v1/daemon/metrics, where Prometheus looks by default (role read: a scrape config gives a read token as its bearer credentials)")
            .sent(Sent::Other),
        RouteDoc::post("/RPC2", "rpc2")
            .summary("supervisord's XML-RPC interface (supervisorctl, Ansible, exporters): a text/xml methodCall, answered by a methodResponse; each method needs its own role (read for get*, operate for start/stop/signal/logs/reloadConfig, admin for clearing logs). Basic auth with the token as password is accepted here")
            .sent(Sent::Other)
            .answers(&[200, 400, 403, 413, 415])
            .role(Role::Read),
        RouteDoc::get("/logtail/{id}", "logtail")
            .summary("Follow a program's stdout log as supervisord does for supervisorctl tail -f: the last 1 KiB, then every new byte (text/plain, chunked)")
            .sent(Sent::Other)
            .answers(&[200, 403, 404])
            .role(Role::Operate),
        RouteDoc::get("/logtail/{id}/stdout", "logtailStdout")
            .summary("Follow a program's stdout log (supervisorctl tail -f NAME)")
            .sent(Sent::Other)
            .answers(&[200, 403, 404])
            .role(Role::Operate),
        RouteDoc::get("/logtail/{id}/stderr", "logtailStderr")
            .summary("Follow a program's stderr log (supervisorctl tail -f NAME stderr)")
            .sent(Sent::Other)
            .answers(&[200, 403, 404])
            .role(Role::Operate),
    ]
}

/// Every status a route may answer, in order: its own ([`RouteDoc::answers`]) and the ones
/// every route of its kind may send.
pub fn statuses(route: &RouteDoc) -> Vec<u16> {
    let mut codes: Vec<u16> = route.answers.to_vec();
    // The access checks: a foreign Host or Origin (403) on every route; no or a wrong token,
    // or a role that does not cover it (401, 403), on every route but the public ones.
    codes.push(403);
    if route.role != Role::Public {
        codes.push(401);
    }
    if route.has_id() || !route.query.is_empty() || route.body.is_some() || route.if_match {
        codes.push(400);
    }
    if route.body.is_some() {
        codes.extend([408, 413, 415]);
    }
    if route.if_match {
        codes.push(412);
    }
    if !route.local {
        codes.push(503);
    }
    codes.sort_unstable();
    codes.dedup();
    codes
}

/// What a status means, for its response's description.
fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created; Location names the new program (or quick-start run)",
        304 => "Not modified: the If-None-Match names the program's current ETag",
        400 => "Invalid input; error.details names the field",
        401 => {
            "No or wrong bearer token; without tokens, a peer that is neither the daemon's user nor root"
        }
        403 => {
            "forbidden_host (Host not allowed), forbidden_origin (foreign Origin), or forbidden (the role does not cover the route)"
        }
        404 => "Unknown program (or quick-start run)",
        405 => "The path does not take this method",
        408 => "The request body took too long to arrive",
        409 => {
            "Conflict: not enabled, name taken, file not writable or unreadable, no valid version"
        }
        412 => "If-Match does not match the ETag",
        413 => "Body over 1 MiB",
        415 => "unsupported_media_type: a body that is not application/json",
        422 => {
            "start_failed: the program did not start (FATAL, or a dependency that can no longer come up); error.details.status is its status, with last_error and last_stderr"
        }
        500 => "The daemon could not do it (a disk error); error.message says why",
        503 => {
            "Not now: not ready (/ready: error.details.not_ready names the programs, to a caller with a role), processes the last run left still being stopped (a start: recovering, with Retry-After), or shutting down"
        }
        507 => {
            "insufficient_storage: a file the write needs (the program's file, ids, intents) cannot be saved: disk full; nothing changed"
        }
        _ => "",
    }
}

/// A program name (and so any `{id}`: a number matches it too), SPEC §2.
pub const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

/// The schema of a query parameter: the values the handlers accept, exactly.
fn query_schema(name: &str, kind: &str) -> Value {
    match name {
        "format" => json!({ "type": "string", "enum": ["toml", "yaml", "yml"] }),
        "stream" => json!({ "type": "string", "enum": ["stdout", "stderr", "both", "all"] }),
        "lines" => json!({ "type": "integer", "minimum": 0, "maximum": 100000 }),
        _ => json!({ "type": kind }),
    }
}

/// The `{id}` of a route: a number (what `add` answers as `data.id`) or a name. Generated
/// clients take `number | string`.
fn id_parameter(path: &str) -> Value {
    if path.starts_with("/quick-start/{id}") {
        json!({
            "name": "id", "in": "path", "required": true,
            "description": "The quick-start run's number (data.id of the launch), or its name (quick-start-N)",
            "schema": { "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^(quick-start-)?[0-9]{1,19}$" }
            ] }
        })
    } else {
        json!({
            "name": "id", "in": "path", "required": true,
            "description": "The program's numeric id (data.id of add), or its name",
            "schema": { "oneOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": NAME_PATTERN }
            ] }
        })
    }
}

/// The successful answer of a route, as a response object.
fn success(route: &RouteDoc, code: u16) -> Value {
    let envelope = || schemas::envelope(code, route.data);
    let content = match route.sent {
        Sent::Envelope => json!({ "application/json": { "schema": envelope() } }),
        Sent::EnvelopeOrStream => json!({
            "application/json": { "schema": envelope() },
            "text/event-stream": {
                "schema": { "type": "string" },
                "x-events": {
                    "stdout": "a line of stdout (the data is the line as stored)",
                    "stderr": "a line of stderr",
                    "line": "with stream=all, and from GET /logs: the data is a #/components/schemas/LogLine as JSON"
                }
            }
        }),
        Sent::Stream => json!({
            "text/event-stream": {
                "schema": { "type": "string", "description": format!("`event: TYPE` and `data:` one #/components/schemas/{} as JSON per event", route.data) },
                "x-event-schema": { "$ref": format!("#/components/schemas/{}", route.data) }
            }
        }),
        Sent::Document => json!({ "application/json": { "schema": { "type": "object" } } }),
        Sent::Text => json!({ "text/plain": {
            "schema": { "type": "string", "description": "Prometheus text exposition format 0.0.4 (Content-Type: text/plain; version=0.0.4; charset=utf-8); docs/METRICS.md lists the families" }
        } }),
        Sent::Other => json!({}),
    };
    let mut response = json!({ "description": reason(code), "content": content });
    if code == 201 {
        response["headers"] = json!({ "Location": {
            "description": "Where the new program (or quick-start run) is read",
            "schema": { "type": "string" }
        } });
    }
    if route.etag {
        response["headers"]["ETag"] = json!({
            "description": "The version of the program's file, for If-Match and If-None-Match (admin only)",
            "schema": { "type": "string" }
        });
    }
    response
}

/// The response object of a status: the route's answer, 304 without a body, or an error.
fn response(route: &RouteDoc, code: u16) -> Value {
    match code {
        200 | 201 => success(route, code),
        304 => json!({
            "description": reason(304),
            "headers": { "ETag": { "schema": { "type": "string" } } }
        }),
        _ => {
            json!({ "$ref": format!("#/components/responses/{}", schemas::error_response_name(code)) })
        }
    }
}

/// The reusable error responses: one per status, each with the `error.code`s it may carry.
fn error_responses() -> Map<String, Value> {
    schemas::ERROR_CODES
        .iter()
        .map(|(code, _)| {
            (
                schemas::error_response_name(*code).to_string(),
                json!({
                    "description": reason(*code),
                    "content": { "application/json": { "schema": {
                        "$ref": format!("#/components/schemas/{}", schemas::error_schema_name(*code))
                    } } }
                }),
            )
        })
        .collect()
}

fn operation(route: &RouteDoc, secured: bool) -> Value {
    let mut parameters = Vec::new();
    if route.has_id() {
        parameters.push(id_parameter(route.path));
    }
    for (name, kind, description) in route.query {
        parameters.push(json!({
            "name": name, "in": "query", "required": false,
            "description": description, "schema": query_schema(name, kind)
        }));
    }
    if route.if_match {
        parameters.push(json!({
            "name": "If-Match", "in": "header", "required": false,
            "description": "The ETag of GET /programs/{id}: the change is made only if the file is still that version (412 otherwise); * for any",
            "schema": { "type": "string" }
        }));
    }
    if route.answers.contains(&304) {
        parameters.push(json!({
            "name": "If-None-Match", "in": "header", "required": false,
            "description": "An ETag of the program: 304 without a body while it is still that version (admin; other roles get no ETag)",
            "schema": { "type": "string" }
        }));
    }
    let responses: Map<String, Value> = statuses(route)
        .into_iter()
        .map(|code| (code.to_string(), response(route, code)))
        .collect();
    let mut operation = json!({
        "summary": route.summary,
        "operationId": route.operation,
        "parameters": parameters,
        "responses": responses,
        "x-role": route.role.as_str(),
    });
    // Security as it is configured: with tokens, every route but the public ones needs one;
    // without, none does (the peer's uid decides, which no client states).
    if secured && route.role != Role::Public {
        operation["security"] = json!([{ "bearer": [] }]);
    }
    if let Some(body) = route.body {
        operation["requestBody"] = json!({
            "required": true,
            "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
        });
    }
    operation
}

/// The whole OpenAPI document. `secured`: the daemon has tokens (a bearer token is then
/// required on every route but the public ones, and the document says so).
pub fn document(secured: bool) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes() {
        let entry = paths
            .entry(format!("{}{}", super::BASE, route.path))
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method.as_str().to_lowercase()] = operation(&route, secured);
    }
    let mut components = json!({
        "schemas": schemas::components(),
        "responses": error_responses(),
    });
    if secured {
        components["securitySchemes"] = json!({ "bearer": {
            "type": "http", "scheme": "bearer",
            "description": "A token of serve --tokens-file (its role decides), or the admin token of --token-file / HOODY_DAEMON_TOKEN"
        } });
    }
    json!({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": "hoody-daemon",
            "version": env!("CARGO_PKG_VERSION"),
            "description": DESCRIPTION,
        },
        "paths": paths,
        "components": components,
    })
}

const DESCRIPTION: &str = "A universal process manager. Every response is {statusCode, message, data}; errors carry {statusCode, message, error: {code, details}}. The API runs commands as any user the daemon can switch to: treat access to it as root access. Who may do what (docs/SECURITY.md): each operation's x-role is the least role that may call it (public, read, operate, admin; each covers the ones before). With tokens (serve --tokens-file, --token-file, HOODY_DAEMON_TOKEN) the bearer token decides, and this document declares bearer security; without, only the daemon's own user and root are served (peer credentials), as admin, and no security is declared. read and operate see environment values as \"<redacted>\", no file text, no history diffs and no ETag; admin sees everything. A body must be application/json (415); a foreign Origin (403 forbidden_origin) or Host (403 forbidden_host) is refused; a method a path does not take is answered 405 method_not_allowed, an unknown path 404 no_route. Answers may gain fields in later versions: clients ignore the ones they do not know.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_states_a_role_and_the_dashboard_is_public() {
        let root = root_routes();
        // The dashboard's routes are public; the supervisord bridge's and /metrics are not.
        assert!(
            root.iter()
                .filter(|route| !super::super::rpc::is_bridge_path(route.path))
                .filter(|route| route.path != "/metrics")
                .all(|route| route.role == Role::Public)
        );
        assert!(
            root.iter()
                .any(|route| route.path == "/metrics" && route.role == Role::Read)
        );
        assert!(
            root.iter()
                .filter(|route| super::super::rpc::is_bridge_path(route.path))
                .all(|route| route.role >= Role::Read)
        );
        assert!(root.iter().any(|route| route.path == "/"));
        // The dashboard is not part of the JSON API's document.
        let document = document(true);
        let paths = document["paths"].as_object().expect("paths");
        assert!(
            paths
                .keys()
                .all(|path| path.starts_with(super::super::BASE))
        );
    }

    #[test]
    fn operation_ids_are_unique_camel_case_and_every_data_schema_exists() {
        let components = schemas::components();
        let mut seen = std::collections::BTreeSet::new();
        for route in routes() {
            assert!(seen.insert(route.operation), "{} twice", route.operation);
            let mut chars = route.operation.chars();
            assert!(chars.next().is_some_and(|c| c.is_ascii_lowercase()));
            assert!(
                chars.all(|c| c.is_ascii_alphanumeric()),
                "{}",
                route.operation
            );
            if matches!(
                route.sent,
                Sent::Envelope | Sent::EnvelopeOrStream | Sent::Stream
            ) {
                assert!(
                    components.get(route.data).is_some(),
                    "{} {}: no schema {:?}",
                    route.method,
                    route.path,
                    route.data
                );
            }
            if let Some(body) = route.body {
                assert!(components.get(body).is_some(), "no schema {body}");
            }
            for code in statuses(&route) {
                assert!(
                    code < 400 || schemas::ERROR_CODES.iter().any(|(known, _)| *known == code),
                    "{} {}: {code} has no error schema",
                    route.method,
                    route.path
                );
            }
        }
    }

    #[test]
    fn security_is_declared_only_with_tokens() {
        let open = document(false);
        let secured = document(true);
        assert!(open.get("security").is_none());
        assert!(open["components"].get("securitySchemes").is_none());
        assert!(secured["components"]["securitySchemes"]["bearer"].is_object());
        for (path, operations) in open["paths"].as_object().expect("paths") {
            for (method, operation) in operations.as_object().expect("operations") {
                assert!(operation.get("security").is_none(), "{method} {path}");
                let secured_operation = &secured["paths"][path][method];
                let public = operation["x-role"] == "public";
                assert_eq!(
                    secured_operation.get("security").is_none(),
                    public,
                    "{method} {path}"
                );
            }
        }
    }

    /// Every `$ref` of the document names something the document has.
    #[test]
    fn every_reference_resolves() {
        fn walk(value: &Value, document: &Value, seen: &mut usize) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        let pointer = target.trim_start_matches('#');
                        assert!(
                            document.pointer(pointer).is_some(),
                            "{target} does not resolve"
                        );
                        *seen += 1;
                    }
                    map.values().for_each(|value| walk(value, document, seen));
                }
                Value::Array(items) => items.iter().for_each(|value| walk(value, document, seen)),
                _ => {}
            }
        }
        let document = document(true);
        let mut seen = 0;
        walk(&document, &document, &mut seen);
        assert!(seen > 50, "{seen} references");
    }

    /// The committed copy in clients/typescript (what the TypeScript client's types are
    /// generated from) is this document. `UPDATE_OPENAPI=1 cargo test --lib openapi` writes it.
    #[test]
    fn the_typescript_clients_copy_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("clients/typescript/openapi.json");
        let mut text = serde_json::to_string_pretty(&document(true)).expect("json");
        text.push('\n');
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, &text).expect("write the copy");
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is not the daemon's document: run UPDATE_OPENAPI=1 cargo test --lib openapi, then npm run generate in clients/typescript",
            path.display()
        );
    }
}
