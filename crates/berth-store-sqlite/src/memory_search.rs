//! Memory search's reads: FTS5 matches joined back to their memories, stored vectors, and the
//! upkeep of vectors from another embedder. The FTS5 index itself is kept by triggers
//! (migration 0007), inside each memory write's transaction; vectors are written by
//! [`write_vector`] in that transaction too.

use async_trait::async_trait;
use berth_store::{
    MemoryEmbedding, MemoryRow, MemorySearchStore, MemoryTextHit, MemoryToEmbed, MemoryVectorRow,
    MemoryVectorSignature, StoreResult,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::memory_rows::{COLUMNS, memory};
use crate::pool::backend;

/// Stores a memory's vector, or removes it when the write brought none (the index catches up).
pub(crate) fn write_vector(
    conn: &Connection,
    memory: &MemoryRow,
    embedding: Option<&MemoryEmbedding>,
) -> StoreResult<()> {
    replace_vector(
        conn,
        [&memory.id, &memory.tenant_id, &memory.store_id],
        embedding,
    )
}

/// [`write_vector`] for the memory `[id, tenant_id, store_id]`.
fn replace_vector(
    conn: &Connection,
    [memory_id, tenant_id, store_id]: [&str; 3],
    embedding: Option<&MemoryEmbedding>,
) -> StoreResult<()> {
    // Replaced, not updated: the new row's `seq` is what tells caches the vector changed.
    conn.prepare_cached("DELETE FROM memory_vectors WHERE memory_id = ?1")
        .and_then(|mut s| s.execute(params![memory_id]))
        .map_err(backend)?;
    if let Some(e) = embedding {
        conn.prepare_cached(
            "INSERT INTO memory_vectors (memory_id, tenant_id, store_id, model, vector)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| s.execute(params![memory_id, tenant_id, store_id, e.model, e.vector]))
        .map_err(backend)?;
    }
    Ok(())
}

/// Path matches weigh more than content matches (paths name what a memory is about).
const PATH_WEIGHT: f64 = 4.0;

/// An FTS5 query matching any of the terms, each a quoted string (so no term is read as an
/// operator or a column filter).
fn match_any(terms: &[String]) -> Option<String> {
    let quoted: Vec<String> = terms
        .iter()
        .filter(|t| !t.trim().is_empty())
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    (!quoted.is_empty()).then(|| quoted.join(" OR "))
}

#[async_trait]
impl MemorySearchStore for SqliteStore {
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
        let (tenant_id, store_id) = (tenant_id.to_owned(), store_id.to_owned());
        self.pool
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT m.id, m.path, bm25(memories_fts, ?4, 1.0) AS rank
                         FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid
                         WHERE memories_fts MATCH ?1 AND m.store_id = ?2 AND m.tenant_id = ?3
                         ORDER BY rank LIMIT ?5",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(
                        params![query, store_id, tenant_id, PATH_WEIGHT, limit],
                        |r| {
                            Ok(MemoryTextHit {
                                id: r.get(0)?,
                                path: r.get(1)?,
                                // bm25() is lower for better matches.
                                score: -r.get::<_, f64>(2)?,
                            })
                        },
                    )
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn memory_vectors(
        &self,
        tenant_id: &str,
        store_id: &str,
        model: &str,
    ) -> StoreResult<Vec<MemoryVectorRow>> {
        let (tenant_id, store_id, model) =
            (tenant_id.to_owned(), store_id.to_owned(), model.to_owned());
        self.pool
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT memory_id, vector FROM memory_vectors
                         WHERE store_id = ?1 AND model = ?3 AND tenant_id = ?2",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![store_id, tenant_id, model], |r| {
                        Ok(MemoryVectorRow {
                            id: r.get(0)?,
                            vector: r.get(1)?,
                        })
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn memory_vector_signature(
        &self,
        tenant_id: &str,
        store_id: &str,
        model: &str,
    ) -> StoreResult<MemoryVectorSignature> {
        let (tenant_id, store_id, model) =
            (tenant_id.to_owned(), store_id.to_owned(), model.to_owned());
        self.pool
            .read(move |c| {
                c.prepare_cached(
                    "SELECT COUNT(*), COALESCE(SUM(seq), 0), COALESCE(MAX(seq), 0)
                     FROM memory_vectors WHERE store_id = ?1 AND model = ?3 AND tenant_id = ?2",
                )
                .and_then(|mut s| {
                    s.query_row(params![store_id, tenant_id, model], |r| {
                        Ok(MemoryVectorSignature {
                            count: r.get(0)?,
                            seq_sum: r.get(1)?,
                            seq_max: r.get(2)?,
                        })
                    })
                })
                .map_err(backend)
            })
            .await
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
        let mut values = vec![
            Value::Text(store_id.to_owned()),
            Value::Text(tenant_id.to_owned()),
        ];
        values.extend(ids.iter().cloned().map(Value::Text));
        let placeholders = (3..values.len() + 1)
            .map(|i| format!("?{i}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {COLUMNS} FROM memories
             WHERE store_id = ?1 AND tenant_id = ?2 AND id IN ({placeholders})"
        );
        self.pool
            .read(move |c| {
                let mut stmt = c.prepare(&sql).map_err(backend)?;
                let rows = stmt
                    .query_map(rusqlite::params_from_iter(values), memory)
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn memories_to_embed(&self, model: &str, limit: u32) -> StoreResult<Vec<MemoryToEmbed>> {
        let model = model.to_owned();
        self.pool
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT m.id, m.content_sha256, m.content FROM memories m
                         WHERE NOT EXISTS (SELECT 1 FROM memory_vectors v
                                           WHERE v.memory_id = m.id AND v.model = ?1)
                         ORDER BY m.seq LIMIT ?2",
                    )
                    .map_err(backend)?;
                let rows = stmt
                    .query_map(params![model, limit], |r| {
                        Ok(MemoryToEmbed {
                            id: r.get(0)?,
                            content_sha256: r.get(1)?,
                            content: r.get(2)?,
                        })
                    })
                    .map_err(backend)?;
                rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
            })
            .await
    }

    async fn set_memory_embedding(
        &self,
        id: &str,
        content_sha256: &str,
        embedding: &MemoryEmbedding,
    ) -> StoreResult<bool> {
        let (id, sha, embedding) = (id.to_owned(), content_sha256.to_owned(), embedding.clone());
        self.pool
            .write(move |c| {
                let owner: Option<(String, String)> = c
                    .prepare_cached(
                        "SELECT tenant_id, store_id FROM memories
                         WHERE id = ?1 AND content_sha256 = ?2",
                    )
                    .and_then(|mut s| {
                        s.query_row(params![id, sha], |r| Ok((r.get(0)?, r.get(1)?)))
                            .optional()
                    })
                    .map_err(backend)?;
                let Some((tenant_id, store_id)) = owner else {
                    return Ok(false);
                };
                replace_vector(c, [&id, &tenant_id, &store_id], Some(&embedding))?;
                Ok(true)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::match_any;

    #[test]
    fn terms_are_quoted_and_joined_with_or() {
        assert_eq!(
            match_any(&["deploy".into(), "NEAR".into(), "a\"b".into()]).as_deref(),
            Some("\"deploy\" OR \"NEAR\" OR \"a\"\"b\"")
        );
        assert_eq!(match_any(&[" ".into()]), None);
    }
}
