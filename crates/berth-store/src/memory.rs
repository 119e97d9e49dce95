//! Memories and their versions. Memory stores themselves are documents
//! ([`crate::Collection::MemoryStores`]); deleting one deletes its memories and versions.
//!
//! Every write to a memory writes its version in the same transaction, and the version is built
//! by the backend from the memory as written, so the two can never disagree. A memory's row
//! holds its current content (the column a full-text index will read); versions hold the
//! content after each change and outlive the memory they record.

use crate::{DocumentQuery, MemoryEmbedding, SortOrder, StoreError};

/// A memory as it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryRow {
    pub id: String,
    pub tenant_id: String,
    pub store_id: String,
    /// Normalised (NFC); unique within the store.
    pub path: String,
    /// The whole content; empty when a list was asked for rows without it
    /// ([`MemoryQuery::with_content`]).
    pub content: String,
    /// Lowercase hex SHA-256 of the content.
    pub content_sha256: String,
    pub size_bytes: i64,
    /// The version recording the memory's current state.
    pub version_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a version records (stored as `created`, `modified` or `deleted`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryOperation {
    Created,
    Modified,
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

    /// Reads the stored name; anything else means the row was not written by Berth.
    pub fn parse(value: &str) -> Result<Self, StoreError> {
        match value {
            "created" => Ok(MemoryOperation::Created),
            "modified" => Ok(MemoryOperation::Modified),
            "deleted" => Ok(MemoryOperation::Deleted),
            other => Err(StoreError::Corrupt(format!(
                "unknown memory version operation {other:?}"
            ))),
        }
    }
}

/// One recorded change to a memory: its path and content after the change (before it, for a
/// deletion). Redaction clears path and content but keeps the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryVersionRow {
    pub id: String,
    pub tenant_id: String,
    pub store_id: String,
    /// The memory, which may no longer exist.
    pub memory_id: String,
    pub operation: MemoryOperation,
    /// `None` once redacted.
    pub path: Option<String>,
    /// `None` once redacted, or when a list was asked for rows without it.
    pub content: Option<String>,
    pub content_sha256: Option<String>,
    pub size_bytes: Option<i64>,
    /// Who made the change, as the API renders it (`{"type":"session_actor",…}`).
    pub actor: String,
    pub created_at: i64,
    pub redacted_at: Option<i64>,
    /// Who redacted it, an actor as JSON.
    pub redacted_by: Option<String>,
}

/// Content with the digest and size the server computed for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryContent {
    pub text: String,
    /// Lowercase hex SHA-256 of `text`.
    pub sha256: String,
    pub size_bytes: i64,
    /// The content's vector, when an embedder made one (search then falls back to full text
    /// for this memory until the vector is filled in).
    pub embedding: Option<MemoryEmbedding>,
}

/// A memory to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMemory {
    pub id: String,
    pub tenant_id: String,
    pub store_id: String,
    pub path: String,
    pub content: MemoryContent,
}

/// What an update changes; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryChange {
    pub path: Option<String>,
    pub content: Option<MemoryContent>,
}

impl MemoryChange {
    /// `current` with the change applied, or `None` when the change would leave it as it is
    /// (then no version is recorded). Version id and `updated_at` are left to the write.
    pub fn apply_to(&self, current: &MemoryRow) -> Option<MemoryRow> {
        let mut next = current.clone();
        if let Some(path) = &self.path {
            next.path.clone_from(path);
        }
        if let Some(content) = &self.content {
            next.content.clone_from(&content.text);
            next.content_sha256.clone_from(&content.sha256);
            next.size_bytes = content.size_bytes;
        }
        (next.path != current.path || next.content != current.content).then_some(next)
    }
}

/// The version a write records: its id, who wrote, and when (which is also the memory's new
/// `updated_at`, and `created_at` for a new memory). Path and content come from the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryVersionStamp {
    pub id: String,
    /// An actor as JSON.
    pub actor: String,
    pub created_at: i64,
}

/// What creating or updating a memory did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemoryWrite {
    /// The memory as it now is; its version was recorded.
    Written(MemoryRow),
    /// An update that would change nothing: no version was recorded. The memory as it is.
    Unchanged(MemoryRow),
    /// The store does not exist in the tenant, or is archived (archived stores are read-only).
    NoStore,
    /// The store already holds the most memories allowed.
    StoreFull,
    /// No memory with that id in the store.
    NotFound,
    /// Another memory of the store already has the path.
    PathTaken { existing_id: String },
    /// The memory's content no longer has the digest the caller expected.
    PreconditionFailed { current_sha256: String },
}

/// What deleting a memory did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteMemory {
    /// The memory is gone and a `deleted` version holds its last path (no content).
    Deleted,
    /// The store does not exist in the tenant, or is archived.
    NoStore,
    NotFound,
    PreconditionFailed {
        current_sha256: String,
    },
}

/// What redacting a version did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedactVersion {
    /// The version with its path and content cleared (redacting twice keeps the first
    /// redaction's time and actor).
    Redacted(Box<MemoryVersionRow>),
    NotFound,
    /// The version is the current state of a live memory, whose content is still readable:
    /// redact it after the memory has changed or been deleted.
    LiveHead,
}

/// A page of a store's memories in path order (byte order of the UTF-8 paths).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryQuery {
    /// Only paths starting with this string (e.g. `/projects/`).
    pub path_prefix: Option<String>,
    /// The path of the last memory of the previous page.
    pub after: Option<String>,
    pub limit: u32,
    pub order: SortOrder,
    /// Whether to load each memory's content; without it `content` is left empty, which keeps
    /// path listings (and the roll-ups built from them) cheap.
    pub with_content: bool,
}

/// A page of a store's versions by id, which is creation order (newest first by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryVersionQuery {
    /// Only the versions of this memory.
    pub memory_id: Option<String>,
    /// Only versions recording this kind of change.
    pub operation: Option<MemoryOperation>,
    /// Only versions written by this actor (the exact JSON the writes stored).
    pub actor: Option<String>,
    /// Whether to load each version's content (otherwise `None`).
    pub with_content: bool,
    /// `after` is a version id; `include_archived` is ignored.
    pub page: DocumentQuery,
}

/// The smallest string greater than every string that starts with `prefix`, in byte order:
/// `path >= prefix AND path < bound` selects exactly the paths under a prefix and can use an
/// index, unlike `LIKE` (which would also need `%` and `_` escaped). `None` when there is no
/// such bound (the prefix is all U+10FFFF), and then `path >= prefix` alone is exact.
///
/// UTF-8 byte order is code point order, so the bound is the prefix with its last character
/// that can be incremented replaced by its successor, and everything after it dropped.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last {
            // Skip the surrogate range, which no `char` can hold.
            '\u{D7FF}' => Some('\u{E000}'),
            c => char::from_u32(u32::from(c) + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn under(prefix: &str, path: &str) -> bool {
        path >= prefix && prefix_upper_bound(prefix).is_none_or(|bound| path < bound.as_str())
    }

    #[test]
    fn prefix_bounds_select_exactly_the_prefixed_paths() {
        assert_eq!(prefix_upper_bound("/a/").as_deref(), Some("/a0"));
        assert_eq!(prefix_upper_bound("").as_deref(), None);
        assert_eq!(
            prefix_upper_bound("/x\u{10FFFF}").as_deref(),
            Some("/y"),
            "a last character without successor is dropped"
        );
        assert_eq!(
            prefix_upper_bound("/\u{D7FF}").as_deref(),
            Some("/\u{E000}")
        );
        for (path, expected) in [
            ("/a/", true),
            ("/a/b.md", true),
            ("/a/\u{10FFFF}\u{10FFFF}", true),
            ("/a0", false),
            ("/a", false),
            ("/a.md", false),
            ("/b/a/", false),
        ] {
            assert_eq!(under("/a/", path), expected, "{path}");
        }
    }

    #[test]
    fn operations_round_trip_their_stored_names() {
        for op in [
            MemoryOperation::Created,
            MemoryOperation::Modified,
            MemoryOperation::Deleted,
        ] {
            assert_eq!(MemoryOperation::parse(op.as_str()).ok(), Some(op));
        }
        assert!(matches!(
            MemoryOperation::parse("renamed"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
