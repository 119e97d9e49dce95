//! One request from a sandbox to its destination and the response back, with the sandbox's
//! placeholders swapped for the real secrets where the secrets allow, and secrets reflected by
//! the destination taken back out. Used for plain-HTTP requests and inside intercepted TLS
//! tunnels alike. One request per connection: the destination is asked to close after its
//! response and the sandbox is told so, which keeps every request on its own, checked path.
//!
//! The request goes out through hyper's client from its parsed form; its body streams on as it
//! comes, or is read whole (up to [`MAX_BODY_BYTES`]) when secrets may go into it.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::client::conn::http1;
use hyper::header::{
    ACCEPT_ENCODING, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, HOST, HeaderMap, HeaderName,
    HeaderValue, TRANSFER_ENCODING,
};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use zeroize::Zeroizing;

use crate::body::{ProxyBody, Stalled, frames, full, relayed, streamed};
use crate::hosts::normalize_host;
use crate::reflect::{Reflection, StreamRedaction};
use crate::refusal::{MAX_BODY_BYTES, Refusal};
use crate::secrets::{Applicable, InjectedSecret};

/// Headers that belong to one hop (or to the proxy) and are never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "proxy-connection",
    "proxy-authorization",
    "connection",
    "keep-alive",
    "expect",
];
/// A response that sends nothing for this long is abandoned. Long, because model APIs and
/// builds may think for minutes before (or between) their bytes.
const RESPONSE_IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest wait for more of a request body read whole.
const REQUEST_BODY_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Forwards `request` (target in origin form) to `upstream`, the open connection to `host`,
/// and answers with the response for the sandbox.
pub(crate) async fn exchange<U>(
    request: Request<Incoming>,
    upstream: U,
    host: String,
    secrets: Arc<[InjectedSecret]>,
) -> Response<ProxyBody>
where
    U: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    match try_exchange(request, upstream, &host, &secrets).await {
        Ok(response) => response,
        Err(refusal) => refusal.response(),
    }
}

async fn try_exchange<U>(
    request: Request<Incoming>,
    upstream: U,
    host: &str,
    secrets: &[InjectedSecret],
) -> Result<Response<ProxyBody>, Refusal>
where
    U: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let upstream_error = |message: String| Refusal::Upstream {
        host: host.to_owned(),
        message,
    };
    let (mut parts, body) = request.into_parts();
    let applicable = if names_host(&parts.headers, host) {
        Applicable::for_host(secrets, host)
    } else {
        // A `Host` naming another server than the one connected to (domain fronting) gets
        // no secret: the server could route the request there.
        tracing::info!(
            host,
            "Host header names another server; no secrets substituted"
        );
        Applicable::none()
    };
    // Whatever the request carried, a response from a host a secret applies to may hold the
    // secret's value (an echo, or something stored earlier): it is searched, uncompressed.
    let reflection = Reflection::for_secrets(secrets.iter().filter(|s| s.applies_to(host)));
    if reflection.is_some() {
        parts
            .headers
            .insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    }
    let head_request = parts.method == Method::HEAD;
    for name in HOP_BY_HOP {
        parts.headers.remove(*name);
    }
    if parts.headers.contains_key(TRANSFER_ENCODING) {
        // The body is framed by its chunks; a length beside them is ignored, and not sent on.
        parts.headers.remove(CONTENT_LENGTH);
    }
    if applicable.in_headers() {
        substitute_headers(&mut parts.headers, &applicable);
    }
    let body = if applicable.in_body() && !body.is_end_stream() {
        let whole = read_whole(body).await?;
        let replaced = Zeroizing::new(applicable.body(&whole).unwrap_or_else(|| whole.to_vec()));
        parts.headers.remove(TRANSFER_ENCODING);
        parts
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(replaced.len()));
        full(Bytes::from_owner(replaced))
    } else {
        relayed(body, REQUEST_BODY_IDLE_TIMEOUT)
    };
    parts
        .headers
        .insert(CONNECTION, HeaderValue::from_static("close"));
    let request = Request::from_parts(parts, body);

    let (mut sender, connection) = http1::Builder::new()
        .preserve_header_case(true)
        .handshake(TokioIo::new(upstream))
        .await
        .map_err(|e| upstream_error(format!("cannot speak HTTP to it: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "upstream connection ended");
        }
    });
    let response = tokio::time::timeout(RESPONSE_IDLE_TIMEOUT, sender.send_request(request))
        .await
        .map_err(|_| upstream_error(Stalled(RESPONSE_IDLE_TIMEOUT).to_string()))?
        .map_err(|e| upstream_error(format!("no valid response: {e}")))?;
    let (mut parts, body) = response.into_parts();
    for name in ["connection", "keep-alive", "proxy-connection"] {
        parts.headers.remove(name);
    }
    parts
        .headers
        .insert(CONNECTION, HeaderValue::from_static("close"));
    let Some(reflection) = reflection else {
        return Ok(Response::from_parts(
            parts,
            relayed(body, RESPONSE_IDLE_TIMEOUT),
        ));
    };
    // Searched: headers and body, with the secrets' values replaced by their placeholders.
    let bodiless = head_request
        || parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED;
    let encoded = parts
        .headers
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
    if encoded && !bodiless {
        return Err(upstream_error(
            "answered with a compressed body, which cannot be checked for the sandbox's \
             secrets; the response was withheld"
                .to_owned(),
        ));
    }
    redact_headers(&mut parts.headers, &reflection);
    if bodiless {
        return Ok(Response::from_parts(parts, crate::body::empty()));
    }
    // A replacement may change the length: the body goes on in chunks.
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.remove(TRANSFER_ENCODING);
    Ok(Response::from_parts(parts, redacted(body, reflection)))
}

/// Whether the request's `Host` (if any) is the destination.
fn names_host(headers: &HeaderMap, host: &str) -> bool {
    headers.get(HOST).is_none_or(|h| {
        h.to_str()
            .is_ok_and(|h| normalize_host(h) == normalize_host(host))
    })
}

/// Puts the secrets into the header values that hold their placeholders.
fn substitute_headers(headers: &mut HeaderMap, applicable: &Applicable<'_>) {
    for value in headers.values_mut() {
        let Ok(text) = value.to_str() else {
            continue;
        };
        if let Some(replaced) = applicable.header_value(text)
            && let Ok(mut replaced) = HeaderValue::from_str(&replaced)
        {
            replaced.set_sensitive(true);
            *value = replaced;
        }
    }
}

/// Takes the secrets' values back out of response header values.
fn redact_headers(headers: &mut HeaderMap, reflection: &Reflection) {
    let names: Vec<HeaderName> = headers.keys().cloned().collect();
    for name in names {
        let values: Vec<HeaderValue> = headers
            .get_all(&name)
            .iter()
            .map(|value| {
                let redacted = reflection.header_value(&String::from_utf8_lossy(value.as_bytes()));
                HeaderValue::from_str(&redacted).unwrap_or_else(|_| value.clone())
            })
            .collect();
        headers.remove(&name);
        for value in values {
            headers.append(name.clone(), value);
        }
    }
}

/// A request body read whole, up to [`MAX_BODY_BYTES`].
async fn read_whole(body: Incoming) -> Result<Zeroizing<Vec<u8>>, Refusal> {
    let mut whole = Zeroizing::new(Vec::new());
    let mut incoming = Box::pin(frames(body, REQUEST_BODY_IDLE_TIMEOUT));
    while let Some(frame) = incoming.next().await {
        let frame = frame
            .map_err(|e| Refusal::BadRequest(format!("the request body could not be read: {e}")))?;
        if let Ok(data) = frame.into_data() {
            if whole.len() + data.len() > MAX_BODY_BYTES {
                return Err(Refusal::BodyTooLarge);
            }
            whole.extend_from_slice(&data);
        }
    }
    Ok(whole)
}

/// The response body with the secrets' values replaced as it streams.
fn redacted(body: Incoming, reflection: Reflection) -> ProxyBody {
    struct Searching<S> {
        upstream: S,
        redaction: StreamRedaction<Box<Reflection>>,
        done: bool,
    }
    let start = Searching {
        upstream: Box::pin(frames(body, RESPONSE_IDLE_TIMEOUT)),
        redaction: reflection.into_stream(),
        done: false,
    };
    let searched = futures::stream::unfold(start, |mut state| async move {
        while !state.done {
            match state.upstream.next().await {
                Some(Ok(frame)) => {
                    // Trailers are dropped: they could carry a value too, unsearched.
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let out = state.redaction.push(&data);
                    if !out.is_empty() {
                        return Some((Ok(Frame::data(Bytes::from(out))), state));
                    }
                }
                Some(Err(e)) => {
                    state.done = true;
                    return Some((Err(e), state));
                }
                None => {
                    state.done = true;
                    let rest = state.redaction.finish();
                    if !rest.is_empty() {
                        return Some((Ok(Frame::data(Bytes::from(rest))), state));
                    }
                }
            }
        }
        None
    });
    streamed(searched)
}
