//! Issue 14: what a new user trips over, one test per point: a failed start is an error with
//! the program's last stderr lines, BACKOFF says why, a one-shot ends EXITED, enable/disable
//! and generations agree, edit is a merge patch, put errors say where, the CLI's messages and
//! time-outs, and the flows the docs give.

#![allow(clippy::disallowed_methods)] // tests start the binary under test

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{TestDaemon, describe, repo, run, run_client, signal, wait_until};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn wait_program(daemon: &TestDaemon, name: &str) {
    wait_until(
        &format!("{name} to be read"),
        30,
        || daemon.get(&format!("/programs/{name}")).0 == 200,
        || daemon.log(),
    );
}

#[test]
fn a_start_that_ends_fatal_is_422_start_failed_with_its_last_stderr_lines() {
    let daemon = TestDaemon::start();
    daemon.put(
        "db.toml",
        "command = [\"sh\", \"-c\", \"echo starting; echo 'ERROR: port 5432 already in use' >&2; exit 3\"]\n\
         startsecs = 1\nstartretries = 1\n",
    );
    wait_program(&daemon, "db");
    let (code, body) = daemon.post("/programs/db/start", None);
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["statusCode"], 422, "{body}");
    assert_eq!(body["error"]["code"], "start_failed", "{body}");
    let status = &body["error"]["details"]["status"];
    assert_eq!(status["status"], "FATAL", "{body}");
    assert_eq!(status["name"], "db");
    assert_eq!(
        status["last_stderr"], "ERROR: port 5432 already in use\n",
        "only stderr, only the last run's: {body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("db did not start (FATAL: ")),
        "{body}"
    );
    // The same in the status, read on request.
    assert_eq!(
        daemon.status("db")["last_stderr"],
        "ERROR: port 5432 already in use\n"
    );
    let (_, all) = daemon.get("/status");
    let listed = all["data"]["statuses"]
        .as_array()
        .and_then(|statuses| statuses.iter().find(|status| status["name"] == "db"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(listed["last_stderr"], "ERROR: port 5432 already in use\n");

    // The CLI says "did not start" and shows the line, and exits 1.
    let output = daemon.cli(&["programs", "start", "db"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&["start"], &output)
    );
    let said = stderr(&output);
    assert!(said.contains("db did not start (FATAL: "), "{said}");
    assert!(said.contains("ERROR: port 5432 already in use"), "{said}");
    assert!(said.contains("hoody-daemon programs logs db"), "{said}");
    assert!(!stdout(&output).contains("Started"), "{}", stdout(&output));

    // A spawn error: the program never ran, so no stderr of an older run is shown, and no
    // log is pointed at.
    fs::write(daemon.logs.join("gone.stderr.log"), "an old run's line\n").expect("old log");
    daemon.put(
        "gone.toml",
        "command = \"/nonexistent/hoody-test-binary\"\nstartsecs = 1\n",
    );
    wait_program(&daemon, "gone");
    let output = daemon.cli(&["programs", "start", "gone"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&["start"], &output)
    );
    let said = stderr(&output);
    assert!(said.contains("gone did not start (FATAL: "), "{said}");
    assert!(said.contains("/nonexistent/hoody-test-binary"), "{said}");
    assert!(
        !said.contains("programs logs"),
        "no empty log pointed at: {said}"
    );
    assert!(!said.contains("an old run"), "{said}");
    assert!(daemon.status("gone")["last_stderr"].is_null());
}

#[test]
fn backoff_says_why_and_a_one_shot_ends_exited() {
    let daemon = TestDaemon::start();
    daemon.put(
        "crasher.toml",
        "command = \"sh -c 'exit 3'\"\nboot = true\nstartsecs = 1\nstartretries = 3\n",
    );
    let backoff = daemon.wait_state("crasher", "BACKOFF");
    let error = backoff["last_error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("retry ") && error.ends_with(" of 3: exit code 3 before startsecs (1s)"),
        "{backoff}"
    );
    let output = daemon.cli(&["status"]);
    assert!(stdout(&output).contains("of 3: exit code 3 before startsecs (1s)"));

    // The seed's "one-time tasks": runs once, ends EXITED, and a start of it is a success.
    daemon.put(
        "once.toml",
        "command = \"echo done\"\nboot = true\nautorestart = \"false\"\n",
    );
    let exited = daemon.wait_state("once", "EXITED");
    assert_eq!(exited["restarts"], 0, "{exited}");
    assert_eq!(exited["last_exit"], json!({ "code": 0 }));
    assert!(exited["last_error"].is_null(), "{exited}");
    let (code, body) = daemon.post("/programs/once/start", None);
    assert_eq!(
        code, 200,
        "a one-shot that did its job started fine: {body}"
    );
    assert_eq!(body["data"]["status"]["status"], "EXITED", "{body}");
    let (_, logs) = daemon.get("/programs/once/logs?stream=stdout");
    assert_eq!(
        logs["data"]["stdout"], "done\ndone\n",
        "twice: boot, then the start"
    );
    // An unexpected exit is still a failed start.
    daemon.put(
        "broken-once.toml",
        "command = \"sh -c 'exit 1'\"\nautorestart = false\nstartsecs = 1\nstartretries = 0\n",
    );
    wait_program(&daemon, "broken-once");
    let (code, body) = daemon.post("/programs/broken-once/start", None);
    assert_eq!(code, 422, "{body}");
}

#[test]
fn enable_and_disable_answer_alike_and_generations_never_go_down() {
    let mut daemon = TestDaemon::start();
    // One file leaves `enabled` to its default, one spells it out.
    daemon.put("implicit.toml", "command = \"sleep 600\"\nboot = true\n");
    daemon.put(
        "explicit.toml",
        "command = \"sleep 600\"\nboot = true\nenabled = true\n",
    );
    for name in ["implicit", "explicit"] {
        daemon.wait_state(name, "RUNNING");
    }
    let mut answers = Vec::new();
    for name in ["implicit", "explicit"] {
        let (code, body) = daemon.post(&format!("/programs/{name}/enable"), None);
        assert_eq!(code, 200, "{body}");
        let mut data = body["data"].clone();
        for key in ["id", "name"] {
            data.as_object_mut().map(|object| object.remove(key));
        }
        answers.push(data);
        let status = daemon.status(name);
        assert_eq!(status["generation"], 1, "nothing was written: {status}");
        assert_eq!(
            status["observed_generation"], status["generation"],
            "{status}"
        );
    }
    assert_eq!(answers[0], answers[1], "the same answer either way");
    assert_eq!(answers[0]["changed"], false);
    assert!(
        !fs::read_to_string(daemon.programs.join("implicit.toml"))
            .expect("read")
            .contains("enabled"),
        "the default was not written out"
    );

    // An edit the job needs no restart for: observed_generation follows.
    let (code, body) = daemon.post(
        "/programs/edit/explicit",
        Some(json!({ "description": "a sleeper" })),
    );
    assert_eq!(code, 200, "{body}");
    let status = daemon.wait_status("explicit", "observed = generation 2", |status| {
        status["generation"] == 2
    });
    assert_eq!(status["observed_generation"], 2, "{status}");
    // Disable twice: the second answers "changed: false" and changes nothing.
    let (_, first) = daemon.post("/programs/explicit/disable", None);
    assert_eq!(first["data"]["changed"], true, "{first}");
    let (_, second) = daemon.post("/programs/explicit/disable", None);
    assert_eq!(second["data"]["changed"], false, "{second}");
    assert_eq!(second["data"]["generation"], 3, "{second}");

    // Generations survive a daemon restart, and a file changed meanwhile counts on.
    daemon.terminate();
    daemon.put(
        "implicit.toml",
        "command = \"sleep 600\"\nboot = true\ndescription = \"changed while down\"\n",
    );
    daemon.restart();
    wait_program(&daemon, "implicit");
    assert_eq!(daemon.status("explicit")["generation"], 3);
    assert_eq!(daemon.status("implicit")["generation"], 2);
    // Removed and made again: it goes on from there.
    daemon.remove("explicit.toml");
    wait_until(
        "explicit to go",
        30,
        || daemon.get("/programs/explicit").0 == 404,
        || daemon.log(),
    );
    daemon.put("explicit.toml", "command = \"sleep 600\"\n");
    wait_program(&daemon, "explicit");
    let generation = daemon.status("explicit")["generation"]
        .as_u64()
        .unwrap_or(0);
    assert!(generation > 3, "{generation}");
}

#[test]
fn edit_is_a_json_merge_patch_all_the_way_down() {
    let daemon = TestDaemon::start();
    daemon.put(
        "web.toml",
        "command = \"sleep 600\"\n\n[environment]\n# kept\nA = \"1\"\nB = \"2\"\n",
    );
    wait_program(&daemon, "web");
    let (code, body) = daemon.post(
        "/programs/edit/web",
        Some(json!({ "environment": { "C": "3" } })),
    );
    assert_eq!(code, 200, "{body}");
    let (code, body) = daemon.post(
        "/programs/edit/web",
        Some(json!({ "environment": { "B": null, "A": "10" } })),
    );
    assert_eq!(code, 200, "null removes one key: {body}");
    let (_, body) = daemon.get("/programs/web");
    assert_eq!(
        body["data"]["program"]["environment"],
        json!({ "A": "10", "C": "3" }),
        "{body}"
    );
    let text = fs::read_to_string(daemon.programs.join("web.toml")).expect("read");
    assert!(text.contains("# kept\nA = \"10\""), "{text}");
    // The CLI sends the same patch.
    let output = daemon.cli(&[
        "programs",
        "edit",
        "web",
        "--env",
        "D=4",
        "--unset-env",
        "C",
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["edit"], &output)
    );
    let (_, body) = daemon.get("/programs/web");
    assert_eq!(
        body["data"]["program"]["environment"],
        json!({ "A": "10", "D": "4" })
    );
    // The OpenAPI document says what an edit is.
    let (_, document) = daemon.get("/openapi.json");
    let summary = document["paths"]["/api/v1/daemon/programs/edit/{id}"]["post"]["summary"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(summary.contains("JSON merge patch (RFC 7396)"), "{summary}");
}

#[test]
fn put_and_cli_errors_say_where() {
    let daemon = TestDaemon::start();
    let (code, body) = daemon.post(
        "/programs/put",
        Some(json!({ "file": "web.toml", "text": "command = \"sleep 1\"\nboot = \"perhaps\"\n" })),
    );
    assert_eq!(code, 400, "{body}");
    let problem = &body["error"]["details"][0];
    assert_eq!(problem["field"], "boot", "{body}");
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].as_u64()),
        (Some(2), Some(1)),
        "{body}"
    );
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("line 2:1: field `boot`")),
        "{body}"
    );

    // A new file that was never valid has no "last good version".
    daemon.put("broken.toml", "command = \"sleep 1\"\nboot = \"perhaps\"\n");
    wait_program(&daemon, "broken");
    for args in [
        &["status"][..],
        &["programs", "list"],
        &["programs", "get", "broken"],
    ] {
        let output = daemon.cli(args);
        let said = stdout(&output);
        assert!(said.contains("perhaps"), "{said}");
        assert!(!said.contains("last good"), "{args:?}: {said}");
        assert!(
            said.contains("never been valid") || said.contains("never valid"),
            "{said}"
        );
    }

    // After a kill -9 and its restart, INFO says what happened.
    daemon.put(
        "victim.toml",
        "command = \"sleep 600\"\nboot = true\nstartsecs = 0\n",
    );
    let running = daemon.wait_state("victim", "RUNNING");
    let pid = running["pid"]
        .as_u64()
        .and_then(|pid| u32::try_from(pid).ok())
        .expect("pid");
    signal(pid, nix::sys::signal::Signal::SIGKILL);
    daemon.wait_status("victim", "restarted", |status| {
        status["status"] == "RUNNING" && status["restarts"] == 1
    });
    let output = daemon.cli(&["status"]);
    let row = stdout(&output)
        .lines()
        .find(|line| line.contains("victim"))
        .unwrap_or_default()
        .to_string();
    assert!(row.ends_with("restarted after signal KILL"), "{row}");
}

#[test]
fn validate_speaks_json_and_diff_exit_code_says_whether_anything_differs() {
    let folder = tempfile::tempdir().expect("tempdir");
    fs::write(folder.path().join("good.toml"), "command = \"sleep 1\"\n").expect("write");
    let dir = folder.path().to_str().expect("utf-8");
    let output = run(&["--json", "validate", dir]);
    assert_eq!(output.status.code(), Some(0));
    let verdict: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(verdict["valid"], true);
    assert_eq!(verdict["programs"], json!(["good"]));
    fs::write(folder.path().join("bad.toml"), "command = 3\n").expect("write");
    let output = run(&["validate", dir, "--json"]);
    assert_eq!(output.status.code(), Some(3));
    let verdict: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["invalid"], json!(["bad"]));
    assert_eq!(verdict["problems"][0]["field"], "command", "{verdict}");
    assert_eq!(verdict["problems"][0]["line"], 1, "{verdict}");
    fs::remove_file(folder.path().join("bad.toml")).expect("remove");

    let daemon = TestDaemon::start();
    let differs = daemon.cli(&["diff", dir, "--exit-code"]);
    assert_eq!(
        differs.status.code(),
        Some(1),
        "{}",
        describe(&["diff"], &differs)
    );
    assert!(stdout(&differs).contains("new program good"));
    assert_eq!(
        daemon.cli(&["diff", dir]).status.code(),
        Some(0),
        "without the flag"
    );
    assert_eq!(daemon.cli(&["apply", dir]).status.code(), Some(0));
    let same = daemon.cli(&["diff", "--exit-code", dir]);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        describe(&["diff"], &same)
    );
}

/// A daemon that accepts and never answers: the CLI gives up after the wait the program's
/// timings allow, and says it timed out (not `os error 11`).
#[test]
fn a_waiting_call_that_times_out_says_timed_out() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let server = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(2) {
            let mut stream = stream.expect("accept");
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            if String::from_utf8_lossy(&request[..read]).starts_with("GET ") {
                // The program: quick to start and stop, so the wait is the slack alone.
                let body = json!({ "statusCode": 200, "message": "OK", "data": { "program": {
                    "name": "web", "startsecs": 0, "startretries": 0, "stopwaitsecs": 0 } } })
                .to_string();
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            } else {
                held.push(stream); // the start: never answered
            }
        }
        std::thread::sleep(Duration::from_secs(30));
        drop(held);
    });
    let asked = Instant::now();
    let output = run_client(&url, &["programs", "start", "web"]);
    let took = asked.elapsed();
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&["start"], &output)
    );
    let said = stderr(&output);
    assert!(said.contains("timed out after 10 s"), "{said}");
    assert!(!said.contains("os error"), "{said}");
    assert!(took < Duration::from_secs(60), "{took:?}");
    drop(server);
}

/// The flows of the README and docs/CLI.md name the program by the name they created it with
/// (or the id `add` returned), never by a number that is some other program on another
/// folder (id 1 of the embedded programs.d is `clock`, a tracked example).
#[test]
fn every_flow_in_the_docs_uses_the_name_or_the_id_add_returned() {
    for doc in ["README.md", "docs/CLI.md"] {
        let text = fs::read_to_string(repo().join(doc)).expect("doc");
        let mut in_code = false;
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if !in_code {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            for pair in words.windows(3) {
                let verbs = [
                    "enable", "disable", "start", "stop", "restart", "status", "delete", "get",
                    "edit", "logs", "signal", "history",
                ];
                if pair[0] == "programs"
                    && verbs.contains(&pair[1])
                    && pair[2].chars().all(|c| c.is_ascii_digit())
                {
                    panic!("{doc}:{}: a literal id: {line}", number + 1);
                }
            }
            let literal_id = [
                "/programs/",
                "/status/",
                "/programs/remove/",
                "/programs/edit/",
            ]
            .iter()
            .any(|prefix| {
                line.match_indices(prefix).any(|(at, _)| {
                    line[at + prefix.len()..]
                        .chars()
                        .next()
                        .is_some_and(|c| c.is_ascii_digit())
                })
            });
            assert!(!literal_id, "{doc}:{}: a literal id: {line}", number + 1);
        }
    }
    // And the README's curl flow, run verbatim against the embedded programs.d, leaves the
    // tracked examples alone.
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    for entry in fs::read_dir(repo().join("programs.d"))
        .expect("embedded programs.d")
        .flatten()
    {
        fs::copy(entry.path(), programs.join(entry.file_name())).expect("copy");
    }
    let before: Vec<(String, String)> = folder_files(&programs);
    let daemon = TestDaemon::start_in(root, &[], None);
    let readme = fs::read_to_string(repo().join("README.md")).expect("README");
    let flow = curl_flow(&readme);
    assert!(
        flow.contains("programs/add"),
        "the README has a curl flow: {flow}"
    );
    let api = format!("{}/api/v1/daemon", daemon.url());
    // The flow's web server needs a free port: its own 8080 may be taken on this machine.
    let port = crate::support::free_port().to_string();
    let script = flow.replace("8080", &port);
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -e\nAPI={api}\n{}",
            script.replace("API=http://127.0.0.1:7575/api/v1/daemon", "")
        ))
        .output()
        .expect("bash");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["(the README's curl flow)"], &output)
    );
    assert_eq!(
        folder_files(&daemon.programs),
        before,
        "the tracked examples are untouched"
    );
}

fn folder_files(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = fs::read_dir(dir)
        .expect("folder")
        .flatten()
        .map(|entry| {
            (
                entry.file_name().to_string_lossy().into_owned(),
                fs::read_to_string(entry.path()).unwrap_or_default(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The README's code block that holds the curl flow.
fn curl_flow(readme: &str) -> String {
    readme
        .split("```")
        .find(|block| block.contains("curl") && block.contains("programs/add"))
        .map(|block| block.trim_start_matches("sh").to_string())
        .unwrap_or_default()
}

/// In a git-managed programs.d, enable and disable write tracked files (and a later `git pull`
/// aborts): the answer steers to start and stop, which change no file.
#[test]
fn enable_and_disable_in_a_git_work_tree_point_at_start_and_stop() {
    let root = tempfile::tempdir().expect("tempdir");
    fs::create_dir(root.path().join(".git")).expect(".git");
    fs::create_dir(root.path().join("programs.d")).expect("programs.d");
    fs::write(
        root.path().join("programs.d/web.toml"),
        "command = \"sleep 600\"\nboot = true\n",
    )
    .expect("write");
    let daemon = TestDaemon::start_in(root, &[], None);
    daemon.wait_state("web", "RUNNING");
    let output = daemon.cli(&["programs", "disable", "web"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["disable"], &output)
    );
    let said = stderr(&output);
    assert!(
        said.contains("note: programs.d is in the git work tree"),
        "{said}"
    );
    assert!(
        said.contains("git pull") && said.contains("start and stop"),
        "{said}"
    );
    // Start and stop change no file, and say nothing of git.
    daemon.cli(&["programs", "enable", "web"]);
    let text = fs::read_to_string(daemon.programs.join("web.toml")).expect("read");
    let output = daemon.cli(&["programs", "start", "web"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["start"], &output)
    );
    assert!(!stderr(&output).contains("git"), "{}", stderr(&output));
    daemon.cli(&["programs", "stop", "web"]);
    assert_eq!(
        fs::read_to_string(daemon.programs.join("web.toml")).expect("read"),
        text
    );
    // Outside a work tree: no note.
    let plain = TestDaemon::start();
    plain.put("web.toml", "command = \"sleep 600\"\n");
    wait_program(&plain, "web");
    let output = plain.cli(&["programs", "disable", "web"]);
    assert!(!stderr(&output).contains("note:"), "{}", stderr(&output));
}

/// `last_stderr` is log content: a `read` token does not see it (SPEC §10: no logs for
/// `read`), `operate` and `admin` do.
#[test]
fn last_stderr_is_not_shown_to_a_read_token() {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::tempdir().expect("tempdir");
    let tokens = folder.path().join("tokens.toml");
    fs::write(
        &tokens,
        "[[tokens]]\nname = \"grafana\"\nrole = \"read\"\ntoken = \"read-secret\"\n\n\
         [[tokens]]\nname = \"oncall\"\nrole = \"operate\"\ntoken = \"operate-secret\"\n",
    )
    .expect("tokens file");
    fs::set_permissions(&tokens, fs::Permissions::from_mode(0o600)).expect("chmod");
    let tokens = tokens.display().to_string();
    let daemon = TestDaemon::start_with(&["--tokens-file", &tokens], None);
    daemon.put(
        "db.toml",
        // The line is made at run time, so the command (which `read` sees) does not hold it.
        "command = [\"sh\", \"-c\", \"echo ERROR-$((40 + 2)) >&2; exit 3\"]\nboot = true\nstartsecs = 1\nstartretries = 0\n",
    );
    let ask = |token: &str, path: &str| {
        let client = hoody_daemon::cli::client::Client::new(
            daemon.client.endpoint.clone(),
            Some(token.to_string()),
        );
        client
            .request("GET", &format!("/api/v1/daemon{path}"), None, &[])
            .map(|response| response.json())
            .unwrap_or(Value::Null)
    };
    wait_until(
        "db FATAL with its stderr",
        30,
        || ask("operate-secret", "/status/db")["data"]["status"]["last_stderr"] == "ERROR-42\n",
        || format!("{}\n{}", ask("operate-secret", "/status/db"), daemon.log()),
    );
    let one = ask("read-secret", "/status/db");
    assert_eq!(one["data"]["status"]["status"], "FATAL", "{one}");
    assert!(one["data"]["status"]["last_stderr"].is_null(), "{one}");
    let all = ask("read-secret", "/status");
    assert!(!all.to_string().contains("ERROR-42"), "{all}");
    let program = ask("read-secret", "/programs/db");
    assert!(!program.to_string().contains("ERROR-42"), "{program}");
    let list = ask("read-secret", "/programs");
    assert!(!list.to_string().contains("ERROR-42"), "{list}");
    let all = ask("operate-secret", "/status");
    assert!(all.to_string().contains("ERROR-42"), "{all}");
}
