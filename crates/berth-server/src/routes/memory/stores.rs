//! Memory stores: create, retrieve, update, list, archive and delete, and the `entries` listing.

use super::*;

#[utoipa::path(post, path = "/memory_stores", tag = "memory_stores",
    request_body = MemoryStoreCreateRequest,
    responses((status = 200, body = MemoryStore), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create_store(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<MemoryStoreCreateRequest>,
) -> ApiResult<Response> {
    let store = create_memory_store(request, new_id(prefix::MEMORY_STORE), now())?;
    let doc = to_document(store.row(&caller.tenant_id, 1), &store)?;
    state
        .store
        .insert_document(Collection::MemoryStores, &doc)
        .await?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve_store(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let doc = state
        .store
        .get_document(Collection::MemoryStores, &caller.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(MEMORY_STORE, &id))?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)), request_body = MemoryStoreUpdateRequest,
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn update_store(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<MemoryStoreUpdateRequest>,
) -> ApiResult<Response> {
    change_document(
        &*state.store,
        Collection::MemoryStores,
        &caller.tenant_id,
        &id,
        MEMORY_STORE,
        |current: MemoryStore| {
            if current.archived_at.is_some() {
                return Err(archived(&id));
            }
            Ok(update_memory_store(&current, request.clone(), now())?)
        },
    )
    .await
}

#[utoipa::path(get, path = "/memory_stores", tag = "memory_stores",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query),
           ("created_at[gte]" = Option<String>, Query), ("created_at[lte]" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<MemoryStore>)))]
pub async fn list_stores(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state
        .store
        .list_documents(Collection::MemoryStores, &caller.tenant_id, &query)
        .await?;
    Ok(page_response(rows, limit, |d| &d.body, |d| d.id.clone()))
}

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}/archive", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn archive_store(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    archive_document::<MemoryStore>(
        &*state.store,
        Collection::MemoryStores,
        &caller.tenant_id,
        &id,
        MEMORY_STORE,
    )
    .await
}

#[utoipa::path(delete, path = "/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn delete_store(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    match state
        .store
        .delete_document(Collection::MemoryStores, &caller.tenant_id, &id)
        .await?
    {
        DeleteOutcome::Deleted => Ok(axum::Json(Deleted::new(id, "memory_store_deleted"))),
        DeleteOutcome::NotFound => Err(ApiError::not_found(MEMORY_STORE, &id)),
        DeleteOutcome::InUse => Err(ApiError::conflict(format!("memory store {id} is in use"))),
    }
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
