//! What the client prints: aligned tables, states and diffs coloured only when stdout is a
//! terminal (plain ANSI codes; `NO_COLOR` turns them off), and JSON for `--json`.

use std::io::{IsTerminal, Write};

use serde_json::Value;

use super::session::scalar;

/// Whether stdout takes colours.
pub fn colour() -> bool {
    std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
        && std::env::var("TERM").map_or(true, |term| term != "dumb")
}

const RESET: &str = "\x1b[0m";

/// The ANSI colour of a process state.
fn state_colour(state: &str) -> Option<&'static str> {
    match state {
        "RUNNING" => Some("\x1b[32m"),
        "STARTING" | "STOPPING" | "BACKOFF" => Some("\x1b[33m"),
        "FATAL" | "EXITED" => Some("\x1b[31m"),
        _ => None,
    }
}

/// A state, coloured when stdout is a terminal.
pub fn state(text: &str) -> String {
    paint(text, state_colour(text))
}

fn paint(text: &str, colour: Option<&str>) -> String {
    match colour {
        Some(code) if self::colour() => format!("{code}{text}{RESET}"),
        _ => text.to_string(),
    }
}

/// One table cell: its text, and whether it shows a state (to colour it).
pub struct Cell {
    text: String,
    is_state: bool,
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell {
            text,
            is_state: false,
        }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

impl Cell {
    pub fn state(text: &str) -> Cell {
        Cell {
            text: text.to_string(),
            is_state: true,
        }
    }
}

/// A table with aligned columns, two spaces apart; the last column is not padded.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<Cell>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    /// The table as text; `paint` colours the state cells.
    pub fn render(&self, paint: bool) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self
            .headers
            .iter()
            .map(|header| header.chars().count())
            .collect();
        for row in &self.rows {
            for (index, cell) in row.iter().enumerate().take(columns) {
                widths[index] = widths[index].max(cell.text.chars().count());
            }
        }
        let mut out = String::new();
        let header_cells: Vec<Cell> = self
            .headers
            .iter()
            .map(|header| Cell::from(*header))
            .collect();
        for row in std::iter::once(&header_cells).chain(self.rows.iter()) {
            let mut line = String::new();
            for (index, cell) in row.iter().enumerate().take(columns) {
                let last = index + 1 == columns;
                let shown = if paint && cell.is_state {
                    self::paint(&cell.text, state_colour(&cell.text))
                } else {
                    cell.text.clone()
                };
                line.push_str(&shown);
                if !last {
                    let pad = widths[index] - cell.text.chars().count() + 2;
                    line.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) {
        print!("{}", self.render(colour()));
    }
}

/// Prints JSON, pretty, for scripts.
pub fn print_json(value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string());
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
}

/// Prints a unified diff, `+` lines green and `-` lines red on a terminal.
pub fn print_diff(diff: &str) {
    if diff.is_empty() {
        return;
    }
    let paint_lines = colour();
    let mut stdout = std::io::stdout().lock();
    for line in diff.lines() {
        let code = if !paint_lines {
            None
        } else if line.starts_with("+++") || line.starts_with("---") {
            Some("\x1b[1m")
        } else if line.starts_with('+') {
            Some("\x1b[32m")
        } else if line.starts_with('-') {
            Some("\x1b[31m")
        } else if line.starts_with("@@") {
            Some("\x1b[36m")
        } else {
            None
        };
        let _ = match code {
            Some(code) => writeln!(stdout, "{code}{line}{RESET}"),
            None => writeln!(stdout, "{line}"),
        };
    }
    if !diff.ends_with('\n') {
        let _ = writeln!(stdout, "\\ No newline at end of file");
    }
}

/// A field's value for a table or a listing: `-` for nothing.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_string(),
        Value::String(text) if text.is_empty() => "-".to_string(),
        Value::Array(words) if words.iter().all(Value::is_string) => {
            let words: Vec<&str> = words.iter().filter_map(Value::as_str).collect();
            shell_words::join(words)
        }
        other => scalar(other),
    }
}

/// Unix seconds as `2026-12-01 08:00:00 UTC` (days to a civil date: Howard Hinnant's
/// `civil_from_days`).
pub fn utc_time(seconds: f64) -> String {
    let whole = seconds.max(0.0) as i64;
    let (days, rest) = (whole.div_euclid(86_400), whole.rem_euclid(86_400));
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// Bytes as `512K`, `48.2M`, `1.5G` (binary units, as `ps`, `top` and PM2 show memory);
/// `-` for nothing.
pub fn bytes(value: &Value) -> String {
    let Some(bytes) = value.as_u64() else {
        return "-".to_string();
    };
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "T"),
        (1 << 30, "G"),
        (1 << 20, "M"),
        (1 << 10, "K"),
    ];
    for (unit, suffix) in UNITS {
        if bytes >= unit {
            let amount = bytes as f64 / unit as f64;
            return if amount >= 100.0 {
                format!("{amount:.0}{suffix}")
            } else {
                format!("{amount:.1}{suffix}")
            };
        }
    }
    format!("{bytes}B")
}

/// A CPU percentage as `12.5%`; `-` for nothing.
pub fn percent(value: &Value) -> String {
    match value.as_f64() {
        Some(percent) => format!("{percent:.1}%"),
        None => "-".to_string(),
    }
}

/// How a process last ended, as `exit 1` or `signal KILL`.
pub fn last_exit(value: &Value) -> Option<String> {
    if let Some(code) = value.get("code").and_then(Value::as_i64) {
        return Some(format!("exit {code}"));
    }
    value
        .get("signal")
        .map(|signal| format!("signal {}", scalar(signal)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_and_percentages_read_like_top() {
        let table = [
            (Value::Null, "-"),
            (Value::from(0), "0B"),
            (Value::from(1023), "1023B"),
            (Value::from(1024), "1.0K"),
            (Value::from(52_428_800), "50.0M"),
            (Value::from(150u64 << 20), "150M"),
            (Value::from(3u64 << 29), "1.5G"),
        ];
        for (value, text) in table {
            assert_eq!(bytes(&value), text, "{value}");
        }
        assert_eq!(percent(&Value::from(12.5)), "12.5%");
        assert_eq!(percent(&Value::from(0)), "0.0%");
        assert_eq!(percent(&Value::Null), "-");
    }

    #[test]
    fn tables_align_and_trim() {
        let mut table = Table::new(&["ID", "NAME", "STATUS"]);
        table.row(vec!["1".into(), "web".into(), Cell::state("RUNNING")]);
        table.row(vec![
            "12".into(),
            "a-longer-name".into(),
            Cell::state("STOPPED"),
        ]);
        assert_eq!(
            table.render(false),
            "ID  NAME           STATUS\n1   web            RUNNING\n12  a-longer-name  STOPPED\n"
        );
    }

    #[test]
    fn unix_seconds_read_as_utc_dates() {
        let cases = [
            (0.0, "1970-01-01 00:00:00 UTC"),
            (951_782_400.0, "2000-02-29 00:00:00 UTC"),
            (1_796_112_000.5, "2026-12-01 08:00:00 UTC"),
            (4_107_542_399.0, "2100-02-28 23:59:59 UTC"),
        ];
        for (seconds, text) in cases {
            assert_eq!(utc_time(seconds), text, "{seconds}");
        }
    }

    #[test]
    fn values_read_as_text() {
        assert_eq!(
            text(&serde_json::json!(["sh", "-c", "echo hi"])),
            "sh -c 'echo hi'"
        );
        assert_eq!(text(&Value::Null), "-");
        assert_eq!(
            last_exit(&serde_json::json!({ "signal": "KILL" })).as_deref(),
            Some("signal KILL")
        );
    }
}
