//! Helpers for resources stored as documents (agents, environments): loading one by id with a
//! 404 for anything the caller's tenant cannot see, and turning a typed object into a row.

use std::sync::Arc;

use berth_store::{Collection, Document, Store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// Now, truncated to the microsecond precision the database keeps.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}

/// Loads a document and decodes its body; another tenant's id answers 404 like a missing one.
pub async fn load<T: DeserializeOwned>(
    store: &Arc<dyn Store>,
    collection: Collection,
    tenant_id: &str,
    id: &str,
    what: &str,
) -> ApiResult<(Document, T)> {
    let doc = store
        .get_document(collection, tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(what, id))?;
    let value = decode(&doc.body)?;
    Ok((doc, value))
}

pub fn decode<T: DeserializeOwned>(body: &str) -> ApiResult<T> {
    serde_json::from_str(body).map_err(|e| ApiError::internal(format!("stored body: {e}")))
}

pub fn encode<T: Serialize>(value: &T) -> ApiResult<String> {
    serde_json::to_string(value).map_err(ApiError::internal)
}

/// The fields every document row derives from its object.
pub struct Row<'a> {
    pub tenant_id: &'a str,
    pub id: &'a str,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

pub fn to_document<T: Serialize>(row: Row<'_>, value: &T) -> ApiResult<Document> {
    Ok(Document {
        id: row.id.to_owned(),
        tenant_id: row.tenant_id.to_owned(),
        version: row.version,
        created_at: micros(row.created_at),
        updated_at: micros(row.updated_at),
        archived_at: row.archived_at.map(micros),
        body: encode(value)?,
    })
}
