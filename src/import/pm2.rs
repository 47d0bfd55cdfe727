//! PM2 apps into program files: an ecosystem file (`{apps: [...]}`, a bare array, or one app;
//! JSON, YAML, or the JSON a `.config.js` evaluates to) or the output of `pm2 jlist` (each
//! process's `pm2_env`). `script` + `args` + `interpreter` (or `exec_interpreter`, chosen from
//! the script's extension as PM2 does when absent; `none` runs the script itself) become the
//! command, as an argv; `cwd` the directory; `env` the environment (with `--env NAME`,
//! `env_NAME` over it, as `pm2 start --env NAME`); `autorestart`, `out_file`, `error_file`,
//! `min_uptime`, `max_restarts`, `kill_timeout`, `stop_exit_codes`, `treekill`, `uid` their
//! counterparts; the array's order the `priority` (10, 20, 30 …: first starts first).
//! `max_memory_restart` is kept as it is (`"300M"`: hoody-daemon reads PM2's sizes), or as
//! `x-pm2-max_memory_restart`, reported, when it is not a size it reads. PM2's defaults are written where they differ from
//! hoody-daemon's: `autorestart = "true"`, `stopsignal = "INT"` with `stopwaitsecs = 1.6`
//! (PM2's SIGINT and 1600 ms kill timeout), `startretries = 16`; `boot` is PM2's `autostart`
//! (true), or for `pm2 jlist` whether the process is online.
//!
//! `pm2 jlist` shows each app's environment mixed with the whole environment of the pm2
//! daemon. What is kept: the variables whose value differs from the importing environment's
//! (so, imported on the machine pm2 runs on, the app's own); pm2's own (`PM2_*`,
//! `NODE_APP_INSTANCE`, `unique_id`, …) and the shell's are left out, and both lists are
//! reported by name. An ecosystem file has no such mix: prefer it. **Pure.**

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{ImportError, Imported, ImportedProgram, absolute, environment_value};

/// What a conversion needs besides the document.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How messages name the file.
    pub file: String,
    /// The file's folder: relative `cwd`s are resolved against it, and it is the directory of
    /// an app without `cwd`.
    pub base_dir: PathBuf,
    /// `--env NAME`: `env_NAME` is applied over `env`.
    pub env_name: Option<String>,
    /// The importing environment (for `pm2 jlist`'s environments).
    pub environment: BTreeMap<String, String>,
}

/// PM2's interpreters by extension (`lib/API/interpreter.json`).
const INTERPRETERS: &[(&str, &str)] = &[
    (".sh", "bash"),
    (".py", "python"),
    (".rb", "ruby"),
    (".php", "php"),
    (".pl", "perl"),
    (".js", "node"),
    (".cjs", "node"),
    (".mjs", "node"),
    (".coffee", "coffee"),
    (".ls", "lsc"),
    (".ts", "bun"),
    (".tsx", "bun"),
];

/// PM2's default kill signal and timeout (`constants.js`), and `max_restarts`.
const PM2_STOP_SIGNAL: &str = "INT";
const PM2_KILL_TIMEOUT_MS: f64 = 1600.0;
const PM2_MAX_RESTARTS: u64 = 16;

/// Keys of an app that have no counterpart, and why.
fn unmapped_reason(key: &str) -> Option<&'static str> {
    Some(match key {
        "watch" | "ignore_watch" | "watch_options" | "watch_delay" => {
            "hoody-daemon does not restart on file changes"
        }
        "cron_restart" => {
            "hoody-daemon has no scheduled restarts (use a systemd timer or cron calling `hoody-daemon programs restart`)"
        }
        "restart_delay" | "exp_backoff_restart_delay" => {
            "hoody-daemon restarts at once after RUNNING and backs off 1 s, 2 s, 3 s … before it"
        }
        "wait_ready" | "listen_timeout" => "readiness is not imported (see [healthcheck])",
        "shutdown_with_message" => "hoody-daemon stops with a signal (stopsignal)",
        "log_file" => "no combined log file: stdout and stderr have their own (or redirect_stderr)",
        "merge_logs" | "log_type" => "no counterpart",
        "log_date_format" | "time" => "no timestamps are added to the log lines",
        "pid_file" => "hoody-daemon writes no pid files",
        "gid" => "the group is the user's (set `user`)",
        "increment_var" | "instance_var" => "no instances (one process per program)",
        "filter_env" | "append_env_to_name" => "no counterpart",
        "source_map_support"
        | "disable_source_map_support"
        | "vizion"
        | "automation"
        | "pmx"
        | "trace"
        | "disable_trace"
        | "v8"
        | "event_loop_inspector"
        | "deep_monitoring"
        | "io"
        | "post_update"
        | "force"
        | "windowsHide"
        | "kill_retry_time"
        | "execute_command"
        | "write"
        | "install_url"
        | "name_prefix" => "a PM2 feature with no counterpart",
        "username" => "the user that ran pm2; set `user` for the program's",
        "deploy" => "PM2's deployment settings are not imported",
        _ => return None,
    })
}

/// Converts an ecosystem document or `pm2 jlist` output.
pub fn convert(document: &Value, options: &Options) -> Result<Imported, Vec<ImportError>> {
    let mut imported = Imported::default();
    let apps: Vec<Result<App, ImportError>> = if let Some(processes) = jlist(document) {
        imported.notes.push(format!(
            "{}: pm2 jlist output ({} processes)",
            options.file,
            processes.len()
        ));
        processes
            .iter()
            .enumerate()
            .map(|(index, process)| App::from_jlist(index, process, options))
            .collect()
    } else {
        let apps = match document {
            Value::Array(apps) => apps.clone(),
            Value::Object(object) => match object.get("apps") {
                Some(Value::Array(apps)) => apps.clone(),
                Some(app @ Value::Object(_)) => vec![app.clone()],
                Some(_) => {
                    return Err(vec![ImportError::new(
                        &options.file,
                        "apps must be an array of apps",
                    )]);
                }
                None if object.contains_key("script") => vec![document.clone()],
                None => {
                    return Err(vec![ImportError::new(
                        &options.file,
                        "no apps: an ecosystem file holds {apps: [...]} (or one app with a script)",
                    )]);
                }
            },
            _ => {
                return Err(vec![ImportError::new(
                    &options.file,
                    "expected an ecosystem ({apps: [...]}) or the output of pm2 jlist",
                )]);
            }
        };
        if let Value::Object(object) = document {
            for key in object.keys().filter(|key| *key != "apps") {
                let reason = unmapped_reason(key).unwrap_or("not an app setting; ignored");
                imported.unmapped.push(format!("{key}: {reason}"));
            }
        }
        apps.iter()
            .enumerate()
            .map(|(index, app)| App::from_ecosystem(index, app, options))
            .collect()
    };
    let mut errors = Vec::new();
    for app in apps {
        match app.and_then(|app| app.convert(options)) {
            Ok(program) => imported.programs.push(program),
            Err(error) => errors.push(error),
        }
    }
    let mut seen = BTreeMap::new();
    for program in &imported.programs {
        if let Some(first) = seen.insert(program.name.clone(), program.source.clone()) {
            errors.push(ImportError::new(
                program.source.clone(),
                format!("the name {} is also {first}'s", program.name),
            ));
        }
    }
    if errors.is_empty() {
        Ok(imported)
    } else {
        Err(errors)
    }
}

/// `pm2 jlist`: an array of processes, each with a `pm2_env` object.
fn jlist(document: &Value) -> Option<&Vec<Value>> {
    let processes = document.as_array()?;
    let all = !processes.is_empty()
        && processes
            .iter()
            .all(|process| process.get("pm2_env").is_some_and(Value::is_object));
    all.then_some(processes)
}

/// One app, as an ecosystem writes it, whatever it was read from.
struct App {
    index: usize,
    /// An ecosystem app's keys (a jlist process's mapped to them).
    fields: Map<String, Value>,
    source: String,
    from_jlist: bool,
    /// jlist: the process was online.
    online: Option<bool>,
    /// Said while building it (jlist: the environment left out).
    notes: Vec<String>,
    unmapped: Vec<String>,
}

impl App {
    fn from_ecosystem(index: usize, app: &Value, options: &Options) -> Result<App, ImportError> {
        let Value::Object(fields) = app else {
            return Err(ImportError::new(
                format!("{} apps[{index}]", options.file),
                "an app must be an object",
            ));
        };
        let name = fields.get("name").and_then(Value::as_str).unwrap_or("?");
        Ok(App {
            index,
            fields: fields.clone(),
            source: format!("{} apps[{index}] ({name})", options.file),
            from_jlist: false,
            online: None,
            notes: Vec::new(),
            unmapped: Vec::new(),
        })
    }

    fn from_jlist(index: usize, process: &Value, options: &Options) -> Result<App, ImportError> {
        let environment = &process["pm2_env"];
        let name = environment["name"]
            .as_str()
            .or_else(|| process["name"].as_str())
            .unwrap_or("?")
            .to_string();
        let mut fields = Map::new();
        fields.insert("name".into(), Value::from(name.clone()));
        for (from, to) in [
            ("pm_exec_path", "script"),
            ("args", "args"),
            ("exec_interpreter", "exec_interpreter"),
            ("node_args", "node_args"),
            ("pm_cwd", "cwd"),
            ("autorestart", "autorestart"),
            ("pm_out_log_path", "out_file"),
            ("pm_err_log_path", "error_file"),
            ("max_memory_restart", "max_memory_restart"),
            ("min_uptime", "min_uptime"),
            ("max_restarts", "max_restarts"),
            ("kill_timeout", "kill_timeout"),
            ("stop_exit_codes", "stop_exit_codes"),
            ("treekill", "treekill"),
            ("uid", "uid"),
            ("namespace", "namespace"),
        ] {
            if let Some(value) = environment.get(from).filter(|value| !value.is_null()) {
                fields.insert(to.into(), value.clone());
            }
        }
        // What only matters when it is not PM2's default.
        let mut unmapped = Vec::new();
        let truthy = |value: &Value| match value {
            Value::Bool(flag) => *flag,
            Value::Null => false,
            Value::Number(number) => number.as_f64().is_some_and(|number| number != 0.0),
            Value::String(text) => !text.is_empty(),
            _ => true,
        };
        for key in [
            "watch",
            "cron_restart",
            "restart_delay",
            "exp_backoff_restart_delay",
            "wait_ready",
            "log_date_format",
            "shutdown_with_message",
        ] {
            if let Some(value) = environment.get(key).filter(|value| truthy(value)) {
                fields.insert(key.into(), value.clone());
            }
        }
        if let Some(instances) = environment
            .get("instances")
            .filter(|value| value.as_i64() != Some(1))
        {
            fields.insert("instances".into(), instances.clone());
        }
        if let Some(mode) = environment["exec_mode"].as_str()
            && mode.starts_with("cluster")
        {
            fields.insert("exec_mode".into(), Value::from(mode));
        }
        let (kept, notes) = jlist_environment(&name, environment, options);
        if !kept.is_empty() {
            fields.insert("env".into(), Value::Object(kept));
        }
        // Logs in pm2's own folder are pm2's defaults: the program gets hoody-daemon's.
        let pm2_home = environment["env"]["PM2_HOME"]
            .as_str()
            .or_else(|| environment["PM2_HOME"].as_str())
            .map(str::to_string);
        if let Some(home) = pm2_home {
            let logs = format!("{}/logs/", home.trim_end_matches('/'));
            for key in ["out_file", "error_file"] {
                if fields
                    .get(key)
                    .and_then(Value::as_str)
                    .is_some_and(|path| path.starts_with(&logs))
                {
                    fields.remove(key);
                    unmapped.push(format!(
                        "{key}: pm2's default log in {logs} is left for hoody-daemon's (\"auto\")"
                    ));
                }
            }
        }
        let pm_id = process["pm_id"]
            .as_i64()
            .map_or(String::new(), |id| format!(", pm_id {id}"));
        Ok(App {
            index,
            fields,
            source: format!("{} [{index}] ({name}{pm_id})", options.file),
            from_jlist: true,
            online: Some(environment["status"] == "online"),
            notes,
            unmapped,
        })
    }

    fn error(&self, message: impl Into<String>) -> ImportError {
        ImportError::new(self.source.clone(), message)
    }

    fn convert(self, options: &Options) -> Result<ImportedProgram, ImportError> {
        let fields = &self.fields;
        let mut program = ImportedProgram {
            name: String::new(),
            fields: Map::new(),
            source: self.source.clone(),
            unmapped: self.unmapped.clone(),
            notes: self.notes.clone(),
        };
        let script = match fields.get("script") {
            Some(Value::String(script)) if !script.trim().is_empty() => script.trim().to_string(),
            _ => return Err(self.error("has no script")),
        };
        let name = match fields.get("name") {
            Some(Value::String(name)) => name.clone(),
            Some(_) => return Err(self.error("name must be a string")),
            None => {
                let stem = Path::new(&script).file_stem().map_or_else(
                    || script.clone(),
                    |stem| stem.to_string_lossy().into_owned(),
                );
                program.notes.push(format!(
                    "no name: named {stem} after its script, as PM2 does"
                ));
                stem
            }
        };
        crate::spec::name::check_name(&name).map_err(|message| {
            self.error(format!("{message} (a program file's name; rename the app)"))
        })?;
        program.name = name;

        let directory = match fields.get("cwd") {
            Some(Value::String(cwd)) => absolute(&options.base_dir, cwd),
            Some(_) => return Err(self.error("cwd must be a string")),
            None => {
                program.notes.push(format!(
                    "no cwd: the directory is the file's folder, {}",
                    options.base_dir.display()
                ));
                options.base_dir.clone()
            }
        };
        program.fields.insert(
            "directory".into(),
            Value::from(directory.to_string_lossy().into_owned()),
        );

        program.fields.insert(
            "command".into(),
            self.command(&script, &directory, &mut program.notes)?,
        );

        // The environment, and `--env NAME`'s over it.
        let mut environment = BTreeMap::new();
        if let Some(env) = fields.get("env") {
            add_variables(env, "env", &mut environment, &mut program.notes)
                .map_err(|message| self.error(message))?;
        }
        if let Some(port) = fields.get("port").filter(|port| !port.is_null()) {
            let port = port
                .as_str()
                .map_or_else(|| port.to_string(), str::to_string);
            environment.insert("PORT".into(), port);
        }
        let mut chosen = false;
        for (key, value) in fields.iter().filter(|(key, _)| key.starts_with("env_")) {
            let environment_name = &key["env_".len()..];
            if options.env_name.as_deref() == Some(environment_name) {
                add_variables(value, key, &mut environment, &mut program.notes)
                    .map_err(|message| self.error(message))?;
                chosen = true;
            } else {
                program.unmapped.push(format!(
                    "{key}: applied only with `--env {environment_name}` (as `pm2 start --env {environment_name}`)"
                ));
            }
        }
        if let Some(environment_name) = &options.env_name {
            if chosen {
                program.notes.push(format!(
                    "env_{environment_name} applied over env (--env {environment_name})"
                ));
            } else if !self.from_jlist {
                program.notes.push(format!(
                    "--env {environment_name}: this app has no env_{environment_name}"
                ));
            }
        }
        if !environment.is_empty() {
            program
                .fields
                .insert("environment".into(), environment_value(&environment));
        }

        // Restarts, as PM2 does them unless told.
        let autorestart = match fields.get("autorestart") {
            None => {
                program
                    .notes
                    .push("autorestart = \"true\": PM2 restarts an app whatever its exit".into());
                true
            }
            Some(Value::Bool(flag)) => *flag,
            Some(other) => {
                return Err(self.error(format!("autorestart must be true or false, not {other}")));
            }
        };
        match fields.get("stop_exit_codes") {
            Some(codes) if autorestart => {
                let codes: Vec<i64> = match codes {
                    Value::Number(code) => code.as_i64().into_iter().collect(),
                    Value::Array(codes) => codes.iter().filter_map(Value::as_i64).collect(),
                    _ => {
                        return Err(
                            self.error("stop_exit_codes must be a number or a list of numbers")
                        );
                    }
                };
                program
                    .fields
                    .insert("autorestart".into(), Value::from("unexpected"));
                program
                    .fields
                    .insert("exitcodes".into(), Value::from(codes));
            }
            _ => {
                program.fields.insert(
                    "autorestart".into(),
                    Value::from(if autorestart { "true" } else { "false" }),
                );
            }
        }
        let boot = match (self.online, fields.get("autostart")) {
            (Some(online), _) => {
                if !online {
                    program
                        .notes
                        .push("boot = false: the process was not online in pm2".into());
                }
                online
            }
            (None, Some(Value::Bool(flag))) => *flag,
            (None, _) => true,
        };
        program.fields.insert("boot".into(), Value::from(boot));
        if let Some(value) = fields.get("min_uptime") {
            let seconds = duration_seconds(value).ok_or_else(|| {
                self.error(format!(
                    "min_uptime {value} is not a time (ms, or 1s, 2m, 1h)"
                ))
            })?;
            program
                .fields
                .insert("startsecs".into(), crate::spec::seconds_to_json(seconds));
        }
        let retries = match fields.get("max_restarts") {
            Some(value) => value
                .as_u64()
                .ok_or_else(|| self.error(format!("max_restarts {value} is not a count")))?,
            None => PM2_MAX_RESTARTS,
        };
        program
            .fields
            .insert("startretries".into(), Value::from(retries));
        program
            .fields
            .insert("stopsignal".into(), Value::from(PM2_STOP_SIGNAL));
        let kill_timeout = match fields.get("kill_timeout") {
            Some(value) => value
                .as_f64()
                .filter(|milliseconds| *milliseconds >= 0.0)
                .ok_or_else(|| self.error(format!("kill_timeout {value} is not milliseconds")))?,
            None => PM2_KILL_TIMEOUT_MS,
        };
        program.fields.insert(
            "stopwaitsecs".into(),
            crate::spec::seconds_to_json(kill_timeout / 1000.0),
        );
        program.notes.push(format!(
            "stopsignal = \"INT\", stopwaitsecs = {}: PM2 stops with SIGINT, then SIGKILL after kill_timeout",
            kill_timeout / 1000.0
        ));
        if fields.get("treekill") == Some(&Value::Bool(false)) {
            program
                .fields
                .insert("stopasgroup".into(), Value::from(false));
            program
                .fields
                .insert("killasgroup".into(), Value::from(false));
        }
        program
            .fields
            .insert("priority".into(), Value::from((self.index as u64 + 1) * 10));

        // Logs.
        let disabled = fields.get("disable_logs") == Some(&Value::Bool(true));
        for (keys, field) in [
            (["out_file", "output"], "stdout_logfile"),
            (["error_file", "error"], "stderr_logfile"),
        ] {
            if disabled {
                program.fields.insert(field.into(), Value::from("none"));
                continue;
            }
            let Some(value) = keys.iter().find_map(|key| fields.get(*key)) else {
                continue;
            };
            match value {
                Value::String(path) if path == "/dev/null" => {
                    program.fields.insert(field.into(), Value::from("none"));
                }
                Value::String(path) => {
                    let path = absolute(&directory, path);
                    program.fields.insert(
                        field.into(),
                        Value::from(path.to_string_lossy().into_owned()),
                    );
                }
                Value::Bool(false) => {
                    program.fields.insert(field.into(), Value::from("none"));
                }
                other => program
                    .unmapped
                    .push(format!("{}: {other} is not a path", keys[0])),
            }
        }
        if let Some(user) = fields.get("uid") {
            let value = match user {
                Value::Number(uid) => Value::from(
                    uid.as_u64()
                        .ok_or_else(|| self.error("uid must be a user name or number"))?,
                ),
                Value::String(name) => Value::from(name.clone()),
                _ => return Err(self.error("uid must be a user name or number")),
            };
            program.fields.insert("user".into(), value);
        }
        if let Some(limit) = fields
            .get("max_memory_restart")
            .filter(|limit| !limit.is_null())
        {
            // PM2's sizes (`300M`, `1G`, bytes) are read as hoody-daemon's; its `K` too.
            let bytes = match limit {
                Value::String(text) => crate::spec::parse_size(text).ok(),
                Value::Number(number) => number.as_u64(),
                _ => None,
            };
            match bytes {
                Some(bytes) if bytes >= 1 << 20 => {
                    program
                        .fields
                        .insert("max_memory_restart".into(), limit.clone());
                }
                _ => {
                    program
                        .fields
                        .insert("x-pm2-max_memory_restart".into(), limit.clone());
                    program.unmapped.push(format!(
                        "max_memory_restart = {limit}: kept as x-pm2-max_memory_restart; not a size of at least 1MB"
                    ));
                }
            }
        }
        match fields.get("instances") {
            None | Some(Value::Null) => {}
            Some(value) if value.as_i64() == Some(1) => {}
            Some(value) => program.unmapped.push(format!(
                "instances = {value}: one process is run (hoody-daemon runs one per program; copy the file, each with its own port, for more)"
            )),
        }
        if let Some(mode) = fields.get("exec_mode").and_then(Value::as_str)
            && mode.starts_with("cluster")
        {
            program.unmapped.push(format!(
                "exec_mode = {mode}: node's cluster mode (processes sharing a port) has no counterpart; one process is run"
            ));
        }
        if let Some(namespace) = fields.get("namespace").and_then(Value::as_str)
            && namespace != "default"
        {
            program
                .unmapped
                .push(format!("namespace = {namespace}: no namespaces"));
        }
        for (key, value) in fields {
            if MAPPED.contains(&key.as_str()) || key.starts_with("env_") {
                continue;
            }
            let reason = unmapped_reason(key).unwrap_or("not a PM2 setting; ignored");
            program.unmapped.push(format!("{key} = {value}: {reason}"));
        }
        Ok(program)
    }

    /// `interpreter [interpreter args] script [args]`, as an argv.
    fn command(
        &self,
        script: &str,
        directory: &Path,
        notes: &mut Vec<String>,
    ) -> Result<Value, ImportError> {
        let fields = &self.fields;
        let words = |key: &str| -> Result<Vec<String>, ImportError> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::String(text)) => {
                    shell_words::split(text).map_err(|error| self.error(format!("{key}: {error}")))
                }
                Some(Value::Array(items)) => Ok(items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .map_or_else(|| item.to_string(), str::to_string)
                    })
                    .collect()),
                Some(other) => {
                    Err(self.error(format!("{key} must be a string or a list, not {other}")))
                }
            }
        };
        let given = fields
            .get("interpreter")
            .or_else(|| fields.get("exec_interpreter"))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|interpreter| !interpreter.is_empty());
        let by_extension = INTERPRETERS
            .iter()
            .find(|(extension, _)| script.ends_with(extension))
            .map(|(_, interpreter)| *interpreter);
        let interpreter = match given {
            Some("none") => None,
            Some(interpreter) => Some(interpreter.to_string()),
            None => {
                if let Some(interpreter) = by_extension {
                    notes.push(format!(
                        "interpreter {interpreter}: chosen from the script's extension, as PM2 does"
                    ));
                }
                by_extension.map(str::to_string)
            }
        };
        // A path (or a file PM2 would run with an interpreter) is the app's, resolved against
        // its folder; a bare word with no known extension is a command found on PATH (`npm`).
        let script = if interpreter.is_some() || script.contains('/') || by_extension.is_some() {
            absolute(directory, script).to_string_lossy().into_owned()
        } else {
            script.to_string()
        };
        let mut argv = Vec::new();
        if let Some(interpreter) = interpreter {
            argv.extend(
                shell_words::split(&interpreter)
                    .map_err(|error| self.error(format!("interpreter: {error}")))?,
            );
            let mut interpreter_args = words("interpreter_args")?;
            interpreter_args.extend(words("node_args")?);
            argv.extend(interpreter_args);
        }
        argv.push(script);
        argv.extend(words("args")?);
        Ok(Value::from(argv))
    }
}

/// Adds an `env` object's variables (numbers and booleans as text; anything else as its JSON).
fn add_variables(
    value: &Value,
    what: &str,
    environment: &mut BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Result<(), String> {
    let Value::Object(map) = value else {
        return Err(format!("{what} must be an object of variables"));
    };
    for (key, value) in map {
        let text = match value {
            Value::Null => continue,
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(flag) => flag.to_string(),
            other => {
                notes.push(format!("{what}.{key}: written as its JSON text"));
                other.to_string()
            }
        };
        environment.insert(key.clone(), text);
    }
    Ok(())
}

/// The app keys read by [`App::convert`].
const MAPPED: &[&str] = &[
    "name",
    "script",
    "args",
    "interpreter",
    "exec_interpreter",
    "interpreter_args",
    "node_args",
    "cwd",
    "env",
    "port",
    "autorestart",
    "autostart",
    "stop_exit_codes",
    "min_uptime",
    "max_restarts",
    "kill_timeout",
    "treekill",
    "out_file",
    "output",
    "error_file",
    "error",
    "disable_logs",
    "uid",
    "max_memory_restart",
    "instances",
    "exec_mode",
    "namespace",
];

/// PM2's times: milliseconds, or a string with `ms`, `s`, `m` or `h`.
fn duration_seconds(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64().map(|milliseconds| milliseconds / 1000.0),
        Value::String(text) => {
            let text = text.trim();
            let (number, scale) = if let Some(number) = text.strip_suffix("ms") {
                (number, 0.001)
            } else if let Some(number) = text.strip_suffix('s') {
                (number, 1.0)
            } else if let Some(number) = text.strip_suffix('m') {
                (number, 60.0)
            } else if let Some(number) = text.strip_suffix('h') {
                (number, 3600.0)
            } else {
                (text, 0.001)
            };
            number
                .trim()
                .parse::<f64>()
                .ok()
                .map(|number| number * scale)
        }
        _ => None,
    }
    .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
}

/// The variables of a `pm2 jlist` process to keep (see the module's notes), and what to say.
fn jlist_environment(
    name: &str,
    environment: &Value,
    options: &Options,
) -> (Map<String, Value>, Vec<String>) {
    let Some(variables) = environment["env"].as_object() else {
        return (Map::new(), Vec::new());
    };
    let instance_var = environment["instance_var"]
        .as_str()
        .unwrap_or("NODE_APP_INSTANCE");
    let mut kept = Map::new();
    let mut pm2s = Vec::new();
    let mut shells = Vec::new();
    for (key, value) in variables {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        let pm2_own = key.starts_with("PM2_")
            || key == name
            || key == instance_var
            || matches!(
                key.as_str(),
                "unique_id" | "pm_id" | "_" | "PWD" | "OLDPWD" | "SHLVL"
            );
        if pm2_own {
            pm2s.push(key.clone());
        } else if options.environment.get(key) == Some(&text) {
            shells.push(key.clone());
        } else {
            kept.insert(key.clone(), value.clone());
        }
    }
    let mut notes = Vec::new();
    if !shells.is_empty() {
        notes.push(format!(
            "pm2 jlist mixes an app's environment with pm2's own: left out {} variables equal to this environment's ({}); kept {} ({})",
            shells.len(),
            shells.join(", "),
            kept.len(),
            kept.keys().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !pm2s.is_empty() {
        notes.push(format!("left out pm2's own variables: {}", pm2s.join(", ")));
    }
    (kept, notes)
}

#[cfg(test)]
mod tests;
