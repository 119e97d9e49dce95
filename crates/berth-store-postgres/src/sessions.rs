//! Sessions: create, read, list, change, archive, delete.

use berth_store::session_rules::LogTail;
use berth_store::{
    ChangeOutcome, DeleteSessionOutcome, NewEvent, SessionChange, SessionQuery, SessionRow,
    SessionStatus, SortOrder, StoreResult, StoredEvent, UsageTotals, stored_status,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::connect::pg;
use crate::events::append;
use crate::rows::{Param, refs};
use crate::session_lock::{Locked, lock};

pub const COLUMNS: &str = "id, tenant_id, agent_id, agent_version, environment_id, status, version, \
    body, private, created_at, updated_at, archived_at, last_seq, pending_inputs, usage_input, \
    usage_output, usage_cache_read, usage_cache_write, active_micros, turn_started_at";

pub fn session(row: &Row) -> StoreResult<SessionRow> {
    Ok(SessionRow {
        id: row.get(0),
        tenant_id: row.get(1),
        agent_id: row.get(2),
        agent_version: row.get(3),
        environment_id: row.get(4),
        status: stored_status(row.get(5))?,
        version: row.get(6),
        body: row.get(7),
        private: row.get(8),
        created_at: row.get(9),
        updated_at: row.get(10),
        archived_at: row.get(11),
        last_seq: row.get(12),
        pending_inputs: row.get(13),
        usage: UsageTotals {
            input_tokens: row.get(14),
            output_tokens: row.get(15),
            cache_read_input_tokens: row.get(16),
            cache_creation_input_tokens: row.get(17),
        },
        active_micros: row.get(18),
        turn_started_at: row.get(19),
    })
}

pub async fn create<C: GenericClient>(
    tx: &C,
    row: &SessionRow,
    memory_store_ids: &[String],
    events: &[NewEvent],
) -> StoreResult<Vec<StoredEvent>> {
    let stmt = tx
        .prepare_cached(&format!(
            "INSERT INTO sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, \
             $12, 0, 0, $13, $14, $15, $16, $17, $18)"
        ))
        .await
        .map_err(pg)?;
    tx.execute(
        &stmt,
        &[
            &row.id,
            &row.tenant_id,
            &row.agent_id,
            &row.agent_version,
            &row.environment_id,
            &row.status.as_str(),
            &row.version,
            &row.body,
            &row.private,
            &row.created_at,
            &row.updated_at,
            &row.archived_at,
            &row.usage.input_tokens,
            &row.usage.output_tokens,
            &row.usage.cache_read_input_tokens,
            &row.usage.cache_creation_input_tokens,
            &row.active_micros,
            &row.turn_started_at,
        ],
    )
    .await
    .map_err(pg)?;
    record_memory_stores(tx, &row.id, memory_store_ids).await?;
    let mut tail = LogTail::new(0, 0);
    let stored = append(tx, &row.id, events, row.created_at, &mut tail).await?;
    tx.execute(
        "UPDATE sessions SET last_seq = $2, pending_inputs = $3 WHERE id = $1",
        &[&row.id, &tail.last_seq, &tail.pending_inputs],
    )
    .await
    .map_err(pg)?;
    Ok(stored)
}

pub async fn get<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<SessionRow>> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM sessions WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL"
        ))
        .await
        .map_err(pg)?;
    let row = client
        .query_opt(&stmt, &[&id, &tenant_id])
        .await
        .map_err(pg)?;
    row.as_ref().map(session).transpose()
}

pub async fn list<C: GenericClient>(
    client: &C,
    tenant_id: &str,
    query: &SessionQuery,
) -> StoreResult<Vec<SessionRow>> {
    let mut sql =
        format!("SELECT {COLUMNS} FROM sessions WHERE tenant_id = $1 AND deleted_at IS NULL");
    let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
    let mut bind = |sql: &mut String, fragment: &str, value: Param| {
        params.push(value);
        sql.push_str(fragment);
        sql.push_str(&format!("${}", params.len()));
    };
    if !query.include_archived {
        sql.push_str(" AND archived_at IS NULL");
    }
    if let Some(from) = query.created_from {
        bind(&mut sql, " AND created_at >= ", Box::new(from));
    }
    if let Some(until) = query.created_until {
        bind(&mut sql, " AND created_at < ", Box::new(until));
    }
    if let Some(agent) = &query.agent_id {
        bind(&mut sql, " AND agent_id = ", Box::new(agent.clone()));
    }
    if let Some(version) = query.agent_version {
        bind(&mut sql, " AND agent_version = ", Box::new(version));
    }
    if let Some(env) = &query.environment_id {
        bind(&mut sql, " AND environment_id = ", Box::new(env.clone()));
    }
    if let Some(store) = &query.memory_store_id {
        bind(
            &mut sql,
            " AND id IN (SELECT session_id FROM session_memory_stores WHERE memory_store_id = ",
            Box::new(store.clone()),
        );
        sql.push(')');
    }
    if !query.statuses.is_empty() {
        bind(
            &mut sql,
            " AND status = ANY(",
            Box::new(
                query
                    .statuses
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect::<Vec<_>>(),
            ),
        );
        sql.push(')');
    }
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
        bind(&mut sql, cmp, Box::new(key.clone()));
    }
    sql.push_str(if descending {
        " ORDER BY id DESC"
    } else {
        " ORDER BY id ASC"
    });
    sql.push_str(&format!(" LIMIT {}", query.limit));
    let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
    rows.iter().map(session).collect()
}

pub async fn change<C: GenericClient>(
    tx: &C,
    change: &SessionChange,
) -> StoreResult<ChangeOutcome> {
    let Some(Locked {
        version,
        status,
        last_seq,
        ..
    }) = lock(tx, &change.tenant_id, &change.id).await?
    else {
        return Ok(ChangeOutcome::NotFound);
    };
    if version != change.expected_version {
        return Ok(ChangeOutcome::Stale);
    }
    if change.require_idle && status.is_busy() {
        return Ok(ChangeOutcome::Running);
    }
    if let Some(stores) = &change.memory_store_ids {
        tx.execute(
            "DELETE FROM session_memory_stores WHERE session_id = $1",
            &[&change.id],
        )
        .await
        .map_err(pg)?;
        record_memory_stores(tx, &change.id, stores).await?;
    }
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(tx, &change.id, &change.events, change.now, &mut tail).await?;
    let last_seq = tail.last_seq;
    tx.execute(
        "UPDATE sessions SET body = $2, version = version + 1, updated_at = $3, last_seq = $4,
             private = COALESCE($5, private)
         WHERE id = $1",
        &[
            &change.id,
            &change.body,
            &change.now,
            &last_seq,
            &change.private,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(ChangeOutcome::Applied(stored))
}

/// Records which memory stores a session has among its resources.
async fn record_memory_stores<C: GenericClient>(
    tx: &C,
    session_id: &str,
    ids: &[String],
) -> StoreResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    tx.execute(
        "INSERT INTO session_memory_stores (session_id, memory_store_id)
         SELECT $1, store FROM UNNEST($2::text[]) AS store
         ON CONFLICT DO NOTHING",
        &[&session_id, &ids],
    )
    .await
    .map_err(pg)?;
    Ok(())
}

/// Archives (and so terminates) a session; the caller holds a transaction.
pub async fn archive<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    id: &str,
    now: i64,
    events: &[NewEvent],
) -> StoreResult<Option<Vec<StoredEvent>>> {
    let Some(Locked {
        last_seq,
        archived_at,
        ..
    }) = lock(tx, tenant_id, id).await?
    else {
        return Ok(None);
    };
    if archived_at.is_some() {
        return Ok(Some(Vec::new()));
    }
    tx.execute(
        "UPDATE session_events SET cancelled_at = $2
         WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL",
        &[&id, &now],
    )
    .await
    .map_err(pg)?;
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(tx, id, events, now, &mut tail).await?;
    tx.execute(
        "UPDATE sessions SET archived_at = $2, updated_at = $2, status = $3, pending_inputs = 0,
             last_seq = $4
         WHERE id = $1",
        &[
            &id,
            &now,
            &SessionStatus::Terminated.as_str(),
            &tail.last_seq,
        ],
    )
    .await
    .map_err(pg)?;
    Ok(Some(stored))
}

pub async fn delete<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    id: &str,
    now: i64,
    events: &[NewEvent],
) -> StoreResult<DeleteSessionOutcome> {
    let Some(Locked {
        status, last_seq, ..
    }) = lock(tx, tenant_id, id).await?
    else {
        return Ok(DeleteSessionOutcome::NotFound);
    };
    if status.is_busy() {
        return Ok(DeleteSessionOutcome::Running);
    }
    let mut tail = LogTail::new(last_seq, 0);
    let stored = append(tx, id, events, now, &mut tail).await?;
    let last_seq = tail.last_seq;
    tx.execute(
        "UPDATE session_events SET cancelled_at = $2
         WHERE session_id = $1 AND processed_at IS NULL AND cancelled_at IS NULL",
        &[&id, &now],
    )
    .await
    .map_err(pg)?;
    tx.execute(
        "UPDATE sessions SET deleted_at = $2, updated_at = $2, status = 'terminated',
             pending_inputs = 0, last_seq = $3, lease_owner = NULL, lease_expires_at = NULL
         WHERE id = $1",
        &[&id, &now, &last_seq],
    )
    .await
    .map_err(pg)?;
    // The sandbox's user is free for another session.
    tx.execute("DELETE FROM sandbox_users WHERE session_id = $1", &[&id])
        .await
        .map_err(pg)?;
    Ok(DeleteSessionOutcome::Deleted(stored))
}
