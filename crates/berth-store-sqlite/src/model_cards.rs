//! Model cards.

use berth_store::{DocumentQuery, ModelCardRow, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::documents::page_clause;
use crate::pool::backend;

const COLUMNS: &str = "id, tenant_id, model_id, provider, version, created_at, updated_at, body, \
                       sealed, is_default, archived_at";

fn card(row: &Row<'_>) -> rusqlite::Result<ModelCardRow> {
    Ok(ModelCardRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        model_id: row.get(2)?,
        provider: row.get(3)?,
        version: row.get(4)?,
        created_at: row.get(5)?,
        updated_at: row.get(6)?,
        body: row.get(7)?,
        sealed: row.get(8)?,
        is_default: row.get(9)?,
        archived_at: row.get(10)?,
    })
}

/// Clears the tenant's default before `c` takes it.
fn clear_default(conn: &Connection, c: &ModelCardRow) -> StoreResult<()> {
    if c.is_default {
        conn.prepare_cached(
            "UPDATE model_cards SET is_default = FALSE
             WHERE tenant_id = ?1 AND is_default AND id <> ?2",
        )
        .and_then(|mut s| s.execute(params![c.tenant_id, c.id]))
        .map_err(backend)?;
    }
    Ok(())
}

pub fn insert(conn: &Connection, c: &ModelCardRow) -> StoreResult<()> {
    clear_default(conn, c)?;
    conn.prepare_cached(&format!(
        "INSERT INTO model_cards ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            c.id,
            c.tenant_id,
            c.model_id,
            c.provider,
            c.version,
            c.created_at,
            c.updated_at,
            c.body,
            c.sealed,
            c.is_default,
            c.archived_at
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn default_card(conn: &Connection, tenant_id: &str) -> StoreResult<Option<ModelCardRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM model_cards
         WHERE tenant_id = ?1 AND is_default AND archived_at IS NULL"
    ))
    .and_then(|mut s| s.query_row(params![tenant_id], card).optional())
    .map_err(backend)
}

pub fn get(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM model_cards WHERE id = ?1 AND tenant_id = ?2"
    ))
    .and_then(|mut s| s.query_row(params![id, tenant_id], card).optional())
    .map_err(backend)
}

pub fn find(
    conn: &Connection,
    tenant_id: &str,
    model_id: &str,
) -> StoreResult<Option<ModelCardRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM model_cards
         WHERE tenant_id = ?1 AND model_id = ?2 AND archived_at IS NULL"
    ))
    .and_then(|mut s| s.query_row(params![tenant_id, model_id], card).optional())
    .map_err(backend)
}

pub fn list(
    conn: &Connection,
    tenant_id: &str,
    provider: Option<&str>,
    query: &DocumentQuery,
) -> StoreResult<Vec<ModelCardRow>> {
    let (clause, order) = page_clause(query, "id", 3);
    let sql = format!(
        "SELECT {COLUMNS} FROM model_cards WHERE tenant_id = ?1 AND (?2 IS NULL OR provider = ?2) \
         AND archived_at IS NULL {clause} ORDER BY id {order} LIMIT {}",
        query.limit
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = match &query.after {
        Some(after) => stmt.query_map(params![tenant_id, provider, after], card),
        None => stmt.query_map(params![tenant_id, provider], card),
    }
    .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn replace(conn: &Connection, c: &ModelCardRow, expected_version: i64) -> StoreResult<bool> {
    let current: Option<i64> = conn
        .prepare_cached("SELECT version FROM model_cards WHERE id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![c.id, c.tenant_id], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    if current != Some(expected_version) {
        return Ok(false);
    }
    clear_default(conn, c)?;
    let n = conn
        .prepare_cached(
            "UPDATE model_cards SET model_id = ?3, provider = ?4, version = ?5, updated_at = ?6,
                 body = ?7, sealed = ?8, is_default = ?10, archived_at = ?11
             WHERE id = ?1 AND tenant_id = ?2 AND version = ?9",
        )
        .and_then(|mut s| {
            s.execute(params![
                c.id,
                c.tenant_id,
                c.model_id,
                c.provider,
                c.version,
                c.updated_at,
                c.body,
                c.sealed,
                expected_version,
                c.is_default,
                c.archived_at
            ])
        })
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn delete(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM model_cards WHERE id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| s.execute(params![id, tenant_id]))
        .map_err(backend)?;
    Ok(n > 0)
}
