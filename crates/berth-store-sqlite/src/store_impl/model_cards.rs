//! Model cards (`ModelCardRecords`) over the queries in `model_cards.rs`.

use crate::*;

#[async_trait]
impl ModelCardRecords for SqliteStore {
    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()> {
        let card = card.clone();
        self.pool
            .write(move |c| model_cards::insert(c, &card))
            .await
    }

    async fn get_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| model_cards::get(c, &tenant_id, &id))
            .await
    }

    async fn default_model_card(&self, tenant_id: &str) -> StoreResult<Option<ModelCardRow>> {
        let tenant_id = tenant_id.to_owned();
        self.pool
            .read(move |c| model_cards::default_card(c, &tenant_id))
            .await
    }

    async fn find_model_card(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>> {
        let (tenant_id, model_id) = (tenant_id.to_owned(), model_id.to_owned());
        self.pool
            .read(move |c| model_cards::find(c, &tenant_id, &model_id))
            .await
    }

    async fn list_model_cards(
        &self,
        tenant_id: &str,
        provider: Option<&str>,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ModelCardRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        let provider = provider.map(str::to_owned);
        self.pool
            .read(move |c| model_cards::list(c, &tenant_id, provider.as_deref(), &query))
            .await
    }

    async fn replace_model_card(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let card = card.clone();
        self.pool
            .write(move |c| model_cards::replace(c, &card, expected_version))
            .await
    }

    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| model_cards::delete(c, &tenant_id, &id))
            .await
    }
}
