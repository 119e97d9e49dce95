//! What the operator decides about sandboxes: where they live, how they are isolated, their
//! limits, and what their egress proxy may reach and trust.

use std::path::PathBuf;
use std::time::Duration;

use berth_net::EgressPolicy;

use crate::limits::Limits;

/// How commands are isolated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Isolation {
    /// Bubblewrap at this path.
    Bubblewrap(PathBuf),
    /// No isolation at all: commands run on the host (`--unsafe-no-sandbox`, development only).
    Unsafe,
}

#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Where session directories live (`<data dir>/sandboxes`).
    pub root: PathBuf,
    pub isolation: Isolation,
    pub limits: Limits,
    /// Host paths no sandbox may see even when they sit inside a system directory.
    pub hidden: Vec<PathBuf>,
    /// What sandboxes may reach besides the public internet
    /// (`BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS`, apart from the server's own policy); loopback is
    /// refused anyway (see `loopback_ports`), and the host's other addresses unless named
    /// exactly.
    pub egress: EgressPolicy,
    /// Sandboxes unused this long give back their namespace and proxy.
    pub idle_ttl: Duration,
    /// Where the installation's interception CA lives (`<data dir>/sandbox-ca`): created on
    /// first start (key mode 0600), loaded afterwards. `None`: a CA for this process only,
    /// its key in memory and its certificates under `<root>/.berth-ca`.
    pub ca_dir: Option<PathBuf>,
    /// Certificate authorities (PEM, one or more certificates each) the proxy trusts for the
    /// destinations of intercepted requests besides the Mozilla roots: a corporate CA, or a
    /// test CA.
    pub upstream_roots_pem: Vec<String>,
    /// Loopback ports of this host the proxy may reach, for a local gateway or tests; empty
    /// by default. Every other loopback destination stays refused.
    pub loopback_ports: Vec<u16>,
    /// Whether sessions get control groups (memory, CPU, processes together) where the host
    /// offers them. Off, only the per-process limits hold.
    pub session_cgroups: bool,
}

impl SandboxSettings {
    pub fn new(root: PathBuf, isolation: Isolation) -> Self {
        Self {
            root,
            isolation,
            limits: Limits::default(),
            hidden: Vec::new(),
            egress: EgressPolicy::default(),
            idle_ttl: Duration::from_secs(300),
            ca_dir: None,
            upstream_roots_pem: Vec::new(),
            loopback_ports: Vec::new(),
            session_cgroups: true,
        }
    }
}

/// Where bubblewrap is, if it is installed.
pub fn find_bubblewrap() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/bin".into(), "/usr/local/bin".into(), "/bin".into()])
        .map(|dir| dir.join("bwrap"))
        .find(|candidate| candidate.is_file())
}
