//! What the store keeps about sessions' sandboxes: the user each session's sandbox runs as
//! (so that no two live sessions share one, on any replica) and the disk space each uses (so
//! that tenant quotas hold across replicas). Apart from [`crate::Store`] so each backend
//! implements them in its sandbox file.

use std::ops::Range;

use async_trait::async_trait;

use crate::StoreResult;

#[async_trait]
pub trait SandboxRecords: Send + Sync {
    /// The user of the session's sandbox: the one recorded for it, or else a user from `uids`
    /// that no live session has (`preferred` if it is free, the lowest free one otherwise),
    /// recorded for it atomically. `None` when every user of the range is taken. Deleting the
    /// session frees its user.
    async fn sandbox_uid(
        &self,
        tenant_id: &str,
        session_id: &str,
        uids: Range<u32>,
        preferred: u32,
    ) -> StoreResult<Option<u32>>;
    /// Records how many bytes the session's sandbox files take (a session without a
    /// sandbox user is ignored).
    async fn record_sandbox_disk_use(&self, session_id: &str, bytes: u64) -> StoreResult<()>;
    /// The bytes the sandboxes of a tenant's live sessions take, as last recorded.
    async fn tenant_sandbox_disk_use(&self, tenant_id: &str) -> StoreResult<u64>;
}

/// What a take from a rate window gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateTake {
    /// Units granted now (0 once the window is spent).
    pub granted: u64,
    /// Units the window has handed out in all, this take included.
    pub used: u64,
}

/// Counters shared by every replica, for rate limits: each `key` (a tenant and a kind of
/// request, or a session's input bytes) counts units per window.
#[async_trait]
pub trait RateCounters: Send + Sync {
    /// Takes up to `want` units from `key`'s window starting at `window_start` (microseconds),
    /// which holds `limit` in all.
    async fn take_rate_units(
        &self,
        key: &str,
        window_start: i64,
        want: u64,
        limit: u64,
    ) -> StoreResult<RateTake>;
    /// Forgets windows that started before `before`; returns how many.
    async fn forget_rate_windows(&self, before: i64) -> StoreResult<u64>;
}
