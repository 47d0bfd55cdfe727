//! Issue 4: whatever sequence of file edits, deletes and invalid writes happens, once the folder
//! is still the running set equals what the folder says.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::support::{TestDaemon, cmdline, processes_running, unique, wait_until};

#[derive(Debug, Clone)]
enum Step {
    /// Write a valid version: (program, version number, enabled). Versions are always enabled:
    /// a disable then enable is stateful on purpose (enable never starts), so its outcome depends
    /// on whether the daemon saw the disabled version in between — the convergence tests cover
    /// it step by step. Everything else here must converge whatever the daemon saw.
    Valid(usize, u64, bool),
    /// Write a file that does not parse.
    Invalid(usize),
    Delete(usize),
}

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..NAMES.len(), 0u64..4, Just(true)).prop_map(|(p, v, e)| Step::Valid(p, v, e)),
        1 => (0..NAMES.len()).prop_map(Step::Invalid),
        1 => (0..NAMES.len()).prop_map(Step::Delete),
    ]
}

/// What the folder says of one program since it was (last) created: every valid version written
/// (the daemon may have seen any of them, or none, when writes come faster than it looks), and
/// whether the file as it stands is valid.
#[derive(Debug, Clone, Default)]
struct Model {
    valid_versions: Vec<u64>,
    current: Option<u64>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 8, failure_persistence: None, ..ProptestConfig::default() })]

    /// Once the folder is still: a program whose file is valid runs exactly that version, one
    /// whose file is broken runs at most one earlier valid version (the last good one it saw),
    /// and a deleted one runs nothing.
    #[test]
    fn the_running_set_equals_what_the_folder_says(steps in prop::collection::vec(step(), 1..14)) {
        let daemon = TestDaemon::start();
        let base = unique() * 100;
        // Commands are unique per program and version, so /proc tells whose a process is.
        let command = |program: usize, version: u64| format!("sleep {}", base + program as u64 * 10 + version);
        let mut model: BTreeMap<usize, Model> = BTreeMap::new();
        // The valid versions of a deleted program: a file written again soon after its delete
        // may reach the daemon as an edit (the delete never seen, when both come within one
        // debounce on a loaded machine), and then its last good version may still run.
        let mut deleted: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for step in &steps {
            let (Step::Valid(program, ..) | Step::Invalid(program) | Step::Delete(program)) = *step;
            if !matches!(step, Step::Delete(_)) && !model.contains_key(&program) {
                let earlier = deleted.remove(&program).unwrap_or_default();
                model.insert(program, Model { valid_versions: earlier, current: None });
            }
            match *step {
                Step::Valid(program, version, enabled) => {
                    daemon.put(&format!("{}.toml", NAMES[program]), &format!(
                        "command = \"{}\"\nboot = true\nenabled = {enabled}\nstartsecs = 0\nstopwaitsecs = 2\n",
                        command(program, version)
                    ));
                    let entry = model.entry(program).or_default();
                    entry.valid_versions.push(version);
                    entry.current = Some(version);
                }
                Step::Invalid(program) => {
                    daemon.put(&format!("{}.toml", NAMES[program]), "command = \"sleep 1\"\nboot = \"sometimes\"\n");
                    model.entry(program).or_default().current = None;
                }
                Step::Delete(program) => {
                    if let Some(gone) = model.remove(&program) {
                        daemon.remove(&format!("{}.toml", NAMES[program]));
                        deleted.insert(program, gone.valid_versions);
                    }
                }
            }
        }
        let running_of = |program: usize| -> Vec<(u64, u32)> {
            (0..4)
                .flat_map(|version| processes_running(&command(program, version)).into_iter().map(move |pid| (version, pid)))
                .collect()
        };
        let converged = || {
            (0..NAMES.len()).all(|program| {
                let running = running_of(program);
                match model.get(&program) {
                    None => running.is_empty(),
                    Some(Model { current: Some(version), .. }) => {
                        running.len() == 1
                            && running[0].0 == *version
                            && daemon.pid_of(NAMES[program]) == Some(running[0].1)
                            && cmdline(running[0].1) == command(program, *version)
                    }
                    Some(Model { current: None, valid_versions }) => {
                        running.len() <= 1 && running.iter().all(|(version, _)| valid_versions.contains(version))
                    }
                }
            })
        };
        let describe = || {
            let running: Vec<(&str, Vec<(u64, u32)>)> = (0..NAMES.len()).map(|p| (NAMES[p], running_of(p))).collect();
            format!("steps {steps:?}\nmodel {model:?}\nrunning {running:?}\n{}", daemon.log())
        };
        wait_until("the running set to equal the folder", 30, converged, describe);
    }
}
