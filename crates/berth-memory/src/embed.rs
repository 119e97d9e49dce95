//! The embedder interface.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the embeddings endpoint cannot be reached: {0}")]
    Unreachable(String),
    #[error("the embeddings endpoint answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the embeddings endpoint's answer is not usable: {0}")]
    BadAnswer(String),
}

/// Turns texts into vectors whose cosine similarity says how alike the texts are.
#[async_trait]
pub trait Embedder: Send + Sync {
    /// Identifies the vectors this embedder makes: stored with every vector, and vectors of a
    /// different identity are never compared. Change it whenever the vectors change.
    fn model_id(&self) -> &str;
    /// Vectors below this cosine similarity to the query are not counted as matches.
    fn min_similarity(&self) -> f32;
    /// One vector per text, in order; each of unit length (or all zeros for a text with
    /// nothing to embed).
    async fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError>;
}
