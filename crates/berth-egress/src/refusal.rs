//! Why the proxy refused a request or could not complete it, and the answer the sandbox gets:
//! a plain-text response naming the reason, then the connection closes.

use std::net::IpAddr;

use berth_net::EgressError;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use crate::http1::HttpError;

/// Why a destination was refused or could not be reached.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Refusal {
    #[error("{host} is not allowed by this environment's networking (allowed: {allowed})")]
    HostNotAllowed { host: String, allowed: String },
    #[error("{host} resolves to {addr}, the host's own loopback, which sandboxes cannot reach")]
    Loopback { host: String, addr: IpAddr },
    #[error("{0}")]
    Egress(#[from] EgressError),
    #[error("cannot connect to {host}:{port}: {message}")]
    Connect {
        host: String,
        port: u16,
        message: String,
    },
    #[error("{host}: {message}")]
    Upstream { host: String, message: String },
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{0}")]
    BadRequest(String),
}

impl Refusal {
    fn status(&self) -> &'static str {
        match self {
            Refusal::BadRequest(_) => "400 Bad Request",
            Refusal::Http(HttpError::BodyTooLarge) => "413 Content Too Large",
            Refusal::Http(HttpError::HeadTooLarge) => "431 Request Header Fields Too Large",
            Refusal::Http(_) => "400 Bad Request",
            Refusal::Connect { .. } | Refusal::Upstream { .. } => "502 Bad Gateway",
            _ => "403 Forbidden",
        }
    }
}

/// Answers with the refusal and closes.
pub(crate) async fn refuse<W: AsyncWrite + Unpin>(client: &mut W, refusal: &Refusal) {
    tracing::info!(reason = %refusal, "sandbox egress refused");
    let body = format!("Berth egress proxy: {refusal}\n");
    let response = format!(
        "HTTP/1.1 {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        refusal.status(),
        body.len()
    );
    let _ = client.write_all(response.as_bytes()).await;
    let _ = client.shutdown().await;
}
