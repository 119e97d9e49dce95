//! Bodies of the `Store` methods for the event log, leases, turns and stream buffers; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn append_client_events_inner(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome> {
        let (tenant_id, session_id, events) =
            (tenant_id.to_owned(), session_id.to_owned(), events.to_vec());
        self.pool
            .write(move |c| events::append_client(c, &tenant_id, &session_id, &events, now))
            .await
    }

    pub(crate) async fn list_events_inner(
        &self,
        tenant_id: &str,
        session_id: &str,
        query: &EventQuery,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (tenant_id, session_id, query) =
            (tenant_id.to_owned(), session_id.to_owned(), query.clone());
        self.pool
            .read(move |c| events::list(c, &tenant_id, &session_id, &query))
            .await
    }

    pub(crate) async fn read_events_inner(
        &self,
        session_id: &str,
        after_seq: i64,
        limit: u32,
        max_bytes: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| events::read(c, &session_id, after_seq, limit, max_bytes))
            .await
    }

    pub(crate) async fn get_event_inner(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let (session_id, event_id) = (session_id.to_owned(), event_id.to_owned());
        self.pool
            .read(move |c| events::get(c, &session_id, &event_id))
            .await
    }

    pub(crate) async fn context_events_inner(
        &self,
        session_id: &str,
        after: i64,
        scope: ContextScope,
    ) -> StoreResult<Vec<StoredEvent>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| events::context(c, &session_id, after, scope))
            .await
    }

    pub(crate) async fn renew_lease_inner(
        &self,
        lease: &Lease,
        expires_at: i64,
    ) -> StoreResult<bool> {
        let lease = lease.clone();
        self.pool
            .write(move |c| runner::renew(c, &lease, expires_at))
            .await
    }

    pub(crate) async fn release_lease_inner(&self, lease: &Lease) -> StoreResult<()> {
        let lease = lease.clone();
        self.pool.write(move |c| runner::release(c, &lease)).await
    }

    pub(crate) async fn begin_turn_inner(
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

    pub(crate) async fn append_turn_events_inner(
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

    pub(crate) async fn save_stream_buffer_inner(
        &self,
        lease: &Lease,
        buffer: &StreamBuffer,
    ) -> StoreResult<()> {
        let (lease, buffer) = (lease.clone(), buffer.clone());
        self.pool
            .write(move |c| runner::save_buffer(c, &lease, &buffer))
            .await
    }

    pub(crate) async fn stream_buffers_inner(
        &self,
        session_id: &str,
    ) -> StoreResult<Vec<StreamBuffer>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| runner::buffers(c, &session_id))
            .await
    }
}
