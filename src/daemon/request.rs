//! What the outside (the HTTP API, tests) may ask of the daemon's loop, and how it answers:
//! plain data and a kind of error, no HTTP. The API maps these to status codes.

use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::spec::Format;

/// One request to the loop.
#[derive(Debug)]
pub enum Request {
    List,
    Get {
        id: String,
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
    },
    History {
        id: String,
    },
    /// Where a program's logs are, for the API to read them.
    LogPaths {
        id: String,
    },
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
            Request::List
                | Request::Get { .. }
                | Request::Status { .. }
                | Request::History { .. }
                | Request::LogPaths { .. }
                | Request::QuickList
                | Request::QuickStatus { .. }
                | Request::QuickLogPaths { .. }
        )
    }
}

/// A request with the channel its answer goes back on.
#[derive(Debug)]
pub struct Envelope {
    pub request: Request,
    pub reply: oneshot::Sender<Reply>,
}

/// What the loop answers.
pub type Reply = Result<Answer, Failure>;

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub message: String,
    pub data: Value,
    /// The request created something (HTTP 201).
    pub created: bool,
    /// The version of the program's file, for `ETag`.
    pub etag: Option<String>,
}

impl Answer {
    pub fn ok(data: Value) -> Answer {
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
    /// The daemon could not do it: a disk error, shutting down (HTTP 500/503).
    Internal,
    Unavailable,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub kind: FailureKind,
    /// A short code for scripts: `not_found`, `not_enabled`, `name_taken`, `invalid_fields`…
    pub code: &'static str,
    pub message: String,
    pub details: Value,
}

impl Failure {
    pub fn new(kind: FailureKind, code: &'static str, message: impl Into<String>) -> Failure {
        Failure {
            kind,
            code,
            message: message.into(),
            details: Value::Null,
        }
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
