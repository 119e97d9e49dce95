//! Bodies of the `Store` methods for vault credentials; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn insert_credential_inner(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert> {
        let credential = credential.clone();
        self.pool
            .write(move |c| vaults::insert(c, &credential, max_per_vault))
            .await
    }

    pub(crate) async fn get_credential_inner(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<Option<CredentialRow>> {
        let (tenant_id, vault_id, id) = (tenant_id.to_owned(), vault_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| vaults::get(c, &tenant_id, &vault_id, &id))
            .await
    }

    pub(crate) async fn list_credentials_inner(
        &self,
        tenant_id: &str,
        vault_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<CredentialRow>> {
        let (tenant_id, vault_id, query) =
            (tenant_id.to_owned(), vault_id.to_owned(), query.clone());
        self.pool
            .read(move |c| vaults::list(c, &tenant_id, &vault_id, &query))
            .await
    }

    pub(crate) async fn replace_credential_inner(
        &self,
        credential: &CredentialRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let credential = credential.clone();
        self.pool
            .write(move |c| vaults::replace(c, &credential, expected_version))
            .await
    }

    pub(crate) async fn delete_credential_inner(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let (tenant_id, vault_id, id) = (tenant_id.to_owned(), vault_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| vaults::delete(c, &tenant_id, &vault_id, &id))
            .await
    }

    pub(crate) async fn vault_credentials_inner(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> StoreResult<Vec<CredentialRow>> {
        let (tenant_id, vault_ids) = (tenant_id.to_owned(), vault_ids.to_vec());
        self.pool
            .read(move |c| vaults::of_vaults(c, &tenant_id, &vault_ids))
            .await
    }
}
