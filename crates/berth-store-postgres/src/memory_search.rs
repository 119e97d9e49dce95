//! Memory search's reads: `tsvector` matches ranked by `ts_rank`, stored vectors, and the
//! upkeep of vectors from another embedder. The `search` column is generated (migration 0007),
//! so it changes in the statement that writes the memory.

use async_trait::async_trait;
use berth_store::{
    MemoryEmbedding, MemoryRow, MemorySearchStore, MemoryTextHit, MemoryToEmbed, MemoryVectorRow,
    StoreResult,
};

use crate::PostgresStore;
use crate::connect::pg;
use crate::memories::{COLUMNS, memory};

/// A `to_tsquery` text matching any of the terms. Terms keep only letters and digits, so
/// nothing in them can be read as a tsquery operator.
fn match_any(terms: &[String]) -> Option<String> {
    let words: Vec<String> = terms
        .iter()
        .map(|t| {
            t.chars()
                .filter(|c| c.is_alphanumeric())
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .collect();
    (!words.is_empty()).then(|| words.join(" | "))
}

#[async_trait]
impl MemorySearchStore for PostgresStore {
    async fn search_memories_text(
        &self,
        tenant_id: &str,
        store_id: &str,
        terms: &[String],
        limit: u32,
    ) -> StoreResult<Vec<MemoryTextHit>> {
        let Some(query) = match_any(terms) else {
            return Ok(Vec::new());
        };
        let client = self.client().await?;
        // Normalisation 1 divides the rank by 1 + log(length), so long memories do not win by
        // repeating a word.
        let stmt = client
            .prepare_cached(
                "SELECT id, path, ts_rank(search, q, 1)::float8 AS rank
                 FROM memories, to_tsquery('english'::regconfig, $1) AS q
                 WHERE store_id = $2 AND tenant_id = $3 AND search @@ q
                 ORDER BY rank DESC, id LIMIT $4",
            )
            .await
            .map_err(pg)?;
        let rows = client
            .query(&stmt, &[&query, &store_id, &tenant_id, &i64::from(limit)])
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| MemoryTextHit {
                id: r.get(0),
                path: r.get(1),
                score: r.get(2),
            })
            .collect())
    }

    async fn memory_vectors(
        &self,
        tenant_id: &str,
        store_id: &str,
        model: &str,
    ) -> StoreResult<Vec<MemoryVectorRow>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, path, embedding FROM memories
                 WHERE store_id = $1 AND tenant_id = $2 AND embedding_model = $3",
            )
            .await
            .map_err(pg)?;
        let rows = client
            .query(&stmt, &[&store_id, &tenant_id, &model])
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| MemoryVectorRow {
                id: r.get(0),
                path: r.get(1),
                vector: r.get(2),
            })
            .collect())
    }

    async fn memories_by_ids(
        &self,
        tenant_id: &str,
        store_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<MemoryRow>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM memories
                 WHERE store_id = $1 AND tenant_id = $2 AND id = ANY($3)"
            ))
            .await
            .map_err(pg)?;
        let rows = client
            .query(&stmt, &[&store_id, &tenant_id, &ids])
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(memory).collect())
    }

    async fn memories_to_embed(&self, model: &str, limit: u32) -> StoreResult<Vec<MemoryToEmbed>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT id, content_sha256, content FROM memories
                 WHERE embedding_model IS DISTINCT FROM $1
                 ORDER BY id LIMIT $2",
            )
            .await
            .map_err(pg)?;
        let rows = client
            .query(&stmt, &[&model, &i64::from(limit)])
            .await
            .map_err(pg)?;
        Ok(rows
            .iter()
            .map(|r| MemoryToEmbed {
                id: r.get(0),
                content_sha256: r.get(1),
                content: r.get(2),
            })
            .collect())
    }

    async fn set_memory_embedding(
        &self,
        id: &str,
        content_sha256: &str,
        embedding: &MemoryEmbedding,
    ) -> StoreResult<bool> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "UPDATE memories SET embedding = $3, embedding_model = $4
                 WHERE id = $1 AND content_sha256 = $2",
            )
            .await
            .map_err(pg)?;
        let changed = client
            .execute(
                &stmt,
                &[&id, &content_sha256, &embedding.vector, &embedding.model],
            )
            .await
            .map_err(pg)?;
        Ok(changed == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::match_any;

    #[test]
    fn terms_keep_letters_and_digits_and_join_with_or() {
        assert_eq!(
            match_any(&["deploy".into(), "a&b|c".into(), "v2".into()]).as_deref(),
            Some("deploy | abc | v2")
        );
        assert_eq!(match_any(&["!:*".into()]), None);
    }
}
