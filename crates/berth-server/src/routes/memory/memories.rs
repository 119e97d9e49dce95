//! The memories of a store: create, retrieve, update, list (with `depth` roll-ups) and delete.

use super::*;

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}/memories", tag = "memories",
    params(("memory_store_id" = String, Path), ("view" = Option<MemoryView>, Query)),
    request_body = MemoryCreateRequest,
    responses((status = 200, body = Memory), (status = 400, body = berth_protocol::ErrorBody),
              (status = 404, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn create_memory(
    State(state): AppStateRef,
    caller: Caller,
    Path(store_id): Path<String>,
    params: QueryParams,
    JsonBody(request): JsonBody<MemoryCreateRequest>,
) -> ApiResult<Response> {
    let view = view(&params, MemoryView::Basic)?;
    let create = resolve_create(request)?;
    let memory = NewMemory {
        id: new_id(prefix::MEMORY),
        tenant_id: caller.tenant_id.clone(),
        store_id: store_id.clone(),
        path: create.path,
        content: content_of(&state, create.content).await,
    };
    let outcome = state
        .store
        .create_memory(&memory, &stamp(&caller)?, MAX_MEMORIES_PER_STORE)
        .await?;
    written(&state, &caller, &store_id, &memory.id, outcome, view).await
}

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}/memories/{memory_id}",
    tag = "memories",
    params(("memory_store_id" = String, Path), ("memory_id" = String, Path),
           ("view" = Option<MemoryView>, Query)),
    responses((status = 200, body = Memory), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve_memory(
    State(state): AppStateRef,
    caller: Caller,
    Path((store_id, id)): Path<(String, String)>,
    params: QueryParams,
) -> ApiResult<Response> {
    let view = view(&params, MemoryView::Full)?;
    let row = state
        .store
        .get_memory(&caller.tenant_id, &store_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(MEMORY, &id))?;
    Ok(json_response(
        StatusCode::OK,
        encode(&memory_of(row).in_view(view))?,
    ))
}

#[utoipa::path(post, path = "/memory_stores/{memory_store_id}/memories/{memory_id}",
    tag = "memories",
    params(("memory_store_id" = String, Path), ("memory_id" = String, Path),
           ("view" = Option<MemoryView>, Query)),
    request_body = MemoryUpdateRequest,
    responses((status = 200, body = Memory), (status = 400, body = berth_protocol::ErrorBody),
              (status = 404, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn update_memory(
    State(state): AppStateRef,
    caller: Caller,
    Path((store_id, id)): Path<(String, String)>,
    params: QueryParams,
    JsonBody(request): JsonBody<MemoryUpdateRequest>,
) -> ApiResult<Response> {
    let view = view(&params, MemoryView::Basic)?;
    let edit = resolve_update(request)?;
    let content = match edit.content {
        Some(content) => Some(content_of(&state, content).await),
        None => None,
    };
    let change = MemoryChange {
        path: edit.path,
        content,
    };
    let outcome = state
        .store
        .update_memory(
            &caller.tenant_id,
            &store_id,
            &id,
            &change,
            edit.expected_sha256.as_deref(),
            &stamp(&caller)?,
        )
        .await?;
    written(&state, &caller, &store_id, &id, outcome, view).await
}

#[utoipa::path(get, path = "/memory_stores/{memory_store_id}/memories", tag = "memories",
    params(("memory_store_id" = String, Path), ("path_prefix" = Option<String>, Query),
           ("depth" = Option<u32>, Query), ("limit" = Option<u32>, Query),
           ("page" = Option<String>, Query), ("view" = Option<MemoryView>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<MemoryListItem>),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn list_memories(
    State(state): AppStateRef,
    caller: Caller,
    Path(store_id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    let view = view(&params, MemoryView::Basic)?;
    let limit = full_view_cap(params.limit(20, 100)?, view);
    let path_prefix = params
        .get("path_prefix")
        .or_else(|| params.get("prefix"))
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    if let Some(p) = &path_prefix
        && !(p.starts_with('/') && p.ends_with('/'))
    {
        return Err(ApiError::bad_request(
            "path_prefix: must start and end with '/' (it matches whole segments, like \"/notes/\")",
        ));
    }
    // 0 (the default) lists every memory below the prefix.
    let depth = match params.int("depth")? {
        None | Some(0) => None,
        Some(d) if d >= 1 && d <= memory::MAX_PATH_SEGMENTS as i64 => Some(d as usize),
        Some(d) => {
            return Err(ApiError::bad_request(format!(
                "depth: must be between 0 and {}, not {d}",
                memory::MAX_PATH_SEGMENTS
            )));
        }
    };
    require_store(&state, &caller, &store_id).await?;
    // The listed directory: depth counts segments below it.
    let base = match &path_prefix {
        Some(p) => p
            .rsplit_once('/')
            .map_or_else(|| "/".to_owned(), |(dir, _)| format!("{dir}/")),
        None => "/".to_owned(),
    };

    // Items in path order, each with the path of the last memory it covers.
    let mut items: Vec<(Item, String)> = Vec::new();
    let mut after = cursor(&params)?.map(|c| c.key);
    'scan: loop {
        let rows = state
            .store
            .list_memories(
                &caller.tenant_id,
                &store_id,
                &MemoryQuery {
                    path_prefix: path_prefix.clone(),
                    after: after.clone(),
                    limit: SCAN_BATCH,
                    order: SortOrder::Asc,
                    with_content: false,
                },
            )
            .await?;
        let exhausted = rows.len() < SCAN_BATCH as usize;
        for row in rows {
            after = Some(row.path.clone());
            let rolled = depth.and_then(|d| roll_up(&base, &row.path, d));
            match (rolled, items.last_mut()) {
                (Some(dir), Some((Item::Prefix(last), covered))) if *last == dir => {
                    covered.clone_from(&row.path);
                }
                (rolled, _) => {
                    if items.len() > limit as usize {
                        break 'scan;
                    }
                    let path = row.path.clone();
                    items.push((
                        match rolled {
                            Some(dir) => Item::Prefix(dir),
                            None => Item::Memory(Box::new(row)),
                        },
                        path,
                    ));
                }
            }
        }
        if exhausted {
            break;
        }
    }

    let shown = items.len().min(limit as usize);
    // The full view's contents, read in one query (a page of it holds at most 20).
    let mut contents: std::collections::HashMap<String, MemoryRow> = if view == MemoryView::Full {
        let ids: Vec<String> = items[..shown]
            .iter()
            .filter_map(|(item, _)| match item {
                Item::Memory(row) => Some(row.id.clone()),
                Item::Prefix(_) => None,
            })
            .collect();
        state
            .store
            .memories_by_ids(&caller.tenant_id, &store_id, &ids)
            .await?
            .into_iter()
            .map(|row| (row.id.clone(), row))
            .collect()
    } else {
        Default::default()
    };
    let mut rendered = Vec::with_capacity(items.len());
    for (i, (item, covered)) in items.into_iter().enumerate() {
        let body = match item {
            // The extra item only signals another page; it is never shown.
            _ if i >= shown => String::new(),
            Item::Prefix(dir) => encode(&MemoryListItem::Prefix(MemoryPrefix::new(dir)))?,
            Item::Memory(row) => {
                let row = contents.remove(&row.id).unwrap_or(*row);
                encode(&memory_of(row).in_view(view))?
            }
        };
        rendered.push((body, covered));
    }
    Ok(page_response(rendered, limit, |r| &r.0, |r| r.1.clone()))
}

#[utoipa::path(delete, path = "/memory_stores/{memory_store_id}/memories/{memory_id}",
    tag = "memories",
    params(("memory_store_id" = String, Path), ("memory_id" = String, Path),
           ("expected_content_sha256" = Option<String>, Query)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn delete_memory(
    State(state): AppStateRef,
    caller: Caller,
    Path((store_id, id)): Path<(String, String)>,
    params: QueryParams,
) -> ApiResult<axum::Json<Deleted>> {
    let expected = params
        .get("expected_content_sha256")
        .map(|v| parse_sha256("expected_content_sha256", v))
        .transpose()?;
    match state
        .store
        .delete_memory(
            &caller.tenant_id,
            &store_id,
            &id,
            expected.as_deref(),
            &stamp(&caller)?,
        )
        .await?
    {
        DeleteMemory::Deleted => Ok(axum::Json(Deleted::new(id, "memory_deleted"))),
        DeleteMemory::NoStore => Err(no_store(&state, &caller, &store_id).await),
        DeleteMemory::NotFound => Err(ApiError::not_found(MEMORY, &id)),
        DeleteMemory::PreconditionFailed { current_sha256 } => {
            Err(precondition_failed(&id, &current_sha256))
        }
    }
}
