//! Berth's PostgreSQL backend: the same contract as SQLite, for many replicas on one database.
//!
//! Statements are prepared once per pooled connection (`prepare_cached`); list queries are built
//! from fixed fragments with bound values, so the set of distinct statements stays small.

mod connect;
mod events;
mod files;
pub mod listen;
mod memories;
mod memory_rows;
mod memory_search;
mod memory_versions;
mod model_cards;
mod rows;
mod runner;
mod sandboxes;
mod session_lock;
mod sessions;
mod store_impl;
pub mod testing;
mod vaults;

use async_trait::async_trait;
use berth_store::{
    ApiKeyRow, AppendOutcome, ChangeOutcome, Collection, ContextScope, DeleteOutcome,
    DeleteSessionOutcome, Document, DocumentQuery, EventQuery, Lease, NewApiKey, NewEvent,
    RevokeOutcome, SessionChange, SessionQuery, SessionRow, Store, StoreResult, StoredEvent,
    StreamBuffer, TenantRow, TurnEffects, TurnStart,
};
use berth_store::{
    CredentialInsert, CredentialRecords, CredentialRow, FileQuery, FileRow, ModelCardRow, SkillRow,
    SkillVersionRow,
};
use berth_store::{
    DeleteMemory, MemoryChange, MemoryQuery, MemoryRecords, MemoryRow, MemoryVersionQuery,
    MemoryVersionRow, MemoryVersionStamp, MemoryWrite, NewMemory, RedactVersion,
};
use deadpool_postgres::{GenericClient, Pool};

pub use connect::PostgresOptions;
use connect::{create_pool, migrate, pg, pool_error};
use rows::{DOC_COLUMNS, KEY_COLUMNS, Param, push_filters, refs};

pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects, checks the server answers, and applies pending migrations.
    pub async fn open(options: &PostgresOptions) -> StoreResult<Self> {
        let pool = create_pool(options)?;
        migrate(&pool).await?;
        Ok(Self { pool })
    }

    /// The pool, for backend-specific features (LISTEN/NOTIFY) built on top of this store.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(pool_error)
    }
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn notify_live(&self, payload: &str) -> StoreResult<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(listen::ANNOUNCE_LIVE)
            .await
            .map_err(pg)?;
        client.execute(&stmt, &[&payload]).await.map_err(pg)?;
        Ok(())
    }

    async fn ping(&self) -> StoreResult<()> {
        self.client()
            .await?
            .simple_query("SELECT 1")
            .await
            .map_err(pg)?;
        Ok(())
    }

    async fn meta_get_or_init(&self, key: &str, value: &str) -> StoreResult<String> {
        let client = self.client().await?;
        client
            .execute(
                "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_one("SELECT value FROM meta WHERE key = $1", &[&key])
            .await
            .map_err(pg)?;
        Ok(row.get(0))
    }

    async fn create_tenant(&self, tenant: &TenantRow, first_key: &NewApiKey) -> StoreResult<()> {
        self.create_tenant_inner(tenant, first_key).await
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        self.get_tenant_inner(id).await
    }

    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>> {
        self.list_tenants_inner(query).await
    }

    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String> {
        store_impl::upsert_key(&self.client().await?, key).await
    }

    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>> {
        self.find_api_key_inner(hash).await
    }

    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>> {
        self.list_api_keys_inner(tenant_id, query).await
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome> {
        self.revoke_api_key_inner(tenant_id, id, now).await
    }

    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.revoke_keys_from_source_inner(tenant_id, source, keep_id, now)
            .await
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        self.touch_api_key_inner(id, now).await
    }

    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()> {
        self.insert_document_inner(collection, doc).await
    }

    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        self.get_document_inner(collection, tenant_id, id).await
    }

    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        self.list_documents_inner(collection, tenant_id, query)
            .await
    }

    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.replace_document_inner(collection, doc, expected_version)
            .await
    }

    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome> {
        self.delete_document_inner(collection, tenant_id, id).await
    }

    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>> {
        self.get_agent_version_inner(tenant_id, id, version).await
    }

    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        self.list_agent_versions_inner(tenant_id, id, query).await
    }

    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        self.current_agent_versions_inner(tenant_id, ids).await
    }

    async fn create_session(
        &self,
        row: &SessionRow,
        memory_store_ids: &[String],
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        self.create_session_inner(row, memory_store_ids, events)
            .await
    }

    async fn get_session(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>> {
        sessions::get(&self.client().await?, tenant_id, id).await
    }

    async fn list_sessions(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>> {
        sessions::list(&self.client().await?, tenant_id, query).await
    }

    async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome> {
        self.change_session_inner(change).await
    }

    async fn archive_session(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<bool> {
        sessions::archive(&self.client().await?, tenant_id, id, now).await
    }

    async fn delete_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<DeleteSessionOutcome> {
        self.delete_session_inner(tenant_id, id, now, events).await
    }

    async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome> {
        self.append_client_events_inner(tenant_id, session_id, events, now)
            .await
    }

    async fn list_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        query: &EventQuery,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::list(&self.client().await?, tenant_id, session_id, query).await
    }

    async fn read_events(
        &self,
        session_id: &str,
        after_seq: i64,
        limit: u32,
        max_bytes: u64,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::read(
            &self.client().await?,
            session_id,
            after_seq,
            limit,
            max_bytes,
        )
        .await
    }

    async fn get_event(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        events::get(&self.client().await?, session_id, event_id).await
    }

    async fn context_events(
        &self,
        session_id: &str,
        after: i64,
        scope: ContextScope,
    ) -> StoreResult<Vec<StoredEvent>> {
        events::context(&self.client().await?, session_id, after, scope).await
    }

    async fn runnable_sessions(&self, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>> {
        runner::runnable(&self.client().await?, lease_cutoff, limit).await
    }

    async fn claim_session(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>> {
        self.claim_session_inner(session_id, owner, lease_cutoff, expires_at)
            .await
    }

    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool> {
        runner::renew(&self.client().await?, lease, expires_at).await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        runner::release(&self.client().await?, lease).await
    }

    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart> {
        self.begin_turn_inner(lease, now, opening).await
    }

    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        self.append_turn_events_inner(lease, events, effects, now)
            .await
    }

    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()> {
        self.save_stream_buffer_inner(lease, buffer).await
    }

    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>> {
        runner::buffers(&self.client().await?, session_id).await
    }

    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()> {
        model_cards::insert(&self.client().await?, card).await
    }

    async fn get_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>> {
        model_cards::get(&self.client().await?, tenant_id, id).await
    }

    async fn find_model_card(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>> {
        model_cards::find(&self.client().await?, tenant_id, model_id).await
    }

    async fn list_model_cards(
        &self,
        tenant_id: &str,
        provider: Option<&str>,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ModelCardRow>> {
        model_cards::list(&self.client().await?, tenant_id, provider, query).await
    }

    async fn replace_model_card(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        model_cards::replace(&self.client().await?, card, expected_version).await
    }

    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        model_cards::delete(&self.client().await?, tenant_id, id).await
    }

    async fn insert_file(&self, file: &FileRow) -> StoreResult<()> {
        files::insert_file(&self.client().await?, file).await
    }

    async fn get_file(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<Option<FileRow>> {
        files::get_file(&self.client().await?, tenant_id, id, now).await
    }

    async fn list_files(
        &self,
        tenant_id: &str,
        query: &FileQuery,
        now: i64,
    ) -> StoreResult<Vec<FileRow>> {
        files::list_files(&self.client().await?, tenant_id, query, now).await
    }

    async fn scoped_files(&self, tenant_id: &str, scope_id: &str) -> StoreResult<Vec<FileRow>> {
        files::scoped_files(&self.client().await?, tenant_id, scope_id).await
    }

    async fn replace_file(&self, file: &FileRow) -> StoreResult<bool> {
        files::replace_file(&self.client().await?, file).await
    }

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        files::delete_file(&self.client().await?, tenant_id, id).await
    }

    async fn expired_files(&self, now: i64, limit: u32) -> StoreResult<Vec<FileRow>> {
        files::expired_files(&self.client().await?, now, limit).await
    }

    async fn insert_skill(&self, skill: &SkillRow, first: &SkillVersionRow) -> StoreResult<()> {
        self.insert_skill_inner(skill, first).await
    }

    async fn get_skill(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SkillRow>> {
        files::get_skill(&self.client().await?, tenant_id, id).await
    }

    async fn list_skills(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillRow>> {
        files::list_skills(&self.client().await?, tenant_id, query).await
    }

    async fn add_skill_version(
        &self,
        skill: &SkillRow,
        version: &SkillVersionRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.add_skill_version_inner(skill, version, expected_version)
            .await
    }

    async fn get_skill_version(
        &self,
        tenant_id: &str,
        skill_id: &str,
        version_id: &str,
    ) -> StoreResult<Option<SkillVersionRow>> {
        files::get_skill_version(&self.client().await?, tenant_id, skill_id, version_id).await
    }

    async fn list_skill_versions(
        &self,
        tenant_id: &str,
        skill_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillVersionRow>> {
        files::list_skill_versions(&self.client().await?, tenant_id, skill_id, query).await
    }

    async fn delete_skill_version(
        &self,
        skill: &SkillRow,
        version_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool> {
        self.delete_skill_version_inner(skill, version_id, expected_version)
            .await
    }

    async fn delete_skill(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        self.delete_skill_inner(tenant_id, id).await
    }
}
