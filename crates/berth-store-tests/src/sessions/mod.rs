//! Contract cases for sessions, the event log and the runner's leases.

mod events;
mod lifecycle;
mod runs;

use std::sync::Arc;

use berth_store::{Collection, EventQuery, SortOrder, Store};

use crate::fixtures::{doc, key, tenant};

pub use events::{concurrent_appends_keep_seq_gapless, event_lists_filter_and_page};
pub use lifecycle::{
    session_changes_and_deletes, sessions_list_by_memory_store, sessions_round_trip_and_list,
};
pub use runs::{
    client_events_queue_and_interrupt, leases_fence_stale_runners,
    turns_promote_inputs_in_context_order,
};

type S = Arc<dyn Store>;

async fn setup(store: &S) -> (String, String) {
    let t = tenant("acme");
    store
        .create_tenant(&t, &key(&t.id, &format!("k-{}", t.id)))
        .await
        .unwrap();
    let env = doc(&t.id, 1);
    store
        .insert_document(Collection::Environments, &env)
        .await
        .unwrap();
    (t.id, env.id)
}

fn events_query(limit: u32) -> EventQuery {
    EventQuery {
        limit,
        order: SortOrder::Asc,
        ..Default::default()
    }
}

const LONG_AGO: i64 = 0;
const FAR_FUTURE: i64 = i64::MAX;
