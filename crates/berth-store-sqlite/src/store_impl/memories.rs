//! [`MemoryRecords`] on SQLite: each operation one job of the writer or one read.

use crate::*;

#[async_trait]
impl MemoryRecords for SqliteStore {
    async fn create_memory(
        &self,
        memory: &NewMemory,
        version: &MemoryVersionStamp,
        max_per_store: u32,
    ) -> StoreResult<MemoryWrite> {
        let (memory, version) = (memory.clone(), version.clone());
        self.pool
            .write(move |c| memories::create(c, &memory, &version, max_per_store))
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
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        let (change, expected, version) = (
            change.clone(),
            expected_sha256.map(str::to_owned),
            version.clone(),
        );
        self.pool
            .write(move |c| {
                memories::update(
                    c,
                    &tenant_id,
                    &store_id,
                    &id,
                    &change,
                    expected.as_deref(),
                    &version,
                )
            })
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
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        let (expected, version) = (expected_sha256.map(str::to_owned), version.clone());
        self.pool
            .write(move |c| {
                memories::delete(c, &tenant_id, &store_id, &id, expected.as_deref(), &version)
            })
            .await
    }

    async fn get_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| memories::get(c, &tenant_id, &store_id, &id))
            .await
    }

    async fn get_memory_by_path(
        &self,
        tenant_id: &str,
        store_id: &str,
        path: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        let (tenant_id, store_id, path) =
            (tenant_id.to_owned(), store_id.to_owned(), path.to_owned());
        self.pool
            .read(move |c| memories::get_by_path(c, &tenant_id, &store_id, &path))
            .await
    }

    async fn list_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryQuery,
    ) -> StoreResult<Vec<MemoryRow>> {
        let (tenant_id, store_id, query) =
            (tenant_id.to_owned(), store_id.to_owned(), query.clone());
        self.pool
            .read(move |c| memories::list(c, &tenant_id, &store_id, &query))
            .await
    }

    async fn count_memories(&self, tenant_id: &str, store_id: &str) -> StoreResult<u64> {
        let (tenant_id, store_id) = (tenant_id.to_owned(), store_id.to_owned());
        self.pool
            .read(move |c| memories::count(c, &tenant_id, &store_id))
            .await
    }

    async fn recent_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemoryRow>> {
        let (tenant_id, store_id) = (tenant_id.to_owned(), store_id.to_owned());
        self.pool
            .read(move |c| memories::recent(c, &tenant_id, &store_id, limit))
            .await
    }

    async fn list_memory_versions(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryVersionQuery,
    ) -> StoreResult<Vec<MemoryVersionRow>> {
        let (tenant_id, store_id, query) =
            (tenant_id.to_owned(), store_id.to_owned(), query.clone());
        self.pool
            .read(move |c| memory_versions::list(c, &tenant_id, &store_id, &query))
            .await
    }

    async fn get_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryVersionRow>> {
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| memory_versions::get(c, &tenant_id, &store_id, &id))
            .await
    }

    async fn redact_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> StoreResult<RedactVersion> {
        let (tenant_id, store_id, id, by) = (
            tenant_id.to_owned(),
            store_id.to_owned(),
            id.to_owned(),
            by.to_owned(),
        );
        self.pool
            .write(move |c| memory_versions::redact(c, &tenant_id, &store_id, &id, &by, at))
            .await
    }

    async fn prune_memory_versions(&self, older_than: i64) -> StoreResult<u64> {
        self.pool
            .write(move |c| memory_versions::prune(c, older_than))
            .await
    }
}
