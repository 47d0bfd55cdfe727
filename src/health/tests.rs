//! Table tests of the pure core: a tracker's answers to sequences of inputs, the dependency
//! graph's problems, and the holds.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::depends::{Graph, dependencies_of, graph_problems, holds};
use super::*;
use crate::reconcile::{Desired, Observed, Phase};
use crate::spec::{Condition, Format, ProgramSpec, SystemUsers};

fn spec(name: &str, extra: &str) -> Arc<ProgramSpec> {
    let text = format!("command = \"sleep 100\"\n{extra}\n");
    Arc::new(
        ProgramSpec::from_text(name, Format::Toml, &text, &SystemUsers)
            .unwrap_or_else(|problems| panic!("{name}: {problems:?}")),
    )
}

/// One input to a tracker, at a time in milliseconds after the process started.
#[derive(Debug, Clone)]
enum Input {
    Running,
    Due,
    Pass,
    Fail,
    Line,
    Notify(&'static str),
}

/// A step as a short word: `probe`, `healthy`, `unhealthy`, `starting`, `ready`, `unready`,
/// `restart`.
fn words(steps: &[Step]) -> Vec<String> {
    steps
        .iter()
        .map(|step| match step {
            Step::Probe(_) => "probe".to_string(),
            Step::Health { to, .. } => to.as_str().to_string(),
            Step::Ready(true) => "ready".to_string(),
            Step::Ready(false) => "unready".to_string(),
            Step::Restart(reason) => format!("restart: {reason}"),
        })
        .collect()
}

/// (what, the program's fields, [(ms, input, steps expected (prefixes), ready after)])
type TrackerCase = (
    &'static str,
    &'static str,
    Vec<(u64, Input, Vec<&'static str>, bool)>,
);

#[test]
fn the_tracker_table() {
    use Input::*;
    let exec = "[healthcheck]\nexec = \"true\"\ninterval = 1\nretries = 2\n";
    let cases: Vec<TrackerCase> = vec![
        (
            "the first pass makes it healthy and ready",
            exec,
            vec![
                (0, Due, vec![], false),
                (100, Running, vec!["probe"], false),
                (150, Pass, vec!["healthy", "ready"], true),
                (500, Due, vec![], true),
                (1100, Due, vec!["probe"], true),
                (1150, Pass, vec![], true),
            ],
        ),
        (
            "retries failures in a row make it unhealthy and restart it",
            exec,
            vec![
                (100, Running, vec!["probe"], false),
                (150, Pass, vec!["healthy", "ready"], true),
                (1100, Due, vec!["probe"], true),
                (1150, Fail, vec![], true),
                (2100, Due, vec!["probe"], true),
                (
                    2150,
                    Fail,
                    vec![
                        "unhealthy",
                        "restart: unhealthy: 2 probes failed in a row",
                        "unready",
                    ],
                    false,
                ),
            ],
        ),
        (
            "a pass between failures resets the count",
            exec,
            vec![
                (100, Running, vec!["probe"], false),
                (150, Fail, vec![], false),
                (1100, Due, vec!["probe"], false),
                (1150, Pass, vec!["healthy", "ready"], true),
                (2100, Due, vec!["probe"], true),
                (2150, Fail, vec![], true),
                (3100, Due, vec!["probe"], true),
                (3150, Pass, vec![], true),
            ],
        ),
        (
            "on_unhealthy = none reports and comes back",
            "[healthcheck]\nexec = \"true\"\ninterval = 1\nretries = 1\non_unhealthy = \"none\"\n",
            vec![
                (100, Running, vec!["probe"], false),
                (150, Pass, vec!["healthy", "ready"], true),
                (1100, Due, vec!["probe"], true),
                (1150, Fail, vec!["unhealthy", "unready"], false),
                (2100, Due, vec!["probe"], false),
                (2150, Fail, vec![], false),
                (3100, Due, vec!["probe"], false),
                (3150, Pass, vec!["healthy", "ready"], true),
            ],
        ),
        (
            "failures in the start period do not count",
            "[healthcheck]\nexec = \"true\"\ninterval = 1\nretries = 1\nstart_period = 2.5\n",
            vec![
                (100, Running, vec!["probe"], false),
                (150, Fail, vec![], false),
                (1100, Due, vec!["probe"], false),
                (1150, Fail, vec![], false),
                (2100, Due, vec!["probe"], false),
                (2150, Fail, vec![], false),
                (3100, Due, vec!["probe"], false),
                (3150, Fail, vec!["unhealthy", "restart: unhealthy"], false),
            ],
        ),
        (
            "no probe before RUNNING, and none while one runs",
            exec,
            vec![
                (5000, Due, vec![], false),
                (5100, Running, vec!["probe"], false),
                (7000, Due, vec![], false),
                (7100, Pass, vec!["healthy", "ready"], true),
                // The next is due a second after the last began: at once.
                (7100, Due, vec!["probe"], true),
            ],
        ),
        (
            "a ready line seen before RUNNING makes it ready at RUNNING",
            "ready_log_line = \"listening\"",
            vec![
                (50, Line, vec![], false),
                (1000, Running, vec!["ready"], true),
                (2000, Due, vec![], true),
            ],
        ),
        (
            "without the line it is RUNNING but not ready",
            "ready_log_line = \"listening\"",
            vec![
                (1000, Running, vec![], false),
                (3000, Line, vec!["ready"], true),
            ],
        ),
        (
            "READY=1 makes it ready; STATUS= is kept",
            "notify = true",
            vec![
                (1000, Running, vec![], false),
                (1100, Notify("STATUS=loading"), vec![], false),
                (1200, Notify("READY=1\nSTATUS=serving"), vec!["ready"], true),
            ],
        ),
        (
            "a health check or a ready line: either is enough",
            "ready_log_line = \"up\"\n[healthcheck]\nexec = \"true\"\ninterval = 1\n",
            vec![
                (100, Running, vec!["probe"], false),
                (150, Fail, vec![], false),
                (300, Line, vec!["ready"], true),
            ],
        ),
        (
            "the watchdog restarts a program that stops pinging",
            "notify = true\nwatchdog_sec = 1",
            vec![
                (100, Running, vec![], false),
                (200, Notify("READY=1\nWATCHDOG=1"), vec!["ready"], true),
                (1100, Due, vec![], true),
                (1150, Notify("WATCHDOG=1"), vec![], true),
                (2100, Due, vec![], true),
                (
                    2200,
                    Due,
                    vec!["restart: watchdog: no WATCHDOG=1 for 1s"],
                    true,
                ),
                (9000, Due, vec![], true),
            ],
        ),
        (
            "WATCHDOG=trigger restarts at once",
            "notify = true\nwatchdog_sec = 10",
            vec![
                (100, Running, vec![], false),
                (
                    200,
                    Notify("WATCHDOG=1\nWATCHDOG=trigger"),
                    vec!["restart: watchdog: WATCHDOG=trigger"],
                    false,
                ),
            ],
        ),
        (
            "the watchdog waits for start-up: a slow start is no hang",
            "notify = true\nwatchdog_sec = 1",
            vec![
                (100, Running, vec![], false),
                (5000, Due, vec![], false),
                (5100, Notify("READY=1"), vec!["ready"], true),
                (6000, Due, vec![], true),
                (6200, Due, vec!["restart: watchdog"], true),
            ],
        ),
    ];
    for (what, fields, inputs) in cases {
        let spec = spec("web", fields);
        let start = Instant::now();
        let mut tracker = Tracker::new(&spec, start).expect("a tracker");
        for (ms, input, expected, ready) in inputs {
            let now = start + Duration::from_millis(ms);
            let steps = match input.clone() {
                Input::Running => tracker.on_running(now),
                Input::Due => tracker.due(now),
                Input::Pass => tracker.on_probe(true, "ok".into(), 1.0, now),
                Input::Fail => tracker.on_probe(false, "refused".into(), 1.0, now),
                Input::Line => tracker.on_log_line(),
                Input::Notify(text) => {
                    tracker.on_notify(NotifyMessage::parse(text.as_bytes()), now)
                }
            };
            let got = words(&steps);
            assert_eq!(
                got.len(),
                expected.len(),
                "{what}: at {ms} ms {input:?}: {got:?}, expected {expected:?}"
            );
            for (word, prefix) in got.iter().zip(&expected) {
                assert!(
                    word.starts_with(prefix),
                    "{what}: at {ms} ms {input:?}: {got:?}, expected {expected:?}"
                );
            }
            assert_eq!(
                tracker.ready(),
                ready,
                "{what}: ready after {ms} ms {input:?}"
            );
        }
    }
}

#[test]
fn programs_without_these_fields_have_no_tracker() {
    let plain = spec("web", "");
    assert!(Tracker::new(&plain, Instant::now()).is_none());
    let with_deps = spec("web", "depends_on = [\"db\"]");
    assert!(Tracker::new(&with_deps, Instant::now()).is_none());
}

#[test]
fn a_tracker_keeps_the_last_probe_and_the_status_text() {
    let spec = spec("web", "notify = true\n[healthcheck]\nexec = \"true\"\n");
    let start = Instant::now();
    let mut tracker = Tracker::new(&spec, start).expect("a tracker");
    assert_eq!(tracker.health(), Some(Health::Starting));
    assert_eq!(tracker.next_deadline(), None, "nothing before RUNNING");
    tracker.on_running(start);
    tracker.on_probe(false, "connection refused".into(), 12.5, start);
    assert_eq!(
        tracker.last_probe(),
        Some(&LastProbe {
            time: 12.5,
            ok: false,
            output: "connection refused".into()
        })
    );
    assert_eq!(
        tracker.next_deadline(),
        Some(start + Duration::from_secs(10))
    );
    tracker.on_notify(NotifyMessage::parse(b"STATUS=warming up"), start);
    assert_eq!(tracker.status_text(), Some("warming up"));
    // A new check applies at once, from "starting".
    let other = crate::spec::health::RawHealthcheck {
        tcp: Some("127.0.0.1:1".into()),
        ..Default::default()
    }
    .resolve()
    .expect("valid");
    let steps = tracker.set_check(Some(&other), start);
    assert_eq!(words(&steps), ["probe"]);
    assert_eq!(tracker.last_probe(), None);
}

#[test]
fn notify_datagrams() {
    let cases: &[(&[u8], NotifyMessage)] = &[
        (
            b"READY=1",
            NotifyMessage {
                ready: true,
                ..Default::default()
            },
        ),
        (
            b"STATUS=Processing 3 of 10\nWATCHDOG=1\n",
            NotifyMessage {
                status: Some("Processing 3 of 10".into()),
                watchdog: true,
                ..Default::default()
            },
        ),
        (
            b"WATCHDOG=trigger\nMAINPID=42\nREADY=0",
            NotifyMessage {
                watchdog_trigger: true,
                ..Default::default()
            },
        ),
        (b"garbage\0\xff", NotifyMessage::default()),
    ];
    for (datagram, expected) in cases {
        assert_eq!(&NotifyMessage::parse(datagram), expected, "{datagram:?}");
    }
    let long = format!("STATUS={}", "é".repeat(2000));
    let status = NotifyMessage::parse(long.as_bytes())
        .status
        .expect("status");
    assert!(status.len() <= state::MAX_OUTPUT && status.starts_with('é'));
    let mut merged = NotifyMessage::parse(b"STATUS=a");
    merged.merge(NotifyMessage::parse(b"READY=1"));
    merged.merge(NotifyMessage::parse(b"STATUS=b"));
    assert!(merged.ready);
    assert_eq!(merged.status.as_deref(), Some("b"));
}

fn graph<'a>(specs: &'a [(&'a str, Option<&'a BTreeMap<String, Condition>>)]) -> Graph<'a> {
    specs.iter().map(|(name, deps)| (*name, *deps)).collect()
}

fn deps(names: &[&str]) -> BTreeMap<String, Condition> {
    names
        .iter()
        .map(|name| (name.to_string(), Condition::Started))
        .collect()
}

#[test]
fn graph_problems_name_unknown_programs_and_every_member_of_a_cycle() {
    let (a, b, c, d) = (
        deps(&["b"]),
        deps(&["c"]),
        deps(&["a"]),
        deps(&["ghost", "a"]),
    );
    let empty = deps(&[]);
    let specs = [
        ("a", Some(&a)),
        ("b", Some(&b)),
        ("c", Some(&c)),
        ("d", Some(&d)),
        ("e", Some(&empty)),
        ("broken", None),
    ];
    let problems = graph_problems(&graph(&specs));
    assert_eq!(
        problems.keys().map(String::as_str).collect::<Vec<_>>(),
        ["a", "b", "c", "d"]
    );
    assert_eq!(problems["a"], ["is in a dependency cycle: a → b → c → a"]);
    assert_eq!(problems["c"], ["is in a dependency cycle: c → a → b → c"]);
    assert_eq!(problems["d"].len(), 1, "{:?}", problems["d"]);
    assert!(problems["d"][0].contains("\"ghost\", which is no program"));
    // A program depending on an invalid one is fine: the invalid one reports itself.
    let on_broken = deps(&["broken"]);
    let specs = [("x", Some(&on_broken)), ("broken", None)];
    assert!(graph_problems(&graph(&specs)).is_empty());
    // Two programs naming each other.
    let (x, y) = (deps(&["y"]), deps(&["x"]));
    let specs = [("x", Some(&x)), ("y", Some(&y))];
    let problems = graph_problems(&graph(&specs));
    assert_eq!(problems["x"], ["is in a dependency cycle: x → y → x"]);
    assert_eq!(problems["y"], ["is in a dependency cycle: y → x → y"]);
    // A long chain is no cycle and does not overflow anything.
    let chain: Vec<(String, BTreeMap<String, Condition>)> = (0..5000)
        .map(|index| (format!("p{index}"), deps(&[&format!("p{}", index + 1)])))
        .collect();
    let mut specs: Graph<'_> = chain
        .iter()
        .map(|(name, deps)| (name.as_str(), Some(deps)))
        .collect();
    specs.insert("p5000", None);
    assert!(graph_problems(&specs).is_empty());
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

fn observed(spec: &Arc<ProgramSpec>, phase: Phase, ready: bool) -> Observed {
    Observed {
        phase,
        spec: Arc::clone(spec),
        start_epoch: 0,
        restart_epoch: 0,
        ready,
        succeeded: false,
        fatal: false,
    }
}

/// What the hold of `web` says: waiting for these, and blocked with a reason holding this.
fn hold_of(
    desired_map: &BTreeMap<String, Desired>,
    observed_map: &BTreeMap<String, Observed>,
) -> Option<(Vec<String>, Option<String>)> {
    holds(desired_map, observed_map)
        .remove("web")
        .map(|hold| (hold.waiting_for, hold.blocked))
}

#[test]
fn the_holds_table() {
    let started = spec("web", "depends_on = [\"db\"]");
    let ready = spec("web", "depends_on = { db = \"ready\" }");
    let completed = spec("web", "depends_on = { db = \"completed_successfully\" }");
    let db = spec("db", "");
    let db_disabled = spec("db", "enabled = false");
    #[derive(Clone, Copy)]
    enum Db {
        Missing,
        Disabled,
        NotWanted,
        Pending,
        Job(Phase, bool, bool, bool),
    }
    use Db::*;
    use Phase::*;
    // (what, web's spec, db, expected: None = free, Some(blocked?))
    let cases: Vec<(&str, &Arc<ProgramSpec>, Db, Option<bool>)> = vec![
        (
            "started: running",
            &started,
            Job(Running, false, false, false),
            None,
        ),
        (
            "started: starting",
            &started,
            Job(Starting, false, false, false),
            Some(false),
        ),
        (
            "started: stopping",
            &started,
            Job(Stopping, false, false, false),
            Some(false),
        ),
        ("started: not yet started", &started, Pending, Some(false)),
        (
            "started: FATAL",
            &started,
            Job(Ended, false, false, true),
            Some(true),
        ),
        (
            "started: exited",
            &started,
            Job(Ended, false, true, false),
            Some(true),
        ),
        (
            "started: stopped by the operator",
            &started,
            NotWanted,
            Some(true),
        ),
        ("started: disabled", &started, Disabled, Some(true)),
        ("started: no such program", &started, Missing, Some(true)),
        (
            "ready: running, not ready",
            &ready,
            Job(Running, false, false, false),
            Some(false),
        ),
        (
            "ready: ready",
            &ready,
            Job(Running, true, false, false),
            None,
        ),
        (
            "ready: FATAL",
            &ready,
            Job(Ended, false, false, true),
            Some(true),
        ),
        (
            "completed: running",
            &completed,
            Job(Running, true, false, false),
            Some(false),
        ),
        (
            "completed: succeeded",
            &completed,
            Job(Ended, false, true, false),
            None,
        ),
        (
            "completed: failed",
            &completed,
            Job(Ended, false, false, false),
            Some(true),
        ),
        (
            "completed: FATAL",
            &completed,
            Job(Ended, false, false, true),
            Some(true),
        ),
        ("completed: not run yet", &completed, Pending, Some(false)),
    ];
    for (what, web, db_state, expected) in cases {
        let mut desired_map = BTreeMap::from([("web".to_string(), desired(web, true))]);
        let mut observed_map = BTreeMap::new();
        match db_state {
            Missing => {}
            Disabled => {
                desired_map.insert("db".into(), desired(&db_disabled, false));
            }
            NotWanted => {
                desired_map.insert("db".into(), desired(&db, false));
                observed_map.insert("db".into(), observed(&db, Stopped, false));
            }
            Pending => {
                desired_map.insert("db".into(), desired(&db, true));
            }
            Job(phase, ready, succeeded, fatal) => {
                desired_map.insert("db".into(), desired(&db, true));
                let mut job = observed(&db, phase, ready);
                job.succeeded = succeeded;
                job.fatal = fatal;
                observed_map.insert("db".into(), job);
            }
        }
        let hold = hold_of(&desired_map, &observed_map);
        match expected {
            None => assert_eq!(hold, None, "{what}"),
            Some(blocked) => {
                let (waiting_for, reason) = hold.unwrap_or_else(|| panic!("{what}: no hold"));
                assert_eq!(waiting_for, ["db"], "{what}");
                assert_eq!(reason.is_some(), blocked, "{what}: {reason:?}");
                if let Some(reason) = reason {
                    assert!(reason.contains("\"db\""), "{what}: {reason}");
                }
            }
        }
    }
    // A program that runs is not held when a dependency goes (stopping one does not stop it),
    // unless it needs a restart.
    let desired_map = BTreeMap::from([
        ("web".to_string(), desired(&started, true)),
        ("db".to_string(), desired(&db, false)),
    ]);
    let observed_map = BTreeMap::from([
        ("web".to_string(), observed(&started, Running, true)),
        ("db".to_string(), observed(&db, Stopped, false)),
    ]);
    assert_eq!(hold_of(&desired_map, &observed_map), None);
    let mut restart = desired_map.clone();
    if let Some(want) = restart.get_mut("web") {
        want.restart_epoch = 1;
    }
    assert!(hold_of(&restart, &observed_map).is_some_and(|(_, blocked)| blocked.is_some()));
    // A program that does not want to run has no hold, and neither has one without deps.
    let desired_map = BTreeMap::from([
        ("web".to_string(), desired(&started, false)),
        ("db".to_string(), desired(&db, true)),
    ]);
    assert!(holds(&desired_map, &BTreeMap::new()).is_empty());
    // A start asked again after the dependency ended waits for it to run again.
    let mut desired_map = BTreeMap::from([
        ("web".to_string(), desired(&completed, true)),
        ("db".to_string(), desired(&db, true)),
    ]);
    let mut done = observed(&db, Ended, false);
    done.succeeded = true;
    let observed_map = BTreeMap::from([("db".to_string(), done)]);
    assert_eq!(hold_of(&desired_map, &observed_map), None);
    if let Some(want) = desired_map.get_mut("db") {
        want.start_epoch = 1;
    }
    assert_eq!(
        hold_of(&desired_map, &observed_map),
        Some((vec!["db".to_string()], None))
    );
}

#[test]
fn dependencies_are_found_transitively_and_cycle_safe() {
    let web = spec("web", "depends_on = [\"api\", \"db\"]");
    let api = spec("api", "depends_on = [\"db\", \"cache\"]");
    let db = spec("db", "depends_on = [\"web\"]");
    let desired_map: BTreeMap<_, _> = [&web, &api, &db]
        .into_iter()
        .map(|spec| (spec.name.clone(), desired(spec, true)))
        .collect();
    assert_eq!(dependencies_of(&desired_map, "web"), ["api", "cache", "db"]);
    assert_eq!(dependencies_of(&desired_map, "cache"), Vec::<String>::new());
}
