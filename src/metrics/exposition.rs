//! The Prometheus text exposition format, version 0.0.4: `# HELP` and `# TYPE` lines, then
//! one line per sample, `name{label="value",…} number`. Pure: it writes into a `String`.
//!
//! Escaping, as the format says: in a label value a backslash, a double quote and a line feed
//! are written `\\`, `\"` and `\n`; in HELP text, a backslash and a line feed. Metric and label
//! names are the writer's own constants (checked in debug builds), never data. Numbers are
//! written as Go's `ParseFloat` reads them: integers without a fraction, `NaN`, `+Inf`,
//! `-Inf`.

use std::fmt::Write as _;

/// The content type of the format (what Prometheus sends in its `Accept`).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
        }
    }
}

/// Writes families and their samples.
#[derive(Debug, Default)]
pub struct Exposition {
    out: String,
}

impl Exposition {
    pub fn with_capacity(bytes: usize) -> Exposition {
        Exposition {
            out: String::with_capacity(bytes),
        }
    }

    /// The `# HELP` and `# TYPE` lines of a family; its samples follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        debug_assert!(is_metric_name(name), "{name}");
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape_help(help, &mut self.out);
        self.out.push_str("\n# TYPE ");
        self.out.push_str(name);
        self.out.push(' ');
        self.out.push_str(kind.as_str());
        self.out.push('\n');
    }

    /// A family of one sample without labels: its `# HELP` and `# TYPE` lines and the value.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: f64) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// One sample: `name{labels} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        debug_assert!(is_metric_name(name), "{name}");
        self.out.push_str(name);
        if !labels.is_empty() {
            self.out.push('{');
            for (index, (label, text)) in labels.iter().enumerate() {
                debug_assert!(is_label_name(label), "{label}");
                if index > 0 {
                    self.out.push(',');
                }
                self.out.push_str(label);
                self.out.push_str("=\"");
                escape_label_value(text, &mut self.out);
                self.out.push('"');
            }
            self.out.push('}');
        }
        self.out.push(' ');
        write_value(value, &mut self.out);
        self.out.push('\n');
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// A label value: `\` → `\\`, `"` → `\"`, line feed → `\n`; everything else (any UTF-8) as it is.
pub fn escape_label_value(text: &str, out: &mut String) {
    // Names, states and most descriptions need nothing: copied at once.
    if !text.contains(['\\', '"', '\n']) {
        out.push_str(text);
        return;
    }
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

/// HELP text: `\` → `\\`, line feed → `\n`.
pub fn escape_help(text: &str, out: &mut String) {
    for character in text.chars() {
        match character {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
}

/// A sample value as Go's `strconv.ParseFloat` reads it.
pub fn write_value(value: f64, out: &mut String) {
    if value.is_nan() {
        out.push_str("NaN");
    } else if value == f64::INFINITY {
        out.push_str("+Inf");
    } else if value == f64::NEG_INFINITY {
        out.push_str("-Inf");
    } else if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 {
        out.push_str(itoa::Buffer::new().format(value as i64));
    } else {
        // Rust writes the shortest text that reads back as the same number, never with an
        // exponent; Go reads that.
        let _ = write!(out, "{value}");
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
fn is_metric_name(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_' || first == ':')
        && characters.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved).
fn is_label_name(name: &str) -> bool {
    let mut characters = name.chars();
    !name.starts_with("__")
        && characters
            .next()
            .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let table = [
            ("web", "web"),
            ("we\"b", "we\\\"b"),
            ("back\\slash", "back\\\\slash"),
            ("two\nlines", "two\\nlines"),
            ("\\\"\n", "\\\\\\\"\\n"),
            // Tabs, carriage returns and other UTF-8 need no escape.
            ("tab\there\r ünï", "tab\there\r ünï"),
            ("", ""),
        ];
        for (text, escaped) in table {
            let mut out = String::new();
            escape_label_value(text, &mut out);
            assert_eq!(out, escaped, "{text:?}");
        }
        let mut help = String::new();
        escape_help("a \"quoted\" \\ help\nline", &mut help);
        assert_eq!(help, "a \"quoted\" \\\\ help\\nline");
    }

    #[test]
    fn values_are_written_as_go_reads_them() {
        let table = [
            (0.0, "0"),
            (-0.0, "0"),
            (1.0, "1"),
            (-3.0, "-3"),
            (1_764_590_000.0, "1764590000"),
            (0.25, "0.25"),
            (1.5e-7, "0.00000015"),
            (123_456.789, "123456.789"),
            (1e21, "1000000000000000000000"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
        ];
        for (value, text) in table {
            let mut out = String::new();
            write_value(value, &mut out);
            assert_eq!(out, text, "{value}");
        }
    }

    #[test]
    fn families_and_samples_make_the_text() {
        let mut exposition = Exposition::default();
        exposition.family("hoody_daemon_program_up", Kind::Gauge, "1 when RUNNING");
        exposition.sample("hoody_daemon_program_up", &[("name", "a\"b")], 1.0);
        exposition.family("process_open_fds", Kind::Gauge, "Open descriptors.");
        exposition.sample("process_open_fds", &[], 12.0);
        exposition.family("x_total", Kind::Counter, "two\nlines");
        exposition.sample("x_total", &[("name", "web"), ("state", "RUNNING")], 0.5);
        assert_eq!(
            exposition.finish(),
            "# HELP hoody_daemon_program_up 1 when RUNNING\n\
             # TYPE hoody_daemon_program_up gauge\n\
             hoody_daemon_program_up{name=\"a\\\"b\"} 1\n\
             # HELP process_open_fds Open descriptors.\n\
             # TYPE process_open_fds gauge\n\
             process_open_fds 12\n\
             # HELP x_total two\\nlines\n\
             # TYPE x_total counter\n\
             x_total{name=\"web\",state=\"RUNNING\"} 0.5\n"
        );
    }

    #[test]
    fn names_are_checked() {
        assert!(is_metric_name("hoody_daemon_program_up"));
        assert!(is_metric_name("a:b_c9"));
        assert!(!is_metric_name("9a"));
        assert!(!is_metric_name(""));
        assert!(!is_metric_name("a-b"));
        assert!(is_label_name("name"));
        assert!(is_label_name("exit_status"));
        assert!(!is_label_name("__name__"));
        assert!(!is_label_name("a:b"));
    }
}
