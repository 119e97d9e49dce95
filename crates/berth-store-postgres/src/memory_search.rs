//! Memory search's reads: `tsvector` matches ranked by `ts_rank`, stored vectors, and the
//! upkeep of vectors from another embedder. The `search` column is generated (migration 0007),
//! so it changes in the statement that writes the memory; vectors are written by
//! [`write_vector`] in the memory's transaction.

use async_trait::async_trait;
use berth_store::{
    MemoryEmbedding, MemoryRow, MemorySearchStore, MemoryTextHit, MemoryToEmbed, MemoryVectorRow,
    MemoryVectorSignature, StoreResult,
};

use deadpool_postgres::GenericClient;

use crate::PostgresStore;
use crate::connect::pg;
use crate::memory_rows::{COLUMNS, memory};

/// Stores a memory's vector, or removes it when the write brought none (the index catches up).
pub(crate) async fn write_vector<C: GenericClient>(
    tx: &C,
    memory: &MemoryRow,
    embedding: Option<&MemoryEmbedding>,
) -> StoreResult<()> {
    replace_vector(
        tx,
        [&memory.id, &memory.tenant_id, &memory.store_id],
        embedding,
    )
    .await
}

/// [`write_vector`] for the memory `[id, tenant_id, store_id]`. Replaced, not updated: the new
/// row's `seq` is what tells caches the vector changed.
async fn replace_vector<C: GenericClient>(
    tx: &C,
    [memory_id, tenant_id, store_id]: [&str; 3],
    embedding: Option<&MemoryEmbedding>,
) -> StoreResult<()> {
    let delete = tx
        .prepare_cached("DELETE FROM memory_vectors WHERE memory_id = $1")
        .await
        .map_err(pg)?;
    tx.execute(&delete, &[&memory_id]).await.map_err(pg)?;
    if let Some(e) = embedding {
        let insert = tx
            .prepare_cached(
                "INSERT INTO memory_vectors (memory_id, tenant_id, store_id, model, vector)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .await
            .map_err(pg)?;
        tx.execute(
            &insert,
            &[&memory_id, &tenant_id, &store_id, &e.model, &e.vector],
        )
        .await
        .map_err(pg)?;
    }
    Ok(())
}

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
                "SELECT memory_id, vector FROM memory_vectors
                 WHERE store_id = $1 AND model = $3 AND tenant_id = $2",
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
                vector: r.get(1),
            })
            .collect())
    }

    async fn memory_vector_signature(
        &self,
        tenant_id: &str,
        store_id: &str,
        model: &str,
    ) -> StoreResult<MemoryVectorSignature> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT COUNT(*), COALESCE(SUM(seq), 0)::bigint, COALESCE(MAX(seq), 0)
                 FROM memory_vectors WHERE store_id = $1 AND model = $3 AND tenant_id = $2",
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_one(&stmt, &[&store_id, &tenant_id, &model])
            .await
            .map_err(pg)?;
        Ok(MemoryVectorSignature {
            count: row.get(0),
            seq_sum: row.get(1),
            seq_max: row.get(2),
        })
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
                "SELECT m.id, m.content_sha256, m.content FROM memories m
                 WHERE NOT EXISTS (SELECT 1 FROM memory_vectors v
                                   WHERE v.memory_id = m.id AND v.model = $1)
                 ORDER BY m.id LIMIT $2",
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // Locked, so a write of new content waits for this one (and then replaces the vector).
        let stmt = tx
            .prepare_cached(
                "SELECT tenant_id, store_id FROM memories
                 WHERE id = $1 AND content_sha256 = $2 FOR UPDATE",
            )
            .await
            .map_err(pg)?;
        let Some(row) = tx
            .query_opt(&stmt, &[&id, &content_sha256])
            .await
            .map_err(pg)?
        else {
            return Ok(false);
        };
        let (tenant_id, store_id): (String, String) = (row.get(0), row.get(1));
        replace_vector(&tx, [id, &tenant_id, &store_id], Some(embedding)).await?;
        tx.commit().await.map_err(pg)?;
        Ok(true)
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
