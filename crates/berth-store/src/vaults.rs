//! Vault credentials: the public part as the API renders it, the secret part sealed by the
//! server (never plaintext here). Vaults themselves are documents ([`crate::Collection::Vaults`]).

/// One credential of a vault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialRow {
    pub id: String,
    pub tenant_id: String,
    pub vault_id: String,
    /// `static_bearer`, `mcp_oauth` or `environment_variable`.
    pub auth_type: String,
    /// The MCP server the credential is for (`static_bearer` and `mcp_oauth`); at most one
    /// active credential per vault has a given URL.
    pub mcp_server_url: Option<String>,
    /// Bumped on every change (compare-and-swap on token refresh and updates).
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
    /// The credential as the API shows it (no secret in it).
    pub body: String,
    /// The secret fields, sealed; `None` once archived.
    pub sealed: Option<Vec<u8>>,
}

/// What inserting a credential did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialInsert {
    Inserted,
    /// The vault does not exist in the tenant (or is archived).
    NoVault,
    /// The vault already holds the most credentials allowed.
    VaultFull,
    /// Another active credential of the vault has the same `mcp_server_url`.
    DuplicateUrl,
}
