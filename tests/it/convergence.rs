//! Issue 4: programs.d converges. Every input here is a file operation; the API is used only to
//! look (GET /status), and /proc to check the processes themselves.

use std::fs;
use std::os::unix::fs::symlink;

use crate::support::{TestDaemon, alive, cmdline, processes_running, unique};

fn sleeper(seconds: u64, extra: &str) -> String {
    format!("command = \"sleep {seconds}\"\nboot = true\nstartsecs = 0.2\n{extra}\n")
}

#[test]
fn a_dropped_boot_program_starts_and_a_plain_one_waits() {
    let daemon = TestDaemon::start();
    let (a, b) = (unique(), unique());
    daemon.put("web.toml", &sleeper(a, ""));
    daemon.put("idle.yaml", &format!("command: sleep {b}\n"));
    let status = daemon.wait_state("web", "RUNNING");
    let pid = status["pid"].as_u64().expect("pid") as u32;
    assert_eq!(cmdline(pid), format!("sleep {a}"));
    assert_eq!(status["observed_generation"], 1);
    assert_eq!(daemon.state_of("idle"), "STOPPED");
    assert!(processes_running(&format!("sleep {b}")).is_empty());
}

#[test]
fn a_process_field_edit_restarts_and_other_edits_apply_live() {
    let daemon = TestDaemon::start();
    let (first, second) = (unique(), unique());
    daemon.put("web.toml", &sleeper(first, "priority = 5"));
    let old_pid = daemon.wait_state("web", "RUNNING")["pid"]
        .as_u64()
        .expect("pid");

    // Not a process field: same process, new generation observed.
    daemon.put(
        "web.toml",
        &sleeper(first, "priority = 6\ndescription = \"now described\""),
    );
    let status = daemon.wait_status("web", "generation 2 observed", |s| {
        s["observed_generation"] == 2
    });
    assert_eq!(status["pid"].as_u64(), Some(old_pid), "{status}");

    // A process field: a graceful restart with the new command.
    daemon.put("web.toml", &sleeper(second, "priority = 6"));
    let status = daemon.wait_status("web", "the new command running", |s| {
        s["status"] == "RUNNING" && s["observed_generation"] == 3
    });
    let new_pid = status["pid"].as_u64().expect("pid") as u32;
    assert_ne!(u64::from(new_pid), old_pid);
    assert_eq!(cmdline(new_pid), format!("sleep {second}"));
    assert!(!alive(old_pid as u32), "the old process is gone");

    // Environment is a process field too.
    daemon.put(
        "web.toml",
        &sleeper(second, "priority = 6\nenvironment = { MODE = \"b\" }"),
    );
    let status = daemon.wait_status("web", "restart for the environment", |s| {
        s["observed_generation"] == 4 && s["status"] == "RUNNING"
    });
    assert_ne!(status["pid"].as_u64(), Some(u64::from(new_pid)));
}

#[test]
fn disable_stops_enable_does_not_start_and_delete_retires_the_id() {
    let daemon = TestDaemon::start();
    let number = unique();
    daemon.put("web.toml", &sleeper(number, ""));
    let pid = daemon.wait_state("web", "RUNNING")["pid"]
        .as_u64()
        .expect("pid") as u32;
    let id = daemon.status("web")["id"].as_u64().expect("id");

    daemon.put("web.toml", &sleeper(number, "enabled = false"));
    daemon.wait_state("web", "STOPPED");
    assert!(!alive(pid));

    daemon.put("web.toml", &sleeper(number, "enabled = true"));
    let status = daemon.wait_status("web", "generation 3 seen", |s| s["generation"] == 3);
    assert_eq!(status["status"], "STOPPED", "enable never starts: {status}");

    daemon.put(
        "web.toml",
        &sleeper(number, "enabled = true\ndescription = \"x\""),
    );
    daemon.wait_status("web", "generation 4 seen", |s| s["generation"] == 4);
    assert_eq!(daemon.state_of("web"), "STOPPED");

    daemon.remove("web.toml");
    crate::support::wait_until(
        "the program to go",
        30,
        || daemon.get("/status/web").0 == 404,
        || daemon.log(),
    );
    daemon.put("web.toml", &sleeper(number, ""));
    let status = daemon.wait_state("web", "RUNNING");
    assert!(
        status["id"].as_u64().expect("id") > id,
        "a retired id is not reused: {status}"
    );
}

#[test]
fn deleting_the_file_stops_the_process() {
    let daemon = TestDaemon::start();
    let number = unique();
    daemon.put(
        "web.yaml",
        &format!("command: [sleep, \"{number}\"]\nboot: true\nstartsecs: 0\n"),
    );
    let pid = daemon.wait_state("web", "RUNNING")["pid"]
        .as_u64()
        .expect("pid") as u32;
    daemon.remove("web.yaml");
    crate::support::wait_until("the process to end", 30, || !alive(pid), || daemon.log());
    crate::support::wait_until(
        "the program to be gone",
        30,
        || daemon.get("/status/web").0 == 404,
        || daemon.log(),
    );
}

#[test]
fn an_invalid_edit_keeps_the_last_good_version_running() {
    let daemon = TestDaemon::start();
    let number = unique();
    daemon.put("web.toml", &sleeper(number, ""));
    let pid = daemon.wait_state("web", "RUNNING")["pid"]
        .as_u64()
        .expect("pid");
    daemon.put("web.toml", "command = \"sleep 1\"\nboot = \"perhaps\"\n");
    let status = daemon.wait_status("web", "the config error", |s| !s["config_error"].is_null());
    assert_eq!(status["pid"].as_u64(), Some(pid), "{status}");
    assert_eq!(status["status"], "RUNNING");
    let message = status["config_error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("web.toml:2:1: field `boot`"), "{message}");
    assert_eq!(status["generation"], 2);
    assert_eq!(
        status["observed_generation"], 1,
        "the change is not live: {status}"
    );

    // A brand-new invalid file is listed with its error and runs nothing.
    daemon.put("broken.yaml", "command: [\n");
    let status = daemon.wait_status("broken", "listed", |s| !s["config_error"].is_null());
    assert_eq!(status["status"], "STOPPED");
    let (_, list) = daemon.get("/programs");
    let broken = list["data"]["programs"]
        .as_array()
        .expect("programs")
        .iter()
        .find(|p| p["name"] == "broken")
        .cloned();
    assert!(broken.is_some_and(|p| {
        p["config_error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("invalid YAML")
    }));
}

#[test]
fn a_configmap_symlink_swap_converges() {
    let daemon = TestDaemon::start();
    let dir = &daemon.programs;
    let (first, second) = (unique(), unique());
    let publish = |version: &str, text: &str| {
        let data = dir.join(format!("..{version}"));
        fs::create_dir(&data).expect("mkdir");
        fs::write(data.join("web.toml"), text).expect("write");
        symlink(format!("..{version}"), dir.join("..data_tmp")).expect("symlink");
        fs::rename(dir.join("..data_tmp"), dir.join("..data")).expect("swap");
        if fs::symlink_metadata(dir.join("web.toml")).is_err() {
            symlink("..data/web.toml", dir.join("web.toml")).expect("link");
        }
    };
    publish("2026_11_27_01", &sleeper(first, ""));
    let pid = daemon.wait_state("web", "RUNNING")["pid"]
        .as_u64()
        .expect("pid") as u32;
    assert_eq!(cmdline(pid), format!("sleep {first}"));
    publish("2026_11_27_02", &sleeper(second, ""));
    fs::remove_dir_all(dir.join("..2026_11_27_01")).expect("old version");
    let status = daemon.wait_status("web", "the swapped version", |s| {
        s["observed_generation"] == 2 && s["status"] == "RUNNING"
    });
    let pid = status["pid"].as_u64().expect("pid") as u32;
    assert_eq!(cmdline(pid), format!("sleep {second}"));
    assert!(processes_running(&format!("sleep {first}")).is_empty());
}

#[test]
fn forty_rapid_edits_end_with_exactly_the_last_version_running() {
    let daemon = TestDaemon::start();
    let base = unique() * 100;
    daemon.put("web.toml", &sleeper(base, ""));
    daemon.wait_state("web", "RUNNING");
    for edit in 1..=40 {
        // In place, as `echo >` does: truncate, then write.
        fs::write(daemon.programs.join("web.toml"), sleeper(base + edit, "")).expect("edit");
    }
    let last = format!("sleep {}", base + 40);
    let status = daemon.wait_status("web", "the last version", |s| {
        s["status"] == "RUNNING"
            && s["pid"]
                .as_u64()
                .is_some_and(|pid| cmdline(pid as u32) == last)
    });
    let versions: Vec<u32> = (0..=40)
        .flat_map(|edit| processes_running(&format!("sleep {}", base + edit)))
        .collect();
    assert_eq!(
        versions,
        vec![status["pid"].as_u64().expect("pid") as u32],
        "exactly one process, the last version"
    );
}
