//! Storage traits, row models and [`StoreError`], with no SQL in sight.
//!
//! Each backend crate (`berth-store-sqlite`, `berth-store-postgres`) implements [`Store`]; the
//! `berth-store-tests` crate runs one contract suite against both. Rows carry JSON bodies as
//! text: resources are stored exactly as the API renders them, so reads return them without a
//! decode/encode round trip. Timestamps are microseconds since the Unix epoch.

mod documents;
mod error;
mod files;
mod keys;
mod memory;
mod memory_records;
mod memory_search;
mod model_cards;
mod optimistic;
mod sandbox_records;
pub mod session_rules;
mod sessions;
mod vault_records;
mod vaults;

pub use documents::{
    AgentHistory, Collection, DeleteOutcome, Document, DocumentQuery, DocumentRecords, SortOrder,
};
pub use error::{StoreError, StoreResult};
pub use files::{FileQuery, FileRecords, FileRow, SkillRecords, SkillRow, SkillVersionRow};
pub use keys::{ApiKeyRow, NewApiKey, RevokeOutcome, TenantRecords, TenantRow};
pub use memory::{
    DeleteMemory, MemoryChange, MemoryContent, MemoryOperation, MemoryQuery, MemoryRow,
    MemoryVersionQuery, MemoryVersionRow, MemoryVersionStamp, MemoryWrite, NewMemory,
    RedactVersion, prefix_upper_bound,
};
pub use memory_records::MemoryRecords;
pub use memory_search::{
    MemoryEmbedding, MemorySearchStore, MemoryTextHit, MemoryToEmbed, MemoryVectorRow,
    MemoryVectorSignature,
};
pub use model_cards::{ModelCardRecords, ModelCardRow};
pub use optimistic::{Attempt, OPTIMISTIC_ATTEMPTS, optimistically};
pub use sandbox_records::{RateCounters, RateTake, SandboxRecords};
pub use sessions::{
    AppendOutcome, ByteBudget, CancelledInput, ChangeOutcome, ContextScope, DeleteSessionOutcome,
    EVENT_PAGE_BYTES, EventKind, EventLog, EventQuery, Lease, NewEvent, SessionChange,
    SessionQuery, SessionRecords, SessionRow, SessionStatus, StoredEvent, StreamBuffer,
    TurnEffects, TurnLeases, TurnStart, UsageTotals, stored_status,
};
pub use vault_records::CredentialRecords;
pub use vaults::{CredentialInsert, CredentialRow};

use async_trait::async_trait;

/// Everything Berth persists. One implementation per database.
#[async_trait]
pub trait Store:
    TenantRecords
    + DocumentRecords
    + AgentHistory
    + SessionRecords
    + EventLog
    + TurnLeases
    + ModelCardRecords
    + FileRecords
    + SkillRecords
    + CredentialRecords
    + MemoryRecords
    + MemorySearchStore
    + SandboxRecords
    + RateCounters
    + Send
    + Sync
    + 'static
{
    /// Announces a batch of live deltas to other replicas (PostgreSQL `NOTIFY`); a no-op where
    /// there is only one process.
    async fn notify_live(&self, _payload: &str) -> StoreResult<()> {
        Ok(())
    }

    /// The backend's name for logs and `/readyz` (`"sqlite"` or `"postgres"`).
    fn backend(&self) -> &'static str;

    /// Answers when the database can serve a trivial query.
    async fn ping(&self) -> StoreResult<()>;

    // ----------------------------------------------------------- settings

    /// Stores `value` under `key` unless a value is already there; returns the stored value.
    async fn meta_get_or_init(&self, key: &str, value: &str) -> StoreResult<String>;
}
