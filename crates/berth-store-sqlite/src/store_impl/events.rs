//! The event log as clients write and read it (`EventLog`), over the queries in `events.rs`.

use crate::*;

#[async_trait]
impl EventLog for SqliteStore {
    async fn append_client_events(
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

    async fn list_events(
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

    async fn read_events(
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

    async fn get_event(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let (session_id, event_id) = (session_id.to_owned(), event_id.to_owned());
        self.pool
            .read(move |c| events::get(c, &session_id, &event_id))
            .await
    }

    async fn queued_inputs(&self, session_id: &str, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| events::queued(c, &session_id, limit))
            .await
    }

    async fn context_events(
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
}
