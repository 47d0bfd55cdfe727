//! `memory_max` and `cpu_max` (SPEC §14) as cgroup v2 limits of a program's own cgroup
//! ([`super::cgroup`]), and the OOM kills its `memory.events` counts. The texts written and
//! read are pure functions (tested with tables); [`apply`] and [`oom_kills`] are the thin I/O.
//!
//! A limit needs its controller (`memory`, `cpu`) enabled for the program's cgroup, which
//! needs it in the parent's `cgroup.subtree_control`, which needs it delegated to the daemon's
//! own cgroup (a systemd unit with `Delegate=yes`, a container with a private cgroup
//! namespace). Where that is missing the limit cannot be enforced: the program still runs,
//! and its `last_error` says which controller is missing and where (never silently).

use std::fs;
use std::io;
use std::path::Path;

use crate::spec::Limits;

/// The period `cpu.max` is written with: 100 ms, the kernel's default.
pub const CPU_PERIOD_MICROS: u64 = 100_000;

/// `cpu.max`'s text for a number of CPUs: `"QUOTA PERIOD"` in microseconds.
pub fn cpu_max_line(cpus: f64) -> String {
    let quota = (cpus * CPU_PERIOD_MICROS as f64).round().max(1_000.0) as u64;
    format!("{quota} {CPU_PERIOD_MICROS}")
}

/// `memory.max`'s text: bytes.
pub fn memory_max_line(bytes: u64) -> String {
    bytes.to_string()
}

/// The controllers a program's limits need, in the order they are named.
pub fn needed_controllers(limits: &Limits) -> Vec<&'static str> {
    let mut needed = Vec::new();
    if limits.memory_max.is_some() {
        needed.push("memory");
    }
    if limits.cpu_max.is_some() {
        needed.push("cpu");
    }
    needed
}

/// Of `needed`, those not in a `cgroup.controllers` (or `subtree_control`) text.
pub fn missing_controllers<'a>(available: &str, needed: &[&'a str]) -> Vec<&'a str> {
    let available: Vec<&str> = available.split_ascii_whitespace().collect();
    needed
        .iter()
        .filter(|controller| !available.contains(controller))
        .copied()
        .collect()
}

/// The `oom_kill` count of a `memory.events` text (0 when absent).
pub fn parse_oom_kills(events: &str) -> u64 {
    events
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(' ')?;
            (key == "oom_kill")
                .then(|| value.trim().parse().ok())
                .flatten()
        })
        .unwrap_or(0)
}

/// What a program's `last_error` says when a limit cannot be enforced.
pub fn not_enforced(limits: &Limits, why: &str) -> String {
    let fields: Vec<&str> = [
        limits.memory_max.map(|_| "memory_max"),
        limits.cpu_max.map(|_| "cpu_max"),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!("{} not enforced: {why}", fields.join(" and "))
}

/// Writes the limits into the cgroup at `leaf` (whose parent is the daemon's tree), enabling
/// the controllers in the tree's `cgroup.subtree_control` first when needed. Limits that are
/// not set are written as `max` (an edit that removes one lifts it). An error says what is
/// missing, for `last_error`.
pub fn apply(leaf: &Path, limits: &Limits) -> Result<(), String> {
    let needed = needed_controllers(limits);
    let tree = leaf.parent().unwrap_or(leaf);
    if !needed.is_empty() {
        let enabled = fs::read_to_string(tree.join("cgroup.subtree_control")).unwrap_or_default();
        let missing = missing_controllers(&enabled, &needed);
        if !missing.is_empty() {
            let available = fs::read_to_string(tree.join("cgroup.controllers")).unwrap_or_default();
            let absent = missing_controllers(&available, &missing);
            if !absent.is_empty() {
                return Err(format!(
                    "the {} controller{} {} not delegated to the daemon's cgroup {} (its cgroup.controllers has {:?}); run the daemon with them delegated (systemd: Delegate=yes; docs/METRICS.md)",
                    absent.join(" and "),
                    if absent.len() == 1 { "" } else { "s" },
                    if absent.len() == 1 { "is" } else { "are" },
                    tree.display(),
                    available.trim()
                ));
            }
            let line: Vec<String> = missing.iter().map(|name| format!("+{name}")).collect();
            fs::OpenOptions::new()
                .write(true)
                .open(tree.join("cgroup.subtree_control"))
                .and_then(|mut opened| io::Write::write_all(&mut opened, line.join(" ").as_bytes()))
                .map_err(|error| {
                format!(
                    "cannot enable {} for the programs' cgroups ({}/cgroup.subtree_control: {error})",
                    missing.join(" and "),
                    tree.display()
                )
            })?;
        }
    }
    // Interface files are opened, never created (a missing one means its controller is off).
    let write = |file: &str, text: String, wanted: bool| -> Result<(), String> {
        let written = fs::OpenOptions::new()
            .write(true)
            .open(leaf.join(file))
            .and_then(|mut opened| io::Write::write_all(&mut opened, text.as_bytes()));
        match written {
            Ok(()) => Ok(()),
            // Not set and the controller is off: nothing to lift.
            Err(error) if !wanted && error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(format!(
                "cannot write {text:?} to {}/{file}: {error}",
                leaf.display()
            )),
        }
    };
    write(
        "memory.max",
        limits
            .memory_max
            .map_or_else(|| "max".to_string(), memory_max_line),
        limits.memory_max.is_some(),
    )?;
    write(
        "cpu.max",
        limits
            .cpu_max
            .map_or_else(|| format!("max {CPU_PERIOD_MICROS}"), cpu_max_line),
        limits.cpu_max.is_some(),
    )?;
    Ok(())
}

/// The OOM kills counted in the cgroup at `leaf` so far (0 without the memory controller).
pub fn oom_kills(leaf: &Path) -> u64 {
    fs::read_to_string(leaf.join("memory.events"))
        .map(|events| parse_oom_kills(&events))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_written_as_the_kernel_reads_them() {
        let table = [
            (1.0, "100000 100000"),
            (0.5, "50000 100000"),
            (1.5, "150000 100000"),
            (0.01, "1000 100000"),
            (4.0, "400000 100000"),
        ];
        for (cpus, line) in table {
            assert_eq!(cpu_max_line(cpus), line, "{cpus}");
        }
        assert_eq!(memory_max_line(256 << 20), "268435456");
    }

    #[test]
    fn missing_controllers_are_named() {
        let limits = Limits {
            memory_max: Some(1 << 30),
            cpu_max: Some(2.0),
            max_memory_restart: None,
        };
        assert_eq!(needed_controllers(&limits), ["memory", "cpu"]);
        assert_eq!(needed_controllers(&Limits::default()), Vec::<&str>::new());
        let table: &[(&str, &[&str])] = &[
            ("", &["memory", "cpu"]),
            ("cpuset cpu io memory pids", &[]),
            ("cpuset io pids\n", &["memory", "cpu"]),
            ("memory", &["cpu"]),
            // `cpuset` is not `cpu`.
            ("cpuset memory", &["cpu"]),
        ];
        for (available, missing) in table {
            assert_eq!(
                missing_controllers(available, &["memory", "cpu"]),
                *missing,
                "{available:?}"
            );
        }
        assert_eq!(
            not_enforced(&limits, "no cgroup"),
            "memory_max and cpu_max not enforced: no cgroup"
        );
    }

    #[test]
    fn oom_kills_are_read_from_memory_events() {
        let table = [
            ("", 0),
            (
                "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\noom_group_kill 0\n",
                1,
            ),
            ("oom_kill 12", 12),
            ("oom_group_kill 4\n", 0),
            ("oom_kill x\n", 0),
        ];
        for (text, kills) in table {
            assert_eq!(parse_oom_kills(text), kills, "{text:?}");
        }
    }

    #[test]
    fn a_folder_without_controllers_is_refused_with_the_reason() {
        // A plain folder stands for a cgroup whose parent has no controller: the error names
        // what is missing; nothing is written.
        let tree = tempfile::tempdir().expect("tempdir");
        fs::write(tree.path().join("cgroup.controllers"), "").expect("controllers");
        fs::write(tree.path().join("cgroup.subtree_control"), "").expect("subtree");
        let leaf = tree.path().join("web.program");
        fs::create_dir(&leaf).expect("leaf");
        let limits = Limits {
            memory_max: Some(64 << 20),
            cpu_max: None,
            max_memory_restart: None,
        };
        let error = apply(&leaf, &limits).expect_err("no memory controller");
        assert!(
            error.contains("the memory controller is not delegated"),
            "{error}"
        );
        assert!(!leaf.join("memory.max").exists());
        // No limit set: nothing needed, and lifting one that cannot exist is no error.
        assert_eq!(apply(&leaf, &Limits::default()), Ok(()));
        assert_eq!(oom_kills(&leaf), 0);
    }
}
