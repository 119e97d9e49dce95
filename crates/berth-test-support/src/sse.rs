//! A streaming SSE reader for tests, on the same decoder Berth uses for model streams.

use std::collections::VecDeque;
use std::time::Duration;

use berth_sse::{Decoder, Frame};
use futures::StreamExt;
use serde_json::Value;

pub struct SseStream {
    body: std::pin::Pin<Box<dyn futures::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    decoder: Decoder,
    frames: VecDeque<Frame>,
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
}

/// A frame with its data parsed.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
}

impl SseStream {
    pub async fn open(request: reqwest::RequestBuilder) -> Self {
        let response = request.send().await.expect("stream request is sent");
        let status = response.status();
        let headers = response.headers().clone();
        Self {
            body: Box::pin(response.bytes_stream()),
            decoder: Decoder::new(),
            frames: VecDeque::new(),
            status,
            headers,
        }
    }

    /// The next frame, or `None` if the stream ended or nothing came within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(frame) = self.frames.pop_front() {
                let data = serde_json::from_str(frame.data_str()).unwrap_or(Value::Null);
                return Some(SseEvent {
                    event: frame.event.unwrap_or_default(),
                    id: frame.id,
                    data,
                });
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next())
                .await
                .ok()??;
            let chunk = chunk.ok()?;
            self.frames.extend(self.decoder.feed(&chunk).ok()?);
        }
    }

    /// Reads frames until one satisfies `done` (inclusive), skipping pings. Panics on timeout.
    pub async fn until(
        &mut self,
        timeout: Duration,
        done: impl Fn(&SseEvent) -> bool,
    ) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let Some(event) = self.next(left).await else {
                panic!(
                    "stream ended or timed out before the expected frame; saw: {:?}",
                    seen.iter()
                        .map(|e: &SseEvent| e.event.clone())
                        .collect::<Vec<_>>()
                );
            };
            if event.event == "ping" {
                continue;
            }
            let stop = done(&event);
            seen.push(event);
            if stop {
                return seen;
            }
        }
    }

    /// Reads until the stream ends (or `timeout`), returning every non-ping frame.
    pub async fn rest(&mut self, timeout: Duration) -> Vec<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next(left).await {
                Some(e) if e.event == "ping" => {}
                Some(e) => seen.push(e),
                None => return seen,
            }
        }
    }
}
