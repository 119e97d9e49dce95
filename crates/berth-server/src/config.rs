//! Server configuration, as the `berth` binary assembles it from flags and environment: the
//! server's own settings (listening, request limits, keys), and the runtime's, which it derefs
//! to so that every setting reads as one flat configuration (`config.sandbox_limits`).

use std::net::SocketAddr;
use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::time::Duration;

pub use berth_runtime::config::{
    DEFAULT_COMPACTION_THRESHOLD, DEFAULT_LEASE_TTL, DEFAULT_MODEL_IDLE_TIMEOUT,
    DEFAULT_SANDBOX_DISK_BYTES, DEFAULT_TENANT_DISK_BYTES, EgressPolicy, EmbeddingsConfig,
    RetryPolicy, RuntimeConfig, SandboxLimits, SessionResources,
};

/// Default cap on JSON request bodies; large enough for a 100k-character system prompt plus
/// base64 images in a user message.
pub const DEFAULT_MAX_BODY_BYTES: usize = 32 * 1024 * 1024;
/// Default cap on one event a client sends: room for a large image as base64; bigger content
/// belongs in a file (`POST /v1/files`) the message refers to.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 4 << 20;
/// Default cap on file uploads.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 500 << 20;
/// Default PostgreSQL connections per replica.
pub const DEFAULT_DB_MAX_CONNECTIONS: usize = 16;
/// Clients and proxies drop connections silent for long; 15 s keeps every common one open.
pub const DEFAULT_SSE_KEEPALIVE: Duration = Duration::from_secs(15);

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on (`BERTH_LISTEN`); port 0 picks a free port.
    pub listen: SocketAddr,
    /// `BERTH_ROOT_SECRET` as given; `None` generates or reads `<data_dir>/root.key`.
    pub root_secret: Option<String>,
    /// `BERTH_API_KEY`: becomes the default tenant's admin key.
    pub api_key: Option<String>,
    pub max_body_bytes: usize,
    pub db_max_connections: usize,
    /// Largest file upload, in bytes (`BERTH_MAX_UPLOAD_BYTES`).
    pub max_upload_bytes: u64,
    /// How often idle SSE streams send `event: ping`.
    pub sse_keepalive: Duration,
    /// Where Prometheus metrics are served (`BERTH_METRICS_LISTEN`); off when unset.
    pub metrics_listen: Option<SocketAddr>,
    /// Requests per tenant and event bytes per session, per minute
    /// (`BERTH_RATE_LIMIT_READS_PER_MINUTE`, `…_WRITES_PER_MINUTE`,
    /// `BERTH_SESSION_INPUT_BYTES_PER_MINUTE`).
    pub rate_limits: RateLimits,
    /// Largest event a client may send, serialized (`BERTH_MAX_EVENT_BYTES`).
    pub max_event_bytes: usize,
    /// Everything the runtime is configured with.
    pub runtime: RuntimeConfig,
}

impl ServerConfig {
    /// Defaults for everything but where to keep data.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8787)),
            root_secret: None,
            api_key: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            db_max_connections: DEFAULT_DB_MAX_CONNECTIONS,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            sse_keepalive: DEFAULT_SSE_KEEPALIVE,
            metrics_listen: None,
            rate_limits: RateLimits::default(),
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
            runtime: RuntimeConfig::new(data_dir),
        }
    }
}

/// The runtime's settings read as the server's own (`config.data_dir`, `config.lease_ttl`).
impl Deref for ServerConfig {
    type Target = RuntimeConfig;

    fn deref(&self) -> &RuntimeConfig {
        &self.runtime
    }
}

impl DerefMut for ServerConfig {
    fn deref_mut(&mut self) -> &mut RuntimeConfig {
        &mut self.runtime
    }
}

/// The limits an operator sets; 0 turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// `GET` and `HEAD` requests per tenant per minute.
    pub reads_per_minute: u64,
    /// Every other request (creates, updates, sends, deletes) per tenant per minute.
    pub writes_per_minute: u64,
    /// Bytes of events sent to one session per minute.
    pub session_input_bytes_per_minute: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            reads_per_minute: 12_000,
            writes_per_minute: 3_000,
            session_input_bytes_per_minute: 32 << 20,
        }
    }
}
