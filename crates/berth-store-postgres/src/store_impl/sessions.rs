//! Sessions' own rows (`SessionRecords`) over the queries in `sessions.rs`.

use crate::*;

#[async_trait]
impl SessionRecords for PostgresStore {
    async fn create_session(
        &self,
        row: &SessionRow,
        memory_store_ids: &[String],
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let stored = sessions::create(&tx, row, memory_store_ids, events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(stored)
    }

    async fn get_session(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>> {
        sessions::get(&self.client().await?, tenant_id, id).await
    }

    async fn list_sessions(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>> {
        sessions::list(&self.client().await?, tenant_id, query).await
    }

    async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = sessions::change(&tx, change).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn archive_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let archived = sessions::archive(&tx, tenant_id, id, now, events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(archived)
    }

    async fn delete_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<DeleteSessionOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = sessions::delete(&tx, tenant_id, id, now, events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }
}
