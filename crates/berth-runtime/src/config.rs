//! What the runtime is configured with: data locations, model providers, egress policies,
//! sandboxes and their limits, blob storage, memory embeddings and timings. The server's own
//! settings (listening, request limits) are the server's.

use std::path::PathBuf;
use std::time::Duration;

pub use berth_agent::{DEFAULT_COMPACTION_THRESHOLD, RetryPolicy};
pub use berth_net::EgressPolicy;
pub use berth_sandbox::Limits as SandboxLimits;
pub use berth_sandbox::SessionResources;

/// Models can think silently for a long time; five minutes without a byte means a dead stream.
pub const DEFAULT_MODEL_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// A crashed runner's sessions are taken over after this long.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);
/// Disk one session's sandbox files may take: room for a large repository and its build.
pub const DEFAULT_SANDBOX_DISK_BYTES: u64 = 10 << 30;
/// Disk all of one tenant's sandboxes may take together.
pub const DEFAULT_TENANT_DISK_BYTES: u64 = 100 << 30;

#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Where the SQLite database, root secret and workspaces live (`BERTH_DATA_DIR`).
    pub data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; anything else (or nothing) uses SQLite.
    pub database_url: Option<String>,
    /// The default model providers, tried in this order for agents no model card serves
    /// (`ANTHROPIC_API_KEY`/`ANTHROPIC_BASE_URL`, then `OPENAI_API_KEY`/`OPENAI_BASE_URL`).
    pub anthropic_api_key: Option<String>,
    pub anthropic_base_url: Option<String>,
    pub openai_api_key: Option<String>,
    pub openai_base_url: Option<String>,
    /// Which non-public addresses the server's own connections to tenant-chosen URLs (model
    /// cards, MCP servers) may reach (`BERTH_ALLOW_PRIVATE_EGRESS`).
    pub egress: EgressPolicy,
    /// Which non-public addresses sandboxes and the tools agents drive (`web_fetch`) may reach
    /// (`BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS`); the host's own addresses only when named exactly.
    pub sandbox_egress: EgressPolicy,
    /// How failed model requests are retried.
    pub model_retry: RetryPolicy,
    /// Compact a session's context once it passes this fraction of the model's window.
    pub compaction_threshold: f64,
    /// Where session sandboxes keep their files (`<data_dir>/sandboxes` when unset).
    pub sandbox_dir: Option<PathBuf>,
    /// Run agent commands on the host without isolation (development only).
    pub unsafe_no_sandbox: bool,
    pub sandbox_limits: SandboxLimits,
    /// A sandbox unused this long gives back its network namespace and proxy.
    pub sandbox_idle_ttl: Duration,
    /// Whether sessions get control groups where the host offers them
    /// (`BERTH_SANDBOX_CGROUPS`).
    pub sandbox_cgroups: bool,
    /// Disk one session's sandbox files may take (`BERTH_SANDBOX_DISK_MB`).
    pub sandbox_disk_bytes: u64,
    /// Disk the sandboxes of one tenant's live sessions may take together
    /// (`BERTH_TENANT_DISK_MB`).
    pub tenant_disk_bytes: u64,
    /// Ports on the host's loopback that sandboxes may reach through their proxy
    /// (`BERTH_SANDBOX_LOOPBACK_PORTS`): for a local gateway, or tests. Empty by default.
    pub sandbox_loopback_ports: Vec<u16>,
    /// A SearXNG instance for `web_search` (`BERTH_SEARXNG_URL`).
    pub searxng_url: Option<String>,
    /// Where file, skill and output bytes live: `s3://bucket/prefix` or `file:///path`
    /// (`BERTH_BLOB_URL`); `<data_dir>/blobs` when unset.
    pub blob_url: Option<String>,
    /// How often blob storage is swept for what crashes left (abandoned uploads, objects
    /// without a row).
    pub blob_sweep_interval: Duration,
    /// A model stream that sends nothing for this long is abandoned.
    pub model_idle_timeout: Duration,
    /// How long a runner's claim on a session lasts without renewal.
    pub lease_ttl: Duration,
    /// An OpenAI-compatible embeddings endpoint for memory search; the built-in hashing
    /// embedder when unset.
    pub embeddings: Option<EmbeddingsConfig>,
}

/// `BERTH_EMBEDDINGS_URL`, `BERTH_EMBEDDINGS_MODEL` and `BERTH_EMBEDDINGS_API_KEY`.
#[derive(Clone)]
pub struct EmbeddingsConfig {
    /// The API's base, e.g. `https://api.openai.com/v1` (requests go to `{url}/embeddings`).
    pub url: String,
    pub model: String,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for EmbeddingsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingsConfig")
            .field("url", &self.url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl RuntimeConfig {
    /// Defaults for everything but where to keep data.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            data_dir,
            database_url: None,
            anthropic_api_key: None,
            anthropic_base_url: None,
            openai_api_key: None,
            openai_base_url: None,
            egress: EgressPolicy::default(),
            sandbox_egress: EgressPolicy::sandboxes_closed(),
            model_retry: RetryPolicy::default(),
            compaction_threshold: DEFAULT_COMPACTION_THRESHOLD,
            sandbox_dir: None,
            unsafe_no_sandbox: false,
            sandbox_limits: SandboxLimits::default(),
            sandbox_idle_ttl: Duration::from_secs(300),
            sandbox_cgroups: true,
            sandbox_disk_bytes: DEFAULT_SANDBOX_DISK_BYTES,
            tenant_disk_bytes: DEFAULT_TENANT_DISK_BYTES,
            sandbox_loopback_ports: Vec::new(),
            searxng_url: None,
            blob_url: None,
            blob_sweep_interval: Duration::from_secs(3600),
            model_idle_timeout: DEFAULT_MODEL_IDLE_TIMEOUT,
            lease_ttl: DEFAULT_LEASE_TTL,
            embeddings: None,
        }
    }

    pub fn uses_postgres(&self) -> bool {
        self.database_url
            .as_deref()
            .is_some_and(|u| u.starts_with("postgres://") || u.starts_with("postgresql://"))
    }
}
