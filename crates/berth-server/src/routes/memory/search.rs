//! `POST /v1/memory_stores/{id}/search`: hybrid full-text and vector search over a store's
//! memories (see `berth-memory`).

use berth_protocol::memory::{MemorySearchRequest, MemorySearchResult, MemorySearchResults};

use super::*;

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}/search", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    request_body = MemorySearchRequest,
    responses((status = 200, body = MemorySearchResults),
              (status = 400, body = berth_protocol::ErrorBody),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn search(
    State(state): AppStateRef,
    caller: Caller,
    Path(store_id): Path<String>,
    JsonBody(request): JsonBody<MemorySearchRequest>,
) -> ApiResult<Response> {
    let (query, limit) = request.checked()?;
    require_store(&state, &caller, &store_id).await?;
    let hits = state
        .runtime
        .memory
        .search(
            state.store.as_ref(),
            &caller.tenant_id,
            &store_id,
            &query,
            limit,
        )
        .await
        .map_err(|e| match e {
            berth_memory::SearchError::Store(e) => ApiError::from(e),
        })?;
    let data = hits
        .into_iter()
        .map(|hit| MemorySearchResult {
            kind: Default::default(),
            memory_id: hit.memory.id,
            memory_store_id: hit.memory.store_id,
            memory_version_id: hit.memory.version_id,
            path: hit.memory.path,
            snippet: hit.snippet,
            score: (hit.score * 10_000.0).round() / 10_000.0,
            content_sha256: hit.memory.content_sha256,
            content_size_bytes: hit.memory.size_bytes.max(0) as u64,
            updated_at: from_micros(hit.memory.updated_at),
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        encode(&MemorySearchResults { data })?,
    ))
}
