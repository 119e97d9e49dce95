//! Files (uploads and session outputs) and skills: metadata rows whose bytes live in blob
//! storage. Objects are written before their rows and deleted after them, so a crash can leave
//! an unreferenced object but never a row without its bytes.

use crate::StoreResult;

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

/// Uploaded files and session outputs.
#[async_trait::async_trait]
pub trait FileRecords: Send + Sync {
    async fn insert_file(&self, file: &FileRow) -> StoreResult<()>;

    /// A file, unless it has expired by `now`.
    async fn get_file(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<Option<FileRow>>;

    /// A page of unexpired files, newest first unless the query says otherwise.
    async fn list_files(
        &self,
        tenant_id: &str,
        query: &FileQuery,
        now: i64,
    ) -> StoreResult<Vec<FileRow>>;

    /// Every file of a session (outputs included), oldest first.
    async fn scoped_files(&self, tenant_id: &str, scope_id: &str) -> StoreResult<Vec<FileRow>>;

    /// Replaces a file's row (same id).
    async fn replace_file(&self, file: &FileRow) -> StoreResult<bool>;

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<bool>;

    /// Files of any tenant whose `expires_at` has passed.
    async fn expired_files(&self, now: i64, limit: u32) -> StoreResult<Vec<FileRow>>;
}

/// Skills and their versions.
#[async_trait::async_trait]
pub trait SkillRecords: Send + Sync {
    /// Inserts a skill with its first version; a name already used in the tenant is a conflict.
    async fn insert_skill(&self, skill: &SkillRow, first: &SkillVersionRow) -> StoreResult<()>;

    async fn get_skill(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SkillRow>>;

    async fn list_skills(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillRow>>;

    /// Adds a version and replaces the skill row, if the skill is still at `expected_version`.
    async fn add_skill_version(
        &self,
        skill: &SkillRow,
        version: &SkillVersionRow,
        expected_version: i64,
    ) -> StoreResult<bool>;

    async fn get_skill_version(
        &self,
        tenant_id: &str,
        skill_id: &str,
        version_id: &str,
    ) -> StoreResult<Option<SkillVersionRow>>;

    async fn list_skill_versions(
        &self,
        tenant_id: &str,
        skill_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillVersionRow>>;

    /// Deletes a version and replaces the skill row, if the skill is still at `expected_version`.
    async fn delete_skill_version(
        &self,
        skill: &SkillRow,
        version_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool>;

    /// Deletes a skill and its versions.
    async fn delete_skill(&self, tenant_id: &str, id: &str) -> StoreResult<bool>;
}
