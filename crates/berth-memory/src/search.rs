//! One search: full-text candidates and vector candidates read at the same time, fused by
//! rank, then the winners' content loaded for their snippets.

use berth_store::{MemoryRow, MemorySearchStore, StoreError};

use crate::index::MemoryIndex;
use crate::rank::fuse;
use crate::text::{query_terms, snippet};
use crate::vector::dot;

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
        let candidates = (limit * CANDIDATES_PER_RESULT).clamp(MIN_CANDIDATES, MAX_CANDIDATES);
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
    /// query cannot be embedded (the search then rests on the full-text ranking).
    async fn vector_ranking(
        &self,
        store: &dyn MemorySearchStore,
        tenant_id: &str,
        store_id: &str,
        query: &str,
        candidates: u32,
    ) -> Result<Vec<String>, StoreError> {
        let embedder = self.embedder();
        let texts = [query];
        let (query_vector, stored) = tokio::join!(
            embedder.embed(&texts),
            store.memory_vectors(tenant_id, store_id, embedder.model_id()),
        );
        let query_vector = match query_vector {
            Ok(mut v) if !v.is_empty() => v.swap_remove(0),
            Ok(_) => return Ok(Vec::new()),
            Err(e) => {
                tracing::warn!(error = %e, "cannot embed a search query; ranking by full text only");
                return Ok(Vec::new());
            }
        };
        let floor = embedder.min_similarity();
        let mut scored: Vec<(f32, String)> = stored?
            .into_iter()
            .filter_map(|row| {
                let similarity = dot(&query_vector, &row.vector)?;
                (similarity > floor).then_some((similarity, row.id))
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        scored.truncate(candidates as usize);
        Ok(scored.into_iter().map(|(_, id)| id).collect())
    }
}
