//! What memory search needs from the database: the full-text index each backend keeps over
//! memories (SQLite FTS5, PostgreSQL `tsvector`), the content vectors stored beside them, and
//! the upkeep of those vectors when the embedder changes. Ranking and fusion live in
//! `berth-memory`; this layer only reads candidates.
//!
//! Both indexes change in the same transaction as the memory they describe: the full-text index
//! through triggers or a generated column, the vector as a row of its own written with the
//! memory's content ([`crate::MemoryContent::embedding`]) and deleted with the memory.

use async_trait::async_trait;

use crate::{MemoryRow, StoreResult};

/// A vector of a memory's content and the embedder that made it. Vectors of different
/// embedders are never compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEmbedding {
    /// The embedder's identity, e.g. `hashing-v1-1024` or `openai:text-embedding-3-small`.
    pub model: String,
    /// Little-endian `f32`s.
    pub vector: Vec<u8>,
}

/// A full-text match, best first.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryTextHit {
    pub id: String,
    pub path: String,
    /// The backend's relevance (higher is better); comparable only within one answer.
    pub score: f64,
}

/// A memory's stored vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryVectorRow {
    /// The memory's id.
    pub id: String,
    pub vector: Vec<u8>,
}

/// What a store's vectors of one embedder are, as of a read: every write or deletion of a
/// vector changes it. Servers keep the vectors they read and reuse them while it stays the same.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemoryVectorSignature {
    pub count: i64,
    pub seq_sum: i64,
    pub seq_max: i64,
}

/// A memory whose vector is missing or from another embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryToEmbed {
    pub id: String,
    pub content_sha256: String,
    pub content: String,
}

#[async_trait]
pub trait MemorySearchStore: Send + Sync {
    /// Memories of the store whose path or content matches any of `terms` (plain words; the
    /// backend quotes them), best first, at most `limit`.
    async fn search_memories_text(
        &self,
        tenant_id: &str,
        store_id: &str,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<MemoryTextHit>>;
    /// The vectors `model` made for the store's memories.
    async fn memory_vectors(
        &self,
        tenant_id: &str,
        store_id: &str,
        model: &str,
    ) -> StoreResult<Vec<MemoryVectorRow>>;
    /// The [`MemoryVectorSignature`] of the vectors `model` made for the store's memories.
    async fn memory_vector_signature(
        &self,
        tenant_id: &str,
        store_id: &str,
        model: &str,
    ) -> StoreResult<MemoryVectorSignature>;
    /// The named memories of the store with their content, in no particular order (ids that
    /// are not there are left out).
    async fn memories_by_ids(
        &self,
        tenant_id: &str,
        store_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<MemoryRow>>;
    /// Up to `limit` memories (of any tenant) without a vector from `model`.
    async fn memories_to_embed(&self, model: &str, limit: u32) -> StoreResult<Vec<MemoryToEmbed>>;
    /// Stores a memory's vector if its content still has `content_sha256` (a write in between
    /// brought its own vector); returns whether it did.
    async fn set_memory_embedding(
        &self,
        id: &str,
        content_sha256: &str,
        embedding: &MemoryEmbedding,
    ) -> StoreResult<bool>;
}
