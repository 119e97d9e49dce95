//! Memory versions: written with every memory write ([`crate::memories`]), listed, redacted and
//! pruned here.

use berth_store::{
    DocumentQuery, MemoryOperation, MemoryRow, MemoryVersionQuery, MemoryVersionRow,
    MemoryVersionStamp, RedactVersion, StoreError, StoreResult,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::documents::push_filters;
use crate::pool::backend;

const COLUMNS: &str = "id, tenant_id, store_id, memory_id, operation, path, content, \
                       content_sha256, size_bytes, actor, created_at, redacted_at, redacted_by";
/// [`COLUMNS`] with the content left out (read as NULL).
const COLUMNS_NO_CONTENT: &str = "id, tenant_id, store_id, memory_id, operation, path, NULL, \
                                  content_sha256, size_bytes, actor, created_at, redacted_at, \
                                  redacted_by";

/// A row, or `Corrupt` when its operation is not one Berth writes.
fn version(row: &Row<'_>) -> rusqlite::Result<StoreResult<MemoryVersionRow>> {
    let operation: String = row.get(4)?;
    let operation = match MemoryOperation::parse(&operation) {
        Ok(operation) => operation,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(MemoryVersionRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        store_id: row.get(2)?,
        memory_id: row.get(3)?,
        operation,
        path: row.get(5)?,
        content: row.get(6)?,
        content_sha256: row.get(7)?,
        size_bytes: row.get(8)?,
        actor: row.get(9)?,
        created_at: row.get(10)?,
        redacted_at: row.get(11)?,
        redacted_by: row.get(12)?,
    }))
}

/// Records `memory` as it is after (or, for a deletion, before) the write the stamp names.
pub fn insert_version(
    conn: &Connection,
    memory: &MemoryRow,
    operation: MemoryOperation,
    stamp: &MemoryVersionStamp,
) -> StoreResult<()> {
    // A deletion records where the memory was, not what it said: its content stays only in
    // the earlier versions (and goes with their redaction).
    let kept = operation != MemoryOperation::Deleted;
    conn.prepare_cached(&format!(
        "INSERT INTO memory_versions ({COLUMNS})
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, NULL, NULL)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            stamp.id,
            memory.tenant_id,
            memory.store_id,
            memory.id,
            operation.as_str(),
            memory.path,
            kept.then_some(&memory.content),
            kept.then_some(&memory.content_sha256),
            kept.then_some(memory.size_bytes),
            stamp.actor,
            stamp.created_at
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    id: &str,
) -> StoreResult<Option<MemoryVersionRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memory_versions WHERE id = ?1 AND tenant_id = ?2 AND store_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(params![id, tenant_id, store_id], version)
            .optional()
    })
    .map_err(backend)?
    .transpose()
}

pub fn list(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    query: &MemoryVersionQuery,
) -> StoreResult<Vec<MemoryVersionRow>> {
    let columns = if query.with_content {
        COLUMNS
    } else {
        COLUMNS_NO_CONTENT
    };
    let mut sql =
        format!("SELECT {columns} FROM memory_versions WHERE store_id = ?1 AND tenant_id = ?2");
    let mut values = vec![
        Value::Text(store_id.to_owned()),
        Value::Text(tenant_id.to_owned()),
    ];
    if let Some(memory_id) = &query.memory_id {
        values.push(Value::Text(memory_id.clone()));
        sql.push_str(&format!(" AND memory_id = ?{}", values.len()));
    }
    if let Some(operation) = query.operation {
        values.push(Value::Text(operation.as_str().to_owned()));
        sql.push_str(&format!(" AND operation = ?{}", values.len()));
    }
    if let Some(actor) = &query.actor {
        values.push(Value::Text(actor.clone()));
        sql.push_str(&format!(" AND actor = ?{}", values.len()));
    }
    // Versions are never archived; this keeps the filter from asking for the column.
    let page = DocumentQuery {
        include_archived: true,
        ..query.page.clone()
    };
    push_filters(&mut sql, &mut values, &page, "id");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values), version)
        .map_err(backend)?;
    rows.map(|r| r.map_err(backend)?).collect()
}

pub fn redact(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    by: &str,
    at: i64,
) -> StoreResult<RedactVersion> {
    let Some(version) = get(conn, tenant_id, store_id, id)? else {
        return Ok(RedactVersion::NotFound);
    };
    if version.redacted_at.is_some() {
        return Ok(RedactVersion::Redacted(Box::new(version)));
    }
    let head: Option<String> = conn
        .prepare_cached("SELECT version_id FROM memories WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row(params![version.memory_id], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    if head.as_deref() == Some(id) {
        return Ok(RedactVersion::LiveHead);
    }
    conn.prepare_cached(
        "UPDATE memory_versions SET path = NULL, content = NULL, content_sha256 = NULL,
             size_bytes = NULL, redacted_at = ?2, redacted_by = ?3
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, at, by]))
    .map_err(backend)?;
    get(conn, tenant_id, store_id, id)?
        .map(|redacted| RedactVersion::Redacted(Box::new(redacted)))
        .ok_or_else(|| StoreError::Backend(format!("memory version {id} vanished while redacted")))
}

/// Deletes old versions that a newer version of the same memory supersedes; a live memory's
/// current version is kept even if a clock skewed between replicas gave it the smaller id.
pub fn prune(conn: &Connection, older_than: i64) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM memory_versions
             WHERE created_at < ?1
               AND EXISTS (SELECT 1 FROM memory_versions newer
                           WHERE newer.memory_id = memory_versions.memory_id
                             AND newer.id > memory_versions.id)
               AND NOT EXISTS (SELECT 1 FROM memories m
                               WHERE m.id = memory_versions.memory_id
                                 AND m.version_id = memory_versions.id)",
        )
        .and_then(|mut s| s.execute(params![older_than]))
        .map_err(backend)?;
    Ok(n as u64)
}
