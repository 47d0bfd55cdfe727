//! The supervisord bridge driven by the real supervisorctl (PyPI `supervisor`, which `.ci/run`
//! installs into `target/supervisor-venv`) and by raw XML-RPC over HTTP: status, start, stop,
//! restart, signal, tail and `tail -f`, with and without a token; faults, multicall, log reads;
//! and hostile XML.

#![allow(clippy::disallowed_methods)] // tests start supervisorctl

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hoody_daemon::cli::client::Endpoint;
use hoody_daemon::xmlrpc::{self, Call, Fault, Value};

use crate::support::{TestDaemon, wait_until};

/// The supervisorctl under test: `HOODY_TEST_SUPERVISORCTL`, or the one `.ci/run` installs.
fn supervisorctl() -> PathBuf {
    let path = std::env::var_os("HOODY_TEST_SUPERVISORCTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::support::repo().join("target/supervisor-venv/bin/supervisorctl"));
    assert!(
        path.is_file(),
        "supervisorctl is missing at {}: these tests drive the real one. Install it as .ci/run does:\n  \
         python3 -m venv target/supervisor-venv && target/supervisor-venv/bin/pip install supervisor==4.3.0\n\
         (or point HOODY_TEST_SUPERVISORCTL at one)",
        path.display()
    );
    path
}

struct Ctl {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Ctl {
    fn describe(&self, args: &[&str]) -> String {
        format!(
            "supervisorctl {args:?} exited {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// supervisorctl against a daemon, with a config file of its own (so no system one is read).
struct Supervisorctl<'a> {
    daemon: &'a TestDaemon,
    auth: Vec<String>,
    config: PathBuf,
}

impl<'a> Supervisorctl<'a> {
    fn new(daemon: &'a TestDaemon) -> Supervisorctl<'a> {
        let config = daemon.root.path().join("supervisorctl.conf");
        std::fs::write(&config, "[supervisorctl]\n").expect("supervisorctl.conf");
        Supervisorctl {
            daemon,
            auth: Vec::new(),
            config,
        }
    }

    fn with_auth(mut self, user: &str, password: &str) -> Supervisorctl<'a> {
        self.auth = vec!["-u".into(), user.into(), "-p".into(), password.into()];
        self
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(supervisorctl());
        command
            .arg("-c")
            .arg(&self.config)
            .arg("-s")
            .arg(self.daemon.url())
            .args(&self.auth)
            .args(args)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Ctrl-C as a terminal gives it: a run started in the background by a shell without
        // job control (`.ci/run &`, nohup) inherits SIGINT ignored, and Python then never
        // turns SIGINT into the KeyboardInterrupt that ends `tail -f`.
        // SAFETY (test): only sigaction, async-signal-safe, between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut command, || {
                nix::sys::signal::signal(
                    nix::sys::signal::Signal::SIGINT,
                    nix::sys::signal::SigHandler::SigDfl,
                )?;
                Ok(())
            });
        }
        command
    }

    /// Runs to completion (at most 60 s: a hung supervisorctl fails the test, it never hangs it).
    fn run(&self, args: &[&str]) -> Ctl {
        let child = self.command(args).spawn().expect("start supervisorctl");
        let pid = child.id();
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(child.wait_with_output());
        });
        match receiver.recv_timeout(Duration::from_secs(60)) {
            Ok(Ok(output)) => Ctl {
                code: output.status.code(),
                stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            },
            Ok(Err(error)) => panic!("supervisorctl {args:?}: {error}"),
            Err(_) => {
                crate::support::signal(pid, nix::sys::signal::Signal::SIGKILL);
                panic!(
                    "supervisorctl {args:?} did not finish in 60 s\n{}",
                    self.daemon.log()
                );
            }
        }
    }

    /// Runs and expects `code`; returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let output = self.run(args);
        assert_eq!(
            output.code,
            Some(code),
            "{}\n{}",
            output.describe(args),
            self.daemon.log()
        );
        output.stdout
    }

    /// `tail -f`, as a child whose output lines arrive on a channel; ended (SIGINT, as Ctrl-C)
    /// when dropped.
    fn follow(&self, args: &[&str]) -> Following {
        let mut child = self
            .command(args)
            .spawn()
            .expect("start supervisorctl tail -f");
        let stdout = child.stdout.take().expect("stdout");
        let (sender, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Following { child, lines }
    }
}

struct Following {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Following {
    /// Reads lines until `found` says stop (true) or 30 s pass; returns what was read.
    fn read_until(&self, what: &str, mut found: impl FnMut(&str) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = found(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("tail -f: timed out waiting for {what}; read {seen:?}"),
            }
        }
    }

    /// Ctrl-C, and the exit it makes: `Err` says what happened instead (still running after
    /// 20 s, or ended by a signal), with what supervisorctl wrote to stderr.
    fn interrupt(mut self) -> Result<i32, String> {
        crate::support::signal(self.child.id(), nix::sys::signal::Signal::SIGINT);
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                break Some(status);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        if status.is_some()
            && let Some(mut pipe) = self.child.stderr.take()
        {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
        }
        match status {
            Some(status) => status
                .code()
                .ok_or_else(|| format!("ended by a signal ({status}); stderr: {stderr}")),
            None => Err("still running 20 s after SIGINT".to_string()),
        }
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `name → (state, description)` from `supervisorctl status`.
fn statuses(output: &str) -> Vec<(String, String, String)> {
    output
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next().unwrap_or_default().to_string();
            let state = words.next().unwrap_or_default().to_string();
            (name, state, words.collect::<Vec<_>>().join(" "))
        })
        .collect()
}

fn status_of(output: &str, name: &str) -> (String, String) {
    statuses(output)
        .into_iter()
        .find(|(found, _, _)| found == name)
        .map(|(_, state, description)| (state, description))
        .unwrap_or_else(|| panic!("{name} is not in the status:\n{output}"))
}

const TICKER: &str = r#"command = ["sh", "-c", "i=0; while true; do i=$((i+1)); echo out $i; echo err $i >&2; sleep 0.1; done"]
boot = true
"#;

#[test]
fn status_start_stop_restart_with_the_real_supervisorctl() {
    let daemon = TestDaemon::start();
    daemon.put("web.toml", TICKER);
    daemon.put("idle.toml", "command = \"sleep 600\"\n");
    daemon.put("off.toml", "command = \"sleep 600\"\nenabled = false\n");
    let web = daemon.wait_state("web", "RUNNING");
    daemon.wait_state("idle", "STOPPED");
    let ctl = Supervisorctl::new(&daemon);

    // A stopped program makes `status` exit 3 (LSB "not running"), as with supervisord.
    let status = ctl.expect(&["status"], 3);
    let (state, description) = status_of(&status, "web");
    assert_eq!(state, "RUNNING", "{status}");
    assert!(
        description.starts_with(&format!("pid {}, uptime 0:00:", web["pid"])),
        "{status}"
    );
    assert_eq!(
        status_of(&status, "idle"),
        ("STOPPED".into(), "Not started".into())
    );
    assert_eq!(
        status_of(&status, "off"),
        ("STOPPED".into(), "Not started; disabled".into())
    );
    let one = ctl.expect(&["status", "web"], 0);
    assert_eq!(statuses(&one).len(), 1, "{one}");

    // start is the daemon's start: the run intent is set.
    assert_eq!(ctl.expect(&["start", "idle"], 0).trim(), "idle: started");
    let idle = daemon.wait_state("idle", "RUNNING");
    assert_eq!(idle["run"], true, "{idle}");
    assert_eq!(
        ctl.expect(&["start", "idle"], 0).trim(),
        "idle: ERROR (already started)"
    );
    // `group:name` and `group:*` name the program (each program is its own group).
    assert_eq!(
        ctl.expect(&["start", "idle:idle"], 0).trim(),
        "idle: ERROR (already started)"
    );

    // stop clears it.
    assert_eq!(ctl.expect(&["stop", "web"], 0).trim(), "web: stopped");
    let stopped = daemon.wait_state("web", "STOPPED");
    assert_eq!(stopped["run"], false, "{stopped}");
    // supervisorctl ignores NOT_RUNNING for its exit status, as with supervisord.
    assert_eq!(
        ctl.expect(&["stop", "web"], 0).trim(),
        "web: ERROR (not running)"
    );
    let status = ctl.expect(&["status", "web"], 3);
    let (state, description) = status_of(&status, "web");
    assert_eq!(state, "STOPPED");
    // supervisord shows when it stopped: "Dec 01 09:37 AM".
    assert!(
        description.len() == 15 && (description.ends_with("AM") || description.ends_with("PM")),
        "{status}"
    );

    // restart: stop then start, a new process.
    let before = daemon.pid_of("idle").expect("idle's pid");
    let restarted = ctl.expect(&["restart", "idle"], 0);
    assert_eq!(
        restarted.lines().collect::<Vec<_>>(),
        ["idle: stopped", "idle: started"]
    );
    let after = daemon.wait_state("idle", "RUNNING");
    assert_ne!(after["pid"], before, "{after}");
    assert_eq!(ctl.expect(&["start", "web:*"], 0).trim(), "web: started");
    daemon.wait_state("web", "RUNNING");

    // What cannot be started says why, with supervisorctl's words.
    assert_eq!(
        ctl.expect(&["start", "nope"], 1).trim(),
        "nope: ERROR (no such process)"
    );
    assert_eq!(
        ctl.expect(&["start", "off"], 7).trim(),
        "off: ERROR (spawn error)"
    );
    assert_eq!(
        ctl.expect(&["status", "nope"], 4).trim(),
        "nope: ERROR (no such process)"
    );

    // stop all / start all: every running program, then every enabled one.
    let stopped_all = ctl.expect(&["stop", "all"], 0);
    let mut lines: Vec<_> = stopped_all.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["idle: stopped", "web: stopped"], "{stopped_all}");
    let started_all = ctl.expect(&["start", "all"], 0);
    let mut lines: Vec<_> = started_all.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["idle: started", "web: started"], "{started_all}");
    assert_eq!(daemon.state_of("off"), "STOPPED");
    assert_eq!(
        ctl.expect(&["pid"], 0).trim(),
        daemon.pid().expect("daemon").to_string()
    );
    assert_eq!(
        ctl.expect(&["pid", "idle"], 0).trim(),
        daemon.pid_of("idle").expect("pid").to_string()
    );
    assert!(ctl.expect(&["version"], 0).starts_with("hoody-daemon "));
    let available = ctl.expect(&["avail"], 0);
    let words: Vec<Vec<&str>> = available
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert!(
        words.contains(&vec!["web", "in", "use", "auto", "999:999"]),
        "{available}"
    );
    assert!(
        words.contains(&vec!["idle", "in", "use", "manual", "999:999"]),
        "{available}"
    );
}

#[test]
fn failed_starts_are_spawn_errors_or_abnormal_terminations() {
    let daemon = TestDaemon::start();
    daemon.put("missing.toml", "command = \"/nonexistent/binary\"\n");
    daemon.put(
        "crash.toml",
        "command = [\"sh\", \"-c\", \"exit 3\"]\nstartretries = 0\n",
    );
    daemon.wait_state("missing", "STOPPED");
    let ctl = Supervisorctl::new(&daemon);
    assert_eq!(
        ctl.expect(&["start", "missing"], 7).trim(),
        "missing: ERROR (spawn error)"
    );
    assert_eq!(
        ctl.expect(&["start", "crash"], 7).trim(),
        "crash: ERROR (abnormal termination)"
    );
    let status = ctl.expect(&["status"], 3);
    let (state, description) = status_of(&status, "missing");
    assert_eq!(state, "FATAL", "{status}");
    assert!(description.contains("/nonexistent/binary"), "{status}");
    assert_eq!(status_of(&status, "crash").0, "FATAL", "{status}");
}

#[test]
fn signal_reaches_the_process() {
    let daemon = TestDaemon::start();
    daemon.put(
        "trap.toml",
        "command = [\"sh\", \"-c\", \"trap 'echo got USR1' USR1; echo ready; while true; do sleep 0.1; done\"]\nboot = true\n",
    );
    daemon.wait_state("trap", "RUNNING");
    let ctl = Supervisorctl::new(&daemon);
    assert_eq!(
        ctl.expect(&["signal", "USR1", "trap"], 0).trim(),
        "trap: signalled"
    );
    let log = daemon.logs.join("trap.stdout.log");
    wait_until(
        "the trap to print",
        20,
        || std::fs::read_to_string(&log).is_ok_and(|text| text.contains("got USR1")),
        || format!("{:?}\n{}", std::fs::read_to_string(&log), daemon.log()),
    );
    assert_eq!(daemon.state_of("trap"), "RUNNING");
    assert_eq!(
        ctl.expect(&["signal", "NOPE", "trap"], 1).trim(),
        "trap: ERROR (bad signal name)"
    );
    ctl.expect(&["stop", "trap"], 0);
    assert_eq!(
        ctl.expect(&["signal", "HUP", "trap"], 7).trim(),
        "trap: ERROR (not running)"
    );
}

fn numbers(lines: &[String], prefix: &str) -> Vec<u64> {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix(prefix))
        .filter_map(|number| number.trim().parse().ok())
        .collect()
}

#[test]
fn tail_and_tail_f() {
    let daemon = TestDaemon::start();
    daemon.put("web.toml", TICKER);
    daemon.put(
        "quiet.toml",
        "command = [\"sh\", \"-c\", \"echo hello from quiet; exec sleep 600\"]\nboot = true\n",
    );
    daemon.wait_state("web", "RUNNING");
    daemon.wait_state("quiet", "RUNNING");
    let stdout_log = daemon.logs.join("web.stdout.log");
    wait_until(
        "web to have written 20 lines",
        20,
        || std::fs::read_to_string(&stdout_log).is_ok_and(|text| text.contains("out 20\n")),
        || daemon.log(),
    );
    let ctl = Supervisorctl::new(&daemon);

    // `tail NAME` reads the last 1600 bytes of stdout; `tail NAME stderr` of stderr.
    let tail = ctl.expect(&["tail", "web"], 0);
    let lines: Vec<String> = tail.lines().map(str::to_string).collect();
    let out = numbers(&lines, "out ");
    assert!(
        out.len() >= 10 && out.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "{tail}"
    );
    assert!(tail.len() <= 1600 + 2, "{} bytes", tail.len());
    let err_tail = ctl.expect(&["tail", "web", "stderr"], 0);
    let lines: Vec<String> = err_tail.lines().map(str::to_string).collect();
    assert!(numbers(&lines, "err ").len() >= 10, "{err_tail}");
    let short = ctl.expect(&["tail", "-10", "web"], 0);
    assert!(short.trim_end_matches('\n').len() <= 10, "{short:?}");
    assert_eq!(
        ctl.expect(&["tail", "nope"], 1).trim(),
        "nope: ERROR (no such process name)"
    );

    // `tail -f` follows: lines written after it began arrive, in order, none lost.
    let following = ctl.follow(&["tail", "-f", "web"]);
    let first = following.read_until("a first line", |line| line.starts_with("out "));
    let start = numbers(&first, "out ").last().copied().unwrap_or(0);
    let seen = following.read_until("20 more lines", |line| {
        line.strip_prefix("out ")
            .and_then(|number| number.trim().parse::<u64>().ok())
            .is_some_and(|number| number >= start + 20)
    });
    let followed = numbers(&seen, "out ");
    assert!(
        followed.windows(2).all(|pair| pair[1] == pair[0] + 1),
        "lost or repeated lines: {followed:?}"
    );
    if let Err(why) = following.interrupt() {
        panic!("tail -f did not end on Ctrl-C: {why}");
    }
    let stderr_following = ctl.follow(&["tail", "-f", "web", "stderr"]);
    stderr_following.read_until("a stderr line", |line| line.starts_with("err "));
    drop(stderr_following);

    // A quiet log: the follower ends when supervisorctl does, though nothing is written (the
    // daemon asks the socket), so no descriptor of the log is left open by it.
    let quiet_log = daemon.logs.join("quiet.stdout.log");
    let readers = || log_descriptors(&daemon, &quiet_log);
    let before = readers();
    let following = ctl.follow(&["tail", "-f", "quiet"]);
    following.read_until("the quiet line", |line| line == "hello from quiet");
    wait_until(
        "the follower to open the log",
        20,
        || readers() > before,
        || daemon.log(),
    );
    if let Err(why) = following.interrupt() {
        panic!("tail -f of a quiet log did not end on Ctrl-C: {why}");
    }
    wait_until(
        "the follower to close the log after tail -f ended",
        20,
        || readers() == before,
        || {
            format!(
                "{} descriptors of {}\n{}",
                readers(),
                quiet_log.display(),
                daemon.log()
            )
        },
    );
}

/// How many of the daemon's descriptors are open on `path`.
fn log_descriptors(daemon: &TestDaemon, path: &std::path::Path) -> usize {
    let Some(pid) = daemon.pid() else { return 0 };
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|entries| {
            entries
                .flatten()
                .filter(|entry| std::fs::read_link(entry.path()).is_ok_and(|target| target == path))
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn supervisorctl_with_a_token() {
    let token = "s3cret-token";
    let daemon = TestDaemon::start_with(&[], Some(token));
    daemon.put("web.toml", TICKER);
    daemon.wait_state("web", "RUNNING");

    // No credentials: supervisorctl says the server wants them.
    let anonymous = Supervisorctl::new(&daemon);
    let refused = anonymous.run(&["status"]);
    assert!(
        refused.stdout.contains("Server requires authentication"),
        "{}",
        refused.describe(&["status"])
    );
    let wrong = Supervisorctl::new(&daemon).with_auth("any", "wrong");
    assert!(
        wrong
            .run(&["status"])
            .stdout
            .contains("Server requires authentication")
    );

    // The token as the password, any user name.
    let ctl = Supervisorctl::new(&daemon).with_auth("whoever", token);
    let status = ctl.expect(&["status"], 0);
    assert_eq!(status_of(&status, "web").0, "RUNNING", "{status}");
    assert_eq!(ctl.expect(&["stop", "web"], 0).trim(), "web: stopped");
    assert_eq!(ctl.expect(&["start", "web"], 0).trim(), "web: started");
    assert_eq!(ctl.expect(&["restart", "web"], 0).lines().count(), 2);
    let tail = ctl.expect(&["tail", "web"], 0);
    assert!(tail.contains("out "), "{tail}");
    let following = ctl.follow(&["tail", "-f", "web"]);
    following.read_until("a followed line", |line| line.starts_with("out "));
    drop(following);

    // /logtail without the token is refused, and with a wrong one.
    let anonymous_tail = anonymous.follow(&["tail", "-f", "web"]);
    let lines = anonymous_tail.read_until("the refusal", |line| line.contains("401"));
    assert!(lines.iter().any(|line| line.contains("401")), "{lines:?}");
}

// ---- raw XML-RPC ---------------------------------------------------------------------------

/// One HTTP exchange on a fresh connection: (status, headers, body).
fn http(daemon: &TestDaemon, request: &[u8]) -> (u16, String, Vec<u8>) {
    let Endpoint::Tcp(host) = &daemon.client.endpoint else {
        panic!("tcp")
    };
    let mut stream = TcpStream::connect(host).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    // The daemon may answer (413) before reading all of a large body.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let split = answer
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(&answer)));
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, head, answer[split + 4..].to_vec())
}

fn post_rpc2(
    daemon: &TestDaemon,
    content_type: &str,
    extra: &str,
    body: &[u8],
) -> (u16, String, Vec<u8>) {
    let Endpoint::Tcp(host) = &daemon.client.endpoint else {
        panic!("tcp")
    };
    let mut request = format!(
        "POST /RPC2 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    http(daemon, &request)
}

/// Calls a method; the value or the fault.
fn rpc(daemon: &TestDaemon, method: &str, params: Vec<Value>) -> Result<Value, Fault> {
    let body = xmlrpc::write_call(&Call {
        method: method.into(),
        params,
    });
    let (status, head, answer) = post_rpc2(daemon, "text/xml", "", &body);
    assert_eq!(
        status,
        200,
        "{method}: {head}\n{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        head.to_ascii_lowercase().contains("content-type: text/xml"),
        "{head}"
    );
    xmlrpc::parse_response(&answer)
        .unwrap_or_else(|error| panic!("{method}: {error}\n{}", String::from_utf8_lossy(&answer)))
}

fn text(value: &str) -> Value {
    Value::from(value)
}

#[test]
fn xml_rpc_methods_answer_as_supervisord_does() {
    let daemon = TestDaemon::start();
    daemon.put("web.toml", TICKER);
    daemon.put("idle.toml", "command = \"sleep 600\"\n");
    daemon.wait_state("web", "RUNNING");

    assert_eq!(
        rpc(&daemon, "supervisor.getVersion", vec![]),
        Ok(text("3.0"))
    );
    assert_eq!(
        rpc(&daemon, "supervisor.getAPIVersion", vec![]),
        Ok(text("3.0"))
    );
    assert_eq!(
        rpc(&daemon, "supervisor.getIdentification", vec![]),
        Ok(text("hoody-daemon"))
    );
    let state = rpc(&daemon, "supervisor.getState", vec![]).expect("state");
    assert_eq!(state.member("statecode"), Some(&Value::Int(1)));
    assert_eq!(state.member("statename"), Some(&text("RUNNING")));
    assert_eq!(
        rpc(&daemon, "supervisor.getPID", vec![]),
        Ok(Value::Int(i64::from(daemon.pid().expect("pid"))))
    );
    let methods = rpc(&daemon, "system.listMethods", vec![]).expect("methods");
    for wanted in [
        "supervisor.getAllProcessInfo",
        "supervisor.startProcess",
        "supervisor.tailProcessStdoutLog",
        "system.multicall",
    ] {
        assert!(
            methods
                .as_array()
                .is_some_and(|names| names.contains(&text(wanted))),
            "{wanted}"
        );
    }
    assert_eq!(
        rpc(
            &daemon,
            "system.methodSignature",
            vec![text("supervisor.startProcess")]
        ),
        Ok(Value::Array(vec![
            text("boolean"),
            text("string"),
            text("boolean")
        ]))
    );

    // getProcessInfo: every field supervisorctl reads.
    let info = rpc(&daemon, "supervisor.getProcessInfo", vec![text("web")]).expect("info");
    let status = daemon.status("web");
    for (field, value) in [
        ("name", text("web")),
        ("group", text("web")),
        ("state", Value::Int(20)),
        ("statename", text("RUNNING")),
        ("pid", Value::Int(status["pid"].as_i64().expect("pid"))),
        (
            "start",
            Value::Int(status["started_at"].as_i64().expect("started_at")),
        ),
        ("spawnerr", text("")),
        ("exitstatus", Value::Int(0)),
        (
            "stdout_logfile",
            text(&daemon.logs.join("web.stdout.log").to_string_lossy()),
        ),
        (
            "stderr_logfile",
            text(&daemon.logs.join("web.stderr.log").to_string_lossy()),
        ),
    ] {
        assert_eq!(info.member(field), Some(&value), "{field}: {info:?}");
    }
    for field in ["stop", "now", "logfile", "description"] {
        assert!(info.member(field).is_some(), "{field}: {info:?}");
    }
    let all = rpc(&daemon, "supervisor.getAllProcessInfo", vec![]).expect("all");
    let names: Vec<_> = all
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|info| info.member("name").and_then(Value::as_str))
        .collect();
    assert_eq!(names, ["idle", "web"]);

    // Faults, with supervisord's codes.
    let code =
        |method: &str, params: Vec<Value>| rpc(&daemon, method, params).expect_err(method).code;
    assert_eq!(code("supervisor.getProcessInfo", vec![text("nope")]), 10);
    assert_eq!(
        code("supervisor.getProcessInfo", vec![text("web:other")]),
        10
    );
    assert_eq!(code("supervisor.nope", vec![]), 1);
    assert_eq!(code("supervisor.shutdown", vec![]), 1);
    assert_eq!(code("supervisor.getProcessInfo", vec![]), 2);
    assert_eq!(code("supervisor.getProcessInfo", vec![Value::Int(1)]), 2);
    assert_eq!(code("supervisor.startProcess", vec![text("web")]), 60);
    assert_eq!(code("supervisor.stopProcess", vec![text("idle")]), 70);
    assert_eq!(
        code("supervisor.signalProcess", vec![text("web"), text("BOGUS")]),
        11
    );
    assert_eq!(
        code(
            "supervisor.readProcessStdoutLog",
            vec![text("web"), Value::Int(-5), Value::Int(3)]
        ),
        3
    );
    assert_eq!(
        code(
            "supervisor.readProcessStdoutLog",
            vec![text("idle"), Value::Int(0), Value::Int(0)]
        ),
        20
    );
    assert_eq!(code("system.methodHelp", vec![text("nope")]), 4);

    // Log reads by byte offset, as readFile and tailFile do.
    let log = daemon.logs.join("web.stdout.log");
    wait_until(
        "web's log to hold 100 bytes",
        20,
        || std::fs::metadata(&log).is_ok_and(|metadata| metadata.len() >= 100),
        || daemon.log(),
    );
    let head = rpc(
        &daemon,
        "supervisor.readProcessStdoutLog",
        vec![text("web"), Value::Int(0), Value::Int(10)],
    )
    .expect("read");
    assert_eq!(head, text("out 1\nout "));
    let last = rpc(
        &daemon,
        "supervisor.readProcessStdoutLog",
        vec![text("web"), Value::Int(-6), Value::Int(0)],
    )
    .expect("read the end");
    assert_eq!(last.as_str().map(str::len), Some(6));
    let tail = rpc(
        &daemon,
        "supervisor.tailProcessStdoutLog",
        vec![text("web"), Value::Int(0), Value::Int(20)],
    )
    .expect("tail");
    let items = tail.as_array().expect("[bytes, offset, overflow]");
    assert_eq!(items.len(), 3);
    assert!(
        items[0].as_str().is_some_and(|bytes| bytes.len() == 20),
        "{tail:?}"
    );
    assert!(
        items[1].as_int().is_some_and(|offset| offset >= 100),
        "{tail:?}"
    );
    assert_eq!(items[2], Value::Bool(true));
    // Within `length` of the offset, tailFile answers the log's last bytes up to its end (which
    // may repeat bytes before the offset: supervisord's tailFile does the same).
    let offset = items[1].as_int().expect("offset");
    wait_until(
        "more output",
        20,
        || std::fs::metadata(&log).is_ok_and(|metadata| metadata.len() as i64 > offset),
        || daemon.log(),
    );
    let next = rpc(
        &daemon,
        "supervisor.tailProcessStdoutLog",
        vec![text("web"), Value::Int(offset), Value::Int(1 << 20)],
    )
    .expect("tail on");
    let items = next.as_array().expect("array");
    assert_eq!(items[2], Value::Bool(false));
    let end = usize::try_from(items[1].as_int().expect("offset")).expect("offset");
    assert!(end as i64 > offset, "{next:?}");
    let bytes = std::fs::read(&log).expect("log");
    let fresh = items[0].as_str().expect("bytes");
    assert_eq!(fresh.as_bytes(), &bytes[end - fresh.len()..end]);

    // clearProcessLogs empties the files; the writer goes on from the start (no hole).
    assert_eq!(
        rpc(&daemon, "supervisor.clearProcessLogs", vec![text("web")]),
        Ok(Value::Bool(true))
    );
    wait_until(
        "new output after the clear",
        20,
        || std::fs::read(&log).is_ok_and(|bytes| bytes.starts_with(b"out ")),
        || format!("{:?}", std::fs::read(&log).map(|bytes| bytes.len())),
    );
    let cleared = std::fs::read(&log).expect("log");
    assert!(!cleared.contains(&0), "a hole of zeros after the clear");
    assert!(cleared.len() < bytes.len(), "not emptied");

    // system.multicall: each call answered in order, faults in place.
    let call = |method: &str, params: Vec<Value>| {
        Value::structure([
            ("methodName", text(method)),
            ("params", Value::Array(params)),
        ])
    };
    let results = rpc(
        &daemon,
        "system.multicall",
        vec![Value::Array(vec![
            call("supervisor.getAPIVersion", vec![]),
            call("supervisor.getProcessInfo", vec![text("nope")]),
            call("system.multicall", vec![]),
            call("supervisor.startProcess", vec![text("idle")]),
        ])],
    )
    .expect("multicall");
    let results = results.as_array().expect("array");
    assert_eq!(results[0], Value::Array(vec![text("3.0")]));
    assert_eq!(results[1].member("faultCode"), Some(&Value::Int(10)));
    assert_eq!(results[2].member("faultCode"), Some(&Value::Int(2)));
    assert_eq!(results[3], Value::Array(vec![Value::Bool(true)]));
    assert_eq!(daemon.state_of("idle"), "RUNNING");

    // startAllProcesses / stopAllProcesses answer one struct per program.
    let stopped = rpc(&daemon, "supervisor.stopAllProcesses", vec![]).expect("stop all");
    let items = stopped.as_array().expect("array");
    assert_eq!(items.len(), 2, "{stopped:?}");
    for item in items {
        assert_eq!(item.member("status"), Some(&Value::Int(80)), "{item:?}");
        assert_eq!(item.member("description"), Some(&text("OK")));
    }
    assert_eq!(daemon.state_of("web"), "STOPPED");

    // reloadConfig: when it answers, every file is in effect.
    daemon.put("late.toml", "command = \"sleep 600\"\n");
    let reloaded = rpc(&daemon, "supervisor.reloadConfig", vec![]).expect("reload");
    let lists = reloaded
        .as_array()
        .and_then(|outer| outer.first())
        .and_then(Value::as_array);
    assert_eq!(lists.map(<[Value]>::len), Some(3), "{reloaded:?}");
    let info = rpc(&daemon, "supervisor.getProcessInfo", vec![text("late")]);
    assert!(info.is_ok(), "{info:?}");
    assert_eq!(
        rpc(&daemon, "supervisor.reloadConfig", vec![]),
        Ok(Value::Array(vec![Value::Array(vec![
            Value::Array(vec![]),
            Value::Array(vec![]),
            Value::Array(vec![])
        ])]))
    );
}

#[test]
fn hostile_xml_is_refused_and_the_daemon_carries_on() {
    let daemon = TestDaemon::start();
    daemon.put("web.toml", "command = \"sleep 600\"\nboot = true\n");
    daemon.wait_state("web", "RUNNING");
    let billion_laughs = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n{}]>\n<methodCall><methodName>&lol9;</methodName></methodCall>",
        (1..10)
            .map(|level| format!(
                "<!ENTITY lol{level} \"{}\">\n",
                format!(
                    "&lol{};",
                    if level == 1 {
                        String::new()
                    } else {
                        (level - 1).to_string()
                    }
                )
                .repeat(10)
            ))
            .collect::<String>()
    );
    let external = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/shadow\">]><methodCall><methodName>supervisor.getProcessInfo</methodName><params><param><value>&xxe;</value></param></params></methodCall>";
    let deep = format!(
        "<methodCall><methodName>supervisor.getState</methodName><params><param>{}{}</param></params></methodCall>",
        "<value><array><data>".repeat(10_000),
        "</data></array></value>".repeat(10_000)
    );
    let huge_number = format!(
        "<methodCall><methodName>supervisor.readProcessStdoutLog</methodName><params><param><value><string>web</string></value></param><param><value><int>{}</int></value></param><param><value><int>0</int></value></param></params></methodCall>",
        "9".repeat(500_000)
    );
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "billion laughs",
            billion_laughs.into_bytes(),
            "DOCTYPE is refused",
        ),
        (
            "external entity",
            external.as_bytes().to_vec(),
            "DOCTYPE is refused",
        ),
        (
            "10,000 nested arrays",
            deep.into_bytes(),
            "nested more than 32 deep",
        ),
        (
            "a 500,000-digit int",
            huge_number.into_bytes(),
            "at most 64 are accepted",
        ),
        (
            "not XML",
            b"{\"method\": \"x\"}".to_vec(),
            "text outside the root element",
        ),
        (
            "not UTF-8",
            b"<methodCall><methodName>\xff</methodName></methodCall>".to_vec(),
            "not UTF-8",
        ),
        (
            "an undeclared entity",
            b"<methodCall><methodName>&x;</methodName></methodCall>".to_vec(),
            "entity &x; is refused",
        ),
    ];
    for (what, body, reason) in cases {
        let (status, head, answer) = post_rpc2(&daemon, "text/xml", "", &body);
        let answer: serde_json::Value = serde_json::from_slice(&answer)
            .unwrap_or_else(|_| panic!("{what}: {head}\n{}", String::from_utf8_lossy(&answer)));
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_xml", "{what}: {answer}");
        let message = answer["message"].as_str().unwrap_or_default();
        assert!(message.contains(reason), "{what}: {message}");
        assert!(
            !message.contains("root:"),
            "{what}: a file's content leaked: {message}"
        );
    }

    // Over 1 MiB: 413, as every other route.
    let big = format!(
        "<methodCall><methodName>a</methodName><params><param><value><string>{}</string></value></param></params></methodCall>",
        "x".repeat(1 << 20)
    );
    let (status, _, answer) = post_rpc2(&daemon, "text/xml", "", big.as_bytes());
    assert_eq!(status, 413, "{}", String::from_utf8_lossy(&answer));

    // Only text/xml; and what a page sends is refused before anything runs.
    let stop = xmlrpc::write_call(&Call {
        method: "supervisor.stopProcess".into(),
        params: vec![text("web")],
    });
    for (content_type, extra, expected) in [
        ("text/plain", "", 415),
        ("application/x-www-form-urlencoded", "", 415),
        ("application/json", "", 415),
        ("text/xml", "Origin: http://evil.example\r\n", 403),
        ("text/xml", "Origin: null\r\n", 403),
        ("text/xml", "Sec-Fetch-Site: cross-site\r\n", 403),
    ] {
        let (status, head, answer) = post_rpc2(&daemon, content_type, extra, &stop);
        assert_eq!(
            status,
            expected,
            "{content_type} {extra}: {head}\n{}",
            String::from_utf8_lossy(&answer)
        );
    }
    let Endpoint::Tcp(host) = &daemon.client.endpoint else {
        panic!("tcp")
    };
    let (status, _, _) = http(
        &daemon,
        format!("GET /logtail/web HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\nSec-Fetch-Site: cross-site\r\n\r\n").as_bytes(),
    );
    assert_eq!(status, 403);
    assert_eq!(
        daemon.state_of("web"),
        "RUNNING",
        "a refused request stopped it"
    );

    // After all that, the daemon answers as before.
    assert_eq!(
        rpc(&daemon, "supervisor.getVersion", vec![]),
        Ok(text("3.0"))
    );
    let (status, _) = daemon.get("/health");
    assert_eq!(status, 200);
}
