//! Conversions between protocol events and stored rows.

use berth_agent::{Emitted, LogEvent};
use berth_protocol::event::{Event, EventBody, EventPrivate};
use berth_protocol::ids::{new_id, prefix};
use berth_store::{NewEvent, StoredEvent};

/// A row for an event; inputs are queued, everything else is processed on append.
pub fn new_event(event: &Event, private: &EventPrivate) -> NewEvent {
    NewEvent {
        id: event.id.clone(),
        kind: event.body.type_name().to_owned(),
        body: serde_json::to_string(event).unwrap_or_else(|_| "{}".to_owned()),
        private: if private.is_empty() {
            None
        } else {
            serde_json::to_string(private).ok()
        },
        queued: event.body.is_queued_input(),
    }
}

/// A row for an event the server writes itself (never queued).
pub fn server_event(body: EventBody) -> NewEvent {
    let event = Event {
        id: new_id(prefix::EVENT),
        body,
    };
    let mut row = new_event(&event, &EventPrivate::default());
    row.queued = false;
    row
}

pub fn from_emitted(emitted: &Emitted) -> NewEvent {
    let mut row = new_event(&emitted.event, &emitted.private);
    row.queued = false;
    row
}

/// Reads a stored row back; rows this build cannot parse are skipped with a warning.
pub fn parse(stored: &StoredEvent) -> Option<LogEvent> {
    let event: Event = match serde_json::from_str(&stored.body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(seq = stored.seq, error = %e, "skipping an unreadable event");
            return None;
        }
    };
    let private = stored
        .private
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    Some(LogEvent { event, private })
}
