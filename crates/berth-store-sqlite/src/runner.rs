//! The runner's side of the event log: runnable sessions, leases (claim, renew, release),
//! turns and stream buffers.

use berth_store::session_rules::{self, LogTail};
use berth_store::{
    Lease, NewEvent, SessionStatus, StoreResult, StoredEvent, StreamBuffer, TurnEffects, TurnStart,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::events::{COLUMNS, append, event};
use crate::pool::backend;
use crate::sql::{Sql, kind_at, status_at};

/// The sessions that [`session_rules::needs_runner`] and have no live lease.
pub fn runnable(conn: &Connection, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>> {
    let mut sql = Sql::new(
        "SELECT id FROM sessions
         WHERE deleted_at IS NULL AND (lease_owner IS NULL OR lease_expires_at < ?1)
           AND (pending_inputs > 0 OR status IN "
            .to_owned(),
        vec![rusqlite::types::Value::Integer(lease_cutoff)],
    );
    let busy: Vec<String> = session_rules::busy_statuses().map(str::to_owned).collect();
    sql.bind_list("", &busy);
    sql.push(&format!(") LIMIT {limit}"));
    let mut stmt = conn.prepare_cached(&sql.text).map_err(backend)?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(sql.values), |r| r.get(0))
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}

pub fn claim(
    conn: &Connection,
    session_id: &str,
    owner: &str,
    lease_cutoff: i64,
    expires_at: i64,
) -> StoreResult<Option<Lease>> {
    conn.prepare_cached(
        "UPDATE sessions SET lease_owner = ?2, lease_expires_at = ?4,
             lease_generation = lease_generation + 1
         WHERE id = ?1 AND deleted_at IS NULL
           AND (lease_owner IS NULL OR lease_expires_at < ?3)
         RETURNING tenant_id, lease_generation, status",
    )
    .and_then(|mut s| {
        s.query_row(params![session_id, owner, lease_cutoff, expires_at], |r| {
            Ok(Lease {
                session_id: session_id.to_owned(),
                tenant_id: r.get(0)?,
                owner: owner.to_owned(),
                generation: r.get(1)?,
                status_at_claim: status_at(r, 2)?,
            })
        })
        .optional()
    })
    .map_err(backend)
}

pub fn renew(conn: &Connection, lease: &Lease, expires_at: i64) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE sessions SET lease_expires_at = ?4
             WHERE id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
        )
        .and_then(|mut s| {
            s.execute(params![
                lease.session_id,
                lease.owner,
                lease.generation,
                expires_at
            ])
        })
        .map_err(backend)?;
    Ok(n > 0)
}

pub fn release(conn: &Connection, lease: &Lease) -> StoreResult<()> {
    conn.prepare_cached(
        "UPDATE sessions SET lease_owner = NULL, lease_expires_at = NULL
         WHERE id = ?1 AND lease_owner = ?2 AND lease_generation = ?3",
    )
    .and_then(|mut s| s.execute(params![lease.session_id, lease.owner, lease.generation]))
    .map_err(backend)?;
    Ok(())
}

/// The session row's live state, read under a lease.
struct Held {
    last_seq: i64,
    pending: i64,
    status: SessionStatus,
    turn_started_at: Option<i64>,
}

/// The session's live state if `lease` still holds.
fn held(conn: &Connection, lease: &Lease) -> StoreResult<Option<Held>> {
    conn.prepare_cached(
        "SELECT last_seq, pending_inputs, status, turn_started_at FROM sessions
         WHERE id = ?1 AND lease_owner = ?2 AND lease_generation = ?3 AND deleted_at IS NULL",
    )
    .and_then(|mut s| {
        s.query_row(
            params![lease.session_id, lease.owner, lease.generation],
            |r| {
                Ok(Held {
                    last_seq: r.get(0)?,
                    pending: r.get(1)?,
                    status: status_at(r, 2)?,
                    turn_started_at: r.get(3)?,
                })
            },
        )
        .optional()
    })
    .map_err(backend)
}

pub fn begin_turn(
    conn: &Connection,
    lease: &Lease,
    now: i64,
    opening: &[NewEvent],
) -> StoreResult<TurnStart> {
    let Some(Held {
        last_seq,
        pending,
        turn_started_at,
        ..
    }) = held(conn, lease)?
    else {
        return Ok(TurnStart::LeaseLost);
    };
    let queued: Vec<(i64, berth_store::EventKind)> = {
        let mut stmt = conn
            .prepare_cached(
                "SELECT seq, type FROM session_events
                 WHERE session_id = ?1 AND processed_at IS NULL AND cancelled_at IS NULL
                 ORDER BY seq LIMIT ?2",
            )
            .map_err(backend)?;
        let rows = stmt
            .query_map(
                params![lease.session_id, session_rules::TURN_INPUT_CANDIDATES],
                |r| Ok((r.get(0)?, kind_at(r, 1)?)),
            )
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?
    };
    let seqs = session_rules::turn_inputs(&queued);
    if seqs.is_empty() {
        return Ok(TurnStart::NothingPending);
    }
    let ctx_order = session_rules::taken_inputs_ctx_order(last_seq);
    let mut promoted = Vec::with_capacity(seqs.len());
    for seq in &seqs {
        let row = conn
            .prepare_cached(&format!(
                "UPDATE session_events SET processed_at = ?3, ctx_order = ?4
                 WHERE session_id = ?1 AND seq = ?2 RETURNING {COLUMNS}"
            ))
            .and_then(|mut s| s.query_row(params![lease.session_id, seq, now, ctx_order], event))
            .map_err(backend)?;
        promoted.push(row);
    }
    let mut tail = LogTail::new(last_seq, pending);
    tail.taken(seqs.len());
    let appended = append(conn, &lease.session_id, opening, now, &mut tail)?;
    conn.prepare_cached(
        "UPDATE sessions SET status = ?5, turn_started_at = ?2,
             pending_inputs = ?3, last_seq = ?4, updated_at = ?6
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            lease.session_id,
            session_rules::turn_started_at(turn_started_at, now),
            tail.pending_inputs,
            tail.last_seq,
            SessionStatus::Running.as_str(),
            now
        ])
    })
    .map_err(backend)?;
    Ok(TurnStart::Started { promoted, appended })
}

pub fn append_turn(
    conn: &Connection,
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
    }) = held(conn, lease)?
    else {
        return Ok(None);
    };
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(conn, &lease.session_id, events, now, &mut tail)?;
    let update = session_rules::turn_update(status, turn_started_at, effects, now);
    conn.prepare_cached(
        "UPDATE sessions SET last_seq = ?2, status = ?3, updated_at = ?4,
             usage_input = usage_input + ?5, usage_output = usage_output + ?6,
             usage_cache_read = usage_cache_read + ?7, usage_cache_write = usage_cache_write + ?8,
             active_micros = active_micros + ?9, turn_started_at = ?10
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            lease.session_id,
            tail.last_seq,
            update.status.as_str(),
            now,
            update.usage.input_tokens,
            update.usage.output_tokens,
            update.usage.cache_read_input_tokens,
            update.usage.cache_creation_input_tokens,
            update.active_micros_added,
            update.turn_started_at
        ])
    })
    .map_err(backend)?;
    if effects.clear_stream_buffers {
        conn.prepare_cached("DELETE FROM stream_buffers WHERE session_id = ?1")
            .and_then(|mut s| s.execute(params![lease.session_id]))
            .map_err(backend)?;
    }
    Ok(Some(stored))
}

pub fn save_buffer(conn: &Connection, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()> {
    if held(conn, lease)?.is_none() {
        return Ok(());
    }
    conn.prepare_cached(
        "INSERT INTO stream_buffers (session_id, event_id, kind, text) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (session_id, event_id) DO UPDATE SET text = excluded.text",
    )
    .and_then(|mut s| {
        s.execute(params![
            lease.session_id,
            buffer.event_id,
            buffer.kind.as_str(),
            buffer.text
        ])
    })
    .map_err(backend)?;
    Ok(())
}

pub fn buffers(conn: &Connection, session_id: &str) -> StoreResult<Vec<StreamBuffer>> {
    let mut stmt = conn
        .prepare_cached("SELECT event_id, kind, text FROM stream_buffers WHERE session_id = ?1")
        .map_err(backend)?;
    let rows = stmt
        .query_map(params![session_id], |r| {
            Ok(StreamBuffer {
                event_id: r.get(0)?,
                kind: kind_at(r, 1)?,
                text: r.get(2)?,
            })
        })
        .map_err(backend)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
}
