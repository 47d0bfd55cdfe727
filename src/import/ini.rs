//! INI files as supervisord reads them: Python's `configparser.RawConfigParser` with
//! supervisord's settings (`inline_comment_prefixes = (';', '#')`, `strict = False`). Full-line
//! comments start with `#` or `;`; an inline comment is a `;` or `#` after whitespace; `key =
//! value` or `key: value` (the first `=` or `:` splits); keys are lower-cased; a line indented
//! deeper than its key continues the value (joined with newlines); a section or key given
//! twice merges, the later value winning. **Pure.**

use super::ImportError;

/// One `key = value`, with the line it was written on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
    pub line: usize,
}

/// One `[section]` with its entries, in the order first written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub line: usize,
    pub entries: Vec<Entry>,
}

impl Section {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|entry| entry.key == key)
    }

    fn set(&mut self, entry: Entry) {
        match self.entries.iter_mut().find(|old| old.key == entry.key) {
            Some(old) => *old = entry,
            None => self.entries.push(entry),
        }
    }
}

/// A parsed file: its sections (merged by name) and `[DEFAULT]`'s entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ini {
    pub sections: Vec<Section>,
    pub defaults: Vec<Entry>,
}

/// Parses a file's text; `file` names it in errors. Every bad line is reported at once.
pub fn parse(text: &str, file: &str) -> Result<Ini, Vec<ImportError>> {
    let mut ini = Ini::default();
    let mut errors = Vec::new();
    // Where the current section's entries go: an index into `sections`, or DEFAULT.
    let mut current: Option<Target> = None;
    // The key a continuation line would extend, and the indentation of its line.
    let mut open_key: Option<String> = None;
    let mut indent_level = 0usize;
    // Continuation lines (and blank lines inside a value) of the open key.
    let mut pending: Vec<String> = Vec::new();

    let flush = |ini: &mut Ini,
                 current: &Option<Target>,
                 key: &Option<String>,
                 pending: &mut Vec<String>| {
        if let (Some(target), Some(key)) = (current, key)
            && let Some(entry) = target
                .entries(ini)
                .iter_mut()
                .find(|entry| entry.key == *key)
        {
            for more in pending.drain(..) {
                entry.value.push('\n');
                entry.value.push_str(&more);
            }
            let trimmed = entry.value.trim_end().len();
            entry.value.truncate(trimmed);
        }
        pending.clear();
    };

    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let comment_start = comment_start(raw);
        let value = raw[..comment_start.unwrap_or(raw.len())].trim();
        if value.is_empty() {
            // A blank line inside a value is part of it (unless the line held a comment).
            if comment_start.is_none() && open_key.is_some() {
                pending.push(String::new());
            }
            continue;
        }
        let indent = raw.len() - raw.trim_start().len();
        if current.is_some() && open_key.is_some() && indent > indent_level {
            pending.push(value.to_string());
            continue;
        }
        flush(&mut ini, &current, &open_key, &mut pending);
        indent_level = indent;
        if let Some(header) = section_header(value) {
            open_key = None;
            if header == "DEFAULT" {
                current = Some(Target::Defaults);
            } else {
                let position = match ini
                    .sections
                    .iter()
                    .position(|section| section.name == header)
                {
                    Some(position) => position,
                    None => {
                        ini.sections.push(Section {
                            name: header.to_string(),
                            line: number,
                            entries: Vec::new(),
                        });
                        ini.sections.len() - 1
                    }
                };
                current = Some(Target::Section(position));
            }
            continue;
        }
        let Some(target) = &current else {
            errors.push(ImportError::new(
                format!("{file}:{number}"),
                "a setting before any [section] header",
            ));
            open_key = None;
            continue;
        };
        let Some(delimiter) = value.find(['=', ':']) else {
            errors.push(ImportError::new(
                format!("{file}:{number}"),
                format!("{:?} is neither a [section] nor key = value", short(value)),
            ));
            open_key = None;
            continue;
        };
        let key = value[..delimiter].trim_end().to_lowercase();
        if key.is_empty() {
            errors.push(ImportError::new(
                format!("{file}:{number}"),
                "a value without a key",
            ));
            open_key = None;
            continue;
        }
        let entry = Entry {
            key: key.clone(),
            value: value[delimiter + 1..].trim().to_string(),
            line: number,
        };
        match target {
            Target::Defaults => match ini.defaults.iter_mut().find(|old| old.key == key) {
                Some(old) => *old = entry,
                None => ini.defaults.push(entry),
            },
            Target::Section(position) => ini.sections[*position].set(entry),
        }
        open_key = Some(key);
    }
    flush(&mut ini, &current, &open_key, &mut pending);
    if errors.is_empty() {
        Ok(ini)
    } else {
        Err(errors)
    }
}

enum Target {
    Defaults,
    Section(usize),
}

impl Target {
    fn entries<'a>(&self, ini: &'a mut Ini) -> &'a mut Vec<Entry> {
        match self {
            Target::Defaults => &mut ini.defaults,
            Target::Section(position) => &mut ini.sections[*position].entries,
        }
    }
}

/// Where a comment starts: a line whose first non-blank is `#` or `;`, or a `;`/`#` after
/// whitespace.
fn comment_start(line: &str) -> Option<usize> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with(';') {
        return Some(0);
    }
    let bytes = line.as_bytes();
    (0..bytes.len()).find(|&index| {
        matches!(bytes[index], b';' | b'#')
            && (index == 0 || bytes[index - 1].is_ascii_whitespace())
    })
}

/// `[name]`: what lies between the first `[` and the last `]` (Python's `\[(?P<header>.+)\]`).
fn section_header(value: &str) -> Option<&str> {
    let rest = value.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let header = &rest[..end];
    (!header.is_empty()).then_some(header)
}

fn short(text: &str) -> String {
    text.chars().take(60).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(section: &Section) -> Vec<(&str, &str)> {
        section
            .entries
            .iter()
            .map(|entry| (entry.key.as_str(), entry.value.as_str()))
            .collect()
    }

    #[test]
    fn supervisords_dialect() {
        let text = "\
; a comment
# another
[supervisord]
nodaemon=true ; inline comment
logfile = /var/log/supervisord.log

[program:web]
Command = /usr/bin/python -m http.server 8000
environment=A=\"x;y\",B=c#d
url: http://example.com/a
directory = /srv/web   # trailing comment
command_multi = first
    second

    third
after = x

[program:web]
priority=5
command = /usr/bin/overridden
";
        let ini = parse(text, "supervisord.conf").expect("parses");
        let names: Vec<_> = ini
            .sections
            .iter()
            .map(|section| section.name.as_str())
            .collect();
        assert_eq!(names, ["supervisord", "program:web"]);
        assert_eq!(
            entries(&ini.sections[0]),
            [
                ("nodaemon", "true"),
                ("logfile", "/var/log/supervisord.log")
            ]
        );
        assert_eq!(
            entries(&ini.sections[1]),
            [
                ("command", "/usr/bin/overridden"),
                ("environment", "A=\"x;y\",B=c#d"),
                ("url", "http://example.com/a"),
                ("directory", "/srv/web"),
                ("command_multi", "first\nsecond\n\nthird"),
                ("after", "x"),
                ("priority", "5"),
            ]
        );
        assert_eq!(
            ini.sections[1].get("priority").map(|entry| entry.line),
            Some(19)
        );
        assert_eq!(ini.sections[1].line, 7);
    }

    #[test]
    fn defaults_and_odd_headers() {
        let ini = parse("[DEFAULT]\nuser = app\n[a]b]\nx=1\n", "f").expect("parses");
        assert_eq!(ini.defaults.len(), 1);
        assert_eq!(ini.sections[0].name, "a]b");
    }

    #[test]
    fn bad_lines_are_reported_with_their_place() {
        let errors = parse("command=x\n[a]\nnot a setting\n=value\n", "f.conf").expect_err("bad");
        let places: Vec<_> = errors.iter().map(|error| error.source.as_str()).collect();
        assert_eq!(places, ["f.conf:1", "f.conf:3", "f.conf:4"]);
        assert!(
            errors[1].message.contains("neither a [section]"),
            "{}",
            errors[1]
        );
    }
}
