//! Rendering stored rows as API JSON by splicing: a stored body is a JSON object, and the live
//! fields (an event's `processed_at` and `seq`, a session's status and usage) are appended before
//! its closing brace. No decode/encode round trip on the hot paths.

use berth_protocol::session::{CacheCreation, SessionStats, SessionUsage};
use berth_store::{SessionRow, StoredEvent};
use chrono::{DateTime, SecondsFormat, Utc};

pub fn timestamp(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn open_object(body: &str) -> &str {
    let trimmed = body.trim_end();
    trimmed.strip_suffix('}').unwrap_or(trimmed)
}

fn needs_comma(open: &str) -> bool {
    !open.trim_end().ends_with('{')
}

/// An event as the API shows it: the stored object plus `processed_at` and `seq`.
pub fn event_json(event: &StoredEvent) -> String {
    let open = open_object(&event.body);
    let mut out = String::with_capacity(open.len() + 64);
    out.push_str(open);
    if needs_comma(open) {
        out.push(',');
    }
    out.push_str("\"processed_at\":");
    match event.processed_at {
        Some(t) => {
            out.push('"');
            out.push_str(&timestamp(t));
            out.push('"');
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"seq\":");
    out.push_str(&event.seq.to_string());
    out.push('}');
    out
}

/// A session as the API shows it: the stored static body plus live status, usage and stats.
pub fn session_json(row: &SessionRow, now: i64) -> Result<String, serde_json::Error> {
    let running = row.turn_started_at.map_or(0, |t| (now - t).max(0));
    let stats = SessionStats {
        active_seconds: (row.active_micros + running) as f64 / 1e6,
        duration_seconds: (now - row.created_at).max(0) as f64 / 1e6,
    };
    let usage = SessionUsage {
        input_tokens: row.usage.input_tokens.max(0) as u64,
        output_tokens: row.usage.output_tokens.max(0) as u64,
        cache_read_input_tokens: row.usage.cache_read_input_tokens.max(0) as u64,
        cache_creation: CacheCreation {
            ephemeral_5m_input_tokens: row.usage.cache_creation_input_tokens.max(0) as u64,
            ephemeral_1h_input_tokens: 0,
        },
    };
    let open = open_object(&row.body);
    let mut out = String::with_capacity(open.len() + 320);
    out.push_str(open);
    if needs_comma(open) {
        out.push(',');
    }
    out.push_str("\"status\":\"");
    out.push_str(row.status.as_str());
    out.push_str("\",\"stats\":");
    out.push_str(&serde_json::to_string(&stats)?);
    out.push_str(",\"usage\":");
    out.push_str(&serde_json::to_string(&usage)?);
    out.push_str(",\"updated_at\":\"");
    out.push_str(&timestamp(row.updated_at));
    out.push_str("\",\"archived_at\":");
    match row.archived_at {
        Some(t) => {
            out.push('"');
            out.push_str(&timestamp(t));
            out.push('"');
        }
        None => out.push_str("null"),
    }
    out.push('}');
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_get_processed_at_and_seq() {
        let event = StoredEvent {
            session_id: "s".into(),
            seq: 7,
            id: "sevt_1".into(),
            kind: berth_store::EventKind::UserMessage,
            body: r#"{"id":"sevt_1","type":"user.message","content":[]}"#.into(),
            private: None,
            created_at: 0,
            processed_at: None,
            cancelled_at: None,
            ctx_order: None,
        };
        let v: serde_json::Value = serde_json::from_str(&event_json(&event)).unwrap();
        assert_eq!(v["processed_at"], serde_json::Value::Null);
        assert_eq!(v["seq"], 7);
        assert_eq!(v["type"], "user.message");
    }
}
