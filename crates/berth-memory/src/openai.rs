//! An OpenAI-compatible embeddings endpoint (`POST {base}/embeddings`), as served by OpenAI,
//! vLLM, Ollama, LiteLLM, text-embeddings-inference and others.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::embed::{EmbedError, Embedder};
use crate::vector::normalize;

/// Texts longer than this many characters are embedded by their beginning: endpoints refuse
/// inputs over their model's context (8,192 tokens for OpenAI's), and a memory's opening says
/// most about it. The full-text index still covers all of it.
const MAX_INPUT_CHARS: usize = 8_000;
/// Texts per request.
const BATCH: usize = 64;
const TIMEOUT: Duration = Duration::from_secs(30);

pub struct OpenAiEmbedder {
    client: reqwest::Client,
    /// e.g. `https://api.openai.com/v1`.
    base_url: String,
    model: String,
    api_key: Option<String>,
    model_id: String,
}

#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl OpenAiEmbedder {
    pub fn new(base_url: &str, model: &str, api_key: Option<String>) -> Result<Self, EmbedError> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| EmbedError::Unreachable(e.to_string()))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            model: model.to_owned(),
            api_key,
            model_id: format!("openai:{model}"),
        })
    }

    async fn embed_batch(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let input: Vec<&str> = texts
            .iter()
            .map(|t| match t.char_indices().nth(MAX_INPUT_CHARS) {
                Some((cut, _)) => t.get(..cut).unwrap_or(t),
                None => t,
            })
            .collect();
        let mut request = self
            .client
            .post(format!("{}/embeddings", self.base_url))
            .json(&serde_json::json!({ "model": self.model, "input": input }));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| EmbedError::Unreachable(e.without_url().to_string()))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(EmbedError::Refused {
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        let mut answer: Answer = response
            .json()
            .await
            .map_err(|e| EmbedError::BadAnswer(e.without_url().to_string()))?;
        if answer.data.len() != texts.len() {
            return Err(EmbedError::BadAnswer(format!(
                "{} vectors for {} texts",
                answer.data.len(),
                texts.len()
            )));
        }
        answer.data.sort_by_key(|item| item.index);
        let dimensions = answer.data.first().map_or(0, |i| i.embedding.len());
        let mut vectors = Vec::with_capacity(texts.len());
        for (expected, mut item) in answer.data.into_iter().enumerate() {
            if item.index != expected || item.embedding.len() != dimensions || dimensions == 0 {
                return Err(EmbedError::BadAnswer(
                    "vectors are missing or of different lengths".into(),
                ));
            }
            normalize(&mut item.embedding);
            vectors.push(item.embedding);
        }
        Ok(vectors)
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model_id(&self) -> &str {
        &self.model_id
    }

    fn min_similarity(&self) -> f32 {
        // Semantic models rarely place related texts near zero; ranking does the rest.
        0.0
    }

    async fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut vectors = Vec::with_capacity(texts.len());
        for batch in texts.chunks(BATCH) {
            vectors.extend(self.embed_batch(batch).await?);
        }
        Ok(vectors)
    }
}
