//! Model cards: a tenant's model credentials, sealed by the server before they are stored.

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
}
