//! The runner's side of the event log: runnable sessions, leases (claim, renew, release),
//! turns and stream buffers.

use berth_store::{
    Lease, NewEvent, SessionStatus, StoreResult, StoredEvent, StreamBuffer, TurnEffects, TurnStart,
    stored_status,
};
use deadpool_postgres::GenericClient;

use crate::connect::pg;
use crate::events::{COLUMNS, TOOL_ANSWERS, append, event};

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
    let status = effects.status.unwrap_or(status);
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
            &status.as_str(),
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
