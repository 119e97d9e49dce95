//! Locking a session's row for the rest of a transaction, and the state it is in: every
//! change to a session and its log starts here.

use berth_store::{SessionStatus, StoreResult, stored_status};
use deadpool_postgres::GenericClient;

use crate::connect::pg;

/// A session row's state as a writer needs it.
pub struct Locked {
    pub version: i64,
    pub status: SessionStatus,
    pub last_seq: i64,
    pub archived_at: Option<i64>,
    pub pending: i64,
}

/// Locks the session row for the rest of the transaction and returns its state.
pub async fn lock<C: GenericClient>(
    tx: &C,
    tenant_id: &str,
    id: &str,
) -> StoreResult<Option<Locked>> {
    let row = tx
        .query_opt(
            "SELECT version, status, last_seq, archived_at, pending_inputs FROM sessions
             WHERE id = $1 AND tenant_id = $2 AND deleted_at IS NULL FOR UPDATE",
            &[&id, &tenant_id],
        )
        .await
        .map_err(pg)?;
    row.map(|r| {
        Ok(Locked {
            version: r.get(0),
            status: stored_status(r.get(1))?,
            last_seq: r.get(2),
            archived_at: r.get(3),
            pending: r.get(4),
        })
    })
    .transpose()
}
