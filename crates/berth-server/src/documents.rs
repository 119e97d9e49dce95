//! Helpers for resources stored as documents (agents, environments, vaults, memory stores):
//! loading one by id with a 404 for anything the caller's tenant cannot see, turning a typed
//! object into a row, and changing one with optimistic concurrency ([`change_document`]).

use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::time::{micros, now};
use berth_store::{Attempt, Collection, Document, DocumentRecords, optimistically};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};
use crate::listing::json_response;

/// Loads a document and decodes its body; another tenant's id answers 404 like a missing one.
pub async fn load<T: DeserializeOwned>(
    store: &dyn DocumentRecords,
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

/// A resource object stored as a document that can be archived.
pub trait Archivable: Serialize + DeserializeOwned {
    /// Its row at `version`, in the caller's tenant.
    fn row<'a>(&'a self, tenant_id: &'a str, version: i64) -> Row<'a>;
    fn archived_at(&self) -> Option<DateTime<Utc>>;
    /// Archives it now; `false` when it already was.
    fn archive(&mut self, at: DateTime<Utc>) -> bool;
}

/// Implements [`Archivable`] for objects with `id`, `created_at`, `updated_at` and
/// `archived_at` fields.
macro_rules! archivable {
    ($($object:ty),* $(,)?) => {$(
        impl Archivable for $object {
            fn row<'a>(&'a self, tenant_id: &'a str, version: i64) -> Row<'a> {
                Row {
                    tenant_id,
                    id: &self.id,
                    version,
                    created_at: self.created_at,
                    updated_at: self.updated_at,
                    archived_at: self.archived_at,
                }
            }
            fn archived_at(&self) -> Option<DateTime<Utc>> {
                self.archived_at
            }
            fn archive(&mut self, at: DateTime<Utc>) -> bool {
                if self.archived_at.is_some() {
                    return false;
                }
                self.archived_at = Some(at);
                self.updated_at = at;
                true
            }
        }
    )*};
}

archivable!(
    berth_protocol::environment::Environment,
    berth_protocol::vault::Vault,
    berth_protocol::memory::MemoryStore,
);

/// Loads a document, asks `change` for its next state (`None`: answer it as it is) and
/// replaces it if nobody wrote it in between, retrying a few times; answers the object as
/// stored. `what` names the resource in errors.
pub async fn change_document<T: Archivable>(
    store: &dyn DocumentRecords,
    collection: Collection,
    tenant_id: &str,
    id: &str,
    what: &str,
    change: impl Fn(T) -> ApiResult<Option<T>> + Sync,
) -> ApiResult<Response> {
    let change = &change;
    optimistic(what, id, || async move {
        let (doc, current) = load::<T>(store, collection, tenant_id, id, what).await?;
        let Some(next) = change(current)? else {
            return Ok(Attempt::Done(json_response(StatusCode::OK, doc.body)));
        };
        let next_doc = to_document(next.row(tenant_id, doc.version + 1), &next)?;
        let written = store
            .replace_document(collection, &next_doc, doc.version)
            .await?;
        Ok(Attempt::won_if(written, || {
            json_response(StatusCode::OK, next_doc.body)
        }))
    })
    .await
}

/// Runs an optimistic write of the `what` called `id` (see [`optimistically`]), answering 409
/// when other writers keep winning the race.
pub async fn optimistic<T, F>(what: &str, id: &str, attempt: impl FnMut() -> F) -> ApiResult<T>
where
    F: Future<Output = ApiResult<Attempt<T>>>,
{
    optimistically(attempt).await?.ok_or_else(|| {
        ApiError::conflict(format!("{what} {id} is being changed concurrently; retry"))
    })
}

/// Archives a document (archiving twice answers the first archive).
pub async fn archive_document<T: Archivable>(
    store: &dyn DocumentRecords,
    collection: Collection,
    tenant_id: &str,
    id: &str,
    what: &str,
) -> ApiResult<Response> {
    change_document(store, collection, tenant_id, id, what, |mut object: T| {
        Ok(object.archive(now()).then_some(object))
    })
    .await
}
