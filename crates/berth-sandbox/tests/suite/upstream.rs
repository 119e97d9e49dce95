//! Fake destinations on the host's loopback, plain and TLS (with a test CA of their own), that
//! record every request exactly as it arrives.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, KeyUsagePurpose};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{
    self, ServerConfig,
    pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer},
};

/// One request as the destination received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The whole request as text, to search for a secret anywhere in it.
    pub fn text(&self) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        format!(
            "{}\n{}\n\n{}",
            self.request_line,
            headers.join("\n"),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// A destination listening on `127.0.0.1:port`.
pub struct Upstream {
    pub port: u16,
    requests: mpsc::UnboundedReceiver<Recorded>,
}

impl Upstream {
    /// The next request it received.
    pub async fn next(&mut self) -> Recorded {
        tokio::time::timeout(Duration::from_secs(10), self.requests.recv())
            .await
            .expect("a request reached the destination")
            .expect("the destination is running")
    }

    /// Whether no request is waiting (for requests that must not arrive).
    pub fn nothing_received(&mut self) -> bool {
        self.requests.try_recv().is_err()
    }
}

/// A plain HTTP destination.
pub async fn http() -> Upstream {
    start(None).await
}

/// A TLS destination whose certificate (for `localhost` and `127.0.0.1`) is issued by a test
/// CA; returns it and that CA's certificate (PEM).
pub async fn https() -> (Upstream, String) {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, &ca).unwrap();
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap();
    let upstream = start(Some(TlsAcceptor::from(Arc::new(config)))).await;
    (upstream, ca.pem())
}

async fn start(tls: Option<TlsAcceptor>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, requests) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sender = sender.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_one(stream, sender).await;
                        }
                    }
                    None => serve_one(stream, sender).await,
                }
            });
        }
    });
    Upstream { port, requests }
}

/// Reads one request (body by `Content-Length`; a chunked one is kept raw), records it,
/// answers `ok` and closes.
async fn serve_one<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    sender: mpsc::UnboundedSender<Recorded>,
) {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let mut body = data[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok());
    let chunked = headers
        .iter()
        .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => true,
        };
        if complete {
            break;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let recorded = Recorded {
        request_line,
        headers,
        body,
    };
    let reply = if recorded.request_line.contains("/echo") {
        echo(&recorded)
    } else if recorded.request_line.contains("/gzip") {
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc".to_vec()
    } else {
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok".to_vec()
    };
    let _ = sender.send(recorded);
    let _ = stream.write_all(&reply).await;
    let _ = stream.shutdown().await;
}

/// A destination that reflects what it received: the `Authorization` header in a header of its
/// own, and the whole request as the body, sent in small chunks (so a value is split across
/// chunk boundaries).
fn echo(recorded: &Recorded) -> Vec<u8> {
    let text = recorded.text();
    let mut reply = format!(
        "HTTP/1.1 200 OK\r\nX-Echo-Authorization: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        recorded.header("authorization").unwrap_or_default()
    )
    .into_bytes();
    for piece in text.as_bytes().chunks(7) {
        reply.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        reply.extend_from_slice(piece);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"0\r\n\r\n");
    reply
}
