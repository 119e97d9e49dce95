//! What every handler shares: the store, the key cache, the configuration, the rate limiter and
//! the runtime that runs sessions.

use std::sync::Arc;

use berth_runtime::Runtime;
use berth_store::Store;

use crate::auth::KeyCache;
use crate::config::ServerConfig;
use crate::rate_limit::RateLimiter;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: KeyCache,
    pub config: ServerConfig,
    /// The tenant that `BERTH_API_KEY` and the bootstrap key belong to.
    pub default_tenant_id: String,
    /// Request and input rate limits (shared through the store by replicas).
    pub rate_limiter: RateLimiter,
    /// Runs sessions: turns, tools, models, streams' events.
    pub runtime: Arc<Runtime>,
}
