//! Files and skills.

use berth_store::{DocumentQuery, FileQuery, FileRow, SkillRow, SkillVersionRow, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::documents::page_clause;
use crate::pool::backend;

const FILE_COLUMNS: &str =
    "id, tenant_id, scope_id, output_path, created_at, expires_at, size_bytes, body";

fn file(row: &Row<'_>) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        scope_id: row.get(2)?,
        output_path: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
        size_bytes: row.get(6)?,
        body: row.get(7)?,
    })
}

pub fn insert_file(conn: &Connection, f: &FileRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO files ({FILE_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            f.id,
            f.tenant_id,
            f.scope_id,
            f.output_path,
            f.created_at,
            f.expires_at,
            f.size_bytes,
            f.body
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn get_file(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    now: i64,
) -> StoreResult<Option<FileRow>> {
    conn.prepare_cached(&format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE id = ?1 AND tenant_id = ?2
             AND (expires_at IS NULL OR expires_at > ?3)"
    ))
    .and_then(|mut s| s.query_row(params![id, tenant_id, now], file).optional())
    .map_err(backend)
}

pub fn list_files(
    conn: &Connection,
    tenant_id: &str,
    query: &FileQuery,
    now: i64,
) -> StoreResult<Vec<FileRow>> {
    let mut values: Vec<Value> = vec![tenant_id.to_owned().into(), now.into()];
    let mut sql = format!(
        "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)"
    );
    if let Some(scope) = &query.scope_id {
        values.push(scope.clone().into());
        sql.push_str(&format!(" AND scope_id = ?{}", values.len()));
    }
    if let Some(ids) = &query.ids {
        let mut marks = Vec::new();
        for id in ids {
            values.push(id.clone().into());
            marks.push(format!("?{}", values.len()));
        }
        if marks.is_empty() {
            return Ok(Vec::new());
        }
        sql.push_str(&format!(" AND id IN ({})", marks.join(", ")));
    }
    let (clause, order) = page_clause(&query.page, "id", values.len() + 1);
    if let Some(after) = &query.page.after {
        values.push(after.clone().into());
        sql.push(' ');
        sql.push_str(&clause);
    }
    sql.push_str(&format!(" ORDER BY id {order} LIMIT {}", query.page.limit));
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = stmt
        .query_map(params_from_iter(values), file)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn scoped_files(
    conn: &Connection,
    tenant_id: &str,
    scope_id: &str,
) -> StoreResult<Vec<FileRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE tenant_id = ?1 AND scope_id = ?2 ORDER BY id"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![tenant_id, scope_id], file)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn replace_file(conn: &Connection, f: &FileRow) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE files SET scope_id = ?3, output_path = ?4, created_at = ?5, expires_at = ?6,
                 size_bytes = ?7, body = ?8
             WHERE id = ?1 AND tenant_id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                f.id,
                f.tenant_id,
                f.scope_id,
                f.output_path,
                f.created_at,
                f.expires_at,
                f.size_bytes,
                f.body
            ])
        })
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn delete_file(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM files WHERE id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| s.execute(params![id, tenant_id]))
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn expired_files(conn: &Connection, now: i64, limit: u32) -> StoreResult<Vec<FileRow>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {FILE_COLUMNS} FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?1
             ORDER BY expires_at LIMIT ?2"
        ))
        .map_err(backend)?;
    let rows = stmt.query_map(params![now, limit], file).map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

// ------------------------------------------------------------------ skills

const SKILL_COLUMNS: &str = "id, tenant_id, name, created_at, updated_at, version, body";
const VERSION_COLUMNS: &str = "skill_id, id, tenant_id, created_at, body, manifest";

fn skill(row: &Row<'_>) -> rusqlite::Result<SkillRow> {
    Ok(SkillRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        name: row.get(2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
        version: row.get(5)?,
        body: row.get(6)?,
    })
}

fn skill_version(row: &Row<'_>) -> rusqlite::Result<SkillVersionRow> {
    Ok(SkillVersionRow {
        skill_id: row.get(0)?,
        id: row.get(1)?,
        tenant_id: row.get(2)?,
        created_at: row.get(3)?,
        body: row.get(4)?,
        manifest: row.get(5)?,
    })
}

fn insert_version(conn: &Connection, v: &SkillVersionRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO skill_versions ({VERSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            v.skill_id,
            v.id,
            v.tenant_id,
            v.created_at,
            v.body,
            v.manifest
        ])
    })
    .map_err(backend)?;
    Ok(())
}

fn update_skill(conn: &Connection, s: &SkillRow, expected: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE skills SET updated_at = ?3, version = ?4, body = ?5
             WHERE id = ?1 AND tenant_id = ?2 AND version = ?6",
        )
        .and_then(|mut st| {
            st.execute(params![
                s.id,
                s.tenant_id,
                s.updated_at,
                s.version,
                s.body,
                expected
            ])
        })
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn insert_skill(conn: &Connection, s: &SkillRow, first: &SkillVersionRow) -> StoreResult<()> {
    conn.prepare_cached(&format!(
        "INSERT INTO skills ({SKILL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .and_then(|mut st| {
        st.execute(params![
            s.id,
            s.tenant_id,
            s.name,
            s.created_at,
            s.updated_at,
            s.version,
            s.body
        ])
    })
    .map_err(backend)?;
    insert_version(conn, first)
}

pub fn get_skill(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<Option<SkillRow>> {
    conn.prepare_cached(&format!(
        "SELECT {SKILL_COLUMNS} FROM skills WHERE id = ?1 AND tenant_id = ?2"
    ))
    .and_then(|mut s| s.query_row(params![id, tenant_id], skill).optional())
    .map_err(backend)
}

pub fn list_skills(
    conn: &Connection,
    tenant_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<SkillRow>> {
    let (clause, order) = page_clause(query, "id", 2);
    let sql = format!(
        "SELECT {SKILL_COLUMNS} FROM skills WHERE tenant_id = ?1 {clause} ORDER BY id {order} LIMIT {}",
        query.limit
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = match &query.after {
        Some(after) => stmt.query_map(params![tenant_id, after], skill),
        None => stmt.query_map(params![tenant_id], skill),
    }
    .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn add_skill_version(
    conn: &Connection,
    s: &SkillRow,
    v: &SkillVersionRow,
    expected: i64,
) -> StoreResult<bool> {
    if !update_skill(conn, s, expected)? {
        return Ok(false);
    }
    insert_version(conn, v)?;
    Ok(true)
}

pub fn get_skill_version(
    conn: &Connection,
    tenant_id: &str,
    skill_id: &str,
    version_id: &str,
) -> StoreResult<Option<SkillVersionRow>> {
    conn.prepare_cached(&format!(
        "SELECT {VERSION_COLUMNS} FROM skill_versions WHERE skill_id = ?1 AND id = ?2 AND tenant_id = ?3"
    ))
    .and_then(|mut s| s.query_row(params![skill_id, version_id, tenant_id], skill_version).optional())
    .map_err(backend)
}

pub fn list_skill_versions(
    conn: &Connection,
    tenant_id: &str,
    skill_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<SkillVersionRow>> {
    let (clause, order) = page_clause(query, "id", 3);
    let sql = format!(
        "SELECT {VERSION_COLUMNS} FROM skill_versions WHERE tenant_id = ?1 AND skill_id = ?2 {clause}
         ORDER BY id {order} LIMIT {}",
        query.limit
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend)?;
    let rows = match &query.after {
        Some(after) => stmt.query_map(params![tenant_id, skill_id, after], skill_version),
        None => stmt.query_map(params![tenant_id, skill_id], skill_version),
    }
    .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn delete_skill_version(
    conn: &Connection,
    s: &SkillRow,
    version_id: &str,
    expected: i64,
) -> StoreResult<bool> {
    if !update_skill(conn, s, expected)? {
        return Ok(false);
    }
    conn.prepare_cached(
        "DELETE FROM skill_versions WHERE skill_id = ?1 AND id = ?2 AND tenant_id = ?3",
    )
    .and_then(|mut st| st.execute(params![s.id, version_id, s.tenant_id]))
    .map_err(backend)?;
    Ok(true)
}

pub fn delete_skill(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<bool> {
    let n = conn
        .prepare_cached("DELETE FROM skills WHERE id = ?1 AND tenant_id = ?2")
        .and_then(|mut s| s.execute(params![id, tenant_id]))
        .map_err(backend)?;
    if n > 0 {
        conn.prepare_cached("DELETE FROM skill_versions WHERE skill_id = ?1 AND tenant_id = ?2")
            .and_then(|mut s| s.execute(params![id, tenant_id]))
            .map_err(backend)?;
    }
    Ok(n > 0)
}
