//! Per-session sandboxes.
//!
//! Each session gets a directory (`workspace`, `outputs`, `tmp`) and, while it is in use, a
//! private network namespace whose only exit is an egress proxy in the server. Every command
//! runs in a fresh bubblewrap sandbox inside that namespace, as an unprivileged user of its own,
//! under resource limits, in its own process group, killed whole on timeout or interrupt. A
//! sandbox holds nothing while idle: [`Sandboxes::reap_idle`] drops the namespace and proxy of
//! sessions not used for a while; the next command builds them again.
//!
//! Without bubblewrap, commands fail with a clear error. `Isolation::Unsafe` (development only)
//! runs commands directly on the host in the workspace directory.

mod bwrap;
mod exec;
pub mod hosts;
mod limits;
mod netns;
pub mod paths;
mod proxy;

use std::collections::HashMap;
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use berth_net::EgressPolicy;
use nix::unistd::{Gid, Uid};
use tokio_util::sync::CancellationToken;

pub use exec::{Ended, ExecRequest, ExecResult, MAX_OUTPUT_BYTES};
pub use hosts::HostRules;
pub use limits::Limits;
pub use paths::{Access, PathError, ReadOnlyMount, Resolved, SandboxDirs};

use netns::{NetNamespace, PROXY_PORT};
use proxy::EgressRules;

/// Sandboxes' users are taken from this range, one per session (by a hash of its id), so the
/// process limit counts each session apart.
const FIRST_SANDBOX_UID: u32 = 200_000;
const SANDBOX_UIDS: u32 = 50_000;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("the sandbox is unavailable: {0}")]
    Unavailable(String),
    #[error("cannot prepare the sandbox: {0}")]
    Setup(String),
    #[error("cannot start the command: {0}")]
    Spawn(String),
}

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
    /// The operator's egress policy (`BERTH_ALLOW_PRIVATE_EGRESS`); loopback is refused anyway.
    pub egress: EgressPolicy,
    /// Sandboxes unused this long give back their namespace and proxy.
    pub idle_ttl: Duration,
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

/// What the machine lets sandboxes have, found once at start.
#[derive(Debug, Clone)]
struct Capabilities {
    /// Why commands cannot run, if they cannot.
    unavailable: Option<String>,
    /// Running as root: per-session users, process limits and network namespaces.
    privileged: bool,
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
        Self {
            settings,
            capabilities: Capabilities {
                unavailable,
                privileged,
            },
            live: Mutex::new(HashMap::new()),
        }
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

    /// The session's sandbox, created if needed, with its network set to `network`.
    pub fn open(
        &self,
        session_id: &str,
        network: NetworkAccess,
    ) -> Result<Arc<Sandbox>, SandboxError> {
        if let Some(reason) = &self.capabilities.unavailable {
            return Err(SandboxError::Unavailable(reason.clone()));
        }
        let NetworkAccess::Proxied(hosts) = network;
        let rules = EgressRules {
            hosts,
            policy: self.settings.egress.clone(),
        };
        let mut live = self
            .live
            .lock()
            .map_err(|_| SandboxError::Setup("sandbox registry poisoned".into()))?;
        if let Some(existing) = live.get(session_id) {
            existing.touch();
            if let Ok(mut current) = existing.rules.write() {
                *current = rules;
            }
            return Ok(Arc::clone(existing));
        }
        let sandbox = Arc::new(Sandbox::create(self, session_id, rules)?);
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
    stop_proxy: CancellationToken,
    last_used: Mutex<Instant>,
    running: std::sync::atomic::AtomicUsize,
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop_proxy.cancel();
    }
}

fn sandbox_uid(session_id: &str) -> u32 {
    // FNV-1a: stable across processes and versions.
    let hash = session_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    FIRST_SANDBOX_UID + (hash % u64::from(SANDBOX_UIDS)) as u32
}

impl Sandbox {
    fn create(
        owner: &Sandboxes,
        session_id: &str,
        rules: EgressRules,
    ) -> Result<Self, SandboxError> {
        let dirs = owner.dirs(session_id);
        let privileged = owner.capabilities.privileged;
        let identity = privileged.then(|| {
            let id = sandbox_uid(session_id);
            (Uid::from_raw(id), Gid::from_raw(id))
        });
        prepare_dirs(&dirs, identity)?;
        let rules = Arc::new(RwLock::new(rules));
        let stop_proxy = CancellationToken::new();
        let network = if privileged && matches!(owner.settings.isolation, Isolation::Bubblewrap(_))
        {
            match NetNamespace::create() {
                Ok((namespace, listener)) => {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .map_err(|e| SandboxError::Setup(format!("proxy listener: {e}")))?;
                    tokio::spawn(proxy::serve(
                        listener,
                        Arc::clone(&rules),
                        stop_proxy.clone(),
                    ));
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
            network,
            rules,
            stop_proxy,
            last_used: Mutex::new(Instant::now()),
            running: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// The sandbox's directories and read-only mounts, as of now.
    pub fn dirs(&self) -> SandboxDirs {
        self.dirs
            .read()
            .map(|d| d.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Replaces the read-only binds (most specific first) for the next commands and file tools.
    pub fn set_read_only(&self, mut mounts: Vec<ReadOnlyMount>) {
        mounts.sort_by_key(|m| std::cmp::Reverse(m.sandbox.len()));
        match self.dirs.write() {
            Ok(mut dirs) => dirs.read_only = mounts,
            Err(e) => e.into_inner().read_only = mounts,
        }
    }

    /// The user (uid, gid) that owns the sandbox's files, when the server runs as root; files
    /// the server writes for the sandbox must be handed to it.
    pub fn owner(&self) -> Option<(u32, u32)> {
        self.identity.map(|(u, g)| (u.as_raw(), g.as_raw()))
    }

    /// Whether commands can reach the network (through the proxy).
    pub fn has_network(&self) -> bool {
        self.network.is_some()
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

    /// The environment every command starts with.
    fn base_env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_owned(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_owned(),
            ),
            ("HOME".to_owned(), paths::WORKSPACE.to_owned()),
            ("LANG".to_owned(), "C.UTF-8".to_owned()),
            ("TERM".to_owned(), "dumb".to_owned()),
            ("TMPDIR".to_owned(), paths::TMP.to_owned()),
        ];
        if self.network.is_some() {
            let proxy = format!("http://127.0.0.1:{PROXY_PORT}");
            for name in [
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "http_proxy",
                "https_proxy",
                "ALL_PROXY",
                "all_proxy",
            ] {
                env.push((name.to_owned(), proxy.clone()));
            }
            env.push(("NO_PROXY".to_owned(), "localhost,127.0.0.1".to_owned()));
            env.push(("no_proxy".to_owned(), "localhost,127.0.0.1".to_owned()));
        }
        env
    }

    /// Runs one command; returns when it has ended one way or another.
    pub async fn exec(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecResult, SandboxError> {
        self.touch();
        self.running
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let result = self.exec_inner(request, cancel).await;
        self.running
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.touch();
        result
    }

    async fn exec_inner(
        &self,
        request: &ExecRequest,
        cancel: &CancellationToken,
    ) -> Result<ExecResult, SandboxError> {
        let spawn_error = |e: std::io::Error| SandboxError::Spawn(e.to_string());
        let dirs = self.dirs();
        let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
        let writer_err = writer.try_clone().map_err(spawn_error)?;
        let child = {
            let mut command = match &self.isolation {
                Isolation::Unsafe => {
                    let mut c = tokio::process::Command::new("/bin/sh");
                    c.arg("-c")
                        .arg(&request.command)
                        .current_dir(&dirs.workspace);
                    c
                }
                Isolation::Bubblewrap(bwrap) => {
                    let mounts = MountHandles::open(&dirs)?;
                    let plan = bwrap::Plan {
                        mounts: mounts.raw(),
                        hidden: &dirs.hidden,
                        read_only: &dirs.read_only,
                        own_network: self.network.is_some(),
                        run_as: self.identity.map(|(u, g)| (u.as_raw(), g.as_raw())),
                        command: &request.command,
                    };
                    let mut c = tokio::process::Command::new(bwrap);
                    c.args(bwrap::arguments(&plan));
                    self.prepare_child(&mut c, mounts);
                    c
                }
            };
            command
                .env_clear()
                .envs(self.base_env())
                .envs(request.env.iter().cloned())
                .stdin(Stdio::null())
                .stdout(Stdio::from(writer))
                .stderr(Stdio::from(writer_err))
                .process_group(0)
                .kill_on_drop(true);
            command.spawn().map_err(spawn_error)?
            // `command` (holding the pipe's write ends and the mount handles) drops here, so
            // the output reaches end-of-file when the sandbox's processes are gone.
        };
        exec::supervise(child, OwnedFd::from(reader), request.timeout, cancel).await
    }

    /// What the child does between fork and exec: make the mount handles inheritable, enter
    /// the namespace, take on the limits (bubblewrap and `setpriv` do the rest).
    #[allow(unsafe_code)]
    fn prepare_child(&self, command: &mut tokio::process::Command, mounts: MountHandles) {
        let namespace = self
            .network
            .as_ref()
            .and_then(|n| n.handle().try_clone().ok());
        let per_session_user = self.identity.is_some();
        let limits = self.limits;
        let fds = mounts.raw();
        let setup = move || -> std::io::Result<()> {
            // The closure owns the handles, so they stay open until the child has started.
            let _held = &mounts;
            for fd in [fds.workspace, fds.outputs, fds.tmp] {
                nix::fcntl::fcntl(
                    fd,
                    nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()),
                )?;
            }
            if let Some(ns) = &namespace {
                nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWNET)?;
            }
            // The process limit counts per user: it binds once `setpriv` has switched to the
            // session's own user (root is exempt).
            limits.apply(per_session_user)?;
            Ok(())
        };
        // SAFETY: the closure runs in the forked child before exec and makes only system calls
        // (fcntl, setns, setrlimit) on values prepared beforehand;
        // it allocates nothing and takes no locks.
        unsafe {
            command.pre_exec(setup);
        }
    }
}

/// Open handles to a sandbox's directories, bound into it by bubblewrap.
struct MountHandles {
    workspace: File,
    outputs: File,
    tmp: File,
}

impl MountHandles {
    fn open(dirs: &SandboxDirs) -> Result<Self, SandboxError> {
        let open = |p: &Path| {
            File::open(p).map_err(|e| SandboxError::Setup(format!("{}: {e}", p.display())))
        };
        Ok(Self {
            workspace: open(&dirs.workspace)?,
            outputs: open(&dirs.outputs)?,
            tmp: open(&dirs.tmp)?,
        })
    }

    fn raw(&self) -> bwrap::MountFds {
        bwrap::MountFds {
            workspace: self.workspace.as_raw_fd(),
            outputs: self.outputs.as_raw_fd(),
            tmp: self.tmp.as_raw_fd(),
        }
    }
}

/// Creates the sandbox's directories, owned by its user.
fn prepare_dirs(dirs: &SandboxDirs, identity: Option<(Uid, Gid)>) -> Result<(), SandboxError> {
    let setup =
        |what: &Path, e: std::io::Error| SandboxError::Setup(format!("{}: {e}", what.display()));
    std::fs::create_dir_all(&dirs.root).map_err(|e| setup(&dirs.root, e))?;
    std::fs::set_permissions(&dirs.root, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| setup(&dirs.root, e))?;
    for (_, dir) in dirs.mounts() {
        let fresh = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| setup(dir, e))?;
        if fresh {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| setup(dir, e))?;
            if let Some((uid, gid)) = identity {
                nix::unistd::chown(dir, Some(uid), Some(gid)).map_err(|e| setup(dir, e.into()))?;
            }
        }
    }
    Ok(())
}
