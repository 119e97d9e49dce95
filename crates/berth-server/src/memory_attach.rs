//! Memory stores a new session attaches: each must be a live store of the caller's tenant, and
//! gets a folder under `/mnt/memory` named after it, unique among the session's stores.

use std::collections::{HashMap, HashSet};

use berth_protocol::ids::prefix;
use berth_protocol::memory::MemoryStore;
use berth_protocol::session::ResourceParam;
use berth_runtime::memory_mounts::{AttachedStore, MEMORY_MOUNT, unique_folder};
use berth_store::Collection;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The stores a new session's resources name, by id: each must be a live store of the tenant.
/// Each gets a folder named after it, made unique among the session's stores.
pub async fn attached_stores(
    state: &AppState,
    caller: &Caller,
    params: &[ResourceParam],
) -> ApiResult<HashMap<String, AttachedStore>> {
    let mut attached = HashMap::new();
    let mut taken = HashSet::new();
    for param in params {
        let ResourceParam::MemoryStore {
            memory_store_id, ..
        } = param
        else {
            continue;
        };
        // Malformed ids and repeats are refused with the other resource checks.
        if !berth_protocol::ids::has_prefix(memory_store_id, prefix::MEMORY_STORE)
            || attached.contains_key(memory_store_id)
        {
            continue;
        }
        let doc = state
            .store
            .get_document(Collection::MemoryStores, &caller.tenant_id, memory_store_id)
            .await?
            .ok_or_else(|| ApiError::not_found("memory store", memory_store_id))?;
        if doc.archived_at.is_some() {
            return Err(ApiError::bad_request(format!(
                "memory store {memory_store_id} is archived and cannot be attached"
            ))
            .with_code("memory_store_archived"));
        }
        let store: MemoryStore = crate::documents::decode(&doc.body)?;
        let folder = unique_folder(&store.name, &store.id, &mut taken);
        attached.insert(
            store.id.clone(),
            AttachedStore {
                description: store.description.clone(),
                name: store.name,
                mount_path: format!("{MEMORY_MOUNT}/{folder}"),
            },
        );
    }
    Ok(attached)
}
