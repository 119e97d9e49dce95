//! Storage traits, row models and [`StoreError`], with no SQL in sight.
//!
//! Each backend crate (`berth-store-sqlite`, `berth-store-postgres`) implements [`Store`]; the
//! `berth-store-tests` crate runs one contract suite against both. Rows carry JSON bodies as
//! text: resources are stored exactly as the API renders them, so reads return them without a
//! decode/encode round trip. Timestamps are microseconds since the Unix epoch.

mod documents;
mod error;
mod keys;

pub use documents::{Collection, DeleteOutcome, Document, DocumentQuery, SortOrder};
pub use error::{StoreError, StoreResult};
pub use keys::{ApiKeyRow, NewApiKey, RevokeOutcome, TenantRow};

use async_trait::async_trait;

/// Everything Berth persists. One implementation per database.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The backend's name for logs and `/readyz` (`"sqlite"` or `"postgres"`).
    fn backend(&self) -> &'static str;

    /// Answers when the database can serve a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    // ----------------------------------------------------------- settings

    /// Stores `value` under `key` unless a value is already there; returns the stored value.
    async fn meta_get_or_init(&self, key: &str, value: &str) -> StoreResult<String>;

    // ------------------------------------------------------ tenants and keys

    /// Creates a tenant together with its first API key, atomically.
    async fn create_tenant(&self, tenant: &TenantRow, first_key: &NewApiKey) -> StoreResult<()>;
    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>>;
    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>>;
    /// Inserts a key; if a key with the same hash exists (an operator-provided key seen again),
    /// it is re-activated with the new attributes instead. Returns the stored key's id.
    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String>;
    /// The active (not revoked) key with this SHA-256 hash.
    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>>;
    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>>;
    /// Revokes a key unless it is the tenant's last active one.
    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome>;
    /// Revokes every key of `source` in the tenant except `keep_id` (the rotated bootstrap key).
    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64>;
    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()>;

    // ----------------------------------------------------------- documents

    /// Inserts a new document. For [`Collection::Agents`] the body is also recorded as version 1.
    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()>;
    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>>;
    /// Pages through a tenant's documents; returns at most `query.limit` rows.
    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>>;
    /// Replaces a document if its stored version is still `expected_version`; returns false when
    /// another writer got there first. For agents a changed version is also recorded in history.
    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool>;
    /// Hard-deletes a document, refusing while a live session still references it.
    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome>;

    // ------------------------------------------------------ agent history

    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>>;
    /// Pages through an agent's versions; the cursor key is the version number.
    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>>;
    /// The current version of each named agent in the tenant; unknown ids are left out.
    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>>;
}
