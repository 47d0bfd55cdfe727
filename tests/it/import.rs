//! `hoody-daemon import supervisord|pm2` on the realistic configurations in tests/fixtures: what
//! is written, what is reported, that `validate` passes on the folder, that nothing is
//! overwritten without `--force`, and that the daemon runs what was imported.

#![allow(clippy::disallowed_methods)] // tests start the binary under test

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{self, TestDaemon, describe, wait_until};

/// Copies a fixture folder into a fresh temporary one (imports resolve %(here)s and cwd
/// against it, and the daemon writes logs beside it: never into the repository).
fn fixture(name: &str) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let copy = root.path().join(name);
    copy_tree(&support::repo().join("tests/fixtures").join(name), &copy);
    (root, copy)
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("fixture folder").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs the binary with a controlled environment.
fn import(args: &[&str], environment: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut command = Command::new(support::binary());
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", "/home/deploy")
        .env("NO_COLOR", "1")
        .envs(environment.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start hoody-daemon import");
    if let Some(bytes) = stdin {
        use std::io::Write;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(bytes)
            .expect("write stdin");
    }
    child.wait_with_output().expect("import output")
}

fn expect_ok(args: &[&str], output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}", describe(args, output));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn toml(path: &Path) -> toml_edit::DocumentMut {
    let text =
        fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    text.parse()
        .unwrap_or_else(|error| panic!("{}: {error}\n{text}", path.display()))
}

fn string(document: &toml_edit::DocumentMut, key: &str) -> String {
    document[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in\n{document}"))
        .to_string()
}

fn validate(dir: &Path) {
    let args = ["validate", dir.to_str().expect("utf-8")];
    let output = support::run(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&args, &output)
    );
}

const SUPERVISORD_ENV: &[(&str, &str)] = &[
    ("HOODY_FIXTURE_PORT", "8080"),
    ("HOODY_FIXTURE_CRON", "false"),
];

#[test]
fn a_supervisord_conf_with_includes_expansions_and_quoted_environments() {
    let (root, fixture) = fixture("supervisord");
    let out = root.path().join("programs.d");
    let main = fixture.join("supervisord.conf");
    let args = [
        "import",
        "supervisord",
        main.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let output = import(&args, SUPERVISORD_ENV, None);
    let report = expect_ok(&args, &output);

    let mut written: Vec<String> = fs::read_dir(&out)
        .expect("out")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["cron.toml", "web.toml", "worker-0.toml", "worker-1.toml"],
        "{report}"
    );
    for expected in [
        "read ",
        "conf.d/background.conf",
        "conf.d/web.conf",
        "wrote ",
        "not mapped",
        "[supervisord] logfile = /var/log/supervisor/supervisord.log",
        "[unix_http_server] file = /var/run/supervisor.sock",
        "[group:background] programs = worker,cron",
        "[eventlistener:memmon]",
        "cron: stdout_capture_maxbytes = 1MB",
        "numprocs = 2: written as 2 programs (worker-0, worker-1)",
        "programs.d: 4 programs valid",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from the report:\n{report}"
        );
    }

    // [include] relative to the main file, %(here)s of the file each value is in, %(ENV_X)s of
    // the importing environment, %(program_name)s, quoted values with commas, and the
    // [supervisord] environment under the program's.
    let web = toml(&out.join("web.toml"));
    let conf_d = fixture.join("conf.d");
    assert_eq!(string(&web, "directory"), conf_d.to_string_lossy());
    assert_eq!(
        string(&web, "stdout_logfile"),
        fixture.join("logs/web.log").to_string_lossy()
    );
    let environment = web["environment"].as_table().expect("environment table");
    let variable = |name: &str| environment[name].as_str().map(str::to_string);
    assert_eq!(variable("PORT").as_deref(), Some("8080"));
    assert_eq!(variable("GREETING").as_deref(), Some("hello, world"));
    assert_eq!(variable("LIST").as_deref(), Some("a,b,c"));
    assert_eq!(variable("APP_ENV").as_deref(), Some("production"));
    assert_eq!(
        variable("CONFIG_DIR").as_deref(),
        Some(fixture.to_string_lossy().as_ref())
    );
    assert_eq!(web["boot"].as_bool(), Some(true));
    assert_eq!(string(&web, "stopsignal"), "INT");
    assert_eq!(web["stdout_logfile_maxbytes"].as_str(), Some("10MB"));
    assert_eq!(web["redirect_stderr"].as_bool(), Some(true));
    // supervisord's defaults where hoody-daemon's differ, written out.
    assert_eq!(web["stopasgroup"].as_bool(), Some(false));
    assert_eq!(string(&web, "umask"), "022");
    let text = fs::read_to_string(out.join("web.toml")).expect("web.toml");
    assert!(
        text.starts_with(
            "# Imported by `hoody-daemon import supervisord` from conf.d/web.conf:2 [program:web]."
        ),
        "{text}"
    );
    assert!(text.contains("# note: expanded from the importing environment, the values are written into the file: %(ENV_HOODY_FIXTURE_PORT)s"), "{text}");

    let worker = toml(&out.join("worker-1.toml"));
    assert_eq!(
        worker["command"].as_str(),
        Some("sh -c 'echo \"worker 1 of 2 in background\"; exec sleep 600'")
    );
    assert_eq!(worker["boot"].as_bool(), Some(false));
    assert_eq!(worker["user"].as_str(), Some("nobody"));
    assert_eq!(worker["priority"].as_integer(), Some(20));
    assert_eq!(worker["stdout_logfile"].as_str(), Some("none"));
    assert_eq!(worker["stopasgroup"].as_bool(), Some(true));
    let cron = toml(&out.join("cron.toml"));
    assert_eq!(
        cron["boot"].as_bool(),
        Some(false),
        "autostart = %(ENV_HOODY_FIXTURE_CRON)s"
    );
    assert_eq!(string(&cron, "umask"), "077");
    assert_eq!(
        string(&cron, "stderr_logfile"),
        fixture.join("logs/background-cron.err").to_string_lossy()
    );
    validate(&out);

    // Nothing is overwritten without --force; a file of the name in another format is a
    // conflict even with it.
    let before = fs::read_to_string(out.join("web.toml")).expect("web.toml");
    fs::write(out.join("cron.toml"), "command = \"edited by hand\"\n").expect("edit");
    let again = import(&args, SUPERVISORD_ENV, None);
    assert_eq!(again.status.code(), Some(5), "{}", describe(&args, &again));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("nothing was written")
            && stderr.contains("cron.toml exists (--force replaces it)"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(out.join("cron.toml")).expect("cron"),
        "command = \"edited by hand\"\n"
    );
    let mut forced_args = args.to_vec();
    forced_args.push("--force");
    let forced = import(&forced_args, SUPERVISORD_ENV, None);
    let report = expect_ok(&forced_args, &forced);
    assert!(report.contains("replaced "), "{report}");
    assert_eq!(
        fs::read_to_string(out.join("web.toml")).expect("web"),
        before
    );
    fs::write(out.join("web.yaml"), "command: x\n").expect("a yaml twin");
    let twin = import(&forced_args, SUPERVISORD_ENV, None);
    assert_eq!(
        twin.status.code(),
        Some(5),
        "{}",
        describe(&forced_args, &twin)
    );
    assert!(
        String::from_utf8_lossy(&twin.stderr)
            .contains("web.yaml exists: the program web would have two files")
    );
    fs::remove_file(out.join("web.yaml")).expect("remove twin");

    // The daemon runs what was imported, as supervisord ran it.
    let daemon_root = tempfile::tempdir().expect("tempdir");
    copy_tree(&out, &daemon_root.path().join("programs.d"));
    let daemon = TestDaemon::start_in(daemon_root, &[], None);
    daemon.wait_state("web", "RUNNING");
    assert_eq!(daemon.state_of("worker-0"), "STOPPED");
    let log = fixture.join("logs/web.log");
    wait_until(
        "web to print its environment",
        20,
        || {
            fs::read_to_string(&log).is_ok_and(|text| {
                text.contains("web on port 8080 with hello, world (a,b,c) in production")
            })
        },
        || format!("{:?}\n{}", fs::read_to_string(&log), daemon.log()),
    );
}

#[test]
fn a_folder_of_supervisord_programs_and_a_broken_one() {
    let (root, fixture) = fixture("supervisord");
    let out = root.path().join("programs.d");
    let folder = fixture.join("conf.d");
    let args = [
        "import",
        "supervisord",
        folder.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
        "--format",
        "yaml",
    ];
    let report = expect_ok(&args, &import(&args, SUPERVISORD_ENV, None));
    assert!(
        out.join("web.yaml").is_file() && out.join("worker-0.yaml").is_file(),
        "{report}"
    );
    validate(&out);

    // An unknown %(ENV_X)s: nothing is written, and the error names the file and line.
    let broken_out = root.path().join("broken.d");
    let broken_args = [
        "import",
        "supervisord",
        folder.to_str().expect("utf-8"),
        "--out",
        broken_out.to_str().expect("utf-8"),
    ];
    let output = import(&broken_args, &[("HOODY_FIXTURE_CRON", "false")], None);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        describe(&broken_args, &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "web.conf:5: [program:web] environment: %(ENV_HOODY_FIXTURE_PORT) cannot be expanded"
        ),
        "{stderr}"
    );
    assert!(
        fs::read_dir(&broken_out)
            .map(|entries| entries.count())
            .unwrap_or(0)
            == 0,
        "something was written"
    );
}

fn pm2_import(fixture: &Path, file: &str, out: &Path, extra: &[&str]) -> String {
    let path = fixture.join(file);
    let mut args = vec![
        "import",
        "pm2",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    args.extend_from_slice(extra);
    let output = import(&args, &[], None);
    let report = expect_ok(&args, &output);
    validate(out);
    report
}

fn argv(document: &toml_edit::DocumentMut) -> Vec<String> {
    document["command"]
        .as_array()
        .unwrap_or_else(|| panic!("command is not a list:\n{document}"))
        .iter()
        .map(|word| word.as_str().expect("a word").to_string())
        .collect()
}

#[test]
fn pm2_ecosystem_json_and_yaml() {
    let (root, fixture) = fixture("pm2");
    let app = fixture.to_string_lossy().into_owned();
    for (file, extra) in [("ecosystem.json", vec![]), ("ecosystem.yaml", vec![])] {
        let out = root.path().join(format!("{file}.d"));
        let report = pm2_import(&fixture, file, &out, &extra);
        let api = toml(&out.join("api.toml"));
        assert_eq!(
            argv(&api),
            [
                "node".to_string(),
                format!("{app}/app/server.js"),
                "--port".into(),
                "3000".into()
            ],
            "{file}"
        );
        assert_eq!(string(&api, "directory"), app, "{file}");
        assert_eq!(
            api["environment"]["NODE_ENV"].as_str(),
            Some("development"),
            "{file}"
        );
        assert_eq!(api["environment"]["PORT"].as_str(), Some("3000"), "{file}");
        assert_eq!(
            string(&api, "stdout_logfile"),
            format!("{app}/logs/api-out.log"),
            "{file}"
        );
        assert_eq!(
            string(&api, "stderr_logfile"),
            format!("{app}/logs/api-err.log"),
            "{file}"
        );
        assert_eq!(string(&api, "autorestart"), "true", "{file}");
        assert_eq!(string(&api, "stopsignal"), "INT", "{file}");
        assert_eq!(api["stopwaitsecs"].as_float(), Some(1.6), "{file}");
        assert_eq!(api["priority"].as_integer(), Some(10), "{file}");
        // PM2's size is hoody-daemon's (SPEC §14): enforced, not kept aside.
        assert_eq!(string(&api, "max_memory_restart"), "300M", "{file}");
        let worker = toml(&out.join("worker.toml"));
        assert_eq!(
            argv(&worker),
            ["bash".to_string(), format!("{app}/app/worker.sh")],
            "{file}"
        );
        assert_eq!(
            worker["environment"]["QUEUE"].as_str(),
            Some("jobs,urgent"),
            "{file}"
        );
        assert_eq!(string(&worker, "autorestart"), "false", "{file}");
        assert_eq!(worker["stopwaitsecs"].as_integer(), Some(5), "{file}");
        assert_eq!(worker["priority"].as_integer(), Some(20), "{file}");
        assert!(
            !report.contains("max_memory_restart"),
            "{file}: mapped, so not reported: {report}"
        );
        if file == "ecosystem.json" {
            for expected in [
                "api: merge_logs = true",
                "api: log_date_format",
                "worker: watch = [\"app\"]",
                "worker: cron_restart",
                "api: env_production: applied only with `--env production`",
            ] {
                assert!(report.contains(expected), "{expected:?} missing:\n{report}");
            }
        }
    }
    // --env production: env_production over env.
    let out = root.path().join("production.d");
    pm2_import(&fixture, "ecosystem.json", &out, &["--env", "production"]);
    assert_eq!(
        toml(&out.join("api.toml"))["environment"]["NODE_ENV"].as_str(),
        Some("production")
    );

    // The daemon runs the imported apps.
    let daemon_root = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &root.path().join("ecosystem.json.d"),
        &daemon_root.path().join("programs.d"),
    );
    let daemon = TestDaemon::start_in(daemon_root, &[], None);
    daemon.wait_state("api", "RUNNING");
    let log = fixture.join("logs/api-out.log");
    wait_until(
        "the api to say how it was started",
        30,
        || {
            fs::read_to_string(&log)
                .is_ok_and(|text| text.contains("api on 3000 in development with --port 3000"))
        },
        || format!("{:?}\n{}", fs::read_to_string(&log), daemon.log()),
    );
}

#[test]
fn pm2_ecosystem_config_js_through_node() {
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|output| output.status.success()),
        "these tests evaluate ecosystem.config.js with node, which is missing: install Node.js (.ci/run does: apt-get install nodejs)"
    );
    let (root, fixture) = fixture("pm2");
    let out = root.path().join("js.d");
    let app = fixture.to_string_lossy().into_owned();
    let path = fixture.join("ecosystem.config.js");
    let args = [
        "import",
        "pm2",
        path.to_str().expect("utf-8"),
        "--out",
        out.to_str().expect("utf-8"),
    ];
    let output = import(&args, &[], None);
    let report = expect_ok(&args, &output);
    // The file's own console output is not taken for its JSON.
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("evaluating the ecosystem"),
        "{}",
        describe(&args, &output)
    );
    validate(&out);
    let api = toml(&out.join("api.toml"));
    assert_eq!(
        argv(&api),
        [
            "node".to_string(),
            format!("{app}/app/server.js"),
            "--port".into(),
            "3001".into()
        ]
    );
    assert_eq!(string(&api, "directory"), app);
    assert_eq!(api["environment"]["PORT"].as_str(), Some("3001"));
    let worker = toml(&out.join("worker.toml"));
    assert_eq!(
        argv(&worker),
        ["sh".to_string(), format!("{app}/app/worker.sh")]
    );
    assert_eq!(worker["environment"]["QUEUE"].as_str(), Some("jobs,urgent"));
    assert!(
        report.contains("deploy: PM2's deployment settings are not imported"),
        "{report}"
    );

    // A file that throws: its error, and nothing written.
    fs::write(
        fixture.join("broken.config.js"),
        "throw new Error('no config for you');\n",
    )
    .expect("write");
    let broken = fixture.join("broken.config.js");
    let broken_out = root.path().join("broken.d");
    let args = [
        "import",
        "pm2",
        broken.to_str().expect("utf-8"),
        "--out",
        broken_out.to_str().expect("utf-8"),
    ];
    let output = import(&args, &[], None);
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        describe(&args, &output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no config for you"),
        "{}",
        describe(&args, &output)
    );
    assert!(!broken_out.join("api.toml").exists());
}

#[test]
fn pm2_jlist_output_from_a_file_and_from_stdin() {
    let (root, fixture) = fixture("pm2");
    // Imported on the machine pm2 ran on: its shell has pm2's environment.
    // (PATH stays the test's own, so it differs from pm2's; HOME is /home/deploy: see import().)
    let shell: &[(&str, &str)] = &[
        ("LANG", "C.UTF-8"),
        ("SHELL", "/bin/bash"),
        ("TERM", "xterm"),
    ];
    let jlist = fs::read(fixture.join("jlist.json")).expect("jlist");
    for (what, source) in [
        (
            "file",
            fixture.join("jlist.json").to_string_lossy().into_owned(),
        ),
        ("stdin", "-".to_string()),
    ] {
        let out = root.path().join(format!("{what}.d"));
        let args = [
            "import",
            "pm2",
            source.as_str(),
            "--out",
            out.to_str().expect("utf-8"),
        ];
        let output = import(&args, shell, (what == "stdin").then_some(&jlist[..]));
        let report = expect_ok(&args, &output);
        validate(&out);
        let api = toml(&out.join("api.toml"));
        assert_eq!(
            argv(&api),
            ["node", "/srv/shop/app/server.js", "--port", "3000"],
            "{what}"
        );
        assert_eq!(string(&api, "directory"), "/srv/shop");
        let environment = api["environment"].as_table().expect("environment");
        let mut kept: Vec<&str> = environment.iter().map(|(key, _)| key).collect();
        kept.sort_unstable();
        // PATH differs from this environment's, so it is kept (and said).
        assert_eq!(kept, ["NODE_ENV", "PATH", "PORT"], "{what}: {report}");
        assert_eq!(api["boot"].as_bool(), Some(true));
        // pm2's default log folder gives way to hoody-daemon's "auto".
        assert!(api.get("stdout_logfile").is_none(), "{api}");
        assert_eq!(api["max_memory_restart"].as_integer(), Some(314_572_800));
        let worker = toml(&out.join("worker.toml"));
        assert_eq!(argv(&worker), ["python3", "/srv/shop/app/worker.py"]);
        assert_eq!(worker["boot"].as_bool(), Some(false), "stopped in pm2");
        assert_eq!(
            string(&worker, "stdout_logfile"),
            "/var/log/shop/worker.log"
        );
        assert!(report.contains("left out pm2's own variables: OLDPWD, PM2_HOME, PM2_INTERACTOR_PROCESSING, PM2_JSON_PROCESSING, PM2_USAGE, PWD, SHLVL, _, api, unique_id"), "{report}");
        assert!(
            report.contains("equal to this environment's (HOME, LANG, SHELL, TERM)"),
            "{report}"
        );
    }
}
