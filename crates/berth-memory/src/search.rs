//! One search: full-text candidates and vector candidates read at the same time, fused by
//! rank, then the winners' content loaded for their snippets.

use std::sync::Arc;

use berth_store::{MemoryRow, MemorySearchStore, StoreError};

use crate::cache::StoreVectors;
use crate::index::MemoryIndex;
use crate::rank::fuse;
use crate::text::{query_terms, snippet};

/// Candidates each ranking contributes, per result asked for (and at least [`MIN_CANDIDATES`]).
const CANDIDATES_PER_RESULT: u32 = 3;
const MIN_CANDIDATES: u32 = 30;
const MAX_CANDIDATES: u32 = 150;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A memory that matched, best first.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub memory: MemoryRow,
    /// The part of the content around the query's words.
    pub snippet: String,
    /// Fused relevance in (0, 1]: 1 for a memory first in every ranking.
    pub score: f64,
}

impl MemoryIndex {
    /// The store's memories most relevant to `query`, at most `limit`.
    pub async fn search(
        &self,
        store: &dyn MemorySearchStore,
        tenant_id: &str,
        store_id: &str,
        query: &str,
        limit: u32,
    ) -> Result<Vec<SearchHit>, SearchError> {
        let candidates = limit
            .saturating_mul(CANDIDATES_PER_RESULT)
            .clamp(MIN_CANDIDATES, MAX_CANDIDATES);
        let terms = query_terms(query);
        let (text, vectors) = tokio::join!(
            store.search_memories_text(tenant_id, store_id, &terms, candidates),
            self.vector_ranking(store, tenant_id, store_id, query, candidates),
        );
        let text: Vec<String> = text?.into_iter().map(|hit| hit.id).collect();
        let fused = fuse(&[text, vectors?]);
        let winners: Vec<(String, f64)> = fused.into_iter().take(limit as usize).collect();
        let ids: Vec<String> = winners.iter().map(|(id, _)| id.clone()).collect();
        let mut rows = store.memories_by_ids(tenant_id, store_id, &ids).await?;
        let mut hits = Vec::with_capacity(winners.len());
        for (id, score) in winners {
            // A memory deleted since the rankings were read is left out.
            if let Some(at) = rows.iter().position(|r| r.id == id) {
                let memory = rows.swap_remove(at);
                hits.push(SearchHit {
                    snippet: snippet(&memory.content, query),
                    memory,
                    score,
                });
            }
        }
        Ok(hits)
    }

    /// The store's memories by similarity to the query's vector, best first; empty when the
    /// query cannot be embedded (the search then rests on the full-text ranking). The store's
    /// vectors come from the cache while their signature is unchanged.
    async fn vector_ranking(
        &self,
        store: &dyn MemorySearchStore,
        tenant_id: &str,
        store_id: &str,
        query: &str,
        candidates: u32,
    ) -> Result<Vec<String>, StoreError> {
        let embedder = self.embedder();
        let model = embedder.model_id();
        let texts = [query];
        let (query_vector, signature) = tokio::join!(
            embedder.embed(&texts),
            store.memory_vector_signature(tenant_id, store_id, model),
        );
        let query_vector = match query_vector {
            Ok(mut v) if !v.is_empty() => v.swap_remove(0),
            Ok(_) => return Ok(Vec::new()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot embed a search query; ranking by full text only");
                return Ok(Vec::new());
            }
        };
        let signature = signature?;
        let vectors = match self.cache.get(store_id, model, signature) {
            Some(vectors) => vectors,
            None => {
                let rows = store.memory_vectors(tenant_id, store_id, model).await?;
                // Read after the signature: at worst the entry is newer than its signature and
                // is read again next time.
                let vectors = Arc::new(StoreVectors::new(signature, rows));
                self.cache.put(store_id, model, Arc::clone(&vectors));
                vectors
            }
        };
        Ok(vectors
            .rank(
                &query_vector,
                embedder.min_similarity(),
                candidates as usize,
            )
            .into_iter()
            .map(|(id, _)| id)
            .collect())
    }
}
