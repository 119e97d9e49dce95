//! The event log as clients write and read it (`EventLog`), over the queries in `events.rs`.

use crate::*;

#[async_trait]
impl EventLog for PostgresStore {
    async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = events::append_client(&tx, tenant_id, session_id, events, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn list_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        query: &EventQuery,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::list(&self.client().await?, tenant_id, session_id, query).await
    }

    async fn read_events(
        &self,
        session_id: &str,
        after_seq: i64,
        limit: u32,
        max_bytes: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::read(
            &self.client().await?,
            session_id,
            after_seq,
            limit,
            max_bytes,
        )
        .await
    }

    async fn get_event(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        events::get(&self.client().await?, session_id, event_id).await
    }

    async fn queued_inputs(&self, session_id: &str, limit: u32) -> StoreResult<Vec<StoredEvent>> {
        events::queued(&self.client().await?, session_id, limit).await
    }

    async fn context_events(
        &self,
        session_id: &str,
        after: i64,
        scope: ContextScope,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::context(&self.client().await?, session_id, after, scope).await
    }
}
