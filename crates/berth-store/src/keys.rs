//! Tenants and API keys. Keys are stored only as a SHA-256 hash; the raw key leaves the server
//! once, in the response that created it.

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
