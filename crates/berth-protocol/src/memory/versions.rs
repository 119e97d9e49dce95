//! Memory versions: one immutable record per change to a memory (created, modified, deleted),
//! holding the memory's path and content as they were after that change. Versions outlive the
//! memory they record, and can be redacted: the record stays, its path and content go.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::MemoryView;

crate::wire_tag!(
    /// The literal `"memory_version"`.
    MemoryVersionTag = "memory_version"
);

/// What a version records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemoryOperation {
    /// The memory was created; the version holds its first path and content.
    Created,
    /// The memory was renamed, edited or both; the version holds the result.
    Modified,
    /// The memory was deleted; the version holds its last path (its content is in the earlier versions).
    Deleted,
}

impl MemoryOperation {
    pub fn as_str(self) -> &'static str {
        match self {
            MemoryOperation::Created => "created",
            MemoryOperation::Modified => "modified",
            MemoryOperation::Deleted => "deleted",
        }
    }
}

/// Who made a change (`created_by`) or a redaction (`redacted_by`). Berth records session and
/// API-key actors; the other two exist on the wire and are accepted when read back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// An agent in a session, writing through its mounted store.
    SessionActor { session_id: String },
    /// A client calling the API with a key.
    ApiActor { api_key_id: String },
    /// A signed-in user (not issued by Berth).
    UserActor { user_id: String },
    /// A service account (not issued by Berth).
    ServiceAccountActor { service_account_id: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MemoryVersion {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: MemoryVersionTag,
    pub memory_id: String,
    pub memory_store_id: String,
    pub operation: MemoryOperation,
    pub created_at: DateTime<Utc>,
    /// `null` once redacted, and in the `basic` view.
    pub content: Option<String>,
    /// `null` once redacted.
    pub content_sha256: Option<String>,
    /// `null` once redacted.
    pub content_size_bytes: Option<u64>,
    /// `null` once redacted.
    pub path: Option<String>,
    pub created_by: Option<Actor>,
    pub redacted_at: Option<DateTime<Utc>>,
    pub redacted_by: Option<Actor>,
}

impl MemoryVersion {
    /// The version as `view` shows it: `basic` drops the content.
    pub fn in_view(mut self, view: MemoryView) -> Self {
        if view == MemoryView::Basic {
            self.content = None;
        }
        self
    }
}
