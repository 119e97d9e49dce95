//! Berth's HTTP server: the axum application, its start-up, and graceful shutdown.
//!
//! Routes live one file per resource under [`routes`]; they parse and authorise requests, apply
//! the rules from `berth-protocol`, and persist through the `berth-store` traits. Business rules
//! belong in those crates, not here.

pub mod admission;
pub mod auth;
pub mod bus;
pub mod cluster;
pub mod config;
pub mod credentials;
pub mod documents;
pub mod error;
pub mod extract;
pub mod files;
pub mod listing;
pub mod log;
pub mod mcp;
pub mod memory_mounts;
pub mod memory_upkeep;
pub mod metrics;
pub mod models;
pub mod mounts;
pub mod openapi;
pub mod rate_limit;
pub mod redact;
pub mod render;
pub mod request_id;
pub mod routes;
pub mod runner;
pub mod sessions;
pub mod sse;
pub mod startup;
pub mod state;
pub mod tools;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::serve::ListenerExt;
use tokio::net::TcpListener;

pub use config::ServerConfig;
pub use startup::StartError;

use berth_vault::Purpose;
use tokio_util::sync::CancellationToken;

use crate::auth::KeyCache;
use crate::bus::EventBus;
use crate::credentials::Credentials;
use crate::models::ModelResolver;
use crate::runner::{Runner, RunnerSettings};
use crate::state::AppState;
use crate::tools::ToolServices;

/// Deletes expired files every minute, and what crashes left in blob storage every
/// `sweep_every`, until shutdown.
async fn expire_files(
    store: Arc<dyn berth_store::Store>,
    blobs: berth_blob::BlobStore,
    sweep_every: std::time::Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    let mut sweep = tokio::time::interval(sweep_every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => files::delete_expired(store.as_ref(), &blobs).await,
            _ = sweep.tick() => {
                files::sweep_orphans(store.as_ref(), &blobs).await;
            }
        }
    }
}

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
        let bus = Arc::new(EventBus::default());
        let metrics = Arc::new(metrics::Metrics::default());
        let models = ModelResolver::new(
            &config,
            Arc::clone(&started.store),
            started.root_secret.sealing_key(Purpose::ModelCardKeys),
        )
        .map(Arc::new)
        .map_err(|e| StartError::Config(format!("cannot build the model HTTP client: {e}")))?;
        let blobs = match &config.blob_url {
            Some(url) => berth_blob::BlobStore::from_url(url),
            None => berth_blob::BlobStore::local(&config.data_dir.join("blobs")),
        }
        .map_err(|e| StartError::Config(format!("BERTH_BLOB_URL: {e}")))?;
        let credentials = Arc::new(
            Credentials::new(
                Arc::clone(&started.store),
                started.root_secret.sealing_key(Purpose::VaultCredentials),
                config.egress.clone(),
            )
            .map_err(|e| {
                StartError::Config(format!("cannot build the credential HTTP client: {e}"))
            })?,
        );
        let memory = memory_upkeep::index(&config)?;
        tokio::spawn(memory_upkeep::run(
            Arc::clone(&started.store),
            memory.clone(),
            shutdown.clone(),
        ));
        let tools = Arc::new(ToolServices::new(
            &config,
            blobs.clone(),
            Arc::clone(&credentials),
            memory.clone(),
        )?);
        tokio::spawn(expire_files(
            Arc::clone(&started.store),
            blobs.clone(),
            config.blob_sweep_interval,
            shutdown.clone(),
        ));
        let runner = Runner::start(
            Arc::clone(&started.store),
            Arc::clone(&bus),
            Arc::clone(&models),
            Arc::clone(&tools),
            RunnerSettings {
                lease_ttl: config.lease_ttl,
                recover_all_leases: !config.uses_postgres(),
                retry: config.model_retry,
                compaction_threshold: config.compaction_threshold,
                metrics: Arc::clone(&metrics),
            },
            shutdown.clone(),
        );
        if let Some(addr) = config.metrics_listen {
            let scrape = metrics::Scrape {
                metrics: Arc::clone(&metrics),
                store: Arc::clone(&started.store),
                runner: Arc::clone(&runner),
                bus: Arc::clone(&bus),
            };
            let bound = metrics::serve(addr, scrape, shutdown.clone())
                .await
                .map_err(|e| StartError::Listen {
                    addr: addr.to_string(),
                    message: e.to_string(),
                })?;
            tracing::info!(metrics_at = %bound, "serving Prometheus metrics at /metrics");
        }
        if let Some(url) = config
            .database_url
            .clone()
            .filter(|_| config.uses_postgres())
        {
            cluster::Cluster::start(
                berth_store_postgres::PostgresOptions {
                    url,
                    max_connections: 1,
                    schema: None,
                },
                Arc::clone(&started.store),
                Arc::clone(&bus),
                Arc::clone(&runner),
                berth_protocol::ids::new_id("replica"),
                shutdown.clone(),
            );
        }
        let shared_limits = config.uses_postgres().then(|| Arc::clone(&started.store));
        if shared_limits.is_some() {
            tokio::spawn(forget_rate_windows(
                Arc::clone(&started.store),
                shutdown.clone(),
            ));
        }
        let state = Arc::new(AppState {
            rate_limiter: rate_limit::RateLimiter::new(shared_limits),
            store: started.store,
            keys: KeyCache::default(),
            default_tenant_id: started.default_tenant_id,
            bus,
            runner,
            models,
            tools,
            blobs,
            credentials,
            metrics,
            memory,
            session_secrets: started.root_secret.sealing_key(Purpose::SessionSecrets),
            shutdown,
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
        let stop = self.state.shutdown.clone();
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
        tracing::info!("berth stopped");
        Ok(())
    }
}
