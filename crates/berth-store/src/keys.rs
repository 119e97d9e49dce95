//! Tenants and API keys. Keys are stored only as a SHA-256 hash; the raw key leaves the server
//! once, in the response that created it.

use crate::{DocumentQuery, StoreResult};

/// A tenant: the unit every other row is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
}

/// A key to insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    /// The first characters of the raw key, shown so people can tell keys apart.
    pub prefix: String,
    /// SHA-256 of the raw key.
    pub hash: Vec<u8>,
    /// Admin keys may create tenants.
    pub is_admin: bool,
    /// Where the key came from: `"api"`, `"tenant"`, `"bootstrap"` or `"env"`.
    pub source: String,
    pub created_at: i64,
}

/// A stored key (never the raw key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    pub id: String,
    pub tenant_id: String,
    pub name: String,
    pub prefix: String,
    pub hash: Vec<u8>,
    pub is_admin: bool,
    pub source: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    Revoked,
    NotFound,
    /// Refused: revoking it would lock the tenant out.
    LastActiveKey,
}

/// Tenants and their API keys.
#[async_trait::async_trait]
pub trait TenantRecords: Send + Sync {
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
}
