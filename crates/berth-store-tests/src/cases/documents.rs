//! Contract cases for documents: round trips, tenant scoping, optimistic replaces, history,
//! paging, filters, deletes and concurrent writes.

use std::collections::HashSet;
use std::sync::Arc;

use berth_store::{Collection, DeleteOutcome, Document, DocumentQuery, SortOrder};
use pretty_assertions::assert_eq;

use crate::fixtures::doc;

use super::{S, new_tenant, page};

pub async fn documents_round_trip(store: S) {
    let t = new_tenant(&store, "acme").await;
    for collection in [Collection::Agents, Collection::Environments] {
        let d = doc(&t, 100);
        store.insert_document(collection, &d).await.unwrap();
        assert_eq!(
            store.get_document(collection, &t, &d.id).await.unwrap(),
            Some(d.clone())
        );
        let dup = store.insert_document(collection, &d).await;
        assert!(matches!(dup, Err(berth_store::StoreError::Conflict(_))));
    }
}

pub async fn documents_are_tenant_scoped(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let d = doc(&a, 100);
    store.insert_document(Collection::Agents, &d).await.unwrap();
    assert_eq!(
        store
            .get_document(Collection::Agents, &b, &d.id)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .list_documents(Collection::Agents, &b, &page(10))
            .await
            .unwrap()
            .is_empty()
    );
    let mut stolen = d.clone();
    stolen.tenant_id = b.clone();
    stolen.version = 2;
    assert!(
        !store
            .replace_document(Collection::Agents, &stolen, 1)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .delete_document(Collection::Agents, &b, &d.id)
            .await
            .unwrap(),
        DeleteOutcome::NotFound
    );
    assert_eq!(store.get_agent_version(&b, &d.id, 1).await.unwrap(), None);
    assert!(
        store
            .current_agent_versions(&b, std::slice::from_ref(&d.id))
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn replace_is_optimistic(store: S) {
    let t = new_tenant(&store, "acme").await;
    let d = doc(&t, 100);
    store
        .insert_document(Collection::Environments, &d)
        .await
        .unwrap();
    let next = Document {
        version: 2,
        updated_at: 200,
        body: "{\"v\":2}".into(),
        ..d.clone()
    };
    assert!(
        !store
            .replace_document(Collection::Environments, &next, 7)
            .await
            .unwrap(),
        "stale expected version must not write"
    );
    assert!(
        store
            .replace_document(Collection::Environments, &next, 1)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_document(Collection::Environments, &t, &d.id)
            .await
            .unwrap(),
        Some(next)
    );
}

pub async fn agent_history_is_kept(store: S) {
    let t = new_tenant(&store, "acme").await;
    let v1 = doc(&t, 100);
    store
        .insert_document(Collection::Agents, &v1)
        .await
        .unwrap();
    let v2 = Document {
        version: 2,
        updated_at: 200,
        body: "{\"v\":2}".into(),
        ..v1.clone()
    };
    assert!(
        store
            .replace_document(Collection::Agents, &v2, 1)
            .await
            .unwrap()
    );
    // Archiving keeps the version but must refresh the stored body of that version.
    let archived = Document {
        archived_at: Some(300),
        updated_at: 300,
        body: "{\"v\":2,\"archived\":true}".into(),
        ..v2.clone()
    };
    assert!(
        store
            .replace_document(Collection::Agents, &archived, 2)
            .await
            .unwrap()
    );

    let first = store
        .get_agent_version(&t, &v1.id, 1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.body, v1.body);
    assert_eq!(
        first.archived_at,
        Some(300),
        "archive state comes from the agent"
    );
    let second = store
        .get_agent_version(&t, &v1.id, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.body, archived.body);
    assert_eq!(store.get_agent_version(&t, &v1.id, 3).await.unwrap(), None);

    let all = store
        .list_agent_versions(&t, &v1.id, &page(10))
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|d| d.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    let after = store
        .list_agent_versions(
            &t,
            &v1.id,
            &DocumentQuery {
                after: Some("2".into()),
                ..page(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(after.iter().map(|d| d.version).collect::<Vec<_>>(), vec![1]);
    let asc = store
        .list_agent_versions(
            &t,
            &v1.id,
            &DocumentQuery {
                order: SortOrder::Asc,
                ..page(1)
            },
        )
        .await
        .unwrap();
    assert_eq!(asc[0].version, 1);

    let versions = store
        .current_agent_versions(&t, &[v1.id.clone(), "agent_missing".into()])
        .await
        .unwrap();
    assert_eq!(versions, vec![(v1.id.clone(), 2)]);
}

pub async fn lists_page_without_gaps(store: S) {
    let t = new_tenant(&store, "acme").await;
    let mut ids = Vec::new();
    for i in 0..25 {
        let d = doc(&t, 1_000 + i);
        store.insert_document(Collection::Agents, &d).await.unwrap();
        ids.push(d.id);
    }
    for order in [SortOrder::Desc, SortOrder::Asc] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let rows = store
                .list_documents(
                    Collection::Agents,
                    &t,
                    &DocumentQuery {
                        limit: 10,
                        order,
                        after: after.clone(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap();
            if rows.is_empty() {
                break;
            }
            after = rows.last().map(|r| r.id.clone());
            seen.extend(rows.into_iter().map(|r| r.id));
        }
        let mut expected = ids.clone();
        if order == SortOrder::Desc {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order:?}");
    }
}

pub async fn lists_filter_archived_and_time(store: S) {
    let t = new_tenant(&store, "acme").await;
    let live = doc(&t, 1_000);
    let mut gone = doc(&t, 2_000);
    gone.archived_at = Some(2_500);
    let late = doc(&t, 3_000);
    for d in [&live, &gone, &late] {
        store.insert_document(Collection::Agents, d).await.unwrap();
    }
    let ids = |rows: Vec<Document>| rows.into_iter().map(|d| d.id).collect::<Vec<_>>();
    let visible = store
        .list_documents(Collection::Agents, &t, &page(10))
        .await
        .unwrap();
    assert_eq!(ids(visible), vec![late.id.clone(), live.id.clone()]);
    let everything = store
        .list_documents(
            Collection::Agents,
            &t,
            &DocumentQuery {
                include_archived: true,
                ..page(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(everything.len(), 3);
    let window = store
        .list_documents(
            Collection::Agents,
            &t,
            &DocumentQuery {
                include_archived: true,
                created_from: Some(2_000),
                created_until: Some(3_000),
                ..page(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(ids(window), vec![gone.id.clone()]);
}

pub async fn deleting_documents(store: S) {
    let t = new_tenant(&store, "acme").await;
    let d = doc(&t, 1);
    store
        .insert_document(Collection::Environments, &d)
        .await
        .unwrap();
    assert_eq!(
        store
            .delete_document(Collection::Environments, &t, &d.id)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store
            .get_document(Collection::Environments, &t, &d.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .delete_document(Collection::Environments, &t, &d.id)
            .await
            .unwrap(),
        DeleteOutcome::NotFound
    );
}

pub async fn concurrent_writes_all_commit(store: S) {
    let t = new_tenant(&store, "acme").await;
    let docs: Vec<Document> = (0..64).map(|i| doc(&t, i)).collect();
    let writes = docs.iter().map(|d| {
        let store = Arc::clone(&store);
        let d = d.clone();
        async move { store.insert_document(Collection::Agents, &d).await }
    });
    // One duplicate in the middle must fail alone, not take the batch down with it.
    let dup = docs[10].clone();
    let (results, dup_result) = futures::join!(futures::future::join_all(writes), async {
        store.insert_document(Collection::Agents, &dup).await
    });
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert!(ok == 64 || (ok == 63 && dup_result.is_ok()));
    let stored = store
        .list_documents(Collection::Agents, &t, &page(100))
        .await
        .unwrap();
    let unique: HashSet<_> = stored.iter().map(|d| d.id.clone()).collect();
    assert_eq!(unique.len(), 64);
}

pub async fn concurrent_replace_has_one_winner(store: S) {
    let t = new_tenant(&store, "acme").await;
    let d = doc(&t, 1);
    store.insert_document(Collection::Agents, &d).await.unwrap();
    let attempts = (0..16).map(|i| {
        let store = Arc::clone(&store);
        let next = Document {
            version: 2,
            body: format!("{{\"writer\":{i}}}"),
            ..d.clone()
        };
        async move { store.replace_document(Collection::Agents, &next, 1).await }
    });
    let results = futures::future::join_all(attempts).await;
    let winners = results.iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(winners, 1);
    let versions = store
        .list_agent_versions(&t, &d.id, &page(10))
        .await
        .unwrap();
    assert_eq!(versions.len(), 2, "exactly one new version recorded");
}
