//! Files (uploads and session outputs) and skills: metadata rows whose bytes live in blob
//! storage. Objects are written before their rows and deleted after them, so a crash can leave
//! an unreferenced object but never a row without its bytes.

use crate::DocumentQuery;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub id: String,
    pub tenant_id: String,
    /// The session a file belongs to, if any.
    pub scope_id: Option<String>,
    /// For session outputs: the path under `/mnt/session/outputs/`.
    pub output_path: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub size_bytes: i64,
    /// The file object as the API shows it.
    pub body: String,
}

/// Which files a list returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileQuery {
    pub scope_id: Option<String>,
    /// Only these ids (then `page` is ignored but `limit` still caps).
    pub ids: Option<Vec<String>>,
    pub page: DocumentQuery,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillRow {
    pub id: String,
    pub tenant_id: String,
    /// The skill's slug (its `SKILL.md` name), unique per tenant.
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Bumped on every change, for optimistic updates.
    pub version: i64,
    /// The skill object as the API shows it.
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillVersionRow {
    pub skill_id: String,
    /// The version id (microseconds since the epoch, zero-padded, so ids sort by age).
    pub id: String,
    pub tenant_id: String,
    pub created_at: i64,
    /// The skill_version object as the API shows it.
    pub body: String,
    /// The version's files: JSON `[{"path", "size"}]`.
    pub manifest: String,
}
