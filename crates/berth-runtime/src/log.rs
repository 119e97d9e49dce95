//! Conversions between protocol events and stored rows.

use berth_agent::{Emitted, LogEvent};
use berth_protocol::event::{Event, EventBody, EventPrivate};
use berth_protocol::ids::{new_id, prefix};
use berth_store::{NewEvent, StoredEvent};

/// An event that could not be turned into JSON; nothing of it is stored.
#[derive(Debug, thiserror::Error)]
#[error("event {id} could not be encoded: {source}")]
pub struct EncodeError {
    id: String,
    source: serde_json::Error,
}

/// A row for an event; inputs are queued, everything else is processed on append.
pub fn new_event(event: &Event, private: &EventPrivate) -> Result<NewEvent, EncodeError> {
    let failed = |source| EncodeError {
        id: event.id.clone(),
        source,
    };
    Ok(NewEvent {
        id: event.id.clone(),
        kind: event.body.kind(),
        body: serde_json::to_string(event).map_err(failed)?,
        private: if private.is_empty() {
            None
        } else {
            Some(serde_json::to_string(private).map_err(failed)?)
        },
        queued: event.body.is_queued_input(),
    })
}

/// A row for an event a client sent, under a fresh id (queued if it is an input).
pub fn client_event(body: EventBody) -> Result<NewEvent, EncodeError> {
    new_event(&server_side(body), &EventPrivate::default())
}

/// A new event the server writes itself, under a fresh id.
pub fn server_side(body: EventBody) -> Event {
    Event {
        id: new_id(prefix::EVENT),
        body,
    }
}

/// A row for an event the server writes itself (never queued).
pub fn server_event(body: EventBody) -> Result<NewEvent, EncodeError> {
    server_row(&server_side(body))
}

/// A row for an event the server wrote itself (never queued).
pub fn server_row(event: &Event) -> Result<NewEvent, EncodeError> {
    let mut row = new_event(event, &EventPrivate::default())?;
    row.queued = false;
    Ok(row)
}

/// Rows for events the server wrote itself; one that cannot be encoded fails them all.
pub fn server_rows(events: &[Event]) -> Result<Vec<NewEvent>, EncodeError> {
    events.iter().map(server_row).collect()
}

/// A row for an event the agent loop emitted (never queued).
pub fn from_emitted(emitted: &Emitted) -> Result<NewEvent, EncodeError> {
    let mut row = new_event(&emitted.event, &emitted.private)?;
    row.queued = false;
    Ok(row)
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
    let private = match stored.private.as_deref().map(serde_json::from_str) {
        None => EventPrivate::default(),
        Some(Ok(private)) => private,
        Some(Err(e)) => {
            tracing::warn!(seq = stored.seq, error = %e, "reading an event without its unreadable private part");
            EventPrivate::default()
        }
    };
    Some(LogEvent { event, private })
}
