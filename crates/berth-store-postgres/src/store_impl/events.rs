//! Bodies of the `Store` methods for the event log, leases, turns and stream buffers; the trait impl in `lib.rs` forwards here.

use crate::*;

impl PostgresStore {
    pub(crate) async fn append_client_events_inner(
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

    pub(crate) async fn begin_turn_inner(
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

    pub(crate) async fn append_turn_events_inner(
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

    pub(crate) async fn save_stream_buffer_inner(
        &self,
        lease: &Lease,
        buffer: &StreamBuffer,
    ) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        runner::save_buffer(&tx, lease, buffer).await?;
        tx.commit().await.map_err(pg)
    }
}
