//! One request from a sandbox to its destination and the response back, with the sandbox's
//! placeholders swapped for the real secrets where the secrets allow. Used for plain-HTTP
//! requests and inside intercepted TLS tunnels alike. One request per connection: the
//! destination is asked to close after its response and the sandbox is told so, which keeps
//! every request on its own, checked path.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

use crate::hosts::normalize_host;
use crate::http1::{Framing, Head, HttpError, Reader, parse_chunk_size};
use crate::reflect::Reflection;
use crate::refusal::{Refusal, refuse};
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
/// Bytes of a searched response body handled at a time.
const REDACTION_PIECE_BYTES: usize = 64 * 1024;

/// Forwards the request whose head (`head`, target in origin form) was read from `client` to
/// `upstream`, for destination `host`, and relays the response.
pub(crate) async fn exchange<C, U>(
    mut client: Reader<C>,
    mut head: Head,
    mut upstream: U,
    host: &str,
    secrets: &[InjectedSecret],
) where
    C: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let applicable = if names_host(&head, host) {
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
        head.remove(&["accept-encoding"]);
        head.headers
            .push(("Accept-Encoding".to_owned(), "identity".to_owned()));
    }
    let head_request = head.request_line().0.eq_ignore_ascii_case("HEAD");
    let request = prepare(&mut client, &mut head, &applicable).await;
    let sent = match request {
        Ok(body) => {
            let bytes = Zeroizing::new(head.to_bytes());
            let sent =
                upstream.write_all(&bytes).await.is_ok() && upstream.write_all(&body).await.is_ok();
            for (_, value) in &mut head.headers {
                value.zeroize();
            }
            sent
        }
        Err(error) => {
            return refuse(client.get_mut(), &Refusal::from(error)).await;
        }
    };
    if !sent {
        let refusal = Refusal::Upstream {
            host: host.to_owned(),
            message: "the connection closed while the request was sent".into(),
        };
        return refuse(client.get_mut(), &refusal).await;
    }
    let (client, leftover) = client.into_parts();
    let (mut client_read, mut client_write) = tokio::io::split(client);
    let (upstream_read, mut upstream_write) = tokio::io::split(upstream);
    // The rest of the request (a body not read whole) streams on while the response comes.
    let request_rest = async move {
        if upstream_write.write_all(&leftover).await.is_ok() {
            let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        () = request_rest => {}
        () = relay_response(
            Reader::with_timeout(upstream_read, RESPONSE_IDLE_TIMEOUT),
            &mut client_write,
            host,
            reflection.as_ref().map(|r| (r, head_request)),
        ) => {}
    }
    let _ = client_write.shutdown().await;
}

/// Whether the request's `Host` (if any) is the destination.
fn names_host(head: &Head, host: &str) -> bool {
    head.header("host")
        .is_none_or(|h| normalize_host(h) == normalize_host(host))
}

/// Rewrites the head for the destination and reads the body when secrets go into it; returns
/// the body to send after the head (empty when the body streams on from the client).
async fn prepare<C>(
    client: &mut Reader<C>,
    head: &mut Head,
    applicable: &Applicable<'_>,
) -> Result<Zeroizing<Vec<u8>>, HttpError>
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    // Framing matters only to a body read whole; any other passes through as it came.
    let framing = head.request_framing();
    let expects_continue = head
        .header("expect")
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    head.remove(HOP_BY_HOP);
    if applicable.in_headers() {
        for (_, value) in &mut head.headers {
            if let Some(replaced) = applicable.header_value(value) {
                *value = replaced;
            }
        }
    }
    // The proxy answers `Expect` itself: the destination never sees it, so it never sends an
    // interim response of its own.
    if expects_continue && !matches!(framing, Ok(Framing::Empty)) {
        client
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    let mut body = Zeroizing::new(Vec::new());
    if applicable.in_body() {
        let framing = framing?;
        if framing != Framing::Empty {
            let raw = client.read_body(framing).await?;
            *body = applicable.body(&raw).unwrap_or(raw);
            head.remove(&["content-length", "transfer-encoding"]);
            head.headers
                .push(("Content-Length".to_owned(), body.len().to_string()));
        }
    }
    head.headers
        .push(("Connection".to_owned(), "close".to_owned()));
    Ok(body)
}

/// Relays the response: interim responses as they are, the final head with `Connection:
/// close`, then the body until the destination closes — or, with a reflection guard (and
/// whether the request was `HEAD`), the body de-framed and searched (see [`crate::reflect`]).
async fn relay_response<R, W>(
    mut upstream: Reader<R>,
    client: &mut W,
    host: &str,
    guard: Option<(&Reflection, bool)>,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let raw = match upstream.read_head().await {
            Ok(raw) => raw,
            Err(e) => {
                let refusal = Refusal::Upstream {
                    host: host.to_owned(),
                    message: format!("no valid response: {e}"),
                };
                return refuse(client, &refusal).await;
            }
        };
        let Ok(mut head) = Head::parse(&raw) else {
            // Not ours to judge: passed on as it came.
            if client.write_all(&raw).await.is_err() {
                return;
            }
            break;
        };
        let status = head.status().unwrap_or(0);
        if (100..200).contains(&status) && status != 101 {
            if client.write_all(&raw).await.is_err() {
                return;
            }
            continue;
        }
        head.remove(&["connection", "keep-alive", "proxy-connection"]);
        head.headers
            .push(("Connection".to_owned(), "close".to_owned()));
        if let Some((reflection, head_request)) = guard {
            return relay_searched(upstream, client, host, head, reflection, head_request).await;
        }
        if client.write_all(&head.to_bytes()).await.is_err() {
            return;
        }
        break;
    }
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::time::timeout(RESPONSE_IDLE_TIMEOUT, upstream.read(&mut buffer)).await;
        let n = match read {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
            Ok(Ok(n)) => n,
        };
        let chunk = buffer.get(..n).unwrap_or_default();
        // Flushed chunk by chunk: streamed responses (server-sent events) arrive as they come.
        if client.write_all(chunk).await.is_err() || client.flush().await.is_err() {
            return;
        }
    }
}

/// Relays a final response whose headers and body are searched for reflected secrets: the
/// body is read in its own framing and passed on delimited by the end of the connection.
async fn relay_searched<R, W>(
    mut upstream: Reader<R>,
    client: &mut W,
    host: &str,
    mut head: Head,
    reflection: &Reflection,
    head_request: bool,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let upstream_error = |message: String| Refusal::Upstream {
        host: host.to_owned(),
        message,
    };
    let framing = match head.response_framing(head_request) {
        Ok(f) => f,
        Err(e) => return refuse(client, &upstream_error(format!("invalid response: {e}"))).await,
    };
    let encoded = head
        .header("content-encoding")
        .is_some_and(|e| !e.trim().is_empty() && !e.trim().eq_ignore_ascii_case("identity"));
    if encoded && framing != Framing::Empty {
        let message = "answered with a compressed body, which cannot be checked for the \
                       sandbox's secrets; the response was withheld"
            .to_owned();
        return refuse(client, &upstream_error(message)).await;
    }
    for (_, value) in &mut head.headers {
        *value = reflection.header_value(value);
    }
    if framing != Framing::Empty {
        head.remove(&["content-length", "transfer-encoding"]);
    }
    if client.write_all(&head.to_bytes()).await.is_err() {
        return;
    }
    let mut stream = reflection.stream();
    let mut pass_on = async |piece: &[u8]| -> bool {
        let out = stream.push(piece);
        out.is_empty() || (client.write_all(&out).await.is_ok() && client.flush().await.is_ok())
    };
    let read = async |upstream: &mut Reader<R>, remaining: u64| -> Option<Vec<u8>> {
        let max = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(REDACTION_PIECE_BYTES);
        upstream.read_up_to(max).await.ok()
    };
    match framing {
        Framing::Empty => {}
        Framing::UntilClose => {
            while let Some(piece) = read(&mut upstream, u64::MAX).await {
                if !pass_on(&piece).await {
                    return;
                }
            }
        }
        Framing::Length(mut left) => {
            while left > 0 {
                let Some(piece) = read(&mut upstream, left).await else {
                    break;
                };
                left = left.saturating_sub(piece.len() as u64);
                if !pass_on(&piece).await {
                    return;
                }
            }
        }
        Framing::Chunked => loop {
            let Ok(line) = upstream.read_line().await else {
                break;
            };
            let Ok(mut left) = parse_chunk_size(&line).map(|n| n as u64) else {
                break;
            };
            if left == 0 {
                break;
            }
            while left > 0 {
                let Some(piece) = read(&mut upstream, left).await else {
                    return;
                };
                left = left.saturating_sub(piece.len() as u64);
                if !pass_on(&piece).await {
                    return;
                }
            }
            if upstream.read_line().await.is_err() {
                break;
            }
        },
    }
    let rest = stream.finish();
    if !rest.is_empty() {
        let _ = client.write_all(&rest).await;
    }
    let _ = client.flush().await;
}
