//! What the outside (the HTTP API, tests) may ask of the daemon's loop, and how it answers:
//! plain data and a kind of error, no HTTP. The API maps these to status codes and wraps the
//! data in its envelope. The data is a JSON value, or for the big reads (status, the list of
//! programs, one program) JSON text the loop has already written from borrowed views of its
//! state ([`Data::Json`]), so no tree of values is built for them.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::spec::Format;
use crate::supervisor::ProcessState;

/// How much of a program's secrets a read shows (SPEC §10): `Full` for `admin`; `Redacted`
/// for `operate`: no file text, environment values as `"<redacted>"`, no diffs in the history,
/// no ETag; `NoLogs` for `read`: that, and no log lines either (a status's `last_stderr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Full,
    Redacted,
    NoLogs,
}

impl View {
    /// File text, environment values, diffs, ETags.
    pub fn shows_secrets(self) -> bool {
        self == View::Full
    }

    /// What programs wrote (`last_stderr`): `operate` reads logs, `read` does not.
    pub fn shows_logs(self) -> bool {
        self != View::NoLogs
    }
}

/// What an environment value is shown as to whoever may not see it.
pub const REDACTED: &str = "<redacted>";

/// One request to the loop.
#[derive(Debug)]
pub enum Request {
    List {
        view: View,
    },
    Get {
        id: String,
        view: View,
    },
    Create {
        fields: Map<String, Value>,
        format: Format,
    },
    Edit {
        id: String,
        changes: Map<String, Value>,
        if_match: Option<String>,
    },
    /// Create or replace a program's whole file, as text (`file` is `NAME.toml|yaml|yml`).
    Put {
        file: String,
        text: String,
        if_match: Option<String>,
    },
    Remove {
        id: String,
        wait: bool,
    },
    SetEnabled {
        id: String,
        enabled: bool,
        wait: bool,
    },
    Start {
        id: String,
        wait: bool,
    },
    Stop {
        id: String,
        wait: bool,
    },
    Restart {
        id: String,
        wait: bool,
    },
    Status {
        id: Option<String>,
        view: View,
    },
    History {
        id: String,
        view: View,
    },
    /// Where a program's logs are, for the API to read them.
    LogPaths {
        id: String,
    },
    /// Where the logs of these programs are (every program with a valid version when the
    /// list is empty), for the merged `GET /logs`.
    AllLogPaths {
        ids: Vec<String>,
    },
    /// Every program's process (or one's) as the supervisord bridge shows it: a
    /// [`ProcessesAnswer`].
    Processes {
        id: Option<String>,
    },
    /// Sends a signal to a program's main process (only to the process itself):
    /// `POST /programs/{id}/signal` and supervisorctl's `signal`.
    Signal {
        id: String,
        signal: nix::sys::signal::Signal,
    },
    /// Empties a program's log files (supervisord's `clearProcessLogs`).
    ClearLogs {
        id: String,
    },
    /// Rescans programs.d now, reading every file (as SIGHUP does), and says what changed.
    Rescan,
    QuickStart {
        fields: Map<String, Value>,
    },
    QuickList,
    QuickStatus {
        id: String,
    },
    QuickStop {
        id: String,
        wait: bool,
    },
    QuickLogPaths {
        id: String,
    },
    /// Whether every program that should run is ready (`GET /ready`); `names` also says which
    /// are not (for a caller with a valid token).
    Ready {
        names: bool,
    },
    /// The events published after `last_event_id` (an SSE `Last-Event-ID`), from the ring of
    /// the last ones: [`Data::Events`].
    EventsSince {
        last_event_id: String,
    },
    /// The Prometheus text of `GET /metrics`: [`Data::Text`].
    Metrics,
    /// Stop every program (in reverse priority order) and end the loop; `force` kills at once.
    Shutdown {
        force: bool,
    },
}

impl Request {
    /// Reads that change nothing: the loop answers them without reconciling afterwards (a
    /// reconcile and a look at every job per status call made a status of 1,000 programs cost
    /// tens of milliseconds; see docs/PERFORMANCE.md).
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Request::List { .. }
                | Request::Get { .. }
                | Request::Status { .. }
                | Request::History { .. }
                | Request::LogPaths { .. }
                | Request::AllLogPaths { .. }
                | Request::Processes { .. }
                | Request::Ready { .. }
                | Request::EventsSince { .. }
                | Request::Metrics
                | Request::QuickList
                | Request::QuickStatus { .. }
                | Request::QuickLogPaths { .. }
        )
    }
}

/// The answer to [`Request::Processes`] (its `data`, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessesAnswer {
    /// The daemon is stopping its programs to exit.
    pub shutting_down: bool,
    /// By name.
    pub processes: Vec<ProcessInfo>,
}

/// One program's process, with what supervisord's `getProcessInfo` needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessInfo {
    pub id: u64,
    pub name: String,
    pub priority: i32,
    pub enabled: bool,
    pub boot: bool,
    /// The message of the file's problem, while it has one.
    pub config_error: Option<String>,
    pub state: ProcessState,
    pub pid: Option<u32>,
    /// Unix seconds: when the current or last process started, and when the last one ended.
    pub started_at: Option<u64>,
    pub stopped_at: Option<u64>,
    /// How the last process ended: its exit code, or the signal that killed it.
    pub exit_code: Option<i32>,
    pub exit_signal: Option<i32>,
    pub last_error: Option<String>,
    /// The log files (absent when discarded, or stderr when it goes to the stdout log).
    pub stdout_logfile: Option<String>,
    pub stderr_logfile: Option<String>,
}

/// A request with the channel its answer goes back on.
#[derive(Debug)]
pub struct Envelope {
    pub request: Request,
    /// Who asked (a token's name, `uid N`), for the audit trail of the changes it makes.
    pub author: Option<Arc<str>>,
    pub reply: oneshot::Sender<Reply>,
}

/// What the loop answers.
pub type Reply = Result<Answer, Failure>;

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub message: String,
    pub data: Data,
    /// The request created something (HTTP 201).
    pub created: bool,
    /// The version of the program's file, for `ETag`.
    pub etag: Option<String>,
}

/// The data of an answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// A JSON value: what writes answer, since the loop may still add to it (a write that waits
    /// adds the program's status once it has settled).
    Value(Value),
    /// JSON text, ready to send. The big reads serialize borrowed views of the loop's state
    /// straight to bytes: for the status of 1,000 programs, building a `Value` tree (a `String`
    /// key and a map node per field) cost more than everything else (docs/PERFORMANCE.md).
    Json(Vec<u8>),
    /// Text sent as it is, outside the envelope (`GET /metrics`).
    Text(String),
    /// What a reconnecting event stream missed.
    Events(super::Since),
}

impl Data {
    /// The value, when the answer carries one (every answer but the big reads).
    pub fn as_value(&self) -> Option<&Value> {
        match self {
            Data::Value(value) => Some(value),
            Data::Json(_) | Data::Text(_) | Data::Events(_) => None,
        }
    }

    /// The object to add to, when the answer carries one.
    pub fn as_object_mut(&mut self) -> Option<&mut Map<String, Value>> {
        match self {
            Data::Value(Value::Object(object)) => Some(object),
            _ => None,
        }
    }
}

impl Answer {
    pub fn ok(data: Value) -> Answer {
        Answer::with_data(Data::Value(data))
    }

    /// An answer whose data is `view` written as JSON here, on the caller's thread (the loop's:
    /// a view borrows its state and cannot travel). `size` is about how many bytes it takes,
    /// so that the buffer is not grown (and copied) a dozen times on the way.
    pub fn json(view: &impl Serialize, size: usize) -> Result<Answer, Failure> {
        Answer::written(size, |json| serde_json::to_writer(json, view))
    }

    /// An answer whose data `write` writes as JSON (by hand where serde's per-field work is
    /// too slow: the status of all programs).
    pub fn written(
        size: usize,
        write: impl FnOnce(&mut Vec<u8>) -> serde_json::Result<()>,
    ) -> Result<Answer, Failure> {
        let mut json = Vec::with_capacity(size);
        write(&mut json).map_err(|error| {
            Failure::new(
                FailureKind::Internal,
                "serialize_failed",
                format!("cannot write the answer as JSON: {error}"),
            )
        })?;
        Ok(Answer::with_data(Data::Json(json)))
    }

    pub fn with(data: Data) -> Answer {
        Answer::with_data(data)
    }

    fn with_data(data: Data) -> Answer {
        Answer {
            message: "OK".to_string(),
            data,
            created: false,
            etag: None,
        }
    }
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request itself is wrong (HTTP 400).
    Invalid,
    /// No such program (HTTP 404).
    NotFound,
    /// The request clashes with the state: not enabled, name taken (HTTP 409).
    Conflict,
    /// `If-Match` names an older version (HTTP 412).
    Stale,
    /// Understood and carried out, but it could not succeed: a start that ended without the
    /// program running (HTTP 422, `start_failed`).
    Unprocessable,
    /// The daemon could not do it: a bug or an unexpected error (HTTP 500).
    Internal,
    /// Not now: shutting down, or waiting for what the last run left (HTTP 503, with
    /// `Retry-After` when [`Failure::retry_after`] says when).
    Unavailable,
    /// A file the write needs could not be saved: the disk (or a quota) is full (HTTP 507).
    /// Nothing changed.
    InsufficientStorage,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    /// A short code for scripts: `not_found`, `not_enabled`, `name_taken`, `invalid_fields`…
    pub code: &'static str,
    pub message: String,
    pub details: Value,
    /// Seconds after which the request may succeed (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl Failure {
    pub fn new(kind: FailureKind, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            code,
            message: message.into(),
            details: Value::Null,
            retry_after: None,
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Failure {
        self.retry_after = Some(seconds);
        self
    }

    pub fn with_details(mut self, details: Value) -> Failure {
        self.details = details;
        self
    }

    pub fn not_found(id: &str) -> Failure {
        Failure::new(
            FailureKind::NotFound,
            "not_found",
            format!("no program {}", crate::spec::name::quote_short(id)),
        )
        .with_details(serde_json::json!({ "id": id }))
    }
}
