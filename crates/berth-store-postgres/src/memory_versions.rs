//! Memory versions: written with every memory write ([`crate::memories`]), listed, redacted and
//! pruned here.

use berth_store::{
    DocumentQuery, MemoryOperation, MemoryRow, MemoryVersionQuery, MemoryVersionRow,
    MemoryVersionStamp, RedactVersion, StoreError, StoreResult,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::rows::{Param, push_filters, refs};

const COLUMNS: &str = "id, tenant_id, store_id, memory_id, operation, path, content, \
                       content_sha256, size_bytes, actor, created_at, redacted_at, redacted_by";
/// [`COLUMNS`] with the content left out (read as NULL).
const COLUMNS_NO_CONTENT: &str = "id, tenant_id, store_id, memory_id, operation, path, \
                                  NULL::text, content_sha256, size_bytes, actor, created_at, \
                                  redacted_at, redacted_by";

/// A row, or `Corrupt` when its operation is not one Berth writes.
fn version(row: &Row) -> StoreResult<MemoryVersionRow> {
    Ok(MemoryVersionRow {
        id: row.get(0),
        tenant_id: row.get(1),
        store_id: row.get(2),
        memory_id: row.get(3),
        operation: MemoryOperation::parse(row.get(4))?,
        path: row.get(5),
        content: row.get(6),
        content_sha256: row.get(7),
        size_bytes: row.get(8),
        actor: row.get(9),
        created_at: row.get(10),
        redacted_at: row.get(11),
        redacted_by: row.get(12),
    })
}

/// Records `memory` as it is after (or, for a deletion, before) the write the stamp names.
pub async fn insert_version<C: GenericClient>(
    tx: &C,
    memory: &MemoryRow,
    operation: MemoryOperation,
    stamp: &MemoryVersionStamp,
) -> StoreResult<()> {
    // A deletion records where the memory was, not what it said: its content stays only in
    // the earlier versions (and goes with their redaction).
    let kept = operation != MemoryOperation::Deleted;
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO memory_versions ({COLUMNS})
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL)"
        ))
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &stamp.id,
            &memory.tenant_id,
            &memory.store_id,
            &memory.id,
            &operation.as_str(),
            &memory.path,
            &kept.then_some(&memory.content),
            &kept.then_some(&memory.content_sha256),
            &kept.then_some(memory.size_bytes),
            &stamp.actor,
            &stamp.created_at,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// The version; `for_update` locks it until the transaction ends.
async fn read<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    for_update: bool,
) -> StoreResult<Option<MemoryVersionRow>> {
    let lock = if for_update { " FOR UPDATE" } else { "" };
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memory_versions
             WHERE id = $1 AND tenant_id = $2 AND store_id = $3{lock}"
        ))
        .await
        .map_err(pg)?;
    client
        .query_opt(&stmt, &[&id, &tenant_id, &store_id])
        .await
        .map_err(pg)?
        .as_ref()
        .map(version)
        .transpose()
}

pub async fn get<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
) -> StoreResult<Option<MemoryVersionRow>> {
    read(client, tenant_id, store_id, id, false).await
}

pub async fn list<C: GenericClient>(
    client: &C,
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
        format!("SELECT {columns} FROM memory_versions WHERE store_id = $1 AND tenant_id = $2");
    let mut params: Vec<Param> = vec![
        Box::new(store_id.to_owned()),
        Box::new(tenant_id.to_owned()),
    ];
    if let Some(memory_id) = &query.memory_id {
        params.push(Box::new(memory_id.clone()));
        sql.push_str(&format!(" AND memory_id = ${}", params.len()));
    }
    if let Some(operation) = query.operation {
        params.push(Box::new(operation.as_str().to_owned()));
        sql.push_str(&format!(" AND operation = ${}", params.len()));
    }
    if let Some(actor) = &query.actor {
        params.push(Box::new(actor.clone()));
        sql.push_str(&format!(" AND actor = ${}", params.len()));
    }
    let page = DocumentQuery {
        include_archived: true,
        ..query.page.clone()
    };
    push_filters(&mut sql, &mut params, &page, "id", false, false);
    let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
    let rows = client.query(&stmt, &refs(&params)).await.map_err(pg)?;
    rows.iter().map(version).collect()
}

/// Must run in a transaction (every outcome but a first redaction has written nothing, so the
/// caller may commit it regardless). The version's row lock makes concurrent redactions of one
/// version agree on who redacted it.
pub async fn redact<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    by: &str,
    at: i64,
) -> StoreResult<RedactVersion> {
    let Some(current) = read(tx, tenant_id, store_id, id, true).await? else {
        return Ok(RedactVersion::NotFound);
    };
    if current.redacted_at.is_some() {
        return Ok(RedactVersion::Redacted(Box::new(current)));
    }
    // A memory's current version only ever moves to a newer one, so a version that is not the
    // head now cannot become it before this transaction commits.
    let head = tx
        .prepare_cached("SELECT version_id FROM memories WHERE id = $1")
        .await
        .map_err(pg)?;
    let head: Option<String> = tx
        .query_opt(&head, &[&current.memory_id])
        .await
        .map_err(pg)?
        .map(|r| r.get(0));
    if head.as_deref() == Some(id) {
        return Ok(RedactVersion::LiveHead);
    }
    let stmt = tx
        .prepare_cached(
            "UPDATE memory_versions SET path = NULL, content = NULL, content_sha256 = NULL,
                 size_bytes = NULL, redacted_at = $2, redacted_by = $3
             WHERE id = $1",
        )
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&id, &at, &by]).await.map_err(pg)?;
    let redacted = read(tx, tenant_id, store_id, id, false)
        .await?
        .ok_or_else(|| {
            StoreError::Backend(format!("memory version {id} vanished while redacted"))
        })?;
    Ok(RedactVersion::Redacted(Box::new(redacted)))
}

/// Deletes old versions that a newer version of the same memory supersedes; a live memory's
/// current version is kept even if a clock skewed between replicas gave it the smaller id.
pub async fn prune<C: GenericClient>(client: &C, older_than: i64) -> StoreResult<u64> {
    let stmt = client
        .prepare_cached(
            "DELETE FROM memory_versions v
             WHERE v.created_at < $1
               AND EXISTS (SELECT 1 FROM memory_versions newer
                           WHERE newer.memory_id = v.memory_id AND newer.id > v.id)
               AND NOT EXISTS (SELECT 1 FROM memories m
                               WHERE m.id = v.memory_id AND m.version_id = v.id)",
        )
        .await
        .map_err(pg)?;
    client.execute(&stmt, &[&older_than]).await.map_err(pg)
}
