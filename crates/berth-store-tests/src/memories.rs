//! Contract cases for memory writes: every outcome of create, update and delete, path
//! uniqueness per store, the per-store limit, and versions outliving their memory. Reads are in
//! [`crate::memory_reads`], versions in [`crate::memory_versions`].

use std::sync::Arc;

use berth_store::{
    DeleteMemory, DocumentQuery, MemoryChange, MemoryOperation, MemoryRow, MemoryVersionQuery,
    MemoryVersionRow, MemoryWrite, NewMemory,
};
use pretty_assertions::assert_eq;

use crate::fixtures::id;
use crate::memory_fixtures::{
    API_ACTOR, ROOMY, S, archive_store, change, content, create, new_memory, new_store, new_tenant,
    stamp, versions,
};

pub async fn memories_round_trip_with_their_first_version(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let new = new_memory(&doc, "/notes/caf\u{e9}.md", "hello");
    let version = stamp(100);
    let written = store.create_memory(&new, &version, ROOMY).await.unwrap();
    let row = MemoryRow {
        id: new.id.clone(),
        tenant_id: a.clone(),
        store_id: doc.id.clone(),
        path: "/notes/caf\u{e9}.md".into(),
        content: "hello".into(),
        content_sha256: "sha-hello".into(),
        size_bytes: 5,
        version_id: version.id.clone(),
        created_at: 100,
        updated_at: 100,
    };
    assert_eq!(written, MemoryWrite::Written(row.clone()));
    assert_eq!(
        store.get_memory(&a, &doc.id, &row.id).await.unwrap(),
        Some(row.clone())
    );
    assert_eq!(
        store
            .get_memory_by_path(&a, &doc.id, "/notes/caf\u{e9}.md")
            .await
            .unwrap(),
        Some(row.clone())
    );
    assert_eq!(
        store
            .get_memory_by_path(&a, &doc.id, "/notes/CAF\u{c9}.md")
            .await
            .unwrap(),
        None,
        "paths are case-sensitive"
    );
    assert_eq!(store.count_memories(&a, &doc.id).await.unwrap(), 1);
    let first = MemoryVersionRow {
        id: version.id.clone(),
        tenant_id: a.clone(),
        store_id: doc.id.clone(),
        memory_id: row.id.clone(),
        operation: MemoryOperation::Created,
        path: Some(row.path.clone()),
        content: Some("hello".into()),
        content_sha256: Some("sha-hello".into()),
        size_bytes: Some(5),
        actor: API_ACTOR.into(),
        created_at: 100,
        redacted_at: None,
        redacted_by: None,
    };
    assert_eq!(versions(&store, &row).await, vec![first.clone()]);
    assert_eq!(
        store
            .get_memory_version(&a, &doc.id, &version.id)
            .await
            .unwrap(),
        Some(first)
    );
    let empty = create(&store, &doc, "/empty", "", 110).await;
    assert_eq!((empty.content.as_str(), empty.size_bytes), ("", 0));
}

pub async fn creating_needs_a_live_store_of_the_tenant(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let create_in = |new: NewMemory| {
        let store = Arc::clone(&store);
        async move { store.create_memory(&new, &stamp(100), ROOMY).await.unwrap() }
    };
    let mut missing = new_memory(&doc, "/a", "x");
    missing.store_id = id("memstore");
    assert_eq!(create_in(missing).await, MemoryWrite::NoStore);
    let mut foreign = new_memory(&doc, "/a", "x");
    foreign.tenant_id = b.clone();
    assert_eq!(
        create_in(foreign).await,
        MemoryWrite::NoStore,
        "another tenant's store"
    );
    archive_store(&store, &doc).await;
    assert_eq!(
        create_in(new_memory(&doc, "/a", "x")).await,
        MemoryWrite::NoStore,
        "archived stores are read-only"
    );
    assert_eq!(store.count_memories(&a, &doc.id).await.unwrap(), 0);
    let all = MemoryVersionQuery {
        page: DocumentQuery {
            limit: 10,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(
        store
            .list_memory_versions(&a, &doc.id, &all)
            .await
            .unwrap()
            .is_empty(),
        "refused writes record no version"
    );
}

pub async fn paths_are_unique_per_store(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let other = new_store(&store, &a).await;
    let first = create(&store, &doc, "/same.md", "one", 100).await;
    assert_eq!(
        store
            .create_memory(&new_memory(&doc, "/same.md", "two"), &stamp(110), ROOMY)
            .await
            .unwrap(),
        MemoryWrite::PathTaken {
            existing_id: first.id.clone()
        }
    );
    create(&store, &other, "/same.md", "two", 120).await;
    create(&store, &doc, "/Same.md", "three", 130).await;

    // A rename onto a taken path is refused; a freed path can be taken again.
    let second = create(&store, &doc, "/second.md", "2", 140).await;
    let onto_first = MemoryChange {
        path: Some("/same.md".into()),
        content: None,
    };
    assert_eq!(
        store
            .update_memory(&a, &doc.id, &second.id, &onto_first, None, &stamp(150))
            .await
            .unwrap(),
        MemoryWrite::PathTaken {
            existing_id: first.id.clone()
        }
    );
    assert_eq!(
        store
            .delete_memory(&a, &doc.id, &first.id, None, &stamp(160))
            .await
            .unwrap(),
        DeleteMemory::Deleted
    );
    let moved = change(&store, &second, Some("/same.md"), None, 170).await;
    assert_eq!(moved.path, "/same.md");
    assert_eq!(
        store
            .get_memory_by_path(&a, &doc.id, "/same.md")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(second.id)
    );
}

pub async fn stores_hold_a_limited_number_of_memories(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let create_with_max = |path: &str| {
        let (store, new) = (Arc::clone(&store), new_memory(&doc, path, "x"));
        async move { store.create_memory(&new, &stamp(100), 3).await.unwrap() }
    };
    let mut held = Vec::new();
    for path in ["/1", "/2", "/3"] {
        let MemoryWrite::Written(row) = create_with_max(path).await else {
            panic!("{path} should fit")
        };
        held.push(row);
    }
    assert_eq!(create_with_max("/4").await, MemoryWrite::StoreFull);
    assert_eq!(
        create_with_max("/1").await,
        MemoryWrite::PathTaken {
            existing_id: held[0].id.clone()
        },
        "a taken path is reported before a full store"
    );
    assert_eq!(store.count_memories(&a, &doc.id).await.unwrap(), 3);
    assert_eq!(
        store
            .delete_memory(&a, &doc.id, &held[1].id, None, &stamp(110))
            .await
            .unwrap(),
        DeleteMemory::Deleted
    );
    assert!(
        matches!(create_with_max("/4").await, MemoryWrite::Written(_)),
        "deleted memories no longer count"
    );
    let other = new_store(&store, &a).await;
    let in_other = new_memory(&other, "/5", "x");
    assert!(matches!(
        store
            .create_memory(&in_other, &stamp(120), 3)
            .await
            .unwrap(),
        MemoryWrite::Written(_)
    ));
}

pub async fn updates_rename_edit_and_record_versions(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let row = create(&store, &doc, "/draft.md", "v1", 100).await;

    let edited = change(&store, &row, None, Some("v2"), 110).await;
    assert_eq!(
        (
            edited.content.as_str(),
            edited.content_sha256.as_str(),
            edited.size_bytes
        ),
        ("v2", "sha-v2", 2)
    );
    assert_eq!((edited.created_at, edited.updated_at), (100, 110));
    assert_ne!(edited.version_id, row.version_id);
    let renamed = change(&store, &edited, Some("/final.md"), None, 120).await;
    assert_eq!(
        (renamed.path.as_str(), renamed.content.as_str()),
        ("/final.md", "v2")
    );
    let both = change(&store, &renamed, Some("/done.md"), Some("v3"), 130).await;
    assert_eq!(
        store.get_memory(&a, &doc.id, &row.id).await.unwrap(),
        Some(both.clone())
    );
    assert_eq!(
        store
            .get_memory_by_path(&a, &doc.id, "/draft.md")
            .await
            .unwrap(),
        None
    );

    // Every version holds the whole memory after its change, newest first.
    let history: Vec<_> = versions(&store, &row)
        .await
        .into_iter()
        .map(|v| {
            (
                v.id,
                v.operation,
                v.path.unwrap_or_default(),
                v.content.unwrap_or_default(),
            )
        })
        .collect();
    let expected = [
        (&both, MemoryOperation::Modified),
        (&renamed, MemoryOperation::Modified),
        (&edited, MemoryOperation::Modified),
        (&row, MemoryOperation::Created),
    ]
    .map(|(m, op)| (m.version_id.clone(), op, m.path.clone(), m.content.clone()));
    assert_eq!(history, expected.to_vec());

    // Changes that change nothing record nothing.
    for noop in [
        MemoryChange::default(),
        MemoryChange {
            path: Some("/done.md".into()),
            content: Some(content("v3")),
        },
    ] {
        assert_eq!(
            store
                .update_memory(&a, &doc.id, &row.id, &noop, Some("sha-v3"), &stamp(140))
                .await
                .unwrap(),
            MemoryWrite::Unchanged(both.clone())
        );
    }
    assert_eq!(versions(&store, &row).await.len(), 4);
}

pub async fn update_outcomes(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let other = new_store(&store, &a).await;
    let row = create(&store, &doc, "/a.md", "v1", 100).await;
    let edit = MemoryChange {
        path: None,
        content: Some(content("v2")),
    };
    let update = |tenant: &str, store_id: &str, id: &str, expected: Option<&str>| {
        let (s, tenant, store_id, id) = (
            Arc::clone(&store),
            tenant.to_owned(),
            store_id.to_owned(),
            id.to_owned(),
        );
        let (edit, expected) = (edit.clone(), expected.map(str::to_owned));
        async move {
            s.update_memory(
                &tenant,
                &store_id,
                &id,
                &edit,
                expected.as_deref(),
                &stamp(110),
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(
        update(&a, &doc.id, &id("mem"), None).await,
        MemoryWrite::NotFound
    );
    assert_eq!(
        update(&a, &other.id, &row.id, None).await,
        MemoryWrite::NotFound,
        "a memory is found only in its own store"
    );
    assert_eq!(
        update(&b, &doc.id, &row.id, None).await,
        MemoryWrite::NoStore,
        "another tenant cannot see the store"
    );
    assert_eq!(
        update(&a, &doc.id, &row.id, Some("sha-stale")).await,
        MemoryWrite::PreconditionFailed {
            current_sha256: "sha-v1".into()
        }
    );
    assert_eq!(
        store.get_memory(&a, &doc.id, &row.id).await.unwrap(),
        Some(row.clone()),
        "a failed precondition changes nothing"
    );
    assert_eq!(versions(&store, &row).await.len(), 1);
    let MemoryWrite::Written(next) = update(&a, &doc.id, &row.id, Some("sha-v1")).await else {
        panic!("the right digest lets the update through")
    };
    assert_eq!(next.content, "v2");
    archive_store(&store, &doc).await;
    assert_eq!(
        update(&a, &doc.id, &row.id, None).await,
        MemoryWrite::NoStore,
        "archived stores are read-only"
    );
    assert_eq!(
        store
            .delete_memory(&a, &doc.id, &row.id, None, &stamp(120))
            .await
            .unwrap(),
        DeleteMemory::NoStore
    );
    assert_eq!(
        store.get_memory(&a, &doc.id, &row.id).await.unwrap(),
        Some(next),
        "archived stores can still be read"
    );
}

pub async fn deleting_keeps_the_versions(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let row = create(&store, &doc, "/a.md", "v1", 100).await;
    let last = change(&store, &row, Some("/b.md"), Some("v2"), 110).await;
    let delete = |expected: Option<&str>| {
        let (s, a, store_id, id) = (
            Arc::clone(&store),
            a.clone(),
            doc.id.clone(),
            row.id.clone(),
        );
        let expected = expected.map(str::to_owned);
        let version = stamp(120);
        async move {
            let outcome = s
                .delete_memory(&a, &store_id, &id, expected.as_deref(), &version)
                .await
                .unwrap();
            (outcome, version)
        }
    };
    assert_eq!(
        delete(Some("sha-v1")).await.0,
        DeleteMemory::PreconditionFailed {
            current_sha256: "sha-v2".into()
        }
    );
    assert_eq!(
        store.get_memory(&a, &doc.id, &row.id).await.unwrap(),
        Some(last.clone())
    );
    let (outcome, version) = delete(Some("sha-v2")).await;
    assert_eq!(outcome, DeleteMemory::Deleted);
    assert_eq!(store.get_memory(&a, &doc.id, &row.id).await.unwrap(), None);
    assert_eq!(
        store
            .get_memory_by_path(&a, &doc.id, "/b.md")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.count_memories(&a, &doc.id).await.unwrap(), 0);
    assert_eq!(delete(None).await.0, DeleteMemory::NotFound);

    let history = versions(&store, &row).await;
    assert_eq!(
        history
            .iter()
            .map(|v| (v.operation, v.id.clone()))
            .collect::<Vec<_>>(),
        vec![
            (MemoryOperation::Deleted, version.id.clone()),
            (MemoryOperation::Modified, last.version_id.clone()),
            (MemoryOperation::Created, row.version_id.clone()),
        ]
    );
    let deleted = &history[0];
    assert_eq!(
        (
            deleted.path.as_deref(),
            deleted.content.as_deref(),
            deleted.content_sha256.as_deref(),
            deleted.size_bytes,
            deleted.created_at,
        ),
        (Some("/b.md"), None, None, None, 120),
        "the deleted version holds the last path and no content"
    );
}
