//! The egress proxy a sandbox reaches at `127.0.0.1:3128` inside its namespace
//! (`HTTP_PROXY`/`HTTPS_PROXY` point there). It speaks just enough HTTP: `CONNECT host:port`
//! for TLS and absolute-form requests (`GET http://host/…`) for plain HTTP. Every destination is
//! checked twice: the host against the environment's rules, and every address it resolves to
//! against the operator's egress policy, with loopback refused outright, so no sandbox reaches
//! the host's own services whatever the settings. Refusals answer `403` with the reason.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use berth_net::EgressPolicy;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::hosts::HostRules;

/// Longest request head accepted.
const MAX_HEAD_BYTES: usize = 16 * 1024;
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a sandbox may reach; replaced when its environment's networking changes.
#[derive(Debug, Clone)]
pub struct EgressRules {
    pub hosts: HostRules,
    pub policy: EgressPolicy,
}

/// Why a destination was refused.
#[derive(Debug, thiserror::Error)]
enum Refusal {
    #[error("{host} is not allowed by this environment's networking (allowed: {allowed})")]
    HostNotAllowed { host: String, allowed: String },
    #[error("{host} resolves to {addr}, the host's own loopback, which sandboxes can never reach")]
    Loopback { host: String, addr: IpAddr },
    #[error("{0}")]
    Egress(#[from] berth_net::EgressError),
    #[error("cannot connect to {host}:{port}: {message}")]
    Connect {
        host: String,
        port: u16,
        message: String,
    },
    #[error("{0}")]
    BadRequest(String),
}

impl Refusal {
    fn status(&self) -> &'static str {
        match self {
            Refusal::BadRequest(_) => "400 Bad Request",
            Refusal::Connect { .. } => "502 Bad Gateway",
            _ => "403 Forbidden",
        }
    }
}

/// Accepts proxy connections until `stop` fires.
pub async fn serve(
    listener: TcpListener,
    rules: Arc<RwLock<EgressRules>>,
    stop: CancellationToken,
) {
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (client, _) = match accepted {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "sandbox proxy accept failed");
                continue;
            }
        };
        let rules = rules.read().map(|r| r.clone());
        let Ok(rules) = rules else {
            return;
        };
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = handle(client, rules) => {}
            }
        });
    }
}

/// Reads a request head; returns it and whatever arrived after it.
async fn read_head(client: &mut TcpStream) -> Result<(String, Vec<u8>), Refusal> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            let head = String::from_utf8(buffer)
                .map_err(|_| Refusal::BadRequest("the request head is not UTF-8".into()))?;
            return Ok((head, rest));
        }
        if buffer.len() > MAX_HEAD_BYTES {
            return Err(Refusal::BadRequest("the request head is too large".into()));
        }
        let n = tokio::time::timeout(HEAD_TIMEOUT, client.read(&mut chunk))
            .await
            .map_err(|_| Refusal::BadRequest("no request arrived".into()))?
            .map_err(|e| Refusal::BadRequest(e.to_string()))?;
        if n == 0 {
            return Err(Refusal::BadRequest(
                "the connection closed before a request".into(),
            ));
        }
        buffer.extend_from_slice(chunk.get(..n).unwrap_or_default());
    }
}

/// Splits `host:port` (with `[v6]:port`), using `default_port` when none is given.
fn host_port(authority: &str, default_port: u16) -> Result<(String, u16), Refusal> {
    let bad = || Refusal::BadRequest(format!("{authority} is not a host and port"));
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']').ok_or_else(bad)?;
        let port = match rest.strip_prefix(':') {
            Some(p) => p.parse().map_err(|_| bad())?,
            None => default_port,
        };
        return Ok((host.to_owned(), port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_owned(), port.parse().map_err(|_| bad())?)),
        None => Ok((authority.to_owned(), default_port)),
    }
}

/// Checks a destination and connects to it.
async fn connect(rules: &EgressRules, host: &str, port: u16) -> Result<TcpStream, Refusal> {
    if !rules.hosts.allows(host) {
        return Err(Refusal::HostNotAllowed {
            host: host.to_owned(),
            allowed: rules.hosts.describe(),
        });
    }
    let url = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("http://[{v6}]:{port}/"),
        _ => format!("http://{host}:{port}/"),
    };
    let addrs: Vec<SocketAddr> = rules.policy.resolve(&url).await?;
    if let Some(addr) = addrs
        .iter()
        .find(|a| a.ip().is_loopback() || a.ip().is_unspecified())
    {
        return Err(Refusal::Loopback {
            host: host.to_owned(),
            addr: addr.ip(),
        });
    }
    let attempt = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addrs.as_slice()))
        .await
        .map_err(|_| "timed out".to_owned())
        .and_then(|r| r.map_err(|e| e.to_string()));
    attempt.map_err(|message| Refusal::Connect {
        host: host.to_owned(),
        port,
        message,
    })
}

async fn refuse(client: &mut TcpStream, refusal: &Refusal) {
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

async fn handle(mut client: TcpStream, rules: EgressRules) {
    let (head, rest) = match read_head(&mut client).await {
        Ok(h) => h,
        Err(refusal) => return refuse(&mut client, &refusal).await,
    };
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (method, target, version) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or("HTTP/1.1"),
    );
    if method.eq_ignore_ascii_case("CONNECT") {
        let upstream = match host_port(target, 443) {
            Ok((host, port)) => connect(&rules, &host, port).await,
            Err(refusal) => Err(refusal),
        };
        let mut upstream = match upstream {
            Ok(u) => u,
            Err(refusal) => return refuse(&mut client, &refusal).await,
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        if !rest.is_empty() && upstream.write_all(&rest).await.is_err() {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }
    let Some(after_scheme) = target.strip_prefix("http://") else {
        let refusal = Refusal::BadRequest(format!(
            "only CONNECT and absolute http:// requests are proxied, not \"{method} {target}\""
        ));
        return refuse(&mut client, &refusal).await;
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, "/"),
    };
    let upstream = match host_port(authority, 80) {
        Ok((host, port)) => connect(&rules, &host, port).await,
        Err(refusal) => Err(refusal),
    };
    let mut upstream = match upstream {
        Ok(u) => u,
        Err(refusal) => return refuse(&mut client, &refusal).await,
    };
    // Forward in origin form, one request per connection, without proxy headers.
    let mut forwarded = format!("{method} {path} {version}\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let name = line
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if matches!(
            name.as_str(),
            "proxy-connection" | "proxy-authorization" | "connection" | "keep-alive"
        ) {
            continue;
        }
        forwarded.push_str(line);
        forwarded.push_str("\r\n");
    }
    forwarded.push_str("Connection: close\r\n\r\n");
    if upstream.write_all(forwarded.as_bytes()).await.is_err()
        || (!rest.is_empty() && upstream.write_all(&rest).await.is_err())
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_split_into_host_and_port() {
        assert_eq!(
            host_port("example.com:8443", 443).unwrap(),
            ("example.com".into(), 8443)
        );
        assert_eq!(
            host_port("example.com", 80).unwrap(),
            ("example.com".into(), 80)
        );
        assert_eq!(host_port("[::1]:9", 80).unwrap(), ("::1".into(), 9));
        assert!(host_port("example.com:http", 80).is_err());
    }
}
