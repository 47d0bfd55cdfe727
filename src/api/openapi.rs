//! The OpenAPI 3 document of the API, built from one table of routes. A test sends a request
//! to every route of the table and checks the router answers it, so the document cannot drift
//! from the routes.

use axum::http::Method;
use serde_json::{Map, Value, json};

/// Who may call a route (SPEC §10). Every route of the table states its role; the route table
/// is where the API's access rules are read from, so a route cannot be added without one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Needs no token (`/health`).
    Public,
    /// Reads: statuses, the list (environment values redacted, no file text), events.
    Read,
    /// Read, logs, start, stop, restart, signal.
    Operate,
    /// Everything: writes to programs.d and quick-start (which runs any command).
    Admin,
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
    ("stream", "string", "stdout, stderr or both"),
    ("lines", "integer", "how many lines (default 100)"),
    (
        "follow",
        "boolean",
        "stream new lines as server-sent events",
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
            summary: "List all programs with their fields, status and config_error",
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
            summary: "Change fields (a merge; null resets a field); honours If-Match",
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
            summary: "One program; answers an ETag",
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
            summary: "Start the process (409 if not enabled)",
            query: &[WAIT],
            body: None,
            answers: &[200, 404, 409, 503, 507],
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
            summary: "Stop then start the process",
            query: &[WAIT],
            body: None,
            answers: &[200, 404, 409, 503, 507],
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
            summary: "The audit trail: every change of the file with its unified diff",
            query: &[],
            body: None,
            answers: &[200, 404],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/status",
            summary: "Status of every program",
            query: &[],
            body: None,
            answers: &[200],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/status/{id}",
            summary: "Status of one program",
            query: &[],
            body: None,
            answers: &[200, 404],
            role: Role::Read,
        },
        RouteDoc {
            method: get.clone(),
            path: "/events",
            summary: "Server-sent events of every config and state change",
            query: &[],
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
            role: Role::Admin,
        },
        RouteDoc {
            method: get.clone(),
            path: "/quick-start/{id}/logs",
            summary: "Output of a quick-start program",
            query: LOGS_QUERY,
            body: None,
            answers: &[200, 404],
            role: Role::Admin,
        },
    ]
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        400 => "Invalid input; error.details names the field",
        401 => "No or wrong bearer token",
        404 => "Unknown program",
        409 => "Conflict: not enabled, name taken, file not writable",
        412 => "If-Match does not match the ETag",
        413 => "Body over 1 MiB",
        503 => {
            "Not now: processes the last run left are still being stopped (Retry-After), or shutting down"
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
    let flag = json!({ "oneOf": [{ "type": "boolean" }, { "type": "string" }], "nullable": true });
    let seconds = json!({ "oneOf": [{ "type": "number", "minimum": 0, "maximum": 86400 }, { "type": "string" }], "nullable": true });
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
                "environment": { "type": "object", "additionalProperties": scalar, "nullable": true }
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
                "description": "The quick-start program's number",
                "schema": { "type": "string", "pattern": "^[0-9]{1,19}$" }
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
        for code in route.answers.iter().copied().chain([400, 401]) {
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
        if route.path == "/health" {
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
            "description": "A universal process manager. Every response is {statusCode, message, data}; errors carry {statusCode, message, error: {code, details}}. The API runs commands as any user the daemon can switch to: treat access to it as root access."
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } }
        },
        "security": [{ "bearer": [] }]
    })
}
