//! Vault credentials. Vaults themselves are documents ([`crate::documents`]); deleting one
//! deletes its credentials through the foreign key's `ON DELETE CASCADE`.

use berth_store::{CredentialInsert, CredentialRow, DocumentQuery, StoreResult};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::documents::page_clause;
use crate::pool::backend;

const COLUMNS: &str = "id, tenant_id, vault_id, auth_type, mcp_server_url, version, created_at, \
                       updated_at, archived_at, body, sealed";

fn credential(row: &Row<'_>) -> rusqlite::Result<CredentialRow> {
    Ok(CredentialRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        vault_id: row.get(2)?,
        auth_type: row.get(3)?,
        mcp_server_url: row.get(4)?,
        version: row.get(5)?,
        created_at: row.get(6)?,
        updated_at: row.get(7)?,
        archived_at: row.get(8)?,
        body: row.get(9)?,
        sealed: row.get(10)?,
    })
}

/// Whether `e` is the partial unique index on active URLs. A duplicate primary key reports
/// `SQLITE_CONSTRAINT_PRIMARYKEY` instead, and stays a plain conflict.
fn is_duplicate_url(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// Checks the vault and its size and inserts, all inside the caller's write job (the single
/// writer makes the check and the insert atomic).
pub fn insert(
    conn: &Connection,
    c: &CredentialRow,
    max_per_vault: u32,
) -> StoreResult<CredentialInsert> {
    let vault: Option<Option<i64>> = conn
        .prepare_cached("SELECT archived_at FROM vaults WHERE id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| {
            s.query_row(params![c.vault_id, c.tenant_id], |r| r.get(0))
                .optional()
        })
        .map_err(backend)?;
    if !matches!(vault, Some(None)) {
        return Ok(CredentialInsert::NoVault);
    }
    let held: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM vault_credentials WHERE vault_id = ?1")
        .and_then(|mut s| s.query_row(params![c.vault_id], |r| r.get(0)))
        .map_err(backend)?;
    if held >= i64::from(max_per_vault) {
        return Ok(CredentialInsert::VaultFull);
    }
    let inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO vault_credentials ({COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ))
        .and_then(|mut s| {
            s.execute(params![
                c.id,
                c.tenant_id,
                c.vault_id,
                c.auth_type,
                c.mcp_server_url,
                c.version,
                c.created_at,
                c.updated_at,
                c.archived_at,
                c.body,
                c.sealed
            ])
        });
    match inserted {
        Ok(_) => Ok(CredentialInsert::Inserted),
        Err(e) if is_duplicate_url(&e) => Ok(CredentialInsert::DuplicateUrl),
        Err(e) => Err(backend(e)),
    }
}

pub fn get(
    conn: &Connection,
    tenant_id: &str,
    vault_id: &str,
    id: &str,
) -> StoreResult<Option<CredentialRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM vault_credentials WHERE id = ?1 AND tenant_id = ?2 AND vault_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row(params![id, tenant_id, vault_id], credential)
            .optional()
    })
    .map_err(backend)
}

pub fn list(
    conn: &Connection,
    tenant_id: &str,
    vault_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<CredentialRow>> {
    let (clause, order) = page_clause(query, "id", 5);
    let archived = if query.include_archived {
        ""
    } else {
        "AND archived_at IS NULL"
    };
    // The creation-time bounds are bound even when unset, so the statement text stays fixed.
    let sql = format!(
        "SELECT {COLUMNS} FROM vault_credentials WHERE tenant_id = ?1 AND vault_id = ?2 {archived}
             AND (?3 IS NULL OR created_at >= ?3) AND (?4 IS NULL OR created_at < ?4)
         {clause} ORDER BY id {order} LIMIT {}",
        query.limit
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let (from, until) = (query.created_from, query.created_until);
    let rows = match &query.after {
        Some(after) => stmt.query_map(params![tenant_id, vault_id, from, until, after], credential),
        None => stmt.query_map(params![tenant_id, vault_id, from, until], credential),
    }
    .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

/// A unique-index violation (a duplicate active URL) surfaces as `StoreError::Conflict`.
pub fn replace(conn: &Connection, c: &CredentialRow, expected_version: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE vault_credentials SET auth_type = ?4, mcp_server_url = ?5, version = ?6,
                 updated_at = ?7, archived_at = ?8, body = ?9, sealed = ?10
             WHERE id = ?1 AND tenant_id = ?2 AND vault_id = ?3 AND version = ?11",
        )
        .and_then(|mut s| {
            s.execute(params![
                c.id,
                c.tenant_id,
                c.vault_id,
                c.auth_type,
                c.mcp_server_url,
                c.version,
                c.updated_at,
                c.archived_at,
                c.body,
                c.sealed,
                expected_version
            ])
        })
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn delete(conn: &Connection, tenant_id: &str, vault_id: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "DELETE FROM vault_credentials WHERE id = ?1 AND tenant_id = ?2 AND vault_id = ?3",
        )
        .and_then(|mut s| s.execute(params![id, tenant_id, vault_id]))
        .map_err(backend)?;
    Ok(n > 0)
}

/// One fixed statement per vault keeps the SQL cacheable; a session names only a few vaults.
/// Repeated ids are read once, as PostgreSQL's `= ANY` does.
pub fn of_vaults(
    conn: &Connection,
    tenant_id: &str,
    vault_ids: &[String],
) -> StoreResult<Vec<CredentialRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT c.id, c.tenant_id, c.vault_id, c.auth_type, c.mcp_server_url, c.version,
                    c.created_at, c.updated_at, c.archived_at, c.body, c.sealed
             FROM vault_credentials c JOIN vaults v ON v.id = c.vault_id
             WHERE c.vault_id = ?1 AND v.tenant_id = ?2 AND c.tenant_id = ?2
               AND v.archived_at IS NULL AND c.archived_at IS NULL",
        )
        .map_err(backend)?;
    let mut out = Vec::new();
    let mut unique: Vec<&str> = vault_ids.iter().map(String::as_str).collect();
    unique.sort_unstable();
    unique.dedup();
    for vault_id in unique {
        let rows = stmt
            .query_map(params![vault_id, tenant_id], credential)
            .map_err(backend)?;
        for row in rows {
            out.push(row.map_err(backend)?);
        }
    }
    Ok(out)
}
