//! Tenants and API keys.

use berth_store::{ApiKeyRow, DocumentQuery, NewApiKey, RevokeOutcome, StoreResult, TenantRow};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::documents::page_clause;
use crate::pool::backend;

const KEY_COLUMNS: &str =
    "id, tenant_id, name, prefix, hash, is_admin, source, created_at, last_used_at";

fn key_row(row: &Row<'_>) -> rusqlite::Result<ApiKeyRow> {
    Ok(ApiKeyRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        name: row.get(2)?,
        prefix: row.get(3)?,
        hash: row.get(4)?,
        is_admin: row.get(5)?,
        source: row.get(6)?,
        created_at: row.get(7)?,
        last_used_at: row.get(8)?,
    })
}

fn tenant_row(row: &Row<'_>) -> rusqlite::Result<TenantRow> {
    Ok(TenantRow {
        id: row.get(0)?,
        name: row.get(1)?,
        created_at: row.get(2)?,
    })
}

pub fn insert_tenant(conn: &Connection, tenant: &TenantRow) -> StoreResult<()> {
    conn.prepare_cached("INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)")
        .and_then(|mut s| s.execute(params![tenant.id, tenant.name, tenant.created_at]))
        .map_err(backend)?;
    Ok(())
}

pub fn get_tenant(conn: &Connection, id: &str) -> StoreResult<Option<TenantRow>> {
    conn.prepare_cached("SELECT id, name, created_at FROM tenants WHERE id = ?1")
        .and_then(|mut s| s.query_row(params![id], tenant_row).optional())
        .map_err(backend)
}

pub fn list_tenants(conn: &Connection, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>> {
    let (clause, order) = page_clause(query, "id", 1);
    let sql = format!(
        "SELECT id, name, created_at FROM tenants WHERE 1 = 1 {clause} ORDER BY id {order} LIMIT {}",
        query.limit
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = match &query.after {
        Some(after) => stmt.query_map(params![after], tenant_row),
        None => stmt.query_map([], tenant_row),
    }
    .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn upsert_api_key(conn: &Connection, key: &NewApiKey) -> StoreResult<String> {
    conn.prepare_cached(
        "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, is_admin, source, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (hash) DO UPDATE SET
             revoked_at = NULL, tenant_id = excluded.tenant_id, is_admin = excluded.is_admin,
             source = excluded.source, name = excluded.name
         RETURNING id",
    )
    .and_then(|mut s| {
        s.query_row(
            params![
                key.id,
                key.tenant_id,
                key.name,
                key.prefix,
                key.hash,
                key.is_admin,
                key.source,
                key.created_at
            ],
            |row| row.get(0),
        )
    })
    .map_err(backend)
}

pub fn find_api_key(conn: &Connection, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>> {
    conn.prepare_cached(&format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1 AND revoked_at IS NULL"
    ))
    .and_then(|mut s| s.query_row(params![hash], key_row).optional())
    .map_err(backend)
}

pub fn list_api_keys(
    conn: &Connection,
    tenant_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<ApiKeyRow>> {
    let (clause, order) = page_clause(query, "id", 2);
    let sql = format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?1 AND revoked_at IS NULL {clause}
         ORDER BY id {order} LIMIT {}",
        query.limit
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = match &query.after {
        Some(after) => stmt.query_map(params![tenant_id, after], key_row),
        None => stmt.query_map(params![tenant_id], key_row),
    }
    .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn revoke_api_key(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> StoreResult<RevokeOutcome> {
    let exists: Option<i64> = conn
        .prepare_cached(
            "SELECT 1 FROM api_keys WHERE tenant_id = ?1 AND id = ?2 AND revoked_at IS NULL",
        )
        .and_then(|mut s| s.query_row(params![tenant_id, id], |r| r.get(0)).optional())
        .map_err(backend)?;
    if exists.is_none() {
        return Ok(RevokeOutcome::NotFound);
    }
    let active: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM api_keys WHERE tenant_id = ?1 AND revoked_at IS NULL")
        .and_then(|mut s| s.query_row(params![tenant_id], |r| r.get(0)))
        .map_err(backend)?;
    if active <= 1 {
        return Ok(RevokeOutcome::LastActiveKey);
    }
    conn.prepare_cached("UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND id = ?2")
        .and_then(|mut s| s.execute(params![tenant_id, id, now]))
        .map_err(backend)?;
    Ok(RevokeOutcome::Revoked)
}

pub fn revoke_keys_from_source(
    conn: &Connection,
    tenant_id: &str,
    source: &str,
    keep_id: &str,
    now: i64,
) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = ?4
             WHERE tenant_id = ?1 AND source = ?2 AND id <> ?3 AND revoked_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![tenant_id, source, keep_id, now]))
        .map_err(backend)?;
    Ok(n as u64)
}

pub fn touch_api_key(conn: &Connection, id: &str, now: i64) -> StoreResult<()> {
    conn.prepare_cached("UPDATE api_keys SET last_used_at = ?2 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![id, now]))
        .map_err(backend)?;
    Ok(())
}
