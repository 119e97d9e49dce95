//! [`SandboxRecords`] and [`RateCounters`] on PostgreSQL. Users are allocated optimistically:
//! a candidate is inserted with `ON CONFLICT DO NOTHING`, and another replica taking the same
//! user at the same moment only costs a retry.

use std::ops::Range;

use async_trait::async_trait;
use berth_store::{RateCounters, RateTake, SandboxRecords, StoreError, StoreResult};
use deadpool_postgres::GenericClient;

use crate::PostgresStore;
use crate::connect::pg;

/// Candidates tried before giving up on a contended range.
const ALLOCATION_ATTEMPTS: usize = 16;

/// The lowest user of the range no session has.
const FIRST_FREE_UID: &str = "
    SELECT candidate FROM (
        SELECT $1::INTEGER AS candidate
         WHERE NOT EXISTS (SELECT 1 FROM sandbox_users WHERE uid = $1)
        UNION ALL
        SELECT u.uid + 1 FROM sandbox_users u
         WHERE u.uid + 1 >= $1 AND u.uid + 1 < $2
           AND NOT EXISTS (SELECT 1 FROM sandbox_users v WHERE v.uid = u.uid + 1)
    ) AS gaps ORDER BY candidate LIMIT 1";

fn as_sql(uid: u32) -> StoreResult<i32> {
    i32::try_from(uid).map_err(|_| StoreError::Backend(format!("user {uid} is out of range")))
}

#[async_trait]
impl SandboxRecords for PostgresStore {
    async fn sandbox_uid(
        &self,
        tenant_id: &str,
        session_id: &str,
        uids: Range<u32>,
        preferred: u32,
    ) -> StoreResult<Option<u32>> {
        let client = self.client().await?;
        let (first, end) = (as_sql(uids.start)?, as_sql(uids.end)?);
        let mut try_preferred = uids.contains(&preferred);
        for _ in 0..ALLOCATION_ATTEMPTS {
            let held = client
                .query_opt(
                    "SELECT uid FROM sandbox_users WHERE session_id = $1",
                    &[&session_id],
                )
                .await
                .map_err(pg)?;
            if let Some(row) = held {
                return Ok(Some(row.get::<_, i32>(0) as u32));
            }
            let candidate = if try_preferred {
                try_preferred = false;
                as_sql(preferred)?
            } else {
                match client
                    .query_opt(FIRST_FREE_UID, &[&first, &end])
                    .await
                    .map_err(pg)?
                {
                    Some(row) => row.get::<_, i32>(0),
                    None => return Ok(None),
                }
            };
            let inserted = client
                .query_opt(
                    "INSERT INTO sandbox_users (uid, session_id, tenant_id) VALUES ($1, $2, $3)
                     ON CONFLICT DO NOTHING RETURNING uid",
                    &[&candidate, &session_id, &tenant_id],
                )
                .await
                .map_err(pg)?;
            if let Some(row) = inserted {
                return Ok(Some(row.get::<_, i32>(0) as u32));
            }
        }
        Err(StoreError::Unavailable(
            "sandbox users are contended; try again".into(),
        ))
    }

    async fn record_sandbox_disk_use(&self, session_id: &str, bytes: u64) -> StoreResult<()> {
        let bytes = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.client()
            .await?
            .execute(
                "UPDATE sandbox_users SET disk_bytes = $2 WHERE session_id = $1",
                &[&session_id, &bytes],
            )
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn tenant_sandbox_disk_use(&self, tenant_id: &str) -> StoreResult<u64> {
        let row = self
            .client()
            .await?
            .query_one(
                "SELECT COALESCE(SUM(disk_bytes), 0)::BIGINT FROM sandbox_users WHERE tenant_id = $1",
                &[&tenant_id],
            )
            .await
            .map_err(pg)?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }
}

#[async_trait]
impl RateCounters for PostgresStore {
    async fn take_rate_units(
        &self,
        key: &str,
        window_start: i64,
        want: u64,
        limit: u64,
    ) -> StoreResult<RateTake> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO rate_windows (key, window_start, used) VALUES ($1, $2, 0)
             ON CONFLICT DO NOTHING",
            &[&key, &window_start],
        )
        .await
        .map_err(pg)?;
        let used: i64 = tx
            .query_one(
                "SELECT used FROM rate_windows WHERE key = $1 AND window_start = $2 FOR UPDATE",
                &[&key, &window_start],
            )
            .await
            .map_err(pg)?
            .get(0);
        let granted = want.min(limit.saturating_sub(used.max(0) as u64));
        if granted > 0 {
            tx.execute(
                "UPDATE rate_windows SET used = used + $3 WHERE key = $1 AND window_start = $2",
                &[&key, &window_start, &(granted as i64)],
            )
            .await
            .map_err(pg)?;
        }
        tx.commit().await.map_err(pg)?;
        Ok(RateTake {
            granted,
            used: used.max(0) as u64 + granted,
        })
    }

    async fn forget_rate_windows(&self, before: i64) -> StoreResult<u64> {
        self.client()
            .await?
            .execute(
                "DELETE FROM rate_windows WHERE window_start < $1",
                &[&before],
            )
            .await
            .map_err(pg)
    }
}
