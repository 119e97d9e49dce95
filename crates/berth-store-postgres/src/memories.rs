//! Memories. Memory stores are documents; deleting one deletes its memories and versions
//! through the foreign keys' `ON DELETE CASCADE`.
//!
//! Writes run in one transaction each (the caller commits on a write and drops it otherwise)
//! and take row locks in one order, store before memory, so they cannot deadlock:
//! - writes that claim a path (create, rename) lock the store row `FOR NO KEY UPDATE`, which
//!   queues them behind each other, so the path check and the 2,000-memory count hold until
//!   commit. `NO KEY` because the version rows every write inserts take `FOR KEY SHARE` on the
//!   store (their foreign key) and must not wait on it;
//! - writes to an existing memory lock its row `FOR UPDATE`, so concurrent updates apply one
//!   after another on the latest state: each records a version, the last one's result stays.

use berth_store::{
    DeleteMemory, MemoryChange, MemoryOperation, MemoryQuery, MemoryRow, MemoryVersionStamp,
    MemoryWrite, NewMemory, SortOrder, StoreResult, prefix_upper_bound,
};
use deadpool_postgres::GenericClient;

use crate::connect::pg;
use crate::memory_rows::{COLUMNS, COLUMNS_NO_CONTENT, memory};
use crate::memory_search::write_vector;
use crate::memory_versions::insert_version;
use crate::rows::{Param, refs};

/// How a write holds the store row while it checks it.
#[derive(Clone, Copy)]
enum StoreLock {
    /// Claims a path: queue behind other path claims until commit.
    ClaimPath,
    /// Edits or deletes an existing memory, whose own row lock is enough.
    Unlocked,
}

/// Whether the store exists in the tenant and takes writes (is not archived).
async fn store_is_writable<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    store_id: &str,
    lock: StoreLock,
) -> StoreResult<bool> {
    let sql = match lock {
        StoreLock::ClaimPath => {
            "SELECT archived_at FROM memory_stores WHERE id = $1 AND tenant_id = $2
             FOR NO KEY UPDATE"
        }
        StoreLock::Unlocked => {
            "SELECT archived_at FROM memory_stores WHERE id = $1 AND tenant_id = $2"
        }
    };
    let stmt = tx.prepare_cached(sql).await.map_err(pg)?;
    let row = tx
        .query_opt(&stmt, &[&store_id, &tenant_id])
        .await
        .map_err(pg)?;
    Ok(row.is_some_and(|r| r.get::<_, Option<i64>>(0).is_none()))
}

async fn path_owner<C: GenericClient>(
    tx: &C,
    store_id: &str,
    path: &str,
) -> StoreResult<Option<String>> {
    let stmt = tx
        .prepare_cached("SELECT id FROM memories WHERE store_id = $1 AND path = $2")
        .await
        .map_err(pg)?;
    let row = tx.query_opt(&stmt, &[&store_id, &path]).await.map_err(pg)?;
    Ok(row.map(|r| r.get(0)))
}

/// The memory, locked until the transaction ends.
async fn lock_memory<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
) -> StoreResult<Option<MemoryRow>> {
    let stmt = tx
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memories WHERE id = $1 AND tenant_id = $2 AND store_id = $3
             FOR UPDATE"
        ))
        .await
        .map_err(pg)?;
    let row = tx
        .query_opt(&stmt, &[&id, &tenant_id, &store_id])
        .await
        .map_err(pg)?;
    Ok(row.as_ref().map(memory))
}

/// Must run in a transaction, committed only on [`MemoryWrite::Written`].
pub async fn create<C: GenericClient>(
    tx: &C,
    new: &NewMemory,
    stamp: &MemoryVersionStamp,
    max_per_store: u32,
) -> StoreResult<MemoryWrite> {
    if !store_is_writable(tx, &new.tenant_id, &new.store_id, StoreLock::ClaimPath).await? {
        return Ok(MemoryWrite::NoStore);
    }
    if let Some(existing_id) = path_owner(tx, &new.store_id, &new.path).await? {
        return Ok(MemoryWrite::PathTaken { existing_id });
    }
    let count = tx
        .prepare_cached("SELECT COUNT(*) FROM memories WHERE store_id = $1")
        .await
        .map_err(pg)?;
    let held: i64 = tx
        .query_one(&count, &[&new.store_id])
        .await
        .map_err(pg)?
        .get(0);
    if held >= i64::from(max_per_store) {
        return Ok(MemoryWrite::StoreFull);
    }
    let row = MemoryRow {
        id: new.id.clone(),
        tenant_id: new.tenant_id.clone(),
        store_id: new.store_id.clone(),
        path: new.path.clone(),
        content: new.content.text.clone(),
        content_sha256: new.content.sha256.clone(),
        size_bytes: new.content.size_bytes,
        version_id: stamp.id.clone(),
        created_at: stamp.created_at,
        updated_at: stamp.created_at,
    };
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO memories ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &row.id,
            &row.tenant_id,
            &row.store_id,
            &row.path,
            &row.content,
            &row.content_sha256,
            &row.size_bytes,
            &row.version_id,
            &row.created_at,
            &row.updated_at,
        ],
    )
    .await
    .map_err(pg)?;
    write_vector(tx, &row, new.content.embedding.as_ref()).await?;
    insert_version(tx, &row, MemoryOperation::Created, stamp).await?;
    Ok(MemoryWrite::Written(row))
}

/// Must run in a transaction, committed only on [`MemoryWrite::Written`].
pub async fn update<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    change: &MemoryChange,
    expected_sha256: Option<&str>,
    stamp: &MemoryVersionStamp,
) -> StoreResult<MemoryWrite> {
    let lock = if change.path.is_some() {
        StoreLock::ClaimPath
    } else {
        StoreLock::Unlocked
    };
    if !store_is_writable(tx, tenant_id, store_id, lock).await? {
        return Ok(MemoryWrite::NoStore);
    }
    let Some(current) = lock_memory(tx, tenant_id, store_id, id).await? else {
        return Ok(MemoryWrite::NotFound);
    };
    if let Some(expected) = expected_sha256
        && expected != current.content_sha256
    {
        return Ok(MemoryWrite::PreconditionFailed {
            current_sha256: current.content_sha256,
        });
    }
    let Some(mut next) = change.apply_to(&current) else {
        return Ok(MemoryWrite::Unchanged(current));
    };
    if next.path != current.path
        && let Some(existing_id) = path_owner(tx, store_id, &next.path).await?
    {
        return Ok(MemoryWrite::PathTaken { existing_id });
    }
    next.version_id = stamp.id.clone();
    next.updated_at = stamp.created_at;
    let stmt = tx
        .prepare_cached(
            "UPDATE memories SET path = $2, content = $3, content_sha256 = $4, size_bytes = $5,
                 version_id = $6, updated_at = $7
             WHERE id = $1",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &next.id,
            &next.path,
            &next.content,
            &next.content_sha256,
            &next.size_bytes,
            &next.version_id,
            &next.updated_at,
        ],
    )
    .await
    .map_err(pg)?;
    // A new content brings its own vector (or none, until the index catches up).
    if let Some(content) = &change.content {
        write_vector(tx, &next, content.embedding.as_ref()).await?;
    }
    insert_version(tx, &next, MemoryOperation::Modified, stamp).await?;
    Ok(MemoryWrite::Written(next))
}

/// Must run in a transaction, committed only on [`DeleteMemory::Deleted`].
pub async fn delete<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    expected_sha256: Option<&str>,
    stamp: &MemoryVersionStamp,
) -> StoreResult<DeleteMemory> {
    if !store_is_writable(tx, tenant_id, store_id, StoreLock::Unlocked).await? {
        return Ok(DeleteMemory::NoStore);
    }
    let Some(current) = lock_memory(tx, tenant_id, store_id, id).await? else {
        return Ok(DeleteMemory::NotFound);
    };
    if let Some(expected) = expected_sha256
        && expected != current.content_sha256
    {
        return Ok(DeleteMemory::PreconditionFailed {
            current_sha256: current.content_sha256,
        });
    }
    let stmt = tx
        .prepare_cached("DELETE FROM memories WHERE id = $1")
        .await
        .map_err(pg)?;
    tx.execute(&stmt, &[&id]).await.map_err(pg)?;
    insert_version(tx, &current, MemoryOperation::Deleted, stamp).await?;
    Ok(DeleteMemory::Deleted)
}

pub async fn get<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
    id: &str,
) -> StoreResult<Option<MemoryRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memories WHERE id = $1 AND tenant_id = $2 AND store_id = $3"
        ))
        .await
        .map_err(pg)?;
    let row = client
        .query_opt(&stmt, &[&id, &tenant_id, &store_id])
        .await
        .map_err(pg)?;
    Ok(row.as_ref().map(memory))
}

pub async fn get_by_path<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
    path: &str,
) -> StoreResult<Option<MemoryRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memories WHERE store_id = $1 AND path = $2 AND tenant_id = $3"
        ))
        .await
        .map_err(pg)?;
    let row = client
        .query_opt(&stmt, &[&store_id, &path, &tenant_id])
        .await
        .map_err(pg)?;
    Ok(row.as_ref().map(memory))
}

pub async fn list<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
    query: &MemoryQuery,
) -> StoreResult<Vec<MemoryRow>> {
    let columns = if query.with_content {
        COLUMNS
    } else {
        COLUMNS_NO_CONTENT
    };
    let mut sql = format!("SELECT {columns} FROM memories WHERE store_id = $1 AND tenant_id = $2");
    let mut params: Vec<Param> = vec![
        Box::new(store_id.to_owned()),
        Box::new(tenant_id.to_owned()),
    ];
    if let Some(prefix) = &query.path_prefix {
        params.push(Box::new(prefix.clone()));
        sql.push_str(&format!(" AND path >= ${}", params.len()));
        if let Some(bound) = prefix_upper_bound(prefix) {
            params.push(Box::new(bound));
            sql.push_str(&format!(" AND path < ${}", params.len()));
        }
    }
    let (cmp, order) = match query.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    if let Some(after) = &query.after {
        params.push(Box::new(after.clone()));
        sql.push_str(&format!(" AND path {cmp} ${}", params.len()));
    }
    sql.push_str(&format!(" ORDER BY path {order} LIMIT {}", query.limit));
    let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
    let rows = client.query(&stmt, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(memory).collect())
}

pub async fn count<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
) -> StoreResult<u64> {
    let stmt = client
        .prepare_cached("SELECT COUNT(*) FROM memories WHERE store_id = $1 AND tenant_id = $2")
        .await
        .map_err(pg)?;
    let n: i64 = client
        .query_one(&stmt, &[&store_id, &tenant_id])
        .await
        .map_err(pg)?
        .get(0);
    Ok(n.unsigned_abs())
}

pub async fn recent<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    store_id: &str,
    limit: u32,
) -> StoreResult<Vec<MemoryRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memories WHERE store_id = $1 AND tenant_id = $2
             ORDER BY updated_at DESC, id DESC LIMIT $3"
        ))
        .await
        .map_err(pg)?;
    let rows = client
        .query(&stmt, &[&store_id, &tenant_id, &i64::from(limit)])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(memory).collect())
}
