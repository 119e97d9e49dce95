//! One set of handlers for the resources stored as documents (environments, vaults, memory
//! stores): create, retrieve, update, list, archive and delete, written once over
//! [`DocumentResource`]. Each resource's module keeps only its OpenAPI annotations, which name its
//! paths and types, and whatever it does beyond the shared skeleton (a vault archives its
//! credentials first).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::Timestamp;
use berth_protocol::ids::new_id;
use berth_protocol::pagination::Order;
use berth_protocol::time::now;
use berth_protocol::validation::Validated;
use berth_store::{Collection, DeleteOutcome};
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::documents::{Archivable, archive_document, change_document, to_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;

/// A resource stored as a document, with what the shared handlers need to know of it.
pub trait DocumentResource: Archivable + Send + Sync + 'static {
    const COLLECTION: Collection;
    /// Its name in messages (`"memory store"`).
    const NAME: &'static str;
    /// The prefix of its ids.
    const ID_PREFIX: &'static str;
    /// The error code of an update refused because it is archived (`"vault_archived"`).
    const ARCHIVED_CODE: &'static str;
    /// The `type` of the answer to a delete (`"vault_deleted"`).
    const DELETED_TYPE: &'static str;

    type Create: DeserializeOwned + Send;
    type Update: DeserializeOwned + Clone + Send + Sync;

    fn create(request: Self::Create, id: String, now: Timestamp) -> Validated<Self>;

    /// The next state, or `None` when the request changes nothing.
    fn update(current: &Self, request: Self::Update, now: Timestamp) -> Validated<Option<Self>>;

    /// The answer to an update of an archived one.
    fn archived(id: &str) -> ApiError {
        ApiError::bad_request(format!(
            "{} {id} is archived and cannot be updated",
            Self::NAME
        ))
        .with_code(Self::ARCHIVED_CODE)
    }

    /// The answer to deleting one still in use.
    fn in_use(id: &str) -> String {
        format!("{} {id} is in use", Self::NAME)
    }
}

type AppStateRef = State<Arc<AppState>>;

pub async fn create<R: DocumentResource>(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<R::Create>,
) -> ApiResult<Response> {
    let object = R::create(request, new_id(R::ID_PREFIX), now())?;
    let doc = to_document(object.row(&caller.tenant_id, 1), &object)?;
    state.store.insert_document(R::COLLECTION, &doc).await?;
    Ok(json_response(StatusCode::OK, doc.body))
}

pub async fn retrieve<R: DocumentResource>(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let doc = state
        .store
        .get_document(R::COLLECTION, &caller.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::NAME, &id))?;
    Ok(json_response(StatusCode::OK, doc.body))
}

pub async fn update<R: DocumentResource>(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<R::Update>,
) -> ApiResult<Response> {
    change_document(
        &*state.store,
        R::COLLECTION,
        &caller.tenant_id,
        &id,
        R::NAME,
        |current: R| {
            if current.archived_at().is_some() {
                return Err(R::archived(&id));
            }
            Ok(R::update(&current, request.clone(), now())?)
        },
    )
    .await
}

pub async fn list<R: DocumentResource>(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state
        .store
        .list_documents(R::COLLECTION, &caller.tenant_id, &query)
        .await?;
    Ok(page_response(rows, limit, |d| &d.body, |d| d.id.clone()))
}

pub async fn archive<R: DocumentResource>(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    archive_document::<R>(
        &*state.store,
        R::COLLECTION,
        &caller.tenant_id,
        &id,
        R::NAME,
    )
    .await
}

pub async fn delete<R: DocumentResource>(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    match state
        .store
        .delete_document(R::COLLECTION, &caller.tenant_id, &id)
        .await?
    {
        DeleteOutcome::Deleted => Ok(axum::Json(Deleted::new(id, R::DELETED_TYPE))),
        DeleteOutcome::NotFound => Err(ApiError::not_found(R::NAME, &id)),
        DeleteOutcome::InUse => Err(ApiError::conflict(R::in_use(&id))),
    }
}
