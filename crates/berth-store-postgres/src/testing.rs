//! Helpers for tests that need a PostgreSQL database of their own.
//!
//! Tests read `BERTH_TEST_DATABASE_URL`. Without it they skip with a message, unless
//! `BERTH_REQUIRE_POSTGRES=1` is set (CI sets it), in which case they fail: the PostgreSQL half
//! of the suite must never be skipped silently in CI.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::NoTls;

use berth_store::StoreResult;
use deadpool_postgres::Pool;

use crate::PostgresOptions;
use crate::connect::create_pool;

static NEXT: AtomicU64 = AtomicU64::new(0);

/// Options for a brand-new, empty schema on the test database, or `None` to skip.
pub async fn fresh_schema() -> Option<PostgresOptions> {
    let url = match std::env::var("BERTH_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let required = std::env::var("BERTH_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "BERTH_REQUIRE_POSTGRES=1 but BERTH_TEST_DATABASE_URL is not set"
            );
            eprintln!("skipped: set BERTH_TEST_DATABASE_URL to run the PostgreSQL tests");
            return None;
        }
    };
    let schema = format!(
        "berth_test_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    let (client, connection) = match tokio_postgres::connect(&url, NoTls).await {
        Ok(pair) => pair,
        Err(e) => panic!("cannot connect to BERTH_TEST_DATABASE_URL: {e}"),
    };
    tokio::spawn(connection);
    if let Err(e) = client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
    {
        panic!("cannot create test schema {schema}: {e}");
    }
    Some(PostgresOptions {
        url,
        max_connections: 8,
        schema: Some(schema),
    })
}

/// A pool on `options`' schema with the migrations up to and including `last` applied.
pub async fn migrated_to(options: &PostgresOptions, last: i64) -> StoreResult<Pool> {
    let pool = create_pool(options)?;
    crate::connect::migrate_to(&pool, last).await?;
    Ok(pool)
}
