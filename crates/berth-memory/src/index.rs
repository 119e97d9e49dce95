//! The memory index as the server holds it: the configured embedder, the content a write
//! stores (digest, size, vector), and catching up on vectors that are missing.

use std::sync::Arc;

use berth_store::{MemoryContent, MemoryEmbedding, MemorySearchStore, MemoryToEmbed, StoreError};
use sha2::{Digest, Sha256};

use crate::cache::VectorCache;
use crate::embed::Embedder;
use crate::hashing::HashingEmbedder;
use crate::vector::encode;

/// Memories embedded per round of [`MemoryIndex::catch_up`].
const CATCH_UP_BATCH: u32 = 32;
/// Rounds of one [`MemoryIndex::catch_up`] call; the next call goes on.
const CATCH_UP_ROUNDS: usize = 1_000;
/// How long a write waits for its vector before storing the memory without one.
const WRITE_EMBED_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Clone)]
pub struct MemoryIndex {
    embedder: Arc<dyn Embedder>,
    /// Stores' vectors between searches (shared by clones).
    pub(crate) cache: Arc<VectorCache>,
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self::new(Arc::new(HashingEmbedder))
    }
}

impl MemoryIndex {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Self {
            embedder,
            cache: Arc::default(),
        }
    }

    pub fn embedder(&self) -> &dyn Embedder {
        self.embedder.as_ref()
    }

    /// What a write stores for `text`: its SHA-256, its size and its vector.
    pub async fn content(&self, text: String) -> MemoryContent {
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let size_bytes = i64::try_from(text.len()).unwrap_or(i64::MAX);
        MemoryContent {
            embedding: self.embedding(&text).await,
            text,
            sha256,
            size_bytes,
        }
    }

    /// The vector a write stores with `text`. One the embedder cannot make within
    /// [`WRITE_EMBED_TIMEOUT`] is left out (logged) and filled in by [`Self::catch_up`]; the
    /// full-text index covers the memory meanwhile. Blank text gets the empty vector, which
    /// matches nothing (endpoints refuse empty input).
    pub async fn embedding(&self, text: &str) -> Option<MemoryEmbedding> {
        if text.trim().is_empty() {
            return Some(self.nothing_to_embed());
        }
        let embedded =
            tokio::time::timeout(WRITE_EMBED_TIMEOUT, self.embedder.embed(&[text])).await;
        match embedded {
            Ok(Ok(mut vectors)) if vectors.len() == 1 => Some(self.stored(&vectors.swap_remove(0))),
            Ok(Ok(_)) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot embed a memory now; it is found by full text until it is");
                None
            }
            Err(_) => {
                tracing::warn!(
                    "embedding a memory timed out; it is found by full text until it is"
                );
                None
            }
        }
    }

    fn stored(&self, vector: &[f32]) -> MemoryEmbedding {
        MemoryEmbedding {
            model: self.embedder.model_id().to_owned(),
            vector: encode(vector),
        }
    }

    /// The marker for content with no vector to make (blank, or refused by the embedder): no
    /// dimensions, so it is never compared, and it is not asked for again.
    fn nothing_to_embed(&self) -> MemoryEmbedding {
        self.stored(&[])
    }

    /// Embeds every memory (of every tenant) whose vector is missing or came from another
    /// embedder, in batches, until none is left or the embedder fails. Returns how many it
    /// stored. Safe to run on several replicas at once: a vector is stored only if the content
    /// it was made from is still the memory's.
    pub async fn catch_up(&self, store: &dyn MemorySearchStore) -> Result<u64, StoreError> {
        let model = self.embedder.model_id().to_owned();
        let mut stored = 0u64;
        for _ in 0..CATCH_UP_ROUNDS {
            let batch = store.memories_to_embed(&model, CATCH_UP_BATCH).await?;
            if batch.is_empty() {
                return Ok(stored);
            }
            let Some(vectors) = self.embed_batch(&batch).await else {
                return Ok(stored);
            };
            let mut progressed = false;
            for (memory, embedding) in batch.iter().zip(vectors) {
                if store
                    .set_memory_embedding(&memory.id, &memory.content_sha256, &embedding)
                    .await?
                {
                    stored += 1;
                    progressed = true;
                }
            }
            // Every memory of the batch changed under us: their writes brought vectors, or
            // will be picked up next time.
            if !progressed {
                return Ok(stored);
            }
        }
        Ok(stored)
    }

    /// Vectors for a batch, one per memory. When the batch is refused, each memory is tried
    /// alone: if none succeeds the embedder is down (`None`, try again later); otherwise the
    /// refused ones are content it cannot embed and get the empty vector, so they do not block
    /// every round after.
    async fn embed_batch(&self, batch: &[MemoryToEmbed]) -> Option<Vec<MemoryEmbedding>> {
        let texts: Vec<&str> = batch.iter().map(|m| m.content.as_str()).collect();
        let blank = |t: &str| t.trim().is_empty();
        if !texts.iter().any(|t| blank(t)) {
            match self.embedder.embed(&texts).await {
                Ok(v) if v.len() == batch.len() => {
                    return Some(v.iter().map(|v| self.stored(v)).collect());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::info!(error = %e, "a batch of memories was not embedded; trying one by one")
                }
            }
        }
        let mut out = Vec::with_capacity(batch.len());
        let mut any = false;
        for text in texts {
            if blank(text) {
                out.push(self.nothing_to_embed());
                continue;
            }
            match self.embedder.embed(&[text]).await {
                Ok(mut v) if v.len() == 1 => {
                    any = true;
                    out.push(self.stored(&v.swap_remove(0)));
                }
                _ => out.push(self.nothing_to_embed()),
            }
        }
        if !any && batch.iter().any(|m| !blank(&m.content)) {
            tracing::warn!("cannot embed memories now; will try again");
            return None;
        }
        Some(out)
    }
}
