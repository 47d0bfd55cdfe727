//! The store on real files: scans of every kind of folder content, and the watcher following
//! drops, edits, renames, deletes, bursts and ConfigMap swaps.

use std::fs;
use std::os::unix::fs::{MetadataExt as _, symlink};
use std::path::Path;
use std::sync::Arc;
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
fn unknown_dependencies_and_cycles_are_problems_of_each_file_at_fault() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "a.toml", "command = \"x\"\ndepends_on = [\"b\"]\n");
    write(path, "b.yaml", "command: x\ndepends_on: {a: ready}\n");
    write(
        path,
        "web.toml",
        "command = \"x\"\n# needs the database\ndepends_on = [\"db\", \"c\"]\n",
    );
    write(path, "c.toml", "command = \"x\"\n");
    let mut scanner = Scanner::new();
    let (snapshot, _) = scanner.scan(path, &SystemUsers, Reuse::Nothing);
    let problems: Vec<String> = snapshot.problems().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0]
            .ends_with("a.toml:2:1: field `depends_on`: is in a dependency cycle: a → b → a"),
        "{problems:?}"
    );
    assert!(
        problems[1]
            .ends_with("b.yaml:2:1: field `depends_on`: is in a dependency cycle: b → a → b"),
        "{problems:?}"
    );
    assert!(
        problems[2].contains("web.toml:3:1: field `depends_on`: depends on \"db\""),
        "{problems:?}"
    );
    assert!(snapshot.programs["c"].spec.is_ok());
    // The check is made again on every scan, also over files it reuses: the missing program
    // appears, and the file that named it is valid without having changed.
    write(path, "db.toml", "command = \"x\"\n");
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert!(
        snapshot.programs["web"].spec.is_ok(),
        "{:?}",
        snapshot.programs["web"]
    );
    assert!(stats.read >= 1);
    fs::remove_file(path.join("b.yaml")).expect("remove");
    let (snapshot, _) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    let problems: Vec<String> = snapshot.problems().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0]
            .contains("a.toml:2:1: field `depends_on`: depends on \"b\", which is no program"),
        "{problems:?}"
    );
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

/// Watches `dir` with a safety rescan too slow to matter, so only events can make it converge,
/// and rescans as the daemon does: each hint with the reuse it allows.
struct Harness {
    watcher: FolderWatcher,
    scanner: Scanner,
    dir: std::path::PathBuf,
    last: Snapshot,
}

impl Harness {
    fn new(dir: &Path) -> Harness {
        Harness::with_safety(dir, Duration::from_secs(3600))
    }

    fn with_safety(dir: &Path, safety: Duration) -> Harness {
        let config = WatchConfig {
            safety,
            ..WatchConfig::default()
        };
        let (watcher, error) = FolderWatcher::new(dir, config);
        assert!(error.is_none(), "{error:?}");
        let mut scanner = Scanner::new();
        let (last, _) = scanner.scan(dir, &SystemUsers, Reuse::Nothing);
        Harness {
            watcher,
            scanner,
            dir: dir.to_path_buf(),
            last,
        }
    }

    /// Rescans on every hint until `done` holds, for at most 10 s.
    async fn until(&mut self, what: &str, done: impl Fn(&Snapshot) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done(&self.last) {
            match tokio::time::timeout_at(deadline, self.watcher.next()).await {
                Ok(hint) => {
                    self.last = self.scanner.scan(&self.dir, &SystemUsers, hint.reuse()).0;
                }
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

// ---- rescans that reuse what they read -----------------------------------------------------

/// A scanner that has read `dir` and keeps every file of it: polls (a scan every 50 ms, for at
/// most 10 s) until a reusing scan reads none, which takes [`SETTLE`] after the last write.
fn settled_scanner(dir: &Path, files: usize) -> Scanner {
    let mut scanner = Scanner::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, stats) = scanner.scan(dir, &SystemUsers, Reuse::Unchanged);
        if stats.read == 0 {
            assert_eq!(stats.reused, files, "{stats:?}");
            return scanner;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the files never settled: {stats:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_rescan_reads_no_unchanged_file_and_gives_what_a_full_scan_gives() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "web.toml", "command = \"sleep 1\"\n");
    write(path, "worker.yaml", "command: sleep 2\n");
    write(path, "broken.toml", "command = \n");
    let mut scanner = settled_scanner(path, 3);
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert_eq!(stats, ScanStats { read: 0, reused: 3 });
    assert_eq!(snapshot, scan(path, &SystemUsers));
    assert!(snapshot.programs["broken"].spec.is_err());

    // A new file is read, the others still are not; a removed one is gone.
    write(path, "cron.toml", "command = \"sleep 3\"\n");
    fs::remove_file(path.join("worker.yaml")).expect("remove");
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert_eq!(stats, ScanStats { read: 1, reused: 2 });
    assert_eq!(snapshot, scan(path, &SystemUsers));
}

#[test]
fn a_file_read_again_unchanged_shares_the_callers_entry_and_keeps_that_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "web.toml", "command = \"sleep 1\"\n");
    write(path, "other.toml", "command = \"sleep 9\"\n");
    // What the daemon's table holds: the entries of an earlier scan.
    let held = scan(path, &SystemUsers).programs;
    let current = |name: &str| held.get(name);
    let same = |a: &Entry, b: &Entry| {
        let (Ok(a_spec), Ok(b_spec)) = (&a.spec, &b.spec) else {
            return false;
        };
        Arc::ptr_eq(a_spec, b_spec)
            && a.text
                .as_ref()
                .zip(b.text.as_ref())
                .is_some_and(|(a, b)| Arc::ptr_eq(a, b))
    };
    settled_scanner(path, 2);

    // A full rescan reads both files again and hands back the held entries…
    let mut scanner = Scanner::new();
    let (snapshot, stats) = scanner.scan_sharing(path, &SystemUsers, Reuse::Nothing, &current);
    assert_eq!(stats, ScanStats { read: 2, reused: 0 });
    assert_eq!(snapshot, scan(path, &SystemUsers));
    for name in ["web", "other"] {
        assert!(same(&snapshot.programs[name], &held[name]), "{name}");
    }
    // …and keeps those: a reusing scan gives them again.
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert_eq!(stats, ScanStats { read: 0, reused: 2 });
    for name in ["web", "other"] {
        assert!(same(&snapshot.programs[name], &held[name]), "{name}");
    }

    // A changed file gives what it says now, not the held entry.
    write(path, "web.toml", "command = \"sleep 2\"\n");
    let (snapshot, _) = scanner.scan_sharing(path, &SystemUsers, Reuse::Nothing, &current);
    assert_eq!(command_of(&snapshot, "web"), argv(&["sleep", "2"]));
    assert!(!same(&snapshot.programs["web"], &held["web"]));
    assert!(same(&snapshot.programs["other"], &held["other"]));

    // A refresh of a file that did not change shares it as well.
    let names = ["other".to_string()];
    let Refreshed::Entries(entries) = scanner.refresh_sharing(path, &SystemUsers, &names, &current)
    else {
        panic!("a refresh without depends_on needs no scan");
    };
    let refreshed = entries[0].1.as_ref().expect("other is there");
    assert!(same(refreshed, &held["other"]));
}

#[test]
fn a_file_replaced_by_a_rename_with_the_same_size_is_read_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "web.toml", "command = \"sleep 1\"\n");
    write(path, "other.toml", "command = \"sleep 9\"\n");
    let mut scanner = settled_scanner(path, 2);
    let before = fs::metadata(path.join("web.toml")).expect("stat");
    write(path, ".web.toml.swp", "command = \"sleep 2\"\n");
    fs::rename(path.join(".web.toml.swp"), path.join("web.toml")).expect("rename");
    assert_eq!(
        fs::metadata(path.join("web.toml")).expect("stat").len(),
        before.len()
    );
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert_eq!(stats, ScanStats { read: 1, reused: 1 });
    assert_eq!(command_of(&snapshot, "web"), argv(&["sleep", "2"]));
}

#[test]
fn a_file_edited_in_place_is_read_again_even_with_its_old_size_and_mtime() {
    use std::io::Write as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    let file = path.join("web.toml");
    write(path, "web.toml", "command = \"sleep 1\"\n");
    let mut scanner = settled_scanner(path, 1);
    let before = fs::metadata(&file).expect("stat");
    // The same inode, the same size, and the mtime put back as `touch -d` or `cp -p` would:
    // only the ctime (which no program can set) tells.
    let mut open = fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .expect("open");
    open.write_all(b"command = \"sleep 2\"\n").expect("write");
    open.set_modified(before.modified().expect("mtime"))
        .expect("set mtime");
    drop(open);
    let after = fs::metadata(&file).expect("stat");
    assert_eq!(
        (after.ino(), after.len(), after.modified().ok()),
        (before.ino(), before.len(), before.modified().ok())
    );
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert_eq!(stats, ScanStats { read: 1, reused: 0 });
    assert_eq!(command_of(&snapshot, "web"), argv(&["sleep", "2"]));
}

#[test]
fn a_file_changed_less_than_settle_ago_is_read_by_every_rescan() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    let written = std::time::Instant::now();
    write(path, "web.toml", "command = \"sleep 1\"\n");
    let mut scanner = Scanner::new();
    let (_, first) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    let (_, second) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    // A same-size write in the same timestamp tick could still follow: not kept yet. (Only
    // checked if this ran within the window, as it does unless the machine stalled.)
    if written.elapsed() < SETTLE {
        assert_eq!(first, ScanStats { read: 1, reused: 0 });
        assert_eq!(second, ScanStats { read: 1, reused: 0 });
    }
    settled_scanner(path, 1);
}

#[test]
fn reuse_nothing_reads_every_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "web.toml", "command = \"sleep 1\"\n");
    write(path, "worker.yaml", "command: sleep 2\n");
    let mut scanner = settled_scanner(path, 2);
    let (snapshot, stats) = scanner.scan(path, &SystemUsers, Reuse::Nothing);
    assert_eq!(stats, ScanStats { read: 2, reused: 0 });
    assert_eq!(snapshot, scan(path, &SystemUsers));
    // And what it read is kept for the next reusing scan.
    let (_, stats) = scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    assert_eq!(stats, ScanStats { read: 0, reused: 2 });
}

#[test]
fn the_safety_rescan_reads_every_file_and_a_change_hint_only_the_changed_ones() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        for index in 0..5 {
            write(
                path,
                &format!("p{index}.toml"),
                &format!("command = \"sleep {index}\"\n"),
            );
        }
        let mut scanner = settled_scanner(path, 5);
        let config = WatchConfig {
            safety: Duration::from_millis(100),
            ..WatchConfig::default()
        };
        let (mut watcher, error) = FolderWatcher::new(path, config);
        assert!(error.is_none(), "{error:?}");
        let hint = tokio::time::timeout(Duration::from_secs(10), watcher.next())
            .await
            .expect("a hint");
        assert_eq!(hint, Hint::Safety);
        let (_, stats) = scanner.scan(path, &SystemUsers, hint.reuse());
        assert_eq!(stats, ScanStats { read: 5, reused: 0 });

        write(path, "p0.toml", "command = \"sleep 100\"\n");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let hint = tokio::time::timeout_at(deadline, watcher.next())
                .await
                .expect("a hint");
            if hint != Hint::Safety {
                // The events named p0.toml alone: the hint says so.
                assert_eq!(hint, Hint::Files(["p0".to_string()].into()));
                let (snapshot, stats) = scanner.scan(path, &SystemUsers, hint.reuse());
                assert_eq!(stats, ScanStats { read: 1, reused: 4 });
                assert_eq!(command_of(&snapshot, "p0"), argv(&["sleep", "100"]));
                break;
            }
            // A safety hint that came first reads everything; wait for the change's own.
            scanner.scan(path, &SystemUsers, hint.reuse());
        }
    });
}

/// Publishes a ConfigMap version the way kubelet does (see the swap test above).
fn publish(path: &Path, version: &str, files: &[(&str, &str)]) {
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
}

#[test]
fn a_configmap_swap_of_same_size_files_is_read_again_through_the_unchanged_links() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        publish(path, "v1", &[("web.toml", "command = \"sleep 1\"\n")]);
        let mut harness = Harness::new(path);
        harness.scanner = settled_scanner(path, 1);
        let link = fs::symlink_metadata(path.join("web.toml")).expect("lstat");
        publish(path, "v2", &[("web.toml", "command = \"sleep 2\"\n")]);
        let relinked = fs::symlink_metadata(path.join("web.toml")).expect("lstat");
        assert_eq!(link.ino(), relinked.ino(), "the link itself is the same");
        harness
            .until("the second version", |s| {
                command_of(s, "web") == argv(&["sleep", "2"])
            })
            .await;
    });
}

// ---- the watch itself --------------------------------------------------------------------

#[test]
fn a_scan_queues_no_event_and_a_write_does() {
    runtime().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path();
        for index in 0..20 {
            write(
                path,
                &format!("p{index}.toml"),
                &format!("command = \"sleep {index}\"\n"),
            );
        }
        let (watcher, error) = FolderWatcher::new(path, WatchConfig::default());
        assert!(error.is_none(), "{error:?}");
        // Every file opened, read and closed: nothing the watch asks for.
        let snapshot = scan(path, &SystemUsers);
        assert_eq!(snapshot.programs.len(), 20);
        let queued = watcher.take_queued();
        assert!(queued.is_empty(), "{queued:?}");

        write(path, "p0.toml", "command = \"sleep 100\"\n");
        let queued = watcher.take_queued();
        assert!(!queued.is_empty(), "a write queues events");
    });
}

#[test]
fn the_watcher_follows_the_folder_deleted_and_made_again() {
    runtime().block_on(async {
        let parent = tempfile::tempdir().expect("tempdir");
        let path = parent.path().join("programs.d");
        fs::create_dir(&path).expect("mkdir");
        let mut harness = Harness::new(&path);
        write(&path, "web.toml", "command = \"sleep 1\"\n");
        harness
            .until("the drop", |s| {
                command_of(s, "web") == argv(&["sleep", "1"])
            })
            .await;

        fs::remove_dir_all(&path).expect("rm -r");
        harness
            .until("the folder gone", |s| !s.folder_problems.is_empty())
            .await;

        fs::create_dir(&path).expect("mkdir again");
        harness
            .until("the new folder", |s| s.folder_problems.is_empty())
            .await;
        write(&path, "web.toml", "command = \"sleep 2\"\n");
        harness
            .until("a drop into the new folder", |s| {
                command_of(s, "web") == argv(&["sleep", "2"])
            })
            .await;
    });
}

#[test]
fn the_watcher_follows_a_folder_swapped_by_renames() {
    runtime().block_on(async {
        let parent = tempfile::tempdir().expect("tempdir");
        let path = parent.path().join("programs.d");
        let next = parent.path().join("programs.d.next");
        fs::create_dir(&path).expect("mkdir");
        let mut harness = Harness::new(&path);
        write(&path, "web.toml", "command = \"sleep 1\"\n");
        harness
            .until("the drop", |s| {
                command_of(s, "web") == argv(&["sleep", "1"])
            })
            .await;

        // A release switch: the new set is made aside, the old one moved away, the new one in.
        fs::create_dir(&next).expect("mkdir");
        write(&next, "web.toml", "command = \"sleep 2\"\n");
        fs::rename(&path, parent.path().join("programs.d.old")).expect("move away");
        fs::rename(&next, &path).expect("move in");
        harness
            .until("the new set", |s| {
                command_of(s, "web") == argv(&["sleep", "2"])
            })
            .await;

        // The watch moved with it: an edit of the new folder is seen, one of the old is not
        // needed for that.
        write(&path, "web.toml", "command = \"sleep 3\"\n");
        harness
            .until("an edit in the new folder", |s| {
                command_of(s, "web") == argv(&["sleep", "3"])
            })
            .await;
    });
}

#[test]
fn the_watcher_watches_the_folder_a_symlink_leads_to_and_follows_a_repointed_link() {
    runtime().block_on(async {
        let parent = tempfile::tempdir().expect("tempdir");
        let link = parent.path().join("programs.d");
        let (v1, v2) = (parent.path().join("v1"), parent.path().join("v2"));
        fs::create_dir(&v1).expect("mkdir");
        fs::create_dir(&v2).expect("mkdir");
        symlink("v1", &link).expect("symlink");
        let safety = Duration::from_secs(2);
        let mut harness = Harness::with_safety(&link, safety);
        write(&v1, "web.toml", "command = \"sleep 1\"\n");
        harness
            .until("a drop into the target", |s| {
                command_of(s, "web") == argv(&["sleep", "1"])
            })
            .await;

        // Repointed with the old target left in place: no event anywhere the watch can see;
        // the safety rescan reads the new folder and the watch moves to it then.
        write(&v2, "web.toml", "command = \"sleep 2\"\n");
        symlink("v2", parent.path().join("programs.d.tmp")).expect("symlink");
        fs::rename(parent.path().join("programs.d.tmp"), &link).expect("repoint");
        harness
            .until("the new target", |s| {
                command_of(s, "web") == argv(&["sleep", "2"])
            })
            .await;
        write(&v2, "web.toml", "command = \"sleep 3\"\n");
        let hint = tokio::time::timeout(safety * 5, harness.watcher.next())
            .await
            .expect("a hint");
        assert!(
            matches!(hint, Hint::Changed | Hint::Files(_)),
            "an edit in the new target wakes the watch before the next safety rescan: {hint:?}"
        );
    });
}

/// Something that is not a program document (a link to /etc/shadow, /proc/PID/environ, an INI
/// file) keeps no text, and its problem quotes none of it.
#[test]
fn a_file_that_is_no_program_document_keeps_no_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "root:$6$NOT-TO-BE-SHOWN:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";
    write(dir.path(), "shadow.toml", secret);
    write(dir.path(), "shadow2.yaml", secret);
    write(
        dir.path(),
        "environ.toml",
        "PATH=/bin\0TOKEN=NOT-TO-BE-SHOWN\0",
    );
    write(
        dir.path(),
        "ini.toml",
        "[default]\nsecret_key = \"NOT-TO-BE-SHOWN\"\n",
    );
    write(
        dir.path(),
        "typo.toml",
        "command = \"true\"\nboot = maybe\n",
    );
    write(dir.path(), "empty.yaml", "");
    let snapshot = scan(dir.path(), &SystemUsers);
    for name in ["shadow", "shadow2", "environ", "ini", "typo"] {
        let entry = &snapshot.programs[name];
        assert!(entry.text.is_none(), "{name} kept its text");
        let problems = entry.problems();
        assert!(!problems.is_empty(), "{name}");
        for problem in problems {
            assert!(
                !problem.to_string().contains("NOT-TO-BE-SHOWN"),
                "{problem}"
            );
        }
    }
    assert_eq!(snapshot.programs["empty"].text.as_deref(), Some(""));
}

/// What a watch hint narrows a rescan to: program files, and the temp files of atomic writes
/// of them; anything else (a ConfigMap's `..data` link, an editor's test file) is the folder.
#[test]
fn events_name_programs_only_through_program_files_and_their_temp_files() {
    let table = [
        ("web.toml", Some("web")),
        ("worker.yaml", Some("worker")),
        ("a.b-c.yml", Some("a.b-c")),
        (".web.toml.Ab12Cd.tmp", Some("web")),
        (".worker.yaml.x9.tmp", Some("worker")),
        ("..data", None),
        ("..data_tmp", None),
        ("..2026_12_01_12_00_00.123", None),
        ("4913", None),
        ("web.toml~", None),
        (".web.toml.swp", None),
        (".web.toml.tmp", None),
        ("README.md", None),
        (".toml", None),
    ];
    for (file, expected) in table {
        assert_eq!(
            crate::store::program_named(file).as_deref(),
            expected,
            "{file}"
        );
    }
}

/// A refresh of some names gives, for each, what a whole scan gives now: edited, added,
/// removed, a name defined by two files, a file that is not valid.
#[test]
fn a_refresh_of_some_files_gives_what_a_scan_gives_for_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    for index in 0..5 {
        write(
            path,
            &format!("p{index}.toml"),
            &format!("command = \"sleep {index}\"\n"),
        );
    }
    let mut scanner = Scanner::new();
    let names = |list: &[&str]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
    assert!(
        matches!(
            scanner.refresh(path, &SystemUsers, &names(&["p0"])),
            Refreshed::NeedsScan
        ),
        "a folder never scanned is scanned"
    );
    scanner.scan(path, &SystemUsers, Reuse::Nothing);

    write(path, "p0.toml", "command = \"sleep 100\"\n");
    write(path, "new.yaml", "command: sleep 7\n");
    fs::remove_file(path.join("p1.toml")).expect("remove");
    write(path, "p2.yaml", "command: sleep 2\n");
    write(path, "p3.toml", "command = [\n");
    let asked = names(&["p3", "p0", "new", "p1", "p2", "never"]);
    let Refreshed::Entries(entries) = scanner.refresh(path, &SystemUsers, &asked) else {
        panic!("a refresh");
    };
    let whole = scan(path, &SystemUsers);
    let expected: Vec<(String, Option<Entry>)> = ["never", "new", "p0", "p1", "p2", "p3"]
        .into_iter()
        .map(|name| (name.to_string(), whole.programs.get(name).cloned()))
        .collect();
    assert_eq!(entries, expected);
    assert_eq!(command_of(&whole, "new"), argv(&["sleep", "7"]));
    assert!(whole.programs["p2"].spec.is_err(), "two files define p2");
    assert!(whole.programs["p3"].spec.is_err(), "p3 does not parse");
}

/// `depends_on` is checked over the whole folder: while any program uses it, a refresh is a
/// scan.
#[test]
fn a_refresh_is_a_scan_while_dependencies_are_in_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path();
    write(path, "db.toml", "command = \"sleep 1\"\n");
    write(path, "web.toml", "command = \"sleep 1\"\n");
    let mut scanner = Scanner::new();
    scanner.scan(path, &SystemUsers, Reuse::Nothing);
    let web = vec!["web".to_string()];
    write(
        path,
        "web.toml",
        "command = \"sleep 1\"\ndepends_on = [\"db\"]\n",
    );
    assert!(
        matches!(
            scanner.refresh(path, &SystemUsers, &web),
            Refreshed::NeedsScan
        ),
        "a file that now depends on another"
    );
    scanner.scan(path, &SystemUsers, Reuse::Unchanged);
    let db = vec!["db".to_string()];
    fs::remove_file(path.join("db.toml")).expect("remove");
    assert!(
        matches!(
            scanner.refresh(path, &SystemUsers, &db),
            Refreshed::NeedsScan
        ),
        "a program others depend on, removed"
    );
    let whole = scanner.scan(path, &SystemUsers, Reuse::Unchanged).0;
    assert!(
        whole.programs["web"].spec.is_err(),
        "web names a program that is gone"
    );
}
