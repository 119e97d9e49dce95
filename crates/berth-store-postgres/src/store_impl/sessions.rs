//! Bodies of the `Store` methods for sessions; the trait impl in `lib.rs` forwards here.

use crate::*;

impl PostgresStore {
    pub(crate) async fn create_session_inner(
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

    pub(crate) async fn change_session_inner(
        &self,
        change: &SessionChange,
    ) -> StoreResult<ChangeOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = sessions::change(&tx, change).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    pub(crate) async fn delete_session_inner(
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

    pub(crate) async fn claim_session_inner(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>> {
        runner::claim(
            &self.client().await?,
            session_id,
            owner,
            lease_cutoff,
            expires_at,
        )
        .await
    }
}
