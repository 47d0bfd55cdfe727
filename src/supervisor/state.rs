//! The process state machine of SPEC §5 (supervisord's) and the restart policy, as pure
//! functions and tables: no processes, no clock. The [`Supervisor`](super::Supervisor) asks
//! [`can_transition`] before every state change it makes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize, Serializer};

use crate::spec::AutoRestart;

/// Where a job is in its life. Serialised as the seed's upper-case names (`"RUNNING"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ProcessState {
    /// Not running, and not asked to.
    Stopped,
    /// Spawned; it must stay up `startsecs` to count as started.
    Starting,
    /// Up for at least `startsecs`.
    Running,
    /// Exited before `startsecs`; waiting to retry.
    Backoff,
    /// Asked to stop: `stopsignal` sent, SIGKILL after `stopwaitsecs`.
    Stopping,
    /// Exited after it was RUNNING; `autorestart` decided it stays down (or it restarts now).
    Exited,
    /// Could not be started (spawn error, or `startretries` exhausted).
    Fatal,
}

impl ProcessState {
    pub const ALL: [ProcessState; 7] = [
        ProcessState::Stopped,
        ProcessState::Starting,
        ProcessState::Running,
        ProcessState::Backoff,
        ProcessState::Stopping,
        ProcessState::Exited,
        ProcessState::Fatal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProcessState::Stopped => "STOPPED",
            ProcessState::Starting => "STARTING",
            ProcessState::Running => "RUNNING",
            ProcessState::Backoff => "BACKOFF",
            ProcessState::Stopping => "STOPPING",
            ProcessState::Exited => "EXITED",
            ProcessState::Fatal => "FATAL",
        }
    }

    /// A process of this job exists (it may already be a zombie not yet reaped).
    pub fn has_process(self) -> bool {
        matches!(
            self,
            ProcessState::Starting | ProcessState::Running | ProcessState::Stopping
        )
    }
}

impl fmt::Display for ProcessState {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Every transition the supervisor may make; anything else is a bug. supervisord's table, plus
/// STARTING → FATAL for a spawn error (supervisord retries those through BACKOFF; a missing
/// binary or folder will not appear by retrying, so we fail at once with the reason).
pub const ALLOWED_TRANSITIONS: &[(ProcessState, ProcessState)] = {
    use ProcessState::*;
    &[
        (Stopped, Starting),
        (Starting, Running),
        (Starting, Backoff),
        (Starting, Stopping),
        (Starting, Fatal),
        (Running, Stopping),
        (Running, Exited),
        (Backoff, Starting),
        (Backoff, Fatal),
        (Backoff, Stopped),
        (Stopping, Stopped),
        (Exited, Starting),
        (Fatal, Starting),
    ]
};

pub fn can_transition(from: ProcessState, to: ProcessState) -> bool {
    ALLOWED_TRANSITIONS.contains(&(from, to))
}

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExitInfo {
    /// It called exit with this code.
    Code(i32),
    /// A signal killed it (the raw signal number).
    Signal(i32),
}

impl ExitInfo {
    /// `"TERM"`, `"KILL"`, … for a signal; the number when it has no name.
    pub fn signal_name(signal: i32) -> String {
        match nix::sys::signal::Signal::try_from(signal) {
            Ok(signal) => signal
                .as_str()
                .strip_prefix("SIG")
                .unwrap_or(signal.as_str())
                .to_string(),
            Err(_) => signal.to_string(),
        }
    }
}

impl fmt::Display for ExitInfo {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitInfo::Code(code) => write!(formatter, "exit code {code}"),
            ExitInfo::Signal(signal) => {
                write!(formatter, "signal {}", ExitInfo::signal_name(*signal))
            }
        }
    }
}

/// `{"code": 1}` or `{"signal": "KILL"}`.
impl Serialize for ExitInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            ExitInfo::Code(code) => map.serialize_entry("code", code)?,
            ExitInfo::Signal(signal) => {
                map.serialize_entry("signal", &ExitInfo::signal_name(*signal))?
            }
        }
        map.end()
    }
}

/// Whether a process that exited after it was RUNNING is started again. A death by signal is
/// always unexpected: `exitcodes` lists exit codes only.
pub fn should_restart(policy: AutoRestart, exit: ExitInfo, exitcodes: &[i32]) -> bool {
    match policy {
        AutoRestart::True => true,
        AutoRestart::False => false,
        AutoRestart::Unexpected => match exit {
            ExitInfo::Code(code) => !exitcodes.contains(&code),
            ExitInfo::Signal(_) => true,
        },
    }
}

/// How long BACKOFF waits before failed start number `attempt` (1-based) is retried:
/// 1 s, 2 s, 3 s … as supervisord does.
pub fn backoff_delay(attempt: u32) -> Duration {
    Duration::from_secs(u64::from(attempt.max(1)))
}

/// Uptime as the seed shows it: `H:MM:SS`, hours unbounded.
pub fn format_uptime(seconds: u64) -> String {
    Uptime(seconds).to_string()
}

/// Seconds of uptime, as [`format_uptime`] writes them: the daemon writes a thousand of them
/// into one status answer, and `write!` with `{:02}` cost more than the rest of each status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uptime(pub u64);

impl Uptime {
    /// `H:MM:SS` in ASCII, written into `buffer` (22 bytes at most: `u64::MAX` seconds).
    pub fn ascii(self, buffer: &mut [u8; 24]) -> &[u8] {
        let Uptime(seconds) = self;
        // Written from the end: seconds, minutes, then the hours' digits.
        let mut start = buffer.len();
        let mut put = |byte: u8| {
            start -= 1;
            buffer[start] = byte;
        };
        // `% 10` leaves a digit (0–9): the casts cannot truncate.
        let digit = |value: u64| b'0' + (value % 10) as u8;
        let minutes = seconds / 60 % 60;
        for byte in [
            digit(seconds % 60),
            digit(seconds % 60 / 10),
            b':',
            digit(minutes),
            digit(minutes / 10),
            b':',
        ] {
            put(byte);
        }
        let mut hours = seconds / 3600;
        loop {
            put(digit(hours));
            hours /= 10;
            if hours == 0 {
                break;
            }
        }
        &buffer[start..]
    }
}

impl fmt::Display for Uptime {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buffer = [0; 24];
        // Only ASCII digits and colons: always UTF-8.
        let text = std::str::from_utf8(self.ascii(&mut buffer)).map_err(|_| fmt::Error)?;
        formatter.write_str(text)
    }
}

/// At most this many immediate restarts (after an exit from RUNNING) in one window…
pub const IMMEDIATE_RESTARTS_PER_WINDOW: u32 = 20;
/// …of this length; past it, the next restart waits [`RESTART_PAUSE`].
pub const RESTART_WINDOW: Duration = Duration::from_secs(1);
pub const RESTART_PAUSE: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;
    use ProcessState::*;

    #[test]
    fn every_transition_is_allowed_or_refused_as_the_table_says() {
        // The full 7 × 7 matrix, written out so a change of the table is a visible diff here.
        let allowed: &[(ProcessState, &[ProcessState])] = &[
            (Stopped, &[Starting]),
            (Starting, &[Running, Backoff, Stopping, Fatal]),
            (Running, &[Stopping, Exited]),
            (Backoff, &[Starting, Fatal, Stopped]),
            (Stopping, &[Stopped]),
            (Exited, &[Starting]),
            (Fatal, &[Starting]),
        ];
        let mut checked = 0;
        for from in ProcessState::ALL {
            let targets = allowed
                .iter()
                .find(|(state, _)| *state == from)
                .map(|(_, targets)| *targets)
                .unwrap_or(&[]);
            for to in ProcessState::ALL {
                assert_eq!(
                    can_transition(from, to),
                    targets.contains(&to),
                    "{from} -> {to}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 49);
        // No self-transitions: a no-op is not a transition.
        for state in ProcessState::ALL {
            assert!(!can_transition(state, state));
        }
    }

    #[test]
    fn states_serialise_as_the_seed_names() {
        for state in ProcessState::ALL {
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.as_str()));
        }
    }

    #[test]
    fn restart_policy() {
        let cases: &[(AutoRestart, ExitInfo, &[i32], bool)] = &[
            (AutoRestart::True, ExitInfo::Code(0), &[0], true),
            (AutoRestart::True, ExitInfo::Code(1), &[0], true),
            (AutoRestart::True, ExitInfo::Signal(9), &[0], true),
            (AutoRestart::False, ExitInfo::Code(0), &[0], false),
            (AutoRestart::False, ExitInfo::Code(1), &[0], false),
            (AutoRestart::False, ExitInfo::Signal(15), &[0], false),
            (AutoRestart::Unexpected, ExitInfo::Code(0), &[0], false),
            (AutoRestart::Unexpected, ExitInfo::Code(1), &[0], true),
            (AutoRestart::Unexpected, ExitInfo::Code(2), &[0, 2], false),
            (AutoRestart::Unexpected, ExitInfo::Code(0), &[2], true),
            (AutoRestart::Unexpected, ExitInfo::Code(0), &[], true),
            (
                AutoRestart::Unexpected,
                ExitInfo::Signal(15),
                &[0, 15],
                true,
            ),
            (AutoRestart::Unexpected, ExitInfo::Signal(9), &[0], true),
        ];
        for (policy, exit, exitcodes, expected) in cases {
            assert_eq!(
                should_restart(*policy, *exit, exitcodes),
                *expected,
                "{policy:?} {exit} {exitcodes:?}"
            );
        }
    }

    #[test]
    fn backoff_grows_one_second_per_attempt() {
        let cases = [(0, 1), (1, 1), (2, 2), (3, 3), (10, 10)];
        for (attempt, seconds) in cases {
            assert_eq!(backoff_delay(attempt), Duration::from_secs(seconds));
        }
    }

    #[test]
    fn uptime_format() {
        let cases = [
            (0, "0:00:00"),
            (59, "0:00:59"),
            (61, "0:01:01"),
            (3600, "1:00:00"),
            (8130, "2:15:30"),
            (360_000, "100:00:00"),
            (362_439, "100:40:39"),
            (u64::MAX, "5124095576030431:00:15"),
        ];
        for (seconds, text) in cases {
            assert_eq!(format_uptime(seconds), text);
            let hours = seconds / 3600;
            let written = format!("{hours}:{:02}:{:02}", (seconds / 60) % 60, seconds % 60);
            assert_eq!(written, text, "the cases themselves");
        }
    }

    #[test]
    fn exit_info_display_and_json() {
        assert_eq!(ExitInfo::Code(3).to_string(), "exit code 3");
        assert_eq!(ExitInfo::Signal(9).to_string(), "signal KILL");
        assert_eq!(
            serde_json::to_string(&ExitInfo::Signal(15)).unwrap(),
            r#"{"signal":"TERM"}"#
        );
        assert_eq!(
            serde_json::to_string(&ExitInfo::Code(0)).unwrap(),
            r#"{"code":0}"#
        );
    }
}
