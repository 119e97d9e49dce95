//! Documents: agents, environments, vaults and memory stores stored as rendered JSON, plus
//! agent version history.

use berth_store::{Collection, DeleteOutcome, Document, DocumentQuery, SortOrder, StoreResult};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::pool::backend;

const COLUMNS: &str = "id, tenant_id, version, created_at, updated_at, archived_at, body";

fn document(row: &Row<'_>) -> rusqlite::Result<Document> {
    Ok(Document {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        version: row.get(2)?,
        created_at: row.get(3)?,
        updated_at: row.get(4)?,
        archived_at: row.get(5)?,
        body: row.get(6)?,
    })
}

/// The cursor condition and ORDER BY direction for a page on `key`, with the cursor bound as
/// parameter `?{param}`. Built from fixed fragments, so the SQL text stays cacheable.
pub fn page_clause(query: &DocumentQuery, key: &str, param: usize) -> (String, &'static str) {
    let (cmp, order) = match query.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    let clause = if query.after.is_some() {
        format!("AND {key} {cmp} ?{param}")
    } else {
        String::new()
    };
    (clause, order)
}

pub fn insert(conn: &Connection, collection: Collection, doc: &Document) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO {} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        collection.table()
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| {
            s.execute(params![
                doc.id,
                doc.tenant_id,
                doc.version,
                doc.created_at,
                doc.updated_at,
                doc.archived_at,
                doc.body
            ])
        })
        .map_err(backend)?;
    if collection.keeps_history() {
        insert_version(conn, doc)?;
    }
    Ok(())
}

fn insert_version(conn: &Connection, doc: &Document) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO agent_versions (agent_id, tenant_id, version, created_at, updated_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut s| {
        s.execute(params![
            doc.id,
            doc.tenant_id,
            doc.version,
            doc.created_at,
            doc.updated_at,
            doc.body
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn get(
    conn: &Connection,
    collection: Collection,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<Document>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM {} WHERE id = ?1 AND tenant_id = ?2",
        collection.table()
    );
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.query_row(params![id, tenant_id], document).optional())
        .map_err(backend)
}

pub fn list(
    conn: &Connection,
    collection: Collection,
    tenant_id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<Document>> {
    let mut sql = format!(
        "SELECT {COLUMNS} FROM {} WHERE tenant_id = ?1",
        collection.table()
    );
    let mut values: Vec<Value> = vec![Value::Text(tenant_id.to_owned())];
    push_filters(&mut sql, &mut values, query, "id");
    run_list(conn, &sql, values)
}

/// Adds archive, creation-time and cursor conditions plus ORDER/LIMIT, binding values in order.
pub fn push_filters(sql: &mut String, values: &mut Vec<Value>, query: &DocumentQuery, key: &str) {
    if query.only_archived {
        sql.push_str(" AND archived_at IS NOT NULL");
    } else if !query.include_archived {
        sql.push_str(" AND archived_at IS NULL");
    }
    if let Some(from) = query.created_from {
        values.push(Value::Integer(from));
        sql.push_str(&format!(" AND created_at >= ?{}", values.len()));
    }
    if let Some(until) = query.created_until {
        values.push(Value::Integer(until));
        sql.push_str(&format!(" AND created_at < ?{}", values.len()));
    }
    let (cmp, order) = match query.order {
        SortOrder::Asc => (">", "ASC"),
        SortOrder::Desc => ("<", "DESC"),
    };
    if let Some(after) = &query.after {
        // Version cursors are numbers; id cursors are text.
        values.push(match after.parse::<i64>() {
            Ok(n) if key == "version" => Value::Integer(n),
            _ => Value::Text(after.clone()),
        });
        sql.push_str(&format!(" AND {key} {cmp} ?{}", values.len()));
    }
    sql.push_str(&format!(" ORDER BY {key} {order} LIMIT {}", query.limit));
}

fn run_list(conn: &Connection, sql: &str, values: Vec<Value>) -> StoreResult<Vec<Document>> {
    let mut stmt = conn.prepare_cached(sql).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values), document)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn replace(
    conn: &Connection,
    collection: Collection,
    doc: &Document,
    expected_version: i64,
) -> StoreResult<bool> {
    let sql = format!(
        "UPDATE {} SET version = ?3, updated_at = ?4, archived_at = ?5, body = ?6
         WHERE id = ?1 AND tenant_id = ?2 AND version = ?7",
        collection.table()
    );
    let changed = conn
        .prepare_cached(&sql)
        .and_then(|mut s| {
            s.execute(params![
                doc.id,
                doc.tenant_id,
                doc.version,
                doc.updated_at,
                doc.archived_at,
                doc.body,
                expected_version
            ])
        })
        .map_err(backend)?;
    if changed == 0 {
        return Ok(false);
    }
    if collection.keeps_history() {
        if doc.version != expected_version {
            insert_version(conn, doc)?;
        } else {
            // Same version (e.g. archiving): keep the history row in step with the current body.
            conn.prepare_cached(
                "UPDATE agent_versions SET body = ?3, updated_at = ?4 WHERE agent_id = ?1 AND version = ?2",
            )
            .and_then(|mut s| s.execute(params![doc.id, doc.version, doc.body, doc.updated_at]))
            .map_err(backend)?;
        }
    }
    Ok(true)
}

pub fn delete(
    conn: &Connection,
    collection: Collection,
    tenant_id: &str,
    id: &str,
) -> StoreResult<DeleteOutcome> {
    if collection == Collection::Environments {
        let in_use: Option<i64> = conn
            .prepare_cached(
                "SELECT 1 FROM sessions WHERE environment_id = ?1 AND tenant_id = ?2
                   AND archived_at IS NULL AND deleted_at IS NULL LIMIT 1",
            )
            .and_then(|mut s| s.query_row(params![id, tenant_id], |r| r.get(0)).optional())
            .map_err(backend)?;
        if in_use.is_some() {
            return Ok(DeleteOutcome::InUse);
        }
    }
    let sql = format!(
        "DELETE FROM {} WHERE id = ?1 AND tenant_id = ?2",
        collection.table()
    );
    let n = conn
        .prepare_cached(&sql)
        .and_then(|mut s| s.execute(params![id, tenant_id]))
        .map_err(backend)?;
    Ok(if n == 0 {
        DeleteOutcome::NotFound
    } else {
        DeleteOutcome::Deleted
    })
}

pub fn get_version(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    version: i64,
) -> StoreResult<Option<Document>> {
    conn.prepare_cached(
        "SELECT v.agent_id, v.tenant_id, v.version, v.created_at, v.updated_at, a.archived_at, v.body
         FROM agent_versions v JOIN agents a ON a.id = v.agent_id
         WHERE v.agent_id = ?1 AND v.tenant_id = ?2 AND v.version = ?3",
    )
    .and_then(|mut s| s.query_row(params![id, tenant_id, version], document).optional())
    .map_err(backend)
}

pub fn list_versions(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    query: &DocumentQuery,
) -> StoreResult<Vec<Document>> {
    let mut sql = String::from(
        "SELECT agent_id, tenant_id, version, created_at, updated_at, NULL, body
         FROM agent_versions WHERE agent_id = ?1 AND tenant_id = ?2",
    );
    let mut values = vec![
        Value::Text(id.to_owned()),
        Value::Text(tenant_id.to_owned()),
    ];
    let query = DocumentQuery {
        include_archived: true,
        ..query.clone()
    };
    push_filters(&mut sql, &mut values, &query, "version");
    run_list(conn, &sql, values)
}

pub fn current_versions(
    conn: &Connection,
    tenant_id: &str,
    ids: &[String],
) -> StoreResult<Vec<(String, i64)>> {
    let mut stmt = conn
        .prepare_cached("SELECT version FROM agents WHERE id = ?1 AND tenant_id = ?2")
        .map_err(backend)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let version: Option<i64> = stmt
            .query_row(params![id, tenant_id], |r| r.get(0))
            .optional()
            .map_err(backend)?;
        if let Some(v) = version {
            out.push((id.clone(), v));
        }
    }
    Ok(out)
}
