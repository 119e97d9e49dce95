//! The session runner: claims sessions with work, runs their turns, and goes away when they are
//! idle.
//!
//! A session is claimed through a lease in the database (owner, expiry, generation), so exactly
//! one runner works on it at a time, on one replica or many; every write under the lease is
//! fenced by its generation. Work is found two ways: a wake-up when an input is posted here, and
//! a periodic sweep for sessions with pending input and no live lease (inputs posted elsewhere,
//! a runner that died). Nothing is held for idle sessions: a session's task exists only while it
//! has work.

mod contexts;
mod host;
mod recovery;
mod turn;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_agent::{LiveDelta, RetryPolicy};
use berth_store::{Lease, Store, TurnStart};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::EventBus;
use crate::models::ModelResolver;
use crate::tools::ToolServices;
use berth_protocol::time::{micros, now};

/// How often the runner looks for work nobody told it about.
const SWEEP_INTERVAL: Duration = Duration::from_millis(1000);
/// Sessions claimed per sweep.
const SWEEP_BATCH: u32 = 100;

/// How the runner behaves.
pub struct RunnerSettings {
    /// How long a claim on a session lasts without renewal.
    pub lease_ttl: Duration,
    /// Treat every existing lease as dead at start (SQLite, where this process holds the
    /// data-dir lock, so no other runner can be alive).
    pub recover_all_leases: bool,
    pub retry: RetryPolicy,
    pub compaction_threshold: f64,
    pub metrics: Arc<crate::metrics::Metrics>,
}

struct Active {
    /// Cancels the turn in progress (interrupts, cancel, lost lease, shutdown).
    cancel: CancellationToken,
    /// Work arrived while this session's task was finishing: run again.
    rerun: bool,
}

pub struct Runner {
    store: Arc<dyn Store>,
    bus: Arc<EventBus>,
    models: Arc<ModelResolver>,
    tools: Arc<ToolServices>,
    retry: RetryPolicy,
    compaction_threshold: f64,
    owner: String,
    lease_ttl: Duration,
    active: Mutex<HashMap<String, Active>>,
    wake_tx: mpsc::UnboundedSender<String>,
    shutdown: CancellationToken,
    contexts: contexts::RecentContexts,
    metrics: Arc<crate::metrics::Metrics>,
    /// Where the session tasks and lease renewals run.
    tasks: crate::tasks::Tasks,
}

impl Runner {
    /// Starts the dispatcher.
    pub fn start(
        store: Arc<dyn Store>,
        bus: Arc<EventBus>,
        models: Arc<ModelResolver>,
        tools: Arc<ToolServices>,
        settings: RunnerSettings,
        tasks: crate::tasks::Tasks,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let RunnerSettings {
            lease_ttl,
            recover_all_leases,
            retry,
            compaction_threshold,
            metrics,
        } = settings;
        let (wake_tx, wake_rx) = mpsc::unbounded_channel();
        let runner = Arc::new(Self {
            store,
            bus,
            models,
            tools,
            retry,
            compaction_threshold,
            owner: berth_protocol::ids::new_id("runner"),
            lease_ttl,
            active: Mutex::new(HashMap::new()),
            wake_tx,
            shutdown,
            contexts: contexts::RecentContexts::default(),
            metrics,
            tasks,
        });
        runner.tasks.spawn(
            "runner dispatch",
            Arc::clone(&runner).dispatch(wake_rx, recover_all_leases),
        );
        runner
    }

    /// Work was queued on a session.
    pub fn wake(&self, session_id: &str) {
        let _ = self.wake_tx.send(session_id.to_owned());
    }

    /// Stops the turn in progress on a session, if this process runs it.
    pub fn interrupt(&self, session_id: &str) {
        if let Ok(active) = self.active.lock()
            && let Some(a) = active.get(session_id)
        {
            a.cancel.cancel();
        }
    }

    /// Forgets what is kept for a deleted session, its sandbox's files included.
    pub fn forget(&self, session_id: &str) {
        self.contexts.forget(session_id);
        self.tools.forget_session(session_id);
        let sandboxes = Arc::clone(&self.tools.sandboxes);
        let id = session_id.to_owned();
        self.tasks.spawn_blocking(move || sandboxes.remove(&id));
    }

    /// Contexts kept warm (for tests and metrics).
    pub fn kept_contexts(&self) -> usize {
        self.contexts.len()
    }

    /// Sessions with a task on this process (for tests and metrics).
    pub fn active_sessions(&self) -> usize {
        self.active.lock().map(|a| a.len()).unwrap_or(0)
    }

    async fn dispatch(
        self: Arc<Self>,
        mut wake_rx: mpsc::UnboundedReceiver<String>,
        recover_all: bool,
    ) {
        let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
        let mut first_sweep = true;
        loop {
            tokio::select! {
                () = self.shutdown.cancelled() => break,
                Some(id) = wake_rx.recv() => self.ensure_running(&id, false),
                _ = sweep.tick() => {
                    self.contexts.evict_idle();
                    self.tools.sandboxes.reap_idle();
                    // On SQLite, leases left by a previous process are dead at once.
                    let everything_stale = first_sweep && recover_all;
                    first_sweep = false;
                    let cutoff = if everything_stale { i64::MAX } else { micros(now()) };
                    match self.store.runnable_sessions(cutoff, SWEEP_BATCH).await {
                        Ok(ids) => {
                            for id in ids {
                                self.ensure_running(&id, everything_stale);
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "runner sweep failed"),
                    }
                }
            }
        }
        if let Ok(active) = self.active.lock() {
            for a in active.values() {
                a.cancel.cancel();
            }
        }
    }

    fn ensure_running(self: &Arc<Self>, session_id: &str, steal_stale: bool) {
        let Ok(mut active) = self.active.lock() else {
            return;
        };
        if let Some(a) = active.get_mut(session_id) {
            a.rerun = true;
            return;
        }
        active.insert(
            session_id.to_owned(),
            Active {
                cancel: self.shutdown.child_token(),
                rerun: false,
            },
        );
        drop(active);
        let runner = Arc::clone(self);
        let id = session_id.to_owned();
        self.tasks.spawn("session", async move {
            let mut steal = steal_stale;
            loop {
                runner.run_session(&id, steal).await;
                steal = false;
                let Ok(mut active) = runner.active.lock() else {
                    return;
                };
                let again =
                    active.get(&id).is_some_and(|a| a.rerun) && !runner.shutdown.is_cancelled();
                if again {
                    if let Some(a) = active.get_mut(&id) {
                        a.rerun = false;
                        a.cancel = runner.shutdown.child_token();
                    }
                } else {
                    active.remove(&id);
                    return;
                }
            }
        });
    }

    fn cancel_token(&self, session_id: &str) -> CancellationToken {
        self.active
            .lock()
            .ok()
            .and_then(|a| a.get(session_id).map(|a| a.cancel.clone()))
            .unwrap_or_default()
    }

    /// Claims the session and runs turns until nothing is pending.
    async fn run_session(self: &Arc<Self>, session_id: &str, steal_stale: bool) {
        let now_micros = micros(now());
        let cutoff = if steal_stale { i64::MAX } else { now_micros };
        let expires = now_micros + self.lease_ttl.as_micros() as i64;
        let lease = match self
            .store
            .claim_session(session_id, &self.owner, cutoff, expires)
            .await
        {
            Ok(Some(lease)) => lease,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(session_id, error = %e, "cannot claim session");
                return;
            }
        };
        let lease_lost = CancellationToken::new();
        let renewer = self.tasks.spawn(
            "lease renewal",
            Arc::clone(self).renew(lease.clone(), lease_lost.clone()),
        );
        if lease.status_at_claim.is_busy() {
            recovery::recover(self, &lease).await;
        }
        let context = self.contexts.get(session_id);
        loop {
            if lease_lost.is_cancelled() || self.shutdown.is_cancelled() {
                break;
            }
            match self.start_turn(&lease).await {
                Some(TurnStart::Started { promoted, appended }) => {
                    for input in &promoted {
                        let processed_at = input
                            .processed_at
                            .map(crate::render::timestamp)
                            .unwrap_or_default();
                        let delta = LiveDelta::input_promoted(&input.id, input.seq, &processed_at);
                        self.bus.publish_live(session_id, &delta);
                    }
                    self.bus.publish_events(session_id, &appended);
                    let cancel = self.cancel_token(session_id);
                    let cancel_on_loss = lease_lost.clone();
                    let watcher = self.tasks.spawn("lease watch", {
                        let cancel = cancel.clone();
                        async move {
                            cancel_on_loss.cancelled().await;
                            cancel.cancel();
                        }
                    });
                    turn::run(self, &lease, &context, &cancel).await;
                    watcher.abort();
                    // Interrupts apply to the turn they arrived in, not the next one.
                    if let Ok(mut active) = self.active.lock()
                        && let Some(a) = active.get_mut(session_id)
                        && a.cancel.is_cancelled()
                        && !self.shutdown.is_cancelled()
                    {
                        a.cancel = self.shutdown.child_token();
                    }
                }
                Some(TurnStart::NothingPending) | Some(TurnStart::LeaseLost) | None => break,
            }
        }
        renewer.abort();
        if let Err(e) = self.store.release_lease(&lease).await {
            tracing::warn!(session_id, error = %e, "cannot release lease");
        }
    }

    async fn start_turn(&self, lease: &Lease) -> Option<TurnStart> {
        let running =
            crate::log::server_event(berth_protocol::event::EventBody::SessionStatusRunning {});
        let running = match running {
            Ok(running) => running,
            Err(e) => {
                tracing::error!(session_id = %lease.session_id, error = %e, "cannot start a turn");
                return None;
            }
        };
        match self
            .store
            .begin_turn(lease, micros(now()), &[running])
            .await
        {
            Ok(start) => Some(start),
            Err(e) => {
                tracing::warn!(session_id = %lease.session_id, error = %e, "cannot start a turn");
                None
            }
        }
    }

    /// Keeps the lease alive; signals `lost` if it cannot.
    async fn renew(self: Arc<Self>, lease: Lease, lost: CancellationToken) {
        let period = self.lease_ttl / 3;
        loop {
            tokio::time::sleep(period).await;
            let expires = micros(now()) + self.lease_ttl.as_micros() as i64;
            match self.store.renew_lease(&lease, expires).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(session_id = %lease.session_id, "lease lost; stopping the turn");
                    lost.cancel();
                    return;
                }
                Err(e) => {
                    tracing::warn!(session_id = %lease.session_id, error = %e, "lease renewal failed")
                }
            }
        }
    }
}
