//! Contract cases for a vault's credentials: round trips, the limit, unique active URLs,
//! replaces and deletes, tenant scoping and concurrent inserts.

use std::sync::Arc;

use berth_store::{CredentialInsert, CredentialRow, DocumentQuery, SortOrder, StoreError};
use pretty_assertions::assert_eq;

use crate::fixtures::id;

use super::{
    ROOMY, S, archive_vault, archived, credential, ids, insert, new_tenant, new_vault, page,
    sorted_ids,
};

pub async fn credentials_round_trip_and_page(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let v = new_vault(&store, &a).await;
    let neighbour = new_vault(&store, &a).await;
    let mut creds = Vec::new();
    for i in 0..5 {
        let c = credential(&v, Some(&format!("https://mcp{i}.example.com/")));
        assert_eq!(insert(&store, &c).await, CredentialInsert::Inserted);
        creds.push(c);
    }
    let mut no_secret = credential(&v, None);
    no_secret.sealed = None;
    assert_eq!(insert(&store, &no_secret).await, CredentialInsert::Inserted);
    assert_eq!(
        insert(
            &store,
            &credential(&neighbour, Some("https://mcp0.example.com/"))
        )
        .await,
        CredentialInsert::Inserted,
        "the same URL in another vault is fine"
    );

    assert_eq!(
        store.get_credential(&a, &v.id, &creds[0].id).await.unwrap(),
        Some(creds[0].clone())
    );
    assert_eq!(
        store
            .get_credential(&a, &v.id, &no_secret.id)
            .await
            .unwrap(),
        Some(no_secret.clone()),
        "no sealed secret and no URL round-trip as None"
    );
    assert_eq!(
        store
            .get_credential(&a, &neighbour.id, &creds[0].id)
            .await
            .unwrap(),
        None,
        "a credential is found only in its own vault"
    );
    assert_eq!(
        store.get_credential(&b, &v.id, &creds[0].id).await.unwrap(),
        None
    );

    // Archive one; it drops out of default lists but `get` still returns it.
    let gone = archived(&creds[2]);
    assert!(store.replace_credential(&gone, 1).await.unwrap());
    assert_eq!(
        store.get_credential(&a, &v.id, &gone.id).await.unwrap(),
        Some(gone.clone())
    );
    creds.push(no_secret);
    let live: Vec<String> = ids(&creds)
        .into_iter()
        .filter(|id| *id != gone.id)
        .collect();

    for order in [SortOrder::Desc, SortOrder::Asc] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let rows = store
                .list_credentials(
                    &a,
                    &v.id,
                    &DocumentQuery {
                        order,
                        after: after.clone(),
                        ..page(2)
                    },
                )
                .await
                .unwrap();
            assert!(rows.len() <= 2);
            if rows.is_empty() {
                break;
            }
            after = rows.last().map(|r| r.id.clone());
            seen.extend(ids(&rows));
        }
        let mut expected = live.clone();
        if order == SortOrder::Desc {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order:?}");
    }
    let everything = store
        .list_credentials(
            &a,
            &v.id,
            &DocumentQuery {
                include_archived: true,
                order: SortOrder::Asc,
                ..page(100)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(&everything), ids(&creds));
    assert_eq!(everything[2], gone, "archived rows come back whole");
    assert!(
        store
            .list_credentials(&b, &v.id, &page(100))
            .await
            .unwrap()
            .is_empty(),
        "another tenant lists nothing"
    );
}

pub async fn vaults_hold_a_limited_number_of_credentials(store: S) {
    let a = new_tenant(&store, "a").await;
    let v = new_vault(&store, &a).await;
    let first = credential(&v, Some("https://one.example.com/"));
    assert_eq!(
        store.insert_credential(&first, 3).await.unwrap(),
        CredentialInsert::Inserted
    );
    assert!(
        store
            .replace_credential(&archived(&first), 1)
            .await
            .unwrap()
    );
    for _ in 0..2 {
        assert_eq!(
            store
                .insert_credential(&credential(&v, None), 3)
                .await
                .unwrap(),
            CredentialInsert::Inserted
        );
    }
    let over = credential(&v, None);
    assert_eq!(
        store.insert_credential(&over, 3).await.unwrap(),
        CredentialInsert::VaultFull,
        "archived credentials count towards the limit"
    );
    assert_eq!(
        store.get_credential(&a, &v.id, &over.id).await.unwrap(),
        None
    );
    assert_eq!(
        store.insert_credential(&over, 4).await.unwrap(),
        CredentialInsert::Inserted
    );
    // Deleting frees a place.
    assert!(store.delete_credential(&a, &v.id, &first.id).await.unwrap());
    assert_eq!(
        store
            .insert_credential(&credential(&v, None), 4)
            .await
            .unwrap(),
        CredentialInsert::Inserted
    );
}

pub async fn active_urls_are_unique_per_vault(store: S) {
    let a = new_tenant(&store, "a").await;
    let v = new_vault(&store, &a).await;
    let url = "https://mcp.example.com/sse";
    let first = credential(&v, Some(url));
    assert_eq!(insert(&store, &first).await, CredentialInsert::Inserted);
    let twin = credential(&v, Some(url));
    assert_eq!(insert(&store, &twin).await, CredentialInsert::DuplicateUrl);
    assert_eq!(
        store.get_credential(&a, &v.id, &twin.id).await.unwrap(),
        None
    );
    // Credentials without a URL never clash.
    assert_eq!(
        insert(&store, &credential(&v, None)).await,
        CredentialInsert::Inserted
    );
    assert_eq!(
        insert(&store, &credential(&v, None)).await,
        CredentialInsert::Inserted
    );
    // A reused id is a plain conflict, not a URL clash.
    let mut same_id = credential(&v, Some("https://elsewhere.example.com/"));
    same_id.id = first.id.clone();
    assert!(matches!(
        store.insert_credential(&same_id, ROOMY).await,
        Err(StoreError::Conflict(_))
    ));

    // Once the first is archived its URL is free again.
    assert!(
        store
            .replace_credential(&archived(&first), 1)
            .await
            .unwrap()
    );
    assert_eq!(insert(&store, &twin).await, CredentialInsert::Inserted);
    let third = credential(&v, Some(url));
    assert_eq!(insert(&store, &third).await, CredentialInsert::DuplicateUrl);
}

pub async fn replacing_and_deleting_credentials(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let v = new_vault(&store, &a).await;
    let one = credential(&v, Some("https://one.example.com/"));
    let two = credential(&v, Some("https://two.example.com/"));
    for c in [&one, &two] {
        assert_eq!(insert(&store, c).await, CredentialInsert::Inserted);
    }

    let refreshed = CredentialRow {
        version: 2,
        updated_at: 40,
        body: r#"{"refreshed":true}"#.into(),
        sealed: Some(vec![4, 2]),
        ..one.clone()
    };
    assert!(
        !store.replace_credential(&refreshed, 7).await.unwrap(),
        "a stale version must not write"
    );
    assert_eq!(
        store.get_credential(&a, &v.id, &one.id).await.unwrap(),
        Some(one.clone())
    );
    assert!(store.replace_credential(&refreshed, 1).await.unwrap());
    assert!(
        !store.replace_credential(&refreshed, 1).await.unwrap(),
        "the same compare-and-swap cannot win twice"
    );
    assert_eq!(
        store.get_credential(&a, &v.id, &one.id).await.unwrap(),
        Some(refreshed.clone())
    );
    let mut stolen = refreshed.clone();
    stolen.tenant_id = b.clone();
    stolen.version = 3;
    assert!(!store.replace_credential(&stolen, 2).await.unwrap());

    let clash = CredentialRow {
        version: 2,
        mcp_server_url: one.mcp_server_url.clone(),
        ..two.clone()
    };
    assert!(matches!(
        store.replace_credential(&clash, 1).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.get_credential(&a, &v.id, &two.id).await.unwrap(),
        Some(two.clone()),
        "a refused replace leaves the row alone"
    );

    assert!(!store.delete_credential(&b, &v.id, &one.id).await.unwrap());
    assert!(
        !store
            .delete_credential(&a, &id("vlt"), &one.id)
            .await
            .unwrap()
    );
    assert!(store.delete_credential(&a, &v.id, &one.id).await.unwrap());
    assert_eq!(
        store.get_credential(&a, &v.id, &one.id).await.unwrap(),
        None
    );
    assert!(!store.delete_credential(&a, &v.id, &one.id).await.unwrap());
    assert_eq!(
        ids(&store.list_credentials(&a, &v.id, &page(10)).await.unwrap()),
        vec![two.id.clone()]
    );
}

pub async fn vault_credentials_are_active_and_tenant_scoped(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let live = new_vault(&store, &a).await;
    let second = new_vault(&store, &a).await;
    let shelved = new_vault(&store, &a).await;
    let foreign = new_vault(&store, &b).await;

    let wanted = credential(&live, Some("https://one.example.com/"));
    let mut env_var = credential(&live, None);
    env_var.sealed = None;
    let retired = credential(&live, Some("https://two.example.com/"));
    let in_second = credential(&second, Some("https://one.example.com/"));
    let in_shelved = credential(&shelved, None);
    let theirs = credential(&foreign, None);
    for c in [
        &wanted,
        &env_var,
        &retired,
        &in_second,
        &in_shelved,
        &theirs,
    ] {
        assert_eq!(insert(&store, c).await, CredentialInsert::Inserted);
    }
    assert!(
        store
            .replace_credential(&archived(&retired), 1)
            .await
            .unwrap()
    );
    archive_vault(&store, &shelved).await;

    let asked = vec![
        live.id.clone(),
        shelved.id.clone(),
        foreign.id.clone(),
        id("vlt"),
        live.id.clone(),
    ];
    let mut expected = vec![wanted.clone(), env_var.clone()];
    expected.sort_by(|x, y| x.id.cmp(&y.id));
    let mut got = store.vault_credentials(&a, &asked).await.unwrap();
    got.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(got, expected, "whole rows, each once");

    let both = store
        .vault_credentials(&a, &[live.id.clone(), second.id.clone()])
        .await
        .unwrap();
    let mut expected_ids = vec![wanted.id.clone(), env_var.id.clone(), in_second.id.clone()];
    expected_ids.sort();
    assert_eq!(sorted_ids(&both), expected_ids);

    assert!(
        store
            .vault_credentials(&b, &[live.id.clone(), second.id.clone()])
            .await
            .unwrap()
            .is_empty(),
        "never another tenant's credentials"
    );
    assert_eq!(
        ids(&store
            .vault_credentials(&b, std::slice::from_ref(&foreign.id))
            .await
            .unwrap()),
        vec![theirs.id.clone()]
    );
    assert!(store.vault_credentials(&a, &[]).await.unwrap().is_empty());
}

pub async fn concurrent_inserts_respect_the_limit(store: S) {
    let a = new_tenant(&store, "a").await;
    let v = new_vault(&store, &a).await;
    let attempts = (0..12).map(|_| {
        let store = Arc::clone(&store);
        let c = credential(&v, None);
        async move { store.insert_credential(&c, 5).await }
    });
    let results = futures::future::join_all(attempts).await;
    let inserted = results
        .iter()
        .filter(|r| matches!(r, Ok(CredentialInsert::Inserted)))
        .count();
    let full = results
        .iter()
        .filter(|r| matches!(r, Ok(CredentialInsert::VaultFull)))
        .count();
    assert_eq!((inserted, full), (5, 7));
    let all = DocumentQuery {
        include_archived: true,
        ..page(100)
    };
    assert_eq!(
        store.list_credentials(&a, &v.id, &all).await.unwrap().len(),
        5
    );

    let url = "https://race.example.com/";
    let racers = (0..8).map(|_| {
        let store = Arc::clone(&store);
        let c = credential(&v, Some(url));
        async move { store.insert_credential(&c, ROOMY).await }
    });
    let results = futures::future::join_all(racers).await;
    let inserted = results
        .iter()
        .filter(|r| matches!(r, Ok(CredentialInsert::Inserted)))
        .count();
    let duplicate = results
        .iter()
        .filter(|r| matches!(r, Ok(CredentialInsert::DuplicateUrl)))
        .count();
    assert_eq!((inserted, duplicate), (1, 7));
}
