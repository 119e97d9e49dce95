//! The runner's side of the event log: runnable sessions, leases (claim, renew, release),
//! turns and stream buffers.

use berth_store::session_rules::{self, LogTail};
use berth_store::{
    EventKind, Lease, NewEvent, SessionStatus, StoreResult, StoredEvent, StreamBuffer, TurnEffects,
    TurnStart, stored_status,
};
use deadpool_postgres::GenericClient;

use crate::connect::pg;
use crate::events::{COLUMNS, append, event};

/// The sessions that [`session_rules::needs_runner`] and have no live lease.
pub async fn runnable<C: GenericClient>(
    client: &C,
    lease_cutoff: i64,
    limit: u32,
) -> StoreResult<Vec<String>> {
    let stmt = client
        .prepare_cached(
            "SELECT id FROM sessions
             WHERE deleted_at IS NULL AND (pending_inputs > 0 OR status = ANY($3))
               AND (lease_owner IS NULL OR lease_expires_at < $1)
             LIMIT $2",
        )
        .await
        .map_err(pg)?;
    let busy: Vec<&str> = session_rules::busy_statuses().collect();
    let rows = client
        .query(&stmt, &[&lease_cutoff, &i64::from(limit), &busy])
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
    row.map(|r| {
        Ok(Lease {
            session_id: session_id.to_owned(),
            tenant_id: r.get(0),
            owner: owner.to_owned(),
            generation: r.get(1),
            status_at_claim: stored_status(r.get(2))?,
        })
    })
    .transpose()
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
    status: SessionStatus,
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
    row.map(|r| {
        Ok(Held {
            last_seq: r.get(0),
            pending: r.get(1),
            status: stored_status(r.get(2))?,
            turn_started_at: r.get(3),
        })
    })
    .transpose()
}

pub async fn begin_turn<C: GenericClient>(
    tx: &C,
    lease: &Lease,
    now: i64,
    opening: &[NewEvent],
) -> StoreResult<TurnStart> {
    let Some(Held {
        last_seq,
        pending,
        turn_started_at,
        ..
    }) = held(tx, lease).await?
    else {
        return Ok(TurnStart::LeaseLost);
    };
    let queued: Vec<(i64, EventKind)> = tx
        .query(
            "SELECT seq, type FROM session_events
             WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL
             ORDER BY seq LIMIT $2",
            &[
                &lease.session_id,
                &i64::from(session_rules::TURN_INPUT_CANDIDATES),
            ],
        )
        .await
        .map_err(pg)?
        .iter()
        .map(|r| (r.get(0), EventKind::parse(r.get(1))))
        .collect();
    let seqs = session_rules::turn_inputs(&queued);
    if seqs.is_empty() {
        return Ok(TurnStart::NothingPending);
    }
    let ctx_order = session_rules::taken_inputs_ctx_order(last_seq);
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
    let mut tail = LogTail::new(last_seq, pending);
    tail.taken(seqs.len());
    let appended = append(tx, &lease.session_id, opening, now, &mut tail).await?;
    tx.execute(
        "UPDATE sessions SET status = $5, turn_started_at = $2,
             pending_inputs = $3, last_seq = $4, updated_at = $6
         WHERE id = $1",
        &[
            &lease.session_id,
            &session_rules::turn_started_at(turn_started_at, now),
            &tail.pending_inputs,
            &tail.last_seq,
            &SessionStatus::Running.as_str(),
            &now,
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
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(tx, &lease.session_id, events, now, &mut tail).await?;
    let update = session_rules::turn_update(status, turn_started_at, effects, now);
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
            &tail.last_seq,
            &update.status.as_str(),
            &now,
            &update.usage.input_tokens,
            &update.usage.output_tokens,
            &update.usage.cache_read_input_tokens,
            &update.usage.cache_creation_input_tokens,
            &update.active_micros_added,
            &update.turn_started_at,
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
            &buffer.kind.as_str(),
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
            kind: EventKind::parse(r.get(1)),
            text: r.get(2),
        })
        .collect())
}
