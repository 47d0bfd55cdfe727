//! The XML-RPC codec (the wire format of supervisord's `/RPC2`): values, method calls, responses
//! and faults, read from and written to bytes. **Pure**: no I/O, no HTTP, nothing of
//! supervisord's vocabulary (that is `api::rpc`).
//!
//! The reader is a small hand-written parser for the subset of XML that XML-RPC uses (elements,
//! text, the five predefined entities, character references, comments, CDATA, an XML
//! declaration). Whatever lies beyond it is refused rather than skipped: a `DOCTYPE` (so no
//! entity can be declared, let alone expanded), processing instructions, unknown entities, a
//! declared encoding other than UTF-8. Nesting is bounded ([`MAX_DEPTH`] values, [`MAX_ELEMENTS`]
//! in all), as are the lengths of names and numbers, and integers must fit their type; the
//! input itself is bounded by the caller (the API's 1 MiB body limit). ARCHITECTURE.md says why
//! no XML crate is used.

mod base64;
mod parse;
mod write;

#[cfg(test)]
mod tests;

pub use base64::{decode as base64_decode, encode as base64_encode};
pub use parse::{parse_call, parse_response};
pub use write::{write_call, write_fault, write_response};

/// The deepest nesting of values (arrays and structs in one another) a document may have.
pub const MAX_DEPTH: usize = 32;
/// The most elements a document may have.
pub const MAX_ELEMENTS: usize = 100_000;

/// One XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `<int>`/`<i4>` (32 bits) or `<i8>` (64 bits).
    Int(i64),
    Bool(bool),
    String(String),
    Double(f64),
    /// `<dateTime.iso8601>`, as written (`20240102T03:04:05`).
    DateTime(String),
    Base64(Vec<u8>),
    Array(Vec<Value>),
    /// Members in the order they came.
    Struct(Vec<(String, Value)>),
    /// `<nil/>` (an extension most clients know).
    Nil,
}

impl Value {
    pub fn string(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// A struct from (name, value) pairs.
    pub fn structure<const N: usize>(members: [(&str, Value); N]) -> Value {
        Value::Struct(
            members
                .into_iter()
                .map(|(name, value)| (name.to_string(), value))
                .collect(),
        )
    }

    /// A struct member by name.
    pub fn member(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(members) => members
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) => Some(text),
            _ => None,
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(number) => Some(*number),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(flag) => Some(*flag),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The XML-RPC type name (`int`, `string`, `struct`…), for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Bool(_) => "boolean",
            Value::String(_) => "string",
            Value::Double(_) => "double",
            Value::DateTime(_) => "dateTime.iso8601",
            Value::Base64(_) => "base64",
            Value::Array(_) => "array",
            Value::Struct(_) => "struct",
            Value::Nil => "nil",
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::String(text.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::String(text)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Value {
        Value::Bool(flag)
    }
}

impl From<i32> for Value {
    fn from(number: i32) -> Value {
        Value::Int(i64::from(number))
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::Array(items)
    }
}

/// A `<methodCall>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub method: String,
    pub params: Vec<Value>,
}

/// A `<fault>`: a code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    pub code: i32,
    pub message: String,
}

impl Fault {
    pub fn new(code: i32, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
        }
    }

    /// The fault as a struct, as `system.multicall` returns a failed call.
    pub fn to_value(&self) -> Value {
        Value::structure([
            ("faultCode", Value::from(self.code)),
            ("faultString", Value::string(self.message.clone())),
        ])
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "fault {}: {}", self.code, self.message)
    }
}

/// Why a document was refused: what, and on which line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}
