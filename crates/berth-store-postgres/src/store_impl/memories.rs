//! [`MemoryRecords`] on PostgreSQL: writes in a transaction each (committed only when they
//! wrote), reads on a pooled connection.

use crate::*;

impl PostgresStore {
    async fn create_memory_inner(
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

    async fn update_memory_inner(
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

    async fn delete_memory_inner(
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

    async fn redact_memory_version_inner(
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

#[async_trait]
impl MemoryRecords for PostgresStore {
    async fn create_memory(
        &self,
        memory: &NewMemory,
        version: &MemoryVersionStamp,
        max_per_store: u32,
    ) -> StoreResult<MemoryWrite> {
        self.create_memory_inner(memory, version, max_per_store)
            .await
    }

    async fn update_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        change: &MemoryChange,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<MemoryWrite> {
        self.update_memory_inner(tenant_id, store_id, id, change, expected_sha256, version)
            .await
    }

    async fn delete_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<DeleteMemory> {
        self.delete_memory_inner(tenant_id, store_id, id, expected_sha256, version)
            .await
    }

    async fn get_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        memories::get(&self.client().await?, tenant_id, store_id, id).await
    }

    async fn get_memory_by_path(
        &self,
        tenant_id: &str,
        store_id: &str,
        path: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        memories::get_by_path(&self.client().await?, tenant_id, store_id, path).await
    }

    async fn list_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryQuery,
    ) -> StoreResult<Vec<MemoryRow>> {
        memories::list(&self.client().await?, tenant_id, store_id, query).await
    }

    async fn count_memories(&self, tenant_id: &str, store_id: &str) -> StoreResult<u64> {
        memories::count(&self.client().await?, tenant_id, store_id).await
    }

    async fn recent_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemoryRow>> {
        memories::recent(&self.client().await?, tenant_id, store_id, limit).await
    }

    async fn list_memory_versions(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryVersionQuery,
    ) -> StoreResult<Vec<MemoryVersionRow>> {
        memory_versions::list(&self.client().await?, tenant_id, store_id, query).await
    }

    async fn get_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryVersionRow>> {
        memory_versions::get(&self.client().await?, tenant_id, store_id, id).await
    }

    async fn redact_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> StoreResult<RedactVersion> {
        self.redact_memory_version_inner(tenant_id, store_id, id, by, at)
            .await
    }

    async fn prune_memory_versions(&self, older_than: i64) -> StoreResult<u64> {
        memory_versions::prune(&self.client().await?, older_than).await
    }
}
