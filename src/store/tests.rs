//! The store on real files: scans of every kind of folder content, and the watcher following
//! drops, edits, renames, deletes, bursts and ConfigMap swaps.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

use super::*;
use crate::spec::SystemUsers;

fn write(dir: &Path, file: &str, text: &str) {
    fs::write(dir.join(file), text).expect("write test file");
}

fn command_of(snapshot: &Snapshot, name: &str) -> Option<Vec<String>> {
    let entry = snapshot.programs.get(name)?;
    entry
        .spec
        .as_ref()
        .ok()
        .map(|spec| spec.process.argv.clone())
}

#[test]
fn scan_reads_programs_and_skips_what_is_not_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "web.toml", "command = \"sleep 1\"\n");
    write(path, "worker.yaml", "command: sleep 2\n");
    write(path, "cron.yml", "command: [sleep, \"3\"]\n");
    for ignored in [
        ".hidden.toml",
        "web.toml~",
        ".web.toml.swp",
        ".#web.toml",
        "x.toml.tmp",
        "notes.txt",
        "README",
    ] {
        write(path, ignored, "garbage = = =");
    }
    fs::create_dir(path.join("sub")).expect("mkdir");
    write(&path.join("sub"), "inner.toml", "command = \"x\"\n");
    fs::create_dir(path.join("folder.toml")).expect("mkdir");
    let snapshot = scan(path, &SystemUsers);
    let names: Vec<_> = snapshot.programs.keys().cloned().collect();
    assert_eq!(names, ["cron", "web", "worker"]);
    assert!(
        snapshot.is_valid(),
        "{:?}",
        snapshot.problems().collect::<Vec<_>>()
    );
    assert_eq!(
        command_of(&snapshot, "cron"),
        Some(vec!["sleep".into(), "3".into()])
    );
}

#[test]
fn scan_reports_every_broken_file_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "good.toml", "command = \"sleep 1\"\n");
    write(path, "typo.toml", "command = \"x\"\nautorestrat = true\n");
    write(path, "twice.toml", "command = \"x\"\n");
    write(path, "twice.yaml", "command: x\n");
    write(path, "bad name.toml", "command = \"x\"\n");
    write(path, "syntax.yaml", "command: [\n");
    fs::write(path.join("binary.toml"), [0xff, 0xfe, 0x00, 0x01]).expect("write");
    fs::write(path.join("huge.toml"), vec![b'#'; 2 * 1024 * 1024]).expect("write");
    symlink(path.join("missing-target"), path.join("dangling.toml")).expect("symlink");
    symlink(path.join("loop.toml"), path.join("loop.toml")).expect("symlink");
    let snapshot = scan(path, &SystemUsers);
    let problems: Vec<String> = snapshot.problems().map(ToString::to_string).collect();
    let expect = [
        ("typo.toml:2:1: field `autorestrat`", "unknown field"),
        ("twice.toml", "more than one file"),
        ("twice.yaml", "more than one file"),
        ("bad name.toml", "contains ' '"),
        ("syntax.yaml:2", "invalid YAML"),
        ("binary.toml", "not valid UTF-8"),
        ("huge.toml", "limited to"),
        ("dangling.toml", "link to nothing"),
        ("loop.toml", "cannot read"),
    ];
    for (file, fragment) in expect {
        assert!(
            problems
                .iter()
                .any(|p| p.contains(file) && p.contains(fragment)),
            "no problem with {file:?} and {fragment:?} in {problems:#?}"
        );
    }
    assert!(snapshot.programs["good"].spec.is_ok());
    assert!(problems.iter().all(|p| p.len() < 400), "{problems:#?}");
}

#[test]
fn a_fifo_named_like_a_program_does_not_hang_the_scan() {
    let dir = tempfile::tempdir().expect("tempdir");
    nix::unistd::mkfifo(&dir.path().join("pipe.toml"), nix::sys::stat::Mode::S_IRWXU)
        .expect("mkfifo");
    let snapshot = scan(dir.path(), &SystemUsers);
    let problems: Vec<String> = snapshot.problems().map(ToString::to_string).collect();
    assert!(problems[0].contains("not a regular file"), "{problems:?}");
}

#[test]
fn a_missing_folder_is_reported() {
    let snapshot = scan(Path::new("/nonexistent/programs.d"), &SystemUsers);
    let problems: Vec<String> = snapshot.problems().map(ToString::to_string).collect();
    assert!(
        problems[0].contains("cannot read the programs folder"),
        "{problems:?}"
    );
}

/// Watches `dir` with a safety rescan too slow to matter, so only events can make it converge.
struct Harness {
    watcher: FolderWatcher,
    dir: std::path::PathBuf,
    last: Snapshot,
}

impl Harness {
    fn new(dir: &Path) -> Harness {
        let config = WatchConfig {
            safety: Duration::from_secs(3600),
            ..WatchConfig::default()
        };
        let (watcher, error) = FolderWatcher::new(dir, config);
        assert!(error.is_none(), "{error:?}");
        Harness {
            watcher,
            dir: dir.to_path_buf(),
            last: scan(dir, &SystemUsers),
        }
    }

    /// Rescans on every hint until `done` holds, for at most 10 s.
    async fn until(&mut self, what: &str, done: impl Fn(&Snapshot) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(&self.last) {
            match tokio::time::timeout_at(deadline, self.watcher.next()).await {
                Ok(_) => self.last = scan(&self.dir, &SystemUsers),
                Err(_) => panic!(
                    "timed out waiting for {what}; last snapshot: {:#?}",
                    self.last
                ),
            }
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

fn argv(words: &[&str]) -> Option<Vec<String>> {
    Some(words.iter().map(|word| word.to_string()).collect())
}

#[test]
fn the_watcher_follows_drop_edit_rename_over_and_delete() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        let mut harness = Harness::new(path);

        write(path, "web.toml", "command = \"sleep 1\"\n");
        harness
            .until("the drop", |s| {
                command_of(s, "web") == argv(&["sleep", "1"])
            })
            .await;

        // Edit in place (truncate and write, as `echo >` does).
        write(path, "web.toml", "command = \"sleep 2\"\n");
        harness
            .until("the edit", |s| {
                command_of(s, "web") == argv(&["sleep", "2"])
            })
            .await;

        // Editor style: write a temp file, rename it over the original.
        write(path, ".web.toml.swp", "command = \"sleep 3\"\n");
        fs::rename(path.join(".web.toml.swp"), path.join("web.toml")).expect("rename");
        harness
            .until("the rename-over", |s| {
                command_of(s, "web") == argv(&["sleep", "3"])
            })
            .await;

        // An invalid edit is seen as an error, not as the program going away.
        write(path, "web.toml", "command = \n");
        harness
            .until("the broken edit", |s| {
                s.programs.get("web").is_some_and(|e| e.spec.is_err())
            })
            .await;

        fs::remove_file(path.join("web.toml")).expect("remove");
        harness.until("the delete", |s| s.programs.is_empty()).await;
    });
}

#[test]
fn the_watcher_sees_200_files_dropped_at_once() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let staging = tempfile::tempdir().expect("staging");
        let mut harness = Harness::new(dir.path());
        for index in 0..200 {
            write(
                staging.path(),
                &format!("p{index}.toml"),
                &format!("command = \"sleep {index}\"\n"),
            );
        }
        for index in 0..200 {
            let file = format!("p{index}.toml");
            fs::rename(staging.path().join(&file), dir.path().join(&file)).expect("move");
        }
        harness
            .until("200 programs", |s| {
                s.programs.len() == 200
                    && (0..200).all(|i| {
                        command_of(s, &format!("p{i}")) == Some(vec!["sleep".into(), i.to_string()])
                    })
            })
            .await;
    });
}

/// The layout kubelet gives a ConfigMap volume: `name.toml -> ..data/name.toml`,
/// `..data -> ..<timestamp>/`, and an update swaps `..data` with one rename.
#[test]
fn the_watcher_converges_on_configmap_swaps() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        let publish = |version: &str, files: &[(&str, &str)]| {
            let data = path.join(format!("..{version}"));
            fs::create_dir(&data).expect("mkdir");
            for (file, text) in files {
                write(&data, file, text);
            }
            symlink(format!("..{version}"), path.join("..data_tmp")).expect("symlink");
            fs::rename(path.join("..data_tmp"), path.join("..data")).expect("swap");
            for (file, _) in files {
                let link = path.join(file);
                if fs::symlink_metadata(&link).is_err() {
                    symlink(format!("..data/{file}"), &link).expect("link");
                }
            }
        };
        let mut harness = Harness::new(path);
        publish(
            "2026_11_27_10_00_00.1",
            &[("web.toml", "command = \"sleep 1\"\n")],
        );
        harness
            .until("the first version", |s| {
                command_of(s, "web") == argv(&["sleep", "1"])
            })
            .await;

        publish(
            "2026_11_27_10_05_00.2",
            &[
                ("web.toml", "command = \"sleep 2\"\n"),
                ("worker.yaml", "command: sleep 5\n"),
            ],
        );
        fs::remove_dir_all(path.join("..2026_11_27_10_00_00.1")).expect("old version");
        harness
            .until("the second version", |s| {
                command_of(s, "web") == argv(&["sleep", "2"])
                    && command_of(s, "worker") == argv(&["sleep", "5"])
            })
            .await;

        // A key removed from the ConfigMap: its link now points at nothing, then is removed.
        publish(
            "2026_11_27_10_10_00.3",
            &[("web.toml", "command = \"sleep 3\"\n")],
        );
        fs::remove_file(path.join("worker.yaml")).expect("unlink");
        harness
            .until("the third version", |s| {
                command_of(s, "web") == argv(&["sleep", "3"]) && !s.programs.contains_key("worker")
            })
            .await;
    });
}

#[test]
fn the_safety_rescan_fires_without_events() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = WatchConfig {
            safety: Duration::from_millis(50),
            ..WatchConfig::default()
        };
        let (mut watcher, _) = FolderWatcher::new(dir.path(), config);
        let hint = tokio::time::timeout(Duration::from_secs(10), watcher.next())
            .await
            .expect("a hint");
        assert_eq!(hint, Hint::Safety);
    });
}

#[test]
fn toml_edit_through_the_store_keeps_comments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("web.toml");
    let original = "# The public web server.\ncommand = \"sleep 10\"  # keep it simple\n\n# Start on boot.\nboot = true\n";
    write_atomic(&path, original).expect("write");
    let snapshot = scan(dir.path(), &SystemUsers);
    let entry = &snapshot.programs["web"];
    let text = entry.text.as_deref().expect("text");
    let mut changes = serde_json::Map::new();
    changes.insert("boot".into(), serde_json::Value::Bool(false));
    changes.insert("priority".into(), serde_json::Value::from(5));
    let edited = crate::spec::edit(entry.format, text, &changes).expect("edit");
    write_atomic(&path, &edited).expect("write");
    let written = fs::read_to_string(&path).expect("read");
    assert!(written.contains("# The public web server."), "{written}");
    assert!(written.contains("# keep it simple"), "{written}");
    assert!(
        written.contains("# Start on boot.\nboot = false"),
        "{written}"
    );
    let spec = scan(dir.path(), &SystemUsers).programs["web"]
        .spec
        .clone()
        .expect("valid");
    assert_eq!((spec.boot, spec.priority), (false, 5));
}
