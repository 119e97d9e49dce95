//! Berth's SQLite backend: the zero-setup default, one file in the data directory.
//!
//! Writes go through one thread that commits concurrent writes together ([`pool`]); reads use a
//! small pool of read-only connections on blocking tasks. The database is opened by exactly one
//! Berth process; the server enforces that with a lock file beside it.

mod documents;
mod events;
mod files;
mod keys;
mod memories;
mod memory_versions;
mod migrations;
mod model_cards;
mod pool;
mod sessions;
mod sql;
mod vaults;

use std::path::Path;

use async_trait::async_trait;
use berth_store::{
    ApiKeyRow, AppendOutcome, ChangeOutcome, Collection, ContextScope, DeleteOutcome,
    DeleteSessionOutcome, Document, DocumentQuery, EventQuery, Lease, NewApiKey, NewEvent,
    RevokeOutcome, SessionChange, SessionQuery, SessionRow, Store, StoreError, StoreResult,
    StoredEvent, StreamBuffer, TenantRow, TurnEffects, TurnStart,
};
use berth_store::{
    CredentialInsert, CredentialRow, FileQuery, FileRow, ModelCardRow, SkillRow, SkillVersionRow,
};
use berth_store::{
    DeleteMemory, MemoryChange, MemoryQuery, MemoryRow, MemoryVersionQuery, MemoryVersionRow,
    MemoryVersionStamp, MemoryWrite, NewMemory, RedactVersion,
};
use rusqlite::params;

use crate::pool::{Pool, backend, open_connection};

pub struct SqliteStore {
    pool: Pool,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut writer = open_connection(&path, false)?;
            migrations::migrate(&mut writer)?;
            let pool = Pool::start(&path, writer)?;
            Ok(Self { pool })
        })
        .await
        .map_err(|e| StoreError::Backend(format!("opening the database failed: {e}")))?
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn ping(&self) -> StoreResult<()> {
        self.pool
            .read(|c| {
                c.query_row("SELECT 1", [], |_| Ok(())).map_err(backend)?;
                Ok(())
            })
            .await
    }

    async fn meta_get_or_init(&self, key: &str, value: &str) -> StoreResult<String> {
        let (key, value) = (key.to_owned(), value.to_owned());
        self.pool
            .write(move |c| {
                c.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                    params![key, value],
                )
                .map_err(backend)?;
                c.query_row("SELECT value FROM meta WHERE key = ?1", params![key], |r| {
                    r.get(0)
                })
                .map_err(backend)
            })
            .await
    }

    async fn create_tenant(&self, tenant: &TenantRow, first_key: &NewApiKey) -> StoreResult<()> {
        let (tenant, key) = (tenant.clone(), first_key.clone());
        self.pool
            .write(move |c| {
                keys::insert_tenant(c, &tenant)?;
                keys::upsert_api_key(c, &key)?;
                Ok(())
            })
            .await
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        let id = id.to_owned();
        self.pool.read(move |c| keys::get_tenant(c, &id)).await
    }

    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>> {
        let query = query.clone();
        self.pool.read(move |c| keys::list_tenants(c, &query)).await
    }

    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String> {
        let key = key.clone();
        self.pool
            .write(move |c| keys::upsert_api_key(c, &key))
            .await
    }

    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>> {
        let hash = hash.to_vec();
        self.pool.read(move |c| keys::find_api_key(c, &hash)).await
    }

    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| keys::list_api_keys(c, &tenant_id, &query))
            .await
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| keys::revoke_api_key(c, &tenant_id, &id, now))
            .await
    }

    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64> {
        let (tenant_id, source, keep_id) =
            (tenant_id.to_owned(), source.to_owned(), keep_id.to_owned());
        self.pool
            .write(move |c| keys::revoke_keys_from_source(c, &tenant_id, &source, &keep_id, now))
            .await
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        let id = id.to_owned();
        self.pool
            .write(move |c| keys::touch_api_key(c, &id, now))
            .await
    }

    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()> {
        let doc = doc.clone();
        self.pool
            .write(move |c| documents::insert(c, collection, &doc))
            .await
    }

    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| documents::get(c, collection, &tenant_id, &id))
            .await
    }

    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| documents::list(c, collection, &tenant_id, &query))
            .await
    }

    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let doc = doc.clone();
        self.pool
            .write(move |c| documents::replace(c, collection, &doc, expected_version))
            .await
    }

    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| documents::delete(c, collection, &tenant_id, &id))
            .await
    }

    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| documents::get_version(c, &tenant_id, &id, version))
            .await
    }

    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let (tenant_id, id, query) = (tenant_id.to_owned(), id.to_owned(), query.clone());
        self.pool
            .read(move |c| documents::list_versions(c, &tenant_id, &id, &query))
            .await
    }

    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        let (tenant_id, ids) = (tenant_id.to_owned(), ids.to_vec());
        self.pool
            .read(move |c| documents::current_versions(c, &tenant_id, &ids))
            .await
    }

    async fn create_session(
        &self,
        row: &SessionRow,
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        let (row, events) = (row.clone(), events.to_vec());
        self.pool
            .write(move |c| sessions::create(c, &row, &events))
            .await
    }

    async fn get_session(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SessionRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| sessions::get(c, &tenant_id, &id))
            .await
    }

    async fn list_sessions(
        &self,
        tenant_id: &str,
        query: &SessionQuery,
    ) -> StoreResult<Vec<SessionRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| sessions::list(c, &tenant_id, &query))
            .await
    }

    async fn change_session(&self, change: &SessionChange) -> StoreResult<ChangeOutcome> {
        let change = change.clone();
        self.pool.write(move |c| sessions::change(c, &change)).await
    }

    async fn archive_session(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| sessions::archive(c, &tenant_id, &id, now))
            .await
    }

    async fn delete_session(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
        events: &[NewEvent],
    ) -> StoreResult<DeleteSessionOutcome> {
        let (tenant_id, id, events) = (tenant_id.to_owned(), id.to_owned(), events.to_vec());
        self.pool
            .write(move |c| sessions::delete(c, &tenant_id, &id, now, &events))
            .await
    }

    async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome> {
        let (tenant_id, session_id, events) =
            (tenant_id.to_owned(), session_id.to_owned(), events.to_vec());
        self.pool
            .write(move |c| events::append_client(c, &tenant_id, &session_id, &events, now))
            .await
    }

    async fn list_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        query: &EventQuery,
    ) -> StoreResult<Vec<StoredEvent>> {
        let (tenant_id, session_id, query) =
            (tenant_id.to_owned(), session_id.to_owned(), query.clone());
        self.pool
            .read(move |c| events::list(c, &tenant_id, &session_id, &query))
            .await
    }

    async fn read_events(
        &self,
        session_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<StoredEvent>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| events::read(c, &session_id, after_seq, limit))
            .await
    }

    async fn get_event(
        &self,
        session_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<StoredEvent>> {
        let (session_id, event_id) = (session_id.to_owned(), event_id.to_owned());
        self.pool
            .read(move |c| events::get(c, &session_id, &event_id))
            .await
    }

    async fn context_events(
        &self,
        session_id: &str,
        after: i64,
        scope: ContextScope,
    ) -> StoreResult<Vec<StoredEvent>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| events::context(c, &session_id, after, scope))
            .await
    }

    async fn runnable_sessions(&self, lease_cutoff: i64, limit: u32) -> StoreResult<Vec<String>> {
        self.pool
            .read(move |c| events::runnable(c, lease_cutoff, limit))
            .await
    }

    async fn claim_session(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>> {
        let (session_id, owner) = (session_id.to_owned(), owner.to_owned());
        self.pool
            .write(move |c| events::claim(c, &session_id, &owner, lease_cutoff, expires_at))
            .await
    }

    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool> {
        let lease = lease.clone();
        self.pool
            .write(move |c| events::renew(c, &lease, expires_at))
            .await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        let lease = lease.clone();
        self.pool.write(move |c| events::release(c, &lease)).await
    }

    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart> {
        let (lease, opening) = (lease.clone(), opening.to_vec());
        self.pool
            .write(move |c| events::begin_turn(c, &lease, now, &opening))
            .await
    }

    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let (lease, events, effects) = (lease.clone(), events.to_vec(), effects.clone());
        self.pool
            .write(move |c| events::append_turn(c, &lease, &events, &effects, now))
            .await
    }

    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()> {
        let (lease, buffer) = (lease.clone(), buffer.clone());
        self.pool
            .write(move |c| events::save_buffer(c, &lease, &buffer))
            .await
    }

    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>> {
        let session_id = session_id.to_owned();
        self.pool
            .read(move |c| events::buffers(c, &session_id))
            .await
    }

    async fn insert_model_card(&self, card: &ModelCardRow) -> StoreResult<()> {
        let card = card.clone();
        self.pool
            .write(move |c| model_cards::insert(c, &card))
            .await
    }

    async fn get_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<Option<ModelCardRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| model_cards::get(c, &tenant_id, &id))
            .await
    }

    async fn find_model_card(
        &self,
        tenant_id: &str,
        model_id: &str,
    ) -> StoreResult<Option<ModelCardRow>> {
        let (tenant_id, model_id) = (tenant_id.to_owned(), model_id.to_owned());
        self.pool
            .read(move |c| model_cards::find(c, &tenant_id, &model_id))
            .await
    }

    async fn list_model_cards(
        &self,
        tenant_id: &str,
        provider: Option<&str>,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ModelCardRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        let provider = provider.map(str::to_owned);
        self.pool
            .read(move |c| model_cards::list(c, &tenant_id, provider.as_deref(), &query))
            .await
    }

    async fn replace_model_card(
        &self,
        card: &ModelCardRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let card = card.clone();
        self.pool
            .write(move |c| model_cards::replace(c, &card, expected_version))
            .await
    }

    async fn delete_model_card(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| model_cards::delete(c, &tenant_id, &id))
            .await
    }

    async fn insert_file(&self, file: &FileRow) -> StoreResult<()> {
        let file = file.clone();
        self.pool.write(move |c| files::insert_file(c, &file)).await
    }

    async fn get_file(&self, tenant_id: &str, id: &str, now: i64) -> StoreResult<Option<FileRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| files::get_file(c, &tenant_id, &id, now))
            .await
    }

    async fn list_files(
        &self,
        tenant_id: &str,
        query: &FileQuery,
        now: i64,
    ) -> StoreResult<Vec<FileRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_files(c, &tenant_id, &query, now))
            .await
    }

    async fn scoped_files(&self, tenant_id: &str, scope_id: &str) -> StoreResult<Vec<FileRow>> {
        let (tenant_id, scope_id) = (tenant_id.to_owned(), scope_id.to_owned());
        self.pool
            .read(move |c| files::scoped_files(c, &tenant_id, &scope_id))
            .await
    }

    async fn replace_file(&self, file: &FileRow) -> StoreResult<bool> {
        let file = file.clone();
        self.pool
            .write(move |c| files::replace_file(c, &file))
            .await
    }

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| files::delete_file(c, &tenant_id, &id))
            .await
    }

    async fn expired_files(&self, now: i64, limit: u32) -> StoreResult<Vec<FileRow>> {
        self.pool
            .read(move |c| files::expired_files(c, now, limit))
            .await
    }

    async fn insert_skill(&self, skill: &SkillRow, first: &SkillVersionRow) -> StoreResult<()> {
        let (skill, first) = (skill.clone(), first.clone());
        self.pool
            .write(move |c| files::insert_skill(c, &skill, &first))
            .await
    }

    async fn get_skill(&self, tenant_id: &str, id: &str) -> StoreResult<Option<SkillRow>> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| files::get_skill(c, &tenant_id, &id))
            .await
    }

    async fn list_skills(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillRow>> {
        let (tenant_id, query) = (tenant_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_skills(c, &tenant_id, &query))
            .await
    }

    async fn add_skill_version(
        &self,
        skill: &SkillRow,
        version: &SkillVersionRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let (skill, version) = (skill.clone(), version.clone());
        self.pool
            .write(move |c| files::add_skill_version(c, &skill, &version, expected_version))
            .await
    }

    async fn get_skill_version(
        &self,
        tenant_id: &str,
        skill_id: &str,
        version_id: &str,
    ) -> StoreResult<Option<SkillVersionRow>> {
        let (tenant_id, skill_id, version_id) = (
            tenant_id.to_owned(),
            skill_id.to_owned(),
            version_id.to_owned(),
        );
        self.pool
            .read(move |c| files::get_skill_version(c, &tenant_id, &skill_id, &version_id))
            .await
    }

    async fn list_skill_versions(
        &self,
        tenant_id: &str,
        skill_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<SkillVersionRow>> {
        let (tenant_id, skill_id, query) =
            (tenant_id.to_owned(), skill_id.to_owned(), query.clone());
        self.pool
            .read(move |c| files::list_skill_versions(c, &tenant_id, &skill_id, &query))
            .await
    }

    async fn delete_skill_version(
        &self,
        skill: &SkillRow,
        version_id: &str,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let (skill, version_id) = (skill.clone(), version_id.to_owned());
        self.pool
            .write(move |c| files::delete_skill_version(c, &skill, &version_id, expected_version))
            .await
    }

    async fn delete_skill(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let (tenant_id, id) = (tenant_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| files::delete_skill(c, &tenant_id, &id))
            .await
    }

    async fn insert_credential(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert> {
        let credential = credential.clone();
        self.pool
            .write(move |c| vaults::insert(c, &credential, max_per_vault))
            .await
    }

    async fn get_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<Option<CredentialRow>> {
        let (tenant_id, vault_id, id) = (tenant_id.to_owned(), vault_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| vaults::get(c, &tenant_id, &vault_id, &id))
            .await
    }

    async fn list_credentials(
        &self,
        tenant_id: &str,
        vault_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<CredentialRow>> {
        let (tenant_id, vault_id, query) =
            (tenant_id.to_owned(), vault_id.to_owned(), query.clone());
        self.pool
            .read(move |c| vaults::list(c, &tenant_id, &vault_id, &query))
            .await
    }

    async fn replace_credential(
        &self,
        credential: &CredentialRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let credential = credential.clone();
        self.pool
            .write(move |c| vaults::replace(c, &credential, expected_version))
            .await
    }

    async fn delete_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let (tenant_id, vault_id, id) = (tenant_id.to_owned(), vault_id.to_owned(), id.to_owned());
        self.pool
            .write(move |c| vaults::delete(c, &tenant_id, &vault_id, &id))
            .await
    }

    async fn vault_credentials(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> StoreResult<Vec<CredentialRow>> {
        let (tenant_id, vault_ids) = (tenant_id.to_owned(), vault_ids.to_vec());
        self.pool
            .read(move |c| vaults::of_vaults(c, &tenant_id, &vault_ids))
            .await
    }

    async fn create_memory(
        &self,
        memory: &NewMemory,
        version: &MemoryVersionStamp,
        max_per_store: u32,
    ) -> StoreResult<MemoryWrite> {
        let (memory, version) = (memory.clone(), version.clone());
        self.pool
            .write(move |c| memories::create(c, &memory, &version, max_per_store))
            .await
    }

    async fn update_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        change: &MemoryChange,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<MemoryWrite> {
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        let (change, expected, version) = (
            change.clone(),
            expected_sha256.map(str::to_owned),
            version.clone(),
        );
        self.pool
            .write(move |c| {
                memories::update(
                    c,
                    &tenant_id,
                    &store_id,
                    &id,
                    &change,
                    expected.as_deref(),
                    &version,
                )
            })
            .await
    }

    async fn delete_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<DeleteMemory> {
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        let (expected, version) = (expected_sha256.map(str::to_owned), version.clone());
        self.pool
            .write(move |c| {
                memories::delete(c, &tenant_id, &store_id, &id, expected.as_deref(), &version)
            })
            .await
    }

    async fn get_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| memories::get(c, &tenant_id, &store_id, &id))
            .await
    }

    async fn get_memory_by_path(
        &self,
        tenant_id: &str,
        store_id: &str,
        path: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        let (tenant_id, store_id, path) =
            (tenant_id.to_owned(), store_id.to_owned(), path.to_owned());
        self.pool
            .read(move |c| memories::get_by_path(c, &tenant_id, &store_id, &path))
            .await
    }

    async fn list_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryQuery,
    ) -> StoreResult<Vec<MemoryRow>> {
        let (tenant_id, store_id, query) =
            (tenant_id.to_owned(), store_id.to_owned(), query.clone());
        self.pool
            .read(move |c| memories::list(c, &tenant_id, &store_id, &query))
            .await
    }

    async fn count_memories(&self, tenant_id: &str, store_id: &str) -> StoreResult<u64> {
        let (tenant_id, store_id) = (tenant_id.to_owned(), store_id.to_owned());
        self.pool
            .read(move |c| memories::count(c, &tenant_id, &store_id))
            .await
    }

    async fn recent_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemoryRow>> {
        let (tenant_id, store_id) = (tenant_id.to_owned(), store_id.to_owned());
        self.pool
            .read(move |c| memories::recent(c, &tenant_id, &store_id, limit))
            .await
    }

    async fn list_memory_versions(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryVersionQuery,
    ) -> StoreResult<Vec<MemoryVersionRow>> {
        let (tenant_id, store_id, query) =
            (tenant_id.to_owned(), store_id.to_owned(), query.clone());
        self.pool
            .read(move |c| memory_versions::list(c, &tenant_id, &store_id, &query))
            .await
    }

    async fn get_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryVersionRow>> {
        let (tenant_id, store_id, id) = (tenant_id.to_owned(), store_id.to_owned(), id.to_owned());
        self.pool
            .read(move |c| memory_versions::get(c, &tenant_id, &store_id, &id))
            .await
    }

    async fn redact_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> StoreResult<RedactVersion> {
        let (tenant_id, store_id, id, by) = (
            tenant_id.to_owned(),
            store_id.to_owned(),
            id.to_owned(),
            by.to_owned(),
        );
        self.pool
            .write(move |c| memory_versions::redact(c, &tenant_id, &store_id, &id, &by, at))
            .await
    }

    async fn prune_memory_versions(&self, older_than: i64) -> StoreResult<u64> {
        self.pool
            .write(move |c| memory_versions::prune(c, older_than))
            .await
    }
}
