//! Model cards (`ModelCardRecords`) over the queries in `model_cards.rs`.

use crate::*;

#[async_trait]
impl ModelCardRecords for PostgresStore {
    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        model_cards::insert(&tx, card).await?;
        tx.commit().await.map_err(pg)
    }

    async fn default_model_card(&self, tenant_id: &str) -> StoreResult<Option<ModelCardRow>> {
        model_cards::default_card(&self.client().await?, tenant_id).await
    }

    async fn get_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>> {
        model_cards::get(&self.client().await?, tenant_id, id).await
    }

    async fn find_model_card(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>> {
        model_cards::find(&self.client().await?, tenant_id, model_id).await
    }

    async fn list_model_cards(
        &self,
        tenant_id: &str,
        provider: Option<&str>,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ModelCardRow>> {
        model_cards::list(&self.client().await?, tenant_id, provider, query).await
    }

    async fn replace_model_card(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let replaced = model_cards::replace(&tx, card, expected_version).await?;
        tx.commit().await.map_err(pg)?;
        Ok(replaced)
    }

    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        model_cards::delete(&self.client().await?, tenant_id, id).await
    }
}
