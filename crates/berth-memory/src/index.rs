//! The memory index as the server holds it: the configured embedder, the content a write
//! stores (digest, size, vector), and catching up on vectors that are missing.

use std::sync::Arc;

use berth_store::{MemoryContent, MemoryEmbedding, MemorySearchStore, StoreError};
use sha2::{Digest, Sha256};

use crate::embed::Embedder;
use crate::hashing::HashingEmbedder;
use crate::vector::encode;

/// Memories embedded per round of [`MemoryIndex::catch_up`].
const CATCH_UP_BATCH: u32 = 32;

#[derive(Clone)]
pub struct MemoryIndex {
    embedder: Arc<dyn Embedder>,
}

impl Default for MemoryIndex {
    fn default() -> Self {
        Self::new(Arc::new(HashingEmbedder))
    }
}

impl MemoryIndex {
    pub fn new(embedder: Arc<dyn Embedder>) -> Self {
        Self { embedder }
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

    /// The vector a write stores with `text`. One the embedder cannot make now is left out
    /// (logged) and filled in by [`Self::catch_up`]; the full-text index covers the memory
    /// meanwhile.
    pub async fn embedding(&self, text: &str) -> Option<MemoryEmbedding> {
        match self.embedder.embed(&[text]).await {
            Ok(mut vectors) if vectors.len() == 1 => Some(MemoryEmbedding {
                model: self.embedder.model_id().to_owned(),
                vector: encode(&vectors.swap_remove(0)),
            }),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "cannot embed a memory now; it is found by full text until it is");
                None
            }
        }
    }

    /// Embeds every memory (of every tenant) whose vector is missing or came from another
    /// embedder, in batches, until none is left or the embedder fails. Returns how many it
    /// stored. Safe to run on several replicas at once: a vector is stored only if the content
    /// it was made from is still the memory's.
    pub async fn catch_up(&self, store: &dyn MemorySearchStore) -> Result<u64, StoreError> {
        let model = self.embedder.model_id().to_owned();
        let mut stored = 0u64;
        loop {
            let batch = store.memories_to_embed(&model, CATCH_UP_BATCH).await?;
            if batch.is_empty() {
                return Ok(stored);
            }
            let texts: Vec<&str> = batch.iter().map(|m| m.content.as_str()).collect();
            let vectors = match self.embedder.embed(&texts).await {
                Ok(v) if v.len() == batch.len() => v,
                Ok(_) => return Ok(stored),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot embed memories now; will try again");
                    return Ok(stored);
                }
            };
            let mut progressed = false;
            for (memory, vector) in batch.iter().zip(vectors) {
                let embedding = MemoryEmbedding {
                    model: model.clone(),
                    vector: encode(&vector),
                };
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
    }
}
