//! The storage contract suite on PostgreSQL (skips locally without `BERTH_TEST_DATABASE_URL`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use berth_store::Store;
use berth_store_postgres::{PostgresStore, testing};

async fn make() -> Option<Arc<dyn Store>> {
    let options = testing::fresh_schema().await?;
    Some(Arc::new(PostgresStore::open(&options).await.unwrap()))
}

berth_store_tests::store_contract_tests!(
    make,
    #[cfg_attr(
        berth_no_postgres,
        ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
    )]
);
