//! One request from a sandbox to its destination and the response back, with the sandbox's
//! placeholders swapped for the real secrets where the secrets allow. Used for plain-HTTP
//! requests and inside intercepted TLS tunnels alike. One request per connection: the
//! destination is asked to close after its response and the sandbox is told so, which keeps
//! every request on its own, checked path.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::{Zeroize, Zeroizing};

use crate::hosts::normalize_host;
use crate::http1::{Framing, Head, HttpError, Reader};
use crate::proxy::{Refusal, refuse};
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
/// close`, then the body until the destination closes.
async fn relay_response<R, W>(mut upstream: Reader<R>, client: &mut W, host: &str)
where
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
