//! Reading response bodies within limits: whole JSON bodies up to a cap, diagnostic prefixes of
//! error bodies, and SSE streams whose events may not grow past a cap (a server must not be able
//! to make Berth buffer without end).

use berth_sse::{Decoder, Frame};
use futures::StreamExt;
use futures::stream::BoxStream;
use http::header::CONTENT_TYPE;
use reqwest::Response;
use rmcp::transport::streamable_http_client::{SseError, StreamableHttpResponseLimits};
use sse_stream::Sse;

use super::{Failure, request_failed};

/// What can end an SSE body early.
#[derive(Debug, thiserror::Error)]
enum SseBodyError {
    #[error("{0}")]
    Read(#[source] reqwest::Error),
    #[error("an SSE event exceeded {0} bytes")]
    EventTooLarge(usize),
    #[error("{0}")]
    Decode(#[source] berth_sse::DecodeError),
}

pub(super) fn preview(body: &[u8], limits: StreamableHttpResponseLimits) -> String {
    let end = body.len().min(limits.max_error_response_size);
    String::from_utf8_lossy(body.get(..end).unwrap_or_default()).into_owned()
}

pub(super) fn content_type(response: &Response) -> Option<String> {
    response
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Whether a `Content-Type` names `expected`, ignoring case and parameters.
pub(super) fn media_type_is(content_type: &str, expected: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(expected))
}

/// The whole body, refused once it passes `max` bytes.
pub(super) async fn read_bounded(mut response: Response, max: usize) -> Result<Vec<u8>, Failure> {
    if response
        .content_length()
        .is_some_and(|length| length > max as u64)
    {
        return Err(Failure::ResponseBodyTooLarge { max_size: max });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_failed)? {
        if chunk.len() > max - body.len() {
            return Err(Failure::ResponseBodyTooLarge { max_size: max });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// At most `max` bytes of the body, for a diagnostic; read errors just end it.
pub(super) async fn read_prefix(mut response: Response, max: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < max {
        let Ok(Some(chunk)) = response.chunk().await else {
            break;
        };
        let take = chunk.len().min(max - body.len());
        body.extend_from_slice(chunk.get(..take).unwrap_or_default());
    }
    body
}

/// The body as SSE events, ending with an error once one event passes `max_event_size` bytes.
pub(super) fn sse_events(
    response: Response,
    max_event_size: usize,
) -> BoxStream<'static, Result<Sse, SseError>> {
    let mut limit = EventSizeLimit::new(max_event_size);
    let mut decoder = Decoder::new();
    let frames = response.bytes_stream().scan(false, move |failed, chunk| {
        let item = if *failed {
            None
        } else {
            let decoded = chunk
                .map_err(|e| SseBodyError::Read(e.without_url()))
                .and_then(|chunk| {
                    limit
                        .observe(&chunk)
                        .map_err(|()| SseBodyError::EventTooLarge(max_event_size))?;
                    decoder.feed(&chunk).map_err(SseBodyError::Decode)
                });
            *failed = decoded.is_err();
            Some(decoded)
        };
        futures::future::ready(item)
    });
    frames
        .flat_map(|decoded| {
            let events: Vec<Result<Sse, SseError>> = match decoded {
                Ok(frames) => frames.into_iter().map(|frame| Ok(to_sse(frame))).collect(),
                Err(e) => vec![Err(SseError::Body(Box::new(e)))],
            };
            futures::stream::iter(events)
        })
        .boxed()
}

/// A decoded frame in the form the MCP client library takes.
fn to_sse(frame: Frame) -> Sse {
    Sse {
        event: frame.event,
        data: frame.data,
        id: frame.id,
        retry: frame.retry,
    }
}

/// Counts the bytes of the SSE event being received, so a server cannot make the parser buffer
/// an endless event. An empty line ends an event.
struct EventSizeLimit {
    max: usize,
    event: usize,
    line: usize,
    after_cr: bool,
}

impl EventSizeLimit {
    fn new(max: usize) -> Self {
        Self {
            max,
            event: 0,
            line: 0,
            after_cr: false,
        }
    }

    fn observe(&mut self, chunk: &[u8]) -> Result<(), ()> {
        for &byte in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                // The LF of a CRLF pair ends no second line.
                b'\n' if after_cr => {}
                b'\r' | b'\n' => {
                    if self.line == 0 {
                        self.event = 0;
                    }
                    self.line = 0;
                }
                _ => {
                    self.line += 1;
                    self.event += 1;
                    if self.event > self.max {
                        return Err(());
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_size_limit_resets_at_blank_lines() {
        let mut limit = EventSizeLimit::new(10);
        assert!(limit.observe(b"data: 12\r\n\r\n").is_ok());
        assert!(limit.observe(b"data: 1234\n\n").is_ok());
        assert!(limit.observe(b"data: 12345\n").is_err());
    }

    #[test]
    fn event_size_limit_spans_lines_of_one_event() {
        let mut limit = EventSizeLimit::new(10);
        assert!(limit.observe(b"data: 1\n").is_ok());
        assert!(limit.observe(b"data: 2\n").is_err());
    }

    #[test]
    fn media_types_ignore_case_and_parameters() {
        assert!(media_type_is(
            "Application/JSON; charset=utf-8",
            "application/json"
        ));
        assert!(!media_type_is("application/json-seq", "application/json"));
        assert!(media_type_is(" text/event-stream", "text/event-stream"));
    }
}
