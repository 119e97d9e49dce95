//! Contract cases for the store's metadata, tenants and their API keys.

use berth_store::RevokeOutcome;
use pretty_assertions::assert_eq;

use crate::fixtures::{key, tenant};

use super::{S, new_tenant, page};

pub async fn meta_is_initialised_once(store: S) {
    assert_eq!(store.meta_get_or_init("k", "first").await.unwrap(), "first");
    assert_eq!(
        store.meta_get_or_init("k", "second").await.unwrap(),
        "first"
    );
    store.ping().await.unwrap();
}

pub async fn tenants_and_keys(store: S) {
    let t = tenant("acme");
    let first = key(&t.id, "secret-one");
    store.create_tenant(&t, &first).await.unwrap();
    assert_eq!(store.get_tenant(&t.id).await.unwrap(), Some(t.clone()));
    assert_eq!(store.get_tenant("tn_missing").await.unwrap(), None);

    let found = store.find_api_key(b"secret-one").await.unwrap().unwrap();
    assert_eq!(found.id, first.id);
    assert_eq!(found.tenant_id, t.id);
    assert!(!found.is_admin);
    assert_eq!(store.find_api_key(b"nope").await.unwrap(), None);

    let second = key(&t.id, "secret-two");
    assert_eq!(store.upsert_api_key(&second).await.unwrap(), second.id);
    let listed = store.list_api_keys(&t.id, &page(10)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].id, second.id, "newest first");

    store.touch_api_key(&second.id, 5_000).await.unwrap();
    let touched = store.find_api_key(b"secret-two").await.unwrap().unwrap();
    assert_eq!(touched.last_used_at, Some(5_000));

    // A duplicate tenant id is a conflict, and nothing half-written remains.
    let dup = store.create_tenant(&t, &key(&t.id, "secret-three")).await;
    assert!(matches!(dup, Err(berth_store::StoreError::Conflict(_))));
    assert_eq!(store.find_api_key(b"secret-three").await.unwrap(), None);

    let tenants = store.list_tenants(&page(10)).await.unwrap();
    assert!(tenants.iter().any(|x| x.id == t.id));
}

pub async fn revoking_keys(store: S) {
    let t = tenant("acme");
    let first = key(&t.id, "k-one");
    store.create_tenant(&t, &first).await.unwrap();
    assert_eq!(
        store.revoke_api_key(&t.id, &first.id, 10).await.unwrap(),
        RevokeOutcome::LastActiveKey
    );
    let second = key(&t.id, "k-two");
    store.upsert_api_key(&second).await.unwrap();
    let other = new_tenant(&store, "other").await;
    assert_eq!(
        store.revoke_api_key(&other, &first.id, 10).await.unwrap(),
        RevokeOutcome::NotFound,
        "another tenant cannot revoke it"
    );
    assert_eq!(
        store.revoke_api_key(&t.id, &first.id, 10).await.unwrap(),
        RevokeOutcome::Revoked
    );
    assert_eq!(store.find_api_key(b"k-one").await.unwrap(), None);
    assert_eq!(
        store.revoke_api_key(&t.id, &first.id, 10).await.unwrap(),
        RevokeOutcome::NotFound
    );

    // Seeing a revoked key's hash again re-activates that row.
    let mut again = key(&t.id, "k-one");
    again.source = "env".to_owned();
    again.is_admin = true;
    assert_eq!(store.upsert_api_key(&again).await.unwrap(), first.id);
    let back = store.find_api_key(b"k-one").await.unwrap().unwrap();
    assert!(back.is_admin);

    let revoked = store
        .revoke_keys_from_source(&t.id, "api", &first.id, 20)
        .await
        .unwrap();
    assert_eq!(revoked, 1);
    assert_eq!(store.find_api_key(b"k-two").await.unwrap(), None);
}
