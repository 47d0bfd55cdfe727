//! Dependencies between programs (SPEC §12), pure: the checks of the whole graph that no single
//! file can make (a name that is no program, a cycle), and the *holds* — which programs may not
//! be spawned yet and what they wait for — from the desired and the observed state. Reconcile
//! takes the holds as an input; the boot waves treat a program whose hold can no longer lift by
//! itself as done.

use std::collections::{BTreeMap, BTreeSet};

use crate::reconcile::{Desired, Observed, Phase, will_start};
use crate::spec::Condition;
use crate::spec::name::quote_short;

/// Why a program is not spawned yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The dependencies whose condition does not hold, by name.
    pub waiting_for: Vec<String>,
    /// Set when one of those conditions can no longer hold by itself (a dependency FATAL,
    /// failed, stopped or disabled): why, naming it (`not started: dependency "db" is FATAL`,
    /// what status shows as `last_error`).
    pub blocked: Option<String>,
}

/// The held programs, by name.
pub type Holds = BTreeMap<String, Hold>;

/// What a program's dependencies say, for [`graph_problems`]: `None` for a program whose file
/// is not valid (its own problems are reported; it adds no edge).
pub type Graph<'a> = BTreeMap<&'a str, Option<&'a BTreeMap<String, Condition>>>;

/// The problems of the dependency graph of a whole folder, by program: a dependency that is
/// no program of the folder, and every program on a cycle (each with the cycle spelled out, so
/// that every file of it is reported).
pub fn graph_problems(graph: &Graph<'_>) -> BTreeMap<String, Vec<String>> {
    let mut problems: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, depends_on) in graph {
        for dependency in depends_on.iter().flat_map(|map| map.keys()) {
            if !graph.contains_key(dependency.as_str()) {
                problems.entry((*name).to_string()).or_default().push(format!(
                    "depends on {}, which is no program here (no {dependency}.toml, .yaml or .yml)",
                    quote_short(dependency)
                ));
            }
        }
    }
    for component in cycles(graph) {
        for member in &component {
            let path = cycle_through(graph, member, &component);
            problems
                .entry(member.clone())
                .or_default()
                .push(format!("is in a dependency cycle: {}", path.join(" → ")));
        }
    }
    problems
}

fn edges<'a>(graph: &'a Graph<'_>, name: &str) -> impl Iterator<Item = &'a str> + 'a {
    graph
        .get(name)
        .copied()
        .flatten()
        .into_iter()
        .flat_map(|map| map.keys())
        .map(String::as_str)
        .filter(|dependency| graph.contains_key(dependency))
}

/// The strongly connected components of more than one program (Tarjan's algorithm, with an
/// explicit stack: a long chain of dependencies cannot overflow the thread's stack).
fn cycles(graph: &Graph<'_>) -> Vec<BTreeSet<String>> {
    #[derive(Clone, Copy)]
    struct Mark {
        index: usize,
        low: usize,
        on_stack: bool,
    }
    let mut marks: BTreeMap<&str, Mark> = BTreeMap::new();
    let mut stack: Vec<&str> = Vec::new();
    let mut found = Vec::new();
    let mut next_index = 0;
    for root in graph.keys().copied() {
        if marks.contains_key(root) || graph.get(root).copied().flatten().is_none() {
            continue;
        }
        // (node, its edges not yet visited)
        let mut work: Vec<(&str, Vec<&str>)> = Vec::new();
        marks.insert(
            root,
            Mark {
                index: next_index,
                low: next_index,
                on_stack: true,
            },
        );
        next_index += 1;
        stack.push(root);
        work.push((root, edges(graph, root).collect()));
        while let Some((node, pending)) = work.last_mut() {
            let node = *node;
            if let Some(next) = pending.pop() {
                match marks.get(next).copied() {
                    None => {
                        marks.insert(
                            next,
                            Mark {
                                index: next_index,
                                low: next_index,
                                on_stack: true,
                            },
                        );
                        next_index += 1;
                        stack.push(next);
                        work.push((next, edges(graph, next).collect()));
                    }
                    Some(mark) if mark.on_stack => {
                        if let Some(own) = marks.get_mut(node) {
                            own.low = own.low.min(mark.index);
                        }
                    }
                    Some(_) => {}
                }
                continue;
            }
            work.pop();
            let Some(own) = marks.get(node).copied() else {
                continue;
            };
            if let Some((parent, _)) = work.last()
                && let Some(parent_mark) = marks.get_mut(parent)
            {
                parent_mark.low = parent_mark.low.min(own.low);
            }
            if own.low == own.index {
                let mut component = BTreeSet::new();
                while let Some(member) = stack.pop() {
                    if let Some(mark) = marks.get_mut(member) {
                        mark.on_stack = false;
                    }
                    component.insert(member.to_string());
                    if member == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    found.push(component);
                }
            }
        }
    }
    found
}

/// A shortest cycle from `start` back to itself inside its component: `[a, b, a]`.
fn cycle_through(graph: &Graph<'_>, start: &str, component: &BTreeSet<String>) -> Vec<String> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(node) = queue.pop_front() {
        for next in edges(graph, node) {
            if !component.contains(next) {
                continue;
            }
            if next == start {
                let mut middle = Vec::new();
                let mut at = node;
                while at != start {
                    middle.push(at.to_string());
                    at = came_from.get(at).copied().unwrap_or(start);
                }
                middle.reverse();
                let mut path = vec![start.to_string()];
                path.extend(middle);
                path.push(start.to_string());
                return path;
            }
            if !came_from.contains_key(next) {
                came_from.insert(next, node);
                queue.push_back(next);
            }
        }
    }
    vec![start.to_string(), start.to_string()]
}

/// How one condition on one dependency stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Holds,
    Waiting,
    /// It cannot hold unless someone acts: why.
    Blocked(String),
}

fn judge(
    name: &str,
    condition: Condition,
    want: Option<&Desired>,
    job: Option<&Observed>,
) -> Verdict {
    let shown = quote_short(name);
    let Some(want) = want else {
        return Verdict::Blocked(format!("dependency {shown} has no valid program file"));
    };
    if !want.spec.enabled {
        return Verdict::Blocked(format!("dependency {shown} is disabled"));
    }
    // A start it will get: none yet, stopped with the intent back on, or asked again after it
    // ended (an operator start or restart, a new process shape).
    if will_start(want, job) {
        return Verdict::Waiting;
    }
    let Some(job) = job else {
        return Verdict::Blocked(format!("dependency {shown} is stopped"));
    };
    match (job.phase, condition) {
        (Phase::Starting | Phase::Stopping, _) => Verdict::Waiting,
        (Phase::Running, Condition::Started) => Verdict::Holds,
        (Phase::Running, Condition::Ready) if job.ready => Verdict::Holds,
        (Phase::Running, _) => Verdict::Waiting,
        (Phase::Stopped, _) => Verdict::Blocked(format!("dependency {shown} is stopped")),
        (Phase::Ended, Condition::CompletedSuccessfully) if job.succeeded => Verdict::Holds,
        (Phase::Ended, _) if job.fatal => Verdict::Blocked(format!("dependency {shown} is FATAL")),
        (Phase::Ended, Condition::CompletedSuccessfully) => Verdict::Blocked(format!(
            "dependency {shown} did not complete successfully (an exit code not in its exitcodes)"
        )),
        (Phase::Ended, _) => Verdict::Blocked(format!(
            "dependency {shown} has exited and is not restarting"
        )),
    }
}

/// The holds of every program that reconcile would start (or restart) and that has a condition
/// that does not hold. A program that runs and needs no restart is not held: stopping its
/// dependencies does not stop it. Programs without `depends_on` are never looked at beyond
/// that field.
pub fn holds(desired: &BTreeMap<String, Desired>, observed: &BTreeMap<String, Observed>) -> Holds {
    let mut holds = Holds::new();
    for (name, want) in desired {
        if want.spec.depends_on.is_empty() || !want.wants_running() {
            continue;
        }
        let job = observed.get(name);
        let restarting = job.is_some_and(|job| {
            matches!(job.phase, Phase::Starting | Phase::Running)
                && (job.spec.process != want.spec.process || want.restart_epoch > job.restart_epoch)
        });
        if !(will_start(want, job) || restarting) {
            continue;
        }
        let mut hold = Hold {
            waiting_for: Vec::new(),
            blocked: None,
        };
        for (dependency, condition) in &want.spec.depends_on {
            match judge(
                dependency,
                *condition,
                desired.get(dependency),
                observed.get(dependency),
            ) {
                Verdict::Holds => {}
                Verdict::Waiting => hold.waiting_for.push(dependency.clone()),
                Verdict::Blocked(reason) => {
                    hold.waiting_for.push(dependency.clone());
                    hold.blocked
                        .get_or_insert_with(|| format!("not started: {reason}"));
                }
            }
        }
        if !hold.waiting_for.is_empty() {
            holds.insert(name.clone(), hold);
        }
    }
    holds
}

/// Every program `name` depends on, directly or not (cycle-safe), in name order.
pub fn dependencies_of(desired: &BTreeMap<String, Desired>, name: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(next) = todo.pop() {
        let Some(want) = desired.get(&next) else {
            continue;
        };
        for dependency in want.spec.depends_on.keys() {
            if dependency != name && seen.insert(dependency.clone()) {
                todo.push(dependency.clone());
            }
        }
    }
    seen.into_iter().collect()
}
