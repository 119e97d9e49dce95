//! `POST /v1/memory_stores/{id}/search` (the seed's "semantic search"): a query in, the
//! store's most relevant memories out, each with a snippet and a score.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{Validated, ValidationError};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 1_000;
pub const DEFAULT_SEARCH_LIMIT: u32 = 10;
pub const MAX_SEARCH_LIMIT: u32 = 50;

crate::wire_tag!(
    /// The literal `"memory_search_result"`.
    MemorySearchResultTag = "memory_search_result"
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemorySearchRequest {
    /// What to look for: keywords or a question in plain words.
    pub query: String,
    /// Results to return, 1 to 50 (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
}

impl MemorySearchRequest {
    /// The query (trimmed) and the limit, checked.
    pub fn checked(&self) -> Validated<(String, u32)> {
        let query = self.query.trim();
        if query.is_empty() {
            return Err(ValidationError::new("query", "must not be empty"));
        }
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(ValidationError::new(
                "query",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let limit = self.limit.unwrap_or(DEFAULT_SEARCH_LIMIT);
        if !(1..=MAX_SEARCH_LIMIT).contains(&limit) {
            return Err(ValidationError::new(
                "limit",
                format!("must be between 1 and {MAX_SEARCH_LIMIT}, not {limit}"),
            ));
        }
        Ok((query.to_owned(), limit))
    }
}

/// One memory that matched, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemorySearchResult {
    #[serde(rename = "type")]
    pub kind: MemorySearchResultTag,
    pub memory_id: String,
    pub memory_store_id: String,
    pub memory_version_id: String,
    pub path: String,
    /// Up to about 200 characters of the content around the query's words.
    pub snippet: String,
    /// Relevance in (0, 1]: 1 for a memory that both the full-text and the vector ranking put
    /// first. Comparable within one answer only.
    pub score: f64,
    pub content_sha256: String,
    pub content_size_bytes: u64,
    pub updated_at: DateTime<Utc>,
}

/// The answer: `{"data": [...]}`, best first (not paginated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemorySearchResults {
    pub data: Vec<MemorySearchResult>,
}
