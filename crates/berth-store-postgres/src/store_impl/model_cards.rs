//! Model cards (`ModelCardRecords`) over the queries in `model_cards.rs`.

use crate::*;

#[async_trait]
impl ModelCardRecords for PostgresStore {
    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()> {
        model_cards::insert(&self.client().await?, card).await
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
        model_cards::replace(&self.client().await?, card, expected_version).await
    }

    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        model_cards::delete(&self.client().await?, tenant_id, id).await
    }
}
