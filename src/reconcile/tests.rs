//! Table tests of reconcile and boot waves, and the property that reconcile is idempotent.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;
use crate::health::Holds;
use crate::spec::{Format, ProgramSpec, SystemUsers};

fn spec(name: &str, extra: &str) -> Arc<ProgramSpec> {
    let command = if extra.contains("command") {
        ""
    } else {
        "command = \"sleep 100\"\n"
    };
    let text = format!("{command}{extra}\n");
    Arc::new(
        ProgramSpec::from_text(name, Format::Toml, &text, &SystemUsers).expect("valid test spec"),
    )
}

fn desired(spec: &Arc<ProgramSpec>, run: bool) -> Desired {
    Desired {
        spec: Arc::clone(spec),
        run,
        start_epoch: 0,
        restart_epoch: 0,
        boot_priority: spec.priority,
    }
}

fn observed(spec: &Arc<ProgramSpec>, phase: Phase) -> Observed {
    Observed {
        phase,
        spec: Arc::clone(spec),
        start_epoch: 0,
        restart_epoch: 0,
        ready: phase == Phase::Running,
        succeeded: false,
        fatal: false,
    }
}

fn one(want: Option<Desired>, job: Option<Observed>) -> Plan {
    let desired: BTreeMap<_, _> = want.into_iter().map(|w| ("web".to_string(), w)).collect();
    let observed: BTreeMap<_, _> = job.into_iter().map(|j| ("web".to_string(), j)).collect();
    reconcile(&desired, &observed, Gate::Open, &Holds::new())
}

#[derive(Debug, PartialEq)]
enum Expect {
    Nothing,
    Start,
    Restart,
    Update,
    Stop,
    Remove,
}

fn kind(plan: &Plan) -> Expect {
    match plan.as_slice() {
        [] => Expect::Nothing,
        [Action::Start { .. }] => Expect::Start,
        [Action::Restart { .. }] => Expect::Restart,
        [Action::Update { .. }] => Expect::Update,
        [Action::Stop { .. }] => Expect::Stop,
        [Action::Remove { .. }] => Expect::Remove,
        other => panic!("more than one action: {other:?}"),
    }
}

#[test]
fn the_convergence_table() {
    let base = spec("web", "");
    let disabled = spec("web", "enabled = false");
    let new_command = spec("web", "command = \"sleep 200\"");
    let new_env = spec("web", "environment = { A = \"1\" }");
    let new_priority = spec("web", "priority = 5");
    let new_autorestart = spec("web", "autorestart = true");
    use Expect::*;
    use Phase::*;
    let cases: Vec<(&str, Option<Desired>, Option<Observed>, Expect)> = vec![
        (
            "a new program that should run starts",
            Some(desired(&base, true)),
            None,
            Start,
        ),
        (
            "a new program without intent waits",
            Some(desired(&base, false)),
            None,
            Nothing,
        ),
        (
            "a disabled program never starts",
            Some(desired(&disabled, true)),
            None,
            Nothing,
        ),
        (
            "a running program as wanted: nothing",
            Some(desired(&base, true)),
            Some(observed(&base, Running)),
            Nothing,
        ),
        (
            "a starting program as wanted: nothing",
            Some(desired(&base, true)),
            Some(observed(&base, Starting)),
            Nothing,
        ),
        (
            "stop intent stops it",
            Some(desired(&base, false)),
            Some(observed(&base, Running)),
            Stop,
        ),
        (
            "stop intent stops a backoff",
            Some(desired(&base, false)),
            Some(observed(&base, Starting)),
            Stop,
        ),
        (
            "disable stops it",
            Some(desired(&disabled, true)),
            Some(observed(&base, Running)),
            Stop,
        ),
        (
            "a stop in progress is left alone",
            Some(desired(&base, true)),
            Some(observed(&base, Stopping)),
            Nothing,
        ),
        (
            "a stopped program with intent starts",
            Some(desired(&base, true)),
            Some(observed(&base, Stopped)),
            Start,
        ),
        (
            "a program that ended stays down",
            Some(desired(&base, true)),
            Some(observed(&base, Ended)),
            Nothing,
        ),
        (
            "a new command restarts it",
            Some(desired(&new_command, true)),
            Some(observed(&base, Running)),
            Restart,
        ),
        (
            "a new environment restarts it",
            Some(desired(&new_env, true)),
            Some(observed(&base, Starting)),
            Restart,
        ),
        (
            "a new priority applies live",
            Some(desired(&new_priority, true)),
            Some(observed(&base, Running)),
            Update,
        ),
        (
            "a new policy applies live",
            Some(desired(&new_autorestart, true)),
            Some(observed(&base, Running)),
            Update,
        ),
        (
            "a new command gives an ended program a fresh try",
            Some(desired(&new_command, true)),
            Some(observed(&base, Ended)),
            Start,
        ),
        (
            "a new priority of an ended program is recorded",
            Some(desired(&new_priority, true)),
            Some(observed(&base, Ended)),
            Update,
        ),
        (
            "a stopped program's edit is recorded",
            Some(desired(&new_command, false)),
            Some(observed(&base, Stopped)),
            Update,
        ),
        (
            "a deleted file removes the job",
            None,
            Some(observed(&base, Running)),
            Remove,
        ),
        (
            "a deleted file removes a stopped job",
            None,
            Some(observed(&base, Stopped)),
            Remove,
        ),
        (
            "a deleted file waits for a stop in progress",
            None,
            Some(observed(&base, Stopping)),
            Nothing,
        ),
        ("nothing at all", None, None, Nothing),
    ];
    for (what, want, job, expected) in cases {
        let plan = one(want, job);
        assert_eq!(kind(&plan), expected, "{what}: {plan:?}");
    }
}

#[test]
fn operator_epochs() {
    let base = spec("web", "");
    let mut want = desired(&base, true);
    want.start_epoch = 1;
    assert_eq!(
        kind(&one(
            Some(want.clone()),
            Some(observed(&base, Phase::Ended))
        )),
        Expect::Start,
        "start after FATAL"
    );
    assert_eq!(
        kind(&one(
            Some(want.clone()),
            Some(observed(&base, Phase::Running))
        )),
        Expect::Nothing,
        "start of a running one"
    );
    want.restart_epoch = 1;
    assert_eq!(
        kind(&one(Some(want), Some(observed(&base, Phase::Running)))),
        Expect::Restart,
        "restart"
    );
}

#[test]
fn the_gate_holds_back_starts_only() {
    let late = spec("web", "priority = 50");
    let late_command = spec("web", "priority = 50\ncommand = \"sleep 1\"");
    let desired_map: BTreeMap<_, _> = [("web".to_string(), desired(&late, true))].into();
    assert!(
        reconcile(
            &desired_map,
            &BTreeMap::new(),
            Gate::UpTo(10),
            &Holds::new()
        )
        .is_empty()
    );
    assert_eq!(
        reconcile(
            &desired_map,
            &BTreeMap::new(),
            Gate::UpTo(50),
            &Holds::new()
        )
        .len(),
        1
    );
    let running: BTreeMap<_, _> =
        [("web".to_string(), observed(&late_command, Phase::Running))].into();
    let plan = reconcile(&desired_map, &running, Gate::UpTo(10), &Holds::new());
    assert!(
        matches!(plan.as_slice(), [Action::Restart { .. }]),
        "{plan:?}"
    );
}

#[test]
fn boot_waves_open_in_priority_order_with_delays() {
    let db = spec("db", "priority = 1\ndelay_seconds = 2");
    let cache = spec("cache", "priority = 5");
    let web = spec("web", "priority = 10");
    let idle = spec("idle", "priority = 0");
    let mut desired_map = BTreeMap::new();
    for (s, run) in [(&db, true), (&cache, true), (&web, true), (&idle, false)] {
        desired_map.insert(s.name.clone(), desired(s, run));
    }
    let mut waves = BootWaves::new(&desired_map);
    let start = Instant::now();
    let mut observed_map = BTreeMap::new();
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &Holds::new(), start),
        (Gate::UpTo(1), None)
    );
    observed_map.insert("db".to_string(), observed(&db, Phase::Starting));
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &Holds::new(), start),
        (Gate::UpTo(1), None)
    );
    observed_map.insert("db".to_string(), observed(&db, Phase::Running));
    let running_at = start + Duration::from_millis(500);
    let opens = running_at + Duration::from_secs(2);
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &Holds::new(), running_at),
        (Gate::UpTo(1), Some(opens))
    );
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &Holds::new(), opens),
        (Gate::UpTo(5), None)
    );
    // A wave whose program failed still lets the next one go.
    observed_map.insert("cache".to_string(), observed(&cache, Phase::Ended));
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &Holds::new(), opens),
        (Gate::UpTo(10), None)
    );
    observed_map.insert("web".to_string(), observed(&web, Phase::Running));
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &Holds::new(), opens),
        (Gate::Open, None)
    );
    assert_eq!(waves, BootWaves::Done);
}

#[test]
fn nothing_to_boot_means_the_gate_is_open() {
    let idle = spec("idle", "");
    let desired_map: BTreeMap<_, _> = [("idle".to_string(), desired(&idle, false))].into();
    let mut waves = BootWaves::new(&desired_map);
    assert_eq!(waves, BootWaves::Done);
    assert_eq!(
        waves.advance(
            &desired_map,
            &BTreeMap::new(),
            &Holds::new(),
            Instant::now()
        ),
        (Gate::Open, None)
    );
}

/// Applies a plan the way the supervisor would, with the outcome of each action chosen by the
/// test (a stop may still be in progress; a start may already have ended).
fn apply(
    plan: &Plan,
    desired: &BTreeMap<String, Desired>,
    observed: &mut BTreeMap<String, Observed>,
    outcomes: &mut impl Iterator<Item = u8>,
) {
    for action in plan {
        let name = action.name().to_string();
        let mut outcome = || outcomes.next().unwrap_or(0);
        match action {
            Action::Start { spec, .. } | Action::Restart { spec, .. } => {
                let want = &desired[&name];
                let phase =
                    [Phase::Starting, Phase::Running, Phase::Running][usize::from(outcome() % 3)];
                observed.insert(
                    name,
                    Observed {
                        phase,
                        spec: Arc::clone(spec),
                        start_epoch: want.start_epoch,
                        restart_epoch: want.restart_epoch,
                        ready: phase == Phase::Running,
                        succeeded: false,
                        fatal: false,
                    },
                );
            }
            Action::Update { spec, .. } => {
                if let Some(job) = observed.get_mut(&name) {
                    job.spec = Arc::clone(spec);
                }
            }
            Action::Stop { spec, .. } => {
                if let Some(job) = observed.get_mut(&name) {
                    job.spec = Arc::clone(spec);
                    job.phase = if outcome() % 2 == 0 {
                        Phase::Stopped
                    } else {
                        Phase::Stopping
                    };
                }
            }
            Action::Remove { .. } => {
                if outcome() % 2 == 0 {
                    observed.remove(&name);
                } else if let Some(job) = observed.get_mut(&name) {
                    job.phase = Phase::Stopping;
                }
            }
        }
    }
}

fn arbitrary_world() -> impl Strategy<
    Value = (
        BTreeMap<String, Desired>,
        BTreeMap<String, Observed>,
        Vec<u8>,
    ),
> {
    let names = ["a", "b", "c", "d", "e"];
    let variants = [
        "",
        "enabled = false",
        "command = \"sleep 7\"",
        "priority = 3",
        "environment = { X = \"1\" }",
    ];
    let phases = [
        Phase::Starting,
        Phase::Running,
        Phase::Stopping,
        Phase::Stopped,
        Phase::Ended,
    ];
    let entry = (
        prop::option::of((0..variants.len(), any::<bool>(), 0u64..3, 0u64..3)),
        prop::option::of((0..variants.len(), 0..phases.len(), 0u64..3, 0u64..3)),
    );
    (
        prop::collection::vec(entry, names.len()),
        prop::collection::vec(any::<u8>(), 0..20),
    )
        .prop_map(move |(entries, outcomes)| {
            let mut desired_map = BTreeMap::new();
            let mut observed_map = BTreeMap::new();
            for (name, (want, job)) in names.iter().zip(entries) {
                if let Some((variant, run, start_epoch, restart_epoch)) = want {
                    desired_map.insert(
                        name.to_string(),
                        Desired {
                            spec: spec(name, variants[variant]),
                            run,
                            start_epoch,
                            restart_epoch,
                            boot_priority: 0,
                        },
                    );
                }
                if let Some((variant, phase, start_epoch, restart_epoch)) = job {
                    observed_map.insert(
                        name.to_string(),
                        Observed {
                            phase: phases[phase],
                            spec: spec(name, variants[variant]),
                            start_epoch,
                            restart_epoch,
                            ready: phases[phase] == Phase::Running,
                            succeeded: false,
                            fatal: false,
                        },
                    );
                }
            }
            (desired_map, observed_map, outcomes)
        })
}

proptest! {
    /// Applying a plan and reconciling again gives an empty plan, whatever the world was.
    #[test]
    fn reconcile_is_idempotent((desired_map, mut observed_map, outcomes) in arbitrary_world()) {
        let plan = reconcile(&desired_map, &observed_map, Gate::Open, &Holds::new());
        apply(&plan, &desired_map, &mut observed_map, &mut outcomes.into_iter());
        let again = reconcile(&desired_map, &observed_map, Gate::Open, &Holds::new());
        prop_assert!(again.is_empty(), "first plan {:?}\nsecond plan {:?}", plan, again);
    }
}

fn held(names: &[&str]) -> Holds {
    names
        .iter()
        .map(|name| {
            (
                name.to_string(),
                crate::health::Hold {
                    waiting_for: vec!["db".to_string()],
                    blocked: None,
                },
            )
        })
        .collect()
}

#[test]
fn a_held_program_is_not_started_and_a_needed_restart_becomes_a_stop() {
    let base = spec("web", "");
    let new_command = spec("web", "command = \"sleep 200\"");
    let holds = held(&["web"]);
    let plan_of = |want: Desired, job: Option<Observed>| {
        let desired: BTreeMap<_, _> = [("web".to_string(), want)].into();
        let observed: BTreeMap<_, _> = job.into_iter().map(|j| ("web".to_string(), j)).collect();
        kind(&reconcile(&desired, &observed, Gate::Open, &holds))
    };
    use Expect::*;
    assert_eq!(plan_of(desired(&base, true), None), Nothing, "no job");
    assert_eq!(
        plan_of(desired(&base, true), Some(observed(&base, Phase::Stopped))),
        Nothing,
        "stopped"
    );
    let mut again = desired(&base, true);
    again.start_epoch = 1;
    assert_eq!(
        plan_of(again, Some(observed(&base, Phase::Ended))),
        Nothing,
        "asked again after it ended"
    );
    assert_eq!(
        plan_of(desired(&base, true), Some(observed(&base, Phase::Running))),
        Nothing,
        "a running program is left alone"
    );
    assert_eq!(
        plan_of(
            desired(&new_command, true),
            Some(observed(&base, Phase::Running))
        ),
        Stop,
        "a new command: stopped, to start when the hold lifts"
    );
    let mut restart = desired(&base, true);
    restart.restart_epoch = 1;
    assert_eq!(
        plan_of(restart, Some(observed(&base, Phase::Running))),
        Stop,
        "a restart"
    );
    assert_eq!(
        plan_of(desired(&base, false), Some(observed(&base, Phase::Running))),
        Stop,
        "a stop is a stop"
    );
}

#[test]
fn boot_waves_wait_for_readiness_and_a_blocked_program_lets_them_go() {
    let db = spec("db", "priority = 1\nready_log_line = \"up\"");
    let web = spec("web", "priority = 2\ndepends_on = [\"cache\"]");
    let cache = spec("cache", "priority = 5");
    let mut desired_map = BTreeMap::new();
    for s in [&db, &web, &cache] {
        desired_map.insert(s.name.clone(), desired(s, true));
    }
    lower_boot_priorities(&mut desired_map);
    // The cache starts in web's wave: it is what web depends on.
    assert_eq!(desired_map["cache"].boot_priority, 2);
    assert_eq!(desired_map["db"].boot_priority, 1);
    let mut waves = BootWaves::new(&desired_map);
    let now = Instant::now();
    let mut observed_map = BTreeMap::new();
    let mut running_db = observed(&db, Phase::Running);
    running_db.ready = false;
    observed_map.insert("db".to_string(), running_db.clone());
    let none = Holds::new();
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &none, now),
        (Gate::UpTo(1), None),
        "RUNNING but not ready keeps the next wave shut"
    );
    assert_eq!(
        waves.waiting_for(&desired_map, &observed_map, &none),
        ["db"]
    );
    running_db.ready = true;
    observed_map.insert("db".to_string(), running_db);
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &none, now),
        (Gate::UpTo(2), None)
    );
    // web is held by its dependency, which can no longer come up: the wave goes on once the
    // cache itself has settled (it failed).
    let mut blocked = held(&["web"]);
    if let Some(hold) = blocked.get_mut("web") {
        hold.blocked = Some("not started: dependency \"cache\" is FATAL".into());
    }
    let mut fatal = observed(&cache, Phase::Ended);
    fatal.fatal = true;
    observed_map.insert("cache".to_string(), fatal);
    assert_eq!(
        waves.advance(&desired_map, &observed_map, &blocked, now),
        (Gate::Open, None)
    );
    assert!(
        waves
            .waiting_for(&desired_map, &observed_map, &blocked)
            .is_empty()
    );
}

proptest! {
    /// With the holds as they are, applying a plan and reconciling again gives an empty plan.
    #[test]
    fn reconcile_is_idempotent_under_holds(
        (desired_map, mut observed_map, outcomes) in arbitrary_world(),
        held_mask in 0u8..32,
    ) {
        let names = ["a", "b", "c", "d", "e"];
        let held_names: Vec<&str> = names
            .iter()
            .enumerate()
            .filter(|(index, _)| held_mask & (1 << index) != 0)
            .map(|(_, name)| *name)
            .collect();
        let holds = held(&held_names);
        let plan = reconcile(&desired_map, &observed_map, Gate::Open, &holds);
        apply(&plan, &desired_map, &mut observed_map, &mut outcomes.into_iter());
        let again = reconcile(&desired_map, &observed_map, Gate::Open, &holds);
        prop_assert!(again.is_empty(), "first plan {:?}\nsecond plan {:?}", plan, again);
    }
}
