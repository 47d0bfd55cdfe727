//! `hoody-daemon events`: follows `GET /events` and prints each event as it comes, one line
//! each (`--json`: one JSON object a line, `{id, event, data}`), until the daemon closes the
//! stream. `--since ID` resumes after an event id (sent as `Last-Event-ID`): the events missed
//! since come first, or a `reset` line when the daemon no longer has them.

use std::io::Write;

use serde_json::{Value, json};

use super::output;
use super::session::{CliError, Session};
use super::sse::{self, Item};

pub fn follow(session: &Session, since: Option<&str>) -> Result<(), CliError> {
    let headers: Vec<(&str, &str)> = since
        .map(|since| ("Last-Event-ID", since))
        .into_iter()
        .collect();
    sse::follow(
        session,
        "/api/v1/daemon/events",
        &headers,
        |item| match item {
            Item::Event { id, event, data } => print_event(session.json, &id, &event, &data),
            Item::Comment(_) => Ok(()),
        },
    )
}

fn print_event(json: bool, id: &str, event: &str, text: &str) -> Result<(), CliError> {
    let data: Value = serde_json::from_str(text).unwrap_or_else(|_| Value::from(text));
    let mut stdout = std::io::stdout().lock();
    if json {
        let id = id.parse::<u64>().map_or(Value::from(id), Value::from);
        writeln!(
            stdout,
            "{}",
            json!({ "id": id, "event": event, "data": data })
        )?;
    } else {
        writeln!(stdout, "{}", describe(id, event, &data))?;
    }
    stdout.flush()?;
    Ok(())
}

/// One event for a human: `ID  TIME  KIND  NAME  what happened`.
pub fn describe(id: &str, event: &str, data: &Value) -> String {
    let time = data["time"]
        .as_f64()
        .map(|seconds| {
            let text = output::utc_time(seconds);
            // `2026-12-01 08:00:00 UTC` → `08:00:00`: the date is today's, nearly always.
            text.get(11..19).unwrap_or(&text).to_string()
        })
        .unwrap_or_else(|| "-".to_string());
    let name = output::text(&data["name"]);
    let what = match event {
        "state" => {
            let reason = data["reason"].as_str().unwrap_or_default();
            let change = format!(
                "{} -> {}",
                output::text(&data["from"]),
                output::text(&data["to"])
            );
            if reason.is_empty() {
                change
            } else {
                format!("{change} ({reason})")
            }
        }
        "config" => {
            let problems: Vec<&str> = data["problems"]
                .as_array()
                .map(|problems| problems.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let base = format!(
                "{} by {}, generation {}",
                output::text(&data["change"]),
                output::text(&data["source"]),
                output::text(&data["generation"])
            );
            if problems.is_empty() {
                base
            } else {
                format!("{base}: {}", problems.join("; "))
            }
        }
        "health" => format!(
            "health {}, ready {}{} ({})",
            output::text(&data["health"]),
            output::text(&data["ready"]),
            match data["waiting_for"].as_array() {
                Some(names) if !names.is_empty() => format!(
                    ", waiting for {}",
                    names
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                _ => String::new(),
            },
            data["reason"].as_str().unwrap_or_default()
        ),
        "reset" => format!(
            "the events after {} are no longer kept: read the state again",
            output::text(&data["last_event_id"])
        ),
        "lagged" => format!(
            "{} events were missed (this follower fell behind)",
            output::text(&data["missed"])
        ),
        _ => data.to_string(),
    };
    let id = if id.is_empty() { "-" } else { id };
    format!("{id}  {time}  {event}  {name}  {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_as_one_line_each() {
        let table = [
            (
                "state",
                json!({"id": 1, "name": "web", "from": "STARTING", "to": "RUNNING", "reason": "up 1s", "time": 1_764_590_401.5}),
                "7  12:00:01  state  web  STARTING -> RUNNING (up 1s)",
            ),
            (
                "config",
                json!({"id": 1, "name": "web", "change": "edited", "source": "api", "generation": 3, "problems": []}),
                "7  -  config  web  edited by api, generation 3",
            ),
            (
                "health",
                json!({"id": 1, "name": "web", "health": "healthy", "ready": true, "waiting_for": ["db"], "reason": "probe ok", "time": 1_764_590_401.0}),
                "7  12:00:01  health  web  health healthy, ready true, waiting for db (probe ok)",
            ),
            (
                "reset",
                json!({"type": "reset", "last_event_id": "5"}),
                "7  -  reset  -  the events after 5 are no longer kept: read the state again",
            ),
        ];
        for (event, data, line) in table {
            assert_eq!(describe("7", event, &data), line);
        }
    }
}
