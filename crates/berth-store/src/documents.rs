//! Documents: resources stored as their rendered JSON plus the columns lists filter on.

use crate::StoreResult;

/// The tables that hold documents. The table name is fixed per variant, never user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Agents,
    Environments,
    /// Deleting a vault deletes its credentials.
    Vaults,
    /// Deleting a memory store deletes its memories and their versions.
    MemoryStores,
}

impl Collection {
    pub fn table(self) -> &'static str {
        match self {
            Collection::Agents => "agents",
            Collection::Environments => "environments",
            Collection::Vaults => "vaults",
            Collection::MemoryStores => "memory_stores",
        }
    }

    /// Whether replacing a document also appends it to a version history.
    pub fn keeps_history(self) -> bool {
        matches!(self, Collection::Agents)
    }
}

/// One stored resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub id: String,
    pub tenant_id: String,
    /// Bumped on every change; agents expose it as `version`.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub archived_at: Option<i64>,
    /// The resource exactly as the API returns it.
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    Asc,
    #[default]
    Desc,
}

/// A page request: rows strictly after `after` in `order`, at most `limit` of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentQuery {
    pub limit: u32,
    pub order: SortOrder,
    /// The sort key (id, or version for histories) of the last row of the previous page.
    pub after: Option<String>,
    pub include_archived: bool,
    /// Only archived rows (the seed's `archived=true` on agents); wins over `include_archived`.
    pub only_archived: bool,
    /// Inclusive lower and exclusive upper bound on `created_at`.
    pub created_from: Option<i64>,
    pub created_until: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    NotFound,
    /// A live session still uses the resource.
    InUse,
}

/// Resources stored as versioned JSON documents (agents, environments, vaults, memory stores).
#[async_trait::async_trait]
pub trait DocumentRecords: Send + Sync {
    /// Inserts a new document. For [`Collection::Agents`] the body is also recorded as version 1.
    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()>;

    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>>;

    /// Pages through a tenant's documents; returns at most `query.limit` rows.
    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>>;

    /// Replaces a document if its stored version is still `expected_version`; returns false when
    /// another writer got there first. For agents a changed version is also recorded in history.
    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool>;

    /// Hard-deletes a document, refusing while a live session still references it.
    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome>;
}

/// Every version an agent has had.
#[async_trait::async_trait]
pub trait AgentHistory: Send + Sync {
    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>>;

    /// Pages through an agent's versions; the cursor key is the version number.
    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>>;

    /// The current version of each named agent in the tenant; unknown ids are left out.
    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>>;
}
