//! Memory stores: create, retrieve, update, list, archive and delete, and the `entries` listing.

use berth_protocol::Timestamp;
use berth_protocol::validation::Validated;

use super::*;
use crate::routes::document_resource::{self as documents, DocumentResource};

impl DocumentResource for MemoryStore {
    const COLLECTION: Collection = Collection::MemoryStores;
    const NAME: &'static str = MEMORY_STORE;
    const ID_PREFIX: &'static str = prefix::MEMORY_STORE;
    const ARCHIVED_CODE: &'static str = "memory_store_archived";
    const DELETED_TYPE: &'static str = "memory_store_deleted";
    type Create = MemoryStoreCreateRequest;
    type Update = MemoryStoreUpdateRequest;

    fn create(request: Self::Create, id: String, now: Timestamp) -> Validated<Self> {
        create_memory_store(request, id, now)
    }

    fn update(current: &Self, request: Self::Update, now: Timestamp) -> Validated<Option<Self>> {
        update_memory_store(current, request, now)
    }

    /// The same answer as a write to one of its memories.
    fn archived(id: &str) -> ApiError {
        archived(id)
    }
}

#[utoipa::path(post, path = "/memory_stores", tag = "memory_stores",
    request_body = MemoryStoreCreateRequest,
    responses((status = 200, body = MemoryStore), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create_store(
    state: AppStateRef,
    caller: Caller,
    request: JsonBody<MemoryStoreCreateRequest>,
) -> ApiResult<Response> {
    documents::create::<MemoryStore>(state, caller, request).await
}

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve_store(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Response> {
    documents::retrieve::<MemoryStore>(state, caller, id).await
}

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)), request_body = MemoryStoreUpdateRequest,
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn update_store(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
    request: JsonBody<MemoryStoreUpdateRequest>,
) -> ApiResult<Response> {
    documents::update::<MemoryStore>(state, caller, id, request).await
}

#[utoipa::path(get, path = "/memory_stores", tag = "memory_stores",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query),
           ("created_at[gte]" = Option<String>, Query), ("created_at[lte]" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<MemoryStore>)))]
pub async fn list_stores(
    state: AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    documents::list::<MemoryStore>(state, caller, params).await
}

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}/archive", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn archive_store(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<Response> {
    documents::archive::<MemoryStore>(state, caller, id).await
}

#[utoipa::path(delete, path = "/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn delete_store(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    documents::delete::<MemoryStore>(state, caller, id).await
}

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}/entries", tag = "memory_stores",
    params(("memory_store_id" = String, Path), ("limit" = Option<u32>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Memory>),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn entries(
    State(state): AppStateRef,
    caller: Caller,
    Path(store_id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    let limit = params.limit(20, 100)?;
    require_store(&state, &caller, &store_id).await?;
    let rows = state
        .store
        .recent_memories(&caller.tenant_id, &store_id, limit)
        .await?;
    let bodies = rows
        .into_iter()
        .map(|r| encode(&memory_of(r)))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(page_response(bodies, limit, |b| b, |_| String::new()))
}
