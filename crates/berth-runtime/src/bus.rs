//! The event bus: how appended events and live deltas reach the streams watching a session.
//!
//! One broadcast channel per session, created when the first subscriber arrives and dropped when
//! the last one leaves, so idle sessions cost nothing here. Durable events carry their sequence
//! number; a subscriber that falls behind (or misses one) re-reads the log, which stays the
//! truth. Frames are rendered once and shared by every subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_agent::live::{Audience, LiveDelta};
use berth_store::{EventKind, StoredEvent};
use bytes::Bytes;
use tokio::sync::{broadcast, mpsc};

use crate::render::event_json;

/// Frames buffered per session before a slow subscriber lags (and re-reads the log).
const CHANNEL_CAPACITY: usize = 1024;

/// A stored event, rendered for streams.
#[derive(Debug)]
pub struct DurableFrame {
    pub seq: i64,
    pub kind: EventKind,
    /// The event's API JSON.
    pub json: String,
    /// The complete SSE frame (`event:`, `id:`, `data:`).
    pub frame: Bytes,
}

impl DurableFrame {
    pub fn new(event: &StoredEvent) -> Self {
        let json = event_json(event);
        let frame = Bytes::from(format!(
            "event: {}\nid: {}\ndata: {}\n\n",
            event.kind, event.seq, json
        ));
        Self {
            seq: event.seq,
            kind: event.kind.clone(),
            json,
            frame,
        }
    }
}

/// A transient frame.
#[derive(Debug)]
pub struct LiveFrame {
    pub audience: Audience,
    pub frame: Bytes,
}

#[derive(Debug, Clone)]
pub enum BusItem {
    Durable(Arc<DurableFrame>),
    Live(Arc<LiveFrame>),
}

/// One session's channel and the last durable seq published on it.
struct Channel {
    sender: broadcast::Sender<BusItem>,
    last_seq: i64,
}

/// A live delta leaving for other replicas: session, audience, event type, JSON.
pub type ForwardedLive = (String, Audience, String, String);

#[derive(Default)]
pub struct EventBus {
    channels: Mutex<HashMap<String, Channel>>,
    /// Where live deltas go to reach other replicas (set when there are any).
    forward: std::sync::OnceLock<mpsc::UnboundedSender<ForwardedLive>>,
}

impl EventBus {
    fn channels(&self) -> std::sync::MutexGuard<'_, HashMap<String, Channel>> {
        match self.channels.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Subscribes to a session whose log the subscriber has seen up to `seen_seq`.
    pub fn subscribe(&self, session_id: &str, seen_seq: i64) -> broadcast::Receiver<BusItem> {
        let mut channels = self.channels();
        let channel = channels
            .entry(session_id.to_owned())
            .or_insert_with(|| Channel {
                sender: broadcast::channel(CHANNEL_CAPACITY).0,
                last_seq: seen_seq,
            });
        channel.sender.subscribe()
    }

    fn send(&self, session_id: &str, last_seq: Option<i64>, item: impl FnOnce() -> Vec<BusItem>) {
        let mut channels = self.channels();
        let Some(channel) = channels.get_mut(session_id) else {
            return;
        };
        if channel.sender.receiver_count() == 0 {
            channels.remove(session_id);
            return;
        }
        if let Some(seq) = last_seq {
            channel.last_seq = channel.last_seq.max(seq);
        }
        for i in item() {
            let _ = channel.sender.send(i);
        }
    }

    pub fn publish_events(&self, session_id: &str, events: &[StoredEvent]) {
        let Some(last) = events.iter().map(|e| e.seq).max() else {
            return;
        };
        self.send(session_id, Some(last), || {
            events
                .iter()
                .map(|e| BusItem::Durable(Arc::new(DurableFrame::new(e))))
                .collect()
        });
    }

    pub fn publish_live(&self, session_id: &str, delta: &LiveDelta) {
        if let Some(forward) = self.forward.get() {
            let _ = forward.send((
                session_id.to_owned(),
                delta.audience,
                delta.event_type.to_owned(),
                delta.json.clone(),
            ));
        }
        self.publish_live_frame(session_id, delta.audience, delta.event_type, &delta.json);
    }

    /// Publishes a live delta locally only (one that came from another replica).
    pub fn publish_live_frame(&self, session_id: &str, audience: Audience, kind: &str, json: &str) {
        self.send(session_id, None, || {
            vec![BusItem::Live(Arc::new(LiveFrame {
                audience,
                frame: Bytes::from(format!("event: {kind}\ndata: {json}\n\n")),
            }))]
        });
    }

    /// Sends every later live delta to `forward` too (for other replicas).
    pub fn forward_live(&self, forward: mpsc::UnboundedSender<ForwardedLive>) {
        let _ = self.forward.set(forward);
    }

    /// The last durable seq published for a watched session; `None` when nobody watches it.
    pub fn last_published(&self, session_id: &str) -> Option<i64> {
        self.channels().get(session_id).map(|c| c.last_seq)
    }

    /// Every watched session with its last published seq.
    pub fn watched(&self) -> Vec<(String, i64)> {
        self.channels()
            .iter()
            .map(|(id, c)| (id.clone(), c.last_seq))
            .collect()
    }

    /// Sessions with at least one subscriber (for metrics and tests).
    pub fn watched_sessions(&self) -> usize {
        self.channels().len()
    }

    /// Open subscriptions across all sessions.
    pub fn subscribers(&self) -> usize {
        self.channels()
            .values()
            .map(|c| c.sender.receiver_count())
            .sum()
    }
}
