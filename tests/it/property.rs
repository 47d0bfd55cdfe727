//! Issue 4: whatever sequence of file edits, deletes and invalid writes happens, once the folder
//! is still the running set equals what the folder says.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::support::{TestDaemon, cmdline, processes_running, unique, wait_until};

#[derive(Debug, Clone)]
enum Step {
    /// Write a valid version: (program, version number, enabled).
    Valid(usize, u64, bool),
    /// Write a file that does not parse.
    Invalid(usize),
    Delete(usize),
}

const NAMES: [&str; 3] = ["alpha", "beta", "gamma"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0..NAMES.len(), 0u64..4, prop::bool::weighted(0.8)).prop_map(|(p, v, e)| Step::Valid(p, v, e)),
        1 => (0..NAMES.len()).prop_map(Step::Invalid),
        1 => (0..NAMES.len()).prop_map(Step::Delete),
    ]
}

/// What the daemon should run for one program, by the contract: the intent is `boot` at the
/// first valid version, cleared while disabled; an invalid write keeps the last good version.
#[derive(Debug, Clone, Default)]
struct Model {
    last_good: Option<(u64, bool)>,
    run: bool,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, max_shrink_iters: 8, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_running_set_equals_what_the_folder_says(steps in prop::collection::vec(step(), 1..14)) {
        let daemon = TestDaemon::start();
        let base = unique() * 10;
        let command = |version: u64| format!("sleep {}", base + version);
        let mut model: BTreeMap<usize, Model> = BTreeMap::new();
        for step in &steps {
            match *step {
                Step::Valid(program, version, enabled) => {
                    daemon.put(&format!("{}.toml", NAMES[program]), &format!(
                        "command = \"{}\"\nboot = true\nenabled = {enabled}\nstartsecs = 0\nstopwaitsecs = 2\n",
                        command(version)
                    ));
                    let entry = model.entry(program).or_default();
                    if entry.last_good.is_none() {
                        entry.run = enabled;
                    }
                    if !enabled {
                        entry.run = false;
                    }
                    entry.last_good = Some((version, enabled));
                }
                Step::Invalid(program) => {
                    daemon.put(&format!("{}.toml", NAMES[program]), "command = \"sleep 1\"\nboot = \"sometimes\"\n");
                    model.entry(program).or_default();
                }
                Step::Delete(program) => {
                    if model.remove(&program).is_some() {
                        daemon.remove(&format!("{}.toml", NAMES[program]));
                    }
                }
            }
        }
        let expected: BTreeMap<&str, String> = model
            .iter()
            .filter_map(|(program, entry)| match entry.last_good {
                Some((version, true)) if entry.run => Some((NAMES[*program], command(version))),
                _ => None,
            })
            .collect();
        let every_version: Vec<String> = (0..4).map(command).collect();
        let describe = || {
            let running: Vec<(String, Vec<u32>)> = every_version.iter().map(|line| (line.clone(), processes_running(line))).collect();
            format!("steps {steps:?}\nexpected {expected:?}\nrunning {running:?}\n{}", daemon.log())
        };
        wait_until("the running set to equal the folder", 30, || {
            let running: Vec<(String, usize)> = every_version
                .iter()
                .map(|line| (line.clone(), processes_running(line).len()))
                .filter(|(_, count)| *count > 0)
                .collect();
            let mut wanted: Vec<(String, usize)> = Vec::new();
            for line in expected.values() {
                match wanted.iter_mut().find(|(known, _)| known == line) {
                    Some((_, count)) => *count += 1,
                    None => wanted.push((line.clone(), 1)),
                }
            }
            wanted.sort();
            let mut running = running;
            running.sort();
            running == wanted
                && expected.iter().all(|(name, line)| {
                    daemon.pid_of(name).is_some_and(|pid| cmdline(pid) == *line)
                })
        }, describe);
    }
}
