//! The event stream's ids and memory (SPEC §14): every event the loop publishes gets an id and
//! is kept in a bounded ring, so a client that reconnects with `Last-Event-ID` gets what it
//! missed, or a `reset` when the ring no longer holds it.
//!
//! Ids are numbers that grow by one per event, starting after the daemon's start time in unix
//! microseconds: the next run of the daemon starts above any id the last one gave (unless it
//! gave more than a million events per second of its life), so a client that reconnects to a
//! restarted daemon gets a `reset`, never events of one run taken for the other's. A
//! JavaScript number holds them exactly (below 2^53 until the year 2255).
//!
//! The ring is the loop's (one owner of mutable state): a reconnecting stream subscribes to
//! the live events first, then asks the loop for the missed ones ([`Request::EventsSince`]);
//! events published in between come both ways and the stream drops the live copies it already
//! sent (their ids are not above the last one replayed).
//!
//! [`Request::EventsSince`]: super::Request::EventsSince

use std::collections::VecDeque;
use std::sync::Arc;

use super::Event;

/// How many events the ring keeps (once a stream has received one: [`Ring::unheard`]): about 200 KiB when full (an event and its names take a
/// couple of hundred bytes), which a crash loop of a few programs fills in minutes, a quiet
/// daemon in days.
pub const RING_CAPACITY: usize = 1_000;

/// An event with its id. The id goes in the SSE `id:` line; the data is the event's JSON as
/// before (whose own `id` is the program's).
#[derive(Debug, Clone, PartialEq)]
pub struct Published {
    pub id: u64,
    pub event: Event,
}

impl Published {
    /// The SSE `event:` name.
    pub fn kind(&self) -> &'static str {
        match self.event {
            Event::Config { .. } => "config",
            Event::State { .. } => "state",
            Event::Health { .. } => "health",
        }
    }
}

/// What a reconnecting client gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Since {
    /// The events after the id it gave (none when it missed nothing).
    Missed(Vec<Arc<Published>>),
    /// Its id is older than the ring (or from another run, or not an id): it must re-read
    /// the state. `latest`: the last id given so far.
    Reset { latest: u64 },
}

/// The last [`RING_CAPACITY`] events.
#[derive(Debug)]
pub struct Ring {
    /// Ids of this run are above it.
    base: u64,
    /// The last id given (`base` before the first event).
    latest: u64,
    capacity: usize,
    events: VecDeque<Arc<Published>>,
    /// Whether events are kept (see [`Ring::unheard`]).
    keeping: bool,
}

impl Ring {
    /// A ring that keeps every event from the first.
    #[cfg(test)]
    pub fn new(base: u64, capacity: usize) -> Ring {
        Ring {
            keeping: true,
            ..Ring::unheard(base, capacity)
        }
    }

    /// A ring that keeps nothing until [`Ring::heard`]: a client learns ids only from a
    /// stream, so until a stream has received an event no client can resume after one, and
    /// keeping them would be memory for nobody (a boot of N programs publishes about 3N).
    /// Once one has, every event is kept, since any client may come back.
    pub fn unheard(base: u64, capacity: usize) -> Ring {
        Ring {
            base,
            latest: base,
            capacity: capacity.max(1),
            events: VecDeque::new(),
            keeping: false,
        }
    }

    /// Gives the event its id and keeps it (dropping the oldest past the capacity), if the
    /// ring keeps events yet.
    pub fn push(&mut self, event: Event) -> Arc<Published> {
        self.latest += 1;
        let published = Arc::new(Published {
            id: self.latest,
            event,
        });
        if self.keeping {
            self.keep(published.clone());
        }
        published
    }

    /// `published`, the last event pushed, reached a stream: from it on, events are kept.
    pub fn heard(&mut self, published: &Arc<Published>) {
        if !self.keeping {
            self.keeping = true;
            self.keep(published.clone());
        }
    }

    fn keep(&mut self, published: Arc<Published>) {
        if self.events.len() == self.capacity {
            self.events.pop_front();
        }
        self.events.push_back(published);
    }

    /// The events after `last_event_id` (the header's text, as the client sent it).
    pub fn since(&self, last_event_id: &str) -> Since {
        let reset = Since::Reset {
            latest: self.latest,
        };
        let Ok(last) = last_event_id.trim().parse::<u64>() else {
            return reset;
        };
        if last == self.latest {
            return Since::Missed(Vec::new());
        }
        if last < self.base || last > self.latest {
            return reset;
        }
        // The first one missed must still be in the ring.
        match self.events.front() {
            Some(oldest) if oldest.id <= last + 1 => Since::Missed(
                self.events
                    .iter()
                    .filter(|event| event.id > last)
                    .cloned()
                    .collect(),
            ),
            _ => reset,
        }
    }
}

/// The first id of a run: after its start time in unix microseconds.
pub fn base_id() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| u64::try_from(since.as_micros()).unwrap_or(u64::MAX / 2))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::ProcessState;

    fn event(index: u64) -> Event {
        Event::State {
            id: Some(index),
            name: format!("p{index}"),
            from: ProcessState::Stopped,
            to: ProcessState::Starting,
            reason: String::new(),
            time: 0.0,
        }
    }

    fn ids(since: &Since) -> Option<Vec<u64>> {
        match since {
            Since::Missed(events) => Some(events.iter().map(|event| event.id).collect()),
            Since::Reset { .. } => None,
        }
    }

    #[test]
    fn a_reconnect_gets_what_it_missed_or_a_reset() {
        let mut ring = Ring::new(1_000, 3);
        assert_eq!(ids(&ring.since("1000")), Some(vec![]));
        for index in 0..5 {
            let published = ring.push(event(index));
            assert_eq!(published.id, 1_001 + index);
        }
        // The ring holds 1003, 1004, 1005.
        assert_eq!(ring.latest, 1_005);
        let table: &[(&str, Option<&[u64]>)] = &[
            ("1005", Some(&[])),
            ("1004", Some(&[1_005])),
            ("1003", Some(&[1_004, 1_005])),
            // 1003 is the oldest kept: a client that saw 1002 missed only what is kept.
            ("1002", Some(&[1_003, 1_004, 1_005])),
            // 1002 is gone.
            ("1001", None),
            ("1000", None),
            // Another run's ids, a future id, not an id.
            ("17", None),
            ("1006", None),
            ("abc", None),
            ("", None),
            (" 1004 ", Some(&[1_005])),
        ];
        for (last, expected) in table {
            assert_eq!(
                ids(&ring.since(last)),
                expected.map(<[u64]>::to_vec),
                "{last:?}"
            );
        }
        assert_eq!(ring.since("1"), Since::Reset { latest: 1_005 });
    }

    /// Until a stream has received an event, nothing is kept (no client holds an id to
    /// resume after); from the first event a stream received, everything is.
    #[test]
    fn an_unheard_ring_keeps_events_from_the_first_a_stream_received() {
        let mut ring = Ring::unheard(1_000, 10);
        for index in 0..3 {
            ring.push(event(index));
        }
        assert_eq!(ring.events.len(), 0);
        assert_eq!(ids(&ring.since("1003")), Some(vec![]));
        assert_eq!(ring.since("1002"), Since::Reset { latest: 1_003 });
        let heard = ring.push(event(3));
        ring.heard(&heard);
        ring.heard(&heard);
        ring.push(event(4));
        let later = ring.push(event(5));
        ring.heard(&later);
        assert_eq!(ids(&ring.since("1004")), Some(vec![1_005, 1_006]));
        assert_eq!(ids(&ring.since("1005")), Some(vec![1_006]));
        // 1004 is the oldest kept: a client that saw 1003 missed only what is kept; one that
        // saw 1002 missed 1003, which the ring did not keep.
        assert_eq!(ids(&ring.since("1003")), Some(vec![1_004, 1_005, 1_006]));
        assert_eq!(ring.since("1002"), Since::Reset { latest: 1_006 });
    }

    #[test]
    fn published_events_carry_their_id_and_type() {
        let mut ring = Ring::new(0, 10);
        let published = ring.push(event(7));
        assert_eq!(published.kind(), "state");
        assert_eq!(published.id, 1);
        let json = serde_json::to_value(&published.event).expect("serialize");
        assert_eq!(json["id"], 7);
        assert_eq!(json["type"], "state");
        assert!(base_id() > 1_700_000_000_000_000);
    }
}
