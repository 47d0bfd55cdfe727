//! Who may do what (SPEC §10, issue 12): each point as the real daemon shows it. Browsers
//! cannot drive the API, other local users are not root through it, tokens have roles, nothing
//! of the daemon leaks to programs, no file content comes through a side door, log paths cannot
//! be turned against the daemon, created files are not world-readable, `user` is switched
//! before `directory`, and quick-start runs never share output.
//!
//! Several tests switch users (`user = "nobody"`, a client as uid 65534): they need root, as
//! CI has, and say so when they do not have it.

#![allow(clippy::disallowed_methods)] // tests start the binary under test

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hoody_daemon::cli::client::{Client, Endpoint};
use serde_json::{Value, json};

use crate::support::{TestDaemon, binary, is_root, unique, wait_until};

fn need_root(what: &str) {
    assert!(
        is_root(),
        "{what} needs root (it switches users, as CI does as root): run the suite as root"
    );
}

/// Sends `head` (request line and headers, no final blank line) and `body` over a fresh TCP
/// connection, and reads the answer: status and JSON body.
fn raw(daemon: &TestDaemon, head: &str, body: &str) -> (u16, Value) {
    let Endpoint::Tcp(address) = &daemon.client.endpoint else {
        panic!("the daemon listens on TCP");
    };
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let request = format!(
        "{head}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {text:?}\n{}", daemon.log()));
    let json = text
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| serde_json::from_str(body).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

/// The daemon's whole log (the harness's `log()` is its tail, for failure messages).
fn full_log(daemon: &TestDaemon) -> String {
    fs::read_to_string(daemon.root.path().join("daemon.log")).unwrap_or_default()
}

fn address(daemon: &TestDaemon) -> String {
    match &daemon.client.endpoint {
        Endpoint::Tcp(address) => address.clone(),
        Endpoint::Unix(path) => panic!("TCP expected, not {}", path.display()),
    }
}

#[test]
fn browser_shaped_requests_are_refused_and_the_seed_curl_flow_still_works() {
    let daemon = TestDaemon::start();
    let host = address(&daemon);
    let add = "POST /api/v1/daemon/programs/add HTTP/1.1";
    let body = r#"{"name": "x", "command": "/usr/bin/sleep 5"}"#;

    // A cross-origin "simple" POST: text/plain, a foreign Origin.
    let (code, answer) = raw(
        &daemon,
        &format!(
            "{add}\r\nHost: {host}\r\nOrigin: http://evil.example\r\nContent-Type: text/plain"
        ),
        body,
    );
    assert_eq!(code, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden_origin", "{answer}");
    let (code, answer) = raw(
        &daemon,
        &format!("{add}\r\nHost: {host}\r\nContent-Type: text/plain"),
        body,
    );
    assert_eq!(code, 415, "{answer}");
    assert_eq!(
        answer["error"]["code"], "unsupported_media_type",
        "{answer}"
    );
    let (code, answer) = raw(&daemon, &format!("{add}\r\nHost: {host}"), body);
    assert_eq!(code, 415, "a body without a Content-Type: {answer}");
    // DNS rebinding: the page's own origin, a name that now points at 127.0.0.1.
    let (code, answer) = raw(
        &daemon,
        &format!(
            "{add}\r\nHost: evil.example:{}\r\nOrigin: http://evil.example:{}\r\nContent-Type: application/json",
            host.rsplit(':').next().unwrap_or(""),
            host.rsplit(':').next().unwrap_or("")
        ),
        body,
    );
    assert_eq!(code, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "forbidden_host", "{answer}");
    let (code, answer) = raw(
        &daemon,
        "GET /api/v1/daemon/status HTTP/1.1\r\nHost: evil.example",
        "",
    );
    assert_eq!(
        (code, &answer["error"]["code"]),
        (403, &json!("forbidden_host"))
    );
    assert!(
        !daemon.programs.join("x.toml").exists(),
        "nothing was written"
    );

    // The same request as the CLI and the README's curl send it works; the daemon's own
    // origin, localhost and [::1] are fine.
    let (code, answer) = raw(
        &daemon,
        &format!(
            "{add}\r\nHost: {host}\r\nOrigin: http://{host}\r\nContent-Type: application/json; charset=utf-8"
        ),
        body,
    );
    assert_eq!(code, 201, "{answer}");
    for host in ["localhost:7575", "[::1]:7575", "127.0.0.1"] {
        let (code, answer) = raw(
            &daemon,
            &format!("GET /api/v1/daemon/status/x HTTP/1.1\r\nHost: {host}"),
            "",
        );
        assert_eq!(code, 200, "{host}: {answer}");
    }
    // The seed: `curl -X POST …/programs/1/enable`: no body, no Content-Type.
    fs::write(
        daemon.programs.join("web.toml"),
        "command = \"sleep 1000\"\nenabled = false\n",
    )
    .expect("write");
    daemon.wait_status("web", "known", |status| status["name"] == "web");
    for action in ["enable", "start"] {
        let (code, answer) = raw(
            &daemon,
            &format!(
                "POST /api/v1/daemon/programs/web/{action} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*"
            ),
            "",
        );
        assert_eq!(code, 200, "{action}: {answer}");
    }
    daemon.wait_state("web", "RUNNING");
}

/// A command line run as uid 65534 (nobody): the client is a child that switches user before
/// it connects.
fn as_nobody(url: &str, args: &[&str]) -> std::process::Output {
    Command::new(binary())
        .arg("--url")
        .arg(url)
        .args(args)
        .env_remove("HOODY_DAEMON_URL")
        .env_remove("HOODY_DAEMON_TOKEN")
        .env("NO_COLOR", "1")
        .uid(65534)
        .gid(65534)
        .stdin(Stdio::null())
        .output()
        .expect("run the client as nobody")
}

#[test]
fn another_local_user_is_refused_on_tcp_and_on_the_unix_socket() {
    need_root("a client as uid 65534");
    let daemon = TestDaemon::start();
    let open = daemon.root.path().join("open");
    fs::create_dir(&open).expect("mkdir");
    fs::set_permissions(daemon.root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let marker = open.join(format!("ran-{}", unique()));
    let marker_text = marker.display().to_string();
    let script = format!("id -u > {marker_text}");
    let output = as_nobody(
        &daemon.url(),
        &["quick-start", "run", "--", "sh", "-c", &script],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "nobody's quick-start ran: {stderr}"
    );
    assert!(
        stderr.contains("uid 65534") && stderr.contains("--tokens-file"),
        "the refusal names the token options: {stderr}"
    );
    let output = as_nobody(&daemon.url(), &["status"]);
    assert!(!output.status.success());
    // The daemon's own user (root here) is served.
    let output = daemon.cli(&["status"]);
    assert!(output.status.success(), "{output:?}");

    // The unix socket, made reachable for the test: SO_PEERCRED decides.
    let socket = daemon.root.path().join("api.sock");
    let root = tempfile::tempdir().expect("tempdir");
    fs::create_dir(root.path().join("programs.d")).expect("mkdir");
    let listen = format!("unix:{}", socket.display());
    let unix = TestDaemon::start_in(root, &["--listen", &listen], None);
    wait_until("the socket", 20, || socket.exists(), || unix.log());
    fs::set_permissions(&socket, fs::Permissions::from_mode(0o666)).expect("chmod socket");
    let output = as_nobody(&listen, &["quick-start", "run", "--", "sh", "-c", &script]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "nobody's quick-start ran: {stderr}"
    );
    assert!(stderr.contains("uid 65534"), "{stderr}");
    assert!(!marker.exists(), "a command of nobody's ran");
    let whoami = Client::new(Endpoint::Unix(socket.clone()), None)
        .request("GET", "/api/v1/daemon/whoami", None, &[])
        .expect("whoami")
        .json();
    assert_eq!(
        whoami["data"],
        json!({"role": "admin", "token": null, "auth": "peer"})
    );
}

/// Three tokens, one per role; the admin's given as its digest, the others as plain secrets.
fn tokens_file(folder: &Path, mode: u32) -> std::path::PathBuf {
    let path = folder.join("tokens.toml");
    fs::write(
        &path,
        format!(
            "[[tokens]]\nname = \"grafana\"\nrole = \"read\"\ntoken = \"read-secret\"\n\n\
             [[tokens]]\nname = \"oncall\"\nrole = \"operate\"\ntoken = \"operate-secret\"\n\n\
             [[tokens]]\nname = \"deployer\"\nrole = \"admin\"\nsha256 = \"{}\"\n",
            admin_digest()
        ),
    )
    .expect("tokens file");
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// sha256 of "admin-secret", as `printf %s admin-secret | sha256sum` prints it.
fn admin_digest() -> String {
    let output = Command::new("sh")
        .arg("-c")
        .arg("printf %s admin-secret | sha256sum")
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn each_role_is_allowed_and_refused_as_the_spec_says() {
    let folder = tempfile::tempdir().expect("tempdir");
    let path = tokens_file(folder.path(), 0o600);
    assert_eq!(admin_digest().len(), 64, "sha256sum is needed");
    let tokens = path.display().to_string();
    let daemon = TestDaemon::start_with(&["--tokens-file", &tokens], None);
    let client = |token: Option<&str>| {
        Client::new(daemon.client.endpoint.clone(), token.map(str::to_string))
    };
    let call = |token: Option<&str>, method: &str, path: &str, body: Option<Value>| {
        let response = client(token)
            .request(method, &format!("/api/v1/daemon{path}"), body.as_ref(), &[])
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        (response.status, response.json())
    };
    let admin = Some("admin-secret");
    let operate = Some("operate-secret");
    let read = Some("read-secret");

    // admin creates; the audit trail and the daemon's log name the token.
    let (code, answer) = call(
        admin,
        "POST",
        "/programs/add",
        Some(
            json!({"name": "web", "command": "sleep 1000", "environment": {"API_KEY": "ENV-VALUE-7"}}),
        ),
    );
    assert_eq!(code, 201, "{answer}");
    let (code, answer) = call(admin, "POST", "/programs/web/start", None);
    assert_eq!(code, 200, "{answer}");
    assert_eq!(answer["data"]["status"]["status"], "RUNNING", "{answer}");

    for (token, role, name) in [
        (read, "read", "grafana"),
        (operate, "operate", "oncall"),
        (admin, "admin", "deployer"),
    ] {
        let (code, answer) = call(token, "GET", "/whoami", None);
        assert_eq!(code, 200);
        assert_eq!(
            answer["data"],
            json!({"role": role, "token": name, "auth": "token"})
        );
        for path in [
            "/status",
            "/status/web",
            "/programs",
            "/programs/web",
            "/quick-start",
        ] {
            let (code, answer) = call(token, "GET", path, None);
            assert_eq!(code, 200, "{role} GET {path}: {answer}");
        }
        let (_, program) = call(token, "GET", "/programs/web", None);
        let (_, history) = call(token, "GET", "/programs/web/history", None);
        let program = &program["data"]["program"];
        let change = &history["data"]["history"][0];
        assert_eq!(change["by"], "deployer", "{history}");
        if role == "admin" {
            assert_eq!(program["environment"]["API_KEY"], "ENV-VALUE-7");
            assert!(
                program["text"]
                    .as_str()
                    .is_some_and(|text| text.contains("ENV-VALUE-7"))
            );
            assert!(
                change["diff"]
                    .as_str()
                    .is_some_and(|diff| diff.contains("ENV-VALUE-7"))
            );
        } else {
            assert_eq!(program["environment"]["API_KEY"], "<redacted>", "{role}");
            assert!(program.get("text").is_none(), "{role}: {program}");
            assert!(change.get("diff").is_none(), "{role}: {change}");
            for path in ["/programs", "/programs/web", "/programs/web/history"] {
                let (_, answer) = call(token, "GET", path, None);
                assert!(
                    !answer.to_string().contains("ENV-VALUE-7"),
                    "{role} {path}: {answer}"
                );
            }
        }
    }

    // read: no logs, no control, no writes; each refusal names the role needed.
    for (method, path, needed) in [
        ("GET", "/programs/web/logs", "operate"),
        ("POST", "/programs/web/restart", "operate"),
        ("POST", "/programs/web/stop", "operate"),
        ("POST", "/programs/web/disable", "admin"),
    ] {
        let (code, answer) = call(read, method, path, None);
        assert_eq!(code, 403, "read {method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "forbidden");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|message| message.contains(needed)),
            "{answer}"
        );
    }
    // operate: logs and control, but no writes and no quick-start.
    let (code, answer) = call(operate, "GET", "/programs/web/logs", None);
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = call(operate, "POST", "/programs/web/restart", None);
    assert_eq!(code, 200, "{answer}");
    for (method, path, body) in [
        (
            "POST",
            "/programs/add",
            Some(json!({"name": "x", "command": "true"})),
        ),
        ("POST", "/programs/edit/web", Some(json!({"priority": 5}))),
        ("POST", "/programs/web/disable", None),
        ("POST", "/programs/remove/web", None),
        ("POST", "/quick-start", Some(json!({"command": "true"}))),
    ] {
        let (code, answer) = call(operate, method, path, body);
        assert_eq!(code, 403, "operate {method} {path}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|m| m.contains("admin")),
            "{answer}"
        );
    }
    // No token, a wrong token: 401 (but /health and /whoami answer).
    for token in [None, Some("guess")] {
        let (code, answer) = call(token, "GET", "/status", None);
        assert_eq!(code, 401, "{answer}");
        let (code, _) = call(token, "GET", "/health", None);
        assert_eq!(code, 200);
    }
    let (_, answer) = call(None, "GET", "/whoami", None);
    assert_eq!(
        answer["data"],
        json!({"role": null, "token": null, "auth": "none"})
    );
    // admin: everything.
    let (code, answer) = call(
        admin,
        "POST",
        "/programs/edit/web",
        Some(json!({"priority": 5})),
    );
    assert_eq!(code, 200, "{answer}");
    let log = full_log(&daemon);
    assert!(
        log.contains("by=\"deployer\""),
        "the daemon's log names the token\n{log}"
    );
    assert!(
        !log.contains("ENV-VALUE-7"),
        "an environment value in the daemon's log\n{log}"
    );
    assert!(!log.contains("admin-secret") && !log.contains("read-secret"));
}

#[test]
fn a_tokens_file_others_can_read_is_refused_at_start() {
    let folder = tempfile::tempdir().expect("tempdir");
    let path = tokens_file(folder.path(), 0o644);
    let programs = folder.path().join("programs.d");
    fs::create_dir(&programs).expect("mkdir");
    let output = Command::new(binary())
        .arg("serve")
        .arg("--programs-dir")
        .arg(&programs)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--tokens-file")
        .arg(&path)
        .env_remove("HOODY_DAEMON_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("serve");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&path.display().to_string()) && stderr.contains("mode 0644"),
        "{stderr}"
    );
}

#[test]
fn the_daemons_variables_are_not_in_a_programs_environment() {
    need_root("a user = \"nobody\" program");
    let daemon = TestDaemon::start_with(&[], Some("token-that-must-not-leak"));
    daemon.put(
        "env.toml",
        "command = \"sleep 1000\"\nboot = true\nuser = \"nobody\"\nstartsecs = 0\n\n[environment]\nOWN = \"mine\"\n",
    );
    let status = daemon.wait_state("env", "RUNNING");
    let pid = status["pid"].as_u64().expect("pid");
    let environ = fs::read(format!("/proc/{pid}/environ")).expect("environ");
    let variables: Vec<String> = environ
        .split(|byte| *byte == 0)
        .map(|variable| String::from_utf8_lossy(variable).into_owned())
        .collect();
    for variable in &variables {
        assert!(
            !variable.starts_with("HOODY_DAEMON_TOKEN")
                && !variable.starts_with("HOODY_DAEMON_LOG"),
            "{variable} reached the program: {variables:?}"
        );
        assert!(
            !variable.contains("token-that-must-not-leak"),
            "{variables:?}"
        );
    }
    assert!(variables.iter().any(|variable| variable == "OWN=mine"));
    assert!(
        variables
            .iter()
            .any(|variable| variable.starts_with("HOODY_DAEMON_STATE_DIR=")),
        "the crash-recovery mark stays: {variables:?}"
    );
}

#[test]
fn a_planted_log_link_leaves_the_victim_unchanged() {
    need_root("a user = \"nobody\" program");
    let daemon = TestDaemon::start();
    let shared = daemon.root.path().join("shared-logs");
    fs::create_dir(&shared).expect("mkdir");
    fs::set_permissions(daemon.root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let victim = daemon.root.path().join("victim");
    fs::write(&victim, "VICTIM\n").expect("victim");
    fs::set_permissions(&victim, fs::Permissions::from_mode(0o600)).expect("chmod");
    for (name, maxbytes) in [("direct", "0"), ("captured", "\"1MB\"")] {
        let link = shared.join(format!("{name}.log"));
        std::os::unix::fs::symlink(&victim, &link).expect("plant the link");
        daemon.put(
            &format!("{name}.toml"),
            &format!(
                "command = [\"sh\", \"-c\", \"echo PWNED; sleep 1000\"]\nboot = true\nuser = \"nobody\"\nstdout_logfile = \"{}\"\nstdout_logfile_maxbytes = {maxbytes}\n",
                link.display()
            ),
        );
        let status = daemon.wait_state(name, "FATAL");
        let error = status["last_error"].as_str().unwrap_or_default();
        assert!(
            error.contains("symbolic link") && error.contains(&link.display().to_string()),
            "{name}: {status}"
        );
    }
    // A link the daemon could not see as one (a hard link would need the victim's owner:
    // protected_hardlinks), or a file only root may write: opened as nobody, refused.
    let root_only = shared.join("root-only.log");
    fs::write(&root_only, "ROOT\n").expect("root-only");
    fs::set_permissions(&root_only, fs::Permissions::from_mode(0o600)).expect("chmod");
    daemon.put(
        "rootonly.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"echo PWNED; sleep 1000\"]\nboot = true\nuser = \"nobody\"\nstdout_logfile = \"{}\"\nstdout_logfile_maxbytes = 0\n",
            root_only.display()
        ),
    );
    let status = daemon.wait_state("rootonly", "FATAL");
    assert!(
        status["last_error"]
            .as_str()
            .is_some_and(|error| error.contains("Permission denied")),
        "{status}"
    );
    assert_eq!(fs::read_to_string(&victim).expect("victim"), "VICTIM\n");
    assert_eq!(fs::read_to_string(&root_only).expect("root-only"), "ROOT\n");
    // A new log in the shared folder is created as nobody, 0640 at most.
    let fresh = shared.join("fresh.log");
    daemon.put(
        "fresh.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"echo hello; sleep 1000\"]\nboot = true\nuser = \"nobody\"\nstdout_logfile = \"{}\"\n",
            fresh.display()
        ),
    );
    daemon.wait_state("fresh", "RUNNING");
    wait_until(
        "the fresh log",
        20,
        || fs::read_to_string(&fresh).is_ok_and(|text| text.contains("hello")),
        || daemon.log(),
    );
    let metadata = fs::metadata(&fresh).expect("fresh");
    assert_eq!(metadata.uid(), 65534, "created as nobody");
    assert_eq!(metadata.mode() & 0o027, 0, "mode {:o}", metadata.mode());
}

#[test]
fn a_log_path_inside_programs_d_or_the_state_folder_is_a_validation_error() {
    let daemon = TestDaemon::start();
    for (field, path) in [
        ("stdout_logfile", daemon.programs.join("evil.toml")),
        ("stderr_logfile", daemon.state.join("ids.json")),
        ("stdout_logfile", daemon.programs.join("sub/../x.toml")),
    ] {
        let (code, answer) = daemon.post(
            "/programs/add",
            Some(json!({"name": "logger", "command": "true", field: path.display().to_string()})),
        );
        assert_eq!(code, 400, "{answer}");
        assert_eq!(answer["error"]["details"][0]["field"], field, "{answer}");
        assert!(
            answer["message"]
                .as_str()
                .is_some_and(|message| message.contains("inside")),
            "{answer}"
        );
    }
    assert!(!daemon.programs.join("logger.toml").exists());
    // The same in a file: a config error, and nothing runs.
    let target = daemon.programs.join("out.toml");
    daemon.put(
        "writer.toml",
        &format!(
            "command = \"true\"\nstdout_logfile = \"{}\"\n",
            target.display()
        ),
    );
    let status = daemon.wait_status("writer", "a config error", |status| {
        !status["config_error"].is_null()
    });
    assert!(
        status["config_error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("stdout_logfile") && message.contains("inside")),
        "{status}"
    );
    assert!(!target.exists());
    // And `validate` says so too.
    let output = crate::support::run(&["validate", &daemon.programs.display().to_string()]);
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("stdout_logfile"));
}

#[test]
fn a_link_to_a_secret_file_shows_its_error_never_its_content() {
    let daemon = TestDaemon::start();
    let secret = daemon.root.path().join("shadow");
    fs::write(
        &secret,
        "root:$6$SHADOW-SECRET-HASH:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    )
    .expect("secret");
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::symlink(&secret, daemon.programs.join("shadow.toml")).expect("link");
    std::os::unix::fs::symlink(&secret, daemon.programs.join("shadowy.yaml")).expect("link");
    let pid = daemon.pid().expect("pid");
    std::os::unix::fs::symlink(
        format!("/proc/{pid}/environ"),
        daemon.programs.join("environ.toml"),
    )
    .expect("link");
    for name in ["shadow", "shadowy", "environ"] {
        daemon.wait_status(name, "a config error", |status| {
            !status["config_error"].is_null()
        });
    }
    let (_, list) = daemon.get("/programs");
    let (_, history) = daemon.get("/programs/shadow/history");
    for program in list["data"]["programs"].as_array().expect("programs") {
        assert!(program["text"].is_null(), "{program}");
    }
    for shown in [list.to_string(), history.to_string(), full_log(&daemon)] {
        assert!(!shown.contains("SHADOW-SECRET-HASH"), "{shown}");
        assert!(
            !shown.contains("HOODY_DAEMON_LOG=debug"),
            "the daemon's environment: {shown}"
        );
    }

    // Environment values: never in the daemon's log; the admin's history keeps real diffs.
    daemon.put(
        "keys.toml",
        "command = \"sleep 1000\"\nboot = true\n\n[environment]\nKEY = \"ENV-SECRET-1\"\n",
    );
    daemon.wait_state("keys", "RUNNING");
    let (code, answer) = daemon.post(
        "/programs/edit/keys",
        Some(json!({"environment": {"KEY": "ENV-SECRET-2"}})),
    );
    assert_eq!(code, 200, "{answer}");
    let (_, history) = daemon.get("/programs/keys/history");
    assert!(history.to_string().contains("ENV-SECRET-2"), "{history}");
    let log = full_log(&daemon);
    assert!(!log.contains("ENV-SECRET"), "{log}");
    assert!(log.contains("<redacted>"), "{log}");
}

#[test]
fn user_is_switched_before_the_directory_is_entered() {
    need_root("a user = \"nobody\" program");
    let daemon = TestDaemon::start();
    let folder = daemon.root.path().join("root-only");
    fs::create_dir(&folder).expect("mkdir");
    fs::set_permissions(&folder, fs::Permissions::from_mode(0o700)).expect("chmod");
    fs::set_permissions(daemon.root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    // Where the command would leave its mark, had it run: a folder anyone may write.
    let open = daemon.root.path().join("open");
    fs::create_dir(&open).expect("mkdir");
    fs::set_permissions(&open, fs::Permissions::from_mode(0o1777)).expect("chmod");
    let marker = open.join("ran");
    daemon.put(
        "inside.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"touch {}\"]\nboot = true\nuser = \"nobody\"\ndirectory = \"{}\"\n",
            marker.display(),
            folder.display()
        ),
    );
    let status = daemon.wait_state("inside", "FATAL");
    let error = status["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&folder.display().to_string()) && error.contains("nobody"),
        "{status}"
    );
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn a_quick_start_after_a_restart_shows_only_its_own_output() {
    let mut daemon = TestDaemon::start();
    let run = |daemon: &TestDaemon, text: &str| {
        let output = daemon.cli(&["quick-start", "run", "--wait", "--", "echo", text]);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let first = run(&daemon, "FIRST-RUN-SECRET");
    assert!(first.contains("FIRST-RUN-SECRET"), "{first}");
    let (_, list) = daemon.get("/quick-start");
    let first_id = list["data"]["programs"][0]["id"].as_u64().expect("id");
    let first_log = daemon
        .logs
        .join(format!("quick-start/{first_id}.stdout.log"));
    assert!(first_log.exists());
    daemon.terminate();
    daemon.restart();
    assert!(!first_log.exists(), "a dropped run's log is deleted");
    let second = run(&daemon, "second");
    assert!(second.contains("second"), "{second}");
    assert!(!second.contains("FIRST-RUN-SECRET"), "{second}");
    let (_, list) = daemon.get("/quick-start");
    let second_id = list["data"]["programs"][0]["id"].as_u64().expect("id");
    assert!(second_id > first_id, "ids are unique across restarts");
    // Names are ids too.
    let (code, answer) = daemon.get(&format!("/quick-start/quick-start-{second_id}/status"));
    assert_eq!(code, 200, "{answer}");
    let (code, answer) = daemon.get(&format!("/quick-start/quick-start-{second_id}/logs"));
    assert_eq!(code, 200, "{answer}");
    assert!(
        answer["data"]["stdout"]
            .as_str()
            .is_some_and(|text| text.contains("second"))
    );
}

#[test]
fn files_the_daemon_creates_are_not_world_readable() {
    let daemon = TestDaemon::start();
    let mode = |path: &Path| fs::metadata(path).expect("stat").mode() & 0o777;
    let (code, answer) = daemon.post(
        "/programs/add",
        Some(json!({"name": "web", "command": "sh -c 'echo out; sleep 1000'", "startsecs": 0, "boot": true})),
    );
    assert_eq!(code, 201, "{answer}");
    assert_eq!(mode(&daemon.programs.join("web.toml")), 0o600);
    assert_eq!(
        mode(&daemon.state) & 0o077,
        0,
        "state folder {:o}",
        mode(&daemon.state)
    );
    for file in fs::read_dir(&daemon.state).expect("state").flatten() {
        let path = file.path();
        match fs::metadata(&path) {
            Ok(metadata) => assert_eq!(metadata.mode() & 0o077, 0, "{}", path.display()),
            // The temp file of a state write still in flight when the folder was listed (the
            // daemon saves its state after answering), renamed over its file since: it was
            // made 0600 like the file it became.
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => panic!("stat {}: {error}", path.display()),
        }
    }
    daemon.wait_state("web", "RUNNING");
    let log = daemon.logs.join("web.stdout.log");
    wait_until("the log", 20, || log.exists(), || daemon.log());
    assert_eq!(mode(&log) & 0o027, 0, "log {:o}", mode(&log));
    assert_eq!(
        mode(&daemon.logs) & 0o002,
        0,
        "log folder {:o}",
        mode(&daemon.logs)
    );
    // A file being replaced keeps its mode.
    let path = daemon.programs.join("web.toml");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
    let (code, answer) = daemon.post("/programs/edit/web", Some(json!({"priority": 3})));
    assert_eq!(code, 200, "{answer}");
    assert_eq!(mode(&path), 0o640);
}
