//! The event log: appending, reading and context (the runner's side is in `runner.rs`). Every
//! write locks the session row first (`FOR UPDATE`), which serialises appends per session and
//! keeps the sequence gapless across replicas.

use berth_store::session_rules::{self, LogTail, SessionHead};
use berth_store::{
    AppendOutcome, ByteBudget, CancelledInput, ContextScope, EventKind, EventQuery, NewEvent,
    SortOrder, StoreResult, StoredEvent,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::rows::{Param, refs};
use crate::session_lock::lock;

pub(crate) const COLUMNS: &str =
    "session_id, seq, id, type, body, private, created_at, processed_at, cancelled_at, ctx_order";

pub(crate) fn event(row: &Row) -> StoredEvent {
    StoredEvent {
        session_id: row.get(0),
        seq: row.get(1),
        id: row.get(2),
        kind: EventKind::parse(row.get(3)),
        body: row.get(4),
        private: row.get(5),
        created_at: row.get(6),
        processed_at: row.get(7),
        cancelled_at: row.get(8),
        ctx_order: row.get(9),
    }
}

/// Appends events at the log's `tail` (placed by the session rules; the caller holds the session
/// row lock) and returns them as stored.
pub async fn append<C: GenericClient>(
    tx: &C,
    session_id: &str,
    events: &[NewEvent],
    now: i64,
    tail: &mut LogTail,
) -> StoreResult<Vec<StoredEvent>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let stmt = tx
        .prepare_cached(
            "INSERT INTO session_events
                 (session_id, seq, id, type, created_at, processed_at, ctx_order, body, private)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await
        .map_err(pg)?;
    let mut stored = Vec::with_capacity(events.len());
    for e in events {
        let place = tail.place(e, now);
        tx.execute(
            &stmt,
            &[
                &session_id,
                &place.seq,
                &e.id,
                &e.kind.as_str(),
                &now,
                &place.processed_at,
                &place.ctx_order,
                &e.body,
                &e.private,
            ],
        )
        .await
        .map_err(pg)?;
        stored.push(place.stored(session_id, e, now));
    }
    // Delivered when the transaction commits; other replicas re-read the log from here.
    let announce = tx
        .prepare_cached(crate::listen::ANNOUNCE_EVENT)
        .await
        .map_err(pg)?;
    tx.execute(&announce, &[&format!("{session_id}:{}", tail.last_seq)])
        .await
        .map_err(pg)?;
    let interrupted = events.iter().any(session_rules::cancels_queued_inputs);
    if interrupted || events.iter().any(|e| e.queued) {
        let wake = tx
            .prepare_cached(crate::listen::ANNOUNCE_WAKE)
            .await
            .map_err(pg)?;
        let payload = if interrupted {
            format!("{}{session_id}", crate::listen::INTERRUPT_MARK)
        } else {
            session_id.to_owned()
        };
        tx.execute(&wake, &[&payload]).await.map_err(pg)?;
    }
    Ok(stored)
}

pub async fn append_client<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    session_id: &str,
    events: &[NewEvent],
    now: i64,
) -> StoreResult<AppendOutcome> {
    let Some(locked) = lock(tx, tenant_id, session_id).await? else {
        return Ok(AppendOutcome::NotFound);
    };
    let head = SessionHead {
        status: locked.status,
        archived: locked.archived_at.is_some(),
        last_seq: locked.last_seq,
        pending_inputs: locked.pending,
    };
    if let Some(refusal) = head.refusal() {
        return Ok(refusal);
    }
    let mut tail = LogTail::new(head.last_seq, head.pending_inputs);
    let mut stored = Vec::with_capacity(events.len());
    let mut cancelled = Vec::new();
    for e in events {
        if session_rules::cancels_queued_inputs(e) {
            let rows = tx
                .query(
                    "UPDATE session_events SET cancelled_at = $2
                     WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL
                     RETURNING id, seq",
                    &[&session_id, &now],
                )
                .await
                .map_err(pg)?;
            tail.cancelled(rows.len() as u64);
            cancelled.extend(rows.iter().map(|r| CancelledInput {
                id: r.get(0),
                seq: r.get(1),
            }));
        }
        stored.extend(append(tx, session_id, std::slice::from_ref(e), now, &mut tail).await?);
    }
    tx.execute(
        "UPDATE sessions SET last_seq = $2, pending_inputs = $3, updated_at = $4 WHERE id = $1",
        &[&session_id, &tail.last_seq, &tail.pending_inputs, &now],
    )
    .await
    .map_err(pg)?;
    cancelled.sort_by_key(|c| c.seq);
    Ok(AppendOutcome::Appended { stored, cancelled })
}

pub async fn list<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    session_id: &str,
    query: &EventQuery,
) -> StoreResult<Vec<StoredEvent>> {
    let mut sql = format!(
        "SELECT {COLUMNS} FROM session_events WHERE session_id = $1
         AND EXISTS (SELECT 1 FROM sessions s WHERE s.id = $1 AND s.tenant_id = $2
                     AND s.deleted_at IS NULL)"
    );
    let mut params: Vec<Param> = vec![
        Box::new(session_id.to_owned()),
        Box::new(tenant_id.to_owned()),
    ];
    let mut bind = |sql: &mut String, fragment: &str, value: Param| {
        params.push(value);
        sql.push_str(fragment);
        sql.push_str(&format!("${}", params.len()));
    };
    let descending = query.order == SortOrder::Desc;
    if let Some(after) = query.after_seq {
        bind(
            &mut sql,
            if descending {
                " AND seq < "
            } else {
                " AND seq > "
            },
            Box::new(after),
        );
    }
    if !query.types.is_empty() {
        bind(&mut sql, " AND type = ANY(", Box::new(query.types.clone()));
        sql.push(')');
    }
    if query.hide_extensions {
        bind(
            &mut sql,
            " AND NOT (type = ANY(",
            Box::new(session_rules::extension_types()),
        );
        sql.push_str("))");
    }
    if let Some(from) = query.processed_from {
        bind(&mut sql, " AND processed_at >= ", Box::new(from));
    }
    if let Some(until) = query.processed_until {
        bind(&mut sql, " AND processed_at < ", Box::new(until));
    }
    sql.push_str(if descending {
        " ORDER BY seq DESC"
    } else {
        " ORDER BY seq ASC"
    });
    sql.push_str(&format!(" LIMIT {}", query.limit));
    let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
    let rows = client.query_raw(&stmt, refs(&params)).await.map_err(pg)?;
    within_budget(rows, query.max_bytes).await
}

/// The rows a byte budget allows, taken from the stream one by one: the rest of the stream is
/// dropped unread into memory.
async fn within_budget(
    rows: tokio_postgres::RowStream,
    max_bytes: Option<u64>,
) -> StoreResult<Vec<StoredEvent>> {
    let mut budget = ByteBudget::new(max_bytes);
    let mut out = Vec::new();
    futures::pin_mut!(rows);
    while let Some(row) = futures::StreamExt::next(&mut rows).await {
        let row = event(&row.map_err(pg)?);
        if !budget.admit(row.body.len()) {
            break;
        }
        out.push(row);
    }
    Ok(out)
}

pub async fn read<C: GenericClient>(
    client: &C,
    session_id: &str,
    after_seq: i64,
    limit: u32,
    max_bytes: u64,
) -> StoreResult<Vec<StoredEvent>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session_events WHERE session_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3"
        ))
        .await
        .map_err(pg)?;
    let limit = i64::from(limit);
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&session_id, &after_seq, &limit];
    let rows = client.query_raw(&stmt, params).await.map_err(pg)?;
    within_budget(rows, Some(max_bytes)).await
}

pub async fn queued<C: GenericClient>(
    client: &C,
    session_id: &str,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session_events
             WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL
             ORDER BY seq LIMIT $2"
        ))
        .await
        .map_err(pg)?;
    let rows = client
        .query(&stmt, &[&session_id, &i64::from(limit)])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(event).collect())
}

pub async fn get<C: GenericClient>(
    client: &C,
    session_id: &str,
    event_id: &str,
) -> StoreResult<Option<StoredEvent>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session_events WHERE id = $1 AND session_id = $2"
        ))
        .await
        .map_err(pg)?;
    let row = client
        .query_opt(&stmt, &[&event_id, &session_id])
        .await
        .map_err(pg)?;
    Ok(row.as_ref().map(event))
}

pub async fn context<C: GenericClient>(
    client: &C,
    session_id: &str,
    after: i64,
    scope: ContextScope,
) -> StoreResult<Vec<StoredEvent>> {
    let sql = match scope {
        ContextScope::All => format!(
            "SELECT {COLUMNS} FROM session_events
             WHERE session_id = $1 AND ctx_order > $2 AND cancelled_at IS NULL
             ORDER BY ctx_order, seq"
        ),
        ContextScope::Model => format!(
            "SELECT {COLUMNS} FROM session_events
             WHERE session_id = $1 AND ctx_order > $2 AND cancelled_at IS NULL AND type = ANY($3)
             ORDER BY ctx_order, seq"
        ),
    };
    let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
    let types: Vec<&str> = session_rules::model_context_types().collect();
    let rows = match scope {
        ContextScope::All => client.query(&stmt, &[&session_id, &after]).await,
        ContextScope::Model => client.query(&stmt, &[&session_id, &after, &types]).await,
    }
    .map_err(pg)?;
    Ok(rows.iter().map(event).collect())
}
