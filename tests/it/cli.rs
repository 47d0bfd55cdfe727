//! The client commands against the real daemon: the seed's flow, tables and JSON, diff/apply,
//! the example sets and the Dockerfile, errors, and the generated completions and man page.

#![allow(clippy::disallowed_methods)] // tests start the binary under test and `unshare`

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    TestDaemon, alive, binary, cmdline, describe, free_port, is_root, repo, run, run_client,
    signal, wait_until,
};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the CLI against the daemon and checks its exit code.
fn cli_expect(daemon: &TestDaemon, args: &[&str], code: i32) -> Output {
    let output = daemon.cli(args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "{}\n{}",
        describe(args, &output),
        daemon.log()
    );
    output
}

fn current_user() -> String {
    nix::unistd::User::from_uid(nix::unistd::geteuid())
        .ok()
        .flatten()
        .map(|user| user.name)
        .expect("the current user has a name")
}

#[test]
fn the_seeds_flow_through_the_cli() {
    let daemon = TestDaemon::start();
    let workdir = tempfile::tempdir().expect("tempdir");
    let workdir_text = workdir.path().to_str().expect("utf-8");
    let user = current_user();
    let command = "sleep 4711";

    // The seed's create, with the program explicitly disabled (its best practice).
    let created = cli_expect(
        &daemon,
        &[
            "programs",
            "create",
            "--name",
            "web-server",
            "--command",
            command,
            "--user",
            &user,
            "--autorestart",
            "true",
            "--directory",
            workdir_text,
            "--enabled",
            "false",
        ],
        0,
    );
    let text = stdout(&created);
    assert!(text.contains("Created program web-server (id 1)"), "{text}");
    assert!(
        text.contains("+command = \"sleep 4711\""),
        "the diff is printed: {text}"
    );

    // Start before enable fails, as the seed says, with a conflict exit code.
    let refused = cli_expect(&daemon, &["programs", "start", "1"], 5);
    assert!(
        stderr(&refused).contains("start 1: program not enabled"),
        "{}",
        stderr(&refused)
    );

    let enabled = cli_expect(&daemon, &["programs", "enable", "1"], 0);
    assert!(
        stdout(&enabled).contains("Enabled web-server"),
        "{}",
        stdout(&enabled)
    );
    let started = cli_expect(&daemon, &["programs", "start", "1"], 0);
    assert!(
        stdout(&started).contains("Started web-server: RUNNING, pid "),
        "{}",
        stdout(&started)
    );

    let status = cli_expect(&daemon, &["programs", "status", "1"], 0);
    let status_text = stdout(&status);
    let row = status_text.lines().nth(1).unwrap_or_default().to_string();
    assert!(
        row.starts_with("1   web-server  RUNNING  "),
        "{status_text}"
    );
    let pid = daemon.pid_of("web-server").expect("a pid");
    assert!(row.contains(&pid.to_string()), "{status_text}");
    assert_eq!(cmdline(pid), command);
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/cwd")).expect("cwd"),
        workdir.path().canonicalize().expect("canonical")
    );

    let stopped = cli_expect(&daemon, &["programs", "stop", "1"], 0);
    assert!(
        stdout(&stopped).contains("Stopped web-server: STOPPED"),
        "{}",
        stdout(&stopped)
    );
    wait_until("the process to end", 10, || !alive(pid), || daemon.log());
    cli_expect(&daemon, &["programs", "disable", "1"], 0);
    let deleted = cli_expect(&daemon, &["programs", "delete", "1"], 0);
    let deleted_text = stdout(&deleted);
    assert!(
        deleted_text.contains("Deleted program web-server (id 1)"),
        "{deleted_text}"
    );
    assert!(
        deleted_text.contains("-command = \"sleep 4711\""),
        "{deleted_text}"
    );
    assert!(!daemon.programs.join("web-server.toml").exists());

    let missing = cli_expect(&daemon, &["programs", "get", "1"], 4);
    assert_eq!(stderr(&missing).trim(), "hoody-daemon: no program \"1\"");
    assert!(
        stdout(&missing).is_empty(),
        "no JSON dump: {}",
        stdout(&missing)
    );
}

#[test]
fn errors_name_the_field_the_conflict_and_the_usage() {
    let daemon = TestDaemon::start();
    cli_expect(
        &daemon,
        &[
            "programs",
            "create",
            "--name",
            "twice",
            "--command",
            "sleep 4712",
            "--enabled",
            "false",
        ],
        0,
    );
    let taken = cli_expect(
        &daemon,
        &[
            "programs",
            "create",
            "--name",
            "twice",
            "--command",
            "sleep 1",
        ],
        5,
    );
    assert!(
        stderr(&taken).contains("a program named \"twice\" already exists"),
        "{}",
        stderr(&taken)
    );

    let invalid = cli_expect(
        &daemon,
        &[
            "programs",
            "create",
            "--name",
            "bad",
            "--command",
            "sleep 1",
            "--set",
            "stopsignal=BOGUS",
        ],
        3,
    );
    assert!(
        stderr(&invalid).contains("field `stopsignal`"),
        "{}",
        stderr(&invalid)
    );
    assert!(
        !stderr(&invalid).contains('{'),
        "no raw JSON: {}",
        stderr(&invalid)
    );

    let json_error = cli_expect(&daemon, &["--json", "programs", "get", "nope"], 4);
    let body: Value =
        serde_json::from_slice(&json_error.stdout).expect("with --json the error body is JSON");
    assert_eq!(body["error"]["code"], "not_found");

    let nothing = cli_expect(&daemon, &["programs", "edit", "twice"], 2);
    assert!(
        stderr(&nothing).contains("nothing to change"),
        "{}",
        stderr(&nothing)
    );
    let usage = cli_expect(&daemon, &["programs", "create", "--name", "x"], 2);
    assert!(stderr(&usage).contains("--command"), "{}", stderr(&usage));

    // edit: --env adds to the environment, --reset goes back to the default.
    cli_expect(
        &daemon,
        &[
            "programs",
            "edit",
            "twice",
            "--env",
            "A=1",
            "--priority",
            "7",
        ],
        0,
    );
    cli_expect(
        &daemon,
        &[
            "programs", "edit", "twice", "--env", "B=2", "--reset", "priority",
        ],
        0,
    );
    let (_, body) = daemon.get("/programs/twice");
    assert_eq!(
        body["data"]["program"]["environment"],
        serde_json::json!({ "A": "1", "B": "2" })
    );
    assert_eq!(body["data"]["program"]["priority"], 999);
}

#[test]
fn a_token_protected_daemon_asks_for_the_token() {
    let daemon = TestDaemon::start_with(&[], Some("s3cret-token"));
    let output = run_client(&daemon.url(), &["status"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&["status"], &output)
    );
    assert!(
        stderr(&output).contains("HOODY_DAEMON_TOKEN"),
        "{}",
        stderr(&output)
    );
    let token_file = daemon.root.path().join("token");
    fs::write(&token_file, "s3cret-token\n").expect("token");
    let token_file = token_file.to_str().expect("utf-8");
    let output = run_client(&daemon.url(), &["--token-file", token_file, "status"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["status"], &output)
    );
}

/// Splits a table line into its cells (columns are two or more spaces apart).
fn cells(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|cell| !cell.is_empty())
        .map(str::to_string)
        .collect()
}

/// Where each column starts, from the header; every row must start its cells there.
fn column_starts(line: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let bytes = line.as_bytes();
    for index in 0..bytes.len() {
        let after_gap = index >= 2 && bytes[index - 1] == b' ' && bytes[index - 2] == b' ';
        if bytes[index] != b' ' && (index == 0 || after_gap) {
            starts.push(index);
        }
    }
    starts
}

#[test]
fn list_json_is_valid_and_the_table_is_stable() {
    let daemon = TestDaemon::start();
    daemon.put(
        "alpha.toml",
        "command = \"sleep 4721\"\nboot = true\npriority = 10\n",
    );
    daemon.put("beta.yaml", "command: sleep 4722\nenabled: false\n");
    daemon.put("gamma.toml", "command = [\"sh\", \"-c\", \"sleep 4723\"]\n");
    daemon.wait_state("alpha", "RUNNING");
    wait_until(
        "three programs",
        10,
        || {
            daemon.get("/programs").1["data"]["programs"]
                .as_array()
                .is_some_and(|all| all.len() == 3)
        },
        || daemon.log(),
    );
    // A broken edit: the last good version stays, the table marks it.
    daemon.put(
        "gamma.toml",
        "command = [\"sh\", \"-c\", \"sleep 4723\"]\nstartsecs = \"soon\"\n",
    );
    daemon.wait_status("gamma", "a config error", |status| {
        !status["config_error"].is_null()
    });

    let listed = cli_expect(&daemon, &["--json", "programs", "list"], 0);
    let data: Value = serde_json::from_slice(&listed.stdout).expect("list --json is JSON");
    let names: Vec<&str> = data["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .filter_map(|program| program["name"].as_str())
        .collect();
    assert_eq!(names, ["alpha", "beta", "gamma"]);
    assert_eq!(data["programs"][0]["status"]["status"], "RUNNING");
    assert!(
        data["programs"][0]["text"]
            .as_str()
            .is_some_and(|text| text.contains("sleep 4721"))
    );

    let table = stdout(&cli_expect(&daemon, &["programs", "list"], 0));
    let lines: Vec<&str> = table.lines().collect();
    let header = column_starts(lines[0]);
    for row in &lines[1..4] {
        let starts = column_starts(row);
        assert_eq!(
            &starts[..header.len().min(starts.len())],
            &header[..header.len().min(starts.len())],
            "aligned:\n{table}"
        );
    }
    // The snapshot, with pids and uptimes filtered (the only values that change between runs).
    let filtered: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(index, line)| {
            if index == 0 || index > 3 {
                let programs = daemon.programs.to_string_lossy().into_owned();
                return line.replace(&programs, "<programs.d>");
            }
            let mut row = cells(line);
            for column in [3, 4] {
                if row[column] != "-" {
                    row[column] = if column == 3 { "<pid>" } else { "<uptime>" }.to_string();
                }
            }
            row.join(" | ")
        })
        .collect();
    let expected = "\
ID  NAME   STATUS    PID    UPTIME   ENABLED  BOOT  PRIORITY  COMMAND
1 | alpha | RUNNING | <pid> | <uptime> | yes | yes | 10 | sleep 4721
2 | beta | STOPPED | - | - | no | no | 999 | sleep 4722
3 | gamma | STOPPED! | - | - | yes | no | 999 | sh -c 'sleep 4723'
! gamma: <programs.d>/gamma.toml:2:1: field `startsecs`: expected a number of seconds from 0 to 86400, found the string \"soon\" (the last good version stays in effect)";
    let header_expected = expected.lines().next().unwrap_or_default();
    assert_eq!(cells(&filtered[0]), cells(header_expected), "{table}");
    assert_eq!(
        filtered[1..].join("\n"),
        expected.lines().skip(1).collect::<Vec<_>>().join("\n"),
        "\n{table}"
    );

    let status = stdout(&cli_expect(&daemon, &["status"], 0));
    assert_eq!(
        cells(status.lines().next().unwrap_or_default()),
        [
            "ID", "NAME", "STATUS", "READY", "HEALTH", "PID", "UPTIME", "RESTARTS", "CPU", "MEM",
            "INFO"
        ],
        "{status}"
    );
}

/// Every program file of a folder, by file name.
fn folder(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .expect("read folder")
        .flatten()
        .filter(|entry| entry.path().is_file())
        .map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            (name, fs::read_to_string(entry.path()).expect("read file"))
        })
        .filter(|(name, _)| !name.starts_with('.'))
        .collect()
}

#[test]
fn diff_and_apply_make_the_folder_equal_dir_and_the_processes_follow() {
    let daemon = TestDaemon::start();
    daemon.put("old.toml", "command = \"sleep 4731\"\nboot = true\n");
    daemon.put("keep.toml", "command = \"sleep 4732\"\nboot = true\n");
    daemon.put("edit.toml", "command = \"sleep 4733\"\nboot = true\n");
    for name in ["old", "keep", "edit"] {
        daemon.wait_state(name, "RUNNING");
    }
    let keep_pid = daemon.pid_of("keep").expect("keep runs");
    let old_pid = daemon.pid_of("old").expect("old runs");

    let desired = tempfile::tempdir().expect("tempdir");
    let dir = desired.path();
    fs::write(
        dir.join("keep.toml"),
        "command = \"sleep 4732\"\nboot = true\n",
    )
    .expect("write");
    fs::write(
        dir.join("edit.toml"),
        "# edited in git\ncommand = \"sleep 4734\"\nboot = true\n",
    )
    .expect("write");
    fs::write(
        dir.join("new.yaml"),
        "# a new service\ncommand: sleep 4735\nboot: true\n",
    )
    .expect("write");
    let dir_text = dir.to_str().expect("utf-8");

    let diff = stdout(&cli_expect(&daemon, &["diff", dir_text], 0));
    assert!(diff.contains("--- /dev/null\n+++ b/new.yaml\n@@ -0,0 +1,3 @@\n+# a new service\n+command: sleep 4735\n+boot: true\n"), "{diff}");
    assert!(
        diff.contains(
            "-command = \"sleep 4733\"\n+# edited in git\n+command = \"sleep 4734\"\n boot = true"
        ),
        "{diff}"
    );
    assert!(diff.contains("program old is not in"), "{diff}");
    assert!(
        !diff.contains("keep"),
        "unchanged files are not shown: {diff}"
    );

    let before = folder(&daemon.programs);
    let dry = stdout(&cli_expect(
        &daemon,
        &["apply", "--prune", "--dry-run", dir_text],
        0,
    ));
    assert!(
        dry.contains("would create new (new.yaml)") && dry.contains("would remove old"),
        "{dry}"
    );
    assert!(dry.contains("Dry run, nothing changed"), "{dry}");
    assert_eq!(
        folder(&daemon.programs),
        before,
        "--dry-run changed the folder"
    );
    assert_eq!(daemon.status("new"), Value::Null);
    assert_eq!(daemon.pid_of("old"), Some(old_pid));

    let applied = stdout(&cli_expect(&daemon, &["apply", "--prune", dir_text], 0));
    assert!(
        applied.contains("Applied: 1 created, 1 updated, 1 removed, 1 unchanged"),
        "{applied}"
    );
    assert_eq!(
        folder(&daemon.programs),
        folder(dir),
        "the folder equals DIR byte for byte"
    );

    // The processes follow: new starts, old stops, edit restarts with its new command.
    let new_status = daemon.wait_state("new", "RUNNING");
    let new_pid = new_status["pid"].as_u64().expect("pid") as u32;
    assert_eq!(cmdline(new_pid), "sleep 4735");
    wait_until(
        "old to be gone",
        20,
        || daemon.get("/status/old").0 == 404,
        || daemon.log(),
    );
    wait_until(
        "old's process to end",
        20,
        || !alive(old_pid),
        || daemon.log(),
    );
    let edited = daemon.wait_status("edit", "running the new command", |status| {
        status["status"] == "RUNNING"
            && status["pid"]
                .as_u64()
                .is_some_and(|pid| cmdline(pid as u32) == "sleep 4734")
    });
    assert!(edited["pid"].is_u64());
    assert_eq!(
        daemon.pid_of("keep"),
        Some(keep_pid),
        "an unchanged program is left alone"
    );

    let again = stdout(&cli_expect(&daemon, &["apply", "--prune", dir_text], 0));
    assert!(again.contains("Already up to date"), "{again}");

    // A folder that does not validate is refused and changes nothing.
    fs::write(dir.join("broken.toml"), "command = \"\"\n").expect("write");
    let refused = cli_expect(&daemon, &["apply", "--prune", dir_text], 3);
    assert!(
        stderr(&refused).contains("broken.toml"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(folder(&daemon.programs).len(), 3);
}

/// The example sets: every folder of examples/ with program files.
fn example_sets() -> Vec<std::path::PathBuf> {
    let mut sets: Vec<_> = fs::read_dir(repo().join("examples"))
        .expect("examples/")
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    sets.sort();
    sets
}

#[test]
fn every_example_set_passes_validate() {
    let sets = example_sets();
    assert!(
        sets.len() >= 4,
        "the seed and at least three sets: {sets:?}"
    );
    for set in sets {
        let dir = set.to_str().expect("utf-8");
        let output = run(&["validate", dir]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            describe(&["validate", dir], &output)
        );
    }
}

/// Copies an example set into `target`, moving the web port to one that is free here.
fn copy_set(set: &Path, target: &Path, web_port: u16) {
    fs::create_dir_all(target).expect("create programs.d");
    for (name, text) in folder(set) {
        fs::write(
            target.join(name),
            text.replace("8080", &web_port.to_string()),
        )
        .expect("copy");
    }
}

/// The boot programs of a set (enabled, boot = true), by name.
fn boot_programs(data: &Value) -> Vec<String> {
    data["programs"]
        .as_array()
        .map(|programs| {
            programs
                .iter()
                .filter(|program| program["boot"] == true && program["enabled"] == true)
                .filter_map(|program| program["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_example_sets_run_on_this_machine() {
    for name in ["webapp", "monitoring-yaml", "kit"] {
        let root = tempfile::tempdir().expect("tempdir");
        copy_set(
            &repo().join("examples").join(name),
            &root.path().join("programs.d"),
            free_port(),
        );
        let daemon = TestDaemon::start_in(root, &[], None);
        let (_, body) = daemon.get("/programs");
        let boot = boot_programs(&body["data"]);
        assert!(!boot.is_empty(), "{name} has boot programs");
        for program in &boot {
            daemon.wait_state(program, "RUNNING");
        }
    }
}

/// The arguments of a Dockerfile instruction in exec form: `ENTRYPOINT ["a", "b"]`.
fn exec_form(dockerfile: &str, instruction: &str, containing: &str) -> Vec<String> {
    let line = dockerfile
        .lines()
        .find(|line| line.starts_with(instruction) && line.contains(containing))
        .unwrap_or_else(|| panic!("the Dockerfile has no {instruction} with {containing}"));
    serde_json::from_str(line[instruction.len()..].trim()).expect("exec form is a JSON array")
}

#[test]
fn the_dockerfiles_steps_run_as_in_the_image() {
    let dockerfile =
        fs::read_to_string(repo().join("examples/Dockerfile")).expect("examples/Dockerfile");
    let set = dockerfile
        .lines()
        .find_map(|line| line.strip_prefix("ARG PROGRAM_SET="))
        .expect("ARG PROGRAM_SET=")
        .trim()
        .to_string();
    assert!(dockerfile.contains("COPY examples/${PROGRAM_SET}/ /etc/hoody-daemon/programs.d/"));
    let root = tempfile::tempdir().expect("tempdir");
    let base = root.path();
    let port = free_port();
    copy_set(
        &repo().join("examples").join(&set),
        &base.join("programs.d"),
        free_port(),
    );
    fs::write(base.join("token"), "image-token\n").expect("token");
    let image_paths = [
        ("/etc/hoody-daemon/programs.d", base.join("programs.d")),
        ("/var/lib/hoody-daemon/state", base.join("state")),
        ("/var/log/hoody-daemon", base.join("logs")),
        ("/run/secrets/hoody-daemon-token", base.join("token")),
    ];
    let localise = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .map(|arg| {
                if arg == "hoody-daemon" {
                    return binary().to_string_lossy().into_owned();
                }
                if arg == "0.0.0.0:7575" {
                    return format!("0.0.0.0:{port}");
                }
                image_paths
                    .iter()
                    .find(|(image, _)| *image == arg)
                    .map_or(arg.clone(), |(_, local)| {
                        local.to_string_lossy().into_owned()
                    })
            })
            .collect()
    };

    // RUN ["hoody-daemon", "validate", …]
    let validate = localise(exec_form(&dockerfile, "RUN ", "validate"));
    let output = Command::new(&validate[0])
        .args(&validate[1..])
        .output()
        .expect("run validate");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["validate"], &output)
    );

    if !is_root() {
        println!(
            "note: not root, so the ENTRYPOINT is not run under unshare --pid --fork; skipped"
        );
        return;
    }
    // ENTRYPOINT […serve…] as PID 1 of a new PID namespace.
    let entrypoint = localise(exec_form(&dockerfile, "ENTRYPOINT ", "serve"));
    let log = fs::File::create(base.join("daemon.log")).expect("log");
    let mut unshare = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child"])
        .args(&entrypoint)
        .env_remove("HOODY_DAEMON_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("run unshare");
    let daemon_log = || fs::read_to_string(base.join("daemon.log")).unwrap_or_default();
    // The daemon is unshare's child; find it by parent pid, not by name.
    let mut daemon_pid = None;
    wait_until(
        "the daemon to start under unshare",
        20,
        || {
            daemon_pid = fs::read_to_string(format!("/proc/{0}/task/{0}/children", unshare.id()))
                .ok()
                .and_then(|children| {
                    children
                        .split_whitespace()
                        .next()
                        .and_then(|pid| pid.parse::<u32>().ok())
                });
            daemon_pid.is_some()
        },
        daemon_log,
    );
    let daemon_pid = daemon_pid.expect("daemon pid");
    let nspid = fs::read_to_string(format!("/proc/{daemon_pid}/status")).unwrap_or_default();
    let nspid = nspid
        .lines()
        .find(|line| line.starts_with("NSpid:"))
        .unwrap_or_default()
        .to_string();
    assert!(
        nspid.trim_end().ends_with("\t1"),
        "the daemon is PID 1 in its namespace: {nspid}"
    );

    let url = format!("http://127.0.0.1:{port}");
    let token = base.join("token");
    let token = token.to_str().expect("utf-8");
    let mut programs = Value::Null;
    wait_until(
        "the API to answer",
        20,
        || {
            let output = run_client(&url, &["--token-file", token, "--json", "programs", "list"]);
            programs = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
            output.status.success()
        },
        daemon_log,
    );
    for program in boot_programs(&programs) {
        wait_until(
            &format!("{program} to run"),
            30,
            || {
                let output = run_client(
                    &url,
                    &[
                        "--token-file",
                        token,
                        "--json",
                        "programs",
                        "status",
                        &program,
                    ],
                );
                serde_json::from_slice::<Value>(&output.stdout)
                    .is_ok_and(|data| data["status"]["status"] == "RUNNING")
            },
            daemon_log,
        );
    }
    let refused = run_client(&url, &["status"]);
    assert_eq!(refused.status.code(), Some(1), "no token, no answer");

    // docker stop: SIGTERM to PID 1, which stops every program and exits 0.
    signal(daemon_pid, nix::sys::signal::Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Ok(Some(status)) = unshare.try_wait() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = unshare.kill();
            let _ = unshare.wait();
            panic!("the daemon did not stop on SIGTERM\n{}", daemon_log());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0), "{}", daemon_log());
}

#[test]
fn the_cli_against_an_address_where_nothing_listens() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let output = run_client(&url, &["programs", "list"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&["programs", "list"], &output)
    );
    let message = stderr(&output);
    assert!(
        message.contains(&format!(
            "cannot reach the daemon at http://127.0.0.1:{port}"
        )),
        "{message}"
    );
    assert!(message.contains("hoody-daemon serve"), "{message}");

    let socket = tempfile::tempdir().expect("tempdir");
    let path = socket.path().join("none.sock");
    let url = format!("unix:{}", path.display());
    let output = run_client(&url, &["status"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(&url), "{}", stderr(&output));

    let output = run_client("https://example.invalid", &["status"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a bad --url is a usage error"
    );
}

#[test]
fn quick_start_runs_a_command_and_reports_its_exit() {
    let daemon = TestDaemon::start();
    let ran = cli_expect(
        &daemon,
        &[
            "quick-start",
            "run",
            "--wait",
            "--",
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
        1,
    );
    assert_eq!(stdout(&ran), "out\n");
    assert!(
        stderr(&ran).contains("err\n") && stderr(&ran).contains("quick-start 1 exited 3"),
        "{}",
        stderr(&ran)
    );
    let listed = stdout(&cli_expect(&daemon, &["quick-start", "list"], 0));
    assert_eq!(
        cells(listed.lines().nth(1).unwrap_or_default()),
        [
            "1",
            "EXITED",
            "-",
            "-",
            "3",
            "sh -c 'echo out; echo err >&2; exit 3'"
        ],
        "{listed}"
    );
    let logs = cli_expect(
        &daemon,
        &["quick-start", "logs", "1", "--stream", "stdout"],
        0,
    );
    assert_eq!(stdout(&logs), "out\n");
}

#[test]
fn logs_follow_prints_new_lines() {
    let daemon = TestDaemon::start();
    daemon.put("ticker.toml", "command = [\"sh\", \"-c\", \"n=0; while true; do n=$((n+1)); echo tick $n; sleep 0.2; done\"]\nboot = true\n");
    daemon.wait_state("ticker", "RUNNING");
    let mut follower = Command::new(binary())
        .args([
            "--url",
            &daemon.url(),
            "programs",
            "logs",
            "ticker",
            "-f",
            "-n",
            "1",
            "--stream",
            "stdout",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("follow");
    let mut reader = std::io::BufReader::new(follower.stdout.take().expect("stdout"));
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while lines.len() < 4 && Instant::now() < deadline {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) == 0 {
            break;
        }
        lines.push(line);
    }
    signal(follower.id(), nix::sys::signal::Signal::SIGTERM);
    let _ = follower.wait();
    assert_eq!(lines.len(), 4, "{lines:?}\n{}", daemon.log());
    let numbers: Vec<u64> = lines
        .iter()
        .filter_map(|line| line.trim().strip_prefix("tick ")?.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "{lines:?}");
    assert!(
        numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "consecutive lines: {numbers:?}"
    );
}

/// The generated files under docs/ equal what the binary prints now: the completions and
/// every man page (the folder holds exactly the pages `man --out` writes). `HOODY_UPDATE_DOCS=1`
/// rewrites them.
#[test]
fn checked_in_completions_and_man_pages_are_current() {
    let files: [(&[&str], &str); 3] = [
        (
            &["completions", "bash"],
            "docs/completions/hoody-daemon.bash",
        ),
        (&["completions", "zsh"], "docs/completions/_hoody-daemon"),
        (
            &["completions", "fish"],
            "docs/completions/hoody-daemon.fish",
        ),
    ];
    let update = std::env::var_os("HOODY_UPDATE_DOCS").is_some();
    let stale = "regenerate with `HOODY_UPDATE_DOCS=1 cargo test --test it checked_in`";
    for (args, file) in files {
        let output = Command::new(binary())
            .args(args)
            .env_remove("HOODY_DAEMON_URL")
            .env_remove("HOODY_DAEMON_TOKEN")
            .output()
            .expect("generate");
        assert_eq!(output.status.code(), Some(0), "{}", describe(args, &output));
        let path = repo().join(file);
        if update {
            fs::create_dir_all(path.parent().expect("parent")).expect("docs folder");
            fs::write(&path, &output.stdout).expect("write generated file");
            continue;
        }
        let checked_in = fs::read(&path).unwrap_or_default();
        assert!(
            checked_in == output.stdout,
            "{file} is stale: {stale} (or `hoody-daemon {}`)",
            args.join(" ")
        );
    }

    let generated = tempfile::tempdir().expect("tempdir");
    let out = generated.path().to_str().expect("utf-8");
    let output = run(&["man", "--out", out]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["man"], &output)
    );
    let pages = |dir: &Path| -> BTreeMap<String, Vec<u8>> {
        fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|entry| {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        (name, fs::read(entry.path()).unwrap_or_default())
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let now = pages(generated.path());
    let man = repo().join("docs/man");
    if update {
        let _ = fs::remove_dir_all(&man);
        fs::create_dir_all(&man).expect("docs/man");
        for (file, text) in &now {
            fs::write(man.join(file), text).expect("write man page");
        }
        return;
    }
    let shipped = pages(&man);
    assert_eq!(
        shipped.keys().collect::<Vec<_>>(),
        now.keys().collect::<Vec<_>>(),
        "docs/man holds other pages than `hoody-daemon man --out` writes: {stale}"
    );
    for (file, text) in &now {
        assert!(shipped[file] == *text, "docs/man/{file} is stale: {stale}");
    }
    // The top page is what `hoody-daemon man` prints.
    let top = run(&["man"]);
    assert!(
        top.stdout == now["hoody-daemon.1"],
        "`man` prints the top page"
    );
    let start = run(&["man", "programs", "start"]);
    assert!(
        start.stdout == now["hoody-daemon-programs-start.1"],
        "`man programs start` prints that page"
    );
}

/// Every page a man page's SUBCOMMANDS section points at exists (the top page used to name
/// hoody-daemon-programs(1) and others that were never written).
#[test]
fn every_man_page_a_page_names_exists() {
    let man = repo().join("docs/man");
    let files: Vec<String> = fs::read_dir(&man)
        .expect("docs/man")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(files.len() > 20, "a page per subcommand: {files:?}");
    for file in &files {
        let text = fs::read_to_string(man.join(file)).expect("page");
        for line in text.lines() {
            let line = line.replace("\\-", "-");
            if let Some(name) = line.strip_suffix("(1)")
                && name.starts_with("hoody-daemon")
            {
                assert!(
                    files.contains(&format!("{name}.1")),
                    "{file} points at {name}(1), which docs/man does not have"
                );
            }
        }
    }
    for page in [
        "hoody-daemon.1",
        "hoody-daemon-programs-signal.1",
        "hoody-daemon-start.1",
    ] {
        assert!(files.contains(&page.to_string()), "{page}");
    }
}
