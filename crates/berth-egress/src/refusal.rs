//! Why the proxy refused a request or could not complete it, and the answer the sandbox gets:
//! a plain-text response naming the reason, after which the connection closes.

use std::net::IpAddr;

use berth_net::EgressError;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use crate::body::{ProxyBody, full};

/// The largest request body read whole to substitute secrets in; larger ones are refused
/// (proxy memory is shared by every sandbox).
pub(crate) const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

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
    #[error(
        "the request body is larger than {MAX_BODY_BYTES} bytes, the most that can carry secrets"
    )]
    BodyTooLarge,
    #[error("{0}")]
    BadRequest(String),
}

impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            Refusal::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Connect { .. } | Refusal::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Refusal::HostNotAllowed { .. } | Refusal::Loopback { .. } | Refusal::Egress(_) => {
                StatusCode::FORBIDDEN
            }
        }
    }

    /// The answer to the sandbox, which closes the connection.
    pub fn response(&self) -> Response<ProxyBody> {
        tracing::info!(reason = %self, "sandbox egress refused");
        let mut response = Response::new(full(format!("Berth egress proxy: {self}\n")));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        headers.insert(CONNECTION, HeaderValue::from_static("close"));
        response
    }
}
