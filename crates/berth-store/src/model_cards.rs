//! Model cards: a tenant's model credentials, sealed by the server before they are stored.

use crate::{DocumentQuery, StoreResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelCardRow {
    pub id: String,
    pub tenant_id: String,
    /// The handle agents name as their `model`; unique per tenant.
    pub model_id: String,
    /// `ant`, `ant-compatible`, `oai` or `oai-compatible` (lists filter on it).
    pub provider: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// The public card as the API shows it.
    pub body: String,
    /// The key and header values, sealed (never plaintext).
    pub sealed: Vec<u8>,
    /// The tenant's default card: the one used when an agent's model names no card. Writing a
    /// card with this set clears it on every other card of the tenant, in the same transaction.
    pub is_default: bool,
    /// Archived cards are hidden from lists and never resolve a model.
    pub archived_at: Option<i64>,
}

/// Tenants' model cards.
#[async_trait::async_trait]
pub trait ModelCardRecords: Send + Sync {
    /// Inserts a card; a `model_id` already used in the tenant is a conflict.
    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()>;

    async fn get_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>>;

    /// The tenant's default card, unless it is archived.
    async fn default_model_card(&self, tenant_id: &str) -> StoreResult<Option<ModelCardRow>>;

    /// The tenant's card whose handle is `model_id`, unless it is archived.
    async fn find_model_card(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>>;

    /// A page of the tenant's cards that are not archived, of one provider if `provider` is set.
    async fn list_model_cards(
        &self,
        tenant_id: &str,
        provider: Option<&str>,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ModelCardRow>>;

    /// Replaces a card if its version is still `expected_version`.
    async fn replace_model_card(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool>;

    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool>;
}
