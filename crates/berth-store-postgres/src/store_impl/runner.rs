//! What runners do (`TurnLeases`): runnable sessions, leases, turns, streamed text.

use crate::*;

#[async_trait]
impl TurnLeases for PostgresStore {
    async fn runnable_sessions(&self, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>> {
        runner::runnable(&self.client().await?, lease_cutoff, limit).await
    }

    async fn claim_session(
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

    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool> {
        runner::renew(&self.client().await?, lease, expires_at).await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        runner::release(&self.client().await?, lease).await
    }

    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = runner::begin_turn(&tx, lease, now, opening).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = runner::append_turn(&tx, lease, events, effects, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        runner::save_buffer(&tx, lease, buffer).await?;
        tx.commit().await.map_err(pg)
    }

    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>> {
        runner::buffers(&self.client().await?, session_id).await
    }
}
