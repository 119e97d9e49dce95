//! The egress proxy a sandbox reaches at `127.0.0.1:3128` inside its namespace
//! (`HTTP_PROXY`/`HTTPS_PROXY` point there). It speaks just enough HTTP: `CONNECT host:port`
//! for TLS and absolute-form requests (`GET http://host/…`) for plain HTTP. Every destination is
//! checked twice: the host against the environment's rules, and every address it resolves to
//! against the sandboxes' egress policy (`BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS`, apart from the
//! server's own), with loopback refused outright (but for the loopback ports the operator
//! opened) and every other address of the host refused unless the operator named it exactly,
//! so no sandbox reaches the host's own services whatever the settings. Refusals answer with
//! the reason.
//!
//! Requests that may carry the sandbox's secrets (see [`crate::secrets`]) get them here: plain
//! HTTP directly, TLS by interception ([`crate::intercept`]); tunnels to other hosts stay blind.

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use berth_net::{EgressError, EgressPolicy};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::forward;
use crate::hosts::HostRules;
use crate::http1::{Head, Reader};
use crate::intercept::Interception;
use crate::refusal::{Refusal, refuse};
use crate::secrets::SharedSecrets;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What a sandbox may reach; replaced when its environment's networking changes.
#[derive(Debug, Clone)]
pub struct EgressRules {
    pub hosts: HostRules,
    pub policy: EgressPolicy,
    /// Loopback ports the operator opened (a local gateway, tests); all others are refused.
    pub loopback_ports: Vec<u16>,
}

/// Everything one sandbox's proxy works with.
#[derive(Clone)]
pub struct ProxyState {
    pub rules: Arc<RwLock<EgressRules>>,
    pub secrets: SharedSecrets,
    /// `None` when the CA could not be set up: every tunnel is blind, no secret goes over TLS.
    pub interception: Option<Arc<Interception>>,
}

/// Accepts proxy connections until `stop` fires.
pub async fn serve(listener: TcpListener, state: ProxyState, stop: CancellationToken) {
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
        let rules = state.rules.read().map(|r| r.clone());
        let Ok(rules) = rules else {
            return;
        };
        let state = state.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = handle(client, rules, state) => {}
            }
        });
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

/// The addresses to connect to for `host:port`, after the egress checks.
async fn resolve(rules: &EgressRules, host: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
    if rules.loopback_ports.contains(&port) {
        // An opened loopback port: a name that resolves to loopback only goes there (the
        // egress policy is for other networks); anything else takes the usual checks.
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map(Iterator::collect)
            .unwrap_or_default();
        if !addrs.is_empty() && addrs.iter().all(|a| a.ip().to_canonical().is_loopback()) {
            return Ok(addrs);
        }
    }
    let url = match host.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("http://[{v6}]:{port}/"),
        _ => format!("http://{host}:{port}/"),
    };
    let addrs: Vec<SocketAddr> = rules.policy.resolve(&url).await.map_err(|e| match e {
        EgressError::Private { host, addr, .. } | EgressError::HostAddress { host, addr }
            if addr.to_canonical().is_loopback() =>
        {
            Refusal::Loopback { host, addr }
        }
        e => Refusal::Egress(e),
    })?;
    if let Some(addr) = addrs.iter().find(|a| {
        let ip = a.ip().to_canonical();
        ip.is_loopback() || ip.is_unspecified()
    }) {
        return Err(Refusal::Loopback {
            host: host.to_owned(),
            addr: addr.ip(),
        });
    }
    Ok(addrs)
}

/// Checks a destination and connects to it.
async fn connect(rules: &EgressRules, host: &str, port: u16) -> Result<TcpStream, Refusal> {
    if !rules.hosts.allows(host) {
        return Err(Refusal::HostNotAllowed {
            host: host.to_owned(),
            allowed: rules.hosts.describe(),
        });
    }
    let addrs = resolve(rules, host, port).await?;
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

async fn handle(client: TcpStream, rules: EgressRules, state: ProxyState) {
    let mut client = Reader::new(client);
    let head = match client.read_head().await.and_then(|raw| Head::parse(&raw)) {
        Ok(h) => h,
        Err(e) => return refuse(client.get_mut(), &Refusal::from(e)).await,
    };
    let (method, target, version) = head.request_line();
    if method.eq_ignore_ascii_case("CONNECT") {
        let destination = match host_port(target, 443) {
            Ok((host, port)) => connect(&rules, &host, port)
                .await
                .map(|upstream| (host, upstream)),
            Err(refusal) => Err(refusal),
        };
        let (host, upstream) = match destination {
            Ok(d) => d,
            Err(refusal) => return refuse(client.get_mut(), &refusal).await,
        };
        let (client, rest) = client.into_parts();
        if let Some(interception) = &state.interception
            && state.secrets.current().iter().any(|s| s.applies_to(&host))
        {
            if !rest.is_empty() {
                let mut client = client;
                let refusal =
                    Refusal::BadRequest("data was sent before the tunnel was established".into());
                return refuse(&mut client, &refusal).await;
            }
            return interception
                .tunnel(client, upstream, &host, &state.secrets)
                .await;
        }
        return blind_tunnel(client, upstream, &rest).await;
    }
    let Some(after_scheme) = target.strip_prefix("http://") else {
        let refusal = Refusal::BadRequest(format!(
            "only CONNECT and absolute http:// requests are proxied, not \"{method} {target}\""
        ));
        return refuse(client.get_mut(), &refusal).await;
    };
    let (authority, path) = match after_scheme.find('/') {
        Some(i) => after_scheme.split_at(i),
        None => (after_scheme, "/"),
    };
    let destination = match host_port(authority, 80) {
        Ok((host, port)) => connect(&rules, &host, port)
            .await
            .map(|upstream| (host, upstream)),
        Err(refusal) => Err(refusal),
    };
    let (host, upstream) = match destination {
        Ok(d) => d,
        Err(refusal) => return refuse(client.get_mut(), &refusal).await,
    };
    // Forwarded in origin form.
    let start_line = format!("{method} {path} {version}");
    let mut head = head;
    head.start_line = start_line;
    let secrets = state.secrets.current();
    forward::exchange(client, head, upstream, &host, &secrets).await;
}

/// Relays a tunnel without looking inside.
async fn blind_tunnel(mut client: TcpStream, mut upstream: TcpStream, rest: &[u8]) {
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    if !rest.is_empty() && upstream.write_all(rest).await.is_err() {
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
