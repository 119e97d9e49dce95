//! The egress proxy a sandbox reaches at `127.0.0.1:3128` inside its namespace
//! (`HTTP_PROXY`/`HTTPS_PROXY` point there). It serves HTTP/1.1 with hyper, one request per
//! connection: `CONNECT host:port` for TLS and absolute-form requests (`GET http://host/…`) for
//! plain HTTP; anything else is refused. Requests are parsed by hyper and written to their
//! destination from the parsed form, never passed on as raw bytes, so no head reaches a
//! destination in a form the proxy did not read. Every destination is
//! checked twice: the host against the environment's rules, and every address it resolves to
//! against the sandboxes' egress policy (`BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS`, apart from the
//! server's own), with loopback refused outright (but for the loopback ports the operator
//! opened) and every other address of the host refused unless the operator named it exactly,
//! so no sandbox reaches the host's own services whatever the settings. Refusals answer with
//! the reason.
//!
//! Requests that may carry the sandbox's secrets (see [`crate::secrets`]) get them here: plain
//! HTTP directly, TLS by interception ([`crate::intercept`]); tunnels to other hosts stay blind.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use berth_net::{EgressError, EgressPolicy};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::body::{ProxyBody, empty};
use crate::forward;
use crate::hosts::HostRules;
use crate::intercept::Interception;
use crate::refusal::Refusal;
use crate::secrets::SharedSecrets;
use crate::serving::one_request_server;

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
                () = serve_connection(client, rules, state) => {}
            }
        });
    }
}

/// Serves one sandbox connection: one request, then it closes.
pub(crate) async fn serve_connection<C>(client: C, rules: EgressRules, state: ProxyState)
where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let rules = Arc::new(rules);
    let service = service_fn(move |request| {
        let rules = Arc::clone(&rules);
        let state = state.clone();
        async move { Ok::<_, Infallible>(route(request, &rules, &state).await) }
    });
    let served = one_request_server()
        .serve_connection(TokioIo::new(client), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        tracing::debug!(error = %e, "sandbox proxy connection ended");
    }
}

async fn route(
    request: Request<Incoming>,
    rules: &EgressRules,
    state: &ProxyState,
) -> Response<ProxyBody> {
    let result = if request.method() == Method::CONNECT {
        tunnel(request, rules, state).await
    } else {
        plain_http(request, rules, state).await
    };
    result.unwrap_or_else(|refusal| refusal.response())
}

/// `CONNECT host:port`: checks and opens the destination, answers `200`, then relays the
/// tunnel — intercepted when a secret applies to the host, blind otherwise.
async fn tunnel(
    request: Request<Incoming>,
    rules: &EgressRules,
    state: &ProxyState,
) -> Result<Response<ProxyBody>, Refusal> {
    // Authority form only (RFC 9110 §9.3.6): `host:port`, no scheme, no path.
    let uri = request.uri();
    let authority = match uri.authority() {
        Some(authority) if uri.scheme().is_none() && uri.path_and_query().is_none() => {
            authority.as_str().to_owned()
        }
        _ => {
            return Err(Refusal::BadRequest(format!(
                "CONNECT takes host:port, not \"{uri}\""
            )));
        }
    };
    let (host, port) = host_port(&authority, 443)?;
    let upstream = connect(rules, &host, port).await?;
    let interception = match &state.interception {
        Some(interception) if state.secrets.current().iter().any(|s| s.applies_to(&host)) => {
            Some((Arc::clone(interception), interception.certificate(&host)?))
        }
        _ => None,
    };
    let secrets = state.secrets.clone();
    tokio::spawn(async move {
        let client = match hyper::upgrade::on(request).await {
            Ok(upgraded) => TokioIo::new(upgraded),
            Err(e) => {
                tracing::debug!(error = %e, "the sandbox left before its tunnel opened");
                return;
            }
        };
        match interception {
            Some((interception, certificate)) => {
                interception
                    .tunnel(certificate, client, upstream, host, secrets)
                    .await;
            }
            None => blind_tunnel(client, upstream).await,
        }
    });
    Ok(Response::new(empty()))
}

/// An absolute-form request (`GET http://host/path`): checked, then forwarded in origin form.
async fn plain_http(
    mut request: Request<Incoming>,
    rules: &EgressRules,
    state: &ProxyState,
) -> Result<Response<ProxyBody>, Refusal> {
    let uri = request.uri().clone();
    let authority = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) if scheme.eq_ignore_ascii_case("http") => authority,
        _ => {
            return Err(Refusal::BadRequest(format!(
                "only CONNECT and absolute http:// requests are proxied, not \"{} {uri}\"",
                request.method()
            )));
        }
    };
    let (host, port) = host_port(authority.as_str(), 80)?;
    let upstream = connect(rules, &host, port).await?;
    let origin_form = uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .parse::<Uri>()
        .map_err(|e| Refusal::BadRequest(format!("invalid request target: {e}")))?;
    *request.uri_mut() = origin_form;
    let secrets = state.secrets.current();
    Ok(forward::exchange(request, upstream, host, secrets).await)
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

/// Relays a tunnel without looking inside.
async fn blind_tunnel<C>(mut client: C, mut upstream: TcpStream)
where
    C: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[cfg(test)]
mod properties;

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
