//! The OpenAPI 3 document of the API, built from one table of routes. A test sends a request
//! to every route of the table and checks the router answers it, so the document cannot drift
//! from the routes.

use axum::http::Method;
use serde_json::{Map, Value, json};

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
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Public => "public",
            Role::Read => "read",
            Role::Operate => "operate",
            Role::Admin => "admin",
        }
    }
}

/// One documented route.
pub struct RouteDoc {
    pub method: Method,
    /// Under the base path, with `{id}` for the program id or name.
    pub path: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, type, description).
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// The request body's schema (a component name), if it takes one.
    pub body: Option<&'static str>,
    /// Status codes it may answer besides 401 (and 400 for ids and queries).
    pub answers: &'static [u16],
    /// The least role that may call it.
    pub role: Role,
}

/// The query of both log routes (programs and quick-start programs).
const LOGS_QUERY: &[(&str, &str, &str)] = &[
    (
        "stream",
        "string",
        "stdout, stderr, both (each as one string) or all (data.lines, both streams in time order)",
    ),
    ("lines", "integer", "how many lines (default 100)"),
    (
        "follow",
        "boolean",
        "stream new lines as server-sent events",
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
        "stream new lines as server-sent events (event: line, data: {program, stream, line, time})",
    ),
];

const WAIT: (&str, &str, &str) = (
    "wait",
    "boolean",
    "answer once the program is RUNNING/stopped or has failed (default true)",
);

pub fn routes() -> Vec<RouteDoc> {
    let get = Method::GET;
    let post = Method::POST;
    vec![
        RouteDoc {
            method: get.clone(),
            path: "/health",
            summary: "Liveness; needs no token",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Public,
        },
        RouteDoc {
            method: get.clone(),
            path: "/whoami",
            summary: "The role the credentials of this request give: {role, token, auth}; never a secret",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Public,
        },
        RouteDoc {
            method: get.clone(),
            path: "/ready",
            summary: "Readiness: 200 when every program that should run is ready, 503 otherwise; needs no token (names the programs that are not ready only to a caller with a role)",
            query: &[],
            body: None,
            answers: &[200, 503],
            role: Role::Public,
        },
        RouteDoc {
            method: get.clone(),
            path: "/openapi.json",
            summary: "This document",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/programs",
            summary: "List all programs with their fields, status and config_error (read, operate: environment values \"<redacted>\", no text)",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/add",
            summary: "Create a program: writes programs.d/NAME.toml (or .yaml)",
            query: &[("format", "string", "toml (default) or yaml")],
            body: Some("NewProgram"),
            answers: &[201, 400, 409, 413, 507],
            role: Role::Admin,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/edit/{id}",
            summary: "Change fields: a JSON merge patch (RFC 7396) of the program's fields, all the way down: a field given is set, null resets a field to its default, an object (environment) merges per key and null removes a key; renaming is refused; honours If-Match",
            query: &[],
            body: Some("ProgramFields"),
            answers: &[200, 400, 404, 409, 412, 413, 507],
            role: Role::Admin,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/put",
            summary: "Create or replace a program's whole file from its text (comments kept); validated like a file; honours If-Match",
            query: &[],
            body: Some("ProgramFile"),
            answers: &[200, 201, 400, 409, 412, 413, 507],
            role: Role::Admin,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/remove/{id}",
            summary: "Delete the program's file and stop its process",
            query: &[WAIT],
            body: None,
            answers: &[200, 404],
            role: Role::Admin,
        },
        RouteDoc {
            method: get.clone(),
            path: "/programs/{id}",
            summary: "One program; answers an ETag (admin); read, operate: environment values \"<redacted>\", no text, no ETag",
            query: &[],
            body: None,
            answers: &[200, 404],
            role: Role::Read,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/{id}/enable",
            summary: "Set enabled = true in the file (never starts it)",
            query: &[WAIT],
            body: None,
            answers: &[200, 400, 404, 409, 507],
            role: Role::Admin,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/{id}/disable",
            summary: "Set enabled = false in the file and stop it",
            query: &[WAIT],
            body: None,
            answers: &[200, 400, 404, 409, 507],
            role: Role::Admin,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/{id}/start",
            summary: "Start the process (409 if not enabled; 422 start_failed if it ends without running, the status in error.details.status)",
            query: &[WAIT],
            body: None,
            answers: &[200, 404, 409, 422, 503, 507],
            role: Role::Operate,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/{id}/stop",
            summary: "Stop the process",
            query: &[WAIT],
            body: None,
            answers: &[200, 404, 409, 507],
            role: Role::Operate,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/{id}/restart",
            summary: "Stop then start the process (422 start_failed if it ends without running)",
            query: &[WAIT],
            body: None,
            answers: &[200, 404, 409, 422, 503, 507],
            role: Role::Operate,
        },
        RouteDoc {
            method: post.clone(),
            path: "/programs/{id}/signal",
            summary: "Send a signal to the program's main process ({\"signal\": \"HUP\"}: a name with or without SIG, or a number); answers the pid and signal sent; 409 not_running when it has no process",
            query: &[],
            body: Some("Signal"),
            answers: &[200, 400, 404, 409, 413],
            role: Role::Operate,
        },
        RouteDoc {
            method: get.clone(),
            path: "/programs/{id}/logs",
            summary: "Last lines of stdout and stderr; follow=true streams server-sent events",
            query: LOGS_QUERY,
            body: None,
            answers: &[200, 404, 409],
            role: Role::Operate,
        },
        RouteDoc {
            method: get.clone(),
            path: "/programs/{id}/history",
            summary: "The audit trail: every change of the file, who made it (by), with its unified diff (admin only; read and operate get no diff)",
            query: &[],
            body: None,
            answers: &[200, 404],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/status",
            summary: "Status of every program (read: last_stderr is null; it is log content)",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/status/{id}",
            summary: "Status of one program (read: last_stderr is null; it is log content)",
            query: &[],
            body: None,
            answers: &[200, 404],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/logs",
            summary: "The last lines of every program, merged in time order: data.lines [{program, stream, line, time}]",
            query: ALL_LOGS_QUERY,
            body: None,
            answers: &[200, 404],
            role: Role::Operate,
        },
        RouteDoc {
            method: get.clone(),
            path: "/metrics",
            summary: "Prometheus text format 0.0.4 (text/plain): every program's up, state, ready, restarts, start time, exit code, CPU seconds, memory and processes, the programs per state and the daemon's process_* figures; with serve --metrics-compat supervisord also supervisord_exporter's names. Read on request, never on a timer",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/events",
            summary: "Server-sent events of every config, state and health change, each with an id: a reconnect with Last-Event-ID (or ?last_event_id=) first gets the events it missed, or an event: reset when they are no longer kept",
            query: &[(
                "last_event_id",
                "string",
                "resume after this event id (the Last-Event-ID header does the same)",
            )],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/quick-start",
            summary: "List quick-start (ephemeral) programs",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: post.clone(),
            path: "/quick-start",
            summary: "Run a one-off command, never written to programs.d",
            query: &[],
            body: Some("QuickStart"),
            answers: &[201, 400, 413],
            role: Role::Admin,
        },
        RouteDoc {
            method: get.clone(),
            path: "/quick-start/{id}/status",
            summary: "Status of a quick-start program, with exit_code once it ended",
            query: &[],
            body: None,
            answers: &[200, 404],
            role: Role::Read,
        },
        RouteDoc {
            method: post.clone(),
            path: "/quick-start/{id}/stop",
            summary: "Stop a quick-start program",
            query: &[WAIT],
            body: None,
            answers: &[200, 404],
            role: Role::Operate,
        },
        RouteDoc {
            method: get.clone(),
            path: "/quick-start/{id}/logs",
            summary: "Output of a quick-start program",
            query: LOGS_QUERY,
            body: None,
            answers: &[200, 404],
            role: Role::Operate,
        },
    ]
}

/// Routes outside the base path, with their full path: the web dashboard (SPEC §15), its page
/// and its files. They answer HTML, CSS and JavaScript, not the envelope, so the OpenAPI
/// document (which describes the JSON API) leaves them out; their role is read like any other
/// route's. They are Public: they hold no data (what the page shows it asks the API for, with
/// the token the user gives it).
pub fn root_routes() -> Vec<RouteDoc> {
    vec![
        RouteDoc {
            method: Method::GET,
            path: "/",
            summary: "The web dashboard (an HTML page; it reads the API with the user's token)",
            query: &[],
            body: None,
            answers: &[200, 304],
            role: Role::Public,
        },
        RouteDoc {
            method: Method::GET,
            path: "/dashboard/{file}",
            summary: "A file of the dashboard: its scripts, style sheet and icon",
            query: &[],
            body: None,
            answers: &[200, 304, 404],
            role: Role::Public,
        },
        RouteDoc {
            method: Method::GET,
            path: "/metrics",
            summary: "The same as /api/v1/daemon/metrics, where Prometheus looks by default (role read: a scrape config gives a read token as its bearer_token)",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: Method::POST,
            path: "/RPC2",
            summary: "supervisord's XML-RPC interface (supervisorctl, Ansible, exporters): a text/xml methodCall, answered by a methodResponse; each method needs its own role (read for get*, operate for start/stop/signal/logs/reloadConfig, admin for clearing logs). Basic auth with the token as password is accepted here",
            query: &[],
            body: None,
            answers: &[200, 400, 403, 413, 415],
            role: Role::Read,
        },
        RouteDoc {
            method: Method::GET,
            path: "/logtail/{id}",
            summary: "Follow a program's stdout log as supervisord does for supervisorctl tail -f: the last 1 KiB, then every new byte (text/plain, chunked)",
            query: &[],
            body: None,
            answers: &[200, 403, 404],
            role: Role::Operate,
        },
        RouteDoc {
            method: Method::GET,
            path: "/logtail/{id}/stdout",
            summary: "Follow a program's stdout log (supervisorctl tail -f NAME)",
            query: &[],
            body: None,
            answers: &[200, 403, 404],
            role: Role::Operate,
        },
        RouteDoc {
            method: Method::GET,
            path: "/logtail/{id}/stderr",
            summary: "Follow a program's stderr log (supervisorctl tail -f NAME stderr)",
            query: &[],
            body: None,
            answers: &[200, 403, 404],
            role: Role::Operate,
        },
    ]
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Invalid input; error.details names the field",
        401 => {
            "No or wrong bearer token; without tokens, a peer that is neither the daemon's user nor root"
        }
        403 => {
            "forbidden_host (Host not allowed), forbidden_origin (foreign Origin), or forbidden (the role does not cover the route)"
        }
        415 => "unsupported_media_type: a body that is not application/json",
        404 => "Unknown program",
        409 => "Conflict: not enabled, name taken, file not writable",
        412 => "If-Match does not match the ETag",
        413 => "Body over 1 MiB",
        422 => {
            "start_failed: the program did not start (FATAL); error.details.status is its status, with last_error and last_stderr"
        }
        503 => {
            "Not now: not ready (/ready: error.details.not_ready names the programs, with a token), processes the last run left still being stopped (a start: Retry-After), or shutting down"
        }
        507 => {
            "A file the write needs (the program's file, ids, intents) cannot be saved: disk full; nothing changed"
        }
        _ => "",
    }
}

fn schemas() -> Value {
    let scalar =
        json!({ "oneOf": [{ "type": "string" }, { "type": "number" }, { "type": "boolean" }] });
    // Sizes (`256MB` or bytes) and CPUs (`0.5`, `"50%"`, `"500m"`), SPEC §14.
    let size = json!({ "oneOf": [{ "type": "integer" }, { "type": "string" }], "nullable": true });
    let cpus = json!({ "oneOf": [{ "type": "number" }, { "type": "string" }], "nullable": true });
    let flag = json!({ "oneOf": [{ "type": "boolean" }, { "type": "string" }], "nullable": true });
    let environment = json!({
        "type": "object",
        "description": "Variables added to the daemon's environment. In an edit (a JSON merge patch) only the keys given change, and a key set to null is removed.",
        "additionalProperties": { "oneOf": [{ "type": "string" }, { "type": "number" }, { "type": "boolean" }], "nullable": true },
        "nullable": true
    });
    let seconds = json!({ "oneOf": [{ "type": "number", "minimum": 0, "maximum": 86400 }, { "type": "string" }], "nullable": true });
    let healthcheck = json!({
        "type": "object",
        "nullable": true,
        "description": "One probe (exec, http or tcp) and its timings (SPEC §12)",
        "properties": {
            "exec": { "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] },
            "http": { "type": "string", "description": "http://IP-or-localhost[:PORT][/path]; 2xx or 3xx is healthy" },
            "tcp": { "type": "string", "description": "IP-or-localhost:PORT; a connection is healthy" },
            "interval": seconds,
            "timeout": seconds,
            "retries": { "type": "integer", "minimum": 1 },
            "start_period": seconds,
            "on_unhealthy": { "type": "string", "enum": ["restart", "none"] }
        }
    });
    let depends_on = json!({
        "nullable": true,
        "oneOf": [
            { "type": "array", "items": { "type": "string", "pattern": NAME_PATTERN } },
            { "type": "object", "additionalProperties": { "type": "string", "enum": ["started", "ready", "completed_successfully"] } }
        ]
    });
    json!({
        "Envelope": {
            "type": "object",
            "required": ["statusCode", "message", "data"],
            "properties": {
                "statusCode": { "type": "integer" },
                "message": { "type": "string" },
                "data": {}
            }
        },
        "Error": {
            "type": "object",
            "required": ["statusCode", "message", "error"],
            "properties": {
                "statusCode": { "type": "integer" },
                "message": { "type": "string" },
                "error": {
                    "type": "object",
                    "required": ["code"],
                    "properties": { "code": { "type": "string" }, "details": {} }
                }
            }
        },
        "NewProgram": {
            "description": "A new program: its name and command, and any other fields.",
            "allOf": [
                { "$ref": "#/components/schemas/ProgramFields" },
                {
                    "type": "object",
                    "required": ["name", "command"],
                    "properties": {
                        "name": { "type": "string", "pattern": NAME_PATTERN },
                        "command": { "oneOf": [
                            { "type": "string", "pattern": "\\S" },
                            { "type": "array", "minItems": 1, "items": { "type": "string" } }
                        ] }
                    }
                }
            ]
        },
        "ProgramFields": {
            "type": "object",
            "description": "The fields of a program file (SPEC §3). Unknown fields are refused unless they start with x-.",
            "properties": {
                "name": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$" },
                "description": { "type": "string", "nullable": true },
                "command": { "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }], "nullable": true },
                "user": { "oneOf": [{ "type": "string" }, { "type": "integer" }], "nullable": true },
                "enabled": flag,
                "boot": flag,
                "autorestart": flag,
                "exitcodes": { "oneOf": [{ "type": "array", "items": { "type": "integer" } }, { "type": "integer" }, { "type": "string" }], "nullable": true },
                "startsecs": seconds,
                "startretries": { "type": "integer", "nullable": true },
                "stopsignal": { "type": "string", "nullable": true },
                "stopwaitsecs": seconds,
                "stopasgroup": flag,
                "killasgroup": flag,
                "directory": { "type": "string", "nullable": true },
                "priority": { "type": "integer", "nullable": true },
                "delay_seconds": seconds,
                "umask": { "type": "string", "nullable": true },
                "redirect_stderr": flag,
                "stdout_logfile": { "type": "string", "nullable": true },
                "stderr_logfile": { "type": "string", "nullable": true },
                "stdout_logfile_maxbytes": { "oneOf": [{ "type": "integer" }, { "type": "string" }], "nullable": true },
                "stderr_logfile_maxbytes": { "oneOf": [{ "type": "integer" }, { "type": "string" }], "nullable": true },
                "stdout_logfile_backups": { "type": "integer", "nullable": true },
                "stderr_logfile_backups": { "type": "integer", "nullable": true },
                "environment": environment,
                "healthcheck": healthcheck,
                "ready_log_line": { "type": "string", "nullable": true },
                "notify": flag,
                "watchdog_sec": seconds,
                "max_memory_restart": size,
                "memory_max": size,
                "cpu_max": cpus,
                "depends_on": depends_on
            }
        },
        "ProgramFile": {
            "type": "object",
            "required": ["file", "text"],
            "description": "A whole program file: what hoody-daemon apply sends. Another file of the same name with a different extension is removed.",
            "properties": {
                "file": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\\.(toml|yaml|yml)$" },
                "text": { "type": "string", "description": "The file's text, TOML or YAML as the extension says" }
            }
        },
        "Signal": {
            "type": "object",
            "required": ["signal"],
            "properties": {
                "signal": { "oneOf": [
                    { "type": "string", "minLength": 1, "maxLength": 16, "description": "HUP, SIGHUP, hup, or a number such as 1" },
                    { "type": "integer", "minimum": 1, "maximum": 64 }
                ] }
            }
        },
        "QuickStart": {
            "type": "object",
            "required": ["command"],
            "properties": {
                "command": { "oneOf": [{ "type": "string" }, { "type": "array", "items": { "type": "string" } }] },
                "directory": { "type": "string" },
                "environment": { "type": "object", "additionalProperties": scalar },
                "user": { "oneOf": [{ "type": "string" }, { "type": "integer" }] },
                "timeout_seconds": { "type": "number" }
            }
        }
    })
}

/// A program name (and so any `{id}`: a number matches it too), SPEC §2.
const NAME_PATTERN: &str = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";

/// The schema of a query parameter: the values the handlers accept, exactly.
fn query_schema(name: &str, kind: &str) -> Value {
    match name {
        "format" => json!({ "type": "string", "enum": ["toml", "yaml", "yml"] }),
        "stream" => json!({ "type": "string", "enum": ["stdout", "stderr", "both"] }),
        "lines" => json!({ "type": "integer", "minimum": 0, "maximum": 100000 }),
        _ => json!({ "type": kind }),
    }
}

/// The whole OpenAPI 3 document.
pub fn document() -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for route in routes() {
        let mut parameters = Vec::new();
        if route.path.starts_with("/quick-start/{id}") {
            parameters.push(json!({
                "name": "id", "in": "path", "required": true,
                "description": "The quick-start program's number, or its name (quick-start-N)",
                "schema": { "type": "string", "pattern": "^(quick-start-)?[0-9]{1,19}$" }
            }));
        } else if route.path.contains("{id}") {
            parameters.push(json!({
                "name": "id", "in": "path", "required": true,
                "description": "The program's numeric id or its name",
                "schema": { "type": "string", "pattern": NAME_PATTERN }
            }));
        }
        for (name, kind, description) in route.query {
            parameters.push(json!({
                "name": name, "in": "query", "required": false,
                "description": description, "schema": query_schema(name, kind)
            }));
        }
        let mut responses = Map::new();
        // Every route may answer 400 (ids, queries), 401 and 403 (the checks of access.rs);
        // a route that takes a body, 415.
        let checks: &[u16] = if route.body.is_some() {
            &[400, 401, 403, 415]
        } else {
            &[400, 401, 403]
        };
        for code in route.answers.iter().copied().chain(checks.iter().copied()) {
            let schema = if code < 300 { "Envelope" } else { "Error" };
            responses.insert(
                code.to_string(),
                json!({
                    "description": reason(code),
                    "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } }
                }),
            );
        }
        if route.path.ends_with("/events") || route.path.ends_with("/logs") {
            responses.insert("200".into(), json!({
                "description": "OK (logs: JSON, or text/event-stream with follow=true)",
                "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/Envelope" } },
                    "text/event-stream": { "schema": { "type": "string" } }
                }
            }));
        }
        if route.path == "/openapi.json" {
            responses.insert("200".into(), json!({ "description": "OK", "content": { "application/json": { "schema": { "type": "object" } } } }));
        }
        let mut operation = json!({
            "summary": route.summary,
            "operationId": format!("{} {}", route.method.as_str().to_lowercase(), route.path),
            "parameters": parameters,
            "responses": responses,
        });
        operation["x-role"] = json!(route.role.as_str());
        if route.role == Role::Public {
            operation["security"] = json!([]);
        }
        if let Some(body) = route.body {
            operation["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{body}") } } }
            });
        }
        let entry = paths
            .entry(format!("{}{}", super::BASE, route.path))
            .or_insert_with(|| Value::Object(Map::new()));
        entry[route.method.as_str().to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "hoody-daemon",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A universal process manager. Every response is {statusCode, message, data}; errors carry {statusCode, message, error: {code, details}}. The API runs commands as any user the daemon can switch to: treat access to it as root access. Who may do what (docs/SECURITY.md): each operation's x-role is the least role that may call it (public, read, operate, admin; each covers the ones before). With tokens (serve --tokens-file, --token-file, HOODY_DAEMON_TOKEN) the bearer token decides; without, only the daemon's own user and root are served (peer credentials), as admin. read and operate see environment values as \"<redacted>\", no file text, no history diffs and no ETag; admin sees everything. A body must be application/json (415), a foreign Origin (403 forbidden_origin) or Host (403 forbidden_host) is refused."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "security": [{ "bearer": [] }]
    })
}

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
        let document = document();
        let paths = document["paths"].as_object().expect("paths");
        assert!(
            paths
                .keys()
                .all(|path| path.starts_with(super::super::BASE))
        );
    }
}
