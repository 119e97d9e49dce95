//! Replicas on one PostgreSQL database act as one service. Nothing here is clustering of our
//! own: PostgreSQL holds the state and carries the announcements.
//!
//! - **Durable events.** Every append announces `<session>:<seq>` (`NOTIFY` in the appending
//!   transaction). A replica with subscribers to that session re-reads the log past what it
//!   has published and publishes the rest on its local bus; SSE writers skip what they have
//!   already sent and fill any gap from the log, so a client on any replica sees every event
//!   once, in order. When the listening connection drops, every watched session is re-read
//!   once it is back.
//! - **Wake-ups.** Queued input announces the session; every replica's runner tries to claim
//!   it (the claim is `FOR UPDATE SKIP LOCKED`, so one wins). An interrupt reaches whichever
//!   replica runs the session the same way.
//! - **Live deltas.** Token deltas are batched per session every [`LIVE_FLUSH`] and announced
//!   best effort; subscribers elsewhere may miss some, never a durable event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use berth_agent::live::Audience;
use berth_store::Store;
use berth_store_postgres::PostgresOptions;
use berth_store_postgres::listen::{MAX_LIVE_PAYLOAD, Notice, listen};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::bus::{EventBus, ForwardedLive};
use crate::runner::Runner;
use crate::tasks::Tasks;

/// How long live deltas gather before they are announced to other replicas.
pub const LIVE_FLUSH: Duration = Duration::from_millis(50);
/// How long a replica waits before acting on another replica's wake-up.
const REMOTE_WAKE_DELAY: Duration = Duration::from_millis(200);
/// Events read per query while relaying.
const RELAY_PAGE: u32 = 500;

/// A batch of live deltas as announced.
#[derive(Debug, Serialize, Deserialize)]
struct LiveBatch {
    /// The replica that produced them (it already delivered them locally).
    o: String,
    s: String,
    /// `(audience, event type, JSON)`.
    f: Vec<(u8, String, String)>,
}

fn audience_code(audience: Audience) -> u8 {
    match audience {
        Audience::MessagePreview => 0,
        Audience::ThinkingPreview => 1,
        Audience::Chunks => 2,
    }
}

fn audience_of(code: u8) -> Option<Audience> {
    match code {
        0 => Some(Audience::MessagePreview),
        1 => Some(Audience::ThinkingPreview),
        2 => Some(Audience::Chunks),
        _ => None,
    }
}

pub struct Cluster {
    replica_id: String,
    store: Arc<dyn Store>,
    bus: Arc<EventBus>,
    runner: Arc<Runner>,
    tasks: Tasks,
}

impl Cluster {
    /// Starts listening and forwarding; runs until `shutdown`.
    pub fn start(
        options: PostgresOptions,
        store: Arc<dyn Store>,
        bus: Arc<EventBus>,
        runner: Arc<Runner>,
        replica_id: String,
        tasks: &Tasks,
        shutdown: CancellationToken,
    ) {
        let cluster = Arc::new(Self {
            replica_id,
            store,
            bus,
            runner,
            tasks: tasks.clone(),
        });
        let (notices_tx, notices) = mpsc::unbounded_channel();
        listen(options, notices_tx, shutdown.clone());
        tasks.spawn(
            "cluster notices",
            Arc::clone(&cluster).receive(notices, shutdown.clone()),
        );
        let (live_tx, live) = mpsc::unbounded_channel();
        cluster.bus.forward_live(live_tx);
        tasks.spawn("cluster live deltas", cluster.send_live(live, shutdown));
    }

    async fn receive(
        self: Arc<Self>,
        mut notices: mpsc::UnboundedReceiver<Notice>,
        shutdown: CancellationToken,
    ) {
        loop {
            let notice = tokio::select! {
                () = shutdown.cancelled() => return,
                n = notices.recv() => match n {
                    Some(n) => n,
                    None => return,
                },
            };
            match notice {
                Notice::Event { session_id, seq } => self.relay(&session_id, seq).await,
                Notice::Wake { session_id } => {
                    // The replica that took the input wakes at once; others give it a moment,
                    // so a session tends to stay where its sandbox is warm. Whoever claims
                    // first wins either way.
                    let runner = Arc::clone(&self.runner);
                    self.tasks.spawn("remote wake-up", async move {
                        tokio::time::sleep(REMOTE_WAKE_DELAY).await;
                        runner.wake(&session_id);
                    });
                }
                Notice::Interrupt { session_id } => self.runner.interrupt(&session_id),
                Notice::Live { payload } => self.deliver_live(&payload),
                Notice::Reconnected => {
                    for (session_id, _) in self.bus.watched() {
                        self.relay(&session_id, i64::MAX).await;
                    }
                    // Inputs queued while deaf are found by the runner's periodic sweep.
                }
            }
        }
    }

    /// Publishes locally what the log holds for a watched session past what was published here,
    /// up to `seq`.
    async fn relay(&self, session_id: &str, seq: i64) {
        loop {
            let Some(published) = self.bus.last_published(session_id) else {
                return;
            };
            if published >= seq {
                return;
            }
            let page = match self
                .store
                .read_events(
                    session_id,
                    published,
                    RELAY_PAGE,
                    berth_store::EVENT_PAGE_BYTES,
                )
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(session_id, error = %e, "cannot relay a session's events");
                    return;
                }
            };
            let events: Vec<_> = page.into_iter().filter(|e| e.seq <= seq).collect();
            if events.is_empty() {
                return;
            }
            // Publishing moves `last_published` on, so the loop ends once `seq` is out.
            self.bus.publish_events(session_id, &events);
        }
    }

    fn deliver_live(&self, payload: &str) {
        let Ok(batch) = serde_json::from_str::<LiveBatch>(payload) else {
            return;
        };
        if batch.o == self.replica_id || self.bus.last_published(&batch.s).is_none() {
            return;
        }
        for (code, kind, json) in &batch.f {
            if let Some(audience) = audience_of(*code) {
                self.bus.publish_live_frame(&batch.s, audience, kind, json);
            }
        }
    }

    /// Gathers live deltas and announces them in batches.
    async fn send_live(
        self: Arc<Self>,
        mut live: mpsc::UnboundedReceiver<ForwardedLive>,
        shutdown: CancellationToken,
    ) {
        let mut pending: HashMap<String, Vec<(u8, String, String)>> = HashMap::new();
        let mut tick = tokio::time::interval(LIVE_FLUSH);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                item = live.recv() => match item {
                    Some((session, audience, kind, json)) => pending
                        .entry(session)
                        .or_default()
                        .push((audience_code(audience), kind, json)),
                    None => return,
                },
                _ = tick.tick() => {
                    for (session, frames) in pending.drain() {
                        for payload in self.batches(&session, frames) {
                            if let Err(e) = self.store.notify_live(&payload).await {
                                tracing::debug!(error = %e, "cannot announce live deltas");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Payloads under PostgreSQL's limit; a single frame too large for one is dropped (live
    /// deltas are best effort; the durable event follows).
    fn batches(&self, session: &str, frames: Vec<(u8, String, String)>) -> Vec<String> {
        let mut out = Vec::new();
        let mut batch = LiveBatch {
            o: self.replica_id.clone(),
            s: session.to_owned(),
            f: Vec::new(),
        };
        let overhead = self.replica_id.len() + session.len() + 32;
        let mut size = overhead;
        for frame in frames {
            let frame_size = frame.1.len() + frame.2.len() * 2 + 16;
            if overhead + frame_size > MAX_LIVE_PAYLOAD {
                continue;
            }
            if size + frame_size > MAX_LIVE_PAYLOAD && !batch.f.is_empty() {
                out.extend(serde_json::to_string(&batch).ok());
                batch.f.clear();
                size = overhead;
            }
            size += frame_size;
            batch.f.push(frame);
        }
        if !batch.f.is_empty() {
            out.extend(serde_json::to_string(&batch).ok());
        }
        out.retain(|p| p.len() <= MAX_LIVE_PAYLOAD);
        out
    }
}
