//! The JSON schemas of the OpenAPI document (JSON Schema 2020-12, as OpenAPI 3.1 has it): the
//! request bodies, the `data` of every answer, the errors with their `error.code`s, and the
//! events of the event stream. Routes name them in the route table (`openapi::routes`).
//!
//! The schemas of answers follow the types that are serialized: the enums are built from the
//! Rust enums themselves ([`ProcessState::ALL`], [`StopSignal::ALL`], …), and
//! `tests/it/openapi.rs` validates real answers of a real daemon against these schemas with
//! every object closed (a field the daemon sends that a schema does not name fails the test),
//! so neither can change without the other. Every key an answer always has is `required`, so
//! a generated client types it as present. The document itself leaves objects open: a later
//! daemon may add fields, and clients ignore the ones they do not know.
//!
//! Request bodies are described as leniently as the daemon reads them (the seed's `"true"` for
//! a boolean, a size as `"50MB"` or a number), so a request a schema refuses is one the daemon
//! refuses too.

use serde_json::{Map, Value, json};

use crate::daemon::{ChangeKind, Source};
use crate::health::Health;
use crate::spec::{Condition, Format, OnUnhealthy, StopSignal};
use crate::supervisor::ProcessState;

use super::openapi::{NAME_PATTERN, Role};

/// The `error.code`s each error status carries (SPEC §6, §10). A test reads the source for
/// every code the daemon and the API send and checks it is listed under its status.
pub const ERROR_CODES: &[(u16, &[&str])] = &[
    (
        400,
        &[
            "invalid_fields",
            "invalid_header",
            "invalid_id",
            "invalid_json",
            "invalid_query",
        ],
    ),
    (401, &["unauthorized"]),
    (403, &["forbidden", "forbidden_host", "forbidden_origin"]),
    (404, &["not_found", "no_route"]),
    (405, &["method_not_allowed"]),
    (408, &["timeout"]),
    (
        409,
        &[
            "name_taken",
            "no_valid_version",
            "not_enabled",
            "not_running",
            "unreadable_file",
            "write_failed",
        ],
    ),
    (412, &["stale"]),
    (413, &["body_too_large"]),
    (415, &["unsupported_media_type"]),
    (422, &["start_failed"]),
    (
        500,
        &[
            "clear_failed",
            "log_unreadable",
            "follow_unavailable",
            "lost_write",
            "serialize_failed",
            "signal_failed",
            "state_write_failed",
            "unexpected_answer",
            "write_failed",
        ],
    ),
    (503, &["not_ready", "recovering", "shutting_down"]),
    (507, &["insufficient_storage"]),
];

/// The name of the reusable response of an error status (`components/responses`).
pub fn error_response_name(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        408 => "RequestTimeout",
        409 => "Conflict",
        412 => "PreconditionFailed",
        413 => "PayloadTooLarge",
        415 => "UnsupportedMediaType",
        422 => "UnprocessableContent",
        500 => "InternalError",
        503 => "Unavailable",
        507 => "InsufficientStorage",
        _ => "Error",
    }
}

/// The name of the error schema of a status: `Error404`.
pub fn error_schema_name(code: u16) -> String {
    format!("Error{code}")
}

/// The envelope of a successful answer: `{statusCode, message, data}`, `data` of the named
/// component.
pub fn envelope(code: u16, data: &str) -> Value {
    json!({
        "type": "object",
        "required": ["statusCode", "message", "data"],
        "properties": {
            "statusCode": { "type": "integer", "const": code },
            "message": { "type": "string" },
            "data": reference(data)
        }
    })
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn string() -> Value {
    json!({ "type": "string" })
}

fn integer() -> Value {
    json!({ "type": "integer" })
}

fn number() -> Value {
    json!({ "type": "number" })
}

fn boolean() -> Value {
    json!({ "type": "boolean" })
}

fn strings() -> Value {
    json!({ "type": "array", "items": { "type": "string" } })
}

/// The schema, or null.
fn nullable(schema: Value) -> Value {
    match schema.get("type") {
        Some(Value::String(kind)) if schema.get("enum").is_none() => {
            let mut schema = schema.clone();
            schema["type"] = json!([kind, "null"]);
            schema
        }
        _ => json!({ "anyOf": [schema, { "type": "null" }] }),
    }
}

/// A string of these values.
fn one_of_strings<'a>(values: impl IntoIterator<Item = &'a str>) -> Value {
    json!({ "type": "string", "enum": values.into_iter().collect::<Vec<_>>() })
}

/// The serialized name of an enum's variant (what serde writes).
fn serialized(value: impl serde::Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(text)) => text,
        _ => String::new(),
    }
}

/// The keys of a status read from the kernel at each request (SPEC §14), which a program
/// object's status leaves out.
const FIGURES: [&str; 4] = ["cpu_percent", "cpu_seconds", "memory_bytes", "processes"];

/// An object whose every property is always there.
fn exact(properties: Value) -> Value {
    let required: Vec<&String> = properties
        .as_object()
        .map(|map| map.keys().collect())
        .unwrap_or_default();
    json!({ "type": "object", "required": required, "properties": properties })
}

/// An object with these properties, the `required` ones always there.
fn object(required: &[&str], properties: Value) -> Value {
    json!({ "type": "object", "required": required, "properties": properties })
}

/// The properties of `base` and `more`, as one object.
fn merged(base: &Value, more: Value) -> Value {
    let mut properties = base.as_object().cloned().unwrap_or_default();
    if let Value::Object(more) = more {
        properties.extend(more);
    }
    Value::Object(properties)
}

fn process_state() -> Value {
    one_of_strings(ProcessState::ALL.iter().map(|state| state.as_str()))
}

fn health() -> Value {
    let values: Vec<String> = [Health::Starting, Health::Healthy, Health::Unhealthy]
        .into_iter()
        .map(serialized)
        .collect();
    json!({ "type": "string", "enum": values })
}

fn role() -> Value {
    one_of_strings(Role::ALL.iter().map(|role| role.as_str()))
}

/// Every component schema of the document, by name.
pub fn components() -> Map<String, Value> {
    let mut schemas = Map::new();
    let mut put = |name: &str, schema: Value| {
        schemas.insert(name.to_string(), schema);
    };
    requests(&mut put);
    answers(&mut put);
    signals(&mut put);
    statuses(&mut put);
    events(&mut put);
    errors(&mut put);
    schemas
}

// ---- request bodies ----------------------------------------------------------------------

/// A program's fields as a request gives them: as leniently as the daemon reads them, `null`
/// resetting a field to its default (an edit).
fn request_field_properties() -> Value {
    let scalar = json!({ "type": ["string", "number", "boolean"] });
    let flag = json!({ "type": ["boolean", "string", "null"] });
    let seconds = json!({ "anyOf": [{ "type": "number", "minimum": 0, "maximum": 86400 }, { "type": "string" }, { "type": "null" }] });
    let command = json!({ "anyOf": [{ "type": "string" }, strings(), { "type": "null" }] });
    let size = json!({ "type": ["integer", "string", "null"] });
    let healthcheck = json!({
        "type": ["object", "null"],
        "description": "One probe (exec, http or tcp) and its timings (SPEC §12)",
        "properties": {
            "exec": { "anyOf": [{ "type": "string" }, strings()] },
            "http": { "type": "string", "description": "http://IP-or-localhost[:PORT][/path]; 2xx or 3xx is healthy" },
            "tcp": { "type": "string", "description": "IP-or-localhost:PORT; a connection is healthy" },
            "interval": seconds,
            "timeout": seconds,
            "retries": { "type": "integer", "minimum": 1 },
            "start_period": seconds,
            "on_unhealthy": one_of_strings([OnUnhealthy::Restart, OnUnhealthy::None].map(OnUnhealthy::as_str))
        }
    });
    let depends_on = json!({ "anyOf": [
        { "type": "array", "items": { "type": "string", "pattern": NAME_PATTERN } },
        { "type": "object", "additionalProperties": one_of_strings(Condition::ALL.map(Condition::as_str)) },
        { "type": "null" }
    ] });
    json!({
        "name": { "type": "string", "pattern": NAME_PATTERN },
        "description": nullable(string()),
        "command": command,
        "user": { "type": ["string", "integer", "null"] },
        "enabled": flag,
        "boot": flag,
        "autorestart": flag,
        "exitcodes": { "anyOf": [{ "type": "array", "items": { "type": "integer" } }, { "type": "integer" }, { "type": "string" }, { "type": "null" }] },
        "startsecs": seconds,
        "startretries": nullable(integer()),
        "stopsignal": nullable(string()),
        "stopwaitsecs": seconds,
        "stopasgroup": flag,
        "killasgroup": flag,
        "directory": nullable(string()),
        "priority": nullable(integer()),
        "delay_seconds": seconds,
        "umask": nullable(string()),
        "redirect_stderr": flag,
        "stdout_logfile": nullable(string()),
        "stderr_logfile": nullable(string()),
        "stdout_logfile_maxbytes": size,
        "stderr_logfile_maxbytes": size,
        "stdout_logfile_backups": nullable(integer()),
        "stderr_logfile_backups": nullable(integer()),
        "log_timestamps": flag,
        "console": flag,
        "environment": { "type": ["object", "null"], "additionalProperties": scalar },
        "healthcheck": healthcheck,
        "ready_log_line": nullable(string()),
        "notify": flag,
        "watchdog_sec": seconds,
        "max_memory_restart": size,
        "memory_max": size,
        "cpu_max": { "anyOf": [{ "type": "number" }, { "type": "string" }, { "type": "null" }], "description": "CPUs: 0.5, 2, \"50%\" or \"500m\"" },
        "depends_on": depends_on
    })
}

fn requests(put: &mut impl FnMut(&str, Value)) {
    let fields = request_field_properties();
    let mut new_fields = fields.clone();
    new_fields["command"] = json!({ "anyOf": [
        { "type": "string", "pattern": "\\S" },
        { "type": "array", "minItems": 1, "items": { "type": "string" } }
    ] });
    put(
        "NewProgram",
        json!({
            "type": "object",
            "description": "A new program: its name and command, and any other fields (SPEC §3). Unknown fields are refused unless they start with x-.",
            "required": ["name", "command"],
            "properties": new_fields,
            "patternProperties": { "^x-": {} },
            "additionalProperties": false
        }),
    );
    put(
        "ProgramFields",
        json!({
            "type": "object",
            "description": "The fields to change (a merge): a field given null goes back to its default. Unknown fields are refused unless they start with x-; a different name is refused.",
            "properties": fields,
            "patternProperties": { "^x-": {} },
            "additionalProperties": false
        }),
    );
    put(
        "ProgramFile",
        json!({
            "type": "object",
            "required": ["file", "text"],
            "description": "A whole program file: what hoody-daemon apply sends. Another file of the same name with a different extension is removed.",
            "properties": {
                "file": { "type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\\.(toml|yaml|yml)$" },
                "text": { "type": "string", "description": "The file's text, TOML or YAML as the extension says" }
            },
            "additionalProperties": false
        }),
    );
    let scalar = json!({ "type": ["string", "number", "boolean"] });
    put(
        "QuickStart",
        json!({
            "type": "object",
            "required": ["command"],
            "properties": {
                "command": { "anyOf": [{ "type": "string" }, strings()] },
                // As in a program's fields, null is the same as absent.
                "directory": nullable(string()),
                "environment": nullable(json!({ "type": "object", "additionalProperties": scalar })),
                "user": { "type": ["string", "integer", "null"] },
                "timeout_seconds": { "type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 86400 }
            },
            "additionalProperties": false
        }),
    );
}

// ---- answers -----------------------------------------------------------------------------

/// A program's fields as the API shows them: the file's values in canonical form (a boolean is
/// a boolean, a size a string such as "50MB"), defaults filled in; a command and a user stay
/// in the form they were written in.
fn program_field_properties() -> Value {
    let seconds = number();
    let healthcheck = json!({
        "type": "object",
        "properties": {
            "exec": { "anyOf": [string(), strings()] },
            "http": string(),
            "tcp": string(),
            "interval": seconds,
            "timeout": seconds,
            "retries": integer(),
            "start_period": seconds,
            "on_unhealthy": one_of_strings([OnUnhealthy::Restart, OnUnhealthy::None].map(OnUnhealthy::as_str))
        }
    });
    let depends_on = json!({ "anyOf": [
        strings(),
        { "type": "object", "additionalProperties": one_of_strings(Condition::ALL.map(Condition::as_str)) }
    ] });
    let size = json!({ "type": "string", "description": "50MB, 512KB, 1GB, or a number of bytes (\"1000\")" });
    json!({
        "name": { "type": "string" },
        "description": string(),
        "command": { "anyOf": [string(), strings()], "description": "A line split like a shell would (no shell), or the argv" },
        "user": { "type": ["string", "integer"], "description": "A user name, or a uid" },
        "enabled": boolean(),
        "boot": boolean(),
        "autorestart": one_of_strings(["true", "false", "unexpected"]),
        "exitcodes": { "type": "array", "items": integer() },
        "startsecs": seconds,
        "startretries": integer(),
        "stopsignal": one_of_strings(StopSignal::ALL.map(StopSignal::name)),
        "stopwaitsecs": seconds,
        "stopasgroup": boolean(),
        "killasgroup": boolean(),
        "directory": string(),
        "priority": integer(),
        "delay_seconds": seconds,
        "umask": { "type": "string", "description": "Octal, as \"022\"" },
        "redirect_stderr": boolean(),
        "stdout_logfile": { "type": "string", "description": "auto, none, or a path" },
        "stderr_logfile": { "type": "string", "description": "auto, none, or a path" },
        "stdout_logfile_maxbytes": size,
        "stderr_logfile_maxbytes": size,
        "stdout_logfile_backups": integer(),
        "stderr_logfile_backups": integer(),
        "log_timestamps": { "type": "boolean", "description": "Each stored line starts with its time (absent: the daemon's --log-timestamps)" },
        "console": { "type": "boolean", "description": "A copy of the output goes to the daemon's --log-console" },
        "environment": { "type": "object", "additionalProperties": string() },
        "healthcheck": healthcheck,
        "ready_log_line": string(),
        "notify": boolean(),
        "watchdog_sec": seconds,
        "max_memory_restart": size,
        "memory_max": size,
        "cpu_max": { "type": "number", "description": "CPUs (cgroup v2 cpu.max)" },
        "depends_on": depends_on
    })
}

fn answers(put: &mut impl FnMut(&str, Value)) {
    put(
        "Health",
        exact(json!({ "status": { "type": "string", "const": "ok" }, "version": string() })),
    );
    put(
        "Whoami",
        exact(json!({
            "role": nullable(role()),
            "token": { "type": ["string", "null"], "description": "The token's name (never its secret)" },
            "auth": one_of_strings(["token", "peer", "none"])
        })),
    );
    put(
        "Ready",
        exact(json!({ "ready": { "type": "boolean", "const": true } })),
    );
    put(
        "NotReady",
        exact(json!({
            "id": integer(),
            "name": string(),
            "status": process_state(),
            "health": nullable(health()),
            "waiting_for": strings(),
            "reason": string()
        })),
    );

    let mut program = merged(
        &program_field_properties(),
        json!({
            "config_error": nullable(reference("ConfigError")),
            "file": { "type": "string", "description": "The program's file" },
            "format": one_of_strings([Format::Toml, Format::Yaml].map(Format::extension)),
            "generation": integer(),
            "id": integer(),
            "observed_generation": { "type": ["integer", "null"], "description": "The generation the process runs with; null without a process" },
            "status": reference("ProgramStatus"),
            "text": { "type": ["string", "null"], "description": "The file as written (admin only); null when it is not a readable program file" }
        }),
    );
    program["name"] = json!({ "type": "string", "pattern": NAME_PATTERN });
    put(
        "Program",
        json!({
            "type": "object",
            "description": "A program: the fields of its file (defaults filled in; none when the file has never been valid), where it lives, its status and its config error",
            "required": ["config_error", "file", "format", "generation", "id", "name", "observed_generation", "status"],
            "properties": program,
            "patternProperties": { "^x-": {} }
        }),
    );
    put(
        "ProgramList",
        exact(json!({ "programs": { "type": "array", "items": reference("Program") } })),
    );
    put(
        "ProgramOne",
        exact(json!({ "program": reference("Program") })),
    );

    let written = json!({
        "id": integer(),
        "name": string(),
        "file": string(),
        "diff": { "type": "string", "description": "Unified diff of the file, old to new; empty when nothing changed" },
        "generation": integer(),
        "changed": boolean(),
        "created": boolean()
    });
    put("Written", exact(written.clone()));
    let mut toggled = object(
        &["id", "name", "diff", "generation", "changed", "enabled"],
        merged(
            &written,
            json!({
                "enabled": boolean(),
                "status": reference("Status"),
                "hint": { "type": "string", "description": "When the file changed and programs.d is in a git work tree: start and stop change no file" }
            }),
        ),
    );
    toggled["description"] = json!(
        "file and created: when the file was written (not when it already was so: changed false); status: after a disable that waited, once the program is down"
    );
    put("Toggled", toggled);
    put(
        "Removed",
        exact(json!({
            "id": integer(),
            "name": string(),
            "diff": string(),
            "removed": { "type": "boolean", "const": true }
        })),
    );
    let mut controlled = object(
        &["id", "name", "changed"],
        json!({
            "id": integer(),
            "name": string(),
            "changed": { "type": "boolean", "description": "false: it already was as asked" },
            "status": reference("Status")
        }),
    );
    controlled["description"] = json!("status: when the request waited (the default)");
    put("Controlled", controlled);
    let mut logs = object(
        &[
            "stdout",
            "stderr",
            "stdout_logfile",
            "stderr_logfile",
            "redirect_stderr",
            "notes",
        ],
        json!({
            "stdout": { "type": ["string", "null"], "description": "The last lines; null when not asked for (and with stream=all)" },
            "stderr": { "type": ["string", "null"], "description": "The last lines; null when not asked for (and with stream=all)" },
            "lines": { "type": "array", "items": reference("LogLine"), "description": "With stream=all: both streams' last lines in time order" },
            "stdout_logfile": { "type": ["string", "null"], "description": "null when discarded" },
            "stderr_logfile": { "type": ["string", "null"], "description": "null when discarded or redirected" },
            "redirect_stderr": boolean(),
            "notes": { "type": "array", "items": string(), "description": "What the program keeps no log of (stdout_logfile = \"none\")" }
        }),
    );
    logs["description"] = json!("lines: only with stream=all");
    put("Logs", logs);
    put(
        "LogLine",
        exact(json!({
            "program": string(),
            "stream": one_of_strings(["stdout", "stderr"]),
            "line": string(),
            "time": { "type": ["string", "null"], "description": "RFC 3339 with milliseconds; null when the line carries no time stamp" }
        })),
    );
    put(
        "MergedLogs",
        exact(json!({
            "lines": { "type": "array", "items": reference("LogLine") },
            "notes": { "type": "array", "items": string() }
        })),
    );
    let mut change = object(
        &["time", "source", "by", "change", "generation", "problems"],
        json!({
            "time": { "type": "number", "description": "Unix seconds" },
            "source": one_of_strings_owned([Source::File, Source::Api].map(serialized)),
            "by": { "type": ["string", "null"], "description": "Who made an API change: a token's name or uid N; null for a change of the folder itself" },
            "change": one_of_strings_owned([ChangeKind::Created, ChangeKind::Edited, ChangeKind::Removed].map(serialized)),
            "generation": integer(),
            "diff": { "type": "string", "description": "Unified diff, old to new (admin only)" },
            "problems": strings()
        }),
    );
    change["description"] = json!("One change of the program's file");
    put("Change", change);
    put(
        "History",
        exact(json!({
            "id": integer(),
            "name": string(),
            "history": { "type": "array", "items": reference("Change") }
        })),
    );
    put(
        "StatusList",
        exact(json!({
            "statuses": { "type": "array", "items": reference("Status") },
            "success": { "type": "boolean", "const": true }
        })),
    );
    put(
        "StatusOne",
        exact(json!({
            "status": reference("Status"),
            "success": { "type": "boolean", "const": true }
        })),
    );
    put(
        "QuickStartList",
        exact(json!({ "programs": { "type": "array", "items": reference("QuickStartStatus") } })),
    );
    put(
        "QuickStartLaunched",
        exact(json!({ "id": integer(), "status": nullable(reference("QuickStartStatus")) })),
    );
    put(
        "QuickStartOne",
        exact(json!({
            "status": nullable(reference("QuickStartStatus")),
            "success": { "type": "boolean", "const": true }
        })),
    );
    let mut stopped = object(
        &["id"],
        json!({ "id": integer(), "status": reference("QuickStartStatus") }),
    );
    stopped["description"] = json!("status: when the request waited (the default)");
    put("QuickStartStopped", stopped);
}

/// The body and the answer of `POST /programs/{id}/signal` (SPEC §16).
fn signals(put: &mut impl FnMut(&str, Value)) {
    put(
        "SignalRequest",
        json!({
            "type": "object",
            "required": ["signal"],
            "properties": { "signal": {
                "description": "A signal's name with or without SIG, in any case (HUP, SIGUSR1, term), or its number (1)",
                "oneOf": [
                    { "type": "string", "minLength": 1, "maxLength": 16 },
                    { "type": "integer", "minimum": 1, "maximum": 31 }
                ]
            } },
            "additionalProperties": false
        }),
    );
    put(
        "Signalled",
        exact(json!({
            "id": integer(),
            "name": string(),
            "signal": { "type": "string", "description": "The signal sent, without SIG" },
            "number": { "type": "integer", "description": "Its number" },
            "pid": { "type": "integer", "description": "The process it was sent to" }
        })),
    );
}

fn one_of_strings_owned(values: impl IntoIterator<Item = String>) -> Value {
    json!({ "type": "string", "enum": values.into_iter().collect::<Vec<_>>() })
}

fn statuses(put: &mut impl FnMut(&str, Value)) {
    put(
        "ExitInfo",
        json!({
            "description": "How the last process ended: its exit code, or the signal that killed it",
            "oneOf": [
                { "type": "object", "required": ["code"], "properties": { "code": integer() } },
                { "type": "object", "required": ["signal"], "properties": { "signal": { "type": "string", "description": "TERM, KILL, …; the number when it has no name" } } }
            ]
        }),
    );
    put(
        "Problem",
        exact(json!({
            "file": { "type": ["string", "null"] },
            "line": { "type": ["integer", "null"] },
            "column": { "type": ["integer", "null"] },
            "field": { "type": ["string", "null"] },
            "message": string()
        })),
    );
    put(
        "ConfigError",
        exact(json!({
            "message": { "type": "string", "description": "Every problem in one line" },
            "problems": { "type": "array", "items": reference("Problem") },
            "running_generation": { "type": "integer", "description": "The generation of the version that still runs (the last good one)" }
        })),
    );
    put(
        "LastProbe",
        exact(json!({
            "time": { "type": "number", "description": "Unix seconds" },
            "ok": boolean(),
            "output": { "type": "string", "description": "At most 1 KiB" }
        })),
    );
    let status = json!({
        "config_error": nullable(reference("ConfigError")),
        "cpu_percent": { "type": ["number", "null"], "minimum": 0, "description": "CPU over the interval since the last read of this status (or since start), 100 = one CPU; null without a process (SPEC §14)" },
        "cpu_seconds": { "type": ["number", "null"], "minimum": 0, "description": "CPU time of the live processes and the children they reaped; null without a process" },
        "enabled": boolean(),
        "generation": integer(),
        "health": nullable(health()),
        "id": integer(),
        "last_error": { "type": ["string", "null"] },
        "last_exit": nullable(reference("ExitInfo")),
        "last_probe": nullable(reference("LastProbe")),
        "last_stderr": { "type": ["string", "null"], "description": "EXITED, BACKOFF or FATAL: the last lines its last process wrote to stderr; null otherwise, and always for a read token (it is log content)" },
        "memory_bytes": { "type": ["integer", "null"], "minimum": 0, "description": "Resident memory of every live process of the program; null without a process" },
        "name": string(),
        "observed_generation": { "type": ["integer", "null"] },
        "pid": { "type": ["integer", "null"] },
        "processes": { "type": "integer", "minimum": 0, "description": "Every live process of the program: its cgroup's members, or those with its mark; with what the daemon's last run left still being stopped" },
        "ready": boolean(),
        "restarts": integer(),
        "run": { "type": "boolean", "description": "The operator's run intent" },
        "started_at": { "type": ["integer", "null"], "description": "Unix seconds" },
        "status": process_state(),
        "status_text": { "type": ["string", "null"], "description": "The last STATUS= sent over sd_notify" },
        "uptime": { "type": ["string", "null"], "description": "H:MM:SS" },
        "uptime_seconds": { "type": ["integer", "null"] },
        "waiting_for": strings()
    });
    // A program object's status: the same without the figures read from the kernel, which
    // only the status routes read (docs/METRICS.md, "In status").
    let mut program_status = status.clone();
    if let Some(properties) = program_status.as_object_mut() {
        for key in FIGURES {
            properties.remove(key);
        }
    }
    put("Status", exact(status));
    let mut program_status = exact(program_status);
    program_status["description"] = json!(
        "A program's status inside a program object: the status of GET /status/{id} without cpu_percent, cpu_seconds, memory_bytes and processes (read from the kernel, only by the status routes)"
    );
    put("ProgramStatus", program_status);
    put(
        "QuickStartStatus",
        exact(json!({
            "id": integer(),
            "name": { "type": "string", "description": "quick-start-N" },
            "command": { "anyOf": [string(), strings()] },
            "status": process_state(),
            "pid": { "type": ["integer", "null"] },
            "started_at": { "type": ["integer", "null"] },
            "uptime": { "type": ["string", "null"] },
            "uptime_seconds": { "type": ["integer", "null"] },
            "restarts": integer(),
            "last_exit": nullable(reference("ExitInfo")),
            "last_error": { "type": ["string", "null"] },
            "exit_code": { "type": ["integer", "null"], "description": "Once it exited" },
            "timed_out": boolean(),
            "created_at": { "type": "integer", "description": "Unix seconds" }
        })),
    );
}

// ---- events ------------------------------------------------------------------------------

fn events(put: &mut impl FnMut(&str, Value)) {
    put(
        "ConfigEvent",
        exact(json!({
            "type": { "type": "string", "const": "config" },
            "id": integer(),
            "name": string(),
            "change": one_of_strings_owned([ChangeKind::Created, ChangeKind::Edited, ChangeKind::Removed].map(serialized)),
            "source": one_of_strings_owned([Source::File, Source::Api].map(serialized)),
            "generation": integer(),
            "problems": strings()
        })),
    );
    put(
        "StateEvent",
        exact(json!({
            "type": { "type": "string", "const": "state" },
            "id": { "type": ["integer", "null"], "description": "null for a quick-start run" },
            "name": string(),
            "from": process_state(),
            "to": process_state(),
            "reason": string(),
            "time": number()
        })),
    );
    put(
        "HealthEvent",
        exact(json!({
            "type": { "type": "string", "const": "health" },
            "id": integer(),
            "name": string(),
            "health": nullable(health()),
            "ready": boolean(),
            "waiting_for": strings(),
            "reason": string(),
            "time": number()
        })),
    );
    put(
        "LaggedEvent",
        exact(json!({
            "type": { "type": "string", "const": "lagged" },
            "missed": { "type": "integer", "description": "How many events this reader missed: re-read the state" }
        })),
    );
    put(
        "ResetEvent",
        exact(json!({
            "type": { "type": "string", "const": "reset" },
            "last_event_id": { "type": "string", "description": "The Last-Event-ID the client gave" },
            "reason": string()
        })),
    );
    put(
        "Event",
        json!({
            "description": "One event of GET /events (its `event:` is the type; its `id:` the event's id, for Last-Event-ID)",
            "oneOf": [reference("ConfigEvent"), reference("StateEvent"), reference("HealthEvent"), reference("LaggedEvent"), reference("ResetEvent")],
            "discriminator": { "propertyName": "type", "mapping": {
                "config": "#/components/schemas/ConfigEvent",
                "state": "#/components/schemas/StateEvent",
                "health": "#/components/schemas/HealthEvent",
                "lagged": "#/components/schemas/LaggedEvent",
                "reset": "#/components/schemas/ResetEvent"
            } }
        }),
    );
}

// ---- errors ------------------------------------------------------------------------------

fn errors(put: &mut impl FnMut(&str, Value)) {
    let mut all: Vec<&str> = ERROR_CODES
        .iter()
        .flat_map(|(_, codes)| codes.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    put("ErrorCode", one_of_strings(all));
    put(
        "FieldProblem",
        object(
            &["field", "message"],
            json!({
                "field": { "type": ["string", "null"] },
                "message": string(),
                "line": { "type": "integer", "description": "For a file's text (programs/put): where the problem is" },
                "column": { "type": ["integer", "null"] }
            }),
        ),
    );
    put(
        "ErrorDetails",
        json!({
            "description": "What the error is about: null, the problems of each field ([{field, message}]), or an object naming what was refused",
            "anyOf": [
                { "type": "null" },
                { "type": "array", "items": reference("FieldProblem") },
                {
                    "type": "object",
                    "properties": {
                        "id": { "type": ["string", "integer", "null"], "description": "The id or name asked for (404); the program's id (409 not_running)" },
                        "name": string(),
                        "field": string(),
                        "hint": string(),
                        "etag": { "type": "string", "description": "The program's current ETag (412)" },
                        "line": integer(),
                        "column": integer(),
                        "limit": integer(),
                        "host": { "type": ["string", "null"] },
                        "origin": { "type": ["string", "null"] },
                        "content_type": { "type": ["string", "null"] },
                        "needed": role(),
                        "role": role(),
                        "not_ready": { "type": "array", "items": reference("NotReady") },
                        "message": string(),
                        "problems": { "type": "array", "items": reference("Problem") },
                        "running_generation": integer(),
                        "status": { "description": "409 not_running: the program's state; 422 start_failed: its whole status", "anyOf": [process_state(), reference("Status")] }
                    }
                }
            ]
        }),
    );
    for (status, codes) in ERROR_CODES {
        put(
            &error_schema_name(*status),
            json!({
                "type": "object",
                "required": ["statusCode", "message", "error"],
                "properties": {
                    "statusCode": { "type": "integer", "const": status },
                    "message": string(),
                    "error": {
                        "type": "object",
                        "required": ["code", "details"],
                        "properties": {
                            "code": { "type": "string", "enum": codes },
                            "details": reference("ErrorDetails")
                        }
                    }
                }
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pieces of a source file between `start` and the next `"`, for every `start`.
    fn codes_after<'a>(text: &'a str, start: &str) -> Vec<(&'a str, &'a str)> {
        let mut found = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(start) {
            rest = &rest[at + start.len()..];
            // `Kind,"code"` or `STATUS,"code"`.
            let Some((kind, after)) = rest.split_once(',') else {
                break;
            };
            if let Some(code) = after
                .strip_prefix('"')
                .and_then(|after| after.split('"').next())
            {
                found.push((kind, code));
            }
        }
        found
    }

    fn status_of_kind(kind: &str) -> u16 {
        match kind {
            "Invalid" => 400,
            "NotFound" => 404,
            "Conflict" => 409,
            "Stale" => 412,
            "Unprocessable" => 422,
            "Internal" => 500,
            "Unavailable" => 503,
            "InsufficientStorage" => 507,
            other => panic!("unknown FailureKind::{other}"),
        }
    }

    fn status_of_constant(constant: &str) -> u16 {
        match constant {
            "BAD_REQUEST" => 400,
            "UNAUTHORIZED" => 401,
            "FORBIDDEN" => 403,
            "NOT_FOUND" => 404,
            "METHOD_NOT_ALLOWED" => 405,
            "REQUEST_TIMEOUT" => 408,
            "CONFLICT" => 409,
            "PRECONDITION_FAILED" => 412,
            "PAYLOAD_TOO_LARGE" => 413,
            "UNSUPPORTED_MEDIA_TYPE" => 415,
            "UNPROCESSABLE_ENTITY" => 422,
            "INTERNAL_SERVER_ERROR" => 500,
            "SERVICE_UNAVAILABLE" => 503,
            "INSUFFICIENT_STORAGE" => 507,
            other => panic!("unknown StatusCode::{other}"),
        }
    }

    fn sources(folder: &std::path::Path, files: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(folder).expect("read src").flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, files);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }

    /// Every `error.code` the daemon's loop (`Failure::new(FailureKind::…, "code"`) and the
    /// API (`error(StatusCode::…, "code"`) send is documented under the status it goes with.
    /// (The supervisord bridge answers XML-RPC faults, not the envelope: it is left out.)
    #[test]
    fn every_error_code_in_the_source_is_documented_under_its_status() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        let mut checked = 0;
        for file in files {
            // This file names the patterns it looks for.
            if file.components().any(|part| part.as_os_str() == "rpc")
                || file.ends_with("api/schemas.rs")
            {
                continue;
            }
            let text: String = std::fs::read_to_string(&file)
                .expect("read")
                .split_whitespace()
                .collect();
            let found = codes_after(&text, "Failure::new(FailureKind::")
                .into_iter()
                .map(|(kind, code)| (status_of_kind(kind), code))
                .chain(
                    codes_after(&text, "error(StatusCode::")
                        .into_iter()
                        .map(|(constant, code)| (status_of_constant(constant), code)),
                );
            for (status, code) in found {
                checked += 1;
                let listed = ERROR_CODES
                    .iter()
                    .any(|(known, codes)| *known == status && codes.contains(&code));
                assert!(
                    listed,
                    "{}: {status} {code:?} is not in schemas::ERROR_CODES",
                    file.display()
                );
            }
        }
        assert!(
            checked > 30,
            "only {checked} codes found: is the scan broken?"
        );
    }

    #[test]
    fn enums_are_what_the_types_serialize() {
        let components = components();
        let status = &components["Status"]["properties"]["status"]["enum"];
        for state in ProcessState::ALL {
            assert!(
                status
                    .as_array()
                    .expect("enum")
                    .contains(&serde_json::to_value(state).expect("state")),
                "{state:?}"
            );
        }
        assert_eq!(
            status.as_array().map(Vec::len),
            Some(ProcessState::ALL.len())
        );
        assert_eq!(
            components["Status"]["properties"]["health"]["anyOf"][0]["enum"],
            json!(["starting", "healthy", "unhealthy"])
        );
        assert_eq!(
            components["Program"]["properties"]["format"]["enum"],
            json!(["toml", "yaml"])
        );
        assert_eq!(
            serde_json::to_value(Format::Yaml).expect("format"),
            json!(Format::Yaml.extension())
        );
    }
}
