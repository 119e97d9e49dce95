//! Memory stores (contract §8.2, beta `agent-memory-2026-07-22`): named stores of small text
//! files ("memories") that sessions mount and agents read and write, with a version recorded
//! for every change. This module holds the store object and the pure rules for creating and
//! updating one; memories are in [`memories`], their versions in [`versions`], and the path and
//! content rules in [`path`].

pub mod memories;
pub mod path;
#[cfg(test)]
mod path_properties;
pub mod search;
#[cfg(test)]
mod tests;
pub mod versions;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::metadata::{self, EmptyValue};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_name_text};
use crate::{Metadata, Timestamp};

pub use memories::{
    CheckedContent, Memory, MemoryCreate, MemoryCreateRequest, MemoryEdit, MemoryListItem,
    MemoryPrefix, MemoryUpdateRequest, PreconditionParam, resolve_create, resolve_update,
};
pub use path::{
    MAX_CONTENT_BYTES, MAX_PATH_BYTES, MAX_PATH_SEGMENTS, check_content, content_sha256,
    is_format_or_separator, normalize_path, parse_sha256,
};
pub use search::{MemorySearchRequest, MemorySearchResult, MemorySearchResults};
pub use versions::{Actor, MemoryOperation, MemoryVersion};

/// Longest store name, in characters (OMA's limit; the name becomes a directory name).
pub const MAX_STORE_NAME_CHARS: usize = 255;
/// Longest store description, in characters (contract §8.2).
pub const MAX_DESCRIPTION_CHARS: usize = 1_024;
/// Memories one store may hold at once (deleted ones no longer count).
pub const MAX_MEMORIES_PER_STORE: u32 = 2_000;

crate::wire_tag!(
    /// The literal `"memory_store"`.
    MemoryStoreTag = "memory_store"
);

/// How much of a memory (or version) a response shows: the `view` query parameter, sent as a
/// query parameter even on POST. The default differs by endpoint (`full` on retrieve, `basic`
/// on list, create and update), so there is no `Default`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemoryView {
    /// Everything but `content`, which is `null`.
    Basic,
    /// With `content`.
    Full,
}

impl MemoryView {
    pub fn parse(field: &str, value: &str) -> Validated<Self> {
        match value {
            "basic" => Ok(MemoryView::Basic),
            "full" => Ok(MemoryView::Full),
            other => Err(ValidationError::new(
                field,
                format!("must be \"basic\" or \"full\", not \"{other}\""),
            )),
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MemoryStoreCreateRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct MemoryStoreUpdateRequest {
    #[serde(default)]
    pub name: Nullable<String>,
    /// `null` or `""` clears it.
    #[serde(default)]
    pub description: Nullable<String>,
    #[serde(default)]
    pub metadata: Nullable<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemoryStore {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: MemoryStoreTag,
    pub name: String,
    /// `""` when none was given.
    pub description: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

pub fn create_memory_store(
    request: MemoryStoreCreateRequest,
    id: String,
    now: Timestamp,
) -> Validated<MemoryStore> {
    let name = request
        .name
        .ok_or_else(|| ValidationError::new("name", "is required"))?;
    check_store_name(&name)?;
    let description = request.description.unwrap_or_default();
    check_description(&description)?;
    let metadata = request.metadata.unwrap_or_default();
    metadata::validate(&metadata)?;
    Ok(MemoryStore {
        id,
        kind: MemoryStoreTag,
        name,
        description,
        metadata,
        created_at: now,
        updated_at: now,
        archived_at: None,
    })
}

/// Applies an update; `None` when nothing changes.
pub fn update_memory_store(
    current: &MemoryStore,
    request: MemoryStoreUpdateRequest,
    now: Timestamp,
) -> Validated<Option<MemoryStore>> {
    let mut next = current.clone();
    match request.name {
        Nullable::Absent => {}
        Nullable::Null => return Err(ValidationError::new("name", "cannot be cleared")),
        Nullable::Value(name) => {
            check_store_name(&name)?;
            next.name = name;
        }
    }
    if let Some(description) = request.description.into_change() {
        let description = description.unwrap_or_default();
        check_description(&description)?;
        next.description = description;
    }
    if !request.metadata.is_absent() {
        let patch = match &request.metadata {
            Nullable::Value(p) => Some(p),
            _ => None,
        };
        next.metadata = metadata::apply_patch(&next.metadata, patch, EmptyValue::Keep)?;
    }
    if next == *current {
        return Ok(None);
    }
    next.updated_at = now;
    Ok(Some(next))
}

/// A store's name becomes its mount directory (`/mnt/memory/<name>/`), so on top of the usual
/// name rules it must be a single, ordinary directory name.
fn check_store_name(name: &str) -> Validated {
    check_len("name", name, 1, MAX_STORE_NAME_CHARS)?;
    check_name_text("name", name)?;
    if name.contains(['/', '\\']) {
        return Err(ValidationError::new("name", "must not contain '/' or '\\'"));
    }
    if name == "." || name == ".." {
        return Err(ValidationError::new("name", "must not be '.' or '..'"));
    }
    Ok(())
}

fn check_description(description: &str) -> Validated {
    check_len("description", description, 0, MAX_DESCRIPTION_CHARS)
}
