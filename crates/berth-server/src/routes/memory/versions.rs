//! The versions recorded for every change to a memory: list, retrieve and redact.

use super::*;

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}/memory_versions",
    tag = "memory_versions",
    params(("memory_store_id" = String, Path), ("memory_id" = Option<String>, Query),
           ("operation" = Option<MemoryOperation>, Query), ("session_id" = Option<String>, Query),
           ("api_key_id" = Option<String>, Query), ("service_account_id" = Option<String>, Query),
           ("created_at[gte]" = Option<String>, Query), ("created_at[lte]" = Option<String>, Query),
           ("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("view" = Option<MemoryView>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<MemoryVersion>),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn list_versions(
    State(state): AppStateRef,
    caller: Caller,
    Path(store_id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    let view = view(&params, MemoryView::Basic)?;
    let (mut page, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let limit = full_view_cap(limit, view);
    page.limit = page.limit.min(limit + 1);
    let operation = params
        .get("operation")
        .filter(|o| !o.is_empty())
        .map(|o| match o {
            "created" => Ok(berth_store::MemoryOperation::Created),
            "modified" => Ok(berth_store::MemoryOperation::Modified),
            "deleted" => Ok(berth_store::MemoryOperation::Deleted),
            other => Err(ApiError::bad_request(format!(
                "operation: must be created, modified or deleted, not {other:?}"
            ))),
        })
        .transpose()?;
    let filter = |name: &str| params.get(name).filter(|v| !v.is_empty());
    let authors: Vec<Actor> = [
        filter("session_id").map(|id| Actor::SessionActor {
            session_id: id.to_owned(),
        }),
        filter("api_key_id").map(|id| Actor::ApiActor {
            api_key_id: id.to_owned(),
        }),
        filter("service_account_id").map(|id| Actor::ServiceAccountActor {
            service_account_id: id.to_owned(),
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    if authors.len() > 1 {
        return Err(ApiError::bad_request(
            "session_id, api_key_id and service_account_id cannot be combined (a version has one author)",
        ));
    }
    let actor = authors.into_iter().next();
    require_store(&state, &caller, &store_id).await?;
    let query = MemoryVersionQuery {
        memory_id: filter("memory_id").map(str::to_owned),
        operation,
        // Versions store their author exactly as `encode` renders it.
        actor: actor.as_ref().map(encode).transpose()?,
        with_content: view == MemoryView::Full,
        page,
    };
    let rows = state
        .store
        .list_memory_versions(&caller.tenant_id, &store_id, &query)
        .await?;
    let rendered = rows
        .into_iter()
        .map(|r| {
            let id = r.id.clone();
            Ok((encode(&version_of(r)?.in_view(view))?, id))
        })
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(page_response(rendered, limit, |r| &r.0, |r| r.1.clone()))
}

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}",
    tag = "memory_versions",
    params(("memory_store_id" = String, Path), ("memory_version_id" = String, Path),
           ("view" = Option<MemoryView>, Query)),
    responses((status = 200, body = MemoryVersion), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve_version(
    State(state): AppStateRef,
    caller: Caller,
    Path((store_id, id)): Path<(String, String)>,
    params: QueryParams,
) -> ApiResult<Response> {
    let view = view(&params, MemoryView::Full)?;
    let row = state
        .store
        .get_memory_version(&caller.tenant_id, &store_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(MEMORY_VERSION, &id))?;
    Ok(json_response(
        StatusCode::OK,
        encode(&version_of(row)?.in_view(view))?,
    ))
}

#[utoipa::path(post,
    path = "/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact",
    tag = "memory_versions",
    params(("memory_store_id" = String, Path), ("memory_version_id" = String, Path)),
    responses((status = 200, body = MemoryVersion), (status = 404, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn redact_version(
    State(state): AppStateRef,
    caller: Caller,
    Path((store_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let by = encode(&api_actor(&caller))?;
    match state
        .store
        .redact_memory_version(&caller.tenant_id, &store_id, &id, &by, micros(now()))
        .await?
    {
        RedactVersion::Redacted(row) => {
            Ok(json_response(StatusCode::OK, encode(&version_of(*row)?)?))
        }
        RedactVersion::NotFound => Err(ApiError::not_found(MEMORY_VERSION, &id)),
        RedactVersion::LiveHead => Err(ApiError::conflict(format!(
            "memory version {id} is the current state of a live memory and cannot be redacted; \
             change or delete the memory first"
        ))
        .with_code("memory_version_is_live")),
    }
}
