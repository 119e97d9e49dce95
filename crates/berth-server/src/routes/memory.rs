//! `/v1/memory_stores` (contract §8.2, beta `agent-memory-2026-07-22`): stores (documents),
//! their memories, the versions recorded for every change, and the seed's `entries` listing.
//!
//! Memory lists page in path order. With `depth`, a memory more than `depth` segments below the
//! listed directory (`path_prefix` up to its last `/`, or `/`) is rolled up into one
//! `memory_prefix` item for its directory at that depth. A roll-up is never split across pages:
//! a page ends after whole items, and its cursor is the path of the last memory the page's last
//! item covers, so the next page starts after every memory under that roll-up.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::memory::{
    Actor, CheckedContent, MAX_MEMORIES_PER_STORE, Memory, MemoryCreateRequest, MemoryListItem,
    MemoryOperation, MemoryPrefix, MemoryStore, MemoryStoreCreateRequest, MemoryStoreUpdateRequest,
    MemoryUpdateRequest, MemoryVersion, MemoryView, create_memory_store, parse_sha256,
    resolve_create, resolve_update, update_memory_store,
};
use berth_protocol::pagination::Order;
use berth_protocol::{ErrorType, memory};
use berth_store::{
    Collection, DeleteMemory, DeleteOutcome, MemoryChange, MemoryContent, MemoryQuery, MemoryRow,
    MemoryVersionQuery, MemoryVersionRow, MemoryVersionStamp, MemoryWrite, NewMemory,
    RedactVersion, SortOrder,
};

use crate::auth::Caller;
use crate::documents::{Row, decode, encode, from_micros, load, micros, now, to_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{cursor, document_query, json_response, page_response};
use crate::state::AppState;

pub(crate) const MEMORY_STORE: &str = "memory store";
const MEMORY: &str = "memory";
const MEMORY_VERSION: &str = "memory version";
const UPDATE_ATTEMPTS: usize = 3;
/// Rows fetched per round while building a memory list page.
const SCAN_BATCH: u32 = 200;

type AppStateRef = State<Arc<AppState>>;

// ------------------------------------------------------------------ stores

#[utoipa::path(post, path = "/v1/memory_stores", tag = "memory_stores",
    request_body = MemoryStoreCreateRequest,
    responses((status = 200, body = MemoryStore), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create_store(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<MemoryStoreCreateRequest>,
) -> ApiResult<Response> {
    let store = create_memory_store(request, new_id(prefix::MEMORY_STORE), now())?;
    let doc = to_document(row(&caller, &store, 1), &store)?;
    state
        .store
        .insert_document(Collection::MemoryStores, &doc)
        .await?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}", tag = "memory_stores",
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

#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}", tag = "memory_stores",
    params(("memory_store_id" = String, Path)), request_body = MemoryStoreUpdateRequest,
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn update_store(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<MemoryStoreUpdateRequest>,
) -> ApiResult<Response> {
    for _ in 0..UPDATE_ATTEMPTS {
        let (doc, current) = load::<MemoryStore>(
            &state.store,
            Collection::MemoryStores,
            &caller.tenant_id,
            &id,
            MEMORY_STORE,
        )
        .await?;
        if current.archived_at.is_some() {
            return Err(archived(&id));
        }
        let Some(next) = update_memory_store(&current, request.clone(), now())? else {
            return Ok(json_response(StatusCode::OK, doc.body));
        };
        let next_doc = to_document(row(&caller, &next, doc.version + 1), &next)?;
        if state
            .store
            .replace_document(Collection::MemoryStores, &next_doc, doc.version)
            .await?
        {
            return Ok(json_response(StatusCode::OK, next_doc.body));
        }
    }
    Err(ApiError::conflict(format!(
        "memory store {id} is being changed concurrently; retry"
    )))
}

#[utoipa::path(get, path = "/v1/memory_stores", tag = "memory_stores",
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

#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/archive", tag = "memory_stores",
    params(("memory_store_id" = String, Path)),
    responses((status = 200, body = MemoryStore), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn archive_store(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    for _ in 0..UPDATE_ATTEMPTS {
        let (doc, mut store) = load::<MemoryStore>(
            &state.store,
            Collection::MemoryStores,
            &caller.tenant_id,
            &id,
            MEMORY_STORE,
        )
        .await?;
        if store.archived_at.is_some() {
            return Ok(json_response(StatusCode::OK, doc.body));
        }
        let at = now();
        store.archived_at = Some(at);
        store.updated_at = at;
        let next = to_document(row(&caller, &store, doc.version + 1), &store)?;
        if state
            .store
            .replace_document(Collection::MemoryStores, &next, doc.version)
            .await?
        {
            return Ok(json_response(StatusCode::OK, next.body));
        }
    }
    Err(ApiError::conflict(format!(
        "memory store {id} is being changed concurrently; retry"
    )))
}

#[utoipa::path(delete, path = "/v1/memory_stores/{memory_store_id}", tag = "memory_stores",
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

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/entries", tag = "memory_stores",
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

// ---------------------------------------------------------------- memories

#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/memories", tag = "memories",
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
        content: content_of(create.content),
    };
    let outcome = state
        .store
        .create_memory(&memory, &stamp(&caller)?, MAX_MEMORIES_PER_STORE)
        .await?;
    written(&state, &caller, &store_id, &memory.id, outcome, view).await
}

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memories/{memory_id}",
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

#[utoipa::path(post, path = "/v1/memory_stores/{memory_store_id}/memories/{memory_id}",
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
    let change = MemoryChange {
        path: edit.path,
        content: edit.content.map(content_of),
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

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memories", tag = "memories",
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
    let limit = params.limit(20, 100)?;
    let path_prefix = params
        .get("path_prefix")
        .or_else(|| params.get("prefix"))
        .filter(|p| !p.is_empty())
        .map(str::to_owned);
    if let Some(p) = &path_prefix
        && !p.starts_with('/')
    {
        return Err(ApiError::bad_request("path_prefix: must start with '/'"));
    }
    let depth = match params.int("depth")? {
        None => None,
        Some(d) if d >= 1 && d <= memory::MAX_PATH_SEGMENTS as i64 => Some(d as usize),
        Some(d) => {
            return Err(ApiError::bad_request(format!(
                "depth: must be between 1 and {}, not {d}",
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
    let mut rendered = Vec::with_capacity(items.len());
    for (i, (item, covered)) in items.into_iter().enumerate() {
        let body = match item {
            // The extra item only signals another page; it is never shown.
            _ if i >= shown => String::new(),
            Item::Prefix(dir) => encode(&MemoryListItem::Prefix(MemoryPrefix::new(dir)))?,
            Item::Memory(row) => {
                let row = if view == MemoryView::Full {
                    state
                        .store
                        .get_memory(&caller.tenant_id, &store_id, &row.id)
                        .await?
                        .unwrap_or(*row)
                } else {
                    *row
                };
                encode(&memory_of(row).in_view(view))?
            }
        };
        rendered.push((body, covered));
    }
    Ok(page_response(rendered, limit, |r| &r.0, |r| r.1.clone()))
}

#[utoipa::path(delete, path = "/v1/memory_stores/{memory_store_id}/memories/{memory_id}",
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

// ---------------------------------------------------------------- versions

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memory_versions",
    tag = "memory_versions",
    params(("memory_store_id" = String, Path), ("memory_id" = Option<String>, Query),
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
    let (page, limit) = document_query(&params, 20, 100, Order::Desc)?;
    require_store(&state, &caller, &store_id).await?;
    let query = MemoryVersionQuery {
        memory_id: params
            .get("memory_id")
            .filter(|m| !m.is_empty())
            .map(str::to_owned),
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

#[utoipa::path(get, path = "/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}",
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
    path = "/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact",
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

// ----------------------------------------------------------------- helpers

enum Item {
    Memory(Box<MemoryRow>),
    Prefix(String),
}

/// The roll-up directory of `path` when it lies more than `depth` segments below `base` (a
/// directory ending with `/`), e.g. `("/", "/a/b/c.md", 1)` → `/a/`.
fn roll_up(base: &str, path: &str, depth: usize) -> Option<String> {
    let rest = path.strip_prefix(base)?;
    let mut end = 0;
    for (segments, (i, _)) in rest.match_indices('/').enumerate() {
        if segments + 1 == depth {
            end = i + 1;
            break;
        }
    }
    rest.get(..end)
        .filter(|dir| !dir.is_empty())
        .map(|dir| format!("{base}{dir}"))
}

fn view(params: &QueryParams, default: MemoryView) -> ApiResult<MemoryView> {
    Ok(params
        .get("view")
        .map(|v| MemoryView::parse("view", v))
        .transpose()?
        .unwrap_or(default))
}

async fn require_store(state: &AppState, caller: &Caller, id: &str) -> ApiResult<()> {
    state
        .store
        .get_document(Collection::MemoryStores, &caller.tenant_id, id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found(MEMORY_STORE, id))
}

/// Why a write found no store: archived (read-only) or missing.
async fn no_store(state: &AppState, caller: &Caller, id: &str) -> ApiError {
    match state
        .store
        .get_document(Collection::MemoryStores, &caller.tenant_id, id)
        .await
    {
        Ok(Some(doc)) if doc.archived_at.is_some() => archived(id),
        Ok(_) => ApiError::not_found(MEMORY_STORE, id),
        Err(e) => e.into(),
    }
}

fn archived(id: &str) -> ApiError {
    ApiError::bad_request(format!(
        "memory store {id} is archived and cannot be changed"
    ))
    .with_code("memory_store_archived")
}

fn precondition_failed(id: &str, current: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorType::MemoryPreconditionFailedError,
        format!("memory {id} no longer has the expected content (its content_sha256 is {current})"),
    )
}

async fn written(
    state: &AppState,
    caller: &Caller,
    store_id: &str,
    id: &str,
    outcome: MemoryWrite,
    view: MemoryView,
) -> ApiResult<Response> {
    match outcome {
        MemoryWrite::Written(row) | MemoryWrite::Unchanged(row) => Ok(json_response(
            StatusCode::OK,
            encode(&memory_of(row).in_view(view))?,
        )),
        MemoryWrite::NoStore => Err(no_store(state, caller, store_id).await),
        MemoryWrite::StoreFull => Err(ApiError::bad_request(format!(
            "memory store {store_id} already holds the limit of 2,000 memories \
             ({MAX_MEMORIES_PER_STORE}); delete some first"
        ))
        .with_code("memory_store_full")),
        MemoryWrite::NotFound => Err(ApiError::not_found(MEMORY, id)),
        MemoryWrite::PathTaken { existing_id } => Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorType::MemoryPathConflictError,
            format!("path: another memory ({existing_id}) of the store already has this path"),
        )),
        MemoryWrite::PreconditionFailed { current_sha256 } => {
            Err(precondition_failed(id, &current_sha256))
        }
    }
}

fn api_actor(caller: &Caller) -> Actor {
    Actor::ApiActor {
        api_key_id: caller.key_id.clone(),
    }
}

fn stamp(caller: &Caller) -> ApiResult<MemoryVersionStamp> {
    Ok(MemoryVersionStamp {
        id: new_id(prefix::MEMORY_VERSION),
        actor: encode(&api_actor(caller))?,
        created_at: micros(now()),
    })
}

fn content_of(content: CheckedContent) -> MemoryContent {
    MemoryContent {
        text: content.content,
        sha256: content.sha256,
        size_bytes: content.size_bytes as i64,
    }
}

fn memory_of(row: MemoryRow) -> Memory {
    Memory {
        id: row.id,
        kind: Default::default(),
        memory_store_id: row.store_id,
        memory_version_id: row.version_id,
        path: row.path,
        content_sha256: row.content_sha256,
        content_size_bytes: row.size_bytes.max(0) as u64,
        content: Some(row.content),
        created_at: from_micros(row.created_at),
        updated_at: from_micros(row.updated_at),
    }
}

fn version_of(row: MemoryVersionRow) -> ApiResult<MemoryVersion> {
    let actor = |json: &str| decode::<Actor>(json);
    Ok(MemoryVersion {
        id: row.id,
        kind: Default::default(),
        memory_id: row.memory_id,
        memory_store_id: row.store_id,
        operation: match row.operation {
            berth_store::MemoryOperation::Created => MemoryOperation::Created,
            berth_store::MemoryOperation::Modified => MemoryOperation::Modified,
            berth_store::MemoryOperation::Deleted => MemoryOperation::Deleted,
        },
        created_at: from_micros(row.created_at),
        content: row.content,
        content_sha256: row.content_sha256,
        content_size_bytes: row.size_bytes.map(|s| s.max(0) as u64),
        path: row.path,
        created_by: if row.actor.is_empty() {
            None
        } else {
            Some(actor(&row.actor)?)
        },
        redacted_at: row.redacted_at.map(from_micros),
        redacted_by: row.redacted_by.as_deref().map(actor).transpose()?,
    })
}

fn row<'a>(caller: &'a Caller, store: &'a MemoryStore, version: i64) -> Row<'a> {
    Row {
        tenant_id: &caller.tenant_id,
        id: &store.id,
        version,
        created_at: store.created_at,
        updated_at: store.updated_at,
        archived_at: store.archived_at,
    }
}
