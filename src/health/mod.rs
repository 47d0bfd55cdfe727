//! Health, readiness and dependencies (SPEC §12).
//!
//! - [`state`]: the pure core of one process's health and readiness ([`Tracker`]): probe
//!   results, log lines seen and sd_notify messages in; health, readiness, "probe now" and
//!   "restart it" out. No I/O, no clock of its own.
//! - [`depends`]: the pure dependency graph: unknown names and cycles over a whole folder (the
//!   store reports them as problems of the files), and the holds that keep a program from
//!   being spawned until its conditions hold (an input of reconcile).
//! - [`probe`]: the `http` and `tcp` probes, futures on the loop's runtime.
//! - [`notify`]: the per-process sd_notify socket.
//!
//! Exec probes are processes, so the supervisor runs them (`supervisor::probe`); the daemon's
//! loop drives the trackers (`daemon::health`). A program with none of these fields has no
//! tracker: no timer, no task, no socket.

pub mod depends;
pub mod notify;
pub mod probe;
pub mod state;

pub use depends::{Hold, Holds};
pub use state::{Health, LastProbe, NotifyMessage, Step, Tracker};

/// What the tasks of the health features tell the loop (on one bounded channel).
#[derive(Debug, Clone, PartialEq)]
pub enum HealthMessage {
    /// An `http` or `tcp` probe of process `pid` ended.
    Probe {
        name: String,
        pid: u32,
        ok: bool,
        output: String,
        /// Unix seconds.
        time: f64,
    },
    /// A line of output of process `pid` held the program's `ready_log_line`.
    LogLine { name: String, pid: u32 },
    /// Process `pid` sent sd_notify datagrams (merged when several came at once).
    Notify {
        name: String,
        pid: u32,
        message: NotifyMessage,
    },
}

impl HealthMessage {
    pub fn name(&self) -> &str {
        match self {
            HealthMessage::Probe { name, .. }
            | HealthMessage::LogLine { name, .. }
            | HealthMessage::Notify { name, .. } => name,
        }
    }
}

#[cfg(test)]
mod tests;
