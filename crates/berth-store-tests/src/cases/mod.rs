//! The contract cases for tenants, documents and the per-tenant catalogues. Each takes a fresh,
//! empty store.

mod catalog;
mod documents;
mod tenants;

use std::sync::Arc;

use berth_store::{DocumentQuery, Store};

use crate::fixtures::{key, tenant};

pub use catalog::{
    files_are_scoped_expire_and_page, model_cards_are_unique_per_tenant,
    one_default_card_per_tenant_and_archived_cards_hide, skills_keep_versions_and_unique_names,
};
pub use documents::{
    agent_history_is_kept, concurrent_replace_has_one_winner, concurrent_writes_all_commit,
    deleting_documents, documents_are_tenant_scoped, documents_round_trip,
    lists_filter_archived_and_time, lists_page_without_gaps, replace_is_optimistic,
};
pub use tenants::{meta_is_initialised_once, revoking_keys, tenants_and_keys};

type S = Arc<dyn Store>;

async fn new_tenant(store: &S, name: &str) -> String {
    let t = tenant(name);
    store
        .create_tenant(&t, &key(&t.id, &format!("first-{}", t.id)))
        .await
        .unwrap();
    t.id
}

fn page(limit: u32) -> DocumentQuery {
    DocumentQuery {
        limit,
        ..Default::default()
    }
}
