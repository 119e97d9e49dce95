//! TLS interception for the hosts a sandbox holds secrets for.
//!
//! A `CONNECT` to such a host is answered by the proxy's own TLS server, with a certificate
//! for the host from the installation's CA (which only sandboxes trust). The request inside is
//! read, its placeholders swapped for the secrets, and sent on over a fresh TLS connection to
//! the real host, verified against the Mozilla roots (plus any the operator adds). Tunnels to
//! every other host stay blind: the proxy never sees their traffic.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_rustls::rustls::{
    self, ClientConfig, RootCertStore,
    pki_types::{CertificateDer, ServerName, pem::PemObject},
};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::ca::{CaError, SandboxCa};
use crate::forward;
use crate::http1::{Head, Reader};
use crate::refusal::{Refusal, refuse};
use crate::secrets::SharedSecrets;

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

    /// Serves an accepted `CONNECT` to `host` whose TCP connection, `upstream`, is open.
    pub async fn tunnel(
        &self,
        mut client: TcpStream,
        upstream: TcpStream,
        host: &str,
        secrets: &SharedSecrets,
    ) {
        let config = match self.ca.server_config(host) {
            Ok(c) => c,
            Err(e) => {
                let refusal = Refusal::Upstream {
                    host: host.to_owned(),
                    message: format!("cannot make a certificate for it: {e}"),
                };
                return refuse(&mut client, &refusal).await;
            }
        };
        if tokio::io::AsyncWriteExt::write_all(
            &mut client,
            b"HTTP/1.1 200 Connection Established\r\n\r\n",
        )
        .await
        .is_err()
        {
            return;
        }
        let accepted =
            tokio::time::timeout(HANDSHAKE_TIMEOUT, TlsAcceptor::from(config).accept(client)).await;
        let client = match accepted {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                // Most often a client with a CA store of its own that ignores the bundle.
                tracing::info!(host, error = %e, "the sandbox's TLS client refused the interception");
                return;
            }
            Err(_) => return,
        };
        let mut client = Reader::new(client);
        let head = match client.read_head().await.and_then(|raw| Head::parse(&raw)) {
            Ok(head) => head,
            Err(e) => return refuse(client.get_mut(), &Refusal::from(e)).await,
        };
        let (_, target, _) = head.request_line();
        if !target.starts_with('/') {
            let refusal = Refusal::BadRequest(format!(
                "requests inside a tunnel must name a path, not \"{target}\""
            ));
            return refuse(client.get_mut(), &refusal).await;
        }
        let upstream = match self.connect_upstream(upstream, host).await {
            Ok(u) => u,
            Err(refusal) => return refuse(client.get_mut(), &refusal).await,
        };
        // The secrets as of this request, not as of the tunnel.
        let secrets = secrets.current();
        forward::exchange(client, head, upstream, host, &secrets).await;
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
