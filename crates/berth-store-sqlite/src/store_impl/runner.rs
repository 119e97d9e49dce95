//! What runners do (`TurnLeases`): runnable sessions, leases, turns, streamed text.

use crate::*;

#[async_trait]
impl TurnLeases for SqliteStore {
    async fn runnable_sessions(&self, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>> {
        self.pool
            .read(move |c| runner::runnable(c, lease_cutoff, limit))
            .await
    }

    async fn claim_session(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>> {
        let (session_id, owner) = (session_id.to_owned(), owner.to_owned());
        self.pool
            .write(move |c| runner::claim(c, &session_id, &owner, lease_cutoff, expires_at))
            .await
    }

    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool> {
        let lease = lease.clone();
        self.pool
            .write(move |c| runner::renew(c, &lease, expires_at))
            .await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        let lease = lease.clone();
        self.pool.write(move |c| runner::release(c, &lease)).await
    }

    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart> {
        let (lease, opening) = (lease.clone(), opening.to_vec());
        self.pool
            .write(move |c| runner::begin_turn(c, &lease, now, &opening))
            .await
    }

    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let (lease, events, effects) = (lease.clone(), events.to_vec(), effects.clone());
        self.pool
            .write(move |c| runner::append_turn(c, &lease, &events, &effects, now))
            .await
    }

    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()> {
        let (lease, buffer) = (lease.clone(), buffer.clone());
        self.pool
            .write(move |c| runner::save_buffer(c, &lease, &buffer))
            .await
    }

    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| runner::buffers(c, &session_id))
            .await
    }
}
