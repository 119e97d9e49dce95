//! The storage contract: behaviour every [`Store`] backend must share, written once.
//!
//! A backend's test file calls [`store_contract_tests!`] with an async constructor returning
//! `Option<Arc<dyn Store>>` (a fresh, empty store per test; `None` skips the suite, which the
//! PostgreSQL backend does when no database is configured locally).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod cases;
mod fixtures;
pub mod memories;
mod memory_fixtures;
pub mod memory_reads;
pub mod memory_search;
pub mod memory_versions;
pub mod sandboxes;
pub mod sessions;
pub mod vaults;

pub use berth_store::Store;

/// Expands to one `#[tokio::test]` per contract case.
#[macro_export]
macro_rules! store_contract_tests {
    // `$(#[$attr])*` go on every case: the PostgreSQL suite marks them ignored without a
    // database.
    ($make:path $(, #[$attr:meta])*) => {
        $crate::store_contract_tests!(@cases $make, [$(#[$attr])*];
            meta_is_initialised_once,
            tenants_and_keys,
            revoking_keys,
            documents_round_trip,
            documents_are_tenant_scoped,
            replace_is_optimistic,
            agent_history_is_kept,
            lists_page_without_gaps,
            lists_filter_archived_and_time,
            deleting_documents,
            concurrent_writes_all_commit,
            concurrent_replace_has_one_winner,
            model_cards_are_unique_per_tenant,
            one_default_card_per_tenant_and_archived_cards_hide,
            files_are_scoped_expire_and_page,
            skills_keep_versions_and_unique_names,
        );
        $crate::store_contract_tests!(@sessions $make, [$(#[$attr])*];
            sessions_round_trip_and_list,
            sessions_list_by_memory_store,
            client_events_queue_and_interrupt,
            turns_promote_inputs_in_context_order,
            leases_fence_stale_runners,
            session_changes_and_deletes,
            event_lists_filter_and_page,
            concurrent_appends_keep_seq_gapless,
        );
        $crate::store_contract_tests!(@vaults $make, [$(#[$attr])*];
            vaults_are_documents,
            credentials_round_trip_and_page,
            vaults_hold_a_limited_number_of_credentials,
            active_urls_are_unique_per_vault,
            credentials_need_a_live_vault_of_the_tenant,
            replacing_and_deleting_credentials,
            deleting_a_vault_deletes_its_credentials,
            vault_credentials_are_active_and_tenant_scoped,
            concurrent_inserts_respect_the_limit,
        );
        $crate::store_contract_tests!(@memories $make, [$(#[$attr])*];
            memories_round_trip_with_their_first_version,
            creating_needs_a_live_store_of_the_tenant,
            paths_are_unique_per_store,
            stores_hold_a_limited_number_of_memories,
            updates_rename_edit_and_record_versions,
            update_outcomes,
            deleting_keeps_the_versions,
        );
        $crate::store_contract_tests!(@memory_reads $make, [$(#[$attr])*];
            memory_stores_are_documents,
            memory_lists_page_by_path,
            recent_memories_come_newest_first,
            deleting_a_store_deletes_its_memories_and_versions,
            memories_are_tenant_scoped,
        );
        $crate::store_contract_tests!(@memory_versions $make, [$(#[$attr])*];
            versions_list_newest_first_and_page,
            redaction_keeps_the_record,
            pruning_keeps_each_memorys_newest_version,
            concurrent_updates_queue_and_all_record_versions,
            concurrent_path_claims_have_one_winner,
        );
        $crate::store_contract_tests!(@memory_search $make, [$(#[$attr])*];
            text_search_follows_every_write,
            vectors_are_stored_with_their_content,
        );
        $crate::store_contract_tests!(@sandboxes $make, [$(#[$attr])*];
            sandbox_users_are_never_shared,
            concurrent_sessions_get_distinct_users,
            sandbox_disk_use_sums_per_tenant,
            rate_windows_grant_up_to_their_limit,
        );
    };
    (@sandboxes $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::sandboxes::$case(store).await;
                }
            }
        )*
    };
    (@memory_search $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::memory_search::$case(store).await;
                }
            }
        )*
    };
    (@sessions $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::sessions::$case(store).await;
                }
            }
        )*
    };
    (@vaults $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::vaults::$case(store).await;
                }
            }
        )*
    };
    (@memories $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::memories::$case(store).await;
                }
            }
        )*
    };
    (@memory_reads $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::memory_reads::$case(store).await;
                }
            }
        )*
    };
    (@memory_versions $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::memory_versions::$case(store).await;
                }
            }
        )*
    };
    (@cases $make:path, $attrs:tt; $($case:ident),* $(,)?) => {
        $(
            $crate::__with_attrs! { $attrs
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let Some(store) = $make().await else { return };
                    $crate::cases::$case(store).await;
                }
            }
        )*
    };
}

/// Puts `attrs` (a bracketed list of attributes) on `item`; lets a macro put the same attributes
/// on every item of a repetition.
#[doc(hidden)]
#[macro_export]
macro_rules! __with_attrs {
    ([$(#[$attr:meta])*] $item:item) => {
        $(#[$attr])*
        $item
    };
}
