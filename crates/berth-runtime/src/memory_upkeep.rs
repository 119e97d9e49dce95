//! Background upkeep of memory stores on every replica: vectors missing or made by another
//! embedder are filled in (after an embeddings endpoint was down, or the embedder changed),
//! and versions older than 30 days are pruned, keeping each memory's newest. Both are safe to
//! run on several replicas at once.

use std::sync::Arc;
use std::time::Duration;

use berth_memory::{MemoryIndex, OpenAiEmbedder};
use berth_store::{MemoryRecords, Store};
use tokio_util::sync::CancellationToken;

use crate::RuntimeError;
use crate::config::RuntimeConfig;

/// How often vectors are caught up.
const CATCH_UP_EVERY: Duration = Duration::from_secs(60);
/// How often old versions are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// Versions older than this go (except each memory's newest).
pub const VERSION_RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// The index the configuration asks for: an embeddings endpoint, or the hashing default.
pub fn index(config: &RuntimeConfig) -> Result<MemoryIndex, RuntimeError> {
    match &config.embeddings {
        None => Ok(MemoryIndex::default()),
        Some(e) => {
            let embedder = OpenAiEmbedder::new(&e.url, &e.model, e.api_key.clone())
                .map_err(|err| RuntimeError::Config(format!("BERTH_EMBEDDINGS_URL: {err}")))?;
            Ok(MemoryIndex::new(Arc::new(embedder)))
        }
    }
}

/// Runs until `stop` fires.
pub async fn run(store: Arc<dyn Store>, index: MemoryIndex, stop: CancellationToken) {
    let mut catch_up = tokio::time::interval(CATCH_UP_EVERY);
    let mut prune = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = catch_up.tick() => match index.catch_up(store.as_ref()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(memories = n, "embedded memories for search"),
                Err(e) => tracing::warn!(error = %e, "cannot catch up on memory vectors"),
            },
            _ = prune.tick() => prune_versions(store.as_ref()).await,
        }
    }
}

async fn prune_versions(store: &dyn MemoryRecords) {
    let retention = i64::try_from(VERSION_RETENTION.as_micros()).unwrap_or(i64::MAX);
    let cutoff = berth_protocol::time::micros(berth_protocol::time::now()) - retention;
    match store.prune_memory_versions(cutoff).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(versions = n, "pruned memory versions older than 30 days"),
        Err(e) => tracing::warn!(error = %e, "cannot prune memory versions"),
    }
}
