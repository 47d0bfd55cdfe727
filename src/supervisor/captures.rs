//! Every captured log pipe of a supervisor, drained by one task through one epoll set.
//!
//! A captured stream used to be a tokio task of its own with its own registration in the
//! runtime's reactor: about 1.3 KiB per pipe (the task's cell and future, the reactor's
//! `ScheduledIo`), 2.6 KiB per program whose two logs rotate, most of the daemon's memory per
//! idle program (docs/PERFORMANCE.md, "Memory" under issue 20). Now the read ends are members
//! of one epoll instance of the supervisor's, made with the first captured start, and that
//! instance is the one descriptor registered with tokio; one task waits for it and drains the
//! pipes it reports ready. A pipe costs a slot here (three pointers) and the kernel's own
//! epoll entry, which is not the daemon's memory.
//!
//! How a wake goes: tokio says the set is readable (edge-triggered); the task asks the set
//! which pipes are ready (`epoll_wait` with no timeout), drains each into its writer as the
//! capture task did ([`LogWriter::drain_pipe`](super::logs::LogWriter::drain_pipe), which may
//! end on a short move), and clears tokio's readiness when every reported pipe was emptied
//! (why that misses nothing: [`run`]); otherwise it yields and asks again. Pipes are members
//! level-triggered: one still holding bytes (the turn's budget ran out) is reported again.
//! A turn moves at most [`DRAIN_BUDGET`] in all before the task yields to the loop; a pipe at
//! its end (every writer gone, drained) leaves the set and is closed. A wake that reports a
//! pipe at its end first yields once, so the loop's reap (and a restart) goes before it.
//!
//! A panic while one pipe is drained (a bug) ends the capture of that pipe alone, as it ended
//! that pipe's task before: `panic = "unwind"` stays in the release profile for this.
//!
//! A pipe watched for a ready line tells the health inbox with `try_send`; when the inbox is
//! full, a small task waits to deliver it (the one case that must wait: the drain of every
//! other pipe must not).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::error::TrySendError;

use super::logs::{DRAIN_BUDGET, Drained, Pipe, ReadyWatch, SharedWriter, lock};
use super::spawn::keep_high;
use crate::health::HealthMessage;

/// Ready pipes taken from the set at once.
const BATCH: usize = 64;

/// The supervisor's handle on the set (cheap to clone; the draining task holds another).
#[derive(Debug, Clone)]
pub(crate) struct Captures {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    epoll: AsyncFd<Set>,
    members: Mutex<Members>,
}

/// The epoll instance, as tokio registers it.
#[derive(Debug)]
struct Set(Epoll);

impl AsRawFd for Set {
    fn as_raw_fd(&self) -> RawFd {
        self.0.0.as_raw_fd()
    }
}

/// A pipe's place in the set, from [`Captures::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot(usize);

/// The pipes in the set; a pipe's slot number is its epoll data.
#[derive(Debug, Default)]
struct Members {
    slots: Vec<Option<Member>>,
    free: Vec<usize>,
}

#[derive(Debug)]
struct Member {
    pipe: Pipe,
    writer: SharedWriter,
    watch: Option<Box<ReadyWatch>>,
}

impl Captures {
    /// Makes the set and spawns its task. Needs a tokio runtime with IO enabled.
    pub fn start() -> io::Result<Captures> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        let epoll = Set(Epoll(keep_high(epoll.0)));
        // SAFETY: the AsyncFd owns the epoll instance, which stays open and unchanged until the
        // AsyncFd is dropped; nothing else closes or replaces its descriptor.
        let epoll = unsafe { AsyncFd::register_with_interest(epoll, Interest::READABLE) }
            .map_err(|error| error.into_parts().1)?;
        let shared = Arc::new(Shared {
            epoll,
            members: Mutex::new(Members::default()),
        });
        tokio::spawn(run(shared.clone()));
        Ok(Captures { shared })
    }

    /// Moves what `pipe` receives into `writer` from now on, until every writer of the pipe
    /// has closed it and it is drained. Gives the pipe's slot, for [`Captures::watch`].
    pub fn add(&self, pipe: Pipe, writer: SharedWriter) -> io::Result<Slot> {
        let mut members = self.shared.members();
        let slot = match members.free.pop() {
            Some(slot) => slot,
            None => {
                members.slots.push(None);
                members.slots.len() - 1
            }
        };
        let event = EpollEvent::new(EpollFlags::EPOLLIN, slot as u64);
        if let Err(error) = self.shared.epoll.get_ref().0.add(pipe.fd(), event) {
            members.free.push(slot);
            return Err(error.into());
        }
        members.slots[slot] = Some(Member {
            pipe,
            writer,
            watch: None,
        });
        Ok(Slot(slot))
    }

    /// Looks for a ready line in what the pipe of `slot` receives from now on (its lines are
    /// read, not spliced, until it is seen). Given right after [`Captures::add`], before the
    /// loop runs the set's task again, so no byte passes unseen.
    pub fn watch(&self, slot: Slot, watch: ReadyWatch) {
        if let Some(Some(member)) = self.shared.members().slots.get_mut(slot.0) {
            member.watch = Some(Box::new(watch));
        }
    }

    /// Pipes in the set.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let members = self.shared.members();
        members.slots.len() - members.free.len()
    }
}

impl Shared {
    fn members(&self) -> std::sync::MutexGuard<'_, Members> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drains the pipes of `events`, at most [`DRAIN_BUDGET`] bytes in all (a pipe not reached
    /// stays ready and comes back in the next answer). True when every pipe of `events` was
    /// emptied or ended: none of them holds a byte that is not to wake the set again.
    fn drain(&self, events: &[EpollEvent]) -> bool {
        let mut members = self.members();
        for event in events {
            let slot = usize::try_from(event.data()).unwrap_or(usize::MAX);
            let Some(Some(member)) = members.slots.get_mut(slot) else {
                continue;
            };
            // A move shorter than asked ends a drain (the pipe was emptied, and a later write
            // wakes the set again), except on a pipe whose writers have all gone: no wake-up
            // comes after its end, so it is drained until the kernel says it is at its end.
            let waking = !event.events().contains(EpollFlags::EPOLLHUP);
            // A panic in one pipe's drain ends that pipe's capture, not the others' (each pipe
            // had a task of its own before, and a panicking task ended alone).
            let drained = std::panic::catch_unwind(AssertUnwindSafe(|| {
                let line = member.watch.as_mut().map(|watch| &mut watch.line);
                lock(&member.writer).drain_pipe(&member.pipe, DRAIN_BUDGET, waking, line)
            }))
            .unwrap_or_else(|_| {
                tracing::error!(path = %lock(&member.writer).path().display(), "capture of a log pipe failed (a bug): it stops");
                Drained::Eof
            });
            if member.watch.as_ref().is_some_and(|watch| watch.line.seen())
                && let Some(watch) = member.watch.take()
            {
                // Seen: the rest of this pipe is spliced again (or stays in line mode, when
                // the daemon looks at its lines anyway).
                tell(*watch);
            }
            match drained {
                Drained::Empty => {}
                Drained::Eof => {
                    if let Some(member) = members.slots[slot].take() {
                        // Still open here, so the set can be told; closing it would also
                        // remove it.
                        let _ = self.epoll.get_ref().0.delete(member.pipe.fd());
                    }
                    members.free.push(slot);
                }
                Drained::Budget => return false,
            }
        }
        true
    }
}

/// Tells the health inbox that the ready line was seen; waits in a task of its own only when
/// the inbox is full.
fn tell(watch: ReadyWatch) {
    let message = HealthMessage::LogLine {
        name: watch.name,
        pid: watch.pid,
    };
    if let Err(TrySendError::Full(message)) = watch.sender.try_send(message) {
        let sender = watch.sender;
        tokio::spawn(async move {
            let _ = sender.send(message).await;
        });
    }
}

/// The set's task: waits for the set, asks it which pipes are ready and drains them. Runs as
/// long as the runtime does.
///
/// A wake costs the reactor's `epoll_wait`, one `epoll_wait` on the set and the moves: tokio's
/// readiness is cleared right after a turn that emptied every pipe the set reported, without
/// asking the set again. That loses nothing, because the readiness guard is held from before
/// the set was asked until it is cleared:
/// - a pipe written after the set was asked wakes the set (each write to a polled pipe wakes
///   its readers, and the set's wait-queue callback wakes whoever polls the set, here the
///   reactor, whether or not the pipe was already on the set's ready list): that readiness
///   reaches tokio after the guard was taken, so `clear_ready` leaves it (tokio clears only
///   the readiness of the guard's own tick) or it comes at the reactor's next turn;
/// - a pipe whose writers had all gone when the set was asked gets no wake-up after its end:
///   it is drained to the kernel's "end of file" ([`Shared::drain`]), not to a short move;
/// - a pipe that was ready but not reported (a full batch) or not emptied (a turn's budget,
///   a ready line seen) keeps the readiness: the set is asked again after a yield.
async fn run(shared: Arc<Shared>) {
    let mut events = vec![EpollEvent::empty(); BATCH];
    // Pipes at their end were seen and left for one turn (see below); until a turn empties
    // every pipe it was told of, the drain of those pipes goes on without another yield.
    let mut deferred = false;
    loop {
        let mut guard = match shared.epoll.readable().await {
            Ok(guard) => guard,
            Err(error) => {
                tracing::error!(error = %error, "the set of log pipes failed: captured logs stop");
                return;
            }
        };
        let ready = match shared
            .epoll
            .get_ref()
            .0
            .wait(&mut events, EpollTimeout::ZERO)
        {
            Ok(ready) => ready,
            Err(Errno::EINTR) => continue,
            Err(error) => {
                tracing::error!(error = %error, "the set of log pipes failed: captured logs stop");
                return;
            }
        };
        if ready == 0 {
            guard.clear_ready();
            continue;
        }
        // A pipe at its end is usually a process that ended: the kernel closes its pipes a few
        // microseconds before it sends SIGCHLD, so this task is woken first. The loop's reap
        // (and the restart it may make) goes first: one yield lets the runtime poll its
        // reactor again and run the loop if SIGCHLD has come. The ended pipes wait (nothing is
        // lost: their bytes stay in them, and a status that shows the last stderr drains the
        // pipe itself). Asked again after the yield, the set reports them again (level).
        let ending = events[..ready]
            .iter()
            .any(|event| event.events().contains(EpollFlags::EPOLLHUP));
        if ending && !deferred {
            deferred = true;
            drop(guard);
            tokio::task::yield_now().await;
            continue;
        }
        let emptied = shared.drain(&events[..ready]);
        if emptied && ready < BATCH {
            guard.clear_ready();
            deferred = false;
        } else {
            drop(guard);
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::supervisor::logs::{LogWriter, capture_pipe, output_pipe};

    async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !done() {
            assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Many pipes in one set: each one's bytes end in its own file, in order, and a pipe leaves
    /// the set once every writer has closed it.
    #[tokio::test(flavor = "current_thread")]
    async fn one_set_drains_many_pipes_each_into_its_own_file_and_forgets_them_at_their_end() {
        let folder = tempfile::tempdir().unwrap();
        let captures = Captures::start().unwrap();
        let mut ends = Vec::new();
        for index in 0..40 {
            let path = folder.path().join(format!("{index}.log"));
            let writer = Arc::new(Mutex::new(LogWriter::open(&path, 0, 0, None).unwrap()));
            let (read, write) = output_pipe().unwrap();
            let pipe = capture_pipe(read, None);
            lock(&writer).feed(&pipe);
            captures.add(pipe, writer).unwrap();
            ends.push((path, write));
        }
        assert_eq!(captures.len(), 40);
        for round in 0..3 {
            for (index, (_, write)) in ends.iter().enumerate() {
                nix::unistd::write(write, format!("{index} {round}\n").as_bytes()).unwrap();
            }
            tokio::task::yield_now().await;
        }
        let paths: Vec<_> = ends.iter().map(|(path, _)| path.clone()).collect();
        // Half the writers go: their pipes leave the set, the others stay.
        let kept = ends.split_off(20);
        drop(ends);
        wait_for("20 pipes at their end", || captures.len() == 20).await;
        drop(kept);
        wait_for("every pipe at its end", || captures.len() == 0).await;
        for (index, path) in paths.iter().enumerate() {
            assert_eq!(
                std::fs::read_to_string(path).unwrap(),
                format!("{index} 0\n{index} 1\n{index} 2\n"),
                "{}",
                path.display()
            );
        }
    }

    /// A pipe holding more than a turn's budget is drained over several turns, all of it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_pipe_with_more_than_a_turn_is_drained_to_its_end() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("big.log");
        let captures = Captures::start().unwrap();
        let writer = Arc::new(Mutex::new(LogWriter::open(&path, 0, 0, None).unwrap()));
        let (read, write) = output_pipe().unwrap();
        let pipe = capture_pipe(read, None);
        captures.add(pipe, writer).unwrap();
        let total = (DRAIN_BUDGET * 3) as usize;
        let producer = std::thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            let mut written = 0;
            while written < total {
                written += nix::unistd::write(&write, &chunk).unwrap();
            }
        });
        wait_for("the producer's bytes in the file", || {
            captures.len() == 0 && producer.is_finished()
        })
        .await;
        producer.join().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), total as u64);
    }
}
