//! What every provider shares: the HTTP client (under an egress policy), error answers, and
//! turning an SSE response into a stream of events with an idle timeout between chunks.

use std::collections::VecDeque;
use std::time::Duration;

use berth_net::{EgressPolicy, PolicedClient};
use futures::StreamExt;

use crate::types::{EventStream, StreamEvent};
use crate::{ModelError, ModelErrorKind};
use berth_sse::{Decoder, Frame};

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest error body kept for the message (providers sometimes return HTML pages).
const MAX_ERROR_BODY: usize = 4096;

/// An HTTP client for model requests under `policy`.
pub fn http_client(policy: EgressPolicy) -> Result<PolicedClient, ModelError> {
    PolicedClient::new(policy, |b| {
        b.connect_timeout(CONNECT_TIMEOUT)
            .pool_idle_timeout(Duration::from_secs(60))
    })
    .map_err(|e| ModelError::new(ModelErrorKind::Connection, e.to_string()))
}

/// Turns SSE frames into stream events; one per provider wire format.
pub trait FrameParser: Send + 'static {
    fn frame(&mut self, frame: &Frame) -> Vec<Result<StreamEvent, ModelError>>;
    /// Whether the provider signalled the end of the message.
    fn done(&self) -> bool;
}

pub fn transport_error(e: reqwest::Error) -> ModelError {
    let kind = if e.is_timeout() {
        ModelErrorKind::Timeout
    } else {
        ModelErrorKind::Connection
    };
    // reqwest's message names the URL, never headers, so no key can leak through it.
    let mut message = format!("model request failed: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    ModelError::new(kind, message)
}

/// Builds the error for a non-2xx answer from the provider's JSON error body.
pub async fn error_from_response(response: reqwest::Response) -> ModelError {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let json = serde_json::from_str::<serde_json::Value>(&body).ok();
    let message = json
        .as_ref()
        .and_then(|v| {
            v.pointer("/error/message")
                .and_then(|m| m.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(MAX_ERROR_BODY).collect());
    let mut error =
        ModelError::from_status(status, format!("HTTP {status}: {message}"), retry_after);
    let error_type = json
        .as_ref()
        .and_then(|v| v.pointer("/error/type").and_then(|t| t.as_str()))
        .unwrap_or("");
    if error_type == "overloaded_error" {
        error.kind = ModelErrorKind::Overloaded;
    }
    error
}

/// `retry-after-ms` or `retry-after` (seconds), as providers send them.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|s| Duration::from_secs_f64(s.max(0.0)))
}

struct StreamState<P> {
    bytes:
        std::pin::Pin<Box<dyn futures::Stream<Item = Result<bytes::Bytes, reqwest::Error>> + Send>>,
    decoder: Decoder,
    pending: VecDeque<Result<StreamEvent, ModelError>>,
    parser: P,
    finished: bool,
}

/// The events of an SSE response; a chunk gap longer than `idle` ends it with a timeout.
pub fn sse_events<P: FrameParser>(
    response: reqwest::Response,
    idle: Duration,
    parser: P,
) -> EventStream {
    let state = StreamState {
        bytes: Box::pin(response.bytes_stream()),
        decoder: Decoder::new(),
        pending: VecDeque::new(),
        parser,
        finished: false,
    };
    Box::pin(futures::stream::unfold(state, move |mut s| async move {
        loop {
            if let Some(item) = s.pending.pop_front() {
                if item.is_err() {
                    s.finished = true;
                }
                return Some((item, s));
            }
            if s.finished {
                return None;
            }
            match tokio::time::timeout(idle, s.bytes.next()).await {
                Err(_) => {
                    s.finished = true;
                    let e = ModelError::new(
                        ModelErrorKind::Timeout,
                        format!("the model stream sent nothing for {} s", idle.as_secs()),
                    );
                    return Some((Err(e), s));
                }
                Ok(None) => {
                    s.finished = true;
                    if !s.parser.done() {
                        let e = ModelError::new(
                            ModelErrorKind::Connection,
                            "the model stream ended before the message was complete",
                        );
                        return Some((Err(e), s));
                    }
                    return None;
                }
                Ok(Some(Err(e))) => {
                    s.finished = true;
                    return Some((Err(transport_error(e)), s));
                }
                Ok(Some(Ok(chunk))) => match s.decoder.feed(&chunk) {
                    Err(e) => {
                        s.finished = true;
                        return Some((
                            Err(ModelError::new(ModelErrorKind::Protocol, e.to_string())),
                            s,
                        ));
                    }
                    Ok(frames) => {
                        for frame in frames {
                            s.pending.extend(s.parser.frame(&frame));
                        }
                    }
                },
            }
        }
    }))
}

/// Sends a streaming request and returns its events. Every error message, before the stream and
/// within it, is scrubbed of `secrets` (the key and header values the request carried).
pub async fn open_stream<P: FrameParser>(
    request: reqwest::RequestBuilder,
    idle: Duration,
    secrets: Vec<String>,
    parser: P,
) -> Result<EventStream, ModelError> {
    let scrub = move |mut error: ModelError| {
        for secret in &secrets {
            error.message = redact(&error.message, secret);
        }
        error
    };
    let response = tokio::time::timeout(idle, request.send())
        .await
        .map_err(|_| ModelError::new(ModelErrorKind::Timeout, "the model did not answer in time"))?
        .map_err(transport_error)
        .map_err(&scrub)?;
    if !response.status().is_success() {
        return Err(scrub(error_from_response(response).await));
    }
    Ok(Box::pin(
        sse_events(response, idle, parser).map(move |item| item.map_err(&scrub)),
    ))
}

/// Removes a secret (and the masked forms providers echo, like `sk-abc…wxyz` or `sk-ab****yz`)
/// from a message before it is stored or shown.
pub fn redact(message: &str, secret: &str) -> String {
    if secret.len() < 8 {
        return message.to_owned();
    }
    let mut out = message.replace(secret, "[redacted]");
    let head: String = secret.chars().take(6).collect();
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let words: Vec<String> = out.split_whitespace().map(str::to_owned).collect();
    for word in words {
        let trimmed = word.trim_matches(|c: char| !c.is_alphanumeric() && c != '*' && c != '…');
        let masked = trimmed.contains('*') || trimmed.contains('…') || trimmed.contains("...");
        if masked && (trimmed.starts_with(&head) || trimmed.ends_with(&tail)) {
            out = out.replace(trimmed, "[redacted]");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_and_their_masked_forms_are_removed() {
        let key = "sk-proj-abcdef1234567890wxyz";
        assert_eq!(redact(&format!("bad key {key}"), key), "bad key [redacted]");
        let masked = "Incorrect API key provided: sk-pro************wxyz. You can find";
        assert_eq!(
            redact(masked, key),
            "Incorrect API key provided: [redacted]. You can find"
        );
        assert_eq!(redact("nothing here", key), "nothing here");
    }
}
