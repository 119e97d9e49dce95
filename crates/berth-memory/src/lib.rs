//! Memory search for Berth.
//!
//! A search fuses two rankings of a store's memories with reciprocal rank fusion: the
//! database's own full-text index (SQLite FTS5 or PostgreSQL `tsvector`, read through
//! [`berth_store::MemorySearchStore`]) and the cosine similarity of content vectors made by an
//! [`Embedder`]. The zero-configuration embedder is [`HashingEmbedder`], deterministic and
//! lexical (words, light stems and character trigrams hashed into a fixed vector); an
//! OpenAI-compatible `/v1/embeddings` endpoint ([`OpenAiEmbedder`]) brings semantic vectors.
//!
//! Vectors are written with the memory they describe ([`MemoryIndex::content`]), so a write
//! and its index entry commit together; [`MemoryIndex::catch_up`] fills in vectors that are
//! missing or came from another embedder.

mod cache;
mod embed;
mod hashing;
mod index;
mod openai;
mod rank;
mod search;
mod text;
mod vector;

pub use embed::{EmbedError, Embedder};
pub use hashing::HashingEmbedder;
pub use index::MemoryIndex;
pub use openai::OpenAiEmbedder;
pub use search::{SearchError, SearchHit};
pub use text::{query_terms, snippet};
