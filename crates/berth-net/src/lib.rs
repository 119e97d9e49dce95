//! Egress policy for connections a tenant chooses (model-card URLs, MCP servers, `web_fetch`,
//! sandboxes' traffic).
//!
//! Such a URL could point at the server's own loopback services, the cloud metadata endpoint or
//! a private network. The policy refuses loopback, private, link-local, CGNAT and other
//! non-public addresses unless the operator allows them: in `BERTH_ALLOW_PRIVATE_EGRESS` for the
//! server's own connections, in `BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS` for what agents drive
//! (comma-separated hosts or CIDRs). Two settings, because an address the operator opens for a
//! model card must not open to every agent. The sandboxes' policy also keeps the host's own
//! addresses closed unless one is named exactly. It is enforced where connections are made: clients built by
//! [`EgressPolicy::client_builder`] resolve names through the policy, so a name that resolves to
//! a private address (or is re-pointed there later) is refused at connect time, and every
//! redirect hop is checked too.

mod cidr;
mod local;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub use cidr::Cidr;
pub use local::{host_addresses, is_host_address};

/// The setting that opens non-public destinations to the server's own connections.
pub const SERVER_SETTING: &str = "BERTH_ALLOW_PRIVATE_EGRESS";
/// The setting that opens them to sandboxes (and the tools agents drive, like `web_fetch`).
pub const SANDBOX_SETTING: &str = "BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS";

/// Most redirects a policed client follows.
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("{0} is not a valid URL")]
    InvalidUrl(String),
    #[error("only http and https URLs are allowed, not {0}")]
    Scheme(String),
    #[error(
        "{host} resolves to {addr}, a loopback, private or link-local address; the operator can \
         allow it with {setting}"
    )]
    Private {
        host: String,
        addr: IpAddr,
        setting: &'static str,
    },
    #[error(
        "{host} resolves to {addr}, an address of the Berth host itself; only an operator \
         naming that very address in {SANDBOX_SETTING} opens it"
    )]
    HostAddress { host: String, addr: IpAddr },
    #[error("cannot resolve {host}: {message}")]
    Resolve { host: String, message: String },
    #[error("invalid {setting} entry \"{entry}\": use a host name, an IP address or a CIDR")]
    InvalidAllowEntry {
        entry: String,
        setting: &'static str,
    },
}

/// One entry of the operator's allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Allowed {
    Host(String),
    Network(Cidr),
}

/// Which non-public destinations tenants may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressPolicy {
    allowed: Vec<Allowed>,
    /// The setting the operator changes to open more (named in refusals).
    setting: &'static str,
    /// Whether the host's own addresses stay closed unless an entry names them exactly
    /// (sandboxes), or follow the other rules (the server's own connections).
    guard_host: bool,
}

impl Default for EgressPolicy {
    fn default() -> Self {
        Self {
            allowed: Vec::new(),
            setting: SERVER_SETTING,
            guard_host: false,
        }
    }
}

impl EgressPolicy {
    /// Parses `BERTH_ALLOW_PRIVATE_EGRESS` (e.g. `127.0.0.0/8,10.0.0.5,models.internal`): the
    /// server's own connections to tenant-chosen URLs (model cards, MCP servers).
    pub fn parse(spec: &str) -> Result<Self, EgressError> {
        Ok(Self {
            allowed: parse_allowed(spec, SERVER_SETTING)?,
            ..Self::default()
        })
    }

    /// Parses `BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS`: what sandboxes and agent-driven tools may
    /// reach besides the public internet. The host's own addresses are refused unless an entry
    /// names one exactly (an address, or a `/32` or `/128`), whatever ranges are opened.
    pub fn for_sandboxes(spec: &str) -> Result<Self, EgressError> {
        Ok(Self {
            allowed: parse_allowed(spec, SANDBOX_SETTING)?,
            setting: SANDBOX_SETTING,
            guard_host: true,
        })
    }

    /// The sandboxes' policy when the operator opens nothing: public addresses only, never the
    /// host's own.
    pub fn sandboxes_closed() -> Self {
        Self {
            allowed: Vec::new(),
            setting: SANDBOX_SETTING,
            guard_host: true,
        }
    }

    /// The same policy, judging sandboxes' connections: the host's own addresses stay closed
    /// unless named exactly.
    pub fn guarding_the_host(mut self) -> Self {
        self.guard_host = true;
        self
    }

    /// Whether an entry names this very address.
    fn names_exactly(&self, addr: IpAddr) -> bool {
        self.allowed
            .iter()
            .any(|a| matches!(a, Allowed::Network(n) if n.is_single() && n.contains(addr)))
    }
}

fn parse_allowed(spec: &str, setting: &'static str) -> Result<Vec<Allowed>, EgressError> {
    {
        let mut allowed = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(cidr) = entry.parse::<Cidr>() {
                allowed.push(Allowed::Network(cidr));
            } else if entry
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                allowed.push(Allowed::Host(entry.to_ascii_lowercase()));
            } else {
                return Err(EgressError::InvalidAllowEntry {
                    entry: entry.to_owned(),
                    setting,
                });
            }
        }
        Ok(allowed)
    }
}

impl EgressPolicy {
    /// A policy that allows everything (for the operator's own configured endpoints).
    pub fn allow_all() -> Self {
        Self {
            allowed: vec![
                Allowed::Network(Cidr::ALL_V4),
                Allowed::Network(Cidr::ALL_V6),
            ],
            ..Self::default()
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed
            .iter()
            .any(|a| matches!(a, Allowed::Host(h) if *h == host))
    }

    /// Why `addr` (for `host`) is refused, if it is.
    fn refusal(&self, host: &str, addr: IpAddr) -> Option<EgressError> {
        if self.guard_host && is_host_address(addr) && !self.names_exactly(addr) {
            return Some(EgressError::HostAddress {
                host: host.to_owned(),
                addr,
            });
        }
        (!self.addr_allowed(host, addr)).then(|| EgressError::Private {
            host: host.to_owned(),
            addr,
            setting: self.setting,
        })
    }

    fn addr_allowed(&self, host: &str, addr: IpAddr) -> bool {
        is_public(addr)
            || self.host_allowed(host)
            || self
                .allowed
                .iter()
                .any(|a| matches!(a, Allowed::Network(n) if n.contains(addr)))
    }

    /// Checks a URL's scheme and, if its host is an IP address, that address. Names are checked
    /// when they are resolved (see [`EgressPolicy::client_builder`]).
    pub fn check_url(&self, url: &str) -> Result<reqwest::Url, EgressError> {
        let parsed =
            reqwest::Url::parse(url).map_err(|_| EgressError::InvalidUrl(url.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(EgressError::Scheme(parsed.scheme().to_owned()));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| EgressError::InvalidUrl(url.to_owned()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        if let Ok(addr) = host.parse::<IpAddr>()
            && let Some(refusal) = self.refusal(&host, addr)
        {
            return Err(refusal);
        }
        Ok(parsed)
    }

    /// Resolves a URL's host and checks every address (for callers that connect themselves).
    pub async fn resolve(&self, url: &str) -> Result<Vec<SocketAddr>, EgressError> {
        let parsed = self.check_url(url)?;
        let host = parsed.host_str().unwrap_or_default().to_owned();
        let port = parsed.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> =
            tokio::net::lookup_host((host.trim_start_matches('[').trim_end_matches(']'), port))
                .await
                .map_err(|e| EgressError::Resolve {
                    host: host.clone(),
                    message: e.to_string(),
                })?
                .collect();
        self.filter(&host, addrs)
    }

    fn filter(&self, host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, EgressError> {
        // Refuse the name outright if any address is refused: a name that mixes public and
        // private addresses is how rebinding attacks start.
        if let Some(refusal) = addrs.iter().find_map(|a| self.refusal(host, a.ip())) {
            return Err(refusal);
        }
        if addrs.is_empty() {
            return Err(EgressError::Resolve {
                host: host.to_owned(),
                message: "no addresses".to_owned(),
            });
        }
        Ok(addrs)
    }

    /// A client builder whose name resolution and redirects obey this policy.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let policy = Arc::new(self.clone());
        let redirect_policy = Arc::clone(&policy);
        reqwest::Client::builder()
            .dns_resolver(Arc::new(PolicedResolver { policy }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match redirect_policy.check_url(attempt.url().as_str()) {
                    Ok(_) => attempt.follow(),
                    Err(e) => attempt.error(e),
                }
            }))
    }
}

/// A client that applies the policy to every request it makes: literal addresses before the
/// request, names at resolution, and every redirect hop.
#[derive(Clone)]
pub struct PolicedClient {
    client: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

impl PolicedClient {
    pub fn new(
        policy: EgressPolicy,
        configure: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<Self, reqwest::Error> {
        let client = configure(policy.client_builder()).build()?;
        Ok(Self {
            client,
            policy: Arc::new(policy),
        })
    }

    /// A request to `url`, refused up front if its host is a forbidden literal address.
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, EgressError> {
        let url = self.policy.check_url(url)?;
        Ok(self.client.request(method, url))
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }
}

struct PolicedResolver {
    policy: Arc<EgressPolicy>,
}

impl reqwest::dns::Resolve for PolicedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?
                .collect();
            let addrs = policy
                .filter(&host, addrs)
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether an address is on the public internet.
pub fn is_public(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                // 100.64.0.0/10: carrier-grade NAT, used for internal networks.
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                // 192.0.0.0/24 (IETF protocol assignments) and 198.18.0.0/15 (benchmarking).
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                // fc00::/7 unique local, fe80::/10 link local, 2001:db8::/32 documentation.
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                // 64:ff9b::/96 NAT64 could reach private IPv4 space.
                || (s[0] == 0x0064 && s[1] == 0xff9b))
        }
    }
}

#[cfg(test)]
mod tests;
