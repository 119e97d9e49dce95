//! The storage contract suite on SQLite.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use berth_store::Store;
use berth_store_sqlite::SqliteStore;

async fn make() -> Option<Arc<dyn Store>> {
    // The directory must outlive the store; leaking it keeps the test simple.
    let dir = tempfile::tempdir().unwrap().keep();
    let store = SqliteStore::open(&dir.join("berth.db")).await.unwrap();
    Some(Arc::new(store))
}

berth_store_tests::store_contract_tests!(make);
