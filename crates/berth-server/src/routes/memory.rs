//! `/v1/memory_stores` (contract §8.2, beta `agent-memory-2026-07-22`): stores (documents),
//! their memories, the versions recorded for every change, and the seed's `entries` listing.
//!
//! Memory lists page in path order. With `depth`, a memory more than `depth` segments below the
//! listed directory (`path_prefix` up to its last `/`, or `/`) is rolled up into one
//! `memory_prefix` item for its directory at that depth. A roll-up is never split across pages:
//! a page ends after whole items, and its cursor is the path of the last memory the page's last
//! item covers, so the next page starts after every memory under that roll-up.

mod memories;
mod search;
mod stores;
mod versions;

pub use memories::*;
pub use search::*;
pub use stores::*;
pub use versions::*;

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
    Collection, DeleteMemory, MemoryChange, MemoryContent, MemoryQuery, MemoryRow,
    MemoryVersionQuery, MemoryVersionRow, MemoryVersionStamp, MemoryWrite, NewMemory,
    RedactVersion, SortOrder,
};

use crate::auth::Caller;
use crate::documents::{decode, encode};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{cursor, document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::{from_micros, micros, now};

pub(crate) const MEMORY_STORE: &str = "memory store";
const MEMORY: &str = "memory";
const MEMORY_VERSION: &str = "memory version";
/// Rows fetched per round while building a memory list page.
const SCAN_BATCH: u32 = 200;

type AppStateRef = State<Arc<AppState>>;

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

/// Checked content with its vector for search, written together with it.
async fn content_of(state: &AppState, content: CheckedContent) -> MemoryContent {
    MemoryContent {
        embedding: state.runtime.memory.embedding(&content.content).await,
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

/// Pages of the full view hold at most 20 items (contract §2).
fn full_view_cap(limit: u32, view: MemoryView) -> u32 {
    if view == MemoryView::Full {
        limit.min(20)
    } else {
        limit
    }
}

fn version_of(row: MemoryVersionRow) -> ApiResult<MemoryVersion> {
    let actor = |json: &str| decode::<Actor>(json);
    // A deletion shows where the memory was, never what it said (rows written before deleted
    // versions stopped keeping content still hold it).
    let deleted = row.operation == berth_store::MemoryOperation::Deleted;
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
        content: row.content.filter(|_| !deleted),
        content_sha256: row.content_sha256.filter(|_| !deleted),
        content_size_bytes: row.size_bytes.filter(|_| !deleted).map(|s| s.max(0) as u64),
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
