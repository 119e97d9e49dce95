//! The event log: appending, reading and context (the runner's side is in `runner.rs`).

use berth_store::session_rules::{self, LogTail, SessionHead};
use berth_store::{
    AppendOutcome, ByteBudget, CancelledInput, ContextScope, EventQuery, NewEvent, SortOrder,
    StoreResult, StoredEvent,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::pool::backend;
use crate::sql::{Sql, kind_at, status_at};

pub(crate) const COLUMNS: &str =
    "session_id, seq, id, type, body, private, created_at, processed_at, cancelled_at, ctx_order";

pub(crate) fn event(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        session_id: row.get(0)?,
        seq: row.get(1)?,
        id: row.get(2)?,
        kind: kind_at(row, 3)?,
        body: row.get(4)?,
        private: row.get(5)?,
        created_at: row.get(6)?,
        processed_at: row.get(7)?,
        cancelled_at: row.get(8)?,
        ctx_order: row.get(9)?,
    })
}

/// Appends events at the log's `tail` (placed by the session rules) and returns them as stored.
pub fn append(
    conn: &Connection,
    session_id: &str,
    events: &[NewEvent],
    now: i64,
    tail: &mut LogTail,
) -> StoreResult<Vec<StoredEvent>> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO session_events
                 (session_id, seq, id, type, created_at, processed_at, ctx_order, body, private)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(backend)?;
    let mut stored = Vec::with_capacity(events.len());
    for e in events {
        let place = tail.place(e, now);
        stmt.execute(params![
            session_id,
            place.seq,
            e.id,
            e.kind.as_str(),
            now,
            place.processed_at,
            place.ctx_order,
            e.body,
            e.private
        ])
        .map_err(backend)?;
        stored.push(place.stored(session_id, e, now));
    }
    Ok(stored)
}

pub fn append_client(
    conn: &Connection,
    tenant_id: &str,
    session_id: &str,
    events: &[NewEvent],
    now: i64,
) -> StoreResult<AppendOutcome> {
    let head: Option<SessionHead> = conn
        .prepare_cached(
            "SELECT status, archived_at IS NOT NULL, last_seq, pending_inputs FROM sessions
             WHERE id = ?1 AND tenant_id = ?2 AND deleted_at IS NULL",
        )
        .and_then(|mut s| {
            s.query_row(params![session_id, tenant_id], |r| {
                Ok(SessionHead {
                    status: status_at(r, 0)?,
                    archived: r.get(1)?,
                    last_seq: r.get(2)?,
                    pending_inputs: r.get(3)?,
                })
            })
            .optional()
        })
        .map_err(backend)?;
    let Some(head) = head else {
        return Ok(AppendOutcome::NotFound);
    };
    if let Some(refusal) = head.refusal() {
        return Ok(refusal);
    }
    let mut tail = LogTail::new(head.last_seq, head.pending_inputs);
    let mut stored = Vec::with_capacity(events.len());
    let mut cancelled = Vec::new();
    for e in events {
        if session_rules::cancels_queued_inputs(e) {
            let mut stmt = conn
                .prepare_cached(
                    "UPDATE session_events SET cancelled_at = ?2
                     WHERE session_id = ?1 AND processed_at IS NULL AND cancelled_at IS NULL
                     RETURNING id, seq",
                )
                .map_err(backend)?;
            let rows = stmt
                .query_map(params![session_id, now], |r| {
                    Ok(CancelledInput {
                        id: r.get(0)?,
                        seq: r.get(1)?,
                    })
                })
                .map_err(backend)?
                .collect::<rusqlite::Result<Vec<_>>>()
                .map_err(backend)?;
            tail.cancelled(rows.len() as u64);
            cancelled.extend(rows);
        }
        stored.extend(append(
            conn,
            session_id,
            std::slice::from_ref(e),
            now,
            &mut tail,
        )?);
    }
    conn.prepare_cached(
        "UPDATE sessions SET last_seq = ?2, pending_inputs = ?3, updated_at = ?4 WHERE id = ?1",
    )
    .and_then(|mut s| s.execute(params![session_id, tail.last_seq, tail.pending_inputs, now]))
    .map_err(backend)?;
    cancelled.sort_by_key(|c| c.seq);
    Ok(AppendOutcome::Appended { stored, cancelled })
}

pub fn list(
    conn: &Connection,
    tenant_id: &str,
    session_id: &str,
    query: &EventQuery,
) -> StoreResult<Vec<StoredEvent>> {
    let mut sql = Sql::new(
        format!(
            "SELECT {COLUMNS} FROM session_events WHERE session_id = ?1
             AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = ?1 AND s.tenant_id = ?2
                         AND s.deleted_at IS NULL)"
        ),
        vec![
            Value::Text(session_id.to_owned()),
            Value::Text(tenant_id.to_owned()),
        ],
    );
    let descending = query.order == SortOrder::Desc;
    if let Some(after) = query.after_seq {
        sql.bind(
            if descending {
                " AND seq < "
            } else {
                " AND seq > "
            },
            Value::Integer(after),
        );
    }
    if !query.types.is_empty() {
        sql.bind_list(" AND type IN ", &query.types);
    }
    if query.hide_extensions {
        sql.bind_list(" AND type NOT IN ", &session_rules::extension_types());
    }
    if let Some(from) = query.processed_from {
        sql.bind(" AND processed_at >= ", Value::Integer(from));
    }
    if let Some(until) = query.processed_until {
        sql.bind(" AND processed_at < ", Value::Integer(until));
    }
    sql.push(if descending {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq ASC"
    });
    sql.push(&format!(" LIMIT {}", query.limit));
    let mut stmt = conn.prepare_cached(&sql.text).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.values), event)
        .map_err(backend)?;
    within_budget(rows, query.max_bytes)
}

/// The rows a byte budget allows, read one by one so that the rest are never loaded.
fn within_budget(
    rows: impl Iterator<Item = rusqlite::Result<StoredEvent>>,
    max_bytes: Option<u64>,
) -> StoreResult<Vec<StoredEvent>> {
    let mut budget = ByteBudget::new(max_bytes);
    let mut out = Vec::new();
    for row in rows {
        let row = row.map_err(backend)?;
        if !budget.admit(row.body.len()) {
            break;
        }
        out.push(row);
    }
    Ok(out)
}

pub fn read(
    conn: &Connection,
    session_id: &str,
    after_seq: i64,
    limit: u32,
    max_bytes: u64,
) -> StoreResult<Vec<StoredEvent>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session_events WHERE session_id = ?1 AND seq > ?2
             ORDER BY seq LIMIT ?3"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![session_id, after_seq, limit], event)
        .map_err(backend)?;
    within_budget(rows, Some(max_bytes))
}

pub fn queued(conn: &Connection, session_id: &str, limit: u32) -> StoreResult<Vec<StoredEvent>> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session_events
             WHERE session_id = ?1 AND processed_at IS NULL AND cancelled_at IS NULL
             ORDER BY seq LIMIT ?2"
        ))
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![session_id, limit], event)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn get(
    conn: &Connection,
    session_id: &str,
    event_id: &str,
) -> StoreResult<Option<StoredEvent>> {
    conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM session_events WHERE id = ?1 AND session_id = ?2"
    ))
    .and_then(|mut s| s.query_row(params![event_id, session_id], event).optional())
    .map_err(backend)
}

pub fn context(
    conn: &Connection,
    session_id: &str,
    after: i64,
    scope: ContextScope,
) -> StoreResult<Vec<StoredEvent>> {
    let mut sql = Sql::new(
        format!(
            "SELECT {COLUMNS} FROM session_events
             WHERE session_id = ?1 AND ctx_order > ?2 AND cancelled_at IS NULL"
        ),
        vec![Value::Text(session_id.to_owned()), Value::Integer(after)],
    );
    if scope == ContextScope::Model {
        let types: Vec<String> = session_rules::model_context_types()
            .map(str::to_owned)
            .collect();
        sql.bind_list(" AND type IN ", &types);
    }
    sql.push(" ORDER BY ctx_order, seq");
    let mut stmt = conn.prepare_cached(&sql.text).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.values), event)
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}
