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
    AgentHistory, DocumentRecords, EventLog, FileRecords, ModelCardRecords, SessionRecords,
    SkillRecords, TenantRecords, TurnLeases,
};
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
}
