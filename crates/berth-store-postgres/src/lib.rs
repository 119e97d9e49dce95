//! Berth's PostgreSQL backend: the same contract as SQLite, for many replicas on one database.
//!
//! Statements are prepared once per pooled connection (`prepare_cached`); list queries are built
//! from fixed fragments with bound values, so the set of distinct statements stays small.

mod connect;
mod events;
mod files;
pub mod listen;
mod memories;
mod memory_versions;
mod model_cards;
mod rows;
mod sessions;
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
    CredentialInsert, CredentialRow, FileQuery, FileRow, ModelCardRow, SkillRow, SkillVersionRow,
};
use berth_store::{
    DeleteMemory, MemoryChange, MemoryQuery, MemoryRow, MemoryVersionQuery, MemoryVersionRow,
    MemoryVersionStamp, MemoryWrite, NewMemory, RedactVersion,
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

async fn insert_version<C: GenericClient>(client: &C, doc: &Document) -> StoreResult<()> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO agent_versions (agent_id, tenant_id, version, created_at, updated_at, body)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await
        .map_err(pg)?;
    client
        .execute(
            &stmt,
            &[
                &doc.id,
                &doc.tenant_id,
                &doc.version,
                &doc.created_at,
                &doc.updated_at,
                &doc.body,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(())
}

async fn upsert_key<C: GenericClient>(client: &C, key: &NewApiKey) -> StoreResult<String> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO api_keys (id, tenant_id, name, prefix, hash, is_admin, source, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (hash) DO UPDATE SET
                 revoked_at = NULL, tenant_id = excluded.tenant_id, is_admin = excluded.is_admin,
                 source = excluded.source, name = excluded.name
             RETURNING id",
        )
        .await
        .map_err(pg)?;
    let row = client
        .query_one(
            &stmt,
            &[
                &key.id,
                &key.tenant_id,
                &key.name,
                &key.prefix,
                &key.hash,
                &key.is_admin,
                &key.source,
                &key.created_at,
            ],
        )
        .await
        .map_err(pg)?;
    Ok(row.get(0))
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        tx.execute(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3)",
            &[&tenant.id, &tenant.name, &tenant.created_at],
        )
        .await
        .map_err(pg)?;
        upsert_key(&tx, first_key).await?;
        tx.commit().await.map_err(pg)
    }

    async fn get_tenant(&self, id: &str) -> StoreResult<Option<TenantRow>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("SELECT id, name, created_at FROM tenants WHERE id = $1")
            .await
            .map_err(pg)?;
        let row = client.query_opt(&stmt, &[&id]).await.map_err(pg)?;
        Ok(row.as_ref().map(rows::tenant))
    }

    async fn list_tenants(&self, query: &DocumentQuery) -> StoreResult<Vec<TenantRow>> {
        let client = self.client().await?;
        let mut sql = String::from("SELECT id, name, created_at FROM tenants WHERE TRUE");
        let mut params: Vec<Param> = Vec::new();
        push_filters(&mut sql, &mut params, query, "id", false, false);
        let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::tenant).collect())
    }

    async fn upsert_api_key(&self, key: &NewApiKey) -> StoreResult<String> {
        upsert_key(&self.client().await?, key).await
    }

    async fn find_api_key(&self, hash: &[u8]) -> StoreResult<Option<ApiKeyRow>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"
            ))
            .await
            .map_err(pg)?;
        let row = client.query_opt(&stmt, &[&hash]).await.map_err(pg)?;
        Ok(row.as_ref().map(rows::api_key))
    }

    async fn list_api_keys(
        &self,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<ApiKeyRow>> {
        let client = self.client().await?;
        let mut sql = format!(
            "SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL"
        );
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
        push_filters(&mut sql, &mut params, query, "id", false, false);
        let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::api_key).collect())
    }

    async fn revoke_api_key(
        &self,
        tenant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<RevokeOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        // Lock the tenant's active keys so two concurrent revocations cannot both pass the
        // last-key check.
        let active = tx
            .query(
                "SELECT id FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL FOR UPDATE",
                &[&tenant_id],
            )
            .await
            .map_err(pg)?;
        let outcome = if !active.iter().any(|r| r.get::<_, &str>(0) == id) {
            RevokeOutcome::NotFound
        } else if active.len() <= 1 {
            RevokeOutcome::LastActiveKey
        } else {
            tx.execute(
                "UPDATE api_keys SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2",
                &[&tenant_id, &id, &now],
            )
            .await
            .map_err(pg)?;
            RevokeOutcome::Revoked
        };
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn revoke_keys_from_source(
        &self,
        tenant_id: &str,
        source: &str,
        keep_id: &str,
        now: i64,
    ) -> StoreResult<u64> {
        self.client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = $4
                 WHERE tenant_id = $1 AND source = $2 AND id <> $3 AND revoked_at IS NULL",
                &[&tenant_id, &source, &keep_id, &now],
            )
            .await
            .map_err(pg)
    }

    async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached("UPDATE api_keys SET last_used_at = $2 WHERE id = $1")
            .await
            .map_err(pg)?;
        client.execute(&stmt, &[&id, &now]).await.map_err(pg)?;
        Ok(())
    }

    async fn insert_document(&self, collection: Collection, doc: &Document) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let stmt = tx
            .prepare_cached(&format!(
                "INSERT INTO {} ({DOC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                collection.table()
            ))
            .await
            .map_err(pg)?;
        tx.execute(
            &stmt,
            &[
                &doc.id,
                &doc.tenant_id,
                &doc.version,
                &doc.created_at,
                &doc.updated_at,
                &doc.archived_at,
                &doc.body,
            ],
        )
        .await
        .map_err(pg)?;
        if collection.keeps_history() {
            insert_version(&tx, doc).await?;
        }
        tx.commit().await.map_err(pg)
    }

    async fn get_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<Option<Document>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(&format!(
                "SELECT {DOC_COLUMNS} FROM {} WHERE id = $1 AND tenant_id = $2",
                collection.table()
            ))
            .await
            .map_err(pg)?;
        let row = client
            .query_opt(&stmt, &[&id, &tenant_id])
            .await
            .map_err(pg)?;
        Ok(row.as_ref().map(rows::document))
    }

    async fn list_documents(
        &self,
        collection: Collection,
        tenant_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let client = self.client().await?;
        let mut sql = format!(
            "SELECT {DOC_COLUMNS} FROM {} WHERE tenant_id = $1",
            collection.table()
        );
        let mut params: Vec<Param> = vec![Box::new(tenant_id.to_owned())];
        push_filters(&mut sql, &mut params, query, "id", false, true);
        let stmt = client.prepare_cached(&sql).await.map_err(pg)?;
        let rows = client.query(&stmt, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::document).collect())
    }

    async fn replace_document(
        &self,
        collection: Collection,
        doc: &Document,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let stmt = tx
            .prepare_cached(&format!(
                "UPDATE {} SET version = $3, updated_at = $4, archived_at = $5, body = $6
                 WHERE id = $1 AND tenant_id = $2 AND version = $7",
                collection.table()
            ))
            .await
            .map_err(pg)?;
        let changed = tx
            .execute(
                &stmt,
                &[
                    &doc.id,
                    &doc.tenant_id,
                    &doc.version,
                    &doc.updated_at,
                    &doc.archived_at,
                    &doc.body,
                    &expected_version,
                ],
            )
            .await
            .map_err(pg)?;
        if changed == 0 {
            return Ok(false);
        }
        if collection.keeps_history() {
            if doc.version != expected_version {
                insert_version(&tx, doc).await?;
            } else {
                tx.execute(
                    "UPDATE agent_versions SET body = $3, updated_at = $4
                     WHERE agent_id = $1 AND version = $2",
                    &[&doc.id, &doc.version, &doc.body, &doc.updated_at],
                )
                .await
                .map_err(pg)?;
            }
        }
        tx.commit().await.map_err(pg)?;
        Ok(true)
    }

    async fn delete_document(
        &self,
        collection: Collection,
        tenant_id: &str,
        id: &str,
    ) -> StoreResult<DeleteOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        if collection == Collection::Environments {
            // Lock the environment so no session can be created on it meanwhile.
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM environments WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
                    &[&id, &tenant_id],
                )
                .await
                .map_err(pg)?;
            if exists.is_none() {
                return Ok(DeleteOutcome::NotFound);
            }
            let in_use = tx
                .query_opt(
                    "SELECT 1 FROM sessions WHERE environment_id = $1 AND tenant_id = $2
                       AND archived_at IS NULL AND deleted_at IS NULL LIMIT 1",
                    &[&id, &tenant_id],
                )
                .await
                .map_err(pg)?;
            if in_use.is_some() {
                return Ok(DeleteOutcome::InUse);
            }
        }
        let n = tx
            .execute(
                &format!(
                    "DELETE FROM {} WHERE id = $1 AND tenant_id = $2",
                    collection.table()
                ),
                &[&id, &tenant_id],
            )
            .await
            .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        Ok(if n == 0 {
            DeleteOutcome::NotFound
        } else {
            DeleteOutcome::Deleted
        })
    }

    async fn get_agent_version(
        &self,
        tenant_id: &str,
        id: &str,
        version: i64,
    ) -> StoreResult<Option<Document>> {
        let client = self.client().await?;
        let stmt = client
            .prepare_cached(
                "SELECT v.agent_id, v.tenant_id, v.version, v.created_at, v.updated_at, a.archived_at, v.body
                 FROM agent_versions v JOIN agents a ON a.id = v.agent_id
                 WHERE v.agent_id = $1 AND v.tenant_id = $2 AND v.version = $3",
            )
            .await
            .map_err(pg)?;
        let row = client
            .query_opt(&stmt, &[&id, &tenant_id, &version])
            .await
            .map_err(pg)?;
        Ok(row.as_ref().map(rows::document))
    }

    async fn list_agent_versions(
        &self,
        tenant_id: &str,
        id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<Document>> {
        let client = self.client().await?;
        let mut sql = String::from(
            "SELECT agent_id, tenant_id, version, created_at, updated_at, NULL::BIGINT, body
             FROM agent_versions WHERE agent_id = $1 AND tenant_id = $2",
        );
        let mut params: Vec<Param> = vec![Box::new(id.to_owned()), Box::new(tenant_id.to_owned())];
        push_filters(&mut sql, &mut params, query, "version", true, false);
        let rows = client.query(&sql, &refs(&params)).await.map_err(pg)?;
        Ok(rows.iter().map(rows::document).collect())
    }

    async fn current_agent_versions(
        &self,
        tenant_id: &str,
        ids: &[String],
    ) -> StoreResult<Vec<(String, i64)>> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT id, version FROM agents WHERE tenant_id = $1 AND id = ANY($2)",
                &[&tenant_id, &ids],
            )
            .await
            .map_err(pg)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn create_session(
        &self,
        row: &SessionRow,
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let stored = sessions::create(&tx, row, events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(stored)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = sessions::change(&tx, change).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = sessions::delete(&tx, tenant_id, id, now, events).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn append_client_events(
        &self,
        tenant_id: &str,
        session_id: &str,
        events: &[NewEvent],
        now: i64,
    ) -> StoreResult<AppendOutcome> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = events::append_client(&tx, tenant_id, session_id, events, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
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
    ) -> StoreResult<Vec<StoredEvent>> {
        events::read(&self.client().await?, session_id, after_seq, limit).await
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
        events::runnable(&self.client().await?, lease_cutoff, limit).await
    }

    async fn claim_session(
        &self,
        session_id: &str,
        owner: &str,
        lease_cutoff: i64,
        expires_at: i64,
    ) -> StoreResult<Option<Lease>> {
        events::claim(
            &self.client().await?,
            session_id,
            owner,
            lease_cutoff,
            expires_at,
        )
        .await
    }

    async fn renew_lease(&self, lease: &Lease, expires_at: i64) -> StoreResult<bool> {
        events::renew(&self.client().await?, lease, expires_at).await
    }

    async fn release_lease(&self, lease: &Lease) -> StoreResult<()> {
        events::release(&self.client().await?, lease).await
    }

    async fn begin_turn(
        &self,
        lease: &Lease,
        now: i64,
        opening: &[NewEvent],
    ) -> StoreResult<TurnStart> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = events::begin_turn(&tx, lease, now, opening).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn append_turn_events(
        &self,
        lease: &Lease,
        events: &[NewEvent],
        effects: &TurnEffects,
        now: i64,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = events::append_turn(&tx, lease, events, effects, now).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn save_stream_buffer(&self, lease: &Lease, buffer: &StreamBuffer) -> StoreResult<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        events::save_buffer(&tx, lease, buffer).await?;
        tx.commit().await.map_err(pg)
    }

    async fn stream_buffers(&self, session_id: &str) -> StoreResult<Vec<StreamBuffer>> {
        events::buffers(&self.client().await?, session_id).await
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        files::insert_skill(&tx, skill, first).await?;
        tx.commit().await.map_err(pg)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::add_skill_version(&tx, skill, version, expected_version).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::delete_skill_version(&tx, skill, version_id, expected_version).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
    }

    async fn delete_skill(&self, tenant_id: &str, id: &str) -> StoreResult<bool> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let done = files::delete_skill(&tx, tenant_id, id).await?;
        tx.commit().await.map_err(pg)?;
        Ok(done)
    }

    async fn insert_credential(
        &self,
        credential: &CredentialRow,
        max_per_vault: u32,
    ) -> StoreResult<CredentialInsert> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = vaults::insert(&tx, credential, max_per_vault).await?;
        // Anything but an insert wrote nothing (or aborted the transaction on the unique
        // index); dropping the transaction rolls it back.
        if outcome == CredentialInsert::Inserted {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }

    async fn get_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<Option<CredentialRow>> {
        vaults::get(&self.client().await?, tenant_id, vault_id, id).await
    }

    async fn list_credentials(
        &self,
        tenant_id: &str,
        vault_id: &str,
        query: &DocumentQuery,
    ) -> StoreResult<Vec<CredentialRow>> {
        vaults::list(&self.client().await?, tenant_id, vault_id, query).await
    }

    async fn replace_credential(
        &self,
        credential: &CredentialRow,
        expected_version: i64,
    ) -> StoreResult<bool> {
        vaults::replace(&self.client().await?, credential, expected_version).await
    }

    async fn delete_credential(
        &self,
        tenant_id: &str,
        vault_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        vaults::delete(&self.client().await?, tenant_id, vault_id, id).await
    }

    async fn vault_credentials(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> StoreResult<Vec<CredentialRow>> {
        vaults::of_vaults(&self.client().await?, tenant_id, vault_ids).await
    }

    async fn create_memory(
        &self,
        memory: &NewMemory,
        version: &MemoryVersionStamp,
        max_per_store: u32,
    ) -> StoreResult<MemoryWrite> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = memories::create(&tx, memory, version, max_per_store).await?;
        // Anything but a write wrote nothing; dropping the transaction rolls it back.
        if matches!(outcome, MemoryWrite::Written(_)) {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
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
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = memories::update(
            &tx,
            tenant_id,
            store_id,
            id,
            change,
            expected_sha256,
            version,
        )
        .await?;
        if matches!(outcome, MemoryWrite::Written(_)) {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }

    async fn delete_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        expected_sha256: Option<&str>,
        version: &MemoryVersionStamp,
    ) -> StoreResult<DeleteMemory> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome =
            memories::delete(&tx, tenant_id, store_id, id, expected_sha256, version).await?;
        if outcome == DeleteMemory::Deleted {
            tx.commit().await.map_err(pg)?;
        }
        Ok(outcome)
    }

    async fn get_memory(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        memories::get(&self.client().await?, tenant_id, store_id, id).await
    }

    async fn get_memory_by_path(
        &self,
        tenant_id: &str,
        store_id: &str,
        path: &str,
    ) -> StoreResult<Option<MemoryRow>> {
        memories::get_by_path(&self.client().await?, tenant_id, store_id, path).await
    }

    async fn list_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryQuery,
    ) -> StoreResult<Vec<MemoryRow>> {
        memories::list(&self.client().await?, tenant_id, store_id, query).await
    }

    async fn count_memories(&self, tenant_id: &str, store_id: &str) -> StoreResult<u64> {
        memories::count(&self.client().await?, tenant_id, store_id).await
    }

    async fn recent_memories(
        &self,
        tenant_id: &str,
        store_id: &str,
        limit: u32,
    ) -> StoreResult<Vec<MemoryRow>> {
        memories::recent(&self.client().await?, tenant_id, store_id, limit).await
    }

    async fn list_memory_versions(
        &self,
        tenant_id: &str,
        store_id: &str,
        query: &MemoryVersionQuery,
    ) -> StoreResult<Vec<MemoryVersionRow>> {
        memory_versions::list(&self.client().await?, tenant_id, store_id, query).await
    }

    async fn get_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
    ) -> StoreResult<Option<MemoryVersionRow>> {
        memory_versions::get(&self.client().await?, tenant_id, store_id, id).await
    }

    async fn redact_memory_version(
        &self,
        tenant_id: &str,
        store_id: &str,
        id: &str,
        by: &str,
        at: i64,
    ) -> StoreResult<RedactVersion> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg)?;
        let outcome = memory_versions::redact(&tx, tenant_id, store_id, id, by, at).await?;
        tx.commit().await.map_err(pg)?;
        Ok(outcome)
    }

    async fn prune_memory_versions(&self, older_than: i64) -> StoreResult<u64> {
        memory_versions::prune(&self.client().await?, older_than).await
    }
}
