//! Berth's HTTP server: the axum application, its start-up, and graceful shutdown.
//!
//! Routes live one file per resource under [`routes`]; they parse and authorise requests, apply
//! the rules from `berth-protocol`, and persist through the `berth-store` traits. Business rules
//! belong in those crates, not here.

pub mod auth;
pub mod config;
pub mod documents;
pub mod error;
pub mod extract;
pub mod listing;
pub mod openapi;
pub mod request_id;
pub mod routes;
pub mod startup;
pub mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use startup::StartError;

use crate::auth::KeyCache;
use crate::state::AppState;

/// A started server: bound, migrated, bootstrapped, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: Arc<AppState>,
    local_addr: SocketAddr,
    bootstrap_key: Option<String>,
    _lock: Option<std::fs::File>,
}

impl Server {
    pub async fn start(config: ServerConfig) -> Result<Self, StartError> {
        let started = startup::start(&config).await?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|e| StartError::Listen {
                addr: config.listen.to_string(),
                message: e.to_string(),
            })?;
        let local_addr = listener.local_addr().map_err(|e| StartError::Listen {
            addr: config.listen.to_string(),
            message: e.to_string(),
        })?;
        let state = Arc::new(AppState {
            store: started.store,
            keys: KeyCache::default(),
            config,
            default_tenant_id: started.default_tenant_id,
        });
        Ok(Self {
            listener,
            state,
            local_addr,
            bootstrap_key: started.bootstrap_key,
            _lock: started.lock,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The admin key generated for a brand-new installation, if this start created one.
    pub fn bootstrap_key(&self) -> Option<&str> {
        self.bootstrap_key.as_deref()
    }

    pub fn default_tenant_id(&self) -> &str {
        &self.state.default_tenant_id
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = routes::router(Arc::clone(&self.state));
        tracing::info!(addr = %self.local_addr, "berth is listening");
        axum::serve(self.listener, app)
            .with_graceful_shutdown(shutdown)
            .await?;
        tracing::info!("berth stopped");
        Ok(())
    }
}
