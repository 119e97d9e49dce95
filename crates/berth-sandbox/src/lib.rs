//! Per-session sandboxes.
//!
//! Each session gets a directory (`workspace`, `outputs`, `tmp`) and, while it is in use, a
//! private network namespace whose only exit is an egress proxy in the server. Every command
//! runs in a fresh bubblewrap sandbox inside that namespace, as an unprivileged user of its own,
//! under resource limits, in its own process group, killed whole on timeout or interrupt. A
//! sandbox holds nothing while idle: [`Sandboxes::reap_idle`] drops the namespace and proxy of
//! sessions not used for a while; the next command builds them again.
//!
//! Secrets ([`InjectedSecret`]) reach commands only as placeholders; the proxy puts the real
//! values into requests to the hosts each secret allows, reading HTTPS through a CA of this
//! installation that only sandboxes trust.
//!
//! A sandbox's own files can follow its session to another replica: [`snapshot`] packs
//! `workspace` and `outputs` into one archive and restores one without writing outside the
//! sandbox's directory.
//!
//! Without bubblewrap, commands fail with a clear error. `Isolation::Unsafe` (development only)
//! runs commands directly on the host in the workspace directory.

mod bwrap;
mod cgroups;
mod confine;
pub mod disk;
mod exec;
mod launch;
mod limits;
mod netns;
pub mod paths;
pub mod seccomp;
mod settings;
mod setup;
pub mod snapshot;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use nix::unistd::{Gid, Uid};
use tokio_util::sync::CancellationToken;

pub use berth_egress::hosts;
pub use berth_egress::{
    HostRules, InjectedSecret, PLACEHOLDER_PREFIX, SANDBOX_CA_BUNDLE, SANDBOX_CA_CERT, SecretError,
    new_placeholder,
};
pub use cgroups::{LimitHit, SessionResources};
pub use confine::{FileView, is_read_only};
pub use disk::DiskAllowance;
pub use exec::{Ended, ExecRequest, ExecResult, MAX_OUTPUT_BYTES};
pub use limits::Limits;
pub use paths::{Access, ExtraMount, PathError, Resolved, SandboxDirs};
pub use settings::{Isolation, SandboxSettings, find_bubblewrap};

use berth_egress::{EgressRules, Interception, ProxyState, SharedSecrets};
use netns::NetNamespace;
use setup::{interception, prepare_dirs, session_cgroups};

/// Sandboxes' users are taken from this range, one per live session (allocated by the caller,
/// who keeps them apart: no two live sessions share a user), so the process limit and file
/// permissions keep each session apart.
pub const SANDBOX_UIDS: std::ops::Range<u32> = 200_000..250_000;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox is unavailable: {0}")]
    Unavailable(String),
    #[error("cannot prepare the sandbox: {0}")]
    Setup(String),
    #[error("cannot start the command: {0}")]
    Spawn(String),
    #[error("invalid secrets: {0}")]
    Secrets(#[from] SecretError),
}

/// What the machine lets sandboxes have, found once at start.
#[derive(Debug, Clone)]
struct Capabilities {
    /// Why commands cannot run, if they cannot.
    unavailable: Option<String>,
    /// Running as root: per-session users, process limits and network namespaces.
    privileged: bool,
    /// The control groups sessions get, when the host offers them.
    cgroups: Option<cgroups::Cgroups>,
}

/// The network a sandbox gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkAccess {
    /// Outbound HTTP(S) through the proxy to the hosts these rules allow.
    Proxied(HostRules),
}

/// All sandboxes of this process.
pub struct Sandboxes {
    settings: SandboxSettings,
    capabilities: Capabilities,
    /// `None` without network namespaces, or when the CA could not be set up (secrets then
    /// never go out over TLS).
    interception: Option<Arc<Interception>>,
    /// The system-call filter every command runs under ([`seccomp`]).
    seccomp: Arc<[u8]>,
    live: Mutex<HashMap<String, Arc<Sandbox>>>,
}

impl Sandboxes {
    /// Checks what the machine supports; never fails, but records why sandboxes cannot run.
    pub fn new(settings: SandboxSettings) -> Self {
        let privileged = Uid::effective().is_root();
        let unavailable = match &settings.isolation {
            Isolation::Unsafe => {
                tracing::error!(
                    "--unsafe-no-sandbox: agent commands run directly on this host WITHOUT ANY \
                     ISOLATION; use this for development only"
                );
                None
            }
            Isolation::Bubblewrap(path) if !path.is_file() => Some(format!(
                "bubblewrap is not installed ({} not found); install it, e.g. `apt-get install \
                 bubblewrap`",
                path.display()
            )),
            Isolation::Bubblewrap(_) if privileged && !Path::new(bwrap::SETPRIV).is_file() => {
                Some(format!(
                    "{} (util-linux) is needed to run sandboxed commands as their own user",
                    bwrap::SETPRIV
                ))
            }
            Isolation::Bubblewrap(_) => None,
        };
        if let Some(reason) = &unavailable {
            tracing::error!(%reason, "sandboxed tools will fail");
        } else if !privileged && matches!(settings.isolation, Isolation::Bubblewrap(_)) {
            tracing::warn!(
                "not running as root: sandboxes get no network and share one user, so the \
                 per-session process limit is not applied"
            );
        }
        let proxied = privileged
            && unavailable.is_none()
            && matches!(settings.isolation, Isolation::Bubblewrap(_));
        let interception = proxied.then(|| interception(&settings)).flatten();
        let cgroups = (proxied && settings.session_cgroups)
            .then(|| session_cgroups(&settings))
            .flatten();
        Self {
            settings,
            capabilities: Capabilities {
                unavailable,
                privileged,
                cgroups,
            },
            interception,
            seccomp: seccomp::filter_bytes().into(),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// The certificate (PEM) of the CA sandboxes trust for intercepted HTTPS, if there is one.
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.interception.as_ref().map(|i| i.ca().cert_pem())
    }

    pub fn settings(&self) -> &SandboxSettings {
        &self.settings
    }

    /// The directories of a session's sandbox (they may not exist yet).
    pub fn dirs(&self, session_id: &str) -> SandboxDirs {
        SandboxDirs::new(
            self.settings.root.join(session_id),
            self.settings.hidden.clone(),
        )
    }

    /// The session's sandbox, created if needed, with its network set to `network`. `uid` is
    /// the session's own user (and group) in [`SANDBOX_UIDS`], used when the server runs as
    /// root; the caller guarantees that no other live session has it.
    pub fn open(
        &self,
        session_id: &str,
        uid: u32,
        network: NetworkAccess,
    ) -> Result<Arc<Sandbox>, SandboxError> {
        if let Some(reason) = &self.capabilities.unavailable {
            return Err(SandboxError::Unavailable(reason.clone()));
        }
        if !SANDBOX_UIDS.contains(&uid) {
            return Err(SandboxError::Setup(format!(
                "user {uid} is outside the sandbox range {}..{}",
                SANDBOX_UIDS.start, SANDBOX_UIDS.end
            )));
        }
        let NetworkAccess::Proxied(hosts) = network;
        let rules = EgressRules {
            hosts,
            policy: self.settings.egress.clone().guarding_the_host(),
            loopback_ports: self.settings.loopback_ports.clone(),
        };
        let mut live = self
            .live
            .lock()
            .map_err(|_| SandboxError::Setup("sandbox registry poisoned".into()))?;
        if let Some(existing) = live.get(session_id)
            && existing.identity.is_none_or(|(u, _)| u.as_raw() == uid)
        {
            existing.touch();
            if let Ok(mut current) = existing.rules.write() {
                *current = rules;
            }
            return Ok(Arc::clone(existing));
        }
        let sandbox = Arc::new(Sandbox::create(self, session_id, uid, rules)?);
        live.insert(session_id.to_owned(), Arc::clone(&sandbox));
        Ok(sandbox)
    }

    /// Drops the namespace and proxy of sandboxes unused for `idle_ttl` (their files stay).
    pub fn reap_idle(&self) -> usize {
        let Ok(mut live) = self.live.lock() else {
            return 0;
        };
        let before = live.len();
        let ttl = self.settings.idle_ttl;
        live.retain(|_, s| s.idle_for() < ttl || s.busy());
        before - live.len()
    }

    /// Sandboxes holding a namespace now.
    pub fn live_count(&self) -> usize {
        self.live.lock().map(|l| l.len()).unwrap_or(0)
    }

    /// Removes a session's sandbox and its files.
    pub fn remove(&self, session_id: &str) {
        if let Ok(mut live) = self.live.lock() {
            live.remove(session_id);
        }
        let dirs = self.dirs(session_id);
        if dirs.root.exists()
            && let Err(e) = std::fs::remove_dir_all(&dirs.root)
        {
            tracing::warn!(session_id, error = %e, "cannot remove the sandbox's files");
        }
    }
}

/// One session's sandbox.
pub struct Sandbox {
    isolation: Isolation,
    limits: Limits,
    dirs: RwLock<SandboxDirs>,
    /// The sandbox's own user (when the server runs as root).
    identity: Option<(Uid, Gid)>,
    network: Option<NetNamespace>,
    rules: Arc<RwLock<EgressRules>>,
    secrets: SharedSecrets,
    /// The CA files bound into the sandbox, when its proxy intercepts.
    trust: Option<TrustFiles>,
    stop_proxy: CancellationToken,
    last_used: Mutex<Instant>,
    running: std::sync::atomic::AtomicUsize,
    /// The process keeping the file tools' view (see [`confine`]), started on first use.
    holder: tokio::sync::Mutex<Option<confine::Holder>>,
    seccomp: Arc<[u8]>,
    /// The session's control group (memory, CPU, processes), when the host has them.
    cgroup: Option<cgroups::SessionCgroup>,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_proxy.cancel();
    }
}

/// Marks a sandbox busy (so it is not reaped) while it lives.
pub(crate) struct BusyGuard<'a>(&'a Sandbox);

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0
            .running
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.0.touch();
    }
}

impl Sandbox {
    fn create(
        owner: &Sandboxes,
        session_id: &str,
        uid: u32,
        rules: EgressRules,
    ) -> Result<Self, SandboxError> {
        let dirs = owner.dirs(session_id);
        let privileged = owner.capabilities.privileged;
        let identity = privileged.then(|| (Uid::from_raw(uid), Gid::from_raw(uid)));
        prepare_dirs(&dirs, identity)?;
        let rules = Arc::new(RwLock::new(rules));
        let secrets = SharedSecrets::default();
        let stop_proxy = CancellationToken::new();
        let network = if privileged && matches!(owner.settings.isolation, Isolation::Bubblewrap(_))
        {
            match NetNamespace::create() {
                Ok((namespace, listener)) => {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .map_err(|e| SandboxError::Setup(format!("proxy listener: {e}")))?;
                    let state = ProxyState {
                        rules: Arc::clone(&rules),
                        secrets: secrets.clone(),
                        interception: owner.interception.clone(),
                    };
                    tokio::spawn(berth_egress::serve(listener, state, stop_proxy.clone()));
                    Some(namespace)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot create a network namespace; the sandbox has no network");
                    None
                }
            }
        } else {
            None
        };
        Ok(Self {
            isolation: owner.settings.isolation.clone(),
            limits: owner.settings.limits,
            dirs: RwLock::new(dirs),
            identity,
            trust: network
                .as_ref()
                .and(owner.interception.as_ref())
                .map(|i| TrustFiles {
                    bundle: i.ca().bundle_path().to_owned(),
                    ca_cert: i.ca().cert_path().to_owned(),
                }),
            network,
            rules,
            secrets,
            stop_proxy,
            last_used: Mutex::new(Instant::now()),
            running: std::sync::atomic::AtomicUsize::new(0),
            holder: tokio::sync::Mutex::new(None),
            seccomp: Arc::clone(&owner.seccomp),
            cgroup: match &owner.capabilities.cgroups {
                Some(groups) => Some(
                    groups
                        .create(session_id, &owner.settings.limits.session)
                        .map_err(|e| SandboxError::Setup(format!("control group: {e}")))?,
                ),
                None => None,
            },
        })
    }

    pub(crate) fn busy_guard(&self) -> BusyGuard<'_> {
        self.touch();
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        BusyGuard(self)
    }

    /// The sandbox's directories and read-only mounts, as of now.
    pub fn dirs(&self) -> SandboxDirs {
        self.dirs
            .read()
            .map(|d| d.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Replaces the read-only binds (most specific first) for the next commands and file tools.
    pub fn set_extra_mounts(&self, mut mounts: Vec<ExtraMount>) {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.sandbox.len()));
        match self.dirs.write() {
            Ok(mut dirs) => dirs.extra = mounts,
            Err(e) => e.into_inner().extra = mounts,
        }
    }

    /// The user (uid, gid) that owns the sandbox's files, when the server runs as root; files
    /// the server writes for the sandbox must be handed to it.
    pub fn owner(&self) -> Option<(u32, u32)> {
        self.identity.map(|(u, g)| (u.as_raw(), g.as_raw()))
    }

    /// The directories of the session's control groups (one per hierarchy; none without
    /// control groups), for operators and tests.
    pub fn control_groups(&self) -> Vec<PathBuf> {
        self.cgroup.as_ref().map(|g| g.dirs()).unwrap_or_default()
    }

    /// Whether commands can reach the network (through the proxy).
    pub fn has_network(&self) -> bool {
        self.network.is_some()
    }

    /// Replaces the sandbox's secrets: the next commands see their placeholders, and the
    /// proxy substitutes them from its next request on. A sandbox reaped while idle comes
    /// back without secrets: set them after every [`Sandboxes::open`], like the read-only
    /// mounts.
    pub fn set_secrets(&self, secrets: Vec<InjectedSecret>) -> Result<(), SandboxError> {
        berth_egress::validate(&secrets)?;
        self.secrets.replace(secrets);
        Ok(())
    }

    /// Whether secrets reach HTTPS destinations too (the proxy intercepts TLS); plain HTTP
    /// gets them whenever the sandbox has network.
    pub fn intercepts_tls(&self) -> bool {
        self.trust.is_some()
    }

    fn touch(&self) {
        if let Ok(mut t) = self.last_used.lock() {
            *t = Instant::now();
        }
    }

    fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    fn busy(&self) -> bool {
        self.running.load(std::sync::atomic::Ordering::Relaxed) > 0
    }
}

/// The host paths of the CA files a sandbox trusts.
#[derive(Debug, Clone)]
struct TrustFiles {
    bundle: PathBuf,
    ca_cert: PathBuf,
}
