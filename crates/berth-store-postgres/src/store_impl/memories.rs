//! Bodies of the `Store` methods for memories and memory versions; the trait impl in `lib.rs` forwards here.

use crate::*;

impl PostgresStore {
    pub(crate) async fn create_memory_inner(
        &self,
        memory: &NewMemory,
        version: &MemoryVersionStamp,
        max_per_store: u32,
    ) -> StoreResult<MemoryWrite> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = memories::create(&tx, memory, version, max_per_store).await?;
        // Anything but a write wrote nothing; dropping the transaction rolls it back.
        if matches!(outcome, MemoryWrite::Written(_)) {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }

    pub(crate) async fn update_memory_inner(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        change: &MemoryChange,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<MemoryWrite> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = memories::update(
            &tx,
            tenant_id,
            store_id,
            id,
            change,
            expected_sha256,
            version,
        )
        .await?;
        if matches!(outcome, MemoryWrite::Written(_)) {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }

    pub(crate) async fn delete_memory_inner(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<DeleteMemory> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome =
            memories::delete(&tx, tenant_id, store_id, id, expected_sha256, version).await?;
        if outcome == DeleteMemory::Deleted {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }

    pub(crate) async fn redact_memory_version_inner(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> StoreResult<RedactVersion> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = memory_versions::redact(&tx, tenant_id, store_id, id, by, at).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }
}
