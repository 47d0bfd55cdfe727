//! `hoody-daemon programs …` and `hoody-daemon status`: the seed's program commands as a client
//! of the API. Each command is one or two requests; what it prints is a message, a table or the
//! file's diff, or with `--json` the API's `data`. (`programs logs` is in `cli/logs.rs`.)

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::output::{self, Cell, Table};
use super::session::{CliError, Session, scalar, segment};
use super::{
    ControlArgs, CreateArgs, EditArgs, FieldArgs, FileFormat, GlobalArgs, ProgramsCommand, exit,
};

pub fn run(global: &GlobalArgs, command: ProgramsCommand) -> Result<(), CliError> {
    let session = Session::open(global)?;
    match command {
        ProgramsCommand::Create(args) => create(&session, &args),
        ProgramsCommand::List => list(&session),
        ProgramsCommand::Get { id, file } => get(&session, &id, file),
        ProgramsCommand::Edit(args) => edit(&session, &args),
        ProgramsCommand::Delete(args) => delete(&session, &args),
        ProgramsCommand::Enable(args) => control(&session, &args, Control::Enable),
        ProgramsCommand::Disable(args) => control(&session, &args, Control::Disable),
        ProgramsCommand::Start(args) => control(&session, &args, Control::Start),
        ProgramsCommand::Stop(args) => control(&session, &args, Control::Stop),
        ProgramsCommand::Restart(args) => control(&session, &args, Control::Restart),
        ProgramsCommand::Status { id } => status(&session, id.as_deref()),
        ProgramsCommand::Logs(args) => super::logs::logs(&session, "/programs", &args, true),
        ProgramsCommand::Signal { id, signal } => send_signal(&session, &id, &signal),
        ProgramsCommand::History { id } => history(&session, &id),
    }
}

// ---- create and edit -------------------------------------------------------------------

/// A user given as digits is a uid.
fn user_value(user: &str) -> Value {
    match user.parse::<u64>() {
        Ok(uid) => Value::from(uid),
        Err(_) => Value::from(user),
    }
}

/// The fields given on the command line, as the API's JSON (environment aside).
fn field_body(fields: &FieldArgs) -> Result<Map<String, Value>, CliError> {
    let mut body = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            body.insert(key.to_string(), value);
        }
    };
    put("description", fields.description.clone().map(Value::from));
    put("user", fields.user.as_deref().map(user_value));
    put("enabled", fields.enabled.map(Value::from));
    put("boot", fields.boot.map(Value::from));
    put("autorestart", fields.autorestart.clone().map(Value::from));
    put("directory", fields.directory.clone().map(Value::from));
    put("priority", fields.priority.map(Value::from));
    put(
        "stdout_logfile",
        fields.stdout_logfile.clone().map(Value::from),
    );
    put(
        "stderr_logfile",
        fields.stderr_logfile.clone().map(Value::from),
    );
    for (key, value) in &fields.set {
        if key == "name" {
            return Err(CliError::usage(
                "--set name=… is refused: the name is the file's name",
            ));
        }
        let value =
            serde_json::from_str::<Value>(value).unwrap_or_else(|_| Value::from(value.as_str()));
        body.insert(key.clone(), value);
    }
    Ok(body)
}

fn environment(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(key, value)| (key.clone(), Value::from(value.as_str())))
        .collect()
}

fn create(session: &Session, args: &CreateArgs) -> Result<(), CliError> {
    let mut body = Map::new();
    body.insert("name".into(), Value::from(args.name.as_str()));
    body.insert("command".into(), Value::from(args.command.as_str()));
    body.extend(field_body(&args.fields)?);
    if !args.fields.env.is_empty() {
        body.insert(
            "environment".into(),
            Value::Object(environment(&args.fields.env)),
        );
    }
    let path = match args.format {
        FileFormat::Toml => "/programs/add",
        FileFormat::Yaml => "/programs/add?format=yaml",
    };
    let answered = session.post(path, Some(&Value::Object(body)))?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    println!(
        "Created program {} (id {}): {}",
        scalar(&data["name"]),
        scalar(&data["id"]),
        scalar(&data["file"])
    );
    output::print_diff(data["diff"].as_str().unwrap_or_default());
    Ok(())
}

fn edit(session: &Session, args: &EditArgs) -> Result<(), CliError> {
    let mut body = field_body(&args.fields)?;
    if let Some(command) = &args.command {
        body.insert("command".into(), Value::from(command.as_str()));
    }
    for field in &args.reset {
        if field == "name" {
            return Err(CliError::usage(
                "--reset name is refused: the name is the file's name",
            ));
        }
        body.insert(field.clone(), Value::Null);
    }
    if !args.fields.env.is_empty() || !args.unset_env.is_empty() {
        // The edit is a JSON merge patch: these variables change, `null` removes one, and the
        // others stay as they are, on the daemon's side in one step (no read-modify-write).
        let mut environment = self::environment(&args.fields.env);
        for key in &args.unset_env {
            environment.insert(key.clone(), Value::Null);
        }
        body.insert("environment".into(), Value::Object(environment));
    }
    if body.is_empty() {
        return Err(CliError::usage(
            "nothing to change: give the fields to change (--command, --user, --env …, --set FIELD=VALUE) or --reset FIELD",
        ));
    }
    let path = format!("/programs/edit/{}", segment(&args.id));
    let answered = session.post(&path, Some(&Value::Object(body)))?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    if data["changed"] == Value::Bool(false) {
        println!("No change: {} already says that", scalar(&data["name"]));
        return Ok(());
    }
    println!(
        "Edited program {} (id {}, generation {})",
        scalar(&data["name"]),
        scalar(&data["id"]),
        scalar(&data["generation"])
    );
    output::print_diff(data["diff"].as_str().unwrap_or_default());
    Ok(())
}

// ---- reading ----------------------------------------------------------------------------

fn list(session: &Session) -> Result<(), CliError> {
    let Some(programs) = session.list_for_table(
        "/programs",
        "No programs. Create one with `hoody-daemon programs create --name NAME --command CMD`.",
    )?
    else {
        return Ok(());
    };
    print!("{}", list_table(&programs).render(output::colour()));
    print_config_errors(&programs);
    Ok(())
}

/// The table `programs list` prints.
pub fn list_table(programs: &[Value]) -> Table {
    let mut table = Table::new(&[
        "ID", "NAME", "STATUS", "PID", "UPTIME", "ENABLED", "BOOT", "PRIORITY", "COMMAND",
    ]);
    for program in programs {
        let status = &program["status"];
        let mut state = output::text(&status["status"]);
        if !program["config_error"].is_null() {
            state.push('!');
        }
        table.row(vec![
            output::text(&program["id"]).into(),
            output::text(&program["name"]).into(),
            Cell::state(&state),
            output::text(&status["pid"]).into(),
            output::text(&status["uptime"]).into(),
            yes_no(&program["enabled"]).into(),
            yes_no(&program["boot"]).into(),
            output::text(&program["priority"]).into(),
            output::text(&program["command"]).into(),
        ]);
    }
    table
}

fn yes_no(value: &Value) -> &'static str {
    match value {
        Value::Bool(true) => "yes",
        Value::Bool(false) => "no",
        _ => "-",
    }
}

/// Under a table: one line per program whose file has a problem (marked `!` in the table).
fn print_config_errors(items: &[Value]) {
    for item in items {
        if let Some(message) = item["config_error"]["message"].as_str() {
            println!(
                "! {}: {message} ({})",
                scalar(&item["name"]),
                in_effect(&item["config_error"])
            );
        }
    }
}

/// What runs while a file has a problem: the last good version, or, for a file that was never
/// valid, nothing.
fn in_effect(config_error: &Value) -> &'static str {
    if config_error["running_generation"].as_u64().unwrap_or(0) == 0 {
        "never valid: nothing of it runs until the file is fixed"
    } else {
        "the last good version stays in effect"
    }
}

fn get(session: &Session, id: &str, file: bool) -> Result<(), CliError> {
    let answered = session.get(&format!("/programs/{}", segment(id)))?;
    let program = &answered.data["program"];
    if session.json {
        output::print_json(&answered.data);
        return Ok(());
    }
    if file {
        match program["text"].as_str() {
            Some(text) => print!("{text}"),
            None if program.get("text").is_none() => {
                return Err(CliError::new(
                    exit::ERROR,
                    "the daemon shows a program file's text only to the admin role: use an admin token",
                ));
            }
            None => {
                return Err(CliError::new(
                    exit::ERROR,
                    format!(
                        "the file of {} cannot be read as text",
                        scalar(&program["name"])
                    ),
                ));
            }
        }
        return Ok(());
    }
    let status = &program["status"];
    let mut state = output::state(&output::text(&status["status"]));
    if let Some(pid) = status["pid"].as_u64() {
        state.push_str(&format!(
            " (pid {pid}, up {})",
            output::text(&status["uptime"])
        ));
    }
    let mut lines: Vec<(String, String)> = vec![
        ("id".into(), output::text(&program["id"])),
        ("name".into(), output::text(&program["name"])),
        ("file".into(), output::text(&program["file"])),
        ("status".into(), state),
        (
            "generation".into(),
            format!(
                "{} (running: {})",
                output::text(&program["generation"]),
                output::text(&program["observed_generation"])
            ),
        ),
    ];
    lines.push((
        "ready".into(),
        if status["ready"] == Value::Bool(true) {
            "yes".into()
        } else {
            "no".into()
        },
    ));
    if let Some(health) = status["health"].as_str() {
        lines.push(("health".into(), health.to_string()));
    }
    if let Some(probe) = status["last_probe"].as_object() {
        let verdict = if probe.get("ok") == Some(&Value::Bool(true)) {
            "passed"
        } else {
            "failed"
        };
        let said = probe
            .get("output")
            .and_then(Value::as_str)
            .and_then(|text| text.lines().next())
            .unwrap_or("");
        lines.push(("last probe".into(), format!("{verdict}: {said}")));
    }
    if let Some(names) = status["waiting_for"].as_array()
        && !names.is_empty()
    {
        let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
        lines.push(("waiting for".into(), names.join(", ")));
    }
    if let Some(text) = status["status_text"].as_str() {
        lines.push(("status text".into(), text.to_string()));
    }
    if let Some(error) = status["last_error"].as_str() {
        lines.push(("last error".into(), error.to_string()));
    }
    if let Some(exit) = output::last_exit(&status["last_exit"]) {
        lines.push(("last exit".into(), exit));
    }
    for field in crate::spec::FIELDS.iter().filter(|field| **field != "name") {
        let value = &program[*field];
        if value.is_null() {
            continue;
        }
        if let Value::Object(map) = value {
            let shown = if map.is_empty() {
                "{}".to_string()
            } else {
                map.iter()
                    .map(|(key, value)| format!("{key}={}", scalar(value)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            lines.push(((*field).to_string(), shown));
        } else {
            lines.push(((*field).to_string(), output::text(value)));
        }
    }
    let width = lines.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    for (key, value) in &lines {
        println!("{key:width$}  {value}");
    }
    if let Some(message) = program["config_error"]["message"].as_str() {
        let effect = if program["config_error"]["running_generation"]
            .as_u64()
            .unwrap_or(0)
            == 0
        {
            "the file has never been valid: nothing of it runs until it is fixed"
        } else {
            "the last good version stays in effect until the file is fixed"
        };
        println!("\nconfig error: {message}\n  {effect}");
    }
    Ok(())
}

fn status(session: &Session, id: Option<&str>) -> Result<(), CliError> {
    let statuses = match id {
        Some(id) => {
            let answered = session.get(&format!("/status/{}", segment(id)))?;
            if session.json {
                output::print_json(&answered.data);
                return Ok(());
            }
            vec![answered.data["status"].clone()]
        }
        None => {
            let answered = session.get("/status")?;
            if session.json {
                output::print_json(&answered.data);
                return Ok(());
            }
            answered.data["statuses"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        }
    };
    if statuses.is_empty() {
        println!("No programs.");
        return Ok(());
    }
    status_table(&statuses).print();
    print_config_errors(&statuses);
    Ok(())
}

/// The table `status` prints.
pub fn status_table(statuses: &[Value]) -> Table {
    let mut table = Table::new(&[
        "ID", "NAME", "STATUS", "READY", "HEALTH", "PID", "UPTIME", "RESTARTS", "CPU", "MEM",
        "INFO",
    ]);
    for status in statuses {
        let state = output::text(&status["status"]);
        let up = state == "RUNNING" || state == "STARTING";
        let waiting: Vec<&str> = status["waiting_for"]
            .as_array()
            .map(|names| names.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let info = match (
            status["last_error"].as_str(),
            output::last_exit(&status["last_exit"]),
        ) {
            (Some(error), _) => error.to_string(),
            _ if !waiting.is_empty() => format!("waiting for {}", waiting.join(", ")),
            (None, Some(exit)) if !up => exit,
            (None, exit) => match (
                status["health"].as_str(),
                status["last_probe"]["ok"].as_bool(),
            ) {
                (Some("unhealthy"), _) | (_, Some(false)) => {
                    output::text(&status["last_probe"]["output"])
                }
                _ => match (status["status_text"].as_str(), exit) {
                    (Some(text), _) if !text.is_empty() => text.to_string(),
                    // Up again after a crash (kill -9, an exit autorestart answered): say
                    // what it was.
                    (_, Some(exit)) if status["restarts"].as_u64().unwrap_or(0) > 0 => {
                        format!("restarted after {exit}")
                    }
                    _ => String::new(),
                },
            },
        };
        let ready = match status["ready"] {
            Value::Bool(true) => "yes",
            Value::Bool(false) => "no",
            _ => "-",
        };
        table.row(vec![
            output::text(&status["id"]).into(),
            output::text(&status["name"]).into(),
            Cell::state(&state),
            ready.into(),
            output::text(&status["health"]).into(),
            output::text(&status["pid"]).into(),
            output::text(&status["uptime"]).into(),
            output::text(&status["restarts"]).into(),
            output::percent(&status["cpu_percent"]).into(),
            output::bytes(&status["memory_bytes"]).into(),
            info.into(),
        ]);
    }
    table
}

// ---- control ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Control {
    Enable,
    Disable,
    Start,
    Stop,
    Restart,
}

fn wait_query(args: &ControlArgs) -> &'static str {
    if args.no_wait { "?wait=false" } else { "" }
}

impl Control {
    fn verb(self) -> &'static str {
        match self {
            Control::Enable => "enable",
            Control::Disable => "disable",
            Control::Start => "start",
            Control::Stop => "stop",
            Control::Restart => "restart",
        }
    }
}

/// A wait longer than the daemon's own may still be cut short by a loaded machine: this much
/// more, plus a quarter of the daemon's bound, before the client gives up.
const WAIT_SLACK: Duration = Duration::from_secs(10);

/// How long the daemon itself may take to answer a waiting `control` of this program (its
/// fields as `GET /programs/{id}` shows them), and so how long the client waits: a start waits
/// for RUNNING or FATAL (every try up to `startsecs`, `startretries` retries after 1 s, 2 s…),
/// after a stop still under way; a stop waits `stopwaitsecs` before the SIGKILL. Enable waits
/// for nothing.
fn wait_bound(program: &Value, control: Control) -> Duration {
    let number = |key: &str, default: f64| program[key].as_f64().unwrap_or(default).max(0.0);
    let startsecs = number("startsecs", 1.0);
    let retries = number("startretries", 3.0);
    let stop = number("stopwaitsecs", 10.0);
    let start = startsecs * (retries + 1.0) + retries * (retries + 1.0) / 2.0;
    let daemon = match control {
        Control::Enable => 0.0,
        Control::Disable | Control::Stop => stop,
        Control::Start | Control::Restart => stop + start,
    };
    WAIT_SLACK + Duration::from_secs_f64((daemon * 1.25).min(1e9))
}

/// The session to wait for `control` of this program with: its time-out from the program's
/// own timings ([`wait_bound`]) instead of the client's fixed one.
fn waiting_session(
    session: &Session,
    args: &ControlArgs,
    control: Control,
) -> Result<Session, CliError> {
    if args.no_wait || control == Control::Enable {
        return Ok(session.with_timeout(session.client.timeout));
    }
    let answered = session.get(&format!("/programs/{}", segment(&args.id)))?;
    Ok(session.with_timeout(wait_bound(&answered.data["program"], control)))
}

fn control(session: &Session, args: &ControlArgs, control: Control) -> Result<(), CliError> {
    if args.id == "all" && matches!(control, Control::Start | Control::Stop | Control::Restart) {
        return control_all(session, args, control);
    }
    let verb = control.verb();
    let path = format!("/programs/{}/{verb}{}", segment(&args.id), wait_query(args));
    let waiting = waiting_session(session, args, control)?;
    let answered = waiting.post(&path, None).map_err(|error| {
        if error.message.contains(" did not start ") {
            error
        } else {
            error.context(&format!("{verb} {}", args.id))
        }
    })?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    println!("{}", control_line(data, control, args.no_wait));
    if let Some(hint) = data["hint"].as_str() {
        eprintln!("note: {hint}");
    }
    Ok(())
}

/// What a successful control says: `Started web: RUNNING, pid 12`.
fn control_line(data: &Value, control: Control, no_wait: bool) -> String {
    let verb = control.verb();
    let name = scalar(&data["name"]);
    let status = &data["status"];
    let shown = describe_status(status);
    let changed = data["changed"] != Value::Bool(false);
    match control {
        Control::Enable if changed => format!("Enabled {name} (it may now be started)"),
        Control::Enable => format!("{name} was already enabled"),
        Control::Disable if changed => format!("Disabled {name}{}", suffix(&shown)),
        Control::Disable => format!("{name} was already disabled{}", suffix(&shown)),
        _ if no_wait => format!("Asked {name} to {verb}{}", suffix(&shown)),
        Control::Start if !changed => format!("{name} is already running{}", suffix(&shown)),
        Control::Stop if !changed => format!("{name} was not running{}", suffix(&shown)),
        Control::Start => format!("Started {name}{}", suffix(&shown)),
        Control::Stop => format!("Stopped {name}{}", suffix(&shown)),
        Control::Restart => format!("Restarted {name}{}", suffix(&shown)),
    }
}

/// At most this many programs are asked at once by `start|stop|restart all`.
const ALL_AT_ONCE: usize = 16;

/// `programs start|stop|restart all` (supervisorctl's habit): every program, by priority
/// groups as boot and shutdown go (starts lowest first, stops highest first), the programs
/// of one group at once. Start and restart skip the disabled programs and those whose file
/// was never valid, and say so. Exits 1 when any of them failed.
fn control_all(session: &Session, args: &ControlArgs, control: Control) -> Result<(), CliError> {
    let verb = control.verb();
    let answered = session.get("/programs")?;
    let programs = answered.data["programs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut groups: std::collections::BTreeMap<i64, Vec<Value>> = Default::default();
    let mut skipped: Vec<(String, &str)> = Vec::new();
    for program in programs {
        let name = scalar(&program["name"]);
        let never_valid = !program["config_error"].is_null()
            && program["config_error"]["running_generation"]
                .as_u64()
                .unwrap_or(0)
                == 0;
        if never_valid {
            skipped.push((name, "its file has never been valid"));
            continue;
        }
        if control != Control::Stop && program["enabled"] != Value::Bool(true) {
            skipped.push((name, "not enabled"));
            continue;
        }
        let priority = program["priority"].as_i64().unwrap_or(999);
        let key = if control == Control::Stop {
            -priority
        } else {
            priority
        };
        groups.entry(key).or_default().push(program);
    }
    let mut results: Vec<(String, Result<Value, CliError>)> = Vec::new();
    for group in groups.values() {
        for chunk in group.chunks(ALL_AT_ONCE) {
            let answers: Vec<(String, Result<Value, CliError>)> = std::thread::scope(|scope| {
                let asked: Vec<_> = chunk
                    .iter()
                    .map(|program| {
                        scope.spawn(move || {
                            let name = scalar(&program["name"]);
                            let waiting = session.with_timeout(if args.no_wait {
                                session.client.timeout
                            } else {
                                wait_bound(program, control)
                            });
                            let path =
                                format!("/programs/{}/{verb}{}", segment(&name), wait_query(args));
                            let answer = waiting.post(&path, None).map(|answered| answered.data);
                            (name, answer)
                        })
                    })
                    .collect();
                asked
                    .into_iter()
                    .filter_map(|handle| handle.join().ok())
                    .collect()
            });
            results.extend(answers);
        }
    }
    let failed = results.iter().filter(|(_, answer)| answer.is_err()).count();
    if session.json {
        let mut items: Vec<Value> = results
            .iter()
            .map(|(name, answer)| match answer {
                Ok(data) => json!({ "name": name, "ok": true, "data": data }),
                Err(error) => {
                    json!({ "name": name, "ok": false, "error": error.message, "body": error.body })
                }
            })
            .collect();
        items.extend(
            skipped
                .iter()
                .map(|(name, why)| json!({ "name": name, "ok": true, "skipped": why })),
        );
        output::print_json(&json!({ "programs": items, "failed": failed }));
    } else {
        for (name, answer) in &results {
            match answer {
                Ok(data) => println!("{}", control_line(data, control, args.no_wait)),
                Err(error) if error.message.contains(" did not start ") => {
                    eprintln!("{}", error.message);
                }
                Err(error) => eprintln!("{verb} {name}: {}", error.message),
            }
        }
        for (name, why) in &skipped {
            println!("Skipped {name}: {why}");
        }
        if results.is_empty() && skipped.is_empty() {
            println!("No programs.");
        }
    }
    if failed > 0 {
        return Err(CliError::new(
            exit::ERROR,
            format!("{failed} of {} programs did not {verb}", results.len()),
        ));
    }
    Ok(())
}

/// `programs signal ID SIGNAL`.
fn send_signal(session: &Session, id: &str, signal: &str) -> Result<(), CliError> {
    let body = json!({ "signal": signal });
    let answered = session
        .post(&format!("/programs/{}/signal", segment(id)), Some(&body))
        .map_err(|error| error.context(&format!("signal {id}")))?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    println!(
        "Sent {} to {} (pid {})",
        scalar(&data["signal"]),
        scalar(&data["name"]),
        scalar(&data["pid"])
    );
    Ok(())
}

/// `programs history ID` (and `history ID`): every change of the program's file, oldest
/// first, with who made it and the diff.
fn history(session: &Session, id: &str) -> Result<(), CliError> {
    let answered = session.get(&format!("/programs/{}/history", segment(id)))?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    let changes = data["history"].as_array().cloned().unwrap_or_default();
    println!(
        "{} (id {}): {} change{}, oldest first",
        scalar(&data["name"]),
        scalar(&data["id"]),
        changes.len(),
        if changes.len() == 1 { "" } else { "s" }
    );
    for change in &changes {
        let by = match change["source"].as_str() {
            Some("api") => "through the API",
            _ => "in the file",
        };
        println!(
            "\ngeneration {}  {}  {} {by}",
            scalar(&change["generation"]),
            output::utc_time(change["time"].as_f64().unwrap_or(0.0)),
            scalar(&change["change"]),
        );
        for problem in change["problems"].as_array().into_iter().flatten() {
            println!("! {}", scalar(problem));
        }
        output::print_diff(change["diff"].as_str().unwrap_or_default());
    }
    Ok(())
}

fn suffix(shown: &str) -> String {
    if shown.is_empty() {
        String::new()
    } else {
        format!(": {shown}")
    }
}

/// `RUNNING, pid 123` from a status object; empty when there is none.
fn describe_status(status: &Value) -> String {
    let Some(state) = status["status"].as_str() else {
        return String::new();
    };
    let mut text = output::state(state);
    if let Some(pid) = status["pid"].as_u64() {
        text.push_str(&format!(", pid {pid}"));
    }
    if state != "RUNNING"
        && let Some(exit) = output::last_exit(&status["last_exit"])
    {
        text.push_str(&format!(", last {exit}"));
    }
    text
}

fn delete(session: &Session, args: &ControlArgs) -> Result<(), CliError> {
    let path = format!("/programs/remove/{}{}", segment(&args.id), wait_query(args));
    // A delete waits for the process to stop, as a stop does.
    let answered = waiting_session(session, args, Control::Stop)?.post(&path, None)?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    println!(
        "Deleted program {} (id {})",
        scalar(&data["name"]),
        scalar(&data["id"])
    );
    output::print_diff(data["diff"].as_str().unwrap_or_default());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_waits_as_long_as_the_daemon_may_plus_slack() {
        let seconds = |value: f64| WAIT_SLACK + Duration::from_secs_f64(value * 1.25);
        let defaults = json!({});
        let slow = json!({ "startsecs": 130, "startretries": 0, "stopwaitsecs": 5 });
        let patient = json!({ "startsecs": 2, "startretries": 2, "stopwaitsecs": 300 });
        let cases = [
            // startsecs 1 × 4 tries + backoff 1 + 2 + 3 s, after a stop of up to 10 s.
            (&defaults, Control::Start, seconds(10.0 + 4.0 + 6.0)),
            (&defaults, Control::Stop, seconds(10.0)),
            (&defaults, Control::Enable, WAIT_SLACK),
            // Longer than the old fixed 120 s: a start whose startsecs is 130 s.
            (&slow, Control::Start, seconds(5.0 + 130.0)),
            (&slow, Control::Restart, seconds(5.0 + 130.0)),
            (&patient, Control::Disable, seconds(300.0)),
            (&patient, Control::Start, seconds(300.0 + 6.0 + 3.0)),
        ];
        for (program, control, expected) in cases {
            assert_eq!(
                wait_bound(program, control),
                expected,
                "{program} {control:?}"
            );
        }
        assert!(wait_bound(&slow, Control::Start) > Duration::from_secs(120));
    }
}
