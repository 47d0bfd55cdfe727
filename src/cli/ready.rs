//! `hoody-daemon ready [--wait SECONDS]`: whether every program that should run is ready
//! (`GET /ready`, SPEC §12) — exit 0 when it is, 1 with what is not ready (or why the daemon
//! could not be asked) when it is not. With `--wait`, asks again every 200 ms until it is or the
//! time is up; a daemon that is not listening yet counts as not ready meanwhile, so a script can
//! start the daemon and wait on this at once.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::session::{CliError, Session};
use super::{GlobalArgs, exit, output};
use crate::api::BASE;

/// Between two questions while waiting.
const POLL: Duration = Duration::from_millis(200);

pub fn ready(global: &GlobalArgs, wait: Option<f64>) -> Result<(), CliError> {
    let session = Session::open(global)?;
    let wait = match wait {
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Duration::from_secs_f64(seconds.min(86_400.0))
        }
        Some(_) => {
            return Err(CliError::usage(
                "--wait takes a number of seconds, 0 or more",
            ));
        }
        None => Duration::ZERO,
    };
    let deadline = Instant::now() + wait;
    let path = format!("{BASE}/ready");
    loop {
        let not_ready = match session.client.request("GET", &path, None, &[]) {
            Ok(response) if response.status == 200 => {
                if session.json {
                    output::print_json(&response.json()["data"]);
                } else {
                    println!("ready");
                }
                return Ok(());
            }
            Ok(response) if response.status == 503 => {
                let body = response.json();
                if body.get("message").and_then(Value::as_str).is_none() {
                    return Err(session.api_error(response.status, body));
                }
                describe_not_ready(&body)
            }
            Ok(response) => return Err(session.api_error(response.status, response.json())),
            // Not listening yet: while there is time left, that is "not ready yet".
            Err(error) if Instant::now() < deadline => session.transport_error(&error).message,
            Err(error) => return Err(session.transport_error(&error)),
        };
        let now = Instant::now();
        if now >= deadline {
            let after = if wait.is_zero() {
                String::new()
            } else {
                format!(" after {}", seconds(wait))
            };
            return Err(CliError::new(
                exit::ERROR,
                format!("not ready{after}: {not_ready}"),
            ));
        }
        std::thread::sleep(POLL.min(deadline - now));
    }
}

/// What a 503 says: the programs that are not ready and why (with a token), else its message.
fn describe_not_ready(body: &Value) -> String {
    let items = body["error"]["details"]["not_ready"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if items.is_empty() {
        return body["message"]
            .as_str()
            .unwrap_or("not ready")
            .trim_start_matches("not ready: ")
            .to_string();
    }
    items
        .iter()
        .map(|item| {
            format!(
                "{} ({})",
                item["name"].as_str().unwrap_or("?"),
                item["reason"].as_str().unwrap_or("not ready")
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn seconds(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds.fract() == 0.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{seconds} s")
    }
}
