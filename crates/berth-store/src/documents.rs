//! Documents: resources stored as their rendered JSON plus the columns lists filter on.

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
