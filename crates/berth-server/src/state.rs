//! What every handler shares.

use std::sync::Arc;

use berth_store::Store;
use berth_vault::SealingKey;
use tokio_util::sync::CancellationToken;

use crate::auth::KeyCache;
use crate::bus::EventBus;
use crate::config::ServerConfig;
use crate::models::ModelResolver;
use crate::runner::Runner;
use crate::tools::ToolServices;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: KeyCache,
    pub config: ServerConfig,
    /// The tenant that `BERTH_API_KEY` and the bootstrap key belong to.
    pub default_tenant_id: String,
    pub bus: Arc<EventBus>,
    pub runner: Arc<Runner>,
    /// Resolves agents' models; seals and probes model cards.
    pub models: Arc<ModelResolver>,
    /// File, skill and output bytes.
    pub blobs: berth_blob::BlobStore,
    /// Sandboxes and web access for built-in tools.
    pub tools: Arc<ToolServices>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Vault credentials: sealing, lookup for MCP calls, OAuth refresh.
    pub credentials: Arc<crate::credentials::Credentials>,
    /// Memory search: the embedder, content vectors, hybrid ranking.
    pub memory: berth_memory::MemoryIndex,
    /// Seals secrets a session carries (e.g. repository tokens).
    pub session_secrets: SealingKey,
    /// Request and input rate limits (shared through the store by replicas).
    pub rate_limiter: crate::rate_limit::RateLimiter,
    /// Fires when the server starts shutting down; long-lived streams end on it.
    pub shutdown: CancellationToken,
}
