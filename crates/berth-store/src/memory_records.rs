//! The memories of memory stores and their versions: the storage operations, apart from
//! [`crate::Store`] so each backend implements them in its memory files. See [`crate::memory`]
//! for the rows and outcomes.

use async_trait::async_trait;

use crate::{
    DeleteMemory, MemoryChange, MemoryQuery, MemoryRow, MemoryVersionQuery, MemoryVersionRow,
    MemoryVersionStamp, MemoryWrite, NewMemory, RedactVersion, StoreResult,
};

#[async_trait]
pub trait MemoryRecords: Send + Sync {
    /// Creates a memory with its `created` version (id, actor and time from `version`) if the
    /// store exists in the memory's tenant, is not archived, holds fewer than `max_per_store`
    /// memories and has no memory at the path — checked and written atomically.
    async fn create_memory(
        &self,
        memory: &NewMemory,
        version: &MemoryVersionStamp,
        max_per_store: u32,
    ) -> StoreResult<MemoryWrite>;
    /// Renames and/or edits a memory, recording a `modified` version with the result, if the
    /// content still has `expected_sha256` (when given). Concurrent updates queue behind each
    /// other: each records its version and the last one's result stays.
    async fn update_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        change: &MemoryChange,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<MemoryWrite>;
    /// Deletes a memory, recording a `deleted` version with its last path (no content), if the
    /// content still has `expected_sha256` (when given). The memory's versions stay.
    async fn delete_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<DeleteMemory>;
    async fn get_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryRow>>;
    /// The memory at a (normalised) path.
    async fn get_memory_by_path(
        &self,
        tenant_id: &str,
        store_id: &str,
        path: &str,
    ) -> StoreResult<Option<MemoryRow>>;
    /// A page of a store's memories in path order.
    async fn list_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryQuery,
    ) -> StoreResult<Vec<MemoryRow>>;
    async fn count_memories(&self, tenant_id: &str, store_id: &str) -> StoreResult<u64>;
    /// A store's most recently written memories, newest first, with their content.
    async fn recent_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemoryRow>>;

    /// A page of a store's versions (of one memory, if the query names it), by id.
    async fn list_memory_versions(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryVersionQuery,
    ) -> StoreResult<Vec<MemoryVersionRow>>;
    async fn get_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryVersionRow>>;
    /// Clears a version's path, content, digest and size, recording who redacted it (`by`, an
    /// actor as JSON) and when; refused for the current version of a live memory.
    async fn redact_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> StoreResult<RedactVersion>;
    /// Deletes versions (of every tenant) created before `older_than`, except each memory's
    /// newest version, which stays however old it is. Returns how many went.
    async fn prune_memory_versions(&self, older_than: i64) -> StoreResult<u64>;
}
