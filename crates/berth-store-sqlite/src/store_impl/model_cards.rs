//! Bodies of the `Store` methods for model cards; the trait impl in `lib.rs` forwards here.

use crate::*;

impl SqliteStore {
    pub(crate) async fn insert_model_card_inner(&self, card: &ModelCardRow) -> StoreResult<()> {
        let card = card.clone();
        self.pool
            .write(move |c| model_cards::insert(c, &card))
            .await
    }

    pub(crate) async fn get_model_card_inner(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<ModelCardRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| model_cards::get(c, &tenant_id, &id))
            .await
    }

    pub(crate) async fn find_model_card_inner(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>> {
        let (tenant_id, model_id) = (tenant_id.to_owned(), model_id.to_owned());
        self.pool
            .read(move |c| model_cards::find(c, &tenant_id, &model_id))
            .await
    }

    pub(crate) async fn list_model_cards_inner(
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

    pub(crate) async fn replace_model_card_inner(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let card = card.clone();
        self.pool
            .write(move |c| model_cards::replace(c, &card, expected_version))
            .await
    }

    pub(crate) async fn delete_model_card_inner(
        &self,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| model_cards::delete(c, &tenant_id, &id))
            .await
    }
}
