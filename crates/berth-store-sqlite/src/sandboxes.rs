//! [`SandboxRecords`] and [`RateCounters`] on SQLite: each operation one job of the writer
//! (which makes every check-then-write atomic) or one read.

use std::ops::Range;

use async_trait::async_trait;
use berth_store::{RateCounters, RateTake, SandboxRecords, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::pool::backend;

/// The lowest user of `uids` no session has.
const FIRST_FREE_UID: &str = "
    SELECT candidate FROM (
        SELECT ?1 AS candidate
         WHERE NOT EXISTS (SELECT 1 FROM sandbox_users WHERE uid = ?1)
        UNION ALL
        SELECT u.uid + 1 FROM sandbox_users u
         WHERE u.uid + 1 >= ?1 AND u.uid + 1 < ?2
           AND NOT EXISTS (SELECT 1 FROM sandbox_users v WHERE v.uid = u.uid + 1)
    ) ORDER BY candidate LIMIT 1";

fn allocate(
    conn: &Connection,
    tenant_id: &str,
    session_id: &str,
    uids: &Range<u32>,
    preferred: u32,
) -> StoreResult<Option<u32>> {
    let held: Option<u32> = conn
        .prepare_cached("SELECT uid FROM sandbox_users WHERE session_id = ?1")
        .and_then(|mut s| s.query_row(params![session_id], |r| r.get(0)).optional())
        .map_err(backend)?;
    if held.is_some() {
        return Ok(held);
    }
    let preferred_free = uids.contains(&preferred)
        && conn
            .prepare_cached("SELECT 1 FROM sandbox_users WHERE uid = ?1")
            .and_then(|mut s| s.exists(params![preferred]))
            .map_err(backend)?
            .eq(&false);
    let uid = if preferred_free {
        Some(preferred)
    } else {
        conn.prepare_cached(FIRST_FREE_UID)
            .and_then(|mut s| {
                s.query_row(params![uids.start, uids.end], |r| r.get::<_, u32>(0))
                    .optional()
            })
            .map_err(backend)?
    };
    let Some(uid) = uid else {
        return Ok(None);
    };
    conn.prepare_cached(
        "INSERT INTO sandbox_users (uid, session_id, tenant_id) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut s| s.execute(params![uid, session_id, tenant_id]))
    .map_err(backend)?;
    Ok(Some(uid))
}

fn take_units(
    conn: &Connection,
    key: &str,
    window_start: i64,
    want: u64,
    limit: u64,
) -> StoreResult<RateTake> {
    let used: u64 = conn
        .prepare_cached("SELECT used FROM rate_windows WHERE key = ?1 AND window_start = ?2")
        .and_then(|mut s| {
            s.query_row(params![key, window_start], |r| r.get::<_, i64>(0))
                .optional()
        })
        .map_err(backend)?
        .map_or(0, |u| u.max(0) as u64);
    let granted = want.min(limit.saturating_sub(used));
    if granted == 0 {
        return Ok(RateTake { granted, used });
    }
    conn.prepare_cached(
        "INSERT INTO rate_windows (key, window_start, used) VALUES (?1, ?2, ?3)
         ON CONFLICT (key, window_start) DO UPDATE SET used = used + ?3",
    )
    .and_then(|mut s| s.execute(params![key, window_start, granted as i64]))
    .map_err(backend)?;
    Ok(RateTake {
        granted,
        used: used + granted,
    })
}

#[async_trait]
impl SandboxRecords for SqliteStore {
    async fn sandbox_uid(
        &self,
        tenant_id: &str,
        session_id: &str,
        uids: Range<u32>,
        preferred: u32,
    ) -> StoreResult<Option<u32>> {
        let (tenant_id, session_id) = (tenant_id.to_owned(), session_id.to_owned());
        self.pool
            .write(move |c| allocate(c, &tenant_id, &session_id, &uids, preferred))
            .await
    }

    async fn record_sandbox_disk_use(&self, session_id: &str, bytes: u64) -> StoreResult<()> {
        let session_id = session_id.to_owned();
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.pool
            .write(move |c| {
                c.prepare_cached("UPDATE sandbox_users SET disk_bytes = ?2 WHERE session_id = ?1")
                    .and_then(|mut s| s.execute(params![session_id, bytes]))
                    .map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn tenant_sandbox_disk_use(&self, tenant_id: &str) -> StoreResult<u64> {
        let tenant_id = tenant_id.to_owned();
        self.pool
            .read(move |c| {
                c.prepare_cached(
                    "SELECT COALESCE(SUM(disk_bytes), 0) FROM sandbox_users WHERE tenant_id = ?1",
                )
                .and_then(|mut s| s.query_row(params![tenant_id], |r| r.get::<_, i64>(0)))
                .map(|total| total.max(0) as u64)
                .map_err(backend)
            })
            .await
    }
}

#[async_trait]
impl RateCounters for SqliteStore {
    async fn take_rate_units(
        &self,
        key: &str,
        window_start: i64,
        want: u64,
        limit: u64,
    ) -> StoreResult<RateTake> {
        let key = key.to_owned();
        self.pool
            .write(move |c| take_units(c, &key, window_start, want, limit))
            .await
    }

    async fn forget_rate_windows(&self, before: i64) -> StoreResult<u64> {
        self.pool
            .write(move |c| {
                c.prepare_cached("DELETE FROM rate_windows WHERE window_start < ?1")
                    .and_then(|mut s| s.execute(params![before]))
                    .map(|n| n as u64)
                    .map_err(backend)
            })
            .await
    }
}
