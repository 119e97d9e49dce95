//! TLS interception for the hosts a sandbox holds secrets for.
//!
//! A `CONNECT` to such a host is answered by the proxy's own TLS server, with a certificate
//! for the host from the installation's CA (which only sandboxes trust). The request inside is
//! read, its placeholders swapped for the secrets, and sent on over a fresh TLS connection to
//! the real host, verified against the Mozilla roots (plus any the operator adds). Tunnels to
//! every other host stay blind: the proxy never sees their traffic.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::body::ProxyBody;
use crate::ca::{CaError, SandboxCa};
use crate::forward;
use crate::refusal::Refusal;
use crate::secrets::SharedSecrets;
use crate::serving::one_request_server;

/// The future of one answer, boxed so that it is plainly `Send`.
type Answer = std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<Response<ProxyBody>, Infallible>> + Send>,
>;

/// Longest a TLS handshake may take, on either side.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// The CA and the TLS client of the interception, shared by every sandbox.
pub struct Interception {
    ca: SandboxCa,
    connector: TlsConnector,
}

impl Interception {
    /// `extra_roots_pem`: PEM certificates trusted for destinations besides the Mozilla roots.
    pub fn new(ca: SandboxCa, extra_roots_pem: &[String]) -> Result<Self, CaError> {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for pem in extra_roots_pem {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let cert = cert.map_err(|e| {
                    CaError::Tls(rustls::Error::General(format!(
                        "an extra upstream root certificate: {e}"
                    )))
                })?;
                roots.add(cert)?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            ca,
            connector: TlsConnector::from(Arc::new(config)),
        })
    }

    pub fn ca(&self) -> &SandboxCa {
        &self.ca
    }

    /// The TLS server configuration that presents a certificate for `host`, made before the
    /// tunnel is accepted so that a failure can still be answered.
    pub(crate) fn certificate(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, Refusal> {
        self.ca.server_config(host).map_err(|e| Refusal::Upstream {
            host: host.to_owned(),
            message: format!("cannot make a certificate for it: {e}"),
        })
    }

    /// Serves the tunnel of an accepted `CONNECT` to `host` (already answered `200`), whose
    /// TCP connection, `upstream`, is open: TLS with a certificate for `host`, then one request.
    pub async fn tunnel<C>(
        self: Arc<Self>,
        certificate: Arc<rustls::ServerConfig>,
        client: C,
        upstream: TcpStream,
        host: String,
        secrets: SharedSecrets,
    ) where
        C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let accepted = tokio::time::timeout(
            HANDSHAKE_TIMEOUT,
            TlsAcceptor::from(certificate).accept(client),
        )
        .await;
        let client = match accepted {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                // Most often a client with a CA store of its own that ignores the bundle.
                tracing::info!(%host, error = %e, "the sandbox's TLS client refused the interception");
                return;
            }
            Err(_) => return,
        };
        let upstream = Arc::new(Mutex::new(Some(upstream)));
        let service = service_fn(move |request| {
            let this = Arc::clone(&self);
            let upstream = upstream.lock().ok().and_then(|mut u| u.take());
            let (host, secrets) = (host.clone(), secrets.clone());
            let answer: Answer = Box::pin(async move {
                Ok::<_, Infallible>(Self::forward(this, request, upstream, host, secrets).await)
            });
            answer
        });
        let served = one_request_server()
            .serve_connection(TokioIo::new(client), service)
            .await;
        if let Err(e) = served {
            tracing::debug!(error = %e, "intercepted connection ended");
        }
    }

    /// The one request of an intercepted tunnel, sent on over TLS to the real host.
    async fn forward(
        this: Arc<Self>,
        request: Request<Incoming>,
        upstream: Option<TcpStream>,
        host: String,
        secrets: SharedSecrets,
    ) -> Response<ProxyBody> {
        if request.uri().scheme().is_some() || request.uri().authority().is_some() {
            return Refusal::BadRequest(format!(
                "requests inside a tunnel must name a path, not \"{}\"",
                request.uri()
            ))
            .response();
        }
        let Some(upstream) = upstream else {
            return Refusal::BadRequest("one request per tunnel".into()).response();
        };
        let upstream = match this.connect_upstream(upstream, &host).await {
            Ok(u) => u,
            Err(refusal) => return refusal.response(),
        };
        // The secrets as of this request, not as of the tunnel.
        forward::exchange(request, upstream, host, secrets.current()).await
    }

    async fn connect_upstream(
        &self,
        upstream: TcpStream,
        host: &str,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Refusal> {
        let failed = |message: String| Refusal::Upstream {
            host: host.to_owned(),
            message,
        };
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| failed(format!("not a TLS server name: {e}")))?;
        tokio::time::timeout(HANDSHAKE_TIMEOUT, self.connector.connect(name, upstream))
            .await
            .map_err(|_| failed("the TLS handshake timed out".into()))?
            .map_err(|e| failed(format!("TLS: {e}")))
    }
}
