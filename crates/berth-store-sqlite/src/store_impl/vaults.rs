//! [`CredentialRecords`] on SQLite: each operation one job of the writer or one read.

use crate::*;

#[async_trait]
impl CredentialRecords for SqliteStore {
    async fn insert_credential(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert> {
        let credential = credential.clone();
        self.pool
            .write(move |c| vaults::insert(c, &credential, max_per_vault))
            .await
    }

    async fn get_credential(
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

    async fn list_credentials(
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

    async fn replace_credential(
        &self,
        credential: &CredentialRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let credential = credential.clone();
        self.pool
            .write(move |c| vaults::replace(c, &credential, expected_version))
            .await
    }

    async fn delete_credential(
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

    async fn vault_credentials(
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
