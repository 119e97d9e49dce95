//! Contract cases for sandbox users, sandbox disk use and rate-limit counters.

use std::sync::Arc;

use berth_store::{Collection, DeleteSessionOutcome, Store};
use pretty_assertions::assert_eq;

use crate::fixtures::{doc, key, session, tenant};

type S = Arc<dyn Store>;

const UIDS: std::ops::Range<u32> = 200_000..200_004;

async fn tenant_with_env(store: &S) -> (String, String) {
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

async fn new_session(store: &S, tenant_id: &str, env: &str) -> String {
    let row = session(tenant_id, env, 10);
    store.create_session(&row, &[], &[]).await.unwrap();
    row.id
}

pub async fn sandbox_users_are_never_shared(store: S) {
    let (t, env) = tenant_with_env(&store).await;
    let (other, other_env) = tenant_with_env(&store).await;
    let a = new_session(&store, &t, &env).await;
    let b = new_session(&store, &other, &other_env).await;
    let c = new_session(&store, &t, &env).await;
    let uid_a = store.sandbox_uid(&t, &a, UIDS, 200_002).await.unwrap();
    assert_eq!(uid_a, Some(200_002), "a free preferred user is taken");
    assert_eq!(
        store.sandbox_uid(&t, &a, UIDS, 200_001).await.unwrap(),
        uid_a,
        "a session keeps its user"
    );
    // Another tenant's session preferring the same user gets the lowest free one instead.
    let uid_b = store.sandbox_uid(&other, &b, UIDS, 200_002).await.unwrap();
    assert_eq!(uid_b, Some(200_000));
    let uid_c = store.sandbox_uid(&t, &c, UIDS, 200_002).await.unwrap();
    assert_eq!(uid_c, Some(200_001));
    let d = new_session(&store, &t, &env).await;
    assert_eq!(
        store.sandbox_uid(&t, &d, UIDS, 999).await.unwrap(),
        Some(200_003),
        "a preference outside the range is ignored"
    );
    let e = new_session(&store, &t, &env).await;
    assert_eq!(
        store.sandbox_uid(&t, &e, UIDS, 200_000).await.unwrap(),
        None,
        "the range is full"
    );
    // Deleting a session frees its user for the next one.
    assert!(matches!(
        store.delete_session(&t, &c, 20, &[]).await.unwrap(),
        DeleteSessionOutcome::Deleted(_)
    ));
    assert_eq!(
        store.sandbox_uid(&t, &e, UIDS, 200_000).await.unwrap(),
        Some(200_001)
    );
}

pub async fn concurrent_sessions_get_distinct_users(store: S) {
    let (t, env) = tenant_with_env(&store).await;
    let mut sessions = Vec::new();
    for _ in 0..12 {
        sessions.push(new_session(&store, &t, &env).await);
    }
    let tasks: Vec<_> = sessions
        .iter()
        .map(|id| {
            let (store, t, id) = (Arc::clone(&store), t.clone(), id.clone());
            tokio::spawn(async move {
                store
                    .sandbox_uid(&t, &id, 300_000..300_100, 300_050)
                    .await
                    .unwrap()
                    .unwrap()
            })
        })
        .collect();
    let mut uids = Vec::new();
    for task in tasks {
        uids.push(task.await.unwrap());
    }
    uids.sort_unstable();
    uids.dedup();
    assert_eq!(
        uids.len(),
        12,
        "every session has a user of its own: {uids:?}"
    );
}

pub async fn sandbox_disk_use_sums_per_tenant(store: S) {
    let (t, env) = tenant_with_env(&store).await;
    let (other, other_env) = tenant_with_env(&store).await;
    let a = new_session(&store, &t, &env).await;
    let b = new_session(&store, &t, &env).await;
    let x = new_session(&store, &other, &other_env).await;
    for (tenant_id, id) in [(&t, &a), (&t, &b), (&other, &x)] {
        store
            .sandbox_uid(tenant_id, id, 400_000..400_100, 0)
            .await
            .unwrap();
    }
    store.record_sandbox_disk_use(&a, 1_000).await.unwrap();
    store.record_sandbox_disk_use(&b, 250).await.unwrap();
    store.record_sandbox_disk_use(&x, 7).await.unwrap();
    store.record_sandbox_disk_use(&a, 1_500).await.unwrap();
    assert_eq!(store.tenant_sandbox_disk_use(&t).await.unwrap(), 1_750);
    assert_eq!(store.tenant_sandbox_disk_use(&other).await.unwrap(), 7);
    store.delete_session(&t, &b, 30, &[]).await.unwrap();
    assert_eq!(
        store.tenant_sandbox_disk_use(&t).await.unwrap(),
        1_500,
        "a deleted session's files no longer count"
    );
}

pub async fn rate_windows_grant_up_to_their_limit(store: S) {
    let key = format!("tenant:{}:create", crate::fixtures::id("tn"));
    assert_eq!(
        store
            .take_rate_units(&key, 60, 4, 10)
            .await
            .unwrap()
            .granted,
        4
    );
    assert_eq!(
        store.take_rate_units(&key, 60, 4, 10).await.unwrap(),
        berth_store::RateTake {
            granted: 4,
            used: 8
        }
    );
    assert_eq!(
        store
            .take_rate_units(&key, 60, 4, 10)
            .await
            .unwrap()
            .granted,
        2,
        "only what is left"
    );
    assert_eq!(
        store
            .take_rate_units(&key, 60, 1, 10)
            .await
            .unwrap()
            .granted,
        0
    );
    assert_eq!(
        store
            .take_rate_units(&key, 120, 3, 10)
            .await
            .unwrap()
            .granted,
        3,
        "a new window starts afresh"
    );
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, key) = (Arc::clone(&store), key.clone());
            tokio::spawn(async move {
                store
                    .take_rate_units(&key, 180, 1, 7)
                    .await
                    .unwrap()
                    .granted
            })
        })
        .collect();
    let mut granted = 0;
    for task in tasks {
        granted += task.await.unwrap();
    }
    assert_eq!(granted, 7, "concurrent takers never exceed the limit");
    assert_eq!(store.forget_rate_windows(120).await.unwrap(), 1);
    assert_eq!(
        store
            .take_rate_units(&key, 60, 1, 10)
            .await
            .unwrap()
            .granted,
        1,
        "a forgotten window is empty"
    );
}
