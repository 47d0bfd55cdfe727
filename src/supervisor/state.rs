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
/// binary or folder will not appear by retrying, so we fail at once with the reason), and
/// STARTING → EXITED for a one-shot program (`autorestart = false`) that ends with an expected
/// exit code before `startsecs`: it did its job, it did not fail to start ([`ends_as_done`]).
pub const ALLOWED_TRANSITIONS: &[(ProcessState, ProcessState)] = {
    use ProcessState::*;
    &[
        (Stopped, Starting),
        (Starting, Running),
        (Starting, Backoff),
        (Starting, Stopping),
        (Starting, Fatal),
        (Starting, Exited),
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

/// A signal as an operator writes it for `programs signal` (`HUP`, `SIGHUP`, `hup`, `1`):
/// its number and its name as status shows signals (`HUP`; a number without a name, such as a
/// real-time signal, stays a number).
pub fn parse_signal(text: &str) -> Result<(i32, String), String> {
    let text = text.trim();
    let number = match text.parse::<i32>() {
        Ok(number) => number,
        Err(_) => {
            let upper = text.to_ascii_uppercase();
            let name = upper.strip_prefix("SIG").unwrap_or(&upper);
            nix::sys::signal::Signal::iterator()
                .find(|signal| signal.as_str().strip_prefix("SIG") == Some(name))
                .map(|signal| signal as i32)
                .ok_or_else(|| {
                    format!(
                        "{} is not a signal; give a name (HUP, SIGUSR1, TERM…) or a number",
                        crate::spec::name::quote_short(text)
                    )
                })?
        }
    };
    if !(1..=libc::SIGRTMAX()).contains(&number) {
        return Err(format!(
            "{number} is not a signal number (1 to {})",
            libc::SIGRTMAX()
        ));
    }
    Ok((number, ExitInfo::signal_name(number)))
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

/// Whether an exit seen while STARTING (before `startsecs`) is a finished one-shot run (→
/// EXITED) rather than a failed start (→ BACKOFF). Only with `autorestart = false`: such a
/// program is never started again, so an expected exit is its success whatever `startsecs`
/// says (`echo done` runs once and ends EXITED). An unexpected exit, or a death by signal,
/// is still a failed start; with the other policies an early exit always is (supervisord).
pub fn ends_as_done(policy: AutoRestart, exit: ExitInfo, exitcodes: &[i32]) -> bool {
    policy == AutoRestart::False
        && matches!(exit, ExitInfo::Code(code) if exitcodes.contains(&code))
}

/// Why a job waits in BACKOFF, for `last_error`: `retry 2 of 3: exit code 3 before startsecs
/// (1s)`. `attempt` is the failed start just seen (1-based), so it names the retry to come.
pub fn backoff_reason(attempt: u32, retries: u32, exit: ExitInfo, startsecs: Duration) -> String {
    format!(
        "retry {attempt} of {retries}: {exit} before startsecs ({})",
        seconds_text(startsecs)
    )
}

/// Seconds as people write them: `1s`, `0.5s`, `86400s`.
pub fn seconds_text(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else {
        let text = format!("{:.3}", duration.as_secs_f64());
        format!("{}s", text.trim_end_matches('0').trim_end_matches('.'))
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
            (Starting, &[Running, Backoff, Stopping, Fatal, Exited]),
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
    fn a_one_shot_that_exits_as_expected_is_done_not_failed() {
        let cases: &[(AutoRestart, ExitInfo, &[i32], bool)] = &[
            (AutoRestart::False, ExitInfo::Code(0), &[0], true),
            (AutoRestart::False, ExitInfo::Code(2), &[0, 2], true),
            // Unexpected code, or a signal: a failed start, as before.
            (AutoRestart::False, ExitInfo::Code(1), &[0], false),
            (AutoRestart::False, ExitInfo::Signal(9), &[0], false),
            (AutoRestart::False, ExitInfo::Code(0), &[], false),
            // The other policies restart, so an early exit is a failed start (supervisord).
            (AutoRestart::Unexpected, ExitInfo::Code(0), &[0], false),
            (AutoRestart::True, ExitInfo::Code(0), &[0], false),
        ];
        for (policy, exit, exitcodes, expected) in cases {
            assert_eq!(
                ends_as_done(*policy, *exit, exitcodes),
                *expected,
                "{policy:?} {exit} {exitcodes:?}"
            );
        }
    }

    #[test]
    fn backoff_reasons_name_the_retry_the_exit_and_startsecs() {
        let cases = [
            (
                1,
                3,
                ExitInfo::Code(3),
                1000,
                "retry 1 of 3: exit code 3 before startsecs (1s)",
            ),
            (
                2,
                3,
                ExitInfo::Code(3),
                1000,
                "retry 2 of 3: exit code 3 before startsecs (1s)",
            ),
            (
                1,
                5,
                ExitInfo::Signal(9),
                500,
                "retry 1 of 5: signal KILL before startsecs (0.5s)",
            ),
            (
                1,
                1,
                ExitInfo::Code(0),
                1250,
                "retry 1 of 1: exit code 0 before startsecs (1.25s)",
            ),
        ];
        for (attempt, retries, exit, millis, text) in cases {
            assert_eq!(
                backoff_reason(attempt, retries, exit, Duration::from_millis(millis)),
                text
            );
        }
        assert_eq!(seconds_text(Duration::ZERO), "0s");
        assert_eq!(seconds_text(Duration::from_secs(86_400)), "86400s");
    }

    #[test]
    fn signals_parse_by_name_with_or_without_sig_and_by_number() {
        for (text, number, name) in [
            ("HUP", 1, "HUP"),
            ("SIGHUP", 1, "HUP"),
            ("hup", 1, "HUP"),
            ("sigusr1", 10, "USR1"),
            (" TERM ", 15, "TERM"),
            ("9", 9, "KILL"),
            ("34", 34, "34"),
        ] {
            assert_eq!(parse_signal(text), Ok((number, name.to_string())), "{text}");
        }
        for text in ["", "SIG", "HUPP", "0", "-1", "65", "1.5", "SIGRTMIN"] {
            assert!(parse_signal(text).is_err(), "{text}");
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
