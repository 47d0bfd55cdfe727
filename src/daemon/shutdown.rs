//! Shutdown: the reverse boot waves (highest priority first, each program with its own stop
//! signal and grace), a forced shutdown, and the moment the loop may end.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::json;
use tokio::sync::oneshot;

use crate::supervisor::{JobStatus, ProcessState, cgroup};

use super::request::{Answer, Reply};
use super::{Daemon, Ending, Shutdown};

/// How long the daemon's end waits for killed leftovers to go before it leaves their cgroups.
const CLOSE_PATIENCE: std::time::Duration = std::time::Duration::from_secs(2);

impl Daemon {
    // ---- shutdown ------------------------------------------------------------------------

    pub(super) fn begin_shutdown(&mut self, force: bool, reply: Option<oneshot::Sender<Reply>>) {
        let shutdown = self.shutdown.get_or_insert(Shutdown {
            force: false,
            replies: Vec::new(),
        });
        shutdown.force |= force;
        shutdown.replies.extend(reply);
        if shutdown.force {
            let changes = self.supervisor.kill_all(Instant::now());
            self.publish_changes(changes);
            self.leftovers.kill_all();
        }
    }

    /// Stops the highest priority that still has processes; lower ones wait for it.
    pub(super) fn shutdown_step(&mut self, now: Instant) {
        let statuses: Vec<JobStatus> = self.supervisor.statuses(now).collect();
        let priorities: BTreeMap<String, i32> = self
            .jobs
            .iter()
            .map(|(name, meta)| (name.clone(), meta.spec.priority))
            .collect();
        let priority_of = |name: &str| -> i32 { priorities.get(name).copied().unwrap_or(i32::MAX) };
        // Jobs without a process (BACKOFF, waiting to retry) stop at once.
        let idle: Vec<String> = statuses
            .iter()
            .filter(|status| status.state == ProcessState::Backoff)
            .map(|status| status.name.clone())
            .collect();
        for name in idle {
            let changes = self.supervisor.stop(&name, now);
            self.publish_changes(changes);
        }
        let live: Vec<&JobStatus> = statuses
            .iter()
            .filter(|status| status.state.has_process())
            .collect();
        let Some(top) = live.iter().map(|status| priority_of(&status.name)).max() else {
            return;
        };
        let wave: Vec<String> = live
            .iter()
            .filter(|status| {
                priority_of(&status.name) == top && status.state != ProcessState::Stopping
            })
            .map(|status| status.name.clone())
            .collect();
        for name in wave {
            let changes = self.supervisor.stop(&name, now);
            self.publish_changes(changes);
        }
    }

    pub(super) fn finished(&mut self) -> Option<Ending> {
        let shutdown = self.shutdown.as_ref()?;
        if self.supervisor.has_processes()
            || self.supervisor.is_busy()
            || !self.leftovers.is_empty()
        {
            return None;
        }
        // Whatever outlived its program (killasgroup = false) ends with the daemon, and the
        // cgroups go.
        if self.supervisor.close(CLOSE_PATIENCE) {
            let _ = std::fs::remove_file(self.config.state_dir.join(cgroup::RECORD));
        }
        let ending = if shutdown.force {
            Ending::Forced
        } else {
            Ending::Graceful
        };
        if let Some(shutdown) = self.shutdown.take() {
            for reply in shutdown.replies {
                let _ = reply.send(Ok(Answer::ok(json!({ "stopped": true }))));
            }
        }
        for waiter in self.waiters.drain(..) {
            let _ = waiter.reply.send(Ok(waiter.answer));
        }
        Some(ending)
    }
}
