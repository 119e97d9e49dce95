//! The connection pool, error mapping and migrations.

use berth_store::{StoreError, StoreResult};
use deadpool_postgres::{Config, ManagerConfig, Pool, PoolConfig, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

/// Every migration, in order. Never edit one that has shipped; add a new one.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "sessions",
        include_str!("../migrations/0002_sessions.sql"),
    ),
    (
        3,
        "model_cards",
        include_str!("../migrations/0003_model_cards.sql"),
    ),
    (
        4,
        "files_and_skills",
        include_str!("../migrations/0004_files_and_skills.sql"),
    ),
    (5, "vaults", include_str!("../migrations/0005_vaults.sql")),
    (6, "memory", include_str!("../migrations/0006_memory.sql")),
    (
        7,
        "memory search",
        include_str!("../migrations/0007_memory_search.sql"),
    ),
    (
        8,
        "security",
        include_str!("../migrations/0008_security.sql"),
    ),
    (
        9,
        "session memory stores",
        include_str!("../migrations/0009_session_memory_stores.sql"),
    ),
    (
        10,
        "model card key preview",
        include_str!("../migrations/0010_model_card_key_preview.sql"),
    ),
    (
        11,
        "model card defaults",
        include_str!("../migrations/0011_model_card_defaults.sql"),
    ),
];

/// Serialises migrations across replicas starting at the same time (an arbitrary constant).
const MIGRATION_LOCK: i64 = 0x6265_7274_685f_6d67;

/// Options for opening the pool.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    pub url: String,
    /// Connections this process may hold; size it so replicas × this stays under the server's
    /// `max_connections`.
    pub max_connections: usize,
    /// A schema to use instead of `public` (tests isolate themselves this way).
    pub schema: Option<String>,
}

pub fn create_pool(options: &PostgresOptions) -> StoreResult<Pool> {
    let mut config = Config::new();
    config.url = Some(options.url.clone());
    if let Some(schema) = &options.schema {
        config.options = Some(format!("-c search_path={schema}"));
    }
    config.manager = Some(ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    });
    config.pool = Some(PoolConfig::new(options.max_connections.max(1)));
    config
        .create_pool(Some(Runtime::Tokio1), NoTls)
        .map_err(|e| StoreError::Backend(format!("invalid DATABASE_URL: {e}")))
}

pub async fn migrate(pool: &Pool) -> StoreResult<usize> {
    migrate_to(pool, i64::MAX).await
}

/// Applies the unseen migrations up to and including `last` (tests stop early to check what a
/// later migration does to data an older schema holds).
pub async fn migrate_to(pool: &Pool, last: i64) -> StoreResult<usize> {
    let mut client = pool.get().await.map_err(pool_error)?;
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    BIGINT PRIMARY KEY,
                 name       TEXT NOT NULL,
                 applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
             )",
        )
        .await
        .map_err(pg)?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg)?;
    let result = apply(&mut client, last).await;
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(pg);
    let applied = result?;
    unlock?;
    Ok(applied)
}

async fn apply(client: &mut deadpool_postgres::Client, last: i64) -> StoreResult<usize> {
    let current: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .map_err(pg)?
        .get(0);
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Corrupt(format!(
            "the database is at schema version {current}, newer than this build knows ({newest}); \
             run a newer berth"
        )));
    }
    let mut applied = 0;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current && m.0 <= last) {
        let tx = client.transaction().await.map_err(pg)?;
        tx.batch_execute(sql).await.map_err(pg)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await
        .map_err(pg)?;
        tx.commit().await.map_err(pg)?;
        tracing::info!(version, name, "applied PostgreSQL migration");
        applied += 1;
    }
    Ok(applied)
}

pub fn pg(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        if db.code() == &SqlState::UNIQUE_VIOLATION || db.code() == &SqlState::FOREIGN_KEY_VIOLATION
        {
            return StoreError::Conflict(db.message().to_owned());
        }
        return StoreError::Backend(format!("{}: {}", db.code().code(), db.message()));
    }
    if e.is_closed() {
        return StoreError::Unavailable(e.to_string());
    }
    StoreError::Backend(e.to_string())
}

pub fn pool_error(e: deadpool_postgres::PoolError) -> StoreError {
    StoreError::Unavailable(format!("cannot get a database connection: {e}"))
}
