//! Health checks, readiness and dependencies (SPEC §12), with real processes, real probes
//! (exec, http against a real loopback server, tcp), real log lines and real sd_notify
//! datagrams.

#![allow(clippy::disallowed_methods)] // a test runs python3 as another user

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hoody_daemon::cli::client::{Client, Endpoint};
use serde_json::Value;

use crate::support::{
    TestDaemon, describe, free_port, is_root, repo, run, run_client, unique, wait_until,
};

/// The tests' programs are python3 scripts (as CI has it); say so plainly if it is missing.
fn require_python() {
    let found = std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    assert!(
        found,
        "python3 is needed by these tests (.ci/run installs it): not found on PATH"
    );
}

/// A TOML string literal.
fn quoted(text: &str) -> String {
    toml::Value::from(text).to_string()
}

/// The events of `/events`, read in the background from the moment this is made.
struct EventLog {
    events: Arc<Mutex<Vec<Value>>>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
}

impl EventLog {
    fn open(daemon: &TestDaemon) -> EventLog {
        let Endpoint::Tcp(host) = &daemon.client.endpoint else {
            panic!("a tcp daemon")
        };
        let mut stream = TcpStream::connect(host).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        write!(
            stream,
            "GET /api/v1/daemon/events HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
        )
        .expect("send");
        // The daemon subscribes before it answers: once the head is read, no event is missed.
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            assert!(Instant::now() < deadline, "no answer to GET /events");
            match reader.read_line(&mut line) {
                Ok(0) => panic!("GET /events: the daemon closed the connection"),
                Ok(_) if line == "\r\n" => break,
                Ok(_) => line.clear(),
                Err(_) => continue,
            }
        }
        line.clear();
        let events = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopping) = (events.clone(), stop.clone());
        let reader = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                match reader.read_line(&mut line) {
                    Ok(0) => return,
                    Ok(_) => {
                        let complete = std::mem::take(&mut line);
                        if let Some(data) = complete.trim_end().strip_prefix("data: ")
                            && let Ok(event) = serde_json::from_str::<Value>(data)
                        {
                            seen.lock().expect("events").push(event);
                        }
                    }
                    // A read timeout may leave half a line: keep it, the rest follows.
                    Err(_) => continue,
                }
            }
        });
        EventLog {
            events,
            stop,
            reader: Some(reader),
        }
    }

    fn all(&self) -> Vec<Value> {
        self.events.lock().expect("events").clone()
    }

    /// The position of the first event that `matches`, if any yet.
    fn position(&self, matches: impl Fn(&Value) -> bool) -> Option<usize> {
        self.all().iter().position(matches)
    }

    fn wait_for(&self, what: &str, daemon: &TestDaemon, matches: impl Fn(&Value) -> bool) -> usize {
        let mut found = None;
        wait_until(
            what,
            30,
            || {
                found = self.position(&matches);
                found.is_some()
            },
            || format!("events: {:#?}\n{}", self.all(), daemon.log()),
        );
        found.unwrap_or_default()
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

fn is_state(event: &Value, name: &str, to: &str) -> bool {
    event["type"] == "state" && event["name"] == name && event["to"] == to
}

fn is_ready_event(event: &Value, name: &str) -> bool {
    event["type"] == "health" && event["name"] == name && event["ready"] == true
}

/// A loopback HTTP server in the test: answers every request with `status` (changeable), and
/// remembers the last request line. Stopped when dropped.
struct Server {
    address: SocketAddr,
    status: Arc<AtomicU16>,
    last_request: Arc<Mutex<String>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let status = Arc::new(AtomicU16::new(200));
        let last_request = Arc::new(Mutex::new(String::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (code, request, stopping) = (status.clone(), last_request.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for connection in listener.incoming() {
                if stopping.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut connection) = connection else {
                    continue;
                };
                let _ = connection.set_read_timeout(Some(Duration::from_secs(5)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                    match connection.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => break,
                    }
                }
                let text = String::from_utf8_lossy(&head).into_owned();
                *request.lock().expect("request") = text.lines().next().unwrap_or("").to_string();
                let code = code.load(Ordering::Relaxed);
                let reason = if code == 200 {
                    "OK"
                } else {
                    "Service Unavailable"
                };
                let _ = write!(
                    connection,
                    "HTTP/1.1 {code} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
            }
        });
        Server {
            address,
            status,
            last_request,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept.
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn pid(status: &Value) -> Option<u64> {
    status["pid"].as_u64()
}

#[test]
fn an_exec_probe_that_turns_unhealthy_restarts_the_program_and_none_keeps_it() {
    let daemon = TestDaemon::start();
    let flags = daemon.root.path().join("flags");
    fs::create_dir(&flags).expect("flags");
    let number = unique();
    for (name, action) in [("restarted", "restart"), ("kept", "none")] {
        let flag = flags.join(name);
        fs::write(&flag, "").expect("flag");
        daemon.put(
            &format!("{name}.toml"),
            &format!(
                "command = \"sleep {number}\"\nboot = true\nstartsecs = 0.3\n[healthcheck]\nexec = [\"test\", \"-e\", {}]\ninterval = 0.2\nretries = 2\non_unhealthy = \"{action}\"\n",
                quoted(&flag.to_string_lossy())
            ),
        );
    }
    let mut pids = Vec::new();
    for name in ["restarted", "kept"] {
        let status = daemon.wait_status(name, "healthy and ready", |status| {
            status["health"] == "healthy" && status["ready"] == true
        });
        assert_eq!(status["last_probe"]["ok"], true, "{status}");
        assert!(status["last_probe"]["time"].as_f64().is_some(), "{status}");
        pids.push(pid(&status).expect("a pid"));
    }
    fs::remove_file(flags.join("restarted")).expect("remove");
    fs::remove_file(flags.join("kept")).expect("remove");

    let restarted = daemon.wait_status("restarted", "a new process", |status| {
        pid(status).is_some_and(|pid| pid != pids[0])
    });
    assert!(restarted["restarts"].as_u64() >= Some(1), "{restarted}");
    let error = restarted["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("unhealthy: 2 probes failed in a row: exit code 1"),
        "{restarted}"
    );
    // Healthy again once its check passes: it stays with that process.
    fs::write(flags.join("restarted"), "").expect("flag");
    let healthy = daemon.wait_status("restarted", "healthy again", |status| {
        status["health"] == "healthy" && status["ready"] == true
    });

    let kept = daemon.wait_status("kept", "unhealthy", |status| {
        status["health"] == "unhealthy"
    });
    assert_eq!(
        pid(&kept),
        Some(pids[1]),
        "on_unhealthy = none keeps it: {kept}"
    );
    assert_eq!(kept["ready"], false, "{kept}");
    assert_eq!(kept["restarts"], 0, "{kept}");
    assert_eq!(kept["last_probe"]["ok"], false, "{kept}");
    assert_eq!(kept["last_probe"]["output"], "exit code 1", "{kept}");
    fs::write(flags.join("kept"), "").expect("flag");
    let kept = daemon.wait_status("kept", "healthy again", |status| {
        status["health"] == "healthy" && status["ready"] == true
    });
    assert_eq!(pid(&kept), Some(pids[1]), "{kept}");
    // The healthy process of `restarted` was not restarted again.
    let now = daemon.status("restarted");
    assert_eq!(pid(&now), pid(&healthy), "{now}");
}

#[test]
fn an_http_probe_against_a_real_server_follows_its_answers() {
    require_python();
    let daemon = TestDaemon::start();
    // Python's own HTTP server as the program: ready once it answers.
    let port = free_port();
    let site = daemon.root.path().join("site");
    fs::create_dir(&site).expect("site");
    fs::write(site.join("healthz"), "ok\n").expect("page");
    daemon.put(
        "site.toml",
        &format!(
            "command = [\"python3\", \"-m\", \"http.server\", \"{port}\", \"--bind\", \"127.0.0.1\", \"--directory\", {}]\nboot = true\nstartsecs = 0\n[healthcheck]\nhttp = \"http://127.0.0.1:{port}/healthz\"\ninterval = 0.3\nstart_period = 60\n",
            quoted(&site.to_string_lossy())
        ),
    );
    let status = daemon.wait_status("site", "ready", |status| status["ready"] == true);
    assert_eq!(status["health"], "healthy", "{status}");
    let output = status["last_probe"]["output"].as_str().unwrap_or_default();
    assert!(output.starts_with("HTTP/1.0 200"), "{status}");

    // A server in the test that the test turns unhealthy and back.
    let server = Server::start();
    daemon.put(
        "api.toml",
        &format!(
            "command = \"sleep {}\"\nboot = true\nstartsecs = 0.2\n[healthcheck]\nhttp = \"http://{}/healthz?deep=1\"\ninterval = 0.2\nretries = 1\non_unhealthy = \"none\"\n",
            unique(),
            server.address
        ),
    );
    let first = daemon.wait_status("api", "healthy", |status| status["health"] == "healthy");
    assert_eq!(
        *server.last_request.lock().expect("request"),
        "GET /healthz?deep=1 HTTP/1.1"
    );
    server.status.store(503, Ordering::Relaxed);
    let sick = daemon.wait_status("api", "unhealthy", |status| status["health"] == "unhealthy");
    assert_eq!(sick["ready"], false, "{sick}");
    assert_eq!(
        sick["last_probe"]["output"], "HTTP/1.1 503 Service Unavailable",
        "{sick}"
    );
    assert_eq!(pid(&sick), pid(&first), "{sick}");
    server.status.store(200, Ordering::Relaxed);
    daemon.wait_status("api", "healthy again", |status| {
        status["health"] == "healthy" && status["ready"] == true
    });
}

#[test]
fn a_tcp_probe_is_healthy_once_a_connection_is_made() {
    require_python();
    let daemon = TestDaemon::start();
    let port = free_port();
    let script = "import socket, sys, time\ntime.sleep(0.5)\nserver = socket.socket()\nserver.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\nserver.bind(('127.0.0.1', int(sys.argv[1])))\nserver.listen()\nwhile True:\n    server.accept()[0].close()\n";
    daemon.put(
        "db.toml",
        &format!(
            "command = [\"python3\", \"-c\", {}, \"{port}\"]\nboot = true\nstartsecs = 0\n[healthcheck]\ntcp = \"127.0.0.1:{port}\"\ninterval = 0.2\nstart_period = 60\n",
            quoted(script)
        ),
    );
    let status = daemon.wait_status("db", "ready", |status| status["ready"] == true);
    assert_eq!(status["health"], "healthy");
    assert_eq!(
        status["last_probe"]["output"],
        format!("connected to 127.0.0.1:{port}")
    );
    // Nothing listens on this one.
    let closed = free_port();
    daemon.put(
        "nothing.toml",
        &format!(
            "command = \"sleep {}\"\nboot = true\nstartsecs = 0.2\n[healthcheck]\ntcp = \"localhost:{closed}\"\ninterval = 0.2\nretries = 2\non_unhealthy = \"none\"\n",
            unique()
        ),
    );
    let status = daemon.wait_status("nothing", "unhealthy", |status| {
        status["health"] == "unhealthy"
    });
    let output = status["last_probe"]["output"].as_str().unwrap_or_default();
    assert!(
        output.starts_with(&format!("cannot connect to 127.0.0.1:{closed}")),
        "{status}"
    );
    assert_eq!(status["ready"], false);
}

#[test]
fn a_ready_log_line_makes_it_ready_also_in_a_log_that_never_rotates() {
    let daemon = TestDaemon::start();
    let events = EventLog::open(&daemon);
    for (name, maxbytes) in [("captured", "\"1MB\""), ("direct", "0")] {
        let flag = daemon.root.path().join(format!("{name}.go"));
        let script = format!(
            "echo booting; while [ ! -e {} ]; do sleep 0.05; done; echo 'server listening on 8080'; exec sleep {}",
            flag.display(),
            unique()
        );
        daemon.put(
            &format!("{name}.toml"),
            &format!(
                "command = [\"sh\", \"-c\", {}]\nboot = true\nstartsecs = 0.2\nready_log_line = \"listening on\"\nstdout_logfile_maxbytes = {maxbytes}\n",
                quoted(&script)
            ),
        );
        // RUNNING, and the line cannot have been written yet.
        let status = daemon.wait_state(name, "RUNNING");
        assert_eq!(status["ready"], false, "{status}");
        assert_eq!(status["health"], Value::Null, "no health check: {status}");
        fs::write(&flag, "").expect("flag");
        daemon.wait_status(name, "ready", |status| status["ready"] == true);
        events.wait_for("a readiness event", &daemon, |event| {
            is_ready_event(event, name)
        });
        // Every line is in the log, in either mode.
        let log = daemon.logs.join(format!("{name}.stdout.log"));
        assert_eq!(
            fs::read_to_string(&log).unwrap_or_default(),
            "booting\nserver listening on 8080\n",
            "{name}"
        );
    }
}

/// A program that sends READY=1 (once `go` exists) and WATCHDOG=1 (while `pings` exists) to
/// `$NOTIFY_SOCKET`, as sd_notify does.
const NOTIFIER: &str = r#"
import os, socket, sys, time
go, pings = sys.argv[1], sys.argv[2]
address = os.environ["NOTIFY_SOCKET"]
watchdog = os.environ.get("WATCHDOG_USEC", "none")
notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
ready = False
while True:
    if not ready and os.path.exists(go):
        notify.sendto(("READY=1\nSTATUS=serving requests (watchdog %s us)" % watchdog).encode(), address)
        ready = True
    if os.path.exists(pings):
        notify.sendto(b"WATCHDOG=1", address)
    time.sleep(0.1)
"#;

#[test]
fn notify_ready_and_a_watchdog_that_stops_pinging_restarts_it() {
    require_python();
    let daemon = TestDaemon::start();
    let go = daemon.root.path().join("go");
    let pings = daemon.root.path().join("pings");
    fs::write(&pings, "").expect("pings");
    daemon.put(
        "notified.toml",
        &format!(
            "command = [\"python3\", \"-c\", {}, {}, {}]\nboot = true\nstartsecs = 0.3\nnotify = true\nwatchdog_sec = 2\n",
            quoted(NOTIFIER),
            quoted(&go.to_string_lossy()),
            quoted(&pings.to_string_lossy())
        ),
    );
    let status = daemon.wait_state("notified", "RUNNING");
    assert_eq!(status["ready"], false, "no READY=1 yet: {status}");
    let first = pid(&status).expect("a pid");

    // The socket is the program's alone: 0600 in a folder others can only pass through.
    let environ = fs::read(format!("/proc/{first}/environ")).expect("environ");
    let socket = environ
        .split(|byte| *byte == 0)
        .find_map(|entry| entry.strip_prefix(b"NOTIFY_SOCKET="))
        .map(|path| String::from_utf8_lossy(path).into_owned())
        .expect("NOTIFY_SOCKET in the program's environment");
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| fs::metadata(path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode(Path::new(&socket)), 0o600, "{socket}");
    let folder = Path::new(&socket).parent().expect("folder").to_path_buf();
    assert_eq!(mode(&folder), 0o711, "{socket}");
    assert!(socket.len() < 108, "{socket}");

    fs::write(&go, "").expect("go");
    let status = daemon.wait_status("notified", "ready", |status| status["ready"] == true);
    assert_eq!(
        status["status_text"], "serving requests (watchdog 2000000 us)",
        "{status}"
    );
    assert_eq!(pid(&status), Some(first));

    // It stops pinging: restarted within about two seconds, by the watchdog.
    fs::remove_file(&pings).expect("stop the pings");
    let restarted = daemon.wait_status("notified", "a new process", |status| {
        pid(status).is_some_and(|pid| pid != first)
    });
    let error = restarted["last_error"].as_str().unwrap_or_default();
    assert!(
        error.contains("watchdog: no WATCHDOG=1 for 2s"),
        "{restarted}"
    );
    assert!(restarted["restarts"].as_u64() >= Some(1), "{restarted}");
    // The old socket went with its process; the new one has its own.
    wait_until(
        "the old socket to be removed",
        30,
        || !Path::new(&socket).exists(),
        || daemon.log(),
    );
    fs::write(&pings, "").expect("pings");
    daemon.wait_status("notified", "ready again", |status| status["ready"] == true);

    // The daemon ends: the folder goes too.
    let mut daemon = daemon;
    assert_eq!(daemon.terminate(), Some(0));
    assert!(!folder.exists(), "{}", folder.display());
}

#[test]
fn a_notify_socket_is_usable_by_the_programs_user_and_by_no_other() {
    require_python();
    if !is_root() {
        eprintln!("skipped: running programs as another user needs root");
        return;
    }
    let daemon = TestDaemon::start();
    let script = "import os, socket, time\ntime.sleep(0.3)\nsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\ntime.sleep(100000)\n";
    daemon.put(
        "nobodys.toml",
        &format!(
            "command = [\"python3\", \"-c\", {}]\nuser = \"nobody\"\ndirectory = \"/\"\nboot = true\nstartsecs = 0.2\nnotify = true\n[healthcheck]\nexec = [\"sh\", \"-c\", \"id -un; test \\\"$(id -un)\\\" = nobody && test \\\"$(pwd)\\\" = /\"]\ninterval = 0.2\non_unhealthy = \"none\"\n",
            quoted(script)
        ),
    );
    daemon.wait_status("nobodys", "ready", |status| status["ready"] == true);
    // Its exec probe ran as its user, in its folder.
    let status = daemon.wait_status("nobodys", "healthy", |status| status["health"] == "healthy");
    assert_eq!(status["last_probe"]["output"], "nobody", "{status}");
    let program = pid(&status).expect("a pid");
    let environ = fs::read(format!("/proc/{program}/environ")).expect("environ");
    let socket = environ
        .split(|byte| *byte == 0)
        .find_map(|entry| entry.strip_prefix(b"NOTIFY_SOCKET="))
        .map(|path| String::from_utf8_lossy(path).into_owned())
        .expect("NOTIFY_SOCKET");
    // Another user (not root, not nobody) cannot send to it.
    let other = nix::unistd::User::from_name("daemon")
        .ok()
        .flatten()
        .map_or(1, |user| user.uid.as_raw());
    use std::os::unix::process::CommandExt;
    let attempt = std::process::Command::new("python3")
        .arg("-c")
        .arg("import socket, sys\nsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', sys.argv[1])")
        .arg(&socket)
        .current_dir("/")
        .uid(other)
        .gid(other)
        .output()
        .expect("run python3 as another user");
    assert!(!attempt.status.success(), "another user could send");
    assert!(
        String::from_utf8_lossy(&attempt.stderr).contains("PermissionError"),
        "{}",
        String::from_utf8_lossy(&attempt.stderr)
    );
}

/// Writes `name.toml`.
fn program(daemon: &TestDaemon, name: &str, text: &str) {
    daemon.put(&format!("{name}.toml"), text);
}

#[test]
fn depends_on_starts_dependencies_first_and_waits_for_each_condition() {
    let daemon = TestDaemon::start();
    let number = unique();
    let go = daemon.root.path().join("db-go");
    let db_script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo 'database system is ready'; exec sleep {number}",
        go.display()
    );
    program(
        &daemon,
        "db",
        &format!(
            "command = [\"sh\", \"-c\", {}]\nstartsecs = 0.2\nready_log_line = \"is ready\"\n",
            quoted(&db_script)
        ),
    );
    program(
        &daemon,
        "migrate",
        "command = [\"sh\", \"-c\", \"sleep 0.3; echo migrated\"]\nautorestart = \"false\"\nstartsecs = 0\ndepends_on = { db = \"ready\" }\n",
    );
    program(
        &daemon,
        "cache",
        &format!("command = \"sleep {number}\"\nstartsecs = 0.5\n"),
    );
    program(
        &daemon,
        "web",
        &format!(
            "command = \"sleep {number}\"\nstartsecs = 0\ndepends_on = {{ db = \"ready\", migrate = \"completed_successfully\", cache = \"started\" }}\n"
        ),
    );
    // The list form: each must be RUNNING.
    program(
        &daemon,
        "worker",
        &format!("command = \"sleep {number}\"\nstartsecs = 0\ndepends_on = [\"cache\"]\n"),
    );
    for name in ["db", "migrate", "cache", "web", "worker"] {
        daemon.wait_status(name, "read", |status| !status.is_null());
    }
    let events = EventLog::open(&daemon);
    // Nothing is a boot program: starting web starts what it depends on.
    let starter = {
        let client = daemon.client.clone();
        std::thread::spawn(move || {
            client
                .request("POST", "/api/v1/daemon/programs/web/start", None, &[])
                .map(|response| (response.status, response.json()))
        })
    };
    let db = daemon.wait_state("db", "RUNNING");
    assert_eq!(db["run"], true, "pulled in: {db}");
    assert_eq!(db["ready"], false);
    let web = daemon.status("web");
    assert_eq!(web["status"], "STOPPED", "{web}");
    assert_eq!(web["pid"], Value::Null, "{web}");
    let waiting: Vec<&str> = web["waiting_for"]
        .as_array()
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        waiting.contains(&"db") && waiting.contains(&"migrate"),
        "{web}"
    );
    assert_eq!(
        daemon.state_of("migrate"),
        "STOPPED",
        "migrate waits for db too"
    );
    fs::write(&go, "").expect("db go");

    let (code, answer) = starter.join().expect("starter").expect("start");
    assert_eq!(code, 200, "{answer}");
    assert!(
        matches!(
            answer["data"]["status"]["status"].as_str(),
            Some("RUNNING" | "STARTING")
        ),
        "the start answers once web is up: {answer}"
    );
    daemon.wait_state("web", "RUNNING");
    let position = |matches: &dyn Fn(&Value) -> bool| {
        events.wait_for("an event", &daemon, |event| matches(event))
    };
    let db_ready = position(&|event| is_ready_event(event, "db"));
    let migrate_starts = position(&|event| is_state(event, "migrate", "STARTING"));
    let migrate_done = position(&|event| is_state(event, "migrate", "EXITED"));
    let cache_running = position(&|event| is_state(event, "cache", "RUNNING"));
    let web_starts = position(&|event| is_state(event, "web", "STARTING"));
    assert!(db_ready < migrate_starts, "{:#?}", events.all());
    assert!(migrate_done < web_starts, "{:#?}", events.all());
    assert!(cache_running < web_starts, "{:#?}", events.all());
    let web = daemon.status("web");
    assert_eq!(web["waiting_for"], Value::Array(Vec::new()), "{web}");
    assert_eq!(web["last_error"], Value::Null, "{web}");

    // The list form: what it names is RUNNING already, so it starts at once.
    let (code, answer) = daemon.post("/programs/worker/start", None);
    assert_eq!(code, 200, "{answer}");
    daemon.wait_state("worker", "RUNNING");

    // Stopping a dependency does not stop its dependents.
    let web_pid = pid(&web);
    let (code, _) = daemon.post("/programs/db/stop", None);
    assert_eq!(code, 200);
    daemon.wait_state("db", "STOPPED");
    let web = daemon.status("web");
    assert_eq!(web["status"], "RUNNING", "{web}");
    assert_eq!(pid(&web), web_pid, "{web}");
}

#[test]
fn a_dependency_that_fails_leaves_its_dependent_not_started_naming_it() {
    let daemon = TestDaemon::start();
    let number = unique();
    program(
        &daemon,
        "migrate",
        "command = [\"sh\", \"-c\", \"echo 'relation exists' >&2; exit 1\"]\nautorestart = \"false\"\nstartsecs = 0\n",
    );
    program(
        &daemon,
        "web",
        &format!(
            "command = \"sleep {number}\"\nstartsecs = 0\ndepends_on = {{ migrate = \"completed_successfully\" }}\n"
        ),
    );
    program(&daemon, "db", "command = \"/no/such/database-binary\"\n");
    program(
        &daemon,
        "api",
        &format!(
            "command = \"sleep {number}\"\nstartsecs = 0\ndepends_on = {{ db = \"ready\" }}\n"
        ),
    );
    for name in ["migrate", "web", "db", "api"] {
        daemon.wait_status(name, "read", |status| !status.is_null());
    }
    // The start ends without web running: start_failed (issue 14), naming the dependency.
    let (code, answer) = daemon.post("/programs/web/start", None);
    assert_eq!(code, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "start_failed", "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .is_some_and(|message| message.contains("dependency \"migrate\"")),
        "{answer}"
    );
    daemon.wait_state("migrate", "EXITED");
    let web = daemon.wait_status("web", "blocked", |status| !status["last_error"].is_null());
    assert_eq!(web["status"], "STOPPED", "{web}");
    assert_eq!(web["pid"], Value::Null, "{web}");
    assert_eq!(
        web["last_error"],
        "not started: dependency \"migrate\" did not complete successfully (an exit code not in its exitcodes)",
        "{web}"
    );
    assert_eq!(web["waiting_for"], serde_json::json!(["migrate"]), "{web}");

    let (code, answer) = daemon.post("/programs/api/start", None);
    assert_eq!(code, 422, "{answer}");
    assert_eq!(
        answer["error"]["details"]["status"]["last_error"],
        "not started: dependency \"db\" is FATAL",
        "{answer}"
    );
    daemon.wait_state("db", "FATAL");
    let api = daemon.wait_status("api", "blocked", |status| !status["last_error"].is_null());
    assert_eq!(
        api["last_error"], "not started: dependency \"db\" is FATAL",
        "{api}"
    );
    // `/ready` says so, by name (this daemon has no token).
    let (code, body) = daemon.get("/ready");
    assert_eq!(code, 503, "{body}");
    let names: Vec<&str> = body["error"]["details"]["not_ready"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert!(names.contains(&"web") && names.contains(&"api"), "{body}");

    // Fixed, and started again: the migration runs again and web follows.
    program(
        &daemon,
        "migrate",
        "command = [\"sh\", \"-c\", \"echo migrated\"]\nautorestart = \"false\"\nstartsecs = 0\n",
    );
    daemon.wait_status("migrate", "the fixed version", |status| {
        status["generation"] == 2
    });
    let (code, _) = daemon.post("/programs/web/start", None);
    assert_eq!(code, 200);
    daemon.wait_state("web", "RUNNING");
    let migrate = daemon.status("migrate");
    assert_eq!(migrate["last_exit"]["code"], 0, "{migrate}");
}

#[test]
fn validate_names_both_programs_of_a_cycle_and_an_unknown_dependency() {
    let folder = tempfile::tempdir().expect("tempdir");
    fs::write(
        folder.path().join("a.toml"),
        "command = \"sleep 1\"\ndepends_on = [\"b\"]\n",
    )
    .expect("write");
    fs::write(
        folder.path().join("b.yaml"),
        "command: sleep 1\ndepends_on: {a: ready}\n",
    )
    .expect("write");
    fs::write(
        folder.path().join("c.toml"),
        "command = \"sleep 1\"\ndepends_on = { ghost = \"started\" }\n",
    )
    .expect("write");
    let dir = folder.path().to_str().expect("utf-8");
    let output = run(&["validate", dir]);
    let report = describe(&["validate", dir], &output);
    assert_eq!(output.status.code(), Some(3), "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    for expected in [
        "a.toml:2:1: field `depends_on`: is in a dependency cycle: a → b → a",
        "b.yaml:2:1: field `depends_on`: is in a dependency cycle: b → a → b",
        "c.toml:2:1: field `depends_on`: depends on \"ghost\", which is no program here",
        "3 problems in 3 of 3 programs",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?}\n{report}");
    }
}

#[test]
fn an_unknown_dependency_is_a_config_error_and_the_last_good_version_runs() {
    let daemon = TestDaemon::start();
    let number = unique();
    program(
        &daemon,
        "web",
        &format!("command = \"sleep {number}\"\nboot = true\nstartsecs = 0\n"),
    );
    let first = daemon.wait_state("web", "RUNNING");
    program(
        &daemon,
        "web",
        &format!(
            "command = \"sleep {number}\"\nboot = true\nstartsecs = 0\ndepends_on = [\"ghost\"]\n"
        ),
    );
    let status = daemon.wait_status("web", "a config error", |status| {
        !status["config_error"].is_null()
    });
    let message = status["config_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("field `depends_on`: depends on \"ghost\", which is no program here"),
        "{status}"
    );
    assert_eq!(
        pid(&status),
        pid(&first),
        "the last good version runs on: {status}"
    );
    // The program appears: the file is valid, without having been touched.
    program(&daemon, "ghost", &format!("command = \"sleep {number}\"\n"));
    daemon.wait_status("web", "valid", |status| status["config_error"].is_null());
}

#[test]
fn boot_waves_open_when_the_wave_before_is_ready() {
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    let go = root.path().join("go");
    let number = unique();
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo 'accepting connections'; exec sleep {number}",
        go.display()
    );
    fs::write(
        programs.join("db.toml"),
        format!(
            "command = [\"sh\", \"-c\", {}]\nboot = true\npriority = 1\nstartsecs = 0.2\nready_log_line = \"accepting connections\"\n",
            quoted(&script)
        ),
    )
    .expect("write");
    fs::write(
        programs.join("web.toml"),
        format!("command = \"sleep {number}\"\nboot = true\npriority = 2\nstartsecs = 0\n"),
    )
    .expect("write");
    let daemon = TestDaemon::start_in(root, &[], None);
    let db = daemon.wait_state("db", "RUNNING");
    assert_eq!(db["ready"], false, "{db}");
    // db is RUNNING, which used to open the next wave; it is not ready, so web waits.
    let web = daemon.status("web");
    assert_eq!(web["status"], "STOPPED", "{web}");
    assert_eq!(web["pid"], Value::Null, "{web}");
    assert_eq!(web["waiting_for"], serde_json::json!(["db"]), "{web}");
    fs::write(&go, "").expect("go");
    let web = daemon.wait_state("web", "RUNNING");
    assert_eq!(web["waiting_for"], Value::Array(Vec::new()), "{web}");
    assert_eq!(daemon.status("db")["ready"], true);
}

#[test]
fn ready_answers_503_then_200_and_names_programs_only_with_a_token() {
    let daemon = TestDaemon::start_with(&[], Some("the-token"));
    let go = daemon.root.path().join("go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; echo ready; exec sleep {}",
        go.display(),
        unique()
    );
    daemon.put(
        "slow.toml",
        &format!(
            "command = [\"sh\", \"-c\", {}]\nboot = true\nstartsecs = 0\nready_log_line = \"ready\"\n",
            quoted(&script)
        ),
    );
    daemon.wait_state("slow", "RUNNING");
    let anonymous = Client::new(daemon.client.endpoint.clone(), None);
    let ask = |client: &Client| {
        let response = client
            .request("GET", "/api/v1/daemon/ready", None, &[])
            .expect("GET /ready");
        (response.status, response.json())
    };
    let (code, body) = ask(&anonymous);
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        body["message"], "not ready",
        "no names without a token: {body}"
    );
    assert_eq!(body["error"]["code"], "not_ready", "{body}");
    assert_eq!(body["error"]["details"], Value::Null, "{body}");
    let wrong = Client::new(daemon.client.endpoint.clone(), Some("wrong".into()));
    assert_eq!(ask(&wrong).1["message"], "not ready");
    let (code, body) = ask(&daemon.client);
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["message"], "not ready: slow", "{body}");
    assert_eq!(
        body["error"]["details"]["not_ready"][0]["status"],
        "RUNNING"
    );

    // The CLI: not ready now (exit 1, naming it); `--wait` until it is.
    let output = daemon.cli(&["ready"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        describe(&["ready"], &output)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("not ready: slow (RUNNING)"), "{stderr}");
    let waiting = {
        let url = daemon.url();
        std::thread::spawn(move || {
            let started = Instant::now();
            let output = std::process::Command::new(crate::support::binary())
                .args(["--url", &url, "ready", "--wait", "30"])
                .env("HOODY_DAEMON_TOKEN", "the-token")
                .output()
                .expect("ready --wait");
            (output, started.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    fs::write(&go, "").expect("go");
    let (output, _) = waiting.join().expect("waiting");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["ready", "--wait", "30"], &output)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ready\n");
    let (code, body) = ask(&anonymous);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["ready"], true, "{body}");
    // A token is not needed for /ready, but it still is for everything else.
    let refused = anonymous
        .request("GET", "/api/v1/daemon/status", None, &[])
        .expect("GET /status");
    assert_eq!(refused.status, 401);
    // A daemon that is not there: `ready --wait` keeps trying, then says so.
    let closed = free_port();
    let output = run_client(
        &format!("http://127.0.0.1:{closed}"),
        &["ready", "--wait", "0.5"],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("cannot reach the daemon"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_database_migrate_web_example_validates_and_runs() {
    require_python();
    let set = repo().join("examples/db-migrate-web");
    let dir = set.to_str().expect("utf-8");
    let output = run(&["validate", dir]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["validate", dir], &output)
    );
    // Its ports moved to free ones (other runs of this test share the machine).
    let (database_port, web_port) = (free_port(), free_port());
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    for entry in fs::read_dir(&set).expect("read the example").flatten() {
        let text = fs::read_to_string(entry.path()).expect("read");
        let text = text
            .replace("15432", &database_port.to_string())
            .replace("8080", &web_port.to_string());
        fs::write(programs.join(entry.file_name()), text).expect("copy");
    }
    let daemon = TestDaemon::start_in(root, &[], None);
    let output = daemon.cli(&["ready", "--wait", "60"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        describe(&["ready", "--wait", "60"], &output),
        daemon.log()
    );
    let database = daemon.status("database");
    assert_eq!(database["ready"], true, "{database}");
    assert_eq!(database["health"], "healthy", "{database}");
    let migrate = daemon.status("migrate");
    assert_eq!(migrate["status"], "EXITED", "{migrate}");
    assert_eq!(migrate["last_exit"]["code"], 0, "{migrate}");
    let web = daemon.status("web");
    assert_eq!(web["ready"], true, "{web}");
    assert_eq!(web["health"], "healthy", "{web}");
    // The migration reached the database: it ran after the database was ready.
    let log = fs::read_to_string(daemon.logs.join("migrate.stdout.log")).unwrap_or_default();
    assert!(
        log.contains("migrate: connected to the database: ok") && log.contains("applied 3"),
        "{log}"
    );
    // And the web front answers.
    let mut stream = TcpStream::connect(("127.0.0.1", web_port)).expect("connect to web");
    write!(stream, "GET / HTTP/1.0\r\n\r\n").expect("request");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    assert!(answer.ends_with("hello from web\n"), "{answer}");
}
