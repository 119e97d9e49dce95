//! What a client may put into a session's log, checked before anything is stored: each event's
//! size, what a message would cost the model's context, and how many bytes a session takes in
//! per minute. Together they keep one tenant from filling a server's memory through events and
//! from sending a message no turn could ever process.

use berth_protocol::content::{ContentBlock, Source};
use berth_protocol::event::EventParam;
use berth_protocol::session::SessionStatic;
use berth_store::{NewEvent, SessionRow};

use crate::error::ApiError;
use crate::rate_limit::Kind;
use crate::state::AppState;
use crate::throttle::refusal;
use berth_protocol::time::{micros, now};

/// Rough characters per token, as the agent's context estimate counts them.
const CHARS_PER_TOKEN: usize = 4;
/// What an image costs (as the agent counts it).
const IMAGE_TOKENS: usize = 1_600;
/// What a document the model fetches itself (a URL or a file) is taken to cost.
const REFERENCED_DOCUMENT_TOKENS: usize = 2_000;
/// Bytes of an encoded PDF per token: pages cost a couple of thousand tokens and weigh tens of
/// kilobytes.
const DOCUMENT_BYTES_PER_TOKEN: usize = 50;

/// Refuses events too large to store; `Err` names the first.
pub fn check_sizes(state: &AppState, rows: &[NewEvent]) -> Result<(), ApiError> {
    let max = state.config.max_event_bytes;
    for (i, row) in rows.iter().enumerate() {
        if row.body.len() > max {
            return Err(ApiError::bad_request(format!(
                "events[{i}]: the event is {} bytes; an event may be at most {max} bytes. \
                 Upload large content with POST /v1/files and refer to the file in the message",
                row.body.len()
            ))
            .with_code("event_too_large"));
        }
    }
    Ok(())
}

/// Refuses a message that could never fit the model's context beside the rest of a turn.
pub async fn check_context(
    state: &AppState,
    session: &SessionRow,
    events: &[EventParam],
) -> Result<(), ApiError> {
    let messages: Vec<(usize, &[ContentBlock])> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e {
            EventParam::UserMessage { content } => Some((i, content.as_slice())),
            _ => None,
        })
        .collect();
    if messages.is_empty() {
        return Ok(());
    }
    let Ok(snapshot) = serde_json::from_str::<SessionStatic>(&session.body) else {
        return Ok(());
    };
    let Some(window) = state
        .runtime
        .models
        .context_window(&session.tenant_id, &snapshot.agent.model.id)
        .await
    else {
        return Ok(());
    };
    // Half of what a turn may use before compacting: the rest is the system prompt, tools,
    // a summary and the answer.
    let fits = (f64::from(window) * state.config.compaction_threshold / 2.0) as usize;
    for (i, content) in messages {
        let tokens = estimate_tokens(content);
        if tokens > fits {
            return Err(ApiError::bad_request(format!(
                "events[{i}]: the message is about {tokens} tokens, and the model's context \
                 ({window} tokens) can take at most about {fits} in one message. Send it as a \
                 file (POST /v1/files) for the agent to read, or split it"
            ))
            .with_code("message_too_large_for_context"));
        }
    }
    Ok(())
}

/// Takes the events' bytes from the session's input allowance for this minute.
pub async fn check_input_rate(
    state: &AppState,
    session_id: &str,
    rows: &[NewEvent],
) -> Result<(), axum::response::Response> {
    let limit = state.config.rate_limits.session_input_bytes_per_minute;
    if limit == 0 {
        return Ok(());
    }
    let bytes: u64 = rows.iter().map(|r| r.body.len() as u64).sum();
    let now = micros(now());
    let verdict = state
        .rate_limiter
        .check(Kind::SessionInput, session_id, limit, bytes, now)
        .await;
    if verdict.allowed {
        return Ok(());
    }
    Err(refusal(
        format!(
            "session {session_id} takes at most {} MiB of events a minute, and these {bytes} \
             bytes would pass that; retry after the time in retry-after",
            limit >> 20
        ),
        &verdict,
        now,
    ))
}

/// What content would cost the model's context, as the agent estimates it.
fn estimate_tokens(content: &[ContentBlock]) -> usize {
    content
        .iter()
        .map(|block| match block {
            ContentBlock::Text { text } => text.len() / CHARS_PER_TOKEN,
            ContentBlock::Image { .. } => IMAGE_TOKENS,
            ContentBlock::Document { source, .. } => match source {
                Source::Text { data, .. } => data.len() / CHARS_PER_TOKEN,
                Source::Base64 { data, .. } => data.len() * 3 / 4 / DOCUMENT_BYTES_PER_TOKEN,
                Source::Url { .. } | Source::File { .. } => REFERENCED_DOCUMENT_TOKENS,
            },
            ContentBlock::SearchResult { content, .. } => {
                content.iter().map(|t| t.text.len()).sum::<usize>() / CHARS_PER_TOKEN
            }
            ContentBlock::Redacted {} => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_count_text_by_length_and_media_by_kind() {
        let content = vec![
            ContentBlock::text("x".repeat(4_000)),
            ContentBlock::Image {
                source: Source::Base64 {
                    data: "A".repeat(1_000_000),
                    media_type: "image/png".into(),
                },
            },
        ];
        assert_eq!(estimate_tokens(&content), 1_000 + IMAGE_TOKENS);
    }
}
