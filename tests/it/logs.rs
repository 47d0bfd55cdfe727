//! Logs that people and containers want (SPEC §13): timestamps on stored lines, the console
//! copy for `docker logs`, the merged logs of every program, one program's two streams in time
//! order, the log budget, and followers woken by inotify with a bound on what they cost.

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::support::{TestDaemon, vm_kib, wait_until};
use hoody_daemon::cli::client::Endpoint;

/// `2026-12-01T08:00:00.123Z ` at the start of a line: its time in milliseconds.
fn stamp_of(line: &str) -> Option<i64> {
    let bytes = line.as_bytes();
    if bytes.len() < 25 || bytes[24] != b' ' {
        return None;
    }
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (byte, want) in bytes[..24].iter().zip(shape.bytes()) {
        let fits = if want == b'd' {
            byte.is_ascii_digit()
        } else {
            *byte == want
        };
        if !fits {
            return None;
        }
    }
    let number = |range: std::ops::Range<usize>| line[range].parse::<i64>().ok();
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second, milli) = (
        number(11..13)?,
        number(14..16)?,
        number(17..19)?,
        number(20..23)?,
    );
    // Days from the civil date (the inverse of what the daemon writes).
    let year_shifted = if month <= 2 { year - 1 } else { year };
    let era = year_shifted.div_euclid(400);
    let year_of_era = year_shifted.rem_euclid(400);
    let month_shifted = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_shifted + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + milli)
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis() as i64)
        .unwrap_or(0)
}

/// A server-sent event stream read by hand, with a read timeout so a deadline can be kept.
struct Events {
    reader: BufReader<TcpStream>,
    partial: String,
    event: String,
}

impl Events {
    fn open(daemon: &TestDaemon, path: &str) -> Events {
        let stream = connect(daemon, path);
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        Events {
            reader: BufReader::new(stream),
            partial: String::new(),
            event: String::new(),
        }
    }

    /// The next `(event, data)`, or `None` when the deadline passes or the stream ends.
    fn next(&mut self, deadline: Instant) -> Option<(String, String)> {
        while Instant::now() < deadline {
            match self.reader.read_line(&mut self.partial) {
                Ok(0) => return None,
                Ok(_) => {
                    let line = std::mem::take(&mut self.partial);
                    let line = line.trim_end_matches(['\r', '\n']);
                    if let Some(event) = line.strip_prefix("event: ") {
                        self.event = event.to_string();
                    } else if let Some(data) = line.strip_prefix("data: ") {
                        return Some((std::mem::take(&mut self.event), data.to_string()));
                    }
                }
                // A timeout may leave half a line in `partial`: the rest follows.
                Err(_) => continue,
            }
        }
        None
    }
}

/// A connection that has sent `GET path` and reads nothing yet.
fn connect(daemon: &TestDaemon, path: &str) -> TcpStream {
    let Endpoint::Tcp(host) = &daemon.client.endpoint else {
        panic!("tcp")
    };
    let mut stream = TcpStream::connect(host).expect("connect");
    write!(
        stream,
        "GET /api/v1/daemon{path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .expect("send");
    stream
}

fn lines_of(daemon: &TestDaemon, path: &str) -> Vec<Value> {
    let (code, body) = daemon.get(path);
    assert_eq!(code, 200, "{body}");
    body["data"]["lines"].as_array().expect("lines").clone()
}

/// `data.lines`, or none while the program is not there yet (for waits).
fn lines_so_far(daemon: &TestDaemon, path: &str) -> Vec<Value> {
    let (_, body) = daemon.get(path);
    body["data"]["lines"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn timestamps_prefix_every_stored_line_and_never_cut_one() {
    let daemon = TestDaemon::start_with(&["--log-timestamps"], None);
    // A line of 200 KB (longer than any pipe buffer), a line written in two pieces 300 ms
    // apart, and short lines; on stdout (captured, rotating) and on stderr that never rotates
    // (captured too: the daemon must see the lines to stamp them).
    daemon.put(
        "stamped.toml",
        "command = [\"sh\", \"-c\", \"echo first; head -c 200000 /dev/zero | tr '\\\\0' z; echo; printf part; sleep 0.3; echo ial; echo err-1 >&2; echo last; sleep 1000\"]\n\
         boot = true\nstartsecs = 0\nstderr_logfile_maxbytes = 0\n",
    );
    daemon.put(
        "plain.toml",
        "command = [\"sh\", \"-c\", \"echo unstamped; sleep 1000\"]\nboot = true\nstartsecs = 0\nlog_timestamps = false\n",
    );
    let started = now_millis();
    let stdout_log = daemon.logs.join("stamped.stdout.log");
    wait_until(
        "the last line of stamped",
        30,
        || fs::read_to_string(&stdout_log).is_ok_and(|text| text.ends_with("last\n")),
        || daemon.log(),
    );
    let text = fs::read_to_string(&stdout_log).expect("log");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{:?}", &text[..text.len().min(300)]);
    let expected = [
        "first".to_string(),
        "z".repeat(200_000),
        "partial".to_string(),
        "last".to_string(),
    ];
    for (line, want) in lines.iter().zip(&expected) {
        let time = stamp_of(line).unwrap_or_else(|| panic!("no stamp: {:.80}", line));
        assert!(
            time >= started - 60_000 && time <= now_millis() + 1_000,
            "stamp {time} is not about now ({started}): {:.40}",
            line
        );
        assert_eq!(&line[25..], want.as_str(), "after the stamp");
    }
    // One stamp per line: none inside the long line or the one written in two pieces.
    assert_eq!(text.matches('T').count(), 4, "a stamp inside a line");
    let stderr_log = daemon.logs.join("stamped.stderr.log");
    wait_until(
        "stderr",
        30,
        || fs::read_to_string(&stderr_log).is_ok_and(|text| text.ends_with("err-1\n")),
        || daemon.log(),
    );
    let stderr = fs::read_to_string(&stderr_log).expect("stderr log");
    assert!(stamp_of(&stderr).is_some(), "{stderr}");
    // `log_timestamps = false` beats the daemon's default.
    let plain = daemon.logs.join("plain.stdout.log");
    wait_until(
        "plain",
        30,
        || fs::read_to_string(&plain).is_ok_and(|text| !text.is_empty()),
        || daemon.log(),
    );
    assert_eq!(fs::read_to_string(&plain).expect("plain"), "unstamped\n");
    // The API gives the stamp as the line's time.
    let lines = lines_of(&daemon, "/programs/stamped/logs?stream=all&lines=3");
    assert_eq!(lines.len(), 3, "{lines:?}");
    let last = lines
        .iter()
        .find(|line| line["line"] == "last")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(last["stream"], "stdout");
    assert!(
        last["time"]
            .as_str()
            .is_some_and(|time| stamp_of(&format!("{time} ")).is_some()),
        "{lines:?}"
    );
    let plain = lines_of(&daemon, "/programs/plain/logs?stream=all");
    assert_eq!(plain.len(), 1, "{plain:?}");
    assert!(plain[0]["time"].is_null(), "{plain:?}");
}

fn console_daemon(format: &[&str]) -> TestDaemon {
    let mut args = vec!["--log-console"];
    args.extend_from_slice(format);
    let daemon = TestDaemon::start_with(&args, None);
    daemon.put(
        "web.toml",
        "command = [\"sh\", \"-c\", \"i=0; while [ $i -lt 3 ]; do i=$((i+1)); echo out-$i; echo err-$i >&2; done; sleep 1000\"]\nboot = true\nstartsecs = 0\n",
    );
    // No log files at all: the console is where its output goes.
    daemon.put(
        "nofiles.toml",
        "command = [\"sh\", \"-c\", \"echo only-console; sleep 1000\"]\nboot = true\nstartsecs = 0\nstdout_logfile = \"none\"\n",
    );
    daemon.put(
        "quiet.toml",
        "command = [\"sh\", \"-c\", \"echo secret-out; echo secret-err >&2; sleep 1000\"]\nboot = true\nstartsecs = 0\nconsole = false\n",
    );
    daemon
}

#[test]
fn console_copies_every_line_to_the_daemons_stdout_and_stderr() {
    let daemon = console_daemon(&[]);
    wait_until(
        "console lines",
        30,
        || {
            let out = daemon.stdout_text();
            out.contains("web | out-3\n")
                && out.contains("nofiles | only-console\n")
                && daemon.stderr_text().contains("web | err-3\n")
        },
        || format!("stdout:\n{}\n{}", daemon.stdout_text(), daemon.log()),
    );
    let out = daemon.stdout_text();
    let web: Vec<&str> = out
        .lines()
        .filter(|line| line.starts_with("web | "))
        .collect();
    assert_eq!(web, ["web | out-1", "web | out-2", "web | out-3"], "{out}");
    assert!(!out.contains("err-"), "stderr lines go to stderr: {out}");
    // The quiet program wrote its log files, and nothing to the console.
    wait_until(
        "quiet's logs",
        30,
        || {
            fs::read_to_string(daemon.logs.join("quiet.stdout.log"))
                .is_ok_and(|text| text == "secret-out\n")
        },
        || daemon.log(),
    );
    // (The daemon's own log names the program's command in its diff: look for console lines.)
    assert!(!out.contains("quiet |") && !daemon.stderr_text().contains("quiet |"));
    // The log files still get every line.
    assert_eq!(
        fs::read_to_string(daemon.logs.join("web.stdout.log")).expect("log"),
        "out-1\nout-2\nout-3\n"
    );
    // stdout_logfile = "none" keeps no file, and the API says so.
    assert!(!daemon.logs.join("nofiles.stdout.log").exists());
    let (_, body) = daemon.get("/programs/nofiles/logs");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|message| message.contains("keeps no stdout")),
        "{body}"
    );
    let shown = daemon.cli(&["programs", "logs", "nofiles"]);
    assert!(
        String::from_utf8_lossy(&shown.stderr).contains("nofiles keeps no stdout"),
        "{shown:?}"
    );
}

#[test]
fn console_json_writes_one_object_a_line() {
    let daemon = console_daemon(&["--log-console-format", "json"]);
    wait_until(
        "console lines",
        30,
        || {
            daemon.stdout_text().lines().count() >= 4
                && daemon.stderr_text().contains("\"line\":\"err-3\"")
        },
        || format!("stdout:\n{}\n{}", daemon.stdout_text(), daemon.log()),
    );
    let out = daemon.stdout_text();
    let objects: Vec<Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let web: Vec<&Value> = objects
        .iter()
        .filter(|object| object["program"] == "web")
        .collect();
    assert_eq!(web.len(), 3, "{out}");
    for (number, object) in web.iter().enumerate() {
        assert_eq!(object["stream"], "stdout", "{object}");
        assert_eq!(object["line"], format!("out-{}", number + 1), "{object}");
        let time = object["time"].as_str().expect("time");
        assert!(stamp_of(&format!("{time} ")).is_some(), "{object}");
        let keys: Vec<&String> = object.as_object().expect("object").keys().collect();
        assert_eq!(keys.len(), 4, "{object}");
    }
    let err_line = daemon
        .stderr_text()
        .lines()
        .find(|line| line.contains("\"line\":\"err-3\""))
        .map(str::to_string)
        .expect("stderr line");
    let object: Value = serde_json::from_str(&err_line).expect("JSON on stderr");
    assert_eq!(
        (&object["program"], &object["stream"]),
        (&Value::from("web"), &Value::from("stderr"))
    );
}

#[test]
fn merged_logs_of_three_programs_come_in_time_order() {
    let daemon = TestDaemon::start_with(&["--log-timestamps"], None);
    for name in ["alpha", "beta", "gamma"] {
        daemon.put(
            &format!("{name}.toml"),
            &format!(
                "command = [\"sh\", \"-c\", \"i=0; while true; do i=$((i+1)); echo {name}-$i; sleep 0.05; done\"]\nboot = true\nstartsecs = 0\n"
            ),
        );
    }
    wait_until(
        "ten lines of each",
        30,
        || {
            let lines = lines_so_far(&daemon, "/logs?lines=1000");
            ["alpha", "beta", "gamma"]
                .iter()
                .all(|name| lines.iter().filter(|line| line["program"] == *name).count() >= 10)
        },
        || daemon.log(),
    );
    let lines = lines_of(&daemon, "/logs?lines=24");
    assert_eq!(lines.len(), 24, "{lines:?}");
    let times: Vec<i64> = lines
        .iter()
        .map(|line| stamp_of(&format!("{} ", line["time"].as_str().expect("time"))).expect("stamp"))
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{lines:?}");
    for name in ["alpha", "beta", "gamma"] {
        let numbers: Vec<u64> = lines
            .iter()
            .filter(|line| line["program"] == name)
            .map(|line| {
                assert_eq!(line["stream"], "stdout");
                line["line"]
                    .as_str()
                    .and_then(|text| text.strip_prefix(&format!("{name}-")))
                    .and_then(|number| number.parse().ok())
                    .unwrap_or_else(|| panic!("{line}"))
            })
            .collect();
        assert!(numbers.len() >= 4, "{name}: {lines:?}");
        assert!(
            numbers.windows(2).all(|pair| pair[1] == pair[0] + 1),
            "{name}: {numbers:?}"
        );
    }
    // Some programs only.
    let two = lines_of(&daemon, "/logs?lines=10&programs=alpha,gamma");
    assert!(two.iter().all(|line| line["program"] != "beta"), "{two:?}");
    let (code, _) = daemon.get("/logs?programs=nosuch");
    assert_eq!(code, 404);
    // The CLI: `NAME stream | line`.
    let printed = daemon.cli(&["logs", "-n", "6", "beta"]);
    let text = String::from_utf8_lossy(&printed.stdout);
    let shown: Vec<&str> = text.lines().collect();
    assert_eq!(shown.len(), 6, "{printed:?}");
    for line in shown {
        let rest = line.strip_prefix("beta stdout | ").expect(line);
        assert!(
            stamp_of(rest).is_some() && rest[25..].starts_with("beta-"),
            "{line}"
        );
    }
    let all = daemon.cli(&["logs", "-n", "30"]);
    let text = String::from_utf8_lossy(&all.stdout);
    for name in ["alpha", "beta", "gamma"] {
        assert!(text.contains(&format!("{name} stdout | ")), "{text}");
    }
}

#[test]
fn one_programs_two_streams_come_as_one_list_in_time_order() {
    let daemon = TestDaemon::start_with(&["--log-timestamps"], None);
    daemon.put(
        "both.toml",
        "command = [\"sh\", \"-c\", \"i=0; while [ $i -lt 20 ]; do i=$((i+1)); echo out-$i; sleep 0.05; echo err-$i >&2; sleep 0.05; done; sleep 1000\"]\nboot = true\nstartsecs = 0\n",
    );
    wait_until(
        "forty lines",
        30,
        || lines_so_far(&daemon, "/programs/both/logs?stream=all&lines=100").len() == 40,
        || daemon.log(),
    );
    let lines = lines_of(&daemon, "/programs/both/logs?stream=all&lines=100");
    let times: Vec<i64> = lines
        .iter()
        .map(|line| stamp_of(&format!("{} ", line["time"].as_str().expect("time"))).expect("stamp"))
        .collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "{lines:?}");
    for (stream, prefix) in [("stdout", "out-"), ("stderr", "err-")] {
        let numbers: Vec<u64> = lines
            .iter()
            .filter(|line| line["stream"] == stream)
            .filter_map(|line| line["line"].as_str()?.strip_prefix(prefix)?.parse().ok())
            .collect();
        assert_eq!(
            numbers,
            (1..=20).collect::<Vec<u64>>(),
            "{stream}: {lines:?}"
        );
    }
    // Interleaved as written (50 ms apart), not one stream after the other.
    let switches = lines
        .windows(2)
        .filter(|pair| pair[0]["stream"] != pair[1]["stream"])
        .count();
    assert!(switches >= 20, "{switches} switches: {lines:?}");
    // `programs logs` labels the two streams.
    let printed = daemon.cli(&["programs", "logs", "both", "-n", "4"]);
    let text = String::from_utf8_lossy(&printed.stdout);
    let shown: Vec<&str> = text.lines().collect();
    assert_eq!(shown.len(), 4, "{printed:?}");
    assert!(
        shown
            .iter()
            .all(|line| line.starts_with("stdout | ") || line.starts_with("stderr | ")),
        "{shown:?}"
    );
}

/// The bytes the logs (each with its rotated files) held at one instant, or less, never more.
///
/// A look at many files is not one instant: the daemon deletes the oldest rotated files of
/// one log while it writes to another, so adding up sizes read one after the other can count
/// bytes that were never all there at once (CI saw 8 KB too many). So every file is opened
/// and its size read through the open descriptor, then, once all are open, each one that still
/// has a name is kept. A kept file existed at the instant the second pass began (a deleted file
/// never comes back) and held at least the size read (a log file only grows or is renamed), so
/// the sum is at most what the logs held at that instant. Files are told apart by inode: one
/// renamed during the look (`file.1` to `file.2`) is counted once.
fn logs_at_one_instant(paths: &[PathBuf], backups: u32) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut open: Vec<(fs::File, u64)> = Vec::new();
    for path in paths {
        for number in (0..=backups).rev() {
            let mut name = path.as_os_str().to_os_string();
            if number > 0 {
                name.push(format!(".{number}"));
            }
            if let Ok(file) = fs::File::open(&name) {
                let size = file.metadata().map_or(0, |metadata| metadata.len());
                open.push((file, size));
            }
        }
    }
    let mut kept: std::collections::HashMap<(u64, u64), u64> = std::collections::HashMap::new();
    for (file, size) in &open {
        let Ok(metadata) = file.metadata() else {
            continue;
        };
        if metadata.nlink() > 0 {
            let seen = kept.entry((metadata.dev(), metadata.ino())).or_insert(0);
            *seen = (*seen).max(*size);
        }
    }
    kept.values().sum()
}

#[test]
fn the_log_budget_holds_with_three_chatty_programs() {
    const BUDGET: u64 = 2 << 20;
    const MAX_BYTES: u64 = 100 << 10;
    const BACKUPS: u32 = 60;
    let daemon = TestDaemon::start_with(&["--log-budget", "2MB"], None);
    // Each writes 6 MB (18 MB in all, 9 times the budget), then sleeps.
    for name in ["one", "two", "three"] {
        daemon.put(
            &format!("{name}.toml"),
            &format!(
                "command = [\"sh\", \"-c\", \"head -c 6000000 /dev/zero | tr '\\\\0' x | fold -w 99; echo {name}-done; sleep 1000\"]\n\
                 boot = true\nstartsecs = 0\nstdout_logfile_maxbytes = \"100KB\"\nstdout_logfile_backups = {BACKUPS}\n"
            ),
        );
    }
    let paths: Vec<PathBuf> = ["one", "two", "three"]
        .iter()
        .map(|name| daemon.logs.join(format!("{name}.stdout.log")))
        .collect();
    let total = || logs_at_one_instant(&paths, BACKUPS);
    let mut most = 0;
    let done = |name: &str| {
        fs::read_to_string(daemon.logs.join(format!("{name}.stdout.log")))
            .is_ok_and(|text| text.ends_with(&format!("{name}-done\n")))
    };
    wait_until(
        "every program wrote its 6 MB",
        60,
        || {
            most = most.max(total());
            ["one", "two", "three"].iter().all(|name| done(name))
        },
        || daemon.log(),
    );
    most = most.max(total());
    assert!(
        most <= BUDGET + MAX_BYTES,
        "the logs took {most} bytes; the budget is {BUDGET} + {MAX_BYTES}"
    );
    // Current files are never deleted; rotated ones were kept up to the budget, the oldest
    // went (without the budget each log would have about 60 backups).
    let end = total();
    assert!(end >= BUDGET / 2, "only {end} bytes were kept");
    let mut rotated_kept = 0;
    for name in ["one", "two", "three"] {
        assert!(daemon.logs.join(format!("{name}.stdout.log")).exists());
        assert!(
            !daemon
                .logs
                .join(format!("{name}.stdout.log.{BACKUPS}"))
                .exists()
        );
        rotated_kept += (1..=BACKUPS)
            .filter(|number| {
                daemon
                    .logs
                    .join(format!("{name}.stdout.log.{number}"))
                    .exists()
            })
            .count();
    }
    assert!(
        (5..=25).contains(&rotated_kept),
        "{rotated_kept} rotated files of 100 KB kept within a 2 MB budget"
    );
}

#[test]
fn a_follower_sees_a_new_line_within_100_ms_and_sleeps_meanwhile() {
    let daemon = TestDaemon::start();
    let fifo = daemon.root.path().join("input");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    // `cat` copies what the test writes into its stdout at once: captured (rotating) and
    // direct (never rotating) logs.
    daemon.put(
        "relay.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"exec 3<>{0}; cat <&3\"]\nboot = true\nstartsecs = 0\n",
            fifo.display()
        ),
    );
    daemon.wait_state("relay", "RUNNING");
    let mut input = fs::OpenOptions::new()
        .write(true)
        .open(&fifo)
        .expect("open fifo");
    let mut events = Events::open(
        &daemon,
        "/programs/relay/logs?follow=true&stream=stdout&lines=0",
    );
    // The follower is subscribed once a first line comes through (lines written before it
    // was are not sent: it asked for no earlier line).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(
            Instant::now() < deadline,
            "no line followed\n{}",
            daemon.log()
        );
        writeln!(input, "hello").expect("write");
        if let Some((_, first)) = events.next(Instant::now() + Duration::from_millis(500)) {
            assert_eq!(first, "hello");
            break;
        }
    }
    // Take the hellos still on their way: everything up to a line written after them (a
    // quiet gap of a fixed length would not do: under load a hello can be later than that,
    // and would then wake the API thread in the idle window below).
    writeln!(input, "synced").expect("write");
    loop {
        let (_, line) = events
            .next(Instant::now() + Duration::from_secs(20))
            .unwrap_or_else(|| panic!("the synced line never came\n{}", daemon.log()));
        if line == "synced" {
            break;
        }
        assert_eq!(line, "hello");
    }

    // Idle: the API thread does not wake while nothing is written (no polling timer).
    let pid = daemon.pid().expect("pid");
    let api_switches = || -> u64 {
        let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
        tasks
            .filter_map(Result::ok)
            .filter(|task| {
                fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.trim() == "api")
            })
            .map(|task| {
                fs::read_to_string(task.path().join("status"))
                    .unwrap_or_default()
                    .lines()
                    .filter(|line| line.contains("ctxt_switches"))
                    .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                    .sum::<u64>()
            })
            .sum()
    };
    let before = api_switches();
    std::thread::sleep(Duration::from_secs(2));
    let idle = api_switches() - before;
    assert!(
        idle <= 2,
        "the API thread woke {idle} times in 2 s of silence"
    );

    let mut delays = Vec::new();
    for mark in 0..20 {
        let sent = Instant::now();
        writeln!(input, "mark {mark}").expect("write");
        let (_, data) = events
            .next(Instant::now() + Duration::from_secs(20))
            .unwrap_or_else(|| panic!("mark {mark} never came\n{}", daemon.log()));
        delays.push(sent.elapsed());
        assert_eq!(data, format!("mark {mark}"));
        std::thread::sleep(Duration::from_millis(20));
    }
    delays.sort();
    let median = delays[delays.len() / 2];
    assert!(
        median <= Duration::from_millis(100),
        "median {median:?} from write to event: {delays:?}"
    );
}

#[test]
fn four_hundred_idle_followers_cost_little_and_status_stays_fast() {
    let daemon = TestDaemon::start();
    // About 10 MB/s of 100-byte lines, into a log that never rotates.
    daemon.put(
        "flood.toml",
        "command = [\"sh\", \"-c\", \"while true; do head -c 1000000 /dev/zero | tr '\\\\0' y | fold -w 99; sleep 0.1; done\"]\n\
         boot = true\nstartsecs = 0\nstdout_logfile_maxbytes = 0\n",
    );
    daemon.wait_state("flood", "RUNNING");
    let log = daemon.logs.join("flood.stdout.log");
    let size = || fs::metadata(&log).map_or(0, |metadata| metadata.len());
    // One follower that reads, so the watch exists and the baseline includes it.
    let mut reader = Events::open(&daemon, "/programs/flood/logs?follow=true&lines=1");
    reader
        .next(Instant::now() + Duration::from_secs(20))
        .expect("a followed line");
    drop(reader);
    let pid = daemon.pid().expect("pid");
    let grown = size();
    wait_until(
        "5 MB more",
        30,
        || size() > grown + (5 << 20),
        || daemon.log(),
    );
    let baseline = vm_kib(pid, "VmRSS");

    let mut followers: Vec<TcpStream> = (0..400)
        .map(|_| connect(&daemon, "/programs/flood/logs?follow=true&lines=100"))
        .collect();
    // Status stays fast while they connect and fall behind.
    let mut slowest = Duration::ZERO;
    let mut timeline = Vec::new();
    let began = Instant::now();
    let start = size();
    // Every follower falls far behind: the program writes 40 MB more than any of them read.
    wait_until(
        "40 MB more output",
        60,
        || {
            let asked = Instant::now();
            let (code, _) = daemon.get("/status");
            slowest = slowest.max(asked.elapsed());
            timeline.push((
                asked.duration_since(began).as_millis(),
                asked.elapsed().as_millis(),
            ));
            code == 200 && size() > start + (40 << 20)
        },
        || daemon.log(),
    );
    let settled: Vec<u64> = (0..3)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(500));
            vm_kib(pid, "VmRSS")
        })
        .collect();
    let added = settled
        .iter()
        .max()
        .copied()
        .unwrap_or(0)
        .saturating_sub(baseline);
    eprintln!("400 idle followers: +{added} KiB RSS, slowest GET /status {slowest:?}");
    // 11–14 MiB alone, 17 MiB once in a loaded full run: hyper's buffers and frames (about
    // 16 KiB a connection), the initial lines each has queued, and the peak of the 4 KiB reads
    // of followers woken together, which the allocator keeps. The bug this guards against
    // took 1.1 GB (it grew with the output: 40 MB went by here).
    assert!(
        added < 24 * 1024,
        "400 idle followers added {added} KiB (RSS {baseline} KiB → {settled:?})"
    );
    // Generous bounds (this is a debug build on a shared machine; the figure of a release
    // build is in docs/PERFORMANCE.md): before this work one GET /status took over 30 s here.
    assert!(
        slowest < Duration::from_secs(10),
        "GET /status took {slowest:?} with 400 idle followers (daemon CPU {:.1} s): {timeline:?}",
        crate::support::cpu_seconds(pid)
    );
    for _ in 0..5 {
        let asked = Instant::now();
        let (code, _) = daemon.get("/status");
        assert_eq!(code, 200);
        // The same bound as above: what this guards is the starvation found before (tens of
        // seconds), not a speed, which the benchmark measures. A 2 s bound here failed at
        // 2.01 s on a machine with a load of 7 while the flood still wrote.
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "GET /status took {:?} once the 400 followers had settled",
            asked.elapsed()
        );
    }
    // A dropped follower is told why when it reads at last.
    let mut last = BufReader::new(followers.pop().expect("a follower"));
    last.get_ref()
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut told = false;
    let mut line = String::new();
    while last.read_line(&mut line).unwrap_or(0) > 0 {
        if line.starts_with(": dropped:") {
            told = true;
            break;
        }
        line.clear();
    }
    assert!(told, "no last comment on a dropped follower");
    drop(followers);
}
