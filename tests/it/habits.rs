//! Issue 14: the habits PM2, supervisorctl and systemd users bring (SPEC §16, "CLI habits"):
//! `start|stop|restart all`, `signal`, top-level `ls`/`start`/`stop`/`restart`/`history`,
//! completion below the first word, and a systemd unit for the host's boot.

#![allow(clippy::disallowed_methods)] // tests start the binary under test, bash and systemd-analyze

use std::fs;
use std::process::{Command, Output};

use serde_json::json;

use crate::support::{TestDaemon, binary, describe, repo, wait_until};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn expect(daemon: &TestDaemon, args: &[&str], code: i32) -> Output {
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

#[test]
fn all_starts_stops_and_restarts_every_program_and_the_top_level_words_work() {
    let daemon = TestDaemon::start();
    for (name, priority) in [("db", 1), ("web", 10), ("worker", 10)] {
        daemon.put(
            &format!("{name}.toml"),
            &format!("command = \"sleep 600\"\npriority = {priority}\nstartsecs = 0\n"),
        );
    }
    daemon.put("off.toml", "command = \"sleep 600\"\nenabled = false\n");
    wait_until(
        "four programs",
        30,
        || {
            daemon.get("/programs").1["data"]["programs"]
                .as_array()
                .map(Vec::len)
                == Some(4)
        },
        || daemon.log(),
    );
    let started = expect(&daemon, &["programs", "start", "all"], 0);
    let text = stdout(&started);
    for name in ["db", "web", "worker"] {
        assert!(text.contains(&format!("Started {name}: RUNNING")), "{text}");
        assert_eq!(daemon.state_of(name), "RUNNING");
    }
    assert!(text.contains("Skipped off: not enabled"), "{text}");
    assert_eq!(daemon.state_of("off"), "STOPPED");
    // By priority: db (1) before the group of 10.
    assert!(text.find("Started db").unwrap_or(usize::MAX) < text.find("Started web").unwrap_or(0));

    let listed = expect(&daemon, &["ls"], 0);
    assert!(
        stdout(&listed).starts_with("ID  NAME"),
        "{}",
        stdout(&listed)
    );
    let pid = daemon.pid_of("web").expect("pid");
    let restarted = expect(&daemon, &["restart", "all"], 0);
    assert!(
        stdout(&restarted).contains("Restarted web: RUNNING"),
        "{}",
        stdout(&restarted)
    );
    assert_ne!(daemon.pid_of("web"), Some(pid), "a new process");
    let stopped = expect(&daemon, &["stop", "all"], 0);
    let text = stdout(&stopped);
    // Stops go highest priority first: the group of 10, then db.
    assert!(
        text.find("Stopped web").unwrap_or(usize::MAX) < text.find("Stopped db").unwrap_or(0),
        "{text}"
    );
    for name in ["db", "web", "worker", "off"] {
        assert_eq!(daemon.state_of(name), "STOPPED", "{name}");
    }
    expect(&daemon, &["start", "web"], 0);
    assert_eq!(daemon.state_of("web"), "RUNNING");
    expect(&daemon, &["stop", "web"], 0);

    // history: the file's changes, top-level and under `programs`.
    let (code, body) = daemon.post(
        "/programs/edit/web",
        Some(json!({ "description": "front" })),
    );
    assert_eq!(code, 200, "{body}");
    for args in [&["history", "web"][..], &["programs", "history", "web"]] {
        let history = expect(&daemon, args, 0);
        let text = stdout(&history);
        assert!(text.starts_with("web (id "), "{text}");
        assert!(
            text.contains("generation 1") && text.contains("created in the file"),
            "{text}"
        );
        assert!(
            text.contains("generation 2") && text.contains("edited through the API"),
            "{text}"
        );
        assert!(text.contains("+description = \"front\""), "{text}");
    }
}

#[test]
fn signal_reaches_the_main_process_by_any_name_or_number() {
    let daemon = TestDaemon::start();
    let marks = daemon.root.path().join("signals");
    daemon.put(
        "nginx.toml",
        &format!(
            "command = [\"sh\", \"-c\", \"trap 'echo HUP >> {marks}' HUP; trap 'echo USR1 >> {marks}' USR1; \
             while true; do sleep 0.1; done\"]\nboot = true\nstartsecs = 0\n",
            marks = marks.display()
        ),
    );
    let running = daemon.wait_state("nginx", "RUNNING");
    let pid = running["pid"].as_u64().expect("pid");
    // Each is handled before the next is sent: a signal sent while the same one is still
    // pending would merge with it.
    let handled = |expected: &str| {
        wait_until(
            &format!("the program to have handled {expected:?}"),
            30,
            || fs::read_to_string(&marks).unwrap_or_default() == expected,
            || fs::read_to_string(&marks).unwrap_or_default(),
        );
    };
    let sent = expect(&daemon, &["programs", "signal", "nginx", "HUP"], 0);
    assert_eq!(
        stdout(&sent).trim(),
        format!("Sent HUP to nginx (pid {pid})")
    );
    handled("HUP\n");
    let (code, body) = daemon.post(
        "/programs/nginx/signal",
        Some(json!({ "signal": "SIGUSR1" })),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["signal"], "USR1");
    assert_eq!(body["data"]["number"], 10);
    assert_eq!(body["data"]["pid"], pid);
    handled("HUP\nUSR1\n");
    let (code, body) = daemon.post("/programs/nginx/signal", Some(json!({ "signal": 1 })));
    assert_eq!(
        (code, body["data"]["signal"].clone()),
        (200, json!("HUP")),
        "{body}"
    );
    handled("HUP\nUSR1\nHUP\n");
    assert_eq!(
        daemon.pid_of("nginx"),
        Some(pid as u32),
        "still the same process"
    );

    let (code, body) = daemon.post("/programs/nginx/signal", Some(json!({ "signal": "HUPP" })));
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "signal");
    expect(&daemon, &["programs", "stop", "nginx"], 0);
    let (code, body) = daemon.post("/programs/nginx/signal", Some(json!({ "signal": "HUP" })));
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"]["code"], "not_running");
    let refused = expect(&daemon, &["programs", "signal", "nginx", "hup"], 5);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not running"));
    let (code, _) = daemon.post("/programs/nope/signal", Some(json!({ "signal": "HUP" })));
    assert_eq!(code, 404);
}

/// What bash offers for the words typed so far, from the script `completions bash` prints:
/// the script is sourced in bash and its completion function called as bash would.
fn bash_offers(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let text = fs::read_to_string(script).expect("script");
    let function = text
        .lines()
        .find_map(|line| {
            line.trim()
                .strip_prefix("complete -F ")?
                .split_whitespace()
                .next()
        })
        .expect("a `complete -F` line")
        .to_string();
    let quoted: Vec<String> = words.iter().map(|word| format!("'{word}'")).collect();
    let line = words.join(" ");
    let program = format!(
        "source '{script}'\n\
         COMP_WORDS=({words})\n\
         COMP_CWORD={cword}\n\
         COMP_LINE='{line}'\n\
         COMP_POINT=${{#COMP_LINE}}\n\
         {function} hoody-daemon '{current}' '{previous}'\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script = script.display(),
        words = quoted.join(" "),
        cword = words.len() - 1,
        current = words[words.len() - 1],
        previous = words[words.len().saturating_sub(2)],
    );
    let output = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&program)
        .output()
        .expect("bash is needed for this test (.ci/run installs it)");
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completion_completes_below_the_first_word() {
    let folder = tempfile::tempdir().expect("tempdir");
    let script = folder.path().join("hoody-daemon.bash");
    let output = Command::new(binary())
        .args(["completions", "bash"])
        .output()
        .expect("run");
    fs::write(&script, &output.stdout).expect("write");
    let offers = bash_offers(&script, &["hoody-daemon", "programs", "st"]);
    for word in ["start", "status", "stop"] {
        assert!(
            offers.iter().any(|offer| offer == word),
            "{word} in {offers:?}"
        );
    }
    assert!(!offers.iter().any(|offer| offer == "serve"), "{offers:?}");
    let offers = bash_offers(&script, &["hoody-daemon", "programs", "start", "--n"]);
    assert_eq!(offers, ["--no-wait"]);
    let offers = bash_offers(&script, &["hoody-daemon", "quick-start", "r"]);
    assert_eq!(offers, ["run"]);
    let offers = bash_offers(&script, &["hoody-daemon", "sig"]);
    assert!(offers.is_empty(), "signal lives under programs: {offers:?}");
    let offers = bash_offers(&script, &["hoody-daemon", "programs", "sig"]);
    assert_eq!(offers, ["signal"]);
    // The shipped copy is that script (checked byte for byte in cli.rs); this one too.
    let shipped = repo().join("docs/completions/hoody-daemon.bash");
    let offers = bash_offers(&shipped, &["hoody-daemon", "programs", "st"]);
    assert!(offers.iter().any(|offer| offer == "status"), "{offers:?}");
}

/// fish and zsh complete below the first word too, from the scripts `completions` prints
/// (fish answers `complete -C`; zsh runs its completion system in a pseudo-terminal, `zpty`).
#[test]
fn fish_and_zsh_complete_below_the_first_word() {
    let folder = tempfile::tempdir().expect("tempdir");
    let script = |shell: &str, file: &str| {
        let output = Command::new(binary())
            .args(["completions", shell])
            .output()
            .expect("run");
        let path = folder.path().join(file);
        fs::write(&path, &output.stdout).expect("write");
        path
    };
    let fish = script("fish", "hoody-daemon.fish");
    let output = Command::new("fish")
        .arg("--no-config")
        .arg("-c")
        .arg(format!(
            "source '{}'; complete -C 'hoody-daemon programs st'",
            fish.display()
        ))
        .output()
        .expect("fish is needed for this test (.ci/run installs it)");
    let offers: Vec<String> = stdout(&output)
        .lines()
        .filter_map(|line| line.split('\t').next())
        .map(str::to_string)
        .collect();
    assert_eq!(
        offers,
        ["start", "status", "stop"],
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    script("zsh", "_hoody-daemon");
    // An interactive zsh in a pseudo-terminal types the line and a TAB; its listing is read
    // until the three words show (or 20 s pass: a bound on failure only).
    let driver = format!(
        "zmodload zsh/zpty\n\
         zpty z zsh -f -i\n\
         zpty -w z \"PS1='> '; fpath=({dir} \\$fpath); autoload -Uz compinit; compinit -u -D; unsetopt BEEP\"\n\
         zpty -w -n z $'hoody-daemon programs st\\t'\n\
         local all='' chunk\n\
         local end=$(( SECONDS + 20 ))\n\
         while (( SECONDS < end )); do\n\
           if zpty -r -t z chunk; then all+=$chunk; else sleep 0.05; fi\n\
           [[ $all == *start*--* && $all == *status*--* && $all == *stop*--* ]] && break\n\
         done\n\
         print -r -- \"$all\"\n\
         zpty -d z\n",
        dir = folder.path().display()
    );
    let output = Command::new("zsh")
        .arg("-f")
        .arg("-c")
        .arg(&driver)
        .output()
        .expect("zsh is needed for this test (.ci/run installs it)");
    let listing = stdout(&output);
    for (word, about) in [
        ("start", "Start the process"),
        ("status", "The status of one program"),
        ("stop", "Stop the process"),
    ] {
        assert!(
            listing
                .lines()
                .any(|line| line.contains(word) && line.contains(about)),
            "zsh offers {word}: {listing:?}"
        );
    }
}

/// `examples/systemd/hoody-daemon.service` starts the daemon at the host's boot: checked by
/// `systemd-analyze verify` where systemd is there, and read as a unit file in any case.
#[test]
fn the_systemd_unit_starts_the_installed_daemon_at_boot() {
    let unit = repo().join("examples/systemd/hoody-daemon.service");
    let text = fs::read_to_string(&unit).expect("the unit file");
    let mut section = String::new();
    let mut keys: Vec<(String, String, String)> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.to_string();
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("line {}: not KEY=VALUE: {line}", number + 1));
        assert!(
            !section.is_empty(),
            "line {}: a key before any section",
            number + 1
        );
        keys.push((
            section.clone(),
            key.trim().to_string(),
            value.trim().to_string(),
        ));
    }
    let get = |section: &str, key: &str| {
        keys.iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, value)| value.clone())
            .unwrap_or_else(|| panic!("[{section}] {key}= is missing"))
    };
    let exec = get("Service", "ExecStart");
    let argv: Vec<&str> = exec.split_whitespace().collect();
    assert!(
        argv[0].starts_with('/') && argv[0].ends_with("/hoody-daemon"),
        "{exec}"
    );
    assert_eq!(argv[1], "serve", "{exec}");
    for flag in ["--programs-dir", "--state-dir", "--log-dir"] {
        let value = argv
            .iter()
            .position(|word| *word == flag)
            .and_then(|at| argv.get(at + 1))
            .unwrap_or_else(|| panic!("{flag} in {exec}"));
        assert!(value.starts_with('/'), "{flag} {value}");
    }
    assert_eq!(get("Install", "WantedBy"), "multi-user.target");
    // SIGTERM is the graceful stop; the daemon's own reverse waves need time.
    assert_eq!(get("Service", "KillMode"), "mixed");
    assert!(
        get("Service", "TimeoutStopSec")
            .parse::<u64>()
            .is_ok_and(|seconds| seconds >= 30)
    );
    assert_eq!(get("Service", "Restart"), "on-failure");
    // The flags the unit passes are ones `serve` takes.
    let help = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .expect("help");
    let help = stdout(&help);
    for word in argv.iter().filter(|word| word.starts_with("--")) {
        assert!(help.contains(word), "serve takes {word}");
    }

    let analyze = Command::new("systemd-analyze").arg("--version").output();
    if analyze.is_ok_and(|output| output.status.success()) {
        // verify needs the binary the unit names; point a copy at the one under test.
        let folder = tempfile::tempdir().expect("tempdir");
        let copy = folder.path().join("hoody-daemon.service");
        fs::write(&copy, text.replace(argv[0], &binary().to_string_lossy())).expect("copy");
        let verified = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(&copy)
            .output()
            .expect("systemd-analyze");
        let said = String::from_utf8_lossy(&verified.stderr).to_string();
        let problems: Vec<&str> = said
            .lines()
            .filter(|line| line.contains("hoody-daemon.service"))
            .collect();
        assert!(problems.is_empty() && verified.status.success(), "{said}");
    } else {
        eprintln!("systemd-analyze is not on this machine: the unit was checked as a file only");
    }
}
