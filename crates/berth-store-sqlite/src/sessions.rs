//! Sessions: create, read, list, change, archive, delete.

use berth_store::session_rules::LogTail;
use berth_store::{
    ChangeOutcome, DeleteSessionOutcome, NewEvent, SessionChange, SessionQuery, SessionRow,
    SessionStatus, SortOrder, StoreResult, StoredEvent, UsageTotals,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::events::append;
use crate::pool::backend;
use crate::sql::{Sql, status_at};

const COLUMNS: &str = "id, tenant_id, agent_id, agent_version, environment_id, status, version, \
    body, private, created_at, updated_at, archived_at, last_seq, pending_inputs, usage_input, \
    usage_output, usage_cache_read, usage_cache_write, active_micros, turn_started_at";

fn session(row: &Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: row.get(0)?,
        tenant_id: row.get(1)?,
        agent_id: row.get(2)?,
        agent_version: row.get(3)?,
        environment_id: row.get(4)?,
        status: status_at(row, 5)?,
        version: row.get(6)?,
        body: row.get(7)?,
        private: row.get(8)?,
        created_at: row.get(9)?,
        updated_at: row.get(10)?,
        archived_at: row.get(11)?,
        last_seq: row.get(12)?,
        pending_inputs: row.get(13)?,
        usage: UsageTotals {
            input_tokens: row.get(14)?,
            output_tokens: row.get(15)?,
            cache_read_input_tokens: row.get(16)?,
            cache_creation_input_tokens: row.get(17)?,
        },
        active_micros: row.get(18)?,
        turn_started_at: row.get(19)?,
    })
}

pub fn create(
    conn: &Connection,
    row: &SessionRow,
    memory_store_ids: &[String],
    events: &[NewEvent],
) -> StoreResult<Vec<StoredEvent>> {
    conn.prepare_cached(&format!(
        "INSERT INTO sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, \
         ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
    ))
    .and_then(|mut s| {
        s.execute(params![
            row.id,
            row.tenant_id,
            row.agent_id,
            row.agent_version,
            row.environment_id,
            row.status.as_str(),
            row.version,
            row.body,
            row.private,
            row.created_at,
            row.updated_at,
            row.archived_at,
            0i64,
            0i64,
            row.usage.input_tokens,
            row.usage.output_tokens,
            row.usage.cache_read_input_tokens,
            row.usage.cache_creation_input_tokens,
            row.active_micros,
            row.turn_started_at,
        ])
    })
    .map_err(backend)?;
    record_memory_stores(conn, &row.id, memory_store_ids)?;
    let mut tail = LogTail::new(0, 0);
    let stored = append(conn, &row.id, events, row.created_at, &mut tail)?;
    conn.prepare_cached("UPDATE sessions SET last_seq = ?2, pending_inputs = ?3 WHERE id = ?1")
        .and_then(|mut s| s.execute(params![row.id, tail.last_seq, tail.pending_inputs]))
        .map_err(backend)?;
    Ok(stored)
}

pub fn get(conn: &Connection, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM sessions WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL"
    ))
    .and_then(|mut s| s.query_row(params![id, tenant_id], session).optional())
    .map_err(backend)
}

pub fn list(
    conn: &Connection,
    tenant_id: &str,
    query: &SessionQuery,
) -> StoreResult<Vec<SessionRow>> {
    let mut sql = Sql::new(
        format!("SELECT {COLUMNS} FROM sessions WHERE tenant_id = ?1 AND deleted_at IS NULL"),
        vec![Value::Text(tenant_id.to_owned())],
    );
    if !query.include_archived {
        sql.push(" AND archived_at IS NULL");
    }
    if let Some(from) = query.created_from {
        sql.bind(" AND created_at >= ", Value::Integer(from));
    }
    if let Some(until) = query.created_until {
        sql.bind(" AND created_at < ", Value::Integer(until));
    }
    if let Some(agent) = &query.agent_id {
        sql.bind(" AND agent_id = ", Value::Text(agent.clone()));
    }
    if let Some(version) = query.agent_version {
        sql.bind(" AND agent_version = ", Value::Integer(version));
    }
    if let Some(env) = &query.environment_id {
        sql.bind(" AND environment_id = ", Value::Text(env.clone()));
    }
    if let Some(store) = &query.memory_store_id {
        sql.bind(
            " AND id IN (SELECT session_id FROM session_memory_stores WHERE memory_store_id = ",
            Value::Text(store.clone()),
        );
        sql.push(")");
    }
    if !query.statuses.is_empty() {
        let statuses: Vec<String> = query
            .statuses
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect();
        sql.bind_list(" AND status IN ", &statuses);
    }
    // A `before` cursor scans away from the cursor in the opposite direction; the caller
    // reverses those rows back into list order.
    let descending = match (&query.before, query.order) {
        (Some(_), order) => order == SortOrder::Asc,
        (None, order) => order == SortOrder::Desc,
    };
    if let Some(key) = query.before.as_ref().or(query.after.as_ref()) {
        let cmp = if descending {
            " AND id < "
        } else {
            " AND id > "
        };
        sql.bind(cmp, Value::Text(key.clone()));
    }
    sql.push(if descending {
        " ORDER BY id DESC"
    } else {
        " ORDER BY id ASC"
    });
    sql.push(&format!(" LIMIT {}", query.limit));
    let mut stmt = conn.prepare_cached(&sql.text).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.values), session)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn change(conn: &Connection, change: &SessionChange) -> StoreResult<ChangeOutcome> {
    let current: Option<(i64, SessionStatus, i64)> = conn
        .prepare_cached(
            "SELECT version, status, last_seq FROM sessions
             WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row(params![change.id, change.tenant_id], |r| {
                Ok((r.get(0)?, status_at(r, 1)?, r.get(2)?))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((version, status, last_seq)) = current else {
        return Ok(ChangeOutcome::NotFound);
    };
    if version != change.expected_version {
        return Ok(ChangeOutcome::Stale);
    }
    if change.require_idle && status.is_busy() {
        return Ok(ChangeOutcome::Running);
    }
    if let Some(stores) = &change.memory_store_ids {
        conn.prepare_cached("DELETE FROM session_memory_stores WHERE session_id = ?1")
            .and_then(|mut s| s.execute(params![change.id]))
            .map_err(backend)?;
        record_memory_stores(conn, &change.id, stores)?;
    }
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(conn, &change.id, &change.events, change.now, &mut tail)?;
    let last_seq = tail.last_seq;
    conn.prepare_cached(
        "UPDATE sessions SET body = ?2, version = version + 1, updated_at = ?3, last_seq = ?4,
             private = COALESCE(?5, private)
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            change.id,
            change.body,
            change.now,
            last_seq,
            change.private
        ])
    })
    .map_err(backend)?;
    Ok(ChangeOutcome::Applied(stored))
}

/// Records which memory stores a session has among its resources.
fn record_memory_stores(conn: &Connection, session_id: &str, ids: &[String]) -> StoreResult<()> {
    let mut insert = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO session_memory_stores (session_id, memory_store_id)
             VALUES (?1, ?2)",
        )
        .map_err(backend)?;
    for id in ids {
        insert.execute(params![session_id, id]).map_err(backend)?;
    }
    Ok(())
}

pub fn archive(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    now: i64,
    events: &[NewEvent],
) -> StoreResult<Option<Vec<StoredEvent>>> {
    let current: Option<(Option<i64>, i64)> = conn
        .prepare_cached(
            "SELECT archived_at, last_seq FROM sessions
             WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row(params![id, tenant_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(backend)?;
    let Some((archived_at, last_seq)) = current else {
        return Ok(None);
    };
    if archived_at.is_some() {
        return Ok(Some(Vec::new()));
    }
    conn.prepare_cached(
        "UPDATE session_events SET cancelled_at = ?2
         WHERE session_id = ?1 AND processed_at IS NULL AND cancelled_at IS NULL",
    )
    .and_then(|mut s| s.execute(params![id, now]))
    .map_err(backend)?;
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(conn, id, events, now, &mut tail)?;
    conn.prepare_cached(
        "UPDATE sessions SET archived_at = ?2, updated_at = ?2, status = ?3, pending_inputs = 0,
             last_seq = ?4
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            id,
            now,
            SessionStatus::Terminated.as_str(),
            tail.last_seq
        ])
    })
    .map_err(backend)?;
    Ok(Some(stored))
}

pub fn delete(
    conn: &Connection,
    tenant_id: &str,
    id: &str,
    now: i64,
    events: &[NewEvent],
) -> StoreResult<DeleteSessionOutcome> {
    let current: Option<(SessionStatus, i64)> = conn
        .prepare_cached(
            "SELECT status, last_seq FROM sessions
             WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row(params![id, tenant_id], |r| {
                Ok((status_at(r, 0)?, r.get(1)?))
            })
            .optional()
        })
        .map_err(backend)?;
    let Some((status, last_seq)) = current else {
        return Ok(DeleteSessionOutcome::NotFound);
    };
    if status.is_busy() {
        return Ok(DeleteSessionOutcome::Running);
    }
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(conn, id, events, now, &mut tail)?;
    let last_seq = tail.last_seq;
    conn.prepare_cached(
        "UPDATE session_events SET cancelled_at = ?2
         WHERE session_id = ?1 AND processed_at IS NULL AND cancelled_at IS NULL",
    )
    .and_then(|mut s| s.execute(params![id, now]))
    .map_err(backend)?;
    conn.prepare_cached(
        "UPDATE sessions SET deleted_at = ?2, updated_at = ?2, status = 'terminated',
             pending_inputs = 0, last_seq = ?3, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![id, now, last_seq]))
    .map_err(backend)?;
    // The sandbox's user is free for another session.
    conn.prepare_cached("DELETE FROM sandbox_users WHERE session_id = ?1")
        .and_then(|mut s| s.execute(params![id]))
        .map_err(backend)?;
    Ok(DeleteSessionOutcome::Deleted(stored))
}
