//! The event log and the runner's side of it: appending, reading, leases and turns. Every
//! write locks the session row first (`FOR UPDATE`), which serialises appends per session and
//! keeps the sequence gapless across replicas.

use berth_store::{
    AppendOutcome, ContextScope, EventQuery, Lease, MODEL_CONTEXT_TYPES, NewEvent, SortOrder,
    StoreResult, StoredEvent, StreamBuffer, TurnEffects, TurnStart,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::rows::{Param, refs};
use crate::sessions::{Locked, lock};

const COLUMNS: &str =
    "session_id, seq, id, type, body, private, created_at, processed_at, cancelled_at, ctx_order";

/// Inputs that answer a pending tool call; several queued in a row resume one turn together.
const TOOL_ANSWERS: [&str; 3] = [
    "user.tool_confirmation",
    "user.custom_tool_result",
    "user.tool_result",
];

fn event(row: &Row) -> StoredEvent {
    StoredEvent {
        session_id: row.get(0),
        seq: row.get(1),
        id: row.get(2),
        kind: row.get(3),
        body: row.get(4),
        private: row.get(5),
        created_at: row.get(6),
        processed_at: row.get(7),
        cancelled_at: row.get(8),
        ctx_order: row.get(9),
    }
}

/// Appends events after `last_seq` (the caller holds the session row lock).
pub async fn append<C: GenericClient>(
    tx: &C,
    session_id: &str,
    events: &[NewEvent],
    now: i64,
    mut last_seq: i64,
) -> StoreResult<(Vec<StoredEvent>, i64, i64)> {
    if events.is_empty() {
        return Ok((Vec::new(), last_seq, 0));
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
    let mut queued = 0;
    for e in events {
        last_seq += 1;
        let (processed_at, ctx_order) = if e.queued {
            queued += 1;
            (None, None)
        } else {
            (Some(now), Some(2 * last_seq))
        };
        tx.execute(
            &stmt,
            &[
                &session_id,
                &last_seq,
                &e.id,
                &e.kind,
                &now,
                &processed_at,
                &ctx_order,
                &e.body,
                &e.private,
            ],
        )
        .await
        .map_err(pg)?;
        stored.push(StoredEvent {
            session_id: session_id.to_owned(),
            seq: last_seq,
            id: e.id.clone(),
            kind: e.kind.clone(),
            body: e.body.clone(),
            private: e.private.clone(),
            created_at: now,
            processed_at,
            cancelled_at: None,
            ctx_order,
        });
    }
    // Delivered when the transaction commits; other replicas re-read the log from here.
    let announce = tx
        .prepare_cached(crate::listen::ANNOUNCE_EVENT)
        .await
        .map_err(pg)?;
    tx.execute(&announce, &[&format!("{session_id}:{last_seq}")])
        .await
        .map_err(pg)?;
    let interrupted = events.iter().any(|e| e.kind == "user.interrupt");
    if queued > 0 || interrupted {
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
    Ok((stored, last_seq, queued))
}

pub async fn append_client<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    session_id: &str,
    events: &[NewEvent],
    now: i64,
) -> StoreResult<AppendOutcome> {
    let Some(Locked {
        status,
        last_seq: mut_last_seq,
        archived_at,
        pending: mut_pending,
        ..
    }) = lock(tx, tenant_id, session_id).await?
    else {
        return Ok(AppendOutcome::NotFound);
    };
    let (mut last_seq, mut pending) = (mut_last_seq, mut_pending);
    if archived_at.is_some() {
        return Ok(AppendOutcome::Archived);
    }
    if status == "terminated" {
        return Ok(AppendOutcome::Terminated);
    }
    let mut stored = Vec::with_capacity(events.len());
    for e in events {
        if e.kind == "user.interrupt" {
            // An interrupt drops what was queued before it; what follows it still runs.
            let cancelled = tx
                .execute(
                    "UPDATE session_events SET cancelled_at = $2
                     WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL",
                    &[&session_id, &now],
                )
                .await
                .map_err(pg)?;
            pending -= cancelled as i64;
        }
        let (mut one, seq, queued) =
            append(tx, session_id, std::slice::from_ref(e), now, last_seq).await?;
        last_seq = seq;
        pending += queued;
        stored.append(&mut one);
    }
    tx.execute(
        "UPDATE sessions SET last_seq = $2, pending_inputs = $3, updated_at = $4 WHERE id = $1",
        &[&session_id, &last_seq, &pending, &now],
    )
    .await
    .map_err(pg)?;
    Ok(AppendOutcome::Appended(stored))
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
    let rows = client.query(&stmt, &refs(&params)).await.map_err(pg)?;
    Ok(rows.iter().map(event).collect())
}

pub async fn read<C: GenericClient>(
    client: &C,
    session_id: &str,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<StoredEvent>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM session_events WHERE session_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3"
        ))
        .await
        .map_err(pg)?;
    let rows = client
        .query(&stmt, &[&session_id, &after_seq, &i64::from(limit)])
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
    let types: Vec<&str> = MODEL_CONTEXT_TYPES.to_vec();
    let rows = match scope {
        ContextScope::All => client.query(&stmt, &[&session_id, &after]).await,
        ContextScope::Model => client.query(&stmt, &[&session_id, &after, &types]).await,
    }
    .map_err(pg)?;
    Ok(rows.iter().map(event).collect())
}

// ----------------------------------------------------------------- runner

pub async fn runnable<C: GenericClient>(
    client: &C,
    lease_cutoff: i64,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let stmt = client
        .prepare_cached(
            "SELECT id FROM sessions
             WHERE deleted_at IS NULL AND (pending_inputs > 0 OR status IN ('running', 'rescheduling'))
               AND (lease_owner IS NULL OR lease_expires_at < $1)
             LIMIT $2",
        )
        .await
        .map_err(pg)?;
    let rows = client
        .query(&stmt, &[&lease_cutoff, &i64::from(limit)])
        .await
        .map_err(pg)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

pub async fn claim<C: GenericClient>(
    client: &C,
    session_id: &str,
    owner: &str,
    lease_cutoff: i64,
    expires_at: i64,
) -> StoreResult<Option<Lease>> {
    let stmt = client
        .prepare_cached(
            "UPDATE sessions SET lease_owner = $2, lease_expires_at = $4,
                 lease_generation = lease_generation + 1
             WHERE id = $1 AND deleted_at IS NULL
               AND (lease_owner IS NULL OR lease_expires_at < $3)
             RETURNING tenant_id, lease_generation, status",
        )
        .await
        .map_err(pg)?;
    let row = client
        .query_opt(&stmt, &[&session_id, &owner, &lease_cutoff, &expires_at])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| Lease {
        session_id: session_id.to_owned(),
        tenant_id: r.get(0),
        owner: owner.to_owned(),
        generation: r.get(1),
        status_at_claim: r.get(2),
    }))
}

pub async fn renew<C: GenericClient>(
    client: &C,
    lease: &Lease,
    expires_at: i64,
) -> StoreResult<bool> {
    let stmt = client
        .prepare_cached(
            "UPDATE sessions SET lease_expires_at = $4
             WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3",
        )
        .await
        .map_err(pg)?;
    let n = client
        .execute(
            &stmt,
            &[
                &lease.session_id,
                &lease.owner,
                &lease.generation,
                &expires_at,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(n > 0)
}

pub async fn release<C: GenericClient>(client: &C, lease: &Lease) -> StoreResult<()> {
    client
        .execute(
            "UPDATE sessions SET lease_owner = NULL, lease_expires_at = NULL
             WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3",
            &[&lease.session_id, &lease.owner, &lease.generation],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

/// The session row's live state, read under a lease.
struct Held {
    last_seq: i64,
    pending: i64,
    status: String,
    turn_started_at: Option<i64>,
}

/// Locks the session row if `lease` still holds and returns its live state.
async fn held<C: GenericClient>(tx: &C, lease: &Lease) -> StoreResult<Option<Held>> {
    let stmt = tx
        .prepare_cached(
            "SELECT last_seq, pending_inputs, status, turn_started_at FROM sessions
             WHERE id = $1 AND lease_owner = $2 AND lease_generation = $3 AND deleted_at IS NULL
             FOR UPDATE",
        )
        .await
        .map_err(pg)?;
    let row = tx
        .query_opt(&stmt, &[&lease.session_id, &lease.owner, &lease.generation])
        .await
        .map_err(pg)?;
    Ok(row.map(|r| Held {
        last_seq: r.get(0),
        pending: r.get(1),
        status: r.get(2),
        turn_started_at: r.get(3),
    }))
}

pub async fn begin_turn<C: GenericClient>(
    tx: &C,
    lease: &Lease,
    now: i64,
    opening: &[NewEvent],
) -> StoreResult<TurnStart> {
    let Some(Held {
        last_seq, pending, ..
    }) = held(tx, lease).await?
    else {
        return Ok(TurnStart::LeaseLost);
    };
    let candidates: Vec<(i64, String)> = tx
        .query(
            "SELECT seq, type FROM session_events
             WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL
             ORDER BY seq LIMIT 64",
            &[&lease.session_id],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let Some((first_seq, first_kind)) = candidates.first() else {
        return Ok(TurnStart::NothingPending);
    };
    let mut seqs = vec![*first_seq];
    if TOOL_ANSWERS.contains(&first_kind.as_str()) {
        seqs.extend(
            candidates
                .iter()
                .skip(1)
                .take_while(|(_, kind)| TOOL_ANSWERS.contains(&kind.as_str()))
                .map(|(seq, _)| *seq),
        );
    }
    let ctx_order = 2 * last_seq + 1;
    let rows = tx
        .query(
            &format!(
                "UPDATE session_events SET processed_at = $3, ctx_order = $4
                 WHERE session_id = $1 AND seq = ANY($2) RETURNING {COLUMNS}"
            ),
            &[&lease.session_id, &seqs, &now, &ctx_order],
        )
        .await
        .map_err(pg)?;
    let mut promoted: Vec<StoredEvent> = rows.iter().map(event).collect();
    promoted.sort_by_key(|e| e.seq);
    let (appended, last_seq, _) = append(tx, &lease.session_id, opening, now, last_seq).await?;
    tx.execute(
        "UPDATE sessions SET status = 'running', turn_started_at = COALESCE(turn_started_at, $2),
             pending_inputs = $3, last_seq = $4, updated_at = $2
         WHERE id = $1",
        &[
            &lease.session_id,
            &now,
            &(pending - seqs.len() as i64),
            &last_seq,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(TurnStart::Started { promoted, appended })
}

pub async fn append_turn<C: GenericClient>(
    tx: &C,
    lease: &Lease,
    events: &[NewEvent],
    effects: &TurnEffects,
    now: i64,
) -> StoreResult<Option<Vec<StoredEvent>>> {
    let Some(Held {
        last_seq,
        status,
        turn_started_at,
        ..
    }) = held(tx, lease).await?
    else {
        return Ok(None);
    };
    let (stored, last_seq, _) = append(tx, &lease.session_id, events, now, last_seq).await?;
    let usage = effects.usage.unwrap_or_default();
    let status = effects.status.clone().unwrap_or(status);
    let (active_add, turn_started_at) = if effects.end_turn {
        (turn_started_at.map_or(0, |t| (now - t).max(0)), None)
    } else {
        (0, turn_started_at)
    };
    let stmt = tx
        .prepare_cached(
            "UPDATE sessions SET last_seq = $2, status = $3, updated_at = $4,
                 usage_input = usage_input + $5, usage_output = usage_output + $6,
                 usage_cache_read = usage_cache_read + $7, usage_cache_write = usage_cache_write + $8,
                 active_micros = active_micros + $9, turn_started_at = $10
             WHERE id = $1",
        )
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &lease.session_id,
            &last_seq,
            &status,
            &now,
            &usage.input_tokens,
            &usage.output_tokens,
            &usage.cache_read_input_tokens,
            &usage.cache_creation_input_tokens,
            &active_add,
            &turn_started_at,
        ],
    )
    .await
    .map_err(pg)?;
    if effects.clear_stream_buffers {
        tx.execute(
            "DELETE FROM stream_buffers WHERE session_id = $1",
            &[&lease.session_id],
        )
        .await
        .map_err(pg)?;
    }
    Ok(Some(stored))
}

pub async fn save_buffer<C: GenericClient>(
    tx: &C,
    lease: &Lease,
    buffer: &StreamBuffer,
) -> StoreResult<()> {
    if held(tx, lease).await?.is_none() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO stream_buffers (session_id, event_id, kind, text) VALUES ($1, $2, $3, $4)
         ON CONFLICT (session_id, event_id) DO UPDATE SET text = excluded.text",
        &[
            &lease.session_id,
            &buffer.event_id,
            &buffer.kind,
            &buffer.text,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

pub async fn buffers<C: GenericClient>(
    client: &C,
    session_id: &str,
) -> StoreResult<Vec<StreamBuffer>> {
    let rows = client
        .query(
            "SELECT event_id, kind, text FROM stream_buffers WHERE session_id = $1",
            &[&session_id],
        )
        .await
        .map_err(pg)?;
    Ok(rows
        .iter()
        .map(|r| StreamBuffer {
            event_id: r.get(0),
            kind: r.get(1),
            text: r.get(2),
        })
        .collect())
}
