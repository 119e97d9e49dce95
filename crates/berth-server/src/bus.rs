//! The event bus: how appended events and live deltas reach the streams watching a session.
//!
//! One broadcast channel per session, created when the first subscriber arrives and dropped when
//! the last one leaves, so idle sessions cost nothing here. Durable events carry their sequence
//! number; a subscriber that falls behind (or misses one) re-reads the log, which stays the
//! truth. Frames are rendered once and shared by every subscriber.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use berth_agent::live::{Audience, LiveDelta};
use berth_store::StoredEvent;
use bytes::Bytes;
use tokio::sync::broadcast;

use crate::render::event_json;

/// Frames buffered per session before a slow subscriber lags (and re-reads the log).
const CHANNEL_CAPACITY: usize = 1024;

/// A stored event, rendered for streams.
#[derive(Debug)]
pub struct DurableFrame {
    pub seq: i64,
    pub kind: String,
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

#[derive(Default)]
pub struct EventBus {
    channels: Mutex<HashMap<String, broadcast::Sender<BusItem>>>,
}

impl EventBus {
    pub fn subscribe(&self, session_id: &str) -> broadcast::Receiver<BusItem> {
        let mut channels = match self.channels.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        channels
            .entry(session_id.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe()
    }

    fn send(&self, session_id: &str, item: impl FnOnce() -> Vec<BusItem>) {
        let mut channels = match self.channels.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(sender) = channels.get(session_id) else {
            return;
        };
        if sender.receiver_count() == 0 {
            channels.remove(session_id);
            return;
        }
        for i in item() {
            let _ = sender.send(i);
        }
    }

    pub fn publish_events(&self, session_id: &str, events: &[StoredEvent]) {
        if events.is_empty() {
            return;
        }
        self.send(session_id, || {
            events
                .iter()
                .map(|e| BusItem::Durable(Arc::new(DurableFrame::new(e))))
                .collect()
        });
    }

    pub fn publish_live(&self, session_id: &str, delta: &LiveDelta) {
        self.send(session_id, || {
            vec![BusItem::Live(Arc::new(LiveFrame {
                audience: delta.audience,
                frame: Bytes::from(format!(
                    "event: {}\ndata: {}\n\n",
                    delta.event_type, delta.json
                )),
            }))]
        });
    }

    /// Sessions with at least one subscriber (for metrics and tests).
    pub fn watched_sessions(&self) -> usize {
        self.channels.lock().map(|c| c.len()).unwrap_or(0)
    }
}
