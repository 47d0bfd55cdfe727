//! `hoody-daemon programs …` and `hoody-daemon status`: the seed's program commands as a client
//! of the API. Each command is one or two requests; what it prints is a message, a table or the
//! file's diff, or with `--json` the API's `data`. (`programs logs` is in `cli/logs.rs`.)

use serde_json::{Map, Value};

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
    let mut headers = Vec::new();
    let etag;
    if !args.fields.env.is_empty() || !args.unset_env.is_empty() {
        // The environment is one field: read it, change the keys asked, and send it back only
        // if nobody changed the program meanwhile (If-Match).
        let current = session.get(&format!("/programs/{}", segment(&args.id)))?;
        let mut environment = current.data["program"]["environment"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        environment.extend(self::environment(&args.fields.env));
        for key in &args.unset_env {
            environment.remove(key);
        }
        body.insert("environment".into(), Value::Object(environment));
        etag = current.etag;
        if let Some(etag) = &etag {
            headers.push(("If-Match", etag.as_str()));
        }
    }
    if body.is_empty() {
        return Err(CliError::usage(
            "nothing to change: give the fields to change (--command, --user, --env …, --set FIELD=VALUE) or --reset FIELD",
        ));
    }
    let path = format!("/programs/edit/{}", segment(&args.id));
    let answered = session.call("POST", &path, Some(&Value::Object(body)), &headers)?;
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
                "! {}: {message} (the last good version stays in effect)",
                scalar(&item["name"])
            );
        }
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
        println!(
            "\nconfig error: {message}\n  the last good version stays in effect until the file is fixed"
        );
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
        "ID", "NAME", "STATUS", "READY", "HEALTH", "PID", "UPTIME", "RESTARTS", "INFO",
    ]);
    for status in statuses {
        let state = output::text(&status["status"]);
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
            (None, Some(exit)) if state != "RUNNING" && state != "STARTING" => exit,
            _ => match (
                status["health"].as_str(),
                status["last_probe"]["ok"].as_bool(),
            ) {
                (Some("unhealthy"), _) | (_, Some(false)) => {
                    output::text(&status["last_probe"]["output"])
                }
                _ => status["status_text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
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

fn control(session: &Session, args: &ControlArgs, control: Control) -> Result<(), CliError> {
    let verb = match control {
        Control::Enable => "enable",
        Control::Disable => "disable",
        Control::Start => "start",
        Control::Stop => "stop",
        Control::Restart => "restart",
    };
    let path = format!("/programs/{}/{verb}{}", segment(&args.id), wait_query(args));
    let answered = session
        .post(&path, None)
        .map_err(|error| error.context(&format!("{verb} {}", args.id)))?;
    let data = &answered.data;
    if session.json {
        output::print_json(data);
        return Ok(());
    }
    let name = scalar(&data["name"]);
    let status = &data["status"];
    let state = status["status"].as_str().unwrap_or("");
    let shown = describe_status(status);
    let changed = data["changed"] != Value::Bool(false);
    match control {
        Control::Enable if changed => println!("Enabled {name} (it may now be started)"),
        Control::Enable => println!("{name} was already enabled"),
        Control::Disable if changed => println!("Disabled {name}{}", suffix(&shown)),
        Control::Disable => println!("{name} was already disabled{}", suffix(&shown)),
        _ if args.no_wait => println!("Asked {name} to {verb}{}", suffix(&shown)),
        Control::Start if !changed => println!("{name} is already running{}", suffix(&shown)),
        Control::Stop if !changed => println!("{name} was not running{}", suffix(&shown)),
        Control::Start => println!("Started {name}{}", suffix(&shown)),
        Control::Stop => println!("Stopped {name}{}", suffix(&shown)),
        Control::Restart => println!("Restarted {name}{}", suffix(&shown)),
    }
    let starting = matches!(control, Control::Start | Control::Restart) && !args.no_wait;
    if starting && state == "FATAL" {
        let reason = status["last_error"]
            .as_str()
            .map(|error| format!(": {error}"))
            .unwrap_or_default();
        return Err(CliError::new(
            exit::ERROR,
            format!(
                "{name} did not start (FATAL{reason}); see `hoody-daemon programs logs {name}`"
            ),
        ));
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
    let answered = session.post(&path, None)?;
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
