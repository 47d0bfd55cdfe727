//! `hoody-daemon validate`: what a container build runs.

use std::fs;

use crate::support::{describe, repo, run};

#[test]
fn the_seeds_full_example_passes_in_toml_and_yaml() {
    let dir = repo().join("examples/seed");
    let dir = dir.to_str().expect("utf-8 path");
    let output = run(&["validate", dir]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["validate", dir], &output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("2 programs valid (api-server, api-server-yaml)"),
        "{stdout}"
    );
}

#[test]
fn the_embedded_programs_folder_passes() {
    let dir = repo().join("programs.d");
    let dir = dir.to_str().expect("utf-8 path");
    let output = run(&["validate", dir]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        describe(&["validate", dir], &output)
    );
}

#[test]
fn a_broken_folder_names_every_file_and_field() {
    let folder = tempfile::tempdir().expect("tempdir");
    let path = folder.path();
    let files = [
        ("empty-command.toml", "command = \"\"\nboot = \"maybe\"\n"),
        (
            "typo.yaml",
            "command: sleep 1\nautorestrat: true\nuser: no-such-user-here\n",
        ),
        ("twin.toml", "command = \"sleep 1\"\n"),
        ("twin.yml", "command: sleep 1\n"),
        ("syntax.toml", "command = \"sleep 1\"\n[environment\n"),
        ("mismatch.toml", "name = \"other\"\ncommand = \"sleep 1\"\n"),
        ("good.toml", "command = \"sleep 1\"\n"),
    ];
    for (file, text) in files {
        fs::write(path.join(file), text).expect("write");
    }
    let dir = path.to_str().expect("utf-8 path");
    let output = run(&["validate", dir]);
    let report = describe(&["validate", dir], &output);
    assert_eq!(output.status.code(), Some(3), "{report}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = [
        "empty-command.toml:1:1: field `command`: is empty",
        "empty-command.toml:2:1: field `boot`: expected true or false",
        "typo.yaml:2:1: field `autorestrat`: unknown field",
        "typo.yaml:3:1: field `user`: unknown user \"no-such-user-here\"",
        "twin.toml: program \"twin\" is defined by more than one file",
        "twin.yml: program \"twin\" is defined by more than one file",
        "syntax.toml:2:",
        "mismatch.toml:1:1: field `name`: \"other\" does not match the file name",
        "8 problems in 5 of 6 programs",
    ];
    for line in expected {
        assert!(stderr.contains(line), "missing {line:?}\n{report}");
    }
    assert!(!stderr.contains("good.toml"), "{report}");
}

#[test]
fn a_missing_folder_fails_with_its_name() {
    let output = run(&["validate", "/nonexistent/programs.d"]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("/nonexistent/programs.d: cannot read the programs folder"),
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let output = run(&["validate", "a", "b"]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{}",
        describe(&["validate", "a", "b"], &output)
    );
}
