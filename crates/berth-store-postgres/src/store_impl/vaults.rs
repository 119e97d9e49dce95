//! [`CredentialRecords`] on PostgreSQL.

use crate::*;

impl PostgresStore {
    async fn insert_credential_inner(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = vaults::insert(&tx, credential, max_per_vault).await?;
        // Anything but an insert wrote nothing (or aborted the transaction on the unique
        // index); dropping the transaction rolls it back.
        if outcome == CredentialInsert::Inserted {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }
}

#[async_trait]
impl CredentialRecords for PostgresStore {
    async fn insert_credential(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert> {
        self.insert_credential_inner(credential, max_per_vault)
            .await
    }

    async fn get_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<Option<CredentialRow>> {
        vaults::get(&self.client().await?, tenant_id, vault_id, id).await
    }

    async fn list_credentials(
        &self,
        tenant_id: &str,
        vault_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<CredentialRow>> {
        vaults::list(&self.client().await?, tenant_id, vault_id, query).await
    }

    async fn replace_credential(
        &self,
        credential: &CredentialRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        vaults::replace(&self.client().await?, credential, expected_version).await
    }

    async fn delete_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        vaults::delete(&self.client().await?, tenant_id, vault_id, id).await
    }

    async fn vault_credentials(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> StoreResult<Vec<CredentialRow>> {
        vaults::of_vaults(&self.client().await?, tenant_id, vault_ids).await
    }
}
