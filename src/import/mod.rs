//! Importers: a supervisord configuration ([`supervisord`]) or a PM2 ecosystem / `pm2 jlist`
//! ([`pm2`]) turned into program files. **Pure**: they take text (or parsed JSON) and give
//! [`ImportedProgram`]s — the fields of each program file, where each came from, and every
//! setting that could not be mapped — never touching a file or a process. Reading the files,
//! following `[include]` globs, evaluating an `ecosystem.config.js` with node and writing the
//! folder are the CLI's (`cli::import`).
//!
//! Where the source's defaults differ from hoody-daemon's, the source's are written out
//! explicitly (supervisord's `autostart = true` becomes `boot = true`, its `stopasgroup = false`
//! is written; PM2's `autorestart: true` and SIGINT stop are written), so a program behaves as
//! it did; the file's header says so.

pub mod ini;
pub mod pattern;
pub mod pm2;
pub mod supervisord;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{Map, Value};

use crate::spec::{Format, ProgramSpec, UserDb, UserSpec};

/// One program to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedProgram {
    /// The program's name (and file stem).
    pub name: String,
    /// Its fields, as a program file holds them.
    pub fields: Map<String, Value>,
    /// Where it came from: `supervisord.conf [program:web]`, `ecosystem.config.js apps[0]`.
    pub source: String,
    /// What of the source could not be carried over, one line each (`key = value: why`).
    pub unmapped: Vec<String>,
    /// What was decided on the way (a default written out, a value expanded), one line each.
    pub notes: Vec<String>,
}

/// What an import gives: the programs, and what is said about the source as a whole (sections
/// or keys that belong to no program).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    pub programs: Vec<ImportedProgram>,
    pub unmapped: Vec<String>,
    pub notes: Vec<String>,
}

/// Why an import cannot be done: the source and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    /// A file, with a line where known (`conf.d/web.conf:12`), or a place in it.
    pub source: String,
    pub message: String,
}

impl ImportError {
    pub fn new(source: impl Into<String>, message: impl Into<String>) -> ImportError {
        ImportError {
            source: source.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.source, self.message)
    }
}

impl std::error::Error for ImportError {}

impl ImportedProgram {
    /// The program file's text: a header saying where it came from and what was not carried
    /// over, then the fields in their canonical order.
    pub fn render(&self, format: Format, tool: &str) -> String {
        let mut text = format!(
            "# Imported by `hoody-daemon import {tool}` from {}.\n",
            self.source
        );
        for note in &self.notes {
            text.push_str(&format!("# note: {}\n", one_line(note)));
        }
        for unmapped in &self.unmapped {
            text.push_str(&format!("# not mapped: {}\n", one_line(unmapped)));
        }
        text.push('\n');
        text.push_str(&crate::spec::render(format, &self.fields));
        text
    }

    /// Checks the rendered file as the daemon will read it, but for its user, which needs
    /// not exist on the machine that imports (it must where the daemon runs).
    pub fn check(&self, format: Format, text: &str) -> Result<(), String> {
        ProgramSpec::from_text(&self.name, format, text, &AnyUser)
            .map(|_| ())
            .map_err(|problems| {
                problems
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// A user database in which every user exists (as uid 65534), for checking a file's shape.
struct AnyUser;

impl UserDb for AnyUser {
    fn by_name(&self, name: &str) -> Option<UserSpec> {
        Some(UserSpec {
            name: name.to_string(),
            uid: 65_534,
            gid: 65_534,
            home: PathBuf::from("/"),
            shell: PathBuf::from("/bin/sh"),
        })
    }

    fn by_uid(&self, uid: u32) -> Option<UserSpec> {
        Some(UserSpec {
            name: uid.to_string(),
            uid,
            gid: uid,
            home: PathBuf::from("/"),
            shell: PathBuf::from("/bin/sh"),
        })
    }
}

/// A size in bytes as a program file writes it: `50MB`, `512KB`, or bytes.
pub(crate) fn size_text(bytes: u64) -> Value {
    for (unit, suffix) in [(1u64 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return Value::from(format!("{}{suffix}", bytes / unit));
        }
    }
    Value::from(bytes)
}

/// An environment map as a program file's `environment` table.
pub(crate) fn environment_value(environment: &BTreeMap<String, String>) -> Value {
    Value::Object(
        environment
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.clone())))
            .collect(),
    )
}

/// Joins a path written relative to `base` (a folder, absolute) and cleans `.` and `..` out.
pub(crate) fn absolute(base: &std::path::Path, path: &str) -> PathBuf {
    use std::path::Component;
    let joined = if path.starts_with('/') {
        PathBuf::from(path)
    } else {
        base.join(path)
    };
    let mut clean = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other.as_os_str()),
        }
    }
    clean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_paths() {
        assert_eq!(size_text(50 << 20), Value::from("50MB"));
        assert_eq!(size_text(1 << 30), Value::from("1GB"));
        assert_eq!(size_text(1536), Value::from(1536));
        assert_eq!(size_text(0), Value::from(0));
        let base = std::path::Path::new("/etc/supervisor");
        assert_eq!(
            absolute(base, "conf.d/x"),
            PathBuf::from("/etc/supervisor/conf.d/x")
        );
        assert_eq!(
            absolute(base, "../logs/./a.log"),
            PathBuf::from("/etc/logs/a.log")
        );
        assert_eq!(absolute(base, "/var/x"), PathBuf::from("/var/x"));
    }

    #[test]
    fn the_rendered_file_says_where_it_came_from() {
        let mut fields = Map::new();
        fields.insert("command".into(), Value::from("sleep 1"));
        fields.insert("boot".into(), Value::from(true));
        let program = ImportedProgram {
            name: "web".into(),
            fields,
            source: "supervisord.conf [program:web]".into(),
            unmapped: vec!["stdout_syslog = true: no syslog".into()],
            notes: vec!["boot = true: supervisord's autostart\ndefault".into()],
        };
        let text = program.render(Format::Toml, "supervisord");
        assert_eq!(
            text,
            "# Imported by `hoody-daemon import supervisord` from supervisord.conf [program:web].\n\
             # note: boot = true: supervisord's autostart default\n\
             # not mapped: stdout_syslog = true: no syslog\n\
             \n\
             command = \"sleep 1\"\nboot = true\n"
        );
        assert_eq!(program.check(Format::Toml, &text), Ok(()));
        let broken = ImportedProgram {
            fields: Map::new(),
            ..program
        };
        let text = broken.render(Format::Toml, "supervisord");
        assert!(broken.check(Format::Toml, &text).is_err());
    }
}
