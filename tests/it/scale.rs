//! Issue 20: what makes the API cost the same with 10 programs and 10,000 must never make it
//! wrong. The list of programs is cached per version of each file: an edit made outside the API
//! after a cached read shows at once in the next read that follows the watch. A write refreshes
//! only its own file and reconciles only its program: among 10,000 files it still lands exactly
//! (its file, its id, its generation, the other programs untouched), and what the state folder
//! keeps of it (ids, generations, intents: journals beside their files) survives a restart.
//! No timing is asserted here: speed is bench/run's (docs/PERFORMANCE.md).

use std::fs;

use serde_json::{Value, json};

use crate::support::{TestDaemon, unique, wait_until};

/// The program named `name` in a `GET /programs` answer.
fn listed(daemon: &TestDaemon, name: &str) -> Value {
    let (code, body) = daemon.get("/programs");
    assert_eq!(code, 200, "{body}");
    body["data"]["programs"]
        .as_array()
        .and_then(|programs| programs.iter().find(|program| program["name"] == name))
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn an_outside_edit_after_a_cached_list_shows_the_new_text_and_fields() {
    let daemon = TestDaemon::start();
    let first = "# first\ncommand = \"sleep 1001\"\nenvironment = { MODE = \"a\" }\n";
    daemon.put("web.toml", first);
    wait_until(
        "web listed",
        30,
        || listed(&daemon, "web")["text"] == first,
        || daemon.log(),
    );
    // Read twice: the second answer comes from the cache the first one made.
    let cached = listed(&daemon, "web");
    assert_eq!(cached, listed(&daemon, "web"));
    assert_eq!(cached["command"], "sleep 1001");
    assert_eq!(cached["environment"]["MODE"], "a");
    let (_, one) = daemon.get("/programs/web");
    assert_eq!(one["data"]["program"]["text"], first);

    // The same size, written in place (no rename: the inode stays), right after the read.
    let second = "# other\ncommand = \"sleep 2002\"\nenvironment = { MODE = \"b\" }\n";
    assert_eq!(first.len(), second.len());
    fs::write(daemon.programs.join("web.toml"), second).expect("edit in place");
    wait_until(
        "the new text in the list",
        30,
        || listed(&daemon, "web")["text"] == second,
        || format!("{}\n{}", listed(&daemon, "web"), daemon.log()),
    );
    let now = listed(&daemon, "web");
    assert_eq!(now["command"], "sleep 2002");
    assert_eq!(now["environment"]["MODE"], "b");
    assert_eq!(now["generation"], 2);
    let (_, one) = daemon.get("/programs/web");
    assert_eq!(one["data"]["program"]["text"], second);
    assert_eq!(one["data"]["program"]["command"], "sleep 2002");

    // An edit that makes the file invalid: the list shows the last good fields and the error.
    fs::write(daemon.programs.join("web.toml"), "command = 5\n").expect("break it");
    wait_until(
        "the config error in the list",
        30,
        || !listed(&daemon, "web")["config_error"].is_null(),
        || daemon.log(),
    );
    let broken = listed(&daemon, "web");
    assert_eq!(broken["command"], "sleep 2002", "{broken}");
    assert_eq!(broken["text"], "command = 5\n");

    // And a program removed outside the API leaves the list.
    daemon.remove("web.toml");
    wait_until(
        "web gone from the list",
        30,
        || listed(&daemon, "web").is_null(),
        || daemon.log(),
    );
}

/// With 10,000 files, each kind of write changes exactly its own program, and the folder,
/// the ids and the generations say so after a restart too.
#[test]
fn writes_among_ten_thousand_files_land_exactly_and_survive_a_restart() {
    const FILES: usize = 10_000;
    let root = tempfile::tempdir().expect("tempdir");
    let programs = root.path().join("programs.d");
    fs::create_dir(&programs).expect("programs.d");
    for index in 0..FILES {
        fs::write(
            programs.join(format!("p{index}.toml")),
            format!("command = \"sleep {index}\"\nboot = false\n"),
        )
        .expect("write a program file");
    }
    let mut daemon = TestDaemon::start_in(root, &[], None);
    let count = |daemon: &TestDaemon| {
        let (_, body) = daemon.get("/status");
        body["data"]["statuses"].as_array().map_or(0, Vec::len)
    };
    wait_until(
        "every program known",
        60,
        || count(&daemon) == FILES,
        || daemon.log(),
    );
    let id_of = |daemon: &TestDaemon, name: &str| daemon.status(name)["id"].as_u64();
    let ids_before: Vec<Option<u64>> = ["p0", "p5000", "p9999"]
        .iter()
        .map(|name| id_of(&daemon, name))
        .collect();

    let mark = unique();
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "added", "command": format!("sleep {mark}"), "boot": false })),
    );
    assert_eq!(code, 201, "{body}");
    let added_id = body["data"]["id"].as_u64().expect("an id");
    assert!(
        ids_before.iter().all(|id| *id != Some(added_id)),
        "a new id"
    );
    let (code, body) = daemon.post(
        "/programs/edit/p5000",
        Some(json!({ "description": "edited among many" })),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["data"]["generation"], 2);
    let (code, body) = daemon.post("/programs/p9999/disable", None);
    assert_eq!(code, 200, "{body}");
    let (code, body) = daemon.post("/programs/remove/p0", None);
    assert_eq!(code, 200, "{body}");

    // The folder says exactly that.
    let added = fs::read_to_string(programs.join("added.toml")).expect("added.toml");
    assert!(added.contains(&format!("sleep {mark}")), "{added}");
    let edited = fs::read_to_string(programs.join("p5000.toml")).expect("p5000.toml");
    assert!(edited.contains("edited among many"), "{edited}");
    assert!(edited.starts_with("command = \"sleep 5000\""), "{edited}");
    let disabled = fs::read_to_string(programs.join("p9999.toml")).expect("p9999.toml");
    assert!(disabled.contains("enabled = false"), "{disabled}");
    assert!(!programs.join("p0.toml").exists());
    let untouched = fs::read_to_string(programs.join("p4999.toml")).expect("p4999.toml");
    assert_eq!(untouched, "command = \"sleep 4999\"\nboot = false\n");

    // And so does the daemon: one program more, one less, the others as they were.
    assert_eq!(count(&daemon), FILES);
    assert_eq!(daemon.status("added")["id"].as_u64(), Some(added_id));
    assert_eq!(daemon.status("p5000")["generation"], 2);
    assert_eq!(daemon.status("p9999")["enabled"], false);
    assert_eq!(daemon.status("p0"), Value::Null);
    assert_eq!(daemon.status("p4999")["generation"], 1);

    // An edit outside the API among the 10,000 converges through the watch.
    fs::write(
        programs.join("p7777.toml"),
        "command = \"sleep 7777\"\nboot = false\ndescription = \"outside\"\n",
    )
    .expect("outside edit");
    daemon.wait_status("p7777", "the outside edit", |status| {
        status["generation"] == 2
    });

    // What the state folder keeps of those writes comes back after a restart.
    daemon.terminate();
    daemon.restart();
    wait_until(
        "every program known again",
        60,
        || count(&daemon) == FILES,
        || daemon.log(),
    );
    assert_eq!(daemon.status("added")["id"].as_u64(), Some(added_id));
    assert_eq!(daemon.status("p5000")["generation"], 2);
    assert_eq!(daemon.status("p7777")["generation"], 2);
    assert_eq!(
        id_of(&daemon, "p5000"),
        ids_before[1],
        "ids are kept across the restart"
    );
    let (code, body) = daemon.post(
        "/programs/add",
        Some(json!({ "name": "p0", "command": "sleep 1", "boot": false })),
    );
    assert_eq!(code, 201, "{body}");
    let new_id = body["data"]["id"].as_u64().expect("an id");
    assert!(
        new_id > added_id && Some(new_id) != ids_before[0],
        "a removed program's id is never given again, across a restart: {new_id}"
    );
    assert_eq!(
        body["data"]["generation"], 3,
        "a name that comes back goes on from its last generation (2: its removal)"
    );
}
