//! Issue 5: the HTTP API over real HTTP against the real daemon.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use hoody_daemon::cli::client::{Client, Endpoint};
use serde_json::{Value, json};

use crate::support::{TestDaemon, alive, run, unique, wait_until};

fn assert_envelope(status: u16, body: &Value) {
    assert_eq!(
        body["statusCode"], status,
        "statusCode equals the HTTP status: {body}"
    );
    assert!(body["message"].is_string(), "message: {body}");
    if status >= 400 {
        assert!(body["error"]["code"].is_string(), "error.code: {body}");
        assert!(
            body["error"].get("details").is_some(),
            "error.details: {body}"
        );
    } else {
        assert!(body.get("data").is_some(), "data: {body}");
    }
}

#[test]
fn the_seeds_lifecycle_exactly_as_the_seed_writes_it() {
    let daemon = TestDaemon::start();
    let number = unique();
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({
            "name": "web-server",
            "command": format!("sleep {number}"),
            "autorestart": "true",
            "enabled": false,
        })),
    );
    assert_eq!(code, 201, "{body}");
    assert_envelope(201, &body);
    let id = body["data"]["id"].as_u64().expect("data.id");
    assert!(daemon.programs.join("web-server.toml").exists());

    let (code, body) = daemon.post(&format!("/programs/{id}/start"), None);
    assert_eq!(code, 409, "{body}");
    assert_envelope(409, &body);
    assert_eq!(body["message"], "program not enabled");

    let (code, body) = daemon.post(&format!("/programs/{id}/enable"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        daemon.state_of("web-server"),
        "STOPPED",
        "enable never starts"
    );

    let (code, body) = daemon.post(&format!("/programs/{id}/start"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["data"]["status"]["status"], "RUNNING",
        "start answers once RUNNING: {body}"
    );

    let (code, body) = daemon.get(&format!("/status/{id}"));
    assert_eq!(code, 200);
    assert_envelope(200, &body);
    let status = &body["data"]["status"];
    assert_eq!(body["data"]["success"], true);
    assert_eq!(status["id"], id);
    assert_eq!(status["status"], "RUNNING");
    let pid = status["pid"].as_u64().expect("pid") as u32;
    assert!(alive(pid));
    let uptime = status["uptime"].as_str().expect("uptime");
    assert!(
        uptime.len() >= 7 && uptime.matches(':').count() == 2,
        "H:MM:SS: {uptime}"
    );
    assert!(status["uptime_seconds"].is_u64());

    let (code, _) = daemon.post(&format!("/programs/{id}/start"), None);
    assert_eq!(code, 200, "start of a running program is 200");
    assert_eq!(
        daemon.pid_of("web-server"),
        Some(pid),
        "and changes nothing"
    );

    let (code, body) = daemon.post(&format!("/programs/{id}/stop"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["status"]["status"], "STOPPED");
    assert!(!alive(pid));
    let (code, _) = daemon.post(&format!("/programs/{id}/stop"), None);
    assert_eq!(code, 200, "stop of a stopped program is 200");

    let (code, _) = daemon.post(&format!("/programs/{id}/disable"), None);
    assert_eq!(code, 200);
    let (code, body) = daemon.post(&format!("/programs/remove/{id}"), None);
    assert_eq!(code, 200, "{body}");
    assert!(
        body["data"]["diff"]
            .as_str()
            .unwrap_or("")
            .contains("-command = \"sleep"),
        "{body}"
    );
    let (code, body) = daemon.get(&format!("/programs/{id}"));
    assert_eq!(code, 404);
    assert_envelope(404, &body);
    assert!(
        !daemon.programs.join("web-server.toml").exists(),
        "the file is gone"
    );
}

#[test]
fn the_seeds_full_example_round_trips_through_add_and_get() {
    let daemon = TestDaemon::start();
    let app = daemon.programs.parent().expect("root").join("app");
    fs::create_dir(&app).expect("app dir");
    let logs = daemon.programs.parent().expect("root").join("api-logs");
    let example = json!({
        "name": "api-server",
        "description": "Main REST API server",
        "command": "/usr/bin/node /app/api/server.js",
        "user": "root",
        "enabled": false,
        "boot": true,
        "autorestart": "true",
        "directory": app.to_string_lossy(),
        "priority": 10,
        "stdout_logfile": logs.join("stdout.log").to_string_lossy(),
        "stderr_logfile": logs.join("stderr.log").to_string_lossy(),
        "environment": { "NODE_ENV": "production", "PORT": "3000", "DB_HOST": "localhost" }
    });
    let (code, body) = daemon.post("/programs/add", Some(example.clone()));
    assert_eq!(code, 201, "{body}");
    let (code, body) = daemon.get("/programs/api-server");
    assert_eq!(code, 200, "{body}");
    let program = &body["data"]["program"];
    for (field, value) in example.as_object().expect("object") {
        assert_eq!(&program[field], value, "field {field}: {program}");
    }
    assert_eq!(program["id"], 1);
    assert!(program["status"].is_object());
    assert!(program["config_error"].is_null());
    // Defaults are shown too.
    assert_eq!(program["startretries"], 3);
    assert_eq!(program["stopsignal"], "TERM");
}

#[test]
fn api_files_and_hand_written_files_look_the_same() {
    let daemon = TestDaemon::start();
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "by-api", "command": "sleep 1", "priority": 7 })),
    );
    assert_eq!(code, 201, "{body}");
    let written =
        fs::read_to_string(daemon.programs.join("by-api.toml")).expect("programs.d/by-api.toml");
    assert!(
        written.contains("command = \"sleep 1\"") && written.contains("priority = 7"),
        "{written}"
    );
    let (code, body) = daemon.post(
        "/programs/add?format=yaml",
        Some(json!({ "name": "as-yaml", "command": ["sleep", "1"] })),
    );
    assert_eq!(code, 201, "{body}");
    assert!(daemon.programs.join("as-yaml.yaml").exists());

    daemon.put("by-hand.toml", "command = \"sleep 1\"\npriority = 7\n");
    wait_until(
        "the hand-written file",
        30,
        || daemon.get("/programs/by-hand").0 == 200,
        || daemon.log(),
    );
    let (_, api) = daemon.get("/programs/by-api");
    let (_, hand) = daemon.get("/programs/by-hand");
    let keys = |value: &Value| -> Vec<String> {
        let mut keys: Vec<String> = value["data"]["program"]
            .as_object()
            .expect("program")
            .keys()
            .cloned()
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&api), keys(&hand));
    for field in ["command", "priority", "autorestart", "enabled", "boot"] {
        assert_eq!(
            api["data"]["program"][field], hand["data"]["program"][field],
            "{field}"
        );
    }
}

#[test]
fn every_error_status_comes_in_the_envelope() {
    let daemon = TestDaemon::start();
    let raw = |method: &str, path: &str, body: &[u8], headers: &[(&str, &str)]| -> (u16, Value) {
        let response = daemon
            .client
            .request_raw(
                method,
                &format!("/api/v1/daemon{path}"),
                Some(body),
                headers,
            )
            .expect("request");
        (response.status, response.json())
    };
    let mut cases: Vec<(&str, u16, Value)> = Vec::new();
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "x", "command": "sleep 1", "autorestart": "sometimes" })),
    );
    assert_eq!(
        body["error"]["details"][0]["field"], "autorestart",
        "{body}"
    );
    cases.push(("bad field", code, body));
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "../etc/passwd", "command": "sleep 1" })),
    );
    assert_eq!(body["error"]["details"][0]["field"], "name", "{body}");
    assert!(!daemon.programs.parent().expect("root").join("etc").exists());
    cases.push(("bad name", code, body));
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "x", "command": "sleep 1", "colour": "red" })),
    );
    assert_eq!(body["error"]["details"][0]["field"], "colour", "{body}");
    cases.push(("unknown field", code, body));
    let (code, body) = raw("POST", "/programs/add", b"{\"name\": ", &[]);
    cases.push(("malformed JSON", code, body));
    let (code, body) = raw("POST", "/programs/add", b"[1, 2]", &[]);
    cases.push(("not an object", code, body));
    let (code, body) = raw("POST", "/programs/add", b"{\"name\": \"\xff\xfe\"}", &[]);
    cases.push(("invalid UTF-8", code, body));
    for (what, code, body) in &cases {
        assert_eq!(*code, 400, "{what}: {body}");
        assert_envelope(400, body);
    }

    let (code, body) = daemon.get("/programs/nope");
    assert_eq!(code, 404);
    assert_envelope(404, &body);
    let (code, body) = daemon.get("/programs/12345");
    assert_eq!(code, 404);
    assert_envelope(404, &body);
    let (code, body) = daemon.get("/no/such/route");
    assert_eq!(code, 404);
    assert_envelope(404, &body);
    let (code, body) = daemon.get("/programs/..%2f..%2fetc");
    assert!(code == 404 || code == 400, "{code} {body}");
    assert_envelope(code, &body);
    let (code, body) = daemon.get("/programs/a%00b");
    assert_eq!(code, 400, "{body}");
    assert_envelope(400, &body);

    let (code, _) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "taken", "command": "sleep 1", "enabled": false })),
    );
    assert_eq!(code, 201);
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "taken", "command": "sleep 2" })),
    );
    assert_eq!(code, 409, "{body}");
    assert_envelope(409, &body);
    assert_eq!(body["error"]["code"], "name_taken");
    let (code, body) = daemon.post("/programs/taken/start", None);
    assert_eq!(code, 409);
    assert_envelope(409, &body);

    let response = daemon
        .client
        .request("GET", "/api/v1/daemon/programs/taken", None, &[])
        .expect("get");
    let etag = response.header("etag").expect("an ETag").to_string();
    let (code, body) = {
        let response = daemon
            .client
            .request(
                "POST",
                "/api/v1/daemon/programs/edit/taken",
                Some(&json!({ "priority": 3 })),
                &[("If-Match", &etag)],
            )
            .expect("edit");
        (response.status, response.json())
    };
    assert_eq!(code, 200, "a current If-Match: {body}");
    let response = daemon
        .client
        .request(
            "POST",
            "/api/v1/daemon/programs/edit/taken",
            Some(&json!({ "priority": 4 })),
            &[("If-Match", &etag)],
        )
        .expect("edit");
    assert_eq!(response.status, 412, "a stale If-Match");
    assert_envelope(412, &response.json());

    let big = format!(
        "{{\"name\": \"big\", \"description\": \"{}\"}}",
        "x".repeat(2 * 1024 * 1024)
    );
    let (code, body) = raw("POST", "/programs/add", big.as_bytes(), &[]);
    assert_eq!(code, 413, "{body}");
    assert_envelope(413, &body);
    let (code, body) = raw("DELETE", "/programs", b"", &[]);
    assert_eq!(code, 405, "{body}");
    assert_envelope(405, &body);
}

#[test]
fn edit_is_a_merge_null_resets_and_renaming_is_refused() {
    let daemon = TestDaemon::start();
    daemon.put(
        "web.toml",
        "# the web server\ncommand = \"sleep 1\"\npriority = 5\ndescription = \"old\"\n",
    );
    wait_until(
        "the file",
        30,
        || daemon.get("/programs/web").0 == 200,
        || daemon.log(),
    );
    let (code, body) = daemon.post(
        "/programs/edit/web",
        Some(json!({ "description": "new", "priority": null })),
    );
    assert_eq!(code, 200, "{body}");
    let diff = body["data"]["diff"].as_str().expect("diff");
    assert!(
        diff.contains("-priority = 5") && diff.contains("+description = \"new\""),
        "{diff}"
    );
    let text = fs::read_to_string(daemon.programs.join("web.toml")).expect("read");
    assert!(
        text.starts_with("# the web server\n"),
        "comments kept: {text}"
    );
    let (_, body) = daemon.get("/programs/web");
    assert_eq!(
        body["data"]["program"]["priority"], 999,
        "null reset the default"
    );
    let (code, body) = daemon.post("/programs/edit/web", Some(json!({ "name": "other" })));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "name");
    let (code, body) = daemon.post("/programs/edit/web", Some(json!({ "boot": "perhaps" })));
    assert_eq!(
        code, 400,
        "an edit that would break the file is refused: {body}"
    );
    assert!(
        fs::read_to_string(daemon.programs.join("web.toml"))
            .expect("read")
            .contains("description = \"new\"")
    );
    let (code, body) = daemon.get("/programs/web/history");
    assert_eq!(code, 200);
    let history = body["data"]["history"].as_array().expect("history");
    assert_eq!(history.len(), 2, "{body}");
    assert_eq!(history[0]["source"], "file");
    assert_eq!(history[1]["source"], "api");
    assert!(
        history[1]["diff"]
            .as_str()
            .unwrap_or("")
            .contains("+description = \"new\"")
    );
}

#[test]
fn eight_concurrent_writers_create_eighty_programs() {
    let daemon = TestDaemon::start();
    let client = daemon.client.clone();
    let handles: Vec<_> = (0..8)
        .map(|writer| {
            let client = client.clone();
            std::thread::spawn(move || {
                (0..10)
                    .map(|index| {
                        let body = json!({ "name": format!("w{writer}-p{index}"), "command": "sleep 1", "enabled": false });
                        let response = client.request("POST", "/api/v1/daemon/programs/add", Some(&body), &[]).expect("add");
                        (response.status, response.json()["data"]["id"].as_u64())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut ids = Vec::new();
    for handle in handles {
        for (status, id) in handle.join().expect("writer") {
            assert_eq!(status, 201);
            ids.push(id.expect("id"));
        }
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 80, "distinct ids");
    let files = fs::read_dir(&daemon.programs)
        .expect("list")
        .flatten()
        .filter(|entry| entry.file_name().to_string_lossy().ends_with(".toml"))
        .count();
    assert_eq!(files, 80);
    let (_, body) = daemon.get("/programs");
    assert_eq!(body["data"]["programs"].as_array().map(Vec::len), Some(80));
}

#[test]
fn quick_start_reports_exit_code_and_output_and_can_be_stopped() {
    let daemon = TestDaemon::start();
    let (code, body) = daemon.post(
        "/quick-start",
        Some(json!({ "command": "sh -c 'echo out; echo err >&2; exit 3'" })),
    );
    assert_eq!(code, 201, "{body}");
    let id = body["data"]["id"].as_u64().expect("id");
    let status = || daemon.get(&format!("/quick-start/{id}/status")).1;
    wait_until(
        "the exit code",
        30,
        || status()["data"]["status"]["exit_code"] == 3,
        || format!("{}\n{}", status(), daemon.log()),
    );
    let (_, logs) = daemon.get(&format!("/quick-start/{id}/logs"));
    assert_eq!(logs["data"]["stdout"], "out\n", "{logs}");
    assert_eq!(logs["data"]["stderr"], "err\n", "{logs}");
    assert!(
        !daemon.programs.read_dir().expect("list").any(|_| true),
        "never written to programs.d"
    );

    let number = unique();
    let (_, body) = daemon.post(
        "/quick-start",
        Some(json!({ "command": ["sleep", number.to_string()] })),
    );
    let id = body["data"]["id"].as_u64().expect("id");
    let pid = daemon.get(&format!("/quick-start/{id}/status")).1["data"]["status"]["pid"]
        .as_u64()
        .expect("pid") as u32;
    let (code, body) = daemon.post(&format!("/quick-start/{id}/stop"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["status"]["status"], "STOPPED", "{body}");
    assert!(!alive(pid));
    let (_, list) = daemon.get("/quick-start");
    assert_eq!(list["data"]["programs"].as_array().map(Vec::len), Some(2));
    let (code, _) = daemon.get("/quick-start/999/status");
    assert_eq!(code, 404);
    let (code, body) = daemon.post(
        "/quick-start",
        Some(json!({ "command": "sleep 1", "timeout_seconds": -1 })),
    );
    assert_eq!(code, 400, "{body}");
    // Null is the same as absent (as in a program's fields, and as the OpenAPI document says);
    // a null command is still a missing one.
    let (code, body) = daemon.post(
        "/quick-start",
        Some(json!({
            "command": "pwd",
            "directory": null,
            "environment": null,
            "user": null,
            "timeout_seconds": null
        })),
    );
    assert_eq!(code, 201, "{body}");
    let id = body["data"]["id"].as_u64().expect("id");
    wait_until(
        "the null-field quick-start to exit 0",
        30,
        || daemon.get(&format!("/quick-start/{id}/status")).1["data"]["status"]["exit_code"] == 0,
        || daemon.log(),
    );
    let (code, body) = daemon.post("/quick-start", Some(json!({ "command": null })));
    assert!(code == 400 || code == 422, "{code} {body}");
}

#[test]
fn a_token_is_required_on_every_route_but_health() {
    let daemon = TestDaemon::start_with(&[], Some("s3cret-token"));
    let anonymous = Client::new(daemon.client.endpoint.clone(), None);
    let wrong = Client::new(daemon.client.endpoint.clone(), Some("guess".into()));
    for client in [&anonymous, &wrong] {
        for path in [
            "/programs",
            "/status",
            "/programs/1",
            "/openapi.json",
            "/events",
        ] {
            let response = client
                .request("GET", &format!("/api/v1/daemon{path}"), None, &[])
                .expect("request");
            assert_eq!(response.status, 401, "{path}");
            assert_envelope(401, &response.json());
        }
        let response = client
            .request(
                "POST",
                "/api/v1/daemon/programs/add",
                Some(&json!({"name": "x", "command": "sleep 1"})),
                &[],
            )
            .expect("request");
        assert_eq!(response.status, 401);
        let response = client
            .request("GET", "/api/v1/daemon/health", None, &[])
            .expect("health");
        assert_eq!(response.status, 200);
    }
    assert!(!daemon.programs.join("x.toml").exists());
    let (code, _) = daemon.get("/programs");
    assert_eq!(code, 200, "the right token");
}

#[test]
fn a_non_loopback_address_without_a_token_is_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    fs::create_dir(root.path().join("programs.d")).expect("mkdir");
    let dir = root.path().join("programs.d");
    let output = run(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--programs-dir",
        dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("refusing to listen on http://0.0.0.0:0 without a token"),
        "{stderr}"
    );
}

#[test]
fn a_unix_socket_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("tempdir");
    let socket = root.path().join("api.sock");
    fs::create_dir(root.path().join("programs.d")).expect("mkdir");
    let listen = format!("unix:{}", socket.display());
    let daemon = TestDaemon::start_in(root, &["--listen", &listen], None);
    let mode = fs::metadata(&socket).expect("socket").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let client = Client::new(Endpoint::Unix(socket.clone()), None);
    let response = client
        .request("GET", "/api/v1/daemon/health", None, &[])
        .expect("health over the socket");
    assert_eq!(response.status, 200);
    drop(daemon);
}

#[test]
fn every_route_in_the_openapi_document_is_served() {
    let daemon = TestDaemon::start();
    let (code, document) = daemon.get("/openapi.json");
    assert_eq!(code, 200);
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{}", paths.len());
    for (path, operations) in paths {
        for method in operations.as_object().expect("operations").keys() {
            let concrete = path.replace("{id}", "1");
            if concrete.ends_with("/events") {
                // A stream that never ends: its first event-stream bytes are the proof.
                let Endpoint::Tcp(host) = &daemon.client.endpoint else {
                    panic!("tcp")
                };
                let mut stream = TcpStream::connect(host).expect("connect");
                write!(stream, "GET {concrete} HTTP/1.1\r\nHost: {host}\r\n\r\n").expect("send");
                let mut status_line = String::new();
                BufReader::new(stream)
                    .read_line(&mut status_line)
                    .expect("status line");
                assert!(
                    status_line.starts_with("HTTP/1.1 200"),
                    "{path}: {status_line}"
                );
                continue;
            }
            let response = daemon
                .client
                .request_raw(
                    &method.to_uppercase(),
                    &format!("{concrete}?wait=false"),
                    Some(b"{}"),
                    &[],
                )
                .expect("request");
            let body = response.json();
            assert!(
                response.status != 405 && body["error"]["code"] != "no_route",
                "{method} {path} is documented but not served: {} {body}",
                response.status
            );
        }
    }
}

/// At least `at_least` numbered lines were followed, each one more than the one before: none
/// lost, none repeated.
fn assert_followed_in_order(stream: &str, followed: &[u64], at_least: usize, daemon: &TestDaemon) {
    assert!(
        followed.len() >= at_least,
        "{stream}: followed only {} lines\n{}",
        followed.len(),
        daemon.log()
    );
    let gaps: Vec<_> = followed
        .windows(2)
        .filter(|pair| pair[1] != pair[0] + 1)
        .collect();
    assert!(
        gaps.is_empty(),
        "{stream}: lines lost or repeated while following: {gaps:?}"
    );
}

/// Reads server-sent events from a streaming GET until `found` says stop or the time is up.
fn read_events(
    daemon: &TestDaemon,
    path: &str,
    seconds: u64,
    found: impl FnMut(&str) -> bool,
) -> bool {
    read_events_opened(daemon, path, seconds, || {}, found)
}

/// [`read_events`], calling `opened` once the answer's head has come (the daemon subscribes
/// the stream before it answers, so whatever happens after `opened` is in the stream).
fn read_events_opened(
    daemon: &TestDaemon,
    path: &str,
    seconds: u64,
    opened: impl FnOnce(),
    mut found: impl FnMut(&str) -> bool,
) -> bool {
    let mut opened = Some(opened);
    let Endpoint::Tcp(host) = &daemon.client.endpoint else {
        panic!("tcp")
    };
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    write!(
        stream,
        "GET /api/v1/daemon{path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("send");
    let mut reader = BufReader::new(stream);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut line = String::new();
    while Instant::now() < deadline {
        match reader.read_line(&mut line) {
            Ok(0) => return false,
            Ok(_) => {
                let complete = std::mem::take(&mut line);
                if complete.trim_end().is_empty()
                    && let Some(opened) = opened.take()
                {
                    opened();
                }
                if let Some(data) = complete.trim_end().strip_prefix("data: ")
                    && found(data)
                {
                    return true;
                }
            }
            // A read timeout may leave half a line in `line`: keep it, the rest follows.
            Err(_) => continue,
        }
    }
    false
}

#[test]
fn events_stream_config_and_state_changes() {
    let daemon = TestDaemon::start();
    let client = daemon.client.clone();
    let number = unique();
    // The program is added once the stream is open (a fixed wait let a loaded machine
    // subscribe after the events).
    let (go, ready) = std::sync::mpsc::channel::<()>();
    let writer = std::thread::spawn(move || {
        ready.recv().expect("the stream opened");
        let body = json!({ "name": "evented", "command": format!("sleep {number}"), "boot": true, "startsecs": 0 });
        client
            .request("POST", "/api/v1/daemon/programs/add", Some(&body), &[])
            .expect("add")
            .status
    });
    let mut seen_config = false;
    let mut seen_running = false;
    let opened = move || go.send(()).expect("the writer waits");
    let done = read_events_opened(&daemon, "/events", 20, opened, |data| {
        let event: Value = serde_json::from_str(data).unwrap_or(Value::Null);
        if event["type"] == "config" && event["name"] == "evented" && event["source"] == "api" {
            seen_config = true;
        }
        if event["type"] == "state" && event["name"] == "evented" && event["to"] == "RUNNING" {
            seen_running = true;
        }
        seen_config && seen_running
    });
    assert_eq!(writer.join().expect("writer"), 201);
    assert!(
        done,
        "config {seen_config}, running {seen_running}\n{}",
        daemon.log()
    );
}

#[test]
fn logs_give_the_last_lines_and_follow_across_rotations() {
    let daemon = TestDaemon::start();
    daemon.put(
        "chatty.toml",
        // Lines come in batches of 50 (a `sleep` forked per line made the rate, and so the
        // test, hang on how fast a loaded machine forks): about 500 lines a second, a 4 KB
        // file every second or so, slow enough for a follower to cross each rotation.
        "command = [\"sh\", \"-c\", \"i=0; while true; do seq -f line-%.0f $((i+1)) $((i+50)); i=$((i+50)); sleep 0.1; done\"]\nboot = true\nstartsecs = 0\nstdout_logfile_maxbytes = \"4KB\"\nstdout_logfile_backups = 2\n",
    );
    daemon.wait_state("chatty", "RUNNING");
    wait_until(
        "some output",
        30,
        || {
            daemon.get("/programs/chatty/logs?stream=stdout&lines=5").1["data"]["stdout"]
                .as_str()
                .is_some_and(|text| text.lines().count() == 5)
        },
        || daemon.log(),
    );
    let (_, body) = daemon.get("/programs/chatty/logs?stream=stdout&lines=5");
    assert!(body["data"]["stderr"].is_null(), "{body}");
    let numbers: Vec<u64> = body["data"]["stdout"]
        .as_str()
        .expect("text")
        .lines()
        .filter_map(|line| line.strip_prefix("line-")?.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 5);
    assert!(
        numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{numbers:?}"
    );

    // Follow long enough to cross several 4 KB rotations; every number must arrive, in order.
    let mut followed: Vec<u64> = Vec::new();
    read_events(
        &daemon,
        "/programs/chatty/logs?follow=true&stream=stdout&lines=1",
        // A deadline only bounds a failure: the lines come as fast as a loaded machine forks.
        60,
        |data| {
            if let Some(number) = data.strip_prefix("line-").and_then(|n| n.parse().ok()) {
                followed.push(number);
            }
            followed.len() >= 1500
        },
    );
    assert_followed_in_order("stdout", &followed, 1500, &daemon);
    let rotated = daemon.logs.join("chatty.stdout.log.1");
    assert!(rotated.exists(), "the log rotated while we followed");
}

#[test]
fn a_log_that_never_rotates_is_the_programs_own_file_and_reads_and_follows_the_same() {
    let daemon = TestDaemon::start();
    daemon.put(
        "direct.toml",
        "command = [\"sh\", \"-c\", \"i=0; while true; do seq -f line-%.0f $((i+1)) $((i+20)); seq -f err-%.0f $((i+1)) $((i+20)) >&2; i=$((i+20)); sleep 0.05; done\"]\n\
         boot = true\nstartsecs = 0\nstdout_logfile_maxbytes = 0\nstderr_logfile_maxbytes = 0\n",
    );
    let running = daemon.wait_state("direct", "RUNNING");
    let pid = running["pid"].as_u64().expect("pid");
    // The daemon is out of the data path: the program's fd 1 and fd 2 are the files. (A
    // shell's redirection of a builtin, `echo … >&2`, points its fd 1 elsewhere for a moment,
    // so the two are read until they are seen at rest; a captured stream would never be the
    // file.)
    let logs: Vec<_> = ["direct.stdout.log", "direct.stderr.log"]
        .iter()
        .map(|file| fs::canonicalize(daemon.logs.join(file)).expect("log"))
        .collect();
    let targets = || -> Vec<_> {
        [1, 2]
            .iter()
            .map(|fd| fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap_or_default())
            .collect()
    };
    wait_until(
        "fd 1 and fd 2 of the program to be its log files",
        30,
        || targets() == logs,
        || format!("fd 1 and 2: {:?}, the logs: {logs:?}", targets()),
    );
    let numbers = |text: &str, prefix: &str| -> Vec<u64> {
        text.lines()
            .filter_map(|line| line.strip_prefix(prefix)?.parse().ok())
            .collect()
    };
    wait_until(
        "some output on both streams",
        30,
        || {
            let (_, body) = daemon.get("/programs/direct/logs?lines=5");
            body["data"]["stdout"]
                .as_str()
                .is_some_and(|text| numbers(text, "line-").len() == 5)
                && body["data"]["stderr"]
                    .as_str()
                    .is_some_and(|text| numbers(text, "err-").len() == 5)
        },
        || daemon.log(),
    );
    let (_, body) = daemon.get("/programs/direct/logs?lines=5");
    for (stream, prefix) in [("stdout", "line-"), ("stderr", "err-")] {
        let found = numbers(body["data"][stream].as_str().expect("text"), prefix);
        assert!(
            found.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "{stream}: {found:?}"
        );
    }

    // Following both streams: every number of each, in order.
    let mut out: Vec<u64> = Vec::new();
    let mut err: Vec<u64> = Vec::new();
    read_events(
        &daemon,
        "/programs/direct/logs?follow=true&lines=1",
        // A deadline only bounds a failure: the lines come as fast as a loaded machine forks.
        60,
        |data| {
            if let Some(number) = data.strip_prefix("line-").and_then(|n| n.parse().ok()) {
                out.push(number);
            }
            if let Some(number) = data.strip_prefix("err-").and_then(|n| n.parse().ok()) {
                err.push(number);
            }
            out.len() >= 300 && err.len() >= 300
        },
    );
    for (stream, followed) in [("stdout", &out), ("stderr", &err)] {
        assert_followed_in_order(stream, followed, 300, &daemon);
    }
    let (_, status) = daemon.get("/status/direct");
    assert!(status["data"]["status"]["last_error"].is_null(), "{status}");
}

#[test]
fn programs_named_like_routes_are_reachable_by_name() {
    let daemon = TestDaemon::start();
    for name in ["add", "put"] {
        let (code, body) = daemon.post(
            "/programs/add",
            Some(json!({ "name": name, "command": "sleep 1", "enabled": false })),
        );
        assert_eq!(code, 201, "{body}");
        let (code, body) = daemon.get(&format!("/programs/{name}"));
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["data"]["program"]["name"], name);
    }
    let (code, _) = daemon.get("/programs/add");
    assert_eq!(code, 200);
}

/// The keys of a program's status, wherever it is shown.
const STATUS_KEYS: [&str; 25] = [
    "config_error",
    "cpu_percent",
    "cpu_seconds",
    "enabled",
    "generation",
    "health",
    "id",
    "last_error",
    "last_exit",
    "last_probe",
    "last_stderr",
    "memory_bytes",
    "name",
    "observed_generation",
    "pid",
    "processes",
    "ready",
    "restarts",
    "run",
    "started_at",
    "status",
    "status_text",
    "uptime",
    "uptime_seconds",
    "waiting_for",
];

/// The keys of a status read from the kernel at each request (SPEC §14): only the status
/// routes have them; a program object's status (`GET /programs`, `GET /programs/{id}`) leaves
/// them out.
const FIGURES: [&str; 4] = ["cpu_percent", "cpu_seconds", "memory_bytes", "processes"];

/// Checks one status object of a status route: exactly the documented keys, each of its type.
fn assert_status_shape(status: &Value) {
    assert_status_keys(status, &STATUS_KEYS);
    assert_status_values(status);
}

/// Checks the status inside a program object: the status keys but the figures, which are
/// absent (not null), each of its type.
fn assert_program_status_shape(status: &Value) {
    let expected: Vec<&str> = STATUS_KEYS
        .into_iter()
        .filter(|key| !FIGURES.contains(key))
        .collect();
    assert_status_keys(status, &expected);
    assert_status_values(status);
}

/// A status has exactly these keys (in name order).
fn assert_status_keys(status: &Value, expected: &[&str]) {
    let object = status.as_object().expect("a status is an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, expected, "{status}");
}

/// The type of each key a status has.
fn assert_status_values(status: &Value) {
    assert!(status["id"].is_u64(), "id: {status}");
    assert!(status["name"].is_string(), "name: {status}");
    let states = [
        "STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL",
    ];
    assert!(
        states.iter().any(|state| status["status"] == *state),
        "status: {status}"
    );
    for key in ["pid", "uptime_seconds", "started_at", "observed_generation"] {
        assert!(
            status[key].is_null() || status[key].is_u64(),
            "{key}: {status}"
        );
    }
    assert!(status["restarts"].is_u64(), "restarts: {status}");
    // SPEC §14: figures while a process lives, null without one (where they are shown).
    if status.get("processes").is_some() {
        assert!(status["processes"].is_u64(), "processes: {status}");
        let alive = status["pid"].is_u64();
        for key in ["cpu_percent", "cpu_seconds"] {
            assert!(
                status[key].is_null() || (alive && status[key].is_f64()),
                "{key}: {status}"
            );
        }
        assert!(
            status["memory_bytes"].is_null() || (alive && status["memory_bytes"].is_u64()),
            "memory_bytes: {status}"
        );
    }
    assert!(status["generation"].is_u64(), "generation: {status}");
    assert!(status["enabled"].is_boolean(), "enabled: {status}");
    assert!(status["run"].is_boolean(), "run: {status}");
    // SPEC §12.
    assert!(status["ready"].is_boolean(), "ready: {status}");
    assert!(
        status["health"].is_null()
            || ["starting", "healthy", "unhealthy"]
                .iter()
                .any(|health| status["health"] == *health),
        "health: {status}"
    );
    assert!(
        status["last_probe"].is_null()
            || (status["last_probe"]["time"].is_f64()
                && status["last_probe"]["ok"].is_boolean()
                && status["last_probe"]["output"].is_string()),
        "last_probe: {status}"
    );
    assert!(
        status["status_text"].is_null() || status["status_text"].is_string(),
        "status_text: {status}"
    );
    assert!(
        status["waiting_for"]
            .as_array()
            .is_some_and(|names| names.iter().all(Value::is_string)),
        "waiting_for: {status}"
    );
    assert!(
        status["last_error"].is_null() || status["last_error"].is_string(),
        "last_error: {status}"
    );
    let ended = ["EXITED", "BACKOFF", "FATAL"]
        .iter()
        .any(|state| status["status"] == *state);
    assert!(
        status["last_stderr"].is_null() || (ended && status["last_stderr"].is_string()),
        "last_stderr only for a program that exited or failed: {status}"
    );
    match &status["uptime"] {
        Value::Null => assert!(status["uptime_seconds"].is_null(), "{status}"),
        Value::String(uptime) => {
            let seconds = status["uptime_seconds"].as_u64().expect("uptime_seconds");
            let expected = format!(
                "{}:{:02}:{:02}",
                seconds / 3600,
                (seconds / 60) % 60,
                seconds % 60
            );
            assert_eq!(*uptime, expected, "uptime is H:MM:SS of uptime_seconds");
        }
        other => panic!("uptime: {other}"),
    }
    match &status["last_exit"] {
        Value::Null => {}
        Value::Object(exit) => {
            assert_eq!(exit.len(), 1, "{status}");
            assert!(
                exit.get("code").is_some_and(Value::is_i64)
                    || exit.get("signal").is_some_and(Value::is_string),
                "last_exit: {status}"
            );
        }
        other => panic!("last_exit: {other}"),
    }
    match &status["config_error"] {
        Value::Null => {}
        Value::Object(error) => {
            let mut keys: Vec<&str> = error.keys().map(String::as_str).collect();
            keys.sort_unstable();
            assert_eq!(keys, ["message", "problems", "running_generation"]);
            assert!(error["message"].is_string());
            assert!(error["running_generation"].is_u64());
            let problems = error["problems"].as_array().expect("problems");
            assert!(!problems.is_empty());
            for problem in problems {
                let mut keys: Vec<&str> = problem
                    .as_object()
                    .expect("a problem is an object")
                    .keys()
                    .map(String::as_str)
                    .collect();
                keys.sort_unstable();
                assert_eq!(keys, ["column", "field", "file", "line", "message"]);
            }
        }
        other => panic!("config_error: {other}"),
    }
}

/// A status without what moves by itself while nothing happens (the uptime).
fn settled(status: &Value) -> Value {
    let mut status = status.clone();
    // What moves between two reads: the uptime, and the CPU figures' values (read from the
    // kernel at each request, with a cgroup in microseconds: a `sleep` that has just started shows the
    // CPU of its spawn over an uptime that grows between two reads).
    if let Some(object) = status.as_object_mut() {
        object.remove("uptime");
        object.remove("uptime_seconds");
        // Whether they are shown still has to agree.
        for key in ["cpu_percent", "cpu_seconds"] {
            if let Some(value) = object.get_mut(key) {
                *value = Value::Bool(!value.is_null());
            }
        }
    }
    status
}

/// The big reads (status of all, of one, the list, one program) are written straight to JSON
/// from views of the daemon's state: each must show every state with the same fields, and
/// agree with the others.
#[test]
fn status_of_all_shows_every_state_and_agrees_with_status_of_one_and_the_list() {
    let daemon = TestDaemon::start();
    let sleeper = |extra: &str| {
        format!(
            "command = \"sleep {}\"\nboot = true\nstartsecs = 0\n{extra}\n",
            unique()
        )
    };
    let once = |script: &str| {
        format!(
            "command = [\"sh\", \"-c\", \"{script}\"]\nboot = true\nstartsecs = 0\nautorestart = \"false\"\n"
        )
    };
    daemon.put("running.toml", &sleeper(""));
    daemon.put("idle.toml", &format!("command = \"sleep {}\"\n", unique()));
    daemon.put("halted.toml", &sleeper(""));
    daemon.put("disabled.toml", &sleeper("enabled = false"));
    daemon.put(
        "fatal.toml",
        &format!(
            "command = \"/nonexistent/hoody-{}\"\nboot = true\n",
            unique()
        ),
    );
    daemon.put("exited.toml", &once("exit 3"));
    daemon.put("killed.toml", &once("kill -KILL $$"));
    daemon.put(
        "backoff.toml",
        "command = [\"sh\", \"-c\", \"exit 1\"]\nboot = true\nstartsecs = 5\nstartretries = 1000\n",
    );
    daemon.put("broken.toml", "command = \"sleep 1\"\nboot = \"perhaps\"\n");
    daemon.put("drifted.toml", &sleeper(""));

    daemon.wait_state("running", "RUNNING");
    daemon.wait_state("halted", "RUNNING");
    let (code, body) = daemon.post("/programs/halted/stop", None);
    assert_eq!(code, 200, "{body}");
    daemon.wait_state("drifted", "RUNNING");
    daemon.put(
        "drifted.toml",
        "command = \"sleep 1\"\nstopsignal = \"NOPE\"\n",
    );
    daemon.wait_status("drifted", "the config error", |s| {
        !s["config_error"].is_null()
    });
    daemon.wait_state("fatal", "FATAL");
    daemon.wait_status("exited", "exit code 3", |s| {
        s["status"] == "EXITED" && s["last_exit"]["code"] == 3
    });
    daemon.wait_status("killed", "killed by KILL", |s| {
        s["status"] == "EXITED" && s["last_exit"]["signal"] == "KILL"
    });
    daemon.wait_state("backoff", "BACKOFF");
    daemon.wait_status("broken", "the config error", |s| {
        !s["config_error"].is_null()
    });

    let response = daemon
        .client
        .request("GET", "/api/v1/daemon/status", None, &[])
        .expect("GET /status");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = response.json();
    assert_envelope(200, &body);
    let mut keys: Vec<&str> = body
        .as_object()
        .expect("envelope")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["data", "message", "statusCode"], "{body}");
    assert_eq!(body["message"], "OK");
    assert_eq!(body["data"]["success"], true);
    let statuses = body["data"]["statuses"].as_array().expect("statuses");
    let names: Vec<&str> = statuses
        .iter()
        .map(|status| status["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        [
            "backoff", "broken", "disabled", "drifted", "exited", "fatal", "halted", "idle",
            "killed", "running"
        ],
        "every program, by name"
    );
    for status in statuses {
        assert_status_shape(status);
    }
    let by_name = |name: &str| {
        statuses
            .iter()
            .find(|status| status["name"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };

    let running = by_name("running");
    assert_eq!(running["status"], "RUNNING");
    assert!(running["pid"].is_u64() && running["started_at"].is_u64());
    assert!(running["uptime"].is_string());
    assert_eq!(running["enabled"], true);
    assert_eq!(running["run"], true);
    assert_eq!(running["observed_generation"], 1);
    let idle = by_name("idle");
    assert_eq!(idle["status"], "STOPPED");
    for key in ["pid", "started_at", "uptime", "last_exit", "last_error"] {
        assert!(idle[key].is_null(), "{key}: {idle}");
    }
    assert!(idle["observed_generation"].is_null(), "no job: {idle}");
    assert_eq!(idle["restarts"], 0);
    assert_eq!(idle["run"], false);
    let halted = by_name("halted");
    assert_eq!(halted["status"], "STOPPED");
    assert!(halted["pid"].is_null() && halted["uptime"].is_null());
    assert_eq!(halted["run"], false);
    assert_eq!(by_name("disabled")["enabled"], false);
    assert_eq!(by_name("disabled")["status"], "STOPPED");
    let fatal = by_name("fatal");
    assert_eq!(fatal["status"], "FATAL");
    assert!(
        fatal["last_error"]
            .as_str()
            .is_some_and(|error| !error.is_empty())
    );
    assert_eq!(by_name("exited")["last_exit"], json!({ "code": 3 }));
    assert_eq!(by_name("killed")["last_exit"], json!({ "signal": "KILL" }));
    let broken = by_name("broken");
    assert_eq!(broken["status"], "STOPPED");
    assert_eq!(broken["enabled"], false);
    assert_eq!(broken["config_error"]["problems"][0]["field"], "boot");
    assert_eq!(broken["config_error"]["problems"][0]["line"], 2);
    let drifted = by_name("drifted");
    assert_eq!(drifted["status"], "RUNNING", "the last good version runs");
    assert_eq!(drifted["generation"], 2);
    assert_eq!(drifted["observed_generation"], 1);
    assert_eq!(drifted["config_error"]["running_generation"], 1);
    assert!(
        drifted["config_error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("stopsignal")),
        "{drifted}"
    );

    // The same status from status of one, the list and one program (BACKOFF moves on its own).
    let (code, list) = daemon.get("/programs");
    assert_eq!(code, 200);
    assert_envelope(200, &list);
    let programs = list["data"]["programs"].as_array().expect("programs");
    assert_eq!(programs.len(), statuses.len());
    for status in statuses {
        let name = status["name"].as_str().expect("name");
        let (code, one) = daemon.get(&format!("/status/{name}"));
        assert_eq!(code, 200, "{one}");
        assert_envelope(200, &one);
        assert_eq!(one["data"]["success"], true);
        assert_status_shape(&one["data"]["status"]);
        let response = daemon
            .client
            .request("GET", &format!("/api/v1/daemon/programs/{name}"), None, &[])
            .expect("GET /programs/{name}");
        assert_eq!(response.status, 200);
        assert!(response.header("etag").is_some(), "an ETag");
        let program = response.json()["data"]["program"].clone();
        let listed = programs
            .iter()
            .find(|program| program["name"] == name)
            .cloned()
            .unwrap_or(Value::Null);
        for shown in [&program, &listed] {
            assert_program_status_shape(&shown["status"]);
            assert_eq!(shown["id"], status["id"], "{shown}");
            assert_eq!(shown["generation"], status["generation"], "{shown}");
            assert_eq!(shown["config_error"], status["config_error"], "{shown}");
            assert_eq!(
                shown["observed_generation"], status["observed_generation"],
                "{shown}"
            );
            assert_eq!(shown["format"], "toml");
            assert!(
                shown["file"]
                    .as_str()
                    .is_some_and(|file| file.ends_with(&format!("{name}.toml"))),
                "{shown}"
            );
            assert!(shown["text"].is_string(), "{shown}");
        }
        if name != "backoff" {
            assert_eq!(settled(&one["data"]["status"]), settled(status), "{name}");
            // A program object's status is the status without its figures.
            let mut without_figures = settled(status);
            if let Some(object) = without_figures.as_object_mut() {
                for key in FIGURES {
                    object.remove(key);
                }
            }
            assert_eq!(settled(&program["status"]), without_figures, "{name}");
            assert_eq!(settled(&listed["status"]), without_figures, "{name}");
        }
    }
}
