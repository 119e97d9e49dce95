//! What every handler shares.

use std::sync::Arc;

use berth_store::Store;

use crate::auth::KeyCache;
use crate::config::ServerConfig;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub keys: KeyCache,
    pub config: ServerConfig,
    /// The tenant that `BERTH_API_KEY` and the bootstrap key belong to.
    pub default_tenant_id: String,
}
