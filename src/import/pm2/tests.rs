//! PM2 apps into programs: tables of apps and the fields they give, an ecosystem, a
//! `pm2 jlist` process as pm2 5 prints it, and the errors.

use serde_json::json;

use super::*;

fn options() -> Options {
    Options {
        file: "ecosystem.json".into(),
        base_dir: PathBuf::from("/srv/app"),
        env_name: None,
        environment: BTreeMap::new(),
    }
}

fn one(app: Value) -> ImportedProgram {
    let imported = convert(&json!({ "apps": [app] }), &options()).expect("converts");
    imported.programs.into_iter().next().expect("one program")
}

fn fields(program: &ImportedProgram) -> Value {
    Value::Object(program.fields.clone())
}

#[test]
fn commands_from_script_args_and_interpreter() {
    let table: [(Value, Value); 9] = [
        (
            json!({ "name": "a", "script": "server.js" }),
            json!(["node", "/srv/app/server.js"]),
        ),
        (
            json!({ "name": "a", "script": "./server.js", "args": "--port 3000 --name 'my app'" }),
            json!([
                "node",
                "/srv/app/server.js",
                "--port",
                "3000",
                "--name",
                "my app"
            ]),
        ),
        (
            json!({ "name": "a", "script": "app.py", "args": ["-v", 2] }),
            json!(["python", "/srv/app/app.py", "-v", "2"]),
        ),
        (
            json!({ "name": "a", "script": "app.py", "interpreter": "/usr/bin/python3", "interpreter_args": "-u" }),
            json!(["/usr/bin/python3", "-u", "/srv/app/app.py"]),
        ),
        (
            json!({ "name": "a", "script": "server.js", "node_args": ["--max-old-space-size=512"] }),
            json!(["node", "--max-old-space-size=512", "/srv/app/server.js"]),
        ),
        (
            json!({ "name": "a", "script": "npm", "args": "run start" }),
            json!(["npm", "run", "start"]),
        ),
        (
            json!({ "name": "a", "script": "bin/run", "interpreter": "none" }),
            json!(["/srv/app/bin/run"]),
        ),
        (
            json!({ "name": "a", "script": "/opt/x/run.sh" }),
            json!(["bash", "/opt/x/run.sh"]),
        ),
        (
            json!({ "name": "a", "script": "worker.js", "cwd": "sub", "exec_interpreter": "node" }),
            json!(["node", "/srv/app/sub/worker.js"]),
        ),
    ];
    for (app, command) in table {
        let program = one(app.clone());
        assert_eq!(fields(&program)["command"], command, "{app}");
    }
}

#[test]
fn pm2s_defaults_are_written() {
    let program = one(json!({ "name": "api", "script": "server.js" }));
    assert_eq!(
        fields(&program),
        json!({
            "command": ["node", "/srv/app/server.js"],
            "directory": "/srv/app",
            "autorestart": "true",
            "boot": true,
            "startretries": 16,
            "stopsignal": "INT",
            "stopwaitsecs": 1.6,
            "priority": 10,
        })
    );
    assert!(
        program
            .notes
            .iter()
            .any(|note| note.contains("autorestart")),
        "{:?}",
        program.notes
    );
}

#[test]
fn every_mapped_key() {
    let program = one(json!({
        "name": "api",
        "script": "server.js",
        "cwd": "/srv/api",
        "env": { "NODE_ENV": "production", "PORT": 3000, "DEBUG": false, "LIST": [1, 2] },
        "port": 4000,
        "autorestart": true,
        "stop_exit_codes": [0, 3],
        "autostart": false,
        "min_uptime": "5s",
        "max_restarts": 4,
        "kill_timeout": 3000,
        "treekill": false,
        "out_file": "logs/out.log",
        "error_file": "/dev/null",
        "uid": "nobody",
        "max_memory_restart": "300M",
        "instances": 1,
        "exec_mode": "fork",
    }));
    assert_eq!(
        fields(&program),
        json!({
            "command": ["node", "/srv/api/server.js"],
            "directory": "/srv/api",
            "environment": { "NODE_ENV": "production", "PORT": "4000", "DEBUG": "false", "LIST": "[1,2]" },
            "autorestart": "unexpected",
            "exitcodes": [0, 3],
            "boot": false,
            "startsecs": 5,
            "startretries": 4,
            "stopsignal": "INT",
            "stopwaitsecs": 3,
            "stopasgroup": false,
            "killasgroup": false,
            "priority": 10,
            "stdout_logfile": "/srv/api/logs/out.log",
            "stderr_logfile": "none",
            "user": "nobody",
            "max_memory_restart": "300M",
        })
    );
    assert!(
        program
            .unmapped
            .iter()
            .all(|line| !line.starts_with("max_memory_restart")),
        "{:?}",
        program.unmapped
    );
    assert!(
        program
            .unmapped
            .iter()
            .all(|line| !line.starts_with("instances")),
        "{:?}",
        program.unmapped
    );
}

#[test]
fn unmapped_keys_are_reported() {
    let program = one(json!({
        "name": "api",
        "script": "server.js",
        "instances": 4,
        "exec_mode": "cluster",
        "watch": true,
        "cron_restart": "0 3 * * *",
        "log_date_format": "YYYY-MM-DD",
        "env_production": { "NODE_ENV": "production" },
        "frobnicate": 1,
    }));
    let unmapped = program.unmapped.join("\n");
    for wanted in [
        "instances = 4",
        "exec_mode = cluster",
        "watch = true",
        "cron_restart = \"0 3 * * *\"",
        "log_date_format",
        "env_production: applied only with `--env production`",
        "frobnicate = 1: not a PM2 setting",
    ] {
        assert!(unmapped.contains(wanted), "{wanted} not in\n{unmapped}");
    }
}

#[test]
fn env_name_applies_its_block() {
    let document = json!({ "apps": [{
        "name": "api", "script": "server.js",
        "env": { "NODE_ENV": "development", "A": "1" },
        "env_production": { "NODE_ENV": "production" },
    }], "deploy": { "production": {} } });
    let options = Options {
        env_name: Some("production".into()),
        ..options()
    };
    let imported = convert(&document, &options).expect("converts");
    let program = &imported.programs[0];
    assert_eq!(
        fields(program)["environment"],
        json!({ "NODE_ENV": "production", "A": "1" })
    );
    assert!(
        imported
            .unmapped
            .iter()
            .any(|line| line.starts_with("deploy:")),
        "{:?}",
        imported.unmapped
    );
}

#[test]
fn array_order_is_priority_and_shapes_are_accepted() {
    let apps =
        json!([{ "name": "first", "script": "a.js" }, { "name": "second", "script": "b.js" }]);
    for document in [apps.clone(), json!({ "apps": apps })] {
        let imported = convert(&document, &options()).expect("converts");
        let priorities: Vec<_> = imported
            .programs
            .iter()
            .map(|program| (program.name.clone(), program.fields["priority"].clone()))
            .collect();
        assert_eq!(
            priorities,
            [
                ("first".to_string(), json!(10)),
                ("second".to_string(), json!(20))
            ]
        );
    }
    let single =
        convert(&json!({ "name": "solo", "script": "a.js" }), &options()).expect("one app");
    assert_eq!(single.programs.len(), 1);
    let unnamed = one(json!({ "script": "tools/cron-job.js" }));
    assert_eq!(unnamed.name, "cron-job");
}

#[test]
fn errors_name_the_app() {
    let table: [(Value, &str); 6] = [
        (json!({ "apps": [{ "name": "a" }] }), "has no script"),
        (
            json!({ "apps": [{ "name": "a b", "script": "x.js" }] }),
            "contains ' '",
        ),
        (
            json!({ "apps": [{ "name": "a", "script": "x.js", "autorestart": "yes" }] }),
            "autorestart must be true or false",
        ),
        (
            json!({ "apps": [{ "name": "a", "script": "x.js" }, { "name": "a", "script": "y.js" }] }),
            "is also",
        ),
        (json!({ "apps": 3 }), "apps must be an array"),
        (json!("text"), "expected an ecosystem"),
    ];
    for (document, wanted) in table {
        let errors = convert(&document, &options()).expect_err(&document.to_string());
        let all = errors
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(all.contains(wanted), "{document}: {all}");
        assert!(all.starts_with("ecosystem.json"), "{all}");
    }
}

#[test]
fn jlist_processes() {
    let jlist = json!([{
        "pid": 4242, "name": "api", "pm_id": 0, "monit": { "memory": 1, "cpu": 0 },
        "pm2_env": {
            "name": "api", "namespace": "default", "status": "online",
            "pm_exec_path": "/srv/app/server.js", "pm_cwd": "/srv/app",
            "args": ["--port", "3000"], "exec_interpreter": "node", "node_args": [],
            "exec_mode": "fork_mode", "instances": 1, "autorestart": true, "treekill": true,
            "instance_var": "NODE_APP_INSTANCE", "merge_logs": true, "vizion": true,
            "max_memory_restart": 314_572_800_u64,
            "pm_out_log_path": "/home/deploy/.pm2/logs/api-out.log",
            "pm_err_log_path": "/var/log/api/err.log",
            "env": {
                "api": "{}", "NODE_ENV": "production", "PORT": 3000,
                "PM2_HOME": "/home/deploy/.pm2", "PM2_USAGE": "CLI",
                "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/deploy",
                "PWD": "/srv/app", "unique_id": "x"
            }
        }
    }, {
        "pid": 0, "name": "batch", "pm_id": 1,
        "pm2_env": {
            "name": "batch", "status": "stopped", "pm_exec_path": "/srv/app/batch.py",
            "pm_cwd": "/srv/app", "args": [], "exec_interpreter": "python3", "node_args": [],
            "autorestart": false, "instances": 1, "exec_mode": "fork_mode",
            "watch": true, "env": {}
        }
    }]);
    let options = Options {
        file: "jlist.json".into(),
        environment: [
            ("PATH", "/usr/local/bin:/usr/bin:/bin"),
            ("HOME", "/home/deploy"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_string(), value.to_string()))
        .collect(),
        ..options()
    };
    let imported = convert(&jlist, &options).expect("converts");
    let api = &imported.programs[0];
    assert_eq!(
        fields(api),
        json!({
            "command": ["node", "/srv/app/server.js", "--port", "3000"],
            "directory": "/srv/app",
            "environment": { "NODE_ENV": "production", "PORT": "3000" },
            "autorestart": "true",
            "boot": true,
            "startretries": 16,
            "stopsignal": "INT",
            "stopwaitsecs": 1.6,
            "priority": 10,
            "stderr_logfile": "/var/log/api/err.log",
            "max_memory_restart": 314_572_800_u64,
        })
    );
    let notes = api.notes.join("\n");
    assert!(
        notes.contains("left out 2 variables equal to this environment's (HOME, PATH)"),
        "{notes}"
    );
    assert!(
        notes.contains("left out pm2's own variables: PM2_HOME, PM2_USAGE, PWD, api, unique_id"),
        "{notes}"
    );
    assert!(
        api.unmapped
            .iter()
            .any(|line| line.starts_with("out_file: pm2's default log")),
        "{:?}",
        api.unmapped
    );
    assert!(api.source.contains("(api, pm_id 0)"), "{}", api.source);
    let batch = &imported.programs[1];
    assert_eq!(fields(batch)["boot"], false);
    assert_eq!(fields(batch)["autorestart"], "false");
    assert_eq!(
        fields(batch)["command"],
        json!(["python3", "/srv/app/batch.py"])
    );
    assert_eq!(fields(batch)["priority"], 20);
    assert!(
        batch
            .unmapped
            .iter()
            .any(|line| line.starts_with("watch = true")),
        "{:?}",
        batch.unmapped
    );
    for program in &imported.programs {
        let text = program.render(crate::spec::Format::Toml, "pm2");
        assert_eq!(
            program.check(crate::spec::Format::Toml, &text),
            Ok(()),
            "{text}"
        );
    }
}

#[test]
fn pm2_times() {
    for (value, seconds) in [
        (json!(1500), Some(1.5)),
        (json!("2s"), Some(2.0)),
        (json!("500ms"), Some(0.5)),
        (json!("1m"), Some(60.0)),
        (json!("1h"), Some(3600.0)),
        (json!("250"), Some(0.25)),
        (json!("soon"), None),
        (json!(-5), None),
    ] {
        assert_eq!(duration_seconds(&value), seconds, "{value}");
    }
}
