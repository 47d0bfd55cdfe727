//! A client's session with a running daemon: where it is (`--url`), the token, and the one place
//! that turns what went wrong — an unreachable address, a refused token, an error envelope — into
//! a message a person can act on and a documented exit code ([`CliError`]).

use std::io;

use serde_json::{Map, Value};

use super::client::{Client, Endpoint, HttpResponse};
use super::{GlobalArgs, exit, serve};
use crate::api::BASE;

/// Why a command failed: what to tell the person, and the exit code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub code: u8,
    pub message: String,
    /// With `--json`: the API's error body, printed to stdout for scripts.
    pub body: Option<Value>,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
            body: None,
        }
    }

    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(exit::USAGE, message)
    }

    /// Puts what was being done in front of the message: `start web: program not enabled`.
    pub fn context(self, doing: &str) -> CliError {
        CliError {
            message: format!("{doing}: {}", self.message),
            ..self
        }
    }

    /// Prints the error: the message on stderr, and the API's error body on stdout when the
    /// person asked for JSON.
    pub fn report(&self) {
        if let Some(body) = &self.body {
            super::output::print_json(body);
        }
        // An exit code that is the whole answer (`diff --exit-code`) has nothing to say.
        if !self.message.is_empty() {
            eprintln!("hoody-daemon: {}", self.message);
        }
    }
}

impl From<io::Error> for CliError {
    fn from(error: io::Error) -> CliError {
        CliError::new(exit::ERROR, error.to_string())
    }
}

/// What an API call answered: the envelope's `data`.
#[derive(Debug, Clone)]
pub struct Answered {
    pub data: Value,
}

/// A connection to one daemon (each request opens its own connection).
pub struct Session {
    pub client: Client,
    pub json: bool,
}

impl Session {
    pub fn open(global: &GlobalArgs) -> Result<Session, CliError> {
        let endpoint = Endpoint::parse(&global.url)
            .map_err(|message| CliError::usage(format!("--url / HOODY_DAEMON_URL: {message}")))?;
        let token = serve::load_token(global.token_file.as_deref())
            .map_err(|message| CliError::new(exit::ERROR, message))?;
        Ok(Session {
            client: Client::new(endpoint, token),
            json: global.json,
        })
    }

    /// The same daemon and token, with another read time-out (a waiting call's).
    pub fn with_timeout(&self, timeout: std::time::Duration) -> Session {
        let mut client = self.client.clone();
        client.timeout = timeout;
        Session {
            client,
            json: self.json,
        }
    }

    pub fn get(&self, path: &str) -> Result<Answered, CliError> {
        self.call("GET", path, None, &[])
    }

    /// The list behind `GET path` (`data.programs`) for a human table: `None` when it was printed
    /// as JSON (`--json`) or is empty (then `empty` is printed instead).
    pub fn list_for_table(&self, path: &str, empty: &str) -> Result<Option<Vec<Value>>, CliError> {
        let answered = self.get(path)?;
        if self.json {
            super::output::print_json(&answered.data);
            return Ok(None);
        }
        let programs = answered.data["programs"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if programs.is_empty() {
            println!("{empty}");
            return Ok(None);
        }
        Ok(Some(programs))
    }

    pub fn post(&self, path: &str, body: Option<&Value>) -> Result<Answered, CliError> {
        self.call("POST", path, body, &[])
    }

    /// One request under the API's base path; an error envelope becomes a [`CliError`].
    pub fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answered, CliError> {
        let response = self
            .client
            .request(method, &format!("{BASE}{path}"), body, headers)
            .map_err(|error| self.transport_error(&error))?;
        self.answer(response)
    }

    /// Turns an HTTP answer into its `data`, or the error it carries.
    pub fn answer(&self, response: HttpResponse) -> Result<Answered, CliError> {
        let body = response.json();
        if (200..300).contains(&response.status) && body.get("data").is_some() {
            return Ok(Answered {
                data: body["data"].clone(),
            });
        }
        Err(self.api_error(response.status, body))
    }

    /// The daemon could not be reached or did not answer.
    pub fn transport_error(&self, error: &io::Error) -> CliError {
        let address = &self.client.endpoint;
        let unreachable = matches!(
            error.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::NotFound
                | io::ErrorKind::AddrNotAvailable
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
        ) || error.raw_os_error() == Some(libc::ENOTSOCK);
        let timed_out = matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        );
        if timed_out {
            return CliError::new(
                exit::ERROR,
                format!(
                    "timed out after {} s waiting for the daemon at {address} to answer; it may still be doing what was asked (see `hoody-daemon status`)",
                    self.client.timeout.as_secs()
                ),
            );
        }
        if unreachable {
            CliError::new(
                exit::ERROR,
                format!(
                    "cannot reach the daemon at {address}: {error}\n\
                     Is it running? Start it with `hoody-daemon serve`, or point --url (or HOODY_DAEMON_URL) at it."
                ),
            )
        } else {
            CliError::new(
                exit::ERROR,
                format!("the daemon at {address} did not answer properly: {error}"),
            )
        }
    }

    /// An error envelope as a message: the API's message, then its details, one per line.
    pub fn api_error(&self, status: u16, body: Value) -> CliError {
        let address = &self.client.endpoint;
        let Some(message) = body.get("message").and_then(Value::as_str) else {
            return CliError::new(
                exit::ERROR,
                format!(
                    "the daemon at {address} answered HTTP {status} without the API's JSON envelope; is --url pointing at hoody-daemon?"
                ),
            );
        };
        if body["error"]["code"] == "start_failed" {
            return CliError {
                code: exit::ERROR,
                message: start_failed_message(&body["error"]["details"], message),
                body: self.json.then_some(body),
            };
        }
        let code = match status {
            400 | 413 => exit::INVALID,
            404 => exit::NOT_FOUND,
            409 | 412 => exit::CONFLICT,
            _ => exit::ERROR,
        };
        let mut text = message.to_string();
        let details = &body["error"]["details"];
        for line in detail_lines(details) {
            if message.contains(&line) {
                continue;
            }
            text.push_str("\n  ");
            text.push_str(&line);
        }
        if status == 401 {
            text.push_str(
                "\n  the daemon needs its token: set HOODY_DAEMON_TOKEN or pass --token-file FILE",
            );
        }
        CliError {
            code,
            message: text,
            body: self.json.then_some(body),
        }
    }
}

/// What a start that ended without the program running says: `NAME did not start (FATAL: …)`,
/// the last lines it wrote to stderr, and where to look next. A program that never ran (a
/// spawn error: no exit) has no log to point at; its reason says what to fix.
fn start_failed_message(details: &Value, message: &str) -> String {
    let status = &details["status"];
    let name = details["name"].as_str().unwrap_or("the program");
    let mut text = message.to_string();
    if let Some(stderr) = status["last_stderr"].as_str() {
        text.push_str("\n  its last stderr lines:");
        for line in stderr.lines() {
            text.push_str("\n    ");
            text.push_str(line);
        }
    }
    if status["last_exit"].is_null() {
        text.push_str(
            "\n  it never ran, so it has no log: fix what the reason names and start it again",
        );
    } else {
        text.push_str(&format!(
            "\n  see `hoody-daemon programs logs {name}` for more"
        ));
    }
    text
}

/// Readable lines for an error's details: `field `x`: why` for field problems, `key: value`
/// for an object, nothing for null.
fn detail_lines(details: &Value) -> Vec<String> {
    match details {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let text = match (item.get("field"), item.get("message")) {
                    (Some(Value::String(field)), Some(Value::String(message))) => {
                        format!("field `{field}`: {message}")
                    }
                    (_, Some(Value::String(message))) => message.clone(),
                    _ => return scalar(item),
                };
                match (item["line"].as_u64(), item["column"].as_u64()) {
                    (Some(line), Some(column)) => format!("line {line}:{column}: {text}"),
                    (Some(line), None) => format!("line {line}: {text}"),
                    _ => text,
                }
            })
            .collect(),
        Value::Object(map) => object_lines(map),
        other => vec![scalar(other)],
    }
}

fn object_lines(map: &Map<String, Value>) -> Vec<String> {
    let mut lines = Vec::new();
    for (key, value) in map {
        match (key.as_str(), value) {
            // A config error's problems are in its message; the id or name is the one asked.
            ("problems" | "id" | "name", _) | (_, Value::Null) => {}
            _ => lines.push(format!("{key}: {}", scalar(value))),
        }
    }
    lines
}

/// A value as text: strings bare, everything else as compact JSON.
pub fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Percent-encodes an id or name for a path segment.
pub fn segment(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn details_read_as_lines() {
        let problems = json!([{ "field": "command", "message": "is required" }]);
        assert_eq!(detail_lines(&problems), ["field `command`: is required"]);
        let placed = json!([{ "field": "boot", "message": "expected true or false", "line": 2, "column": 1 }]);
        assert_eq!(
            detail_lines(&placed),
            ["line 2:1: field `boot`: expected true or false"]
        );
        let object = json!({ "name": "web", "hint": "enable it first", "problems": [1] });
        assert_eq!(detail_lines(&object), ["hint: enable it first"]);
        assert!(detail_lines(&Value::Null).is_empty());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("web-1.a_b"), "web-1.a_b");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
    }
}
