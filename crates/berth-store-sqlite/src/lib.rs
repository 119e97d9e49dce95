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
mod memory_rows;
mod memory_search;
mod memory_versions;
mod migrations;
mod model_cards;
mod pool;
mod runner;
mod sandboxes;
mod sessions;
mod sql;
mod store_impl;
mod vaults;

use std::path::Path;

use async_trait::async_trait;
use berth_store::{
    AgentHistory, DocumentRecords, EventLog, FileRecords, ModelCardRecords, SessionRecords,
    SkillRecords, TenantRecords, TurnLeases,
};
use berth_store::{
    ApiKeyRow, AppendOutcome, ChangeOutcome, Collection, ContextScope, DeleteOutcome,
    DeleteSessionOutcome, Document, DocumentQuery, EventQuery, Lease, NewApiKey, NewEvent,
    RevokeOutcome, SessionChange, SessionQuery, SessionRow, Store, StoreError, StoreResult,
    StoredEvent, StreamBuffer, TenantRow, TurnEffects, TurnStart,
};
use berth_store::{
    CredentialInsert, CredentialRecords, CredentialRow, FileQuery, FileRow, ModelCardRow, SkillRow,
    SkillVersionRow,
};
use berth_store::{
    DeleteMemory, MemoryChange, MemoryQuery, MemoryRecords, MemoryRow, MemoryVersionQuery,
    MemoryVersionRow, MemoryVersionStamp, MemoryWrite, NewMemory, RedactVersion,
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
}
