//! Bodies of the `Store` methods for vault credentials; the trait impl in `lib.rs` forwards here.

use crate::*;

impl PostgresStore {
    pub(crate) async fn insert_credential_inner(
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
