//! The session runtime: everything a session does between HTTP requests. It claims sessions
//! with leases and runs their turns (`runner`), assembles each turn's tools (`tools`: sandboxes,
//! file and skill mounts, memory stores, MCP connections, vault credentials), resolves models,
//! redacts what sessions store, publishes events to streams (`bus`) and across replicas
//! (`cluster`), and keeps files, memory vectors and blob storage tidy in the background.
//!
//! The server builds one [`Runtime`] at start and reaches the runtime only through it; nothing
//! here knows about HTTP.

pub mod bus;
pub mod cluster;
pub mod config;
pub mod credentials;
pub mod files;
pub mod log;
pub mod mcp;
pub mod memory_mounts;
pub mod memory_upkeep;
pub mod metrics;
pub mod models;
pub mod mounts;
pub mod redact;
pub mod render;
pub mod runner;
pub mod session_private;
pub mod sessions;
pub mod tasks;
pub mod tools;

use std::sync::Arc;
use std::time::Duration;

use berth_blob::BlobStore;
use berth_memory::MemoryIndex;
use berth_protocol::time::{micros, now};
use berth_store::Store;
use berth_vault::{Purpose, RootSecret, SealingKey};
use tokio_util::sync::CancellationToken;

use crate::bus::EventBus;
use crate::config::RuntimeConfig;
use crate::credentials::Credentials;
use crate::metrics::{Gauges, Metrics};
use crate::models::ModelResolver;
use crate::runner::{Runner, RunnerSettings};
use crate::tasks::Tasks;
use crate::tools::ToolServices;

/// Runnable sessions counted at most, per scrape of the queue-depth gauge.
const MAX_QUEUE_COUNT: u32 = 10_000;
/// How often expired files are deleted.
const FILE_EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A setting is wrong or a client cannot be built from it.
    #[error("{0}")]
    Config(String),
}

/// The runtime of one process.
pub struct Runtime {
    pub store: Arc<dyn Store>,
    /// Live events of this process's streams.
    pub bus: Arc<EventBus>,
    /// Claims sessions and runs their turns.
    pub runner: Arc<Runner>,
    /// Resolves agents' models; seals and probes model cards.
    pub models: Arc<ModelResolver>,
    /// Sandboxes and web access for built-in tools.
    pub tools: Arc<ToolServices>,
    /// File, skill and output bytes.
    pub blobs: BlobStore,
    /// Vault credentials: sealing, lookup for MCP calls, OAuth refresh.
    pub credentials: Arc<Credentials>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Memory search: the embedder, content vectors, hybrid ranking.
    pub memory: MemoryIndex,
    /// Seals secrets a session carries (e.g. repository tokens).
    pub session_secrets: SealingKey,
    /// Fires when the process starts shutting down; turns and streams end on it.
    pub shutdown: CancellationToken,
    /// Every background task, so that shutdown can wait for them ([`Runtime::drain`]).
    pub tasks: Tasks,
}

impl Runtime {
    /// Builds the runtime and starts its background work (the runner, cross-replica
    /// announcements on PostgreSQL, memory upkeep, file expiry and blob sweeps), all of which
    /// end when `shutdown` fires.
    pub fn start(
        config: &RuntimeConfig,
        store: Arc<dyn Store>,
        root_secret: &RootSecret,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, RuntimeError> {
        let tasks = Tasks::default();
        let bus = Arc::new(EventBus::default());
        let metrics = Arc::new(Metrics::default());
        let models = ModelResolver::new(
            config,
            Arc::clone(&store),
            root_secret.sealing_key(Purpose::ModelCardKeys),
        )
        .map(Arc::new)
        .map_err(|e| RuntimeError::Config(format!("cannot build the model HTTP client: {e}")))?;
        let blobs = match &config.blob_url {
            Some(url) => BlobStore::from_url(url),
            None => BlobStore::local(&config.data_dir.join("blobs")),
        }
        .map_err(|e| RuntimeError::Config(format!("BERTH_BLOB_URL: {e}")))?;
        let credentials = Arc::new(
            Credentials::new(
                Arc::clone(&store),
                root_secret.sealing_key(Purpose::VaultCredentials),
                config.egress.clone(),
            )
            .map_err(|e| {
                RuntimeError::Config(format!("cannot build the credential HTTP client: {e}"))
            })?,
        );
        let memory = memory_upkeep::index(config)?;
        tasks.spawn(
            "memory upkeep",
            memory_upkeep::run(Arc::clone(&store), memory.clone(), shutdown.clone()),
        );
        let tools = Arc::new(ToolServices::new(
            config,
            blobs.clone(),
            Arc::clone(&credentials),
            memory.clone(),
        )?);
        tasks.spawn(
            "file expiry and blob sweeps",
            tidy_files(
                Arc::clone(&store),
                blobs.clone(),
                config.blob_sweep_interval,
                shutdown.clone(),
            ),
        );
        let runner = Runner::start(
            Arc::clone(&store),
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
            tasks.clone(),
            shutdown.clone(),
        );
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
                Arc::clone(&store),
                Arc::clone(&bus),
                Arc::clone(&runner),
                berth_protocol::ids::new_id("replica"),
                &tasks,
                shutdown.clone(),
            );
        }
        Ok(Arc::new(Self {
            store,
            bus,
            runner,
            models,
            tools,
            blobs,
            credentials,
            metrics,
            memory,
            session_secrets: root_secret.sealing_key(Purpose::SessionSecrets),
            shutdown,
            tasks,
        }))
    }

    /// Ends the runtime's work: fires the shutdown token (turns stop, streams end, loops
    /// return) and waits up to `deadline` for every background task to finish what it is
    /// writing. Returns whether they all did.
    pub async fn drain(&self, deadline: Duration) -> bool {
        self.shutdown.cancel();
        let done = self.tasks.drain(deadline).await;
        if !done {
            tracing::warn!(
                still_running = self.tasks.running(),
                "background tasks did not finish in time"
            );
        }
        done
    }

    /// The gauges of a metrics scrape, read now.
    pub async fn gauges(&self) -> Gauges {
        let queue_depth = self
            .store
            .runnable_sessions(micros(now()), MAX_QUEUE_COUNT)
            .await
            .map(|ids| ids.len())
            .unwrap_or(0);
        Gauges {
            queue_depth,
            active_leases: self.runner.active_sessions(),
            sse_subscribers: self.bus.subscribers(),
            watched_sessions: self.bus.watched_sessions(),
        }
    }
}

/// Deletes expired files every minute, and what crashes left in blob storage every
/// `sweep_every`, until shutdown.
async fn tidy_files(
    store: Arc<dyn Store>,
    blobs: BlobStore,
    sweep_every: Duration,
    stop: CancellationToken,
) {
    let mut expiry = tokio::time::interval(FILE_EXPIRY_INTERVAL);
    let mut sweep = tokio::time::interval(sweep_every);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = expiry.tick() => files::delete_expired(store.as_ref(), &blobs).await,
            _ = sweep.tick() => {
                files::sweep_orphans(store.as_ref(), &blobs).await;
            }
        }
    }
}
