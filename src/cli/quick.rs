//! `hoody-daemon quick-start …`: one-off commands run by the daemon, never written to
//! programs.d (the seed's ephemeral programs).

use std::time::{Duration, Instant};

use serde_json::{Map, Value};

use super::logs::logs;
use super::output::{self, Cell, Table};
use super::session::{CliError, Session, scalar, segment};
use super::{GlobalArgs, LogStream, LogsArgs, QuickCommand, QuickRunArgs, exit};

/// How often `run --wait` looks whether the command has ended.
const POLL: Duration = Duration::from_millis(200);

pub fn run(global: &GlobalArgs, command: QuickCommand) -> Result<(), CliError> {
    let session = Session::open(global)?;
    match command {
        QuickCommand::Run(args) => launch(&session, &args),
        QuickCommand::List => list(&session),
        QuickCommand::Status { id } => status(&session, &id),
        QuickCommand::Stop(args) => {
            let wait = if args.no_wait { "?wait=false" } else { "" };
            let answered = session.post(
                &format!("/quick-start/{}/stop{wait}", segment(&args.id)),
                None,
            )?;
            if session.json {
                output::print_json(&answered.data);
            } else {
                let state = answered.data["status"]["status"]
                    .as_str()
                    .unwrap_or("asked to stop");
                println!(
                    "quick-start {}: {}",
                    scalar(&answered.data["id"]),
                    output::state(state)
                );
            }
            Ok(())
        }
        QuickCommand::Logs(args) => logs(&session, "/quick-start", &args, false),
    }
}

fn launch(session: &Session, args: &QuickRunArgs) -> Result<(), CliError> {
    let mut body = Map::new();
    let command = match args.command.as_slice() {
        [one] => Value::from(one.as_str()),
        words => Value::from(words.to_vec()),
    };
    body.insert("command".into(), command);
    if let Some(directory) = &args.directory {
        body.insert("directory".into(), Value::from(directory.as_str()));
    }
    if let Some(user) = &args.user {
        let user = user
            .parse::<u64>()
            .map_or_else(|_| Value::from(user.as_str()), Value::from);
        body.insert("user".into(), user);
    }
    if !args.env.is_empty() {
        let environment: Map<String, Value> = args
            .env
            .iter()
            .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
            .collect();
        body.insert("environment".into(), Value::Object(environment));
    }
    if let Some(timeout) = args.timeout {
        body.insert("timeout_seconds".into(), Value::from(timeout));
    }
    let answered = session.post("/quick-start", Some(&Value::Object(body)))?;
    let id = scalar(&answered.data["id"]);
    if !args.wait {
        if session.json {
            output::print_json(&answered.data);
        } else {
            let status = &answered.data["status"];
            let pid = status["pid"]
                .as_u64()
                .map(|pid| format!(", pid {pid}"))
                .unwrap_or_default();
            println!("Started quick-start {id}{pid}; see `hoody-daemon quick-start logs {id}`");
        }
        return Ok(());
    }
    let status = wait_for_end(session, &id, args.timeout)?;
    if session.json {
        output::print_json(&status);
    } else {
        let logs_args = LogsArgs {
            id: id.clone(),
            stream: LogStream::Both,
            lines: 100_000,
            follow: false,
        };
        logs(session, "/quick-start", &logs_args, false)?;
    }
    match status["exit_code"].as_i64() {
        Some(0) => Ok(()),
        Some(code) => Err(CliError::new(
            exit::ERROR,
            format!("quick-start {id} exited {code}"),
        )),
        None => {
            let how = output::last_exit(&status["last_exit"])
                .unwrap_or_else(|| output::text(&status["status"]));
            Err(CliError::new(
                exit::ERROR,
                format!("quick-start {id} ended: {how}"),
            ))
        }
    }
}

/// Polls the quick-start's status until it has ended; gives up a minute after its own timeout.
fn wait_for_end(session: &Session, id: &str, timeout: Option<f64>) -> Result<Value, CliError> {
    let limit = timeout.map(|seconds| {
        Duration::from_secs_f64(seconds.clamp(0.0, 86_400.0)) + Duration::from_secs(60)
    });
    let started = Instant::now();
    loop {
        let answered = session.get(&format!("/quick-start/{}/status", segment(id)))?;
        let status = answered.data["status"].clone();
        let state = status["status"].as_str().unwrap_or("");
        if matches!(state, "EXITED" | "FATAL" | "STOPPED") {
            return Ok(status);
        }
        if limit.is_some_and(|limit| started.elapsed() > limit) {
            return Err(CliError::new(
                exit::ERROR,
                format!("quick-start {id} is still {state}; gave up waiting"),
            ));
        }
        std::thread::sleep(POLL);
    }
}

fn list(session: &Session) -> Result<(), CliError> {
    let Some(programs) = session.list_for_table(
        "/quick-start",
        "No quick-start programs. Run one with `hoody-daemon quick-start run -- CMD ARG…`.",
    )?
    else {
        return Ok(());
    };
    table(&programs).print();
    Ok(())
}

fn status(session: &Session, id: &str) -> Result<(), CliError> {
    let answered = session.get(&format!("/quick-start/{}/status", segment(id)))?;
    if session.json {
        output::print_json(&answered.data);
        return Ok(());
    }
    table(&[answered.data["status"].clone()]).print();
    Ok(())
}

fn table(programs: &[Value]) -> Table {
    let mut table = Table::new(&["ID", "STATUS", "PID", "UPTIME", "EXIT", "COMMAND"]);
    for program in programs {
        let exit = match program["exit_code"].as_i64() {
            Some(code) => code.to_string(),
            None => output::last_exit(&program["last_exit"])
                .filter(|_| program["pid"].is_null())
                .unwrap_or_else(|| "-".to_string()),
        };
        table.row(vec![
            output::text(&program["id"]).into(),
            Cell::state(&output::text(&program["status"])),
            output::text(&program["pid"]).into(),
            output::text(&program["uptime"]).into(),
            exit.into(),
            output::text(&program["command"]).into(),
        ]);
    }
    table
}
