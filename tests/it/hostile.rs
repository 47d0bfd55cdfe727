//! Issue 8: hostile input. Files, fields and HTTP requests built to hurt; every one must end in
//! a clear error for that input alone (a `config_error`, or a 4xx in the envelope), never a 5xx,
//! a hang or a crash, and the daemon must still answer /health afterwards.
//!
//! Parser-level cases (each field's bad values, deep nesting and alias bombs through
//! `ProgramSpec::from_text`) are in src/spec/tests.rs, and the basic envelope cases in
//! tests/it/api.rs; here they go through the real folder and the real socket.

use std::ffi::OsStr;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Random, TestDaemon, alive, cmdline, unique, wait_until};

/// One raw HTTP exchange on its own connection: the bytes go out as given, the answer is read
/// until the server closes. Returns the status and the body parsed as JSON (Null if not JSON).
fn exchange(daemon: &TestDaemon, bytes: &[u8]) -> (u16, Value) {
    let address = daemon.url().trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    // The server may answer (413, 431) and close before it has read everything.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    parse_answer(&answer)
}

fn parse_answer(answer: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or("");
    // Content-Length bodies only (the daemon does not chunk JSON answers).
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn request(method: &str, path: &str, headers: impl AsRef<[u8]>, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(headers.as_ref());
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

fn is_envelope(status: u16, body: &Value) -> bool {
    body["statusCode"] == status
        && body["message"].as_str().is_some_and(|m| !m.is_empty())
        && body["error"]["code"].is_string()
}

fn health_ok(daemon: &TestDaemon) -> bool {
    let (code, body) = daemon.get("/health");
    code == 200 && body["data"]["status"] == "ok"
}

/// Writes a file whose name is raw bytes (which may not be UTF-8).
fn write_named(dir: &std::path::Path, name: &[u8], text: &[u8]) {
    fs::write(dir.join(OsStr::from_bytes(name)), text).expect("write hostile file");
}

#[test]
fn hostile_files_are_errors_of_their_own_and_the_daemon_carries_on() {
    let daemon = TestDaemon::start();
    let good_line = format!("sleep {}", unique());
    daemon.put(
        "good.toml",
        &format!("command = \"{good_line}\"\nboot = true\nstartsecs = 0\n"),
    );
    let good_pid = daemon.wait_state("good", "RUNNING")["pid"]
        .as_u64()
        .expect("pid") as u32;
    let dir = &daemon.programs;
    let mut random = Random::new("hostile_files");

    // Contents. Each of these is a program file whose program must show a config_error.
    let mut big = "command = \"sleep 1\"\n".to_string();
    while big.len() <= 1024 * 1024 {
        big.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    fs::write(dir.join("big.toml"), &big).expect("big");
    let garbage: Vec<u8> = (0..8192).map(|_| random.next() as u8).collect();
    fs::write(dir.join("garbage.toml"), &garbage).expect("garbage");
    fs::write(dir.join("garbage2.yaml"), &garbage).expect("garbage");
    fs::write(dir.join("badutf8.yaml"), b"command: \"sleep \xff\xfe\"\n").expect("utf8");
    fs::write(
        dir.join("deeptable.toml"),
        format!(
            "command = \"sleep 1\"\nx-deep = {}1{}\n",
            "{a = ".repeat(20_000),
            "}".repeat(20_000)
        ),
    )
    .expect("deep");
    fs::write(
        dir.join("dotted.toml"),
        format!(
            "command = \"sleep 1\"\n{} = 1\n",
            vec!["a"; 20_000].join(".")
        ),
    )
    .expect("dotted");
    fs::write(
        dir.join("deepblock.yaml"),
        format!("command: sleep 1\nx-deep: {}1\n", "- ".repeat(50_000)),
    )
    .expect("deep yaml");
    let mut bomb = String::from(
        "x-a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..12u8 {
        let (previous, name) = ((b'a' + level - 1) as char, (b'a' + level) as char);
        bomb.push_str(&format!(
            "x-{name}: &{name} [*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous},*{previous}]\n"
        ));
    }
    bomb.push_str("command: sleep 1\nenvironment: *l\n");
    fs::write(dir.join("bomb.yaml"), &bomb).expect("bomb");
    fs::write(dir.join("empty.toml"), b"").expect("empty");
    fs::write(dir.join("nul.toml"), b"command = \"sleep 1\"\0\n").expect("nul");
    // Links: a loop, a dangling one, and ones that lead out of the folder.
    symlink("loop2.toml", dir.join("loop1.toml")).expect("link");
    symlink("loop1.toml", dir.join("loop2.toml")).expect("link");
    symlink("nowhere.toml", dir.join("dangling.toml")).expect("link");
    symlink("/dev/zero", dir.join("zero.toml")).expect("link");
    symlink("/etc/passwd", dir.join("passwd.toml")).expect("link");
    symlink("/proc/self/mem", dir.join("mem.yaml")).expect("link");
    // Names that are not program names (each is listed with its error, never run).
    let bad_names: [&[u8]; 7] = [
        b"bad\x01name.toml",
        b"new\nline.toml",
        b"-dash.toml",
        b"sp ace.toml",
        b"\xff\xfe.toml",
        b"tab\tname.yaml",
        b"nameeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.toml",
    ];
    for name in bad_names {
        write_named(dir, name, b"command = \"sleep 1\"\nboot = true\n");
    }
    // Not program files at all: ignored.
    fs::create_dir(dir.join("folder.toml")).expect("folder");
    symlink("..", dir.join("up.toml")).expect("link to the parent");
    write_named(dir, b"..toml", b"command = \"sleep 1\"\n");

    let expect_error = [
        "big",
        "garbage",
        "garbage2",
        "badutf8",
        "deeptable",
        "dotted",
        "deepblock",
        "bomb",
        "empty",
        "nul",
        "loop1",
        "loop2",
        "dangling",
        "zero",
        "passwd",
        "mem",
    ];
    let mut programs = Value::Null;
    wait_until(
        "every hostile file to be listed with its error",
        60,
        || {
            let (code, body) = daemon.get("/programs");
            programs = body["data"]["programs"].clone();
            code == 200
                && expect_error.iter().all(|name| {
                    programs.as_array().is_some_and(|list| {
                        list.iter()
                            .any(|p| p["name"] == *name && !p["config_error"].is_null())
                    })
                })
        },
        || format!("{:#}\n{}", daemon.get("/programs").1, daemon.log()),
    );
    let list = programs.as_array().expect("list");
    for program in list {
        let name = program["name"].as_str().unwrap_or("");
        if name == "good" {
            assert!(program["config_error"].is_null(), "{program}");
            continue;
        }
        // Whatever else is listed has an error, a short one, and never runs.
        let error = program["config_error"].to_string();
        assert!(!program["config_error"].is_null(), "{program}");
        assert!(error.len() < 2000, "a short error for {name}: {error}");
        assert!(program["status"]["pid"].is_null(), "{program}");
    }
    assert!(
        !list
            .iter()
            .any(|p| p["name"] == "folder" || p["name"] == "up")
    );
    // The folder's bad names are reported too, and nothing ran from any of them.
    assert_eq!(daemon.pid_of("good"), Some(good_pid));
    assert_eq!(cmdline(good_pid), good_line);
    assert!(health_ok(&daemon));
    // A good edit still goes through after all that.
    let (code, body) = daemon.post(
        "/programs/edit/good",
        Some(json!({ "description": "still here" })),
    );
    assert_eq!(code, 200, "{body}");
    eprintln!(
        "figures: hostile files: {} hostile files and links, {} listed with an error, 0 ran",
        expect_error.len() + bad_names.len() + 3,
        list.len() - 1
    );
}

#[test]
fn ten_thousand_files_are_read_and_the_api_keeps_answering() {
    let daemon = TestDaemon::start();
    let staging = daemon.root.path().join("staging");
    fs::create_dir(&staging).expect("staging");
    let count = 10_000;
    for index in 0..count {
        fs::write(
            staging.join(format!("many{index}.toml")),
            format!("command = \"sleep {index}\"\ndescription = \"number {index}\"\n"),
        )
        .expect("stage");
    }
    let began = Instant::now();
    for index in 0..count {
        let file = format!("many{index}.toml");
        fs::rename(staging.join(&file), daemon.programs.join(&file)).expect("drop");
    }
    let mut known = 0;
    wait_until(
        "10,000 programs listed",
        120,
        || {
            let (code, body) = daemon.get("/status");
            known = body["data"]["statuses"].as_array().map_or(0, Vec::len);
            code == 200 && known == count
        },
        || {
            format!(
                "{:?} known\n{}",
                daemon.get("/status").1["data"]["statuses"]
                    .as_array()
                    .map(Vec::len),
                daemon.log()
            )
        },
    );
    let listed = began.elapsed();
    // None of them is a boot program: nothing runs.
    let (code, body) = daemon.get("/status/many9999");
    assert_eq!(code, 200);
    assert_eq!(body["data"]["status"]["status"], "STOPPED");
    // A program added now still starts.
    let line = format!("sleep {}", unique());
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "late", "command": line, "boot": true, "startsecs": 0 })),
    );
    assert_eq!(code, 201, "{body}");
    let status = daemon.wait_state("late", "RUNNING");
    assert_eq!(cmdline(status["pid"].as_u64().expect("pid") as u32), line);
    let (code, body) = daemon.get("/programs");
    assert_eq!(code, 200);
    assert_eq!(
        body["data"]["programs"].as_array().map(Vec::len),
        Some(count + 1)
    );
    eprintln!(
        "figures: 10,000 files listed {:.1} s after the drop; a later add answered and ran",
        listed.as_secs_f64()
    );
}

#[test]
fn hostile_fields_get_a_400_naming_the_field() {
    let daemon = TestDaemon::start();
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "command": "" }), "command"),
        (json!({ "command": "   " }), "command"),
        (json!({ "command": [] }), "command"),
        (json!({ "command": [""] }), "command"),
        (json!({ "command": "sleep 'unclosed" }), "command"),
        (json!({ "command": "sleep 1\u{0}" }), "command"),
        (json!({ "command": 5 }), "command"),
        (
            json!({ "command": "sleep 1", "startsecs": -1 }),
            "startsecs",
        ),
        (
            json!({ "command": "sleep 1", "startsecs": 1e300 }),
            "startsecs",
        ),
        (
            json!({ "command": "sleep 1", "startsecs": "soon" }),
            "startsecs",
        ),
        (
            json!({ "command": "sleep 1", "stopwaitsecs": -0.5 }),
            "stopwaitsecs",
        ),
        (
            json!({ "command": "sleep 1", "stopwaitsecs": 1e18 }),
            "stopwaitsecs",
        ),
        (
            json!({ "command": "sleep 1", "delay_seconds": -3 }),
            "delay_seconds",
        ),
        (
            json!({ "command": "sleep 1", "startretries": -1 }),
            "startretries",
        ),
        (
            json!({ "command": "sleep 1", "startretries": 18446744073709551616u128 as f64 }),
            "startretries",
        ),
        (
            json!({ "command": "sleep 1", "priority": 99999999999i64 }),
            "priority",
        ),
        (
            json!({ "command": "sleep 1", "exitcodes": [-1] }),
            "exitcodes",
        ),
        (
            json!({ "command": "sleep 1", "exitcodes": [256] }),
            "exitcodes",
        ),
        (
            json!({ "command": "sleep 1", "exitcodes": "zero" }),
            "exitcodes",
        ),
        (
            json!({ "command": "sleep 1", "stopsignal": "SIGFOO" }),
            "stopsignal",
        ),
        (
            json!({ "command": "sleep 1", "stopsignal": "9" }),
            "stopsignal",
        ),
        (
            json!({ "command": "sleep 1", "stopsignal": "" }),
            "stopsignal",
        ),
        (
            json!({ "command": "sleep 1", "user": "no-such-user-hoody" }),
            "user",
        ),
        (
            json!({ "command": "sleep 1", "user": "4000000000" }),
            "user",
        ),
        (json!({ "command": "sleep 1", "user": "" }), "user"),
        (
            json!({ "command": "sleep 1", "environment": { "A\u{0}B": "1" } }),
            "environment",
        ),
        (
            json!({ "command": "sleep 1", "environment": { "A=B": "1" } }),
            "environment",
        ),
        (
            json!({ "command": "sleep 1", "environment": { "": "1" } }),
            "environment",
        ),
        (
            json!({ "command": "sleep 1", "environment": { "A": "x\u{0}y" } }),
            "environment",
        ),
        (
            json!({ "command": "sleep 1", "environment": { "A": [1] } }),
            "environment",
        ),
        (
            json!({ "command": "sleep 1", "environment": ["A=1"] }),
            "environment",
        ),
        (
            json!({ "command": "sleep 1", "directory": "relative/dir" }),
            "directory",
        ),
        (
            json!({ "command": "sleep 1", "directory": "/tmp/\u{0}" }),
            "directory",
        ),
        (
            json!({ "command": "sleep 1", "stdout_logfile": "relative.log" }),
            "stdout_logfile",
        ),
        (
            json!({ "command": "sleep 1", "stdout_logfile_maxbytes": "-5MB" }),
            "stdout_logfile_maxbytes",
        ),
        (
            json!({ "command": "sleep 1", "stdout_logfile_maxbytes": "99999999999PB" }),
            "stdout_logfile_maxbytes",
        ),
        (
            json!({ "command": "sleep 1", "stdout_logfile_backups": -1 }),
            "stdout_logfile_backups",
        ),
        (json!({ "command": "sleep 1", "umask": "999" }), "umask"),
        (
            json!({ "command": "sleep 1", "umask": "07777777" }),
            "umask",
        ),
        (
            json!({ "command": "sleep 1", "autorestart": "maybe" }),
            "autorestart",
        ),
        (
            json!({ "command": "sleep 1", "enabled": "yes please" }),
            "enabled",
        ),
        (json!({ "command": "sleep 1", "name": "../escape" }), "name"),
        (json!({ "command": "sleep 1", "name": "a/b" }), "name"),
        (
            json!({ "command": "sleep 1", "name": "nul\u{0}name" }),
            "name",
        ),
        (
            json!({ "command": "sleep 1", "name": "ctl\u{7}name" }),
            "name",
        ),
        (json!({ "command": "sleep 1", "name": ".." }), "name"),
        (
            json!({ "command": "sleep 1", "name": "x".repeat(65) }),
            "name",
        ),
        (
            json!({ "command": "sleep 1", "description": 12 }),
            "description",
        ),
    ];
    let mut failures = Vec::new();
    for (index, (fields, field)) in cases.iter().enumerate() {
        let mut fields = fields.clone();
        if fields.get("name").is_none() {
            fields["name"] = json!(format!("f{index}"));
        }
        let (code, body) = daemon.post("/programs/add", Some(fields.clone()));
        let named = body["error"]["details"]
            .as_array()
            .is_some_and(|details| details.iter().any(|d| d["field"] == *field));
        if code != 400 || !is_envelope(400, &body) || !named {
            failures.push(format!("{fields} -> {code} {body}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // No file was written for any of them.
    let files: Vec<_> = fs::read_dir(&daemon.programs)
        .expect("list")
        .flatten()
        .map(|entry| entry.file_name())
        .collect();
    assert!(files.is_empty(), "{files:?}");

    // Valid but impossible at spawn time: a missing folder or binary is a clear spawn error.
    for (name, fields) in [
        (
            "nodir",
            json!({ "command": "sleep 1", "directory": "/nonexistent/hoody" }),
        ),
        ("nobin", json!({ "command": "/nonexistent/hoody-binary" })),
    ] {
        let mut fields = fields;
        fields["name"] = json!(name);
        fields["boot"] = json!(true);
        let (code, body) = daemon.post("/programs/add", Some(fields));
        assert_eq!(code, 201, "{body}");
        let status = daemon.wait_state(name, "FATAL");
        assert!(
            status["last_error"]
                .as_str()
                .is_some_and(|error| error.contains("/nonexistent/")),
            "{status}"
        );
    }
    assert!(health_ok(&daemon));
    eprintln!(
        "figures: hostile fields: {} bad field values, each a 400 naming the field; 2 spawn errors reported",
        cases.len()
    );
}

#[test]
fn hostile_requests_get_a_4xx_and_never_a_5xx() {
    let daemon = TestDaemon::start();
    let add = "/api/v1/daemon/programs/add";
    let put = "/api/v1/daemon/programs/put";
    let mut huge_chunked = format!(
        "POST {add} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..40 {
        huge_chunked.extend_from_slice(format!("{:x}\r\n", 64 * 1024).as_bytes());
        huge_chunked.extend(std::iter::repeat_n(b' ', 64 * 1024));
        huge_chunked.extend_from_slice(b"\r\n");
    }
    huge_chunked.extend_from_slice(b"0\r\n\r\n");
    let many_headers: String = (0..200).map(|n| format!("X-H{n}: {n}\r\n")).collect();
    // (what, request bytes, whether the answer comes from our routes, in the envelope)
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("malformed JSON", request("POST", add, "", b"{\"command\": "), true),
        ("trailing garbage", request("POST", add, "", b"{} {}"), true),
        ("JSON string", request("POST", add, "", b"\"sleep 1\""), true),
        ("JSON null", request("POST", add, "", b"null"), true),
        ("invalid UTF-8 body", request("POST", add, "", b"{\"name\": \"\xc3\x28\"}"), true),
        ("empty body", request("POST", add, "", b""), true),
        ("deep JSON", request("POST", add, "", "[".repeat(100_000).as_bytes()), true),
        ("wrong type", request("POST", add, "", br#"{"name": 7, "command": {"a": 1}}"#), true),
        ("put without text", request("POST", put, "", br#"{"file": "a.toml"}"#), true),
        ("put ../", request("POST", put, "", br#"{"file": "../a.toml", "text": "command = 'sleep 1'"}"#), true),
        ("put slash", request("POST", put, "", br#"{"file": "a/b.toml", "text": "command = 'sleep 1'"}"#), true),
        ("put NUL", request("POST", put, "", br#"{"file": "a\u0000.toml", "text": "command = 'sleep 1'"}"#), true),
        ("put control", request("POST", put, "", br#"{"file": "a\u0007.toml", "text": "command = 'sleep 1'"}"#), true),
        ("put hidden", request("POST", put, "", br#"{"file": ".a.toml", "text": "command = 'sleep 1'"}"#), true),
        ("put other extension", request("POST", put, "", br#"{"file": "a.sh", "text": "command = 'sleep 1'"}"#), true),
        ("put bad text", request("POST", put, "", br#"{"file": "a.toml", "text": "command = [[["}"#), true),
        ("put binary text", request("POST", put, "", br#"{"file": "a.yaml", "text": "\u0000\u0001\u0002"}"#), true),
        ("body over 1 MiB", request("POST", add, "", &vec![b' '; 2 * 1024 * 1024]), true),
        ("chunked body over 1 MiB", huge_chunked, true),
        (
            "a 1 TB Content-Length",
            format!("POST {add} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000000000000\r\n\r\n{{").into_bytes(),
            true,
        ),
        ("edit ..%2f", request("POST", "/api/v1/daemon/programs/edit/..%2f..%2fetc%2fpasswd", "", b"{}"), true),
        ("remove %00", request("POST", "/api/v1/daemon/programs/remove/a%00b", "", b""), true),
        ("start %2e%2e", request("POST", "/api/v1/daemon/programs/%2e%2e/start", "", b""), true),
        ("logs %ff", request("GET", "/api/v1/daemon/programs/%ff%fe/logs", "", b""), true),
        ("status of a 10 kB id", request("GET", &format!("/api/v1/daemon/status/{}", "a".repeat(10_000)), "", b""), true),
        ("quick-start %0a", request("GET", "/api/v1/daemon/quick-start/a%0ab/status", "", b""), true),
        ("bad query", request("GET", "/api/v1/daemon/programs/x/logs?lines=-5&stream=all", "", b""), true),
        ("query %ff", request("POST", "/api/v1/daemon/programs/x/stop?wait=%ff", "", b""), true),
        ("unknown method", request("BREW", "/api/v1/daemon/programs", "", b""), true),
        ("If-Match not text", request("POST", "/api/v1/daemon/programs/edit/x", b"If-Match: \"\xff\"\r\n", b"{}"), true),
        ("dot segments", request("GET", "/api/v1/daemon/../../etc/passwd", "", b""), true),
        // Refused by the HTTP parser before any route: a bare 4xx, no envelope.
        ("a 100 KiB header", request("GET", "/api/v1/daemon/health", format!("X-Big: {}\r\n", "a".repeat(100 * 1024)), b""), false),
        ("200 headers", request("GET", "/api/v1/daemon/health", &many_headers, b""), false),
        ("raw invalid UTF-8 in the path", b"GET /api/v1/daemon/programs/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(), false),
        ("not HTTP", b"HELLO THERE\r\n\r\n".to_vec(), false),
        ("NUL in the request line", b"GET /api/v1/daemon/health\0 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), false),
        ("header without a colon", b"GET /api/v1/daemon/health HTTP/1.1\r\nHost x\r\n\r\n".to_vec(), false),
        ("two Content-Lengths", format!("POST {add} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{{}}").into_bytes(), false),
    ];
    let mut failures = Vec::new();
    let mut server_errors = 0;
    for (what, bytes, enveloped) in &cases {
        let began = Instant::now();
        let (code, body) = exchange(&daemon, bytes);
        let took = began.elapsed();
        if code >= 500 {
            server_errors += 1;
        }
        let good = (400..500).contains(&code) && (!enveloped || is_envelope(code, &body));
        if !good || took > Duration::from_secs(5) {
            failures.push(format!("{what}: {code} in {took:?}: {body}"));
        }
        if !alive(daemon.pid().expect("pid")) {
            panic!("the daemon died on {what}\n{}", daemon.log());
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(server_errors, 0);
    assert!(health_ok(&daemon));
    assert!(
        fs::read_dir(&daemon.programs)
            .expect("list")
            .next()
            .is_none()
    );
    eprintln!(
        "figures: hostile requests: {} requests, {} answered in the envelope, {} refused by the \
         HTTP parser, 0 5xx",
        cases.len(),
        cases.iter().filter(|case| case.2).count(),
        cases.iter().filter(|case| !case.2).count()
    );
}

#[test]
fn tokens_are_checked_whatever_the_header_holds() {
    let token = "s3cret-token";
    let daemon = TestDaemon::start_with(&[], Some(token));
    let path = "/api/v1/daemon/programs";
    let cases: Vec<(&str, String)> = vec![
        ("no header", String::new()),
        ("empty bearer", "Authorization: Bearer \r\n".into()),
        ("wrong token", "Authorization: Bearer wrong\r\n".into()),
        (
            "a prefix of the token",
            "Authorization: Bearer s3cret\r\n".into(),
        ),
        (
            "the token and more",
            format!("Authorization: Bearer {token}x\r\n"),
        ),
        ("basic scheme", format!("Authorization: Basic {token}\r\n")),
        ("no scheme", format!("Authorization: {token}\r\n")),
        (
            "a 16 KiB token",
            format!("Authorization: Bearer {}\r\n", "t".repeat(16 * 1024)),
        ),
        ("token in the query", String::new()),
    ];
    for (what, headers) in &cases {
        let target = if *what == "token in the query" {
            format!("{path}?token={token}")
        } else {
            path.to_string()
        };
        let (code, body) = exchange(&daemon, &request("GET", &target, headers, b""));
        assert_eq!(code, 401, "{what}: {body}");
        assert!(is_envelope(401, &body), "{what}: {body}");
    }
    let mut bytes = request("GET", path, b"Authorization: Bearer \xff\xfe\r\n", b"");
    let (code, body) = exchange(&daemon, &bytes);
    assert_eq!(code, 401, "invalid UTF-8 token: {body}");
    // The scheme is case-insensitive (RFC 9110 §11.1); the token is not.
    bytes = request(
        "GET",
        path,
        format!("Authorization: bearer {token}\r\n"),
        b"",
    );
    let (code, body) = exchange(&daemon, &bytes);
    assert_eq!(code, 200, "lower-case scheme: {body}");
    bytes = request(
        "GET",
        path,
        format!("Authorization: Bearer {}\r\n", token.to_uppercase()),
        b"",
    );
    assert_eq!(exchange(&daemon, &bytes).0, 401);
    // /health needs no token.
    let (code, _) = exchange(&daemon, &request("GET", "/api/v1/daemon/health", "", b""));
    assert_eq!(code, 200);
}

/// Whether the server has closed a connection: a read sees the end (or an answer, then the end),
/// or a write fails.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buffer = [0u8; 4096];
    match stream.read(&mut buffer) {
        Ok(_) => true, // 0 = closed; anything else is an answer (a 408), then it closes
        Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    }
}

#[test]
fn slow_clients_are_dropped_by_the_read_timeouts_and_block_no_one() {
    let daemon = TestDaemon::start();
    let address = daemon.url().trim_start_matches("http://").to_string();
    let connect = || {
        let stream = TcpStream::connect(&address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("timeout");
        stream
    };
    // Slowloris: headers one byte a second, never finished.
    let mut slow_headers: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut stream = connect();
            stream
                .write_all(b"GET /api/v1/daemon/health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                .expect("start");
            stream
        })
        .collect();
    // Connected and silent.
    let mut silent = connect();
    // Headers complete, the body one byte a second.
    let mut slow_body = connect();
    slow_body
        .write_all(
            b"POST /api/v1/daemon/programs/add HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
        )
        .expect("start");

    let began = Instant::now();
    let mut dropped_at: Vec<Option<Duration>> = vec![None; 5];
    let mut quick_answers = 0;
    let mut slow_body_answer = None;
    while began.elapsed() < Duration::from_secs(25) && dropped_at.iter().any(Option::is_none) {
        for (index, stream) in slow_headers.iter_mut().enumerate() {
            if dropped_at[index].is_none() {
                let _ = stream.write_all(b"a");
                if closed_by_server(stream) {
                    dropped_at[index] = Some(began.elapsed());
                }
            }
        }
        if dropped_at[3].is_none() && closed_by_server(&mut silent) {
            dropped_at[3] = Some(began.elapsed());
        }
        if dropped_at[4].is_none() {
            let _ = slow_body.write_all(b" ");
            let mut answer = vec![0u8; 4096];
            match slow_body.read(&mut answer) {
                Ok(length) => {
                    slow_body_answer = Some(parse_answer(&answer[..length]));
                    dropped_at[4] = Some(began.elapsed());
                }
                Err(error)
                    if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(_) => dropped_at[4] = Some(began.elapsed()),
            }
        }
        // Meanwhile everyone else is served. A request the slow clients held up would wait
        // for their drop (READ_TIMEOUT, 10 s); 5 s leaves room for a loaded CI machine.
        let asked = Instant::now();
        assert!(health_ok(&daemon));
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "a normal request waited {:?}",
            asked.elapsed()
        );
        quick_answers += 1;
        std::thread::sleep(Duration::from_millis(400));
    }
    // READ_TIMEOUT is 10 s; allow for the pacing of this loop.
    for (index, at) in dropped_at.iter().enumerate() {
        let at = at.unwrap_or_else(|| panic!("connection {index} was never dropped"));
        assert!(
            at >= Duration::from_secs(8) && at < Duration::from_secs(15),
            "connection {index} dropped after {at:?}"
        );
    }
    let (code, body) = slow_body_answer.expect("the slow body got an answer");
    assert_eq!(code, 408, "{body}");
    assert!(is_envelope(408, &body), "{body}");
    eprintln!(
        "figures: slow clients: 3 slowloris, 1 silent, 1 slow body, dropped after {:?}; {quick_answers} \
         other requests answered meanwhile",
        dropped_at.iter().flatten().collect::<Vec<_>>()
    );
}

#[test]
fn a_thousand_concurrent_connections_are_all_answered() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let connections = 1000;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).expect("getrlimit");
    if soft < 4096 && hard > soft {
        setrlimit(Resource::RLIMIT_NOFILE, hard.min(65_536), hard).expect("setrlimit");
    }
    let daemon = TestDaemon::start();
    let address = daemon.url().trim_start_matches("http://").to_string();
    let mut streams = Vec::new();
    for index in 0..connections {
        let mut stream = TcpStream::connect(&address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let path = if index % 2 == 0 {
            "/api/v1/daemon/health"
        } else {
            "/api/v1/daemon/status"
        };
        stream
            .write_all(&request("GET", path, "", b""))
            .expect("send");
        streams.push(stream);
    }
    // All 1,000 are open at once; now read every answer.
    let mut codes = std::collections::BTreeMap::new();
    for mut stream in streams {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        *codes.entry(parse_answer(&answer).0).or_insert(0) += 1;
    }
    assert_eq!(codes.get(&200), Some(&connections), "{codes:?}");
    assert!(health_ok(&daemon));
    eprintln!("figures: {connections} concurrent connections, all answered 200");
}
