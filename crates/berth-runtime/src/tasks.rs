//! The runtime's background work — the runner's dispatcher and session tasks, lease renewals,
//! cross-replica listeners, memory upkeep, file sweeps, cleanups after deletes — spawned through
//! one tracker, so that shutdown can wait for all of it to finish what it is writing instead of
//! cutting it off mid-transaction. Each task is named in its tracing span.

use std::future::Future;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

#[derive(Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
}

impl Tasks {
    /// Runs `work` in the background, tracked.
    pub fn spawn<F>(&self, name: &'static str, work: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker
            .spawn(work.instrument(tracing::debug_span!("task", name)))
    }

    /// Runs blocking `work` (file walks, removals) on the blocking pool, tracked.
    pub fn spawn_blocking<F, T>(&self, work: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.tracker.spawn_blocking(work)
    }

    /// Takes no more work and waits up to `deadline` for what runs to end (it should be ending:
    /// the shutdown token has fired). Returns whether everything ended in time.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(deadline, self.tracker.wait())
            .await
            .is_ok()
    }

    /// Tasks still running.
    pub fn running(&self) -> usize {
        self.tracker.len()
    }
}
