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
mod sessions;
mod vault_records;
mod vaults;

pub use documents::{Collection, DeleteOutcome, Document, DocumentQuery, SortOrder};
pub use error::{StoreError, StoreResult};
pub use files::{FileQuery, FileRow, SkillRow, SkillVersionRow};
pub use keys::{ApiKeyRow, NewApiKey, RevokeOutcome, TenantRow};
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
pub use model_cards::ModelCardRow;
pub use optimistic::{Attempt, OPTIMISTIC_ATTEMPTS, optimistically};
pub use sandbox_records::{RateCounters, RateTake, SandboxRecords};
pub use sessions::{
    AppendOutcome, ByteBudget, ChangeOutcome, ContextScope, DeleteSessionOutcome, EVENT_PAGE_BYTES,
    EventQuery, Lease, MODEL_CONTEXT_TYPES, NewEvent, SessionChange, SessionQuery, SessionRow,
    SessionStatus, StoredEvent, StreamBuffer, TurnEffects, TurnStart, UsageTotals, stored_status,
};
pub use vault_records::CredentialRecords;
pub use vaults::{CredentialInsert, CredentialRow};

use async_trait::async_trait;

/// Everything Berth persists. One implementation per database.
#[async_trait]
pub trait Store:
    CredentialRecords
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

    // ------------------------------------------------------ tenants and keys

    /// Creates a tenant together with its first API key, atomically.
    async fn create_tenant(&self, tenant: &TenantRow, first_key: &NewApiKey) -> StoreResult<()>;
    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>>;
    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>>;
    /// Inserts a key; if a key with the same hash exists (an operator-provided key seen again),
    /// it is re-activated with the new attributes instead. Returns the stored key's id.
    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String>;
    /// The active (not revoked) key with this SHA-256 hash.
    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>>;
    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>>;
    /// Revokes a key unless it is the tenant's last active one.
    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome>;
    /// Revokes every key of `source` in the tenant except `keep_id` (the rotated bootstrap key).
    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64>;
    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()>;

    // ----------------------------------------------------------- documents

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

    // ------------------------------------------------------ agent history

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

    // ------------------------------------------------------------ sessions

    /// Creates a session, records the memory stores among its resources and appends its first
    /// events (e.g. `initial_events`), atomically.
    async fn create_session(
        &self,
        row: &SessionRow,
        memory_store_ids: &[String],
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>>;
    /// A session of the tenant; deleted sessions are not found.
    async fn get_session(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>>;
    async fn list_sessions(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>>;
    /// Replaces the session body (title, metadata, agent tools) if unchanged since read.
    async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome>;
    /// Archives a session; archived sessions take no new events. Returns false if not found.
    async fn archive_session(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<bool>;
    /// Soft-deletes an idle session, appending `events` (its last words) first.
    async fn delete_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<DeleteSessionOutcome>;

    // ------------------------------------------------------------- the log

    /// Appends client events. Inputs are queued; a `user.interrupt` also cancels the inputs
    /// queued before it.
    async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome>;
    async fn list_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        query: &EventQuery,
    ) -> StoreResult<Vec<StoredEvent>>;
    /// Events with `seq > after_seq`, oldest first, at most `limit` and (but for the first)
    /// about `max_bytes` of bodies (replay and gap filling for streams; the caller has already
    /// checked the session belongs to the tenant).
    async fn read_events(
        &self,
        session_id: &str,
        after_seq: i64,
        limit: u32,
        max_bytes: u64,
    ) -> StoreResult<Vec<StoredEvent>>;
    async fn get_event(&self, session_id: &str, event_id: &str)
    -> StoreResult<Option<StoredEvent>>;
    /// The processed, uncancelled events in the order the model sees them, after the context
    /// position `after` (0 for all). Context positions only grow, so a reader can keep what it
    /// has and ask for the rest. `scope` limits the rows to what the model reads.
    async fn context_events(
        &self,
        session_id: &str,
        after: i64,
        scope: ContextScope,
    ) -> StoreResult<Vec<StoredEvent>>;

    // ---------------------------------------------------------- the runner

    /// Sessions with work and no live lease: pending inputs, or a turn that was running when its
    /// runner stopped. Leases expiring before `lease_cutoff` count as free.
    async fn runnable_sessions(&self, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>>;
    /// Takes the session's lease if it is free (or expired before `lease_cutoff`).
    async fn claim_session(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>>;
    /// Extends a lease; false if it was lost.
    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool>;
    async fn release_lease(&self, lease: &Lease) -> StoreResult<()>;
    /// Promotes the oldest pending input (with the tool answers queued right behind it) and
    /// appends `opening` (e.g. `session.status_running`), marking the session running.
    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart>;
    /// Appends events under a lease; `None` if the lease was lost (nothing is written).
    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>>;
    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()>;
    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>>;

    // --------------------------------------------------------- model cards

    /// Inserts a card; a `model_id` already used in the tenant is a conflict.
    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()>;
    async fn get_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>>;
    /// The tenant's card whose handle is `model_id`.
    async fn find_model_card(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>>;
    /// A page of the tenant's cards, of one provider if `provider` is set.
    async fn list_model_cards(
        &self,
        tenant_id: &str,
        provider: Option<&str>,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ModelCardRow>>;
    /// Replaces a card if its version is still `expected_version`.
    async fn replace_model_card(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool>;
    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool>;

    // --------------------------------------------------------------- files

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

    // -------------------------------------------------------------- skills

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
