//! Memories. Memory stores are documents ([`crate::documents`]); deleting one deletes its
//! memories and versions through the foreign keys' `ON DELETE CASCADE`.
//!
//! Each write runs as one job of the single writer, so its checks (store, path, count,
//! precondition) and its two rows (memory and version) are atomic, and concurrent writes to one
//! memory apply one after the other. A job that answers anything but a write has written
//! nothing, so committing it is harmless.

use berth_store::{
    DeleteMemory, MemoryChange, MemoryOperation, MemoryQuery, MemoryRow, MemoryVersionStamp,
    MemoryWrite, NewMemory, SortOrder, StoreResult, prefix_upper_bound,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use crate::memory_rows::{COLUMNS, COLUMNS_NO_CONTENT, memory};
use crate::memory_search::write_vector;
use crate::memory_versions::insert_version;
use crate::pool::backend;
use crate::sql::Sql;

/// Whether the store exists in the tenant and takes writes (is not archived).
fn store_is_writable(conn: &Connection, tenant_id: &str, store_id: &str) -> StoreResult<bool> {
    let archived_at: Option<Option<i64>> = conn
        .prepare_cached("SELECT archived_at FROM memory_stores WHERE id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![store_id, tenant_id], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    Ok(matches!(archived_at, Some(None)))
}

/// The id of the memory at `path` in the store, if any.
fn path_owner(conn: &Connection, store_id: &str, path: &str) -> StoreResult<Option<String>> {
    conn.prepare_cached("SELECT id FROM memories WHERE store_id = ?1 AND path = ?2")
        .and_then(|mut s| {
            s.query_row(params![store_id, path], |r| r.get(0))
                .optional()
        })
        .map_err(backend)
}

pub fn create(
    conn: &Connection,
    new: &NewMemory,
    stamp: &MemoryVersionStamp,
    max_per_store: u32,
) -> StoreResult<MemoryWrite> {
    if !store_is_writable(conn, &new.tenant_id, &new.store_id)? {
        return Ok(MemoryWrite::NoStore);
    }
    if let Some(existing_id) = path_owner(conn, &new.store_id, &new.path)? {
        return Ok(MemoryWrite::PathTaken { existing_id });
    }
    let held: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM memories WHERE store_id = ?1")
        .and_then(|mut s| s.query_row(params![new.store_id], |r| r.get(0)))
        .map_err(backend)?;
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
    conn.prepare_cached(&format!(
        "INSERT INTO memories ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            row.id,
            row.tenant_id,
            row.store_id,
            row.path,
            row.content,
            row.content_sha256,
            row.size_bytes,
            row.version_id,
            row.created_at,
            row.updated_at
        ])
    })
    .map_err(backend)?;
    write_vector(conn, &row, new.content.embedding.as_ref())?;
    insert_version(conn, &row, MemoryOperation::Created, stamp)?;
    Ok(MemoryWrite::Written(row))
}

pub fn update(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    change: &MemoryChange,
    expected_sha256: Option<&str>,
    stamp: &MemoryVersionStamp,
) -> StoreResult<MemoryWrite> {
    if !store_is_writable(conn, tenant_id, store_id)? {
        return Ok(MemoryWrite::NoStore);
    }
    let Some(current) = get(conn, tenant_id, store_id, id)? else {
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
        && let Some(existing_id) = path_owner(conn, store_id, &next.path)?
    {
        return Ok(MemoryWrite::PathTaken { existing_id });
    }
    next.version_id = stamp.id.clone();
    next.updated_at = stamp.created_at;
    conn.prepare_cached(
        "UPDATE memories SET path = ?2, content = ?3, content_sha256 = ?4, size_bytes = ?5,
             version_id = ?6, updated_at = ?7
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            next.id,
            next.path,
            next.content,
            next.content_sha256,
            next.size_bytes,
            next.version_id,
            next.updated_at
        ])
    })
    .map_err(backend)?;
    // A new content brings its own vector (or none, until the index catches up).
    if let Some(content) = &change.content {
        write_vector(conn, &next, content.embedding.as_ref())?;
    }
    insert_version(conn, &next, MemoryOperation::Modified, stamp)?;
    Ok(MemoryWrite::Written(next))
}

pub fn delete(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    id: &str,
    expected_sha256: Option<&str>,
    stamp: &MemoryVersionStamp,
) -> StoreResult<DeleteMemory> {
    if !store_is_writable(conn, tenant_id, store_id)? {
        return Ok(DeleteMemory::NoStore);
    }
    let Some(current) = get(conn, tenant_id, store_id, id)? else {
        return Ok(DeleteMemory::NotFound);
    };
    if let Some(expected) = expected_sha256
        && expected != current.content_sha256
    {
        return Ok(DeleteMemory::PreconditionFailed {
            current_sha256: current.content_sha256,
        });
    }
    conn.prepare_cached("DELETE FROM memories WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id]))
        .map_err(backend)?;
    insert_version(conn, &current, MemoryOperation::Deleted, stamp)?;
    Ok(DeleteMemory::Deleted)
}

pub fn get(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    id: &str,
) -> StoreResult<Option<MemoryRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories WHERE id = ?1 AND tenant_id = ?2 AND store_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(params![id, tenant_id, store_id], memory)
            .optional()
    })
    .map_err(backend)
}

pub fn get_by_path(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    path: &str,
) -> StoreResult<Option<MemoryRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM memories WHERE store_id = ?1 AND path = ?2 AND tenant_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(params![store_id, path, tenant_id], memory)
            .optional()
    })
    .map_err(backend)
}

pub fn list(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    query: &MemoryQuery,
) -> StoreResult<Vec<MemoryRow>> {
    let columns = if query.with_content {
        COLUMNS
    } else {
        COLUMNS_NO_CONTENT
    };
    let mut sql = Sql::new(
        format!("SELECT {columns} FROM memories WHERE store_id = ?1 AND tenant_id = ?2"),
        vec![
            Value::Text(store_id.to_owned()),
            Value::Text(tenant_id.to_owned()),
        ],
    );
    if let Some(prefix) = &query.path_prefix {
        sql.bind(" AND path >= ", Value::Text(prefix.clone()));
        if let Some(bound) = prefix_upper_bound(prefix) {
            sql.bind(" AND path < ", Value::Text(bound));
        }
    }
    let descending = query.order == SortOrder::Desc;
    if let Some(after) = &query.after {
        let cmp = if descending {
            " AND path < "
        } else {
            " AND path > "
        };
        sql.bind(cmp, Value::Text(after.clone()));
    }
    sql.push(if descending {
        " ORDER BY path DESC"
    } else {
        " ORDER BY path ASC"
    });
    sql.push(&format!(" LIMIT {}", query.limit));
    let mut stmt = conn.prepare_cached(&sql.text).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.values), memory)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn count(conn: &Connection, tenant_id: &str, store_id: &str) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM memories WHERE store_id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| s.query_row(params![store_id, tenant_id], |r| r.get(0)))
        .map_err(backend)?;
    Ok(n.unsigned_abs())
}

pub fn recent(
    conn: &Connection,
    tenant_id: &str,
    store_id: &str,
    limit: u32,
) -> StoreResult<Vec<MemoryRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM memories WHERE store_id = ?1 AND tenant_id = ?2
             ORDER BY updated_at DESC, id DESC LIMIT ?3"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![store_id, tenant_id, limit], memory)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}
