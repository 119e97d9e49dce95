//! Memories: one text file of a store, addressed by its path, and the pure rules for creating
//! and editing one. A create or update resolves into checked values (normalised path, content
//! with its digest and size) that the storage layer writes together with a version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::MemoryView;
use super::path::{check_content, content_sha256, normalize_path, parse_sha256};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError};

crate::wire_tag!(
    /// The literal `"memory"`.
    MemoryTag = "memory"
);
crate::wire_tag!(
    /// The literal `"memory_prefix"`.
    MemoryPrefixTag = "memory_prefix"
);

// ---------------------------------------------------------------- requests

/// `POST /v1/memory_stores/{id}/memories`. Both keys are required; `content: null` creates an
/// empty memory. (`view` travels in the query string.)
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MemoryCreateRequest {
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub content: Nullable<String>,
}

/// `POST /v1/memory_stores/{id}/memories/{memory_id}`: a rename, an edit, or both, optionally
/// guarded by the content the client last saw.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct MemoryUpdateRequest {
    /// A new path; `null` is refused (a memory always has one).
    #[serde(default)]
    pub path: Nullable<String>,
    /// New content; `null` empties the memory, as on create.
    #[serde(default)]
    pub content: Nullable<String>,
    #[serde(default)]
    pub precondition: Option<PreconditionParam>,
}

/// Optimistic concurrency for an update: it applies only while the memory's content still has
/// this digest; otherwise the server answers 409 `memory_precondition_failed_error`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum PreconditionParam {
    /// The memory's current `content_sha256` must equal the given one.
    #[serde(rename = "content_sha256")]
    ContentSha256 {
        #[serde(default)]
        content_sha256: Option<String>,
    },
}

// --------------------------------------------------------------- responses

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Memory {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: MemoryTag,
    pub memory_store_id: String,
    /// The version the memory's current state was recorded as.
    pub memory_version_id: String,
    pub path: String,
    /// Lowercase hex SHA-256 of the content's UTF-8 bytes.
    pub content_sha256: String,
    pub content_size_bytes: u64,
    /// `null` in the `basic` view.
    pub content: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Memory {
    /// The memory as `view` shows it: `basic` drops the content.
    pub fn in_view(mut self, view: MemoryView) -> Self {
        if view == MemoryView::Basic {
            self.content = None;
        }
        self
    }
}

/// A list's roll-up of the memories below a directory, e.g. `{"path": "/projects/foo/"}`
/// (always ending with `/`, which no memory's path does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MemoryPrefix {
    #[serde(rename = "type")]
    pub kind: MemoryPrefixTag,
    pub path: String,
}

impl MemoryPrefix {
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            kind: MemoryPrefixTag,
            path: path.into(),
        }
    }
}

/// One item of a memory list: each variant carries its own `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MemoryListItem {
    Memory(Memory),
    Prefix(MemoryPrefix),
}

// -------------------------------------------------------------- resolution

/// Content that passed the size rule, with the digest and size a memory row stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedContent {
    pub content: String,
    pub sha256: String,
    pub size_bytes: u64,
}

impl CheckedContent {
    pub fn new(content: String) -> Validated<Self> {
        check_content(&content)?;
        Ok(Self {
            sha256: content_sha256(&content),
            size_bytes: content.len() as u64,
            content,
        })
    }
}

/// A checked create: what to write, before ids and times are assigned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryCreate {
    /// Normalised (NFC).
    pub path: String,
    pub content: CheckedContent,
}

/// A checked update. Both parts `None` is a no-op, which still honours the precondition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryEdit {
    /// The new normalised path, when renaming.
    pub path: Option<String>,
    pub content: Option<CheckedContent>,
    /// The digest the content must still have (lowercase).
    pub expected_sha256: Option<String>,
}

pub fn resolve_create(request: MemoryCreateRequest) -> Validated<MemoryCreate> {
    let path = request
        .path
        .ok_or_else(|| ValidationError::new("path", "is required"))?;
    let content = match request.content {
        Nullable::Absent => return Err(ValidationError::new("content", "is required")),
        Nullable::Null => String::new(),
        Nullable::Value(content) => content,
    };
    Ok(MemoryCreate {
        path: normalize_path(&path)?,
        content: CheckedContent::new(content)?,
    })
}

pub fn resolve_update(request: MemoryUpdateRequest) -> Validated<MemoryEdit> {
    let path = match request.path {
        Nullable::Absent => None,
        Nullable::Null => return Err(ValidationError::new("path", "cannot be cleared")),
        Nullable::Value(path) => Some(normalize_path(&path)?),
    };
    let content = match request.content.into_change() {
        None => None,
        Some(content) => Some(CheckedContent::new(content.unwrap_or_default())?),
    };
    let expected_sha256 = match request.precondition {
        None => None,
        Some(PreconditionParam::ContentSha256 { content_sha256 }) => {
            let field = "precondition.content_sha256";
            let given = content_sha256.ok_or_else(|| ValidationError::new(field, "is required"))?;
            Some(parse_sha256(field, &given)?)
        }
    };
    Ok(MemoryEdit {
        path,
        content,
        expected_sha256,
    })
}
