//! The credentials of vaults: the storage operations, apart from [`crate::Store`] so each
//! backend implements them in its vault files. Vaults themselves are documents.

use async_trait::async_trait;

use crate::{CredentialInsert, CredentialRow, DocumentQuery, StoreResult};

#[async_trait]
pub trait CredentialRecords: Send + Sync {
    /// Inserts a credential if its vault exists, is not archived and holds fewer than
    /// `max_per_vault` credentials (archived ones included), and no active credential of the
    /// vault has the same `mcp_server_url` — checked and inserted atomically.
    async fn insert_credential(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert>;
    async fn get_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<Option<CredentialRow>>;
    /// A page of a vault's credentials by id (archived ones only when the query asks).
    async fn list_credentials(
        &self,
        tenant_id: &str,
        vault_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<CredentialRow>>;
    /// Replaces a credential if it is still at `expected_version`; a duplicate active
    /// `mcp_server_url` is a conflict.
    async fn replace_credential(
        &self,
        credential: &CredentialRow,
        expected_version: i64,
    ) -> StoreResult<bool>;
    async fn delete_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<bool>;
    /// The active credentials of the given vaults of a tenant (archived vaults and credentials
    /// left out), in no particular order.
    async fn vault_credentials(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> StoreResult<Vec<CredentialRow>>;
}
