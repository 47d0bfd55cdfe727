//! Writing XML-RPC documents. Text is escaped (`&`, `<`, `>`; a carriage return as `&#13;` so it
//! survives the reader's line-end normalization), and a character XML 1.0 cannot carry at all
//! (most control characters: a log's colour codes) becomes U+FFFD, so the document is always
//! well formed.

use std::fmt::Write;

use super::{Call, Fault, Value};

/// `<methodResponse>` with one value.
pub fn write_response(value: &Value) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<params>\n<param>\n");
    write_value(&mut out, value);
    out.push_str("\n</param>\n</params>\n</methodResponse>\n");
    out.into_bytes()
}

/// `<methodResponse>` with a fault.
pub fn write_fault(fault: &Fault) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodResponse>\n<fault>\n");
    write_value(&mut out, &fault.to_value());
    out.push_str("\n</fault>\n</methodResponse>\n");
    out.into_bytes()
}

/// `<methodCall>`: what a client sends (the tests' client, and round trips).
pub fn write_call(call: &Call) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodCall>\n<methodName>");
    escape(&mut out, &call.method);
    out.push_str("</methodName>\n<params>\n");
    for param in &call.params {
        out.push_str("<param>\n");
        write_value(&mut out, param);
        out.push_str("\n</param>\n");
    }
    out.push_str("</params>\n</methodCall>\n");
    out.into_bytes()
}

fn write_value(out: &mut String, value: &Value) {
    out.push_str("<value>");
    match value {
        Value::Int(number) => {
            // Clients without the i8 extension (Python's) read 32-bit ints only.
            let kind = if i32::try_from(*number).is_ok() {
                "int"
            } else {
                "i8"
            };
            let _ = write!(out, "<{kind}>{number}</{kind}>");
        }
        Value::Bool(flag) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*flag));
        }
        Value::String(text) => {
            out.push_str("<string>");
            escape(out, text);
            out.push_str("</string>");
        }
        Value::Double(number) => {
            // Never NaN or infinite here: the reader refuses them and no answer holds one.
            let number = if number.is_finite() { *number } else { 0.0 };
            let _ = write!(out, "<double>{number:?}</double>");
        }
        Value::DateTime(text) => {
            out.push_str("<dateTime.iso8601>");
            escape(out, text);
            out.push_str("</dateTime.iso8601>");
        }
        Value::Base64(bytes) => {
            let _ = write!(out, "<base64>{}</base64>", super::base64::encode(bytes));
        }
        Value::Array(items) => {
            out.push_str("<array><data>\n");
            for item in items {
                write_value(out, item);
                out.push('\n');
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>\n");
            for (name, member) in members {
                out.push_str("<member>\n<name>");
                escape(out, name);
                out.push_str("</name>\n");
                write_value(out, member);
                out.push_str("\n</member>\n");
            }
            out.push_str("</struct>");
        }
        Value::Nil => out.push_str("<nil/>"),
    }
    out.push_str("</value>");
}

fn escape(out: &mut String, text: &str) {
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(character),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            // Surrogates cannot be in a `str`; every other character is allowed.
            character => out.push(character),
        }
    }
}
