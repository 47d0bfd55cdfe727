//! The supervisor's deadlines, ordered by time: which job (or exec probe) waits for which
//! instant. The loop asks for the earliest after every event ([`Deadlines::next`]) and, when it
//! comes, for the ones due ([`Deadlines::due`]); both cost O(log n) (plus the due ones), where
//! a scan of every job cost O(programs) per event (about 0.3 ms with 10,000 jobs).
//!
//! Pure: no clock, no I/O. It holds what it is told and nothing else: the supervisor sets a
//! key's deadline (or none) after each change of that job ([`Deadlines::set`]), and a job
//! without a deadline (RUNNING, STOPPED, FATAL: every idle program) has no entry at all.

use std::borrow::Borrow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// Each key's one deadline, and the deadlines in (instant, key) order.
#[derive(Debug)]
pub(crate) struct Deadlines<K: Ord + Clone> {
    /// The deadlines in order: the first is the next one. Ties go by key.
    by_time: BTreeSet<(Instant, K)>,
    /// Each key's deadline, to find its entry in `by_time` when it moves.
    by_key: BTreeMap<K, Instant>,
}

impl<K: Ord + Clone> Default for Deadlines<K> {
    fn default() -> Self {
        Deadlines {
            by_time: BTreeSet::new(),
            by_key: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> Deadlines<K> {
    /// `key` waits for `at` from now on (`None`: for nothing). A key set to the deadline it has
    /// already costs one lookup and allocates nothing.
    pub fn set<Q>(&mut self, key: &Q, at: Option<Instant>)
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        if self.by_key.get(key).copied() == at {
            return;
        }
        // The key's own copy is taken back from the old entry and used for the new one.
        let owned = match self.by_key.remove_entry(key) {
            Some((owned, old)) => {
                let entry = (old, owned);
                self.by_time.remove(&entry);
                entry.1
            }
            None if at.is_none() => return,
            None => key.to_owned(),
        };
        if let Some(at) = at {
            self.by_time.insert((at, owned.clone()));
            self.by_key.insert(owned, at);
        }
    }

    /// The key waits for nothing any more (it is gone).
    pub fn remove<Q>(&mut self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Ord + ToOwned<Owned = K> + ?Sized,
    {
        self.set(key, None);
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.by_time.first().map(|(at, _)| *at)
    }

    /// The keys whose deadline is `now` or earlier, the longest-due first (ties by key).
    pub fn due(&self, now: Instant) -> Vec<K> {
        self.by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// The deadline of `key`, if it has one.
    #[cfg(test)]
    pub fn get<Q>(&self, key: &Q) -> Option<Instant>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.by_key.get(key).copied()
    }

    /// How many keys wait for a deadline.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Every key with its deadline, in key order (what a check against a scan compares).
    #[cfg(any(test, debug_assertions))]
    pub fn entries(&self) -> impl Iterator<Item = (&K, Instant)> {
        self.by_key.iter().map(|(key, at)| (key, *at))
    }

    pub fn clear(&mut self) {
        self.by_time.clear();
        self.by_key.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// One step of a table: a key set to a deadline (seconds after the start) or to none.
    type Step = (&'static str, Option<u64>);

    /// Each table: the steps, then what `next`, `due` at 5 s and the entries must be.
    struct Case {
        name: &'static str,
        steps: &'static [Step],
        next: Option<u64>,
        due_at_5: &'static [&'static str],
        entries: &'static [(&'static str, u64)],
    }

    const CASES: &[Case] = &[
        Case {
            name: "empty",
            steps: &[],
            next: None,
            due_at_5: &[],
            entries: &[],
        },
        Case {
            name: "a key set to nothing is not kept",
            steps: &[("a", None)],
            next: None,
            due_at_5: &[],
            entries: &[],
        },
        Case {
            name: "one deadline",
            steps: &[("a", Some(3))],
            next: Some(3),
            due_at_5: &["a"],
            entries: &[("a", 3)],
        },
        Case {
            name: "the earliest comes first, whatever the order of setting",
            steps: &[("c", Some(9)), ("a", Some(4)), ("b", Some(2))],
            next: Some(2),
            due_at_5: &["b", "a"],
            entries: &[("a", 4), ("b", 2), ("c", 9)],
        },
        Case {
            name: "a moved deadline leaves no trace of the old one",
            steps: &[("a", Some(1)), ("b", Some(7)), ("a", Some(8))],
            next: Some(7),
            due_at_5: &[],
            entries: &[("a", 8), ("b", 7)],
        },
        Case {
            name: "a deadline moved earlier",
            steps: &[("a", Some(8)), ("b", Some(7)), ("a", Some(1))],
            next: Some(1),
            due_at_5: &["a"],
            entries: &[("a", 1), ("b", 7)],
        },
        Case {
            name: "cleared: the next is the other key's",
            steps: &[("a", Some(1)), ("b", Some(6)), ("a", None)],
            next: Some(6),
            due_at_5: &[],
            entries: &[("b", 6)],
        },
        Case {
            name: "set twice to the same instant: one entry",
            steps: &[("a", Some(2)), ("a", Some(2))],
            next: Some(2),
            due_at_5: &["a"],
            entries: &[("a", 2)],
        },
        Case {
            name: "ties go by key",
            steps: &[("b", Some(5)), ("a", Some(5)), ("c", Some(4))],
            next: Some(4),
            due_at_5: &["c", "a", "b"],
            entries: &[("a", 5), ("b", 5), ("c", 4)],
        },
        Case {
            name: "due at the instant itself, not after it",
            steps: &[("a", Some(5)), ("b", Some(6))],
            next: Some(5),
            due_at_5: &["a"],
            entries: &[("a", 5), ("b", 6)],
        },
        Case {
            name: "cleared, then set again",
            steps: &[("a", Some(3)), ("a", None), ("a", Some(4))],
            next: Some(4),
            due_at_5: &["a"],
            entries: &[("a", 4)],
        },
        Case {
            name: "all cleared",
            steps: &[("a", Some(3)), ("b", Some(1)), ("b", None), ("a", None)],
            next: None,
            due_at_5: &[],
            entries: &[],
        },
    ];

    #[test]
    fn table() {
        let start = Instant::now();
        let at = |seconds: u64| start + Duration::from_secs(seconds);
        for case in CASES {
            let mut deadlines: Deadlines<String> = Deadlines::default();
            for (key, seconds) in case.steps {
                deadlines.set(*key, seconds.map(at));
            }
            assert_eq!(deadlines.next(), case.next.map(at), "{}: next", case.name);
            let due: Vec<String> = deadlines.due(at(5));
            assert_eq!(due, case.due_at_5, "{}: due", case.name);
            let entries: Vec<(&str, Instant)> = deadlines
                .entries()
                .map(|(key, instant)| (key.as_str(), instant))
                .collect();
            let expected: Vec<(&str, Instant)> = case
                .entries
                .iter()
                .map(|(key, seconds)| (*key, at(*seconds)))
                .collect();
            assert_eq!(entries, expected, "{}: entries", case.name);
            assert_eq!(deadlines.len(), case.entries.len(), "{}: len", case.name);
            // The two orders hold the same entries.
            assert_eq!(
                deadlines.by_time.len(),
                deadlines.by_key.len(),
                "{}",
                case.name
            );
            for (key, seconds) in case.entries {
                assert_eq!(
                    deadlines.get(*key),
                    Some(at(*seconds)),
                    "{}: get",
                    case.name
                );
            }
        }
    }

    /// Any sequence of sets agrees with the obvious model (a map scanned for its minimum).
    #[test]
    fn agrees_with_a_scanned_map() {
        let start = Instant::now();
        let mut deadlines: Deadlines<u32> = Deadlines::default();
        let mut model: BTreeMap<u32, Instant> = BTreeMap::new();
        // A small linear congruential sequence: deterministic, no dependency.
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..5_000 {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let key = u32::try_from((seed >> 33) % 50).unwrap();
            let at = match (seed >> 20) % 4 {
                0 => None,
                _ => Some(start + Duration::from_millis((seed >> 40) % 100)),
            };
            deadlines.set(&key, at);
            match at {
                Some(at) => model.insert(key, at),
                None => model.remove(&key),
            };
            assert_eq!(deadlines.next(), model.values().min().copied());
            assert_eq!(deadlines.len(), model.len());
            assert_eq!(deadlines.by_time.len(), model.len());
        }
        let now = start + Duration::from_millis(50);
        let mut expected: Vec<(Instant, u32)> = model
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(key, at)| (*at, *key))
            .collect();
        expected.sort();
        let expected: Vec<u32> = expected.into_iter().map(|(_, key)| key).collect();
        assert!(!expected.is_empty(), "the sequence left some deadline due");
        assert_eq!(deadlines.due(now), expected);
        deadlines.remove(&expected[0]);
        assert_eq!(deadlines.get(&expected[0]), None);
        assert_eq!(deadlines.len(), model.len() - 1);
        deadlines.clear();
        assert_eq!(deadlines.next(), None);
        assert_eq!(deadlines.len(), 0);
    }
}
