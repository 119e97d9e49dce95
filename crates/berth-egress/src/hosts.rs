//! Which hosts a sandbox may reach through the proxy, from the environment's `networking`.

/// Registries `allow_package_managers` opens: apt, pip, npm, cargo, go, gem.
pub const PACKAGE_REGISTRIES: &[&str] = &[
    "deb.debian.org",
    "security.debian.org",
    "archive.ubuntu.com",
    "security.ubuntu.com",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "registry.yarnpkg.com",
    "crates.io",
    "static.crates.io",
    "index.crates.io",
    "proxy.golang.org",
    "sum.golang.org",
    "rubygems.org",
    "index.rubygems.org",
];

/// The reachable hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRules {
    /// Any public host.
    Any,
    /// These hosts and their subdomains (`*.example.com` means the subdomains only).
    Only(Vec<String>),
}

/// A host as written in an allowlist: lower case, without scheme, path, port or trailing dot.
pub fn normalize_host(entry: &str) -> String {
    let entry = entry.trim();
    let entry = entry.split_once("://").map_or(entry, |(_, rest)| rest);
    let entry = entry.split(['/', '?', '#']).next().unwrap_or("");
    let host = match entry.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => entry.rsplit_once(':').map_or(entry, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                host
            } else {
                entry
            }
        }),
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

impl HostRules {
    /// Whether `host` may be reached.
    pub fn allows(&self, host: &str) -> bool {
        let host = normalize_host(host);
        match self {
            HostRules::Any => true,
            HostRules::Only(entries) => {
                entries.iter().any(|entry| match entry.strip_prefix("*.") {
                    Some(parent) => host.ends_with(&format!(".{parent}")),
                    None => host == *entry || host.ends_with(&format!(".{entry}")),
                })
            }
        }
    }

    /// The rules of a `limited` environment.
    pub fn limited(allowed_hosts: &[String], package_managers: bool, mcp_hosts: &[String]) -> Self {
        let mut entries: Vec<String> = allowed_hosts.iter().map(|h| normalize_host(h)).collect();
        if package_managers {
            entries.extend(PACKAGE_REGISTRIES.iter().map(|h| (*h).to_owned()));
        }
        entries.extend(mcp_hosts.iter().map(|h| normalize_host(h)));
        entries.retain(|e| !e.is_empty());
        HostRules::Only(entries)
    }

    /// A short description for refusal messages.
    pub fn describe(&self) -> String {
        match self {
            HostRules::Any => "any public host".to_owned(),
            HostRules::Only(entries) if entries.is_empty() => "no hosts".to_owned(),
            HostRules::Only(entries) => entries.join(", "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_match_exactly_or_as_subdomains() {
        let rules = HostRules::limited(
            &["https://API.example.com:443/x".into(), "*.cdn.net".into()],
            false,
            &[],
        );
        assert!(rules.allows("api.example.com"));
        assert!(rules.allows("eu.api.example.com"));
        assert!(!rules.allows("example.com"));
        assert!(!rules.allows("badapi.example.com"));
        assert!(rules.allows("a.cdn.net"));
        assert!(!rules.allows("cdn.net"));
        assert!(HostRules::limited(&[], true, &[]).allows("files.pythonhosted.org"));
        assert!(!HostRules::limited(&[], false, &[]).allows("pypi.org"));
    }
}
