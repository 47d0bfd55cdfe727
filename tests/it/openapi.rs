//! Issue 19: the OpenAPI document tells the truth. Real answers of a real daemon — every route,
//! its errors, the redacted views of a `read` token, the event stream — are validated against
//! the document the daemon serves, strictly (`tests/openapi/validate.py`, with the `jsonschema`
//! package from PyPI that `.ci/run` installs into `target/jsonschema-venv`): a field the
//! daemon sends that the schema does not name, a status or a content type the operation does
//! not list, fails the test.

#![allow(clippy::disallowed_methods)] // runs the validator (python3)

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hoody_daemon::cli::client::{Client, Endpoint, HttpResponse};
use serde_json::{Value, json};

use crate::support::{TestDaemon, repo, wait_until};

const BASE: &str = "/api/v1/daemon";

/// The Python with `jsonschema`: `$HOODY_JSONSCHEMA_PYTHON`, or `target/jsonschema-venv`.
fn validator_python() -> PathBuf {
    let python = std::env::var_os("HOODY_JSONSCHEMA_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/jsonschema-venv/bin/python"));
    let works = Command::new(&python)
        .args(["-c", "import jsonschema"])
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        works,
        "{} cannot import jsonschema. .ci/run installs it; by hand:\n  \
         python3 -m venv target/jsonschema-venv && target/jsonschema-venv/bin/pip install jsonschema==4.26.0\n\
         (or point HOODY_JSONSCHEMA_PYTHON at a python that has it)",
        python.display()
    );
    python
}

/// The answers a test collected, to validate against the document.
struct Samples {
    client: Client,
    list: Vec<Value>,
}

impl Samples {
    fn new(client: Client) -> Samples {
        Samples {
            client,
            list: Vec::new(),
        }
    }

    /// Sends a request to `concrete` (under the base path) and records its answer as one of
    /// the operation `method template`.
    fn call(
        &mut self,
        method: &str,
        template: &str,
        concrete: &str,
        body: Option<&[u8]>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let response = self
            .client
            .request_raw(method, &format!("{BASE}{concrete}"), body, headers)
            .unwrap_or_else(|error| panic!("{method} {concrete}: {error}"));
        self.record(method, template, &response);
        response
    }

    fn json(
        &mut self,
        method: &str,
        template: &str,
        concrete: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let bytes = body.map(|body| body.to_string().into_bytes());
        let response = self.call(method, template, concrete, bytes.as_deref(), &[]);
        (response.status, response.json())
    }

    fn record(&mut self, method: &str, template: &str, response: &HttpResponse) {
        let content_type = response.header("content-type").unwrap_or("").to_string();
        let body = if response.body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&response.body).unwrap_or_else(|_| {
                panic!(
                    "{method} {template}: {} is not JSON: {}",
                    response.status,
                    String::from_utf8_lossy(&response.body)
                )
            })
        };
        self.list.push(json!({
            "method": method.to_lowercase(),
            "path": template,
            "status": response.status,
            "content_type": content_type,
            "body": body,
        }));
    }

    /// An answer of no operation (an unknown path, a method a path does not take), checked
    /// against a reusable response of the document.
    fn response_of(&mut self, component: &str, response: &HttpResponse) {
        self.list.push(json!({
            "response": component,
            "status": response.status,
            "content_type": response.header("content-type").unwrap_or(""),
            "body": response.json(),
        }));
    }

    fn event(&mut self, data: &str) {
        let body: Value = serde_json::from_str(data)
            .unwrap_or_else(|_| panic!("an event's data is not JSON: {data}"));
        self.list.push(json!({ "schema": "Event", "body": body }));
    }

    /// Validates every answer against the document the daemon serves.
    fn validate(&self, daemon: &TestDaemon) {
        self.validate_with(daemon, &[]);
    }

    /// Validates every answer, and that every operation of the document was answered.
    fn validate_every_operation(&self, daemon: &TestDaemon) {
        self.validate_with(daemon, &["--every-operation"]);
    }

    fn validate_with(&self, daemon: &TestDaemon, flags: &[&str]) {
        let (code, document) = daemon.get("/openapi.json");
        assert_eq!(code, 200);
        let folder = tempfile::tempdir().expect("tempdir");
        let document_path = folder.path().join("openapi.json");
        let samples_path = folder.path().join("samples.json");
        fs::write(&document_path, document.to_string()).expect("document");
        fs::write(&samples_path, Value::from(self.list.clone()).to_string()).expect("samples");
        let output = Command::new(validator_python())
            .arg(repo().join("tests/openapi/validate.py"))
            .arg(&document_path)
            .arg(&samples_path)
            .args(flags)
            .output()
            .expect("run the validator");
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success(),
            "answers that do not match the document:\n{said}"
        );
        assert!(said.contains(" 0 failures"), "{said}");
    }
}

/// Reads the data of server-sent events on a connection of its own until `stop` is set.
fn follow_events(
    daemon: &TestDaemon,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    let Endpoint::Tcp(host) = daemon.client.endpoint.clone() else {
        panic!("tcp")
    };
    let mut stream = TcpStream::connect(&host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    write!(
        stream,
        "GET {BASE}/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("send");
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let mut head = true;
        let mut events = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match reader.read_line(&mut line) {
                Ok(0) => break,
                Ok(_) => {
                    let complete = std::mem::take(&mut line);
                    let complete = complete.trim_end();
                    if head {
                        if complete.to_ascii_lowercase().starts_with("content-type:") {
                            assert!(complete.contains("text/event-stream"), "{complete}");
                        }
                        head = !complete.is_empty();
                    } else if let Some(data) = complete.strip_prefix("data: ") {
                        events.push(data.to_string());
                    }
                }
                // A read timeout may leave half a line: keep it, the rest follows.
                Err(_) => continue,
            }
        }
        events
    })
}

fn write_program(programs: &Path, file: &str, text: &str) {
    fs::write(programs.join(file), text).expect("program file");
}

#[test]
fn every_answer_matches_the_document() {
    let daemon = TestDaemon::start();
    let stop = Arc::new(AtomicBool::new(false));
    let events = follow_events(&daemon, Arc::clone(&stop));
    let mut samples = Samples::new(daemon.client.clone());

    // Programs of every kind, from files: a health check that never passes (so /ready is 503),
    // a dependency, an argv command with an x- field, a file that does not parse.
    write_program(
        &daemon.programs,
        "probed.toml",
        "command = [\"sh\", \"-c\", \"echo started; exec sleep 1000\"]\nboot = true\nstartsecs = 0\nlog_timestamps = true\n\n[healthcheck]\nexec = \"false\"\ninterval = 1\nretries = 1\non_unhealthy = \"none\"\n",
    );
    write_program(
        &daemon.programs,
        "dependent.yaml",
        "command: [\"sleep\", \"1000\"]\ndepends_on: {probed: ready}\nx-team: infra\nenvironment:\n  MODE: test\nstdout_logfile_maxbytes: 1000\n",
    );
    write_program(&daemon.programs, "broken.toml", "command = [\n");
    // Programs whose names are also routes (GET /programs/add and /programs/put).
    write_program(
        &daemon.programs,
        "add.toml",
        "command = \"true\"\nenabled = false\n",
    );
    write_program(
        &daemon.programs,
        "put.toml",
        "command = \"true\"\nenabled = false\n",
    );
    wait_until(
        "the files are read",
        20,
        || {
            daemon.get("/programs").1["data"]["programs"]
                .as_array()
                .map(Vec::len)
                == Some(5)
        },
        || daemon.log(),
    );
    daemon.wait_status("probed", "a failed probe", |status| {
        status["last_probe"]["ok"] == false
    });
    wait_until(
        "probed's first line",
        20,
        || {
            daemon.get("/programs/probed/logs").1["data"]["stdout"]
                .as_str()
                .is_some_and(|out| out.contains("started"))
        },
        || daemon.log(),
    );

    samples.json("GET", "/health", "/health", None);
    samples.json("GET", "/whoami", "/whoami", None);
    samples.json("GET", "/openapi.json", "/openapi.json", None);
    let (code, ready) = samples.json("GET", "/ready", "/ready", None);
    assert_eq!(code, 503, "{ready}");
    assert_eq!(ready["error"]["details"]["not_ready"][0]["name"], "probed");

    // Create, with a Location; the program's fields in canonical form.
    let body = json!({
        "name": "web", "command": "sleep 1000", "autorestart": "true", "startsecs": 0,
        "environment": { "PORT": 8080 }, "stdout_logfile_maxbytes": "1MB", "enabled": false
    });
    let response = samples.call(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(body.to_string().as_bytes()),
        &[],
    );
    assert_eq!(response.status, 201, "{}", response.json());
    let id = response.json()["data"]["id"]
        .as_u64()
        .expect("a numeric id");
    assert_eq!(
        response.header("location"),
        Some(format!("{BASE}/programs/{id}").as_str())
    );
    let (_, listed) = samples.json("GET", "/programs", "/programs", None);
    let dependent = listed["data"]["programs"]
        .as_array()
        .and_then(|programs| {
            programs
                .iter()
                .find(|program| program["name"] == "dependent")
        })
        .expect("dependent listed");
    assert_eq!(
        dependent["stdout_logfile_maxbytes"], "1000",
        "a size is always a string"
    );
    assert_eq!(dependent["x-team"], "infra");
    let broken = listed["data"]["programs"]
        .as_array()
        .and_then(|programs| programs.iter().find(|program| program["name"] == "broken"))
        .expect("broken listed");
    assert!(broken["config_error"]["problems"].is_array(), "{broken}");

    // One program, its ETag, and 304 for a matching If-None-Match (by id and by name).
    let response = samples.call(
        "GET",
        "/programs/{id}",
        &format!("/programs/{id}"),
        None,
        &[],
    );
    assert_eq!(response.status, 200);
    let etag = response
        .header("etag")
        .expect("an ETag for admin")
        .to_string();
    let response = samples.call(
        "GET",
        "/programs/{id}",
        "/programs/web",
        None,
        &[("If-None-Match", &etag)],
    );
    assert_eq!(response.status, 304);
    assert!(response.body.is_empty());
    assert_eq!(response.header("etag"), Some(etag.as_str()));
    let response = samples.call(
        "GET",
        "/programs/{id}",
        "/programs/web",
        None,
        &[("If-None-Match", "\"0-0\"")],
    );
    assert_eq!(response.status, 200);
    samples.json("GET", "/programs/{id}", "/programs/broken", None);
    samples.json("GET", "/programs/{id}", "/programs/nope", None);

    // Writes and their errors.
    let (code, _) = samples.json(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(json!({ "name": "web", "command": "true" })),
    );
    assert_eq!(code, 409);
    let (code, _) = samples.json(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(json!({ "name": "nocommand" })),
    );
    assert_eq!(code, 400);
    let response = samples.call(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(b"{not json"),
        &[],
    );
    assert_eq!(response.status, 400);
    let response = samples.call(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(b"name=x"),
        &[("Content-Type", "text/plain")],
    );
    assert_eq!(response.status, 415);
    let huge = vec![b' '; hoody_daemon::api::MAX_BODY + 10];
    let response = samples.call("POST", "/programs/add", "/programs/add", Some(&huge), &[]);
    assert_eq!(response.status, 413);
    let (code, edited) = samples.json(
        "POST",
        "/programs/edit/{id}",
        "/programs/edit/web",
        Some(json!({ "description": "the web", "priority": null })),
    );
    assert_eq!(code, 200, "{edited}");
    assert_eq!(edited["data"]["changed"], true);
    let response = samples.call(
        "POST",
        "/programs/edit/{id}",
        "/programs/edit/web",
        Some(br#"{"description": "again"}"#),
        &[("If-Match", &etag)],
    );
    assert_eq!(response.status, 412);
    samples.json(
        "POST",
        "/programs/edit/{id}",
        "/programs/edit/web",
        Some(json!({ "name": "renamed" })),
    );
    samples.json(
        "POST",
        "/programs/edit/{id}",
        &format!("/programs/edit/{id}"),
        Some(json!({ "description": "the web" })),
    );
    let (code, put) = samples.json(
        "POST",
        "/programs/put",
        "/programs/put",
        Some(json!({ "file": "filed.toml", "text": "# kept\ncommand = \"sleep 1000\"\nenabled = false\n" })),
    );
    assert_eq!(code, 201, "{put}");
    let (code, _) = samples.json(
        "POST",
        "/programs/put",
        "/programs/put",
        Some(json!({ "file": "filed.toml", "text": "# kept\ncommand = \"sleep 999\"\nenabled = false\n" })),
    );
    assert_eq!(code, 200);
    samples.json(
        "POST",
        "/programs/put",
        "/programs/put",
        Some(json!({ "file": "filed.toml", "text": "command = [" })),
    );
    let (code, named) = samples.json("GET", "/programs/add", "/programs/add", None);
    assert_eq!(
        (code, named["data"]["program"]["name"].as_str()),
        (200, Some("add")),
        "{named}"
    );
    let (code, _) = samples.json("GET", "/programs/put", "/programs/put", None);
    assert_eq!(code, 200);

    // Control.
    let (code, refused) = samples.json("POST", "/programs/{id}/start", "/programs/web/start", None);
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (409, Some("not_enabled"))
    );
    samples.json(
        "POST",
        "/programs/{id}/start",
        "/programs/broken/start",
        None,
    );
    samples.json(
        "POST",
        "/programs/{id}/enable",
        "/programs/web/enable",
        None,
    );
    let (code, started) = samples.json(
        "POST",
        "/programs/{id}/start",
        &format!("/programs/{id}/start"),
        None,
    );
    assert_eq!(code, 200, "{started}");
    assert_eq!(started["data"]["status"]["status"], "RUNNING");
    samples.json(
        "POST",
        "/programs/{id}/restart",
        "/programs/web/restart?wait=true",
        None,
    );
    // Signals, by name and by number (CONT: the process carries on), and their refusals.
    let (code, signalled) = samples.json(
        "POST",
        "/programs/{id}/signal",
        "/programs/web/signal",
        Some(json!({ "signal": "SIGCONT" })),
    );
    assert_eq!(
        (code, signalled["data"]["signal"].as_str()),
        (200, Some("CONT")),
        "{signalled}"
    );
    let (code, signalled) = samples.json(
        "POST",
        "/programs/{id}/signal",
        &format!("/programs/{id}/signal"),
        Some(json!({ "signal": 18 })),
    );
    assert_eq!(code, 200, "{signalled}");
    for body in [
        json!({ "signal": "NOPE" }),
        json!({ "signal": 40 }),
        json!({}),
        json!({ "signal": "HUP", "to": "all" }),
    ] {
        let (code, refused) = samples.json(
            "POST",
            "/programs/{id}/signal",
            "/programs/web/signal",
            Some(body),
        );
        assert_eq!(code, 400, "{refused}");
    }
    let (code, _) = samples.json(
        "POST",
        "/programs/{id}/signal",
        "/programs/nope/signal",
        Some(json!({ "signal": "HUP" })),
    );
    assert_eq!(code, 404);
    samples.json(
        "POST",
        "/programs/{id}/stop",
        "/programs/web/stop?wait=false",
        None,
    );
    samples.json("POST", "/programs/{id}/stop", "/programs/web/stop", None);
    let (code, refused) = samples.json(
        "POST",
        "/programs/{id}/signal",
        "/programs/web/signal",
        Some(json!({ "signal": "HUP" })),
    );
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (409, Some("not_running")),
        "{refused}"
    );
    // A start that ends FATAL: 422 start_failed, its status (with last_stderr) in the details.
    let (code, _) = samples.json(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(json!({
            "name": "failing",
            "command": ["sh", "-c", "echo 'port in use' >&2; exit 3"],
            "startsecs": 1,
            "startretries": 0,
            "enabled": true,
        })),
    );
    assert_eq!(code, 201);
    let (code, failed) = samples.json(
        "POST",
        "/programs/{id}/start",
        "/programs/failing/start",
        None,
    );
    assert_eq!(
        (code, failed["error"]["code"].as_str()),
        (422, Some("start_failed")),
        "{failed}"
    );
    assert!(
        failed["error"]["details"]["status"]["last_stderr"]
            .as_str()
            .is_some_and(|text| text.contains("port in use")),
        "{failed}"
    );
    let (code, failed) = samples.json(
        "POST",
        "/programs/{id}/restart",
        "/programs/failing/restart",
        None,
    );
    assert_eq!(code, 422, "{failed}");
    let (_, status) = samples.json("GET", "/status/{id}", "/status/failing", None);
    assert_eq!(status["data"]["status"]["status"], "FATAL", "{status}");
    // An edit is a JSON merge patch: a key of the environment set to null is removed.
    let (code, edited) = samples.json(
        "POST",
        "/programs/edit/{id}",
        "/programs/edit/web",
        Some(json!({ "environment": { "PORT": null, "MODE": "prod" } })),
    );
    assert_eq!(code, 200, "{edited}");
    samples.json(
        "POST",
        "/programs/{id}/start",
        "/programs/web/start?wait=flase",
        None,
    );
    samples.json(
        "POST",
        "/programs/{id}/disable",
        "/programs/web/disable",
        None,
    );
    let (_, again) = samples.json(
        "POST",
        "/programs/{id}/disable",
        "/programs/web/disable?wait=false",
        None,
    );
    assert_eq!(again["data"]["changed"], false, "already disabled: {again}");
    samples.json(
        "POST",
        "/programs/{id}/enable",
        "/programs/nope/enable",
        None,
    );

    // Reads.
    samples.json("GET", "/status", "/status", None);
    samples.json("GET", "/status/{id}", "/status/probed", None);
    samples.json("GET", "/status/{id}", "/status/broken", None);
    samples.json("GET", "/status/{id}", "/status/404404", None);
    samples.json(
        "GET",
        "/programs/{id}/history",
        "/programs/web/history",
        None,
    );
    samples.json(
        "GET",
        "/programs/{id}/logs",
        "/programs/probed/logs?lines=5",
        None,
    );
    samples.json(
        "GET",
        "/programs/{id}/logs",
        "/programs/probed/logs?stream=stderr",
        None,
    );
    samples.json(
        "GET",
        "/programs/{id}/logs",
        "/programs/probed/logs?lines=-1",
        None,
    );
    samples.json("GET", "/programs/{id}/logs", "/programs/broken/logs", None);
    let (_, all) = samples.json(
        "GET",
        "/programs/{id}/logs",
        "/programs/probed/logs?stream=all",
        None,
    );
    assert!(all["data"]["lines"][0]["time"].is_string(), "{all}");
    let (_, merged) = samples.json("GET", "/logs", "/logs", None);
    assert!(
        merged["data"]["lines"]
            .as_array()
            .is_some_and(|lines| lines.iter().any(|line| line["program"] == "probed")),
        "{merged}"
    );
    samples.json("GET", "/logs", "/logs?programs=probed,web&lines=3", None);
    samples.json("GET", "/logs", "/logs?programs=nope", None);
    samples.json("GET", "/logs", "/logs?programs=broken", None);
    samples.json("GET", "/logs", "/logs?lines=many", None);
    for (template, concrete) in [
        ("/logs", "/logs?follow=maybe"),
        ("/programs/{id}/logs", "/programs/probed/logs?follow=maybe"),
    ] {
        let (code, refused) = samples.json("GET", template, concrete, None);
        assert_eq!(
            (code, refused["error"]["details"]["field"].as_str()),
            (400, Some("follow")),
            "{concrete}: {refused}"
        );
    }
    for (template, concrete) in [
        ("/programs/{id}/logs", "/programs/probed/logs?follow=true"),
        (
            "/programs/{id}/logs",
            "/programs/probed/logs?follow=true&stream=all",
        ),
        ("/logs", "/logs?follow=true"),
    ] {
        let streamed = daemon
            .client
            .request_stream("GET", &format!("{BASE}{concrete}"), &[])
            .expect("follow");
        samples.list.push(json!({
            "method": "get", "path": template, "status": streamed.status,
            "content_type": streamed.headers.iter().find(|(key, _)| key.eq_ignore_ascii_case("content-type")).map(|(_, value)| value.clone()).unwrap_or_default(),
            "body": null,
        }));
    }

    // Quick-start runs.
    let response = samples.call(
        "POST",
        "/quick-start",
        "/quick-start",
        Some(br#"{"command": ["sh", "-c", "echo out; echo err >&2"], "timeout_seconds": 30}"#),
        &[],
    );
    assert_eq!(response.status, 201, "{}", response.json());
    let run = response.json()["data"]["id"]
        .as_u64()
        .expect("a numeric id");
    assert_eq!(
        response.header("location"),
        Some(format!("{BASE}/quick-start/{run}/status").as_str())
    );
    wait_until(
        "the quick-start run ends",
        20,
        || daemon.get(&format!("/quick-start/{run}/status")).1["data"]["status"]["exit_code"] == 0,
        || daemon.log(),
    );
    samples.json("GET", "/quick-start", "/quick-start", None);
    samples.json(
        "GET",
        "/quick-start/{id}/status",
        &format!("/quick-start/{run}/status"),
        None,
    );
    samples.json(
        "GET",
        "/quick-start/{id}/status",
        &format!("/quick-start/quick-start-{run}/status"),
        None,
    );
    samples.json(
        "GET",
        "/quick-start/{id}/logs",
        &format!("/quick-start/{run}/logs"),
        None,
    );
    samples.json(
        "POST",
        "/quick-start/{id}/stop",
        &format!("/quick-start/{run}/stop"),
        None,
    );
    samples.json(
        "GET",
        "/quick-start/{id}/status",
        "/quick-start/999999/status",
        None,
    );
    samples.json(
        "POST",
        "/quick-start",
        "/quick-start",
        Some(json!({ "command": "true", "bogus": 1 })),
    );
    let response = samples.call(
        "POST",
        "/quick-start",
        "/quick-start",
        Some(br#"{"command": "sleep 1000"}"#),
        &[],
    );
    let long = response.json()["data"]["id"].as_u64().expect("id");
    samples.json(
        "POST",
        "/quick-start/{id}/stop",
        &format!("/quick-start/{long}/stop?wait=false"),
        None,
    );

    // Remove, and what no operation answers.
    let (code, removed) = samples.json(
        "POST",
        "/programs/remove/{id}",
        "/programs/remove/filed",
        None,
    );
    assert_eq!(code, 200, "{removed}");
    samples.json(
        "POST",
        "/programs/remove/{id}",
        "/programs/remove/filed",
        None,
    );
    // Once the programs that are not ready are gone, /ready answers 200.
    for name in ["dependent", "probed", "failing"] {
        let (code, removed) = samples.json(
            "POST",
            "/programs/remove/{id}",
            &format!("/programs/remove/{name}"),
            None,
        );
        assert_eq!(code, 200, "{removed}");
    }
    wait_until(
        "ready",
        20,
        || daemon.get("/ready").0 == 200,
        || daemon.log(),
    );
    samples.json("GET", "/ready", "/ready", None);
    let response = daemon
        .client
        .request("GET", &format!("{BASE}/no/such/route"), None, &[])
        .expect("request");
    assert_eq!(response.status, 404);
    samples.response_of("NotFound", &response);
    let response = daemon
        .client
        .request("DELETE", &format!("{BASE}/programs"), None, &[])
        .expect("request");
    assert_eq!(response.status, 405);
    samples.response_of("MethodNotAllowed", &response);
    let response = samples.call(
        "GET",
        "/status",
        "/status",
        None,
        &[("Origin", "http://evil.example")],
    );
    assert_eq!(response.status, 403);

    // The events seen meanwhile: config, state and health changes.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let events = events.join().expect("events");
    for kind in ["\"config\"", "\"state\"", "\"health\""] {
        assert!(
            events
                .iter()
                .any(|event| event.contains(&format!("\"type\":{kind}"))),
            "no {kind} event in {events:?}"
        );
    }
    for event in &events {
        samples.event(event);
    }
    // The stream itself (its content type was checked as it was read).
    samples.list.push(json!({
        "method": "get", "path": "/events", "status": 200,
        "content_type": "text/event-stream", "body": null,
    }));
    // The Prometheus text of /metrics: its content type is what the document says.
    let metrics = samples
        .client
        .request("GET", &format!("{BASE}/metrics"), None, &[])
        .expect("GET /metrics");
    assert_eq!(metrics.status, 200);
    samples.list.push(json!({
        "method": "get", "path": "/metrics", "status": 200,
        "content_type": metrics.header("content-type").unwrap_or(""), "body": null,
    }));
    assert!(samples.list.len() > 80, "{}", samples.list.len());
    samples.validate_every_operation(&daemon);
}

/// With tokens: the document declares bearer security, and the redacted views, the refusals
/// and the answers to each role match it.
#[test]
fn answers_to_tokens_match_the_document() {
    let folder = tempfile::tempdir().expect("tempdir");
    let tokens = folder.path().join("tokens.toml");
    fs::write(
        &tokens,
        "[[tokens]]\nname = \"grafana\"\nrole = \"read\"\ntoken = \"read-secret\"\n\n\
         [[tokens]]\nname = \"oncall\"\nrole = \"operate\"\ntoken = \"operate-secret\"\n\n\
         [[tokens]]\nname = \"deployer\"\nrole = \"admin\"\ntoken = \"admin-secret\"\n",
    )
    .expect("tokens");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&tokens, fs::Permissions::from_mode(0o600)).expect("chmod");
    let tokens = tokens.display().to_string();
    let mut daemon = TestDaemon::start_with(&["--tokens-file", &tokens], None);
    daemon.client.token = Some("admin-secret".to_string());
    let as_role = |token: Option<&str>| {
        Samples::new(Client::new(
            daemon.client.endpoint.clone(),
            token.map(str::to_string),
        ))
    };
    let mut admin = as_role(Some("admin-secret"));
    let (code, _) = admin.json(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(json!({ "name": "web", "command": "sleep 1000", "boot": true, "startsecs": 0, "environment": { "KEY": "secret" } })),
    );
    assert_eq!(code, 201);
    daemon.wait_state("web", "RUNNING");
    let (code, _) = admin.json(
        "POST",
        "/programs/add",
        "/programs/add",
        Some(json!({ "name": "crashy", "command": ["sh", "-c", "echo bad-thing >&2; exit 1"], "boot": true, "startsecs": 0, "autorestart": false })),
    );
    assert_eq!(code, 201);
    daemon.wait_status("crashy", "EXITED with its stderr", |status| {
        status["status"] == "EXITED"
            && status["last_stderr"]
                .as_str()
                .is_some_and(|text| text.contains("bad-thing"))
    });
    admin.json("GET", "/status/{id}", "/status/crashy", None);
    admin.json("GET", "/whoami", "/whoami", None);
    admin.json("GET", "/ready", "/ready", None);

    let mut read = as_role(Some("read-secret"));
    let (_, program) = read.json("GET", "/programs/{id}", "/programs/web", None);
    assert_eq!(
        program["data"]["program"]["environment"]["KEY"],
        "<redacted>"
    );
    assert!(program["data"]["program"].get("text").is_none());
    let (_, history) = read.json(
        "GET",
        "/programs/{id}/history",
        "/programs/web/history",
        None,
    );
    assert!(history["data"]["history"][0].get("diff").is_none());
    read.json("GET", "/programs", "/programs", None);
    read.json("GET", "/whoami", "/whoami", None);
    read.json("GET", "/ready", "/ready", None);
    let (code, refused) = read.json("POST", "/programs/{id}/stop", "/programs/web/stop", None);
    assert_eq!(
        (code, refused["error"]["code"].as_str()),
        (403, Some("forbidden"))
    );
    read.json("GET", "/programs/{id}/logs", "/programs/web/logs", None);
    // last_stderr is log content: null to a read token, in the list and in one status.
    let (_, one) = read.json("GET", "/status/{id}", "/status/crashy", None);
    assert_eq!(one["data"]["status"]["status"], "EXITED", "{one}");
    assert!(one["data"]["status"]["last_stderr"].is_null(), "{one}");
    let (_, list) = read.json("GET", "/status", "/status", None);
    assert!(
        list["data"]["statuses"]
            .as_array()
            .is_some_and(|all| all.iter().all(|status| status["last_stderr"].is_null())),
        "{list}"
    );
    let (code, refused) = read.json(
        "POST",
        "/programs/{id}/signal",
        "/programs/web/signal",
        Some(json!({ "signal": "CONT" })),
    );
    assert_eq!(
        (code, refused["error"]["details"]["needed"].as_str()),
        (403, Some("operate")),
        "{refused}"
    );

    let mut operate = as_role(Some("operate-secret"));
    operate.json(
        "POST",
        "/programs/{id}/restart",
        "/programs/web/restart",
        None,
    );
    operate.json("GET", "/programs/{id}/logs", "/programs/web/logs", None);
    let (code, signalled) = operate.json(
        "POST",
        "/programs/{id}/signal",
        "/programs/web/signal",
        Some(json!({ "signal": "CONT" })),
    );
    assert_eq!(code, 200, "{signalled}");
    let (_, one) = operate.json("GET", "/status/{id}", "/status/crashy", None);
    assert!(one["data"]["status"]["last_stderr"].is_string(), "{one}");
    operate.json(
        "POST",
        "/programs/remove/{id}",
        "/programs/remove/web",
        None,
    );

    let mut nobody = as_role(None);
    let (code, _) = nobody.json("GET", "/status", "/status", None);
    assert_eq!(code, 401);
    nobody.json("GET", "/health", "/health", None);
    nobody.json("GET", "/whoami", "/whoami", None);
    nobody.json("GET", "/ready", "/ready", None);
    let mut wrong = as_role(Some("wrong"));
    let (code, _) = wrong.json("GET", "/programs", "/programs", None);
    assert_eq!(code, 401);
    wrong.json("GET", "/health", "/health", None);

    let (_, document) = daemon.get("/openapi.json");
    assert_eq!(document["openapi"], "3.1.0");
    assert!(document["components"]["securitySchemes"]["bearer"].is_object());
    assert_eq!(
        document["paths"][format!("{BASE}/status")]["get"]["security"],
        json!([{ "bearer": [] }])
    );
    assert!(
        document["paths"][format!("{BASE}/health")]["get"]
            .get("security")
            .is_none()
    );

    let mut all = admin;
    for samples in [read, operate, nobody, wrong] {
        all.list.extend(samples.list);
    }
    all.validate(&daemon);
}

/// Without tokens the document declares no security at all.
#[test]
fn without_tokens_the_document_declares_no_security() {
    let daemon = TestDaemon::start();
    let (_, document) = daemon.get("/openapi.json");
    assert!(document.get("security").is_none());
    assert!(document["components"].get("securitySchemes").is_none());
    for (path, operations) in document["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            assert!(operation.get("security").is_none(), "{method} {path}");
            assert!(operation["x-role"].is_string(), "{method} {path}");
        }
    }
}
