//! Bodies of the `Store` methods for memories and memory versions; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn create_memory_inner(
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

    pub(crate) async fn update_memory_inner(
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

    pub(crate) async fn delete_memory_inner(
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

    pub(crate) async fn get_memory_inner(
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

    pub(crate) async fn get_memory_by_path_inner(
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

    pub(crate) async fn list_memories_inner(
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

    pub(crate) async fn count_memories_inner(
        &self,
        tenant_id: &str,
        store_id: &str,
    ) -> StoreResult<u64> {
        let (tenant_id, store_id) = (tenant_id.to_owned(), store_id.to_owned());
        self.pool
            .read(move |c| memories::count(c, &tenant_id, &store_id))
            .await
    }

    pub(crate) async fn recent_memories_inner(
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

    pub(crate) async fn list_memory_versions_inner(
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

    pub(crate) async fn get_memory_version_inner(
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

    pub(crate) async fn redact_memory_version_inner(
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

    pub(crate) async fn prune_memory_versions_inner(&self, older_than: i64) -> StoreResult<u64> {
        self.pool
            .write(move |c| memory_versions::prune(c, older_than))
            .await
    }
}
