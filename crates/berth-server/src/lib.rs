//! Berth's HTTP server: the axum application, its start-up, and graceful shutdown.
//!
//! Routes live one file per resource under [`routes`]; they parse and authorise requests, apply
//! the rules from `berth-protocol`, persist through the `berth-store` traits, and hand sessions
//! to the runtime (`berth-runtime`). Business rules belong in those crates, not here.

pub mod admission;
pub mod auth;
pub mod config;
pub mod documents;
pub mod error;
pub mod extract;
pub mod files;
pub mod listing;
pub mod memory_attach;
pub mod metrics_http;
pub mod nul;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod sessions;
pub mod sse;
pub mod startup;
pub mod state;
pub mod throttle;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use startup::StartError;

use berth_runtime::Runtime;
use tokio_util::sync::CancellationToken;

use crate::auth::KeyCache;
use crate::state::AppState;

/// How long shutdown waits for background work (turns closing, streams ending) once requests
/// have drained.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// Forgets the shared rate-limit windows of past minutes, every few minutes until shutdown.
async fn forget_rate_windows(store: Arc<dyn berth_store::Store>, stop: CancellationToken) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(300));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {
                let before = berth_protocol::time::micros(berth_protocol::time::now()) - 10 * 60_000_000;
                if let Err(e) = store.forget_rate_windows(before).await {
                    tracing::debug!(error = %e, "cannot forget old rate-limit windows");
                }
            }
        }
    }
}

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
        let shutdown = CancellationToken::new();
        let runtime = Runtime::start(
            &config.runtime,
            Arc::clone(&started.store),
            &started.root_secret,
            shutdown.clone(),
        )
        .map_err(|e| StartError::Config(e.to_string()))?;
        if let Some(addr) = config.metrics_listen {
            let bound = metrics_http::serve(addr, Arc::clone(&runtime), shutdown.clone())
                .await
                .map_err(|e| StartError::Listen {
                    addr: addr.to_string(),
                    message: e.to_string(),
                })?;
            tracing::info!(metrics_at = %bound, "serving Prometheus metrics at /metrics");
        }
        let shared_limits = config.uses_postgres().then(|| Arc::clone(&started.store));
        if shared_limits.is_some() {
            runtime.tasks.spawn(
                "rate-limit window cleanup",
                forget_rate_windows(Arc::clone(&started.store), shutdown.clone()),
            );
        }
        let state = Arc::new(AppState {
            rate_limiter: rate_limit::RateLimiter::new(shared_limits),
            store: started.store,
            keys: KeyCache::new(runtime.tasks.clone()),
            default_tenant_id: started.default_tenant_id,
            runtime,
            config,
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

    /// The shared state (tests inspect the runner and the bus through it).
    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let app = routes::router(Arc::clone(&self.state));
        tracing::info!(addr = %self.local_addr, "berth is listening");
        let stop = self.state.runtime.shutdown.clone();
        // Streams write many small frames; without TCP_NODELAY, Nagle's algorithm and delayed
        // ACKs hold each one back by up to 40 ms.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                // Streams and turns end now, so in-flight requests can drain.
                stop.cancel();
            })
            .await?;
        // Requests have drained; now the turns, streams and loops they left behind.
        self.state.runtime.drain(SHUTDOWN_GRACE).await;
        tracing::info!("berth stopped");
        Ok(())
    }
}
