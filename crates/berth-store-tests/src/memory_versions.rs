//! Contract cases for memory versions (listing, redaction, pruning) and for concurrent memory
//! writes: updates that queue instead of losing one another, and path claims and the per-store
//! limit that hold under races.

use std::sync::Arc;

use berth_store::{
    DeleteMemory, DocumentQuery, MemoryChange, MemoryOperation, MemoryVersionQuery,
    MemoryVersionRow, MemoryWrite, RedactVersion, SortOrder,
};
use pretty_assertions::assert_eq;

use crate::fixtures::id;
use crate::memory_fixtures::{
    API_ACTOR, ROOMY, S, change, content, create, new_memory, new_store, new_tenant, stamp,
    versions,
};

const REDACTOR: &str = r#"{"type":"api_actor","api_key_id":"apikey_2"}"#;

fn page(limit: u32) -> DocumentQuery {
    DocumentQuery {
        limit,
        ..Default::default()
    }
}

fn ids(rows: &[MemoryVersionRow]) -> Vec<String> {
    rows.iter().map(|v| v.id.clone()).collect()
}

pub async fn versions_list_newest_first_and_page(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let one = create(&store, &doc, "/one", "1", 100).await;
    let two = create(&store, &doc, "/two", "2", 110).await;
    let one_b = change(&store, &one, None, Some("1b"), 120).await;
    let two_b = change(&store, &two, Some("/two-b"), None, 130).await;
    let newest_first = vec![
        two_b.version_id.clone(),
        one_b.version_id.clone(),
        two.version_id.clone(),
        one.version_id.clone(),
    ];
    let list = |query: MemoryVersionQuery| {
        let (s, a, store_id) = (Arc::clone(&store), a.clone(), doc.id.clone());
        async move { s.list_memory_versions(&a, &store_id, &query).await.unwrap() }
    };
    let all = list(MemoryVersionQuery {
        with_content: true,
        page: page(100),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&all), newest_first);
    assert_eq!(all[1].content.as_deref(), Some("1b"));

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let rows = list(MemoryVersionQuery {
            page: DocumentQuery {
                after: after.clone(),
                ..page(3)
            },
            ..Default::default()
        })
        .await;
        if rows.is_empty() {
            break;
        }
        assert!(
            rows.iter()
                .all(|v| v.content.is_none() && v.content_sha256.is_some() && v.path.is_some()),
            "without content, the rest is still there"
        );
        after = rows.last().map(|v| v.id.clone());
        seen.extend(ids(&rows));
    }
    assert_eq!(seen, newest_first);

    let of_two = list(MemoryVersionQuery {
        memory_id: Some(two.id.clone()),
        page: DocumentQuery {
            order: SortOrder::Asc,
            ..page(100)
        },
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(&of_two),
        vec![two.version_id.clone(), two_b.version_id.clone()]
    );
    let recent = list(MemoryVersionQuery {
        page: DocumentQuery {
            created_from: Some(120),
            ..page(100)
        },
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&recent), newest_first[..2].to_vec());

    let edits = list(MemoryVersionQuery {
        operation: Some(berth_store::MemoryOperation::Modified),
        page: page(100),
        ..Default::default()
    })
    .await;
    assert_eq!(
        ids(&edits),
        vec![two_b.version_id.clone(), one_b.version_id.clone()]
    );
    let by_api = list(MemoryVersionQuery {
        actor: Some(API_ACTOR.to_owned()),
        page: page(100),
        ..Default::default()
    })
    .await;
    assert_eq!(ids(&by_api), newest_first);
    let by_session = list(MemoryVersionQuery {
        actor: Some(r#"{"type":"session_actor","session_id":"sesn_x"}"#.to_owned()),
        page: page(100),
        ..Default::default()
    })
    .await;
    assert!(by_session.is_empty());
}

pub async fn redaction_keeps_the_record(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let first = create(&store, &doc, "/diary.md", "secret", 100).await;
    let redact = |tenant: &str, version_id: &str, by: &str, at: i64| {
        let (s, tenant, store_id, version_id, by) = (
            Arc::clone(&store),
            tenant.to_owned(),
            doc.id.clone(),
            version_id.to_owned(),
            by.to_owned(),
        );
        async move {
            s.redact_memory_version(&tenant, &store_id, &version_id, &by, at)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        redact(&a, &first.version_id, REDACTOR, 150).await,
        RedactVersion::LiveHead,
        "the live memory still shows this content"
    );
    let second = change(&store, &first, None, Some("public"), 110).await;
    assert_eq!(
        redact(&b, &first.version_id, REDACTOR, 150).await,
        RedactVersion::NotFound
    );
    assert_eq!(
        redact(&a, &id("memver"), REDACTOR, 150).await,
        RedactVersion::NotFound
    );

    let expected = MemoryVersionRow {
        id: first.version_id.clone(),
        tenant_id: a.clone(),
        store_id: doc.id.clone(),
        memory_id: first.id.clone(),
        operation: MemoryOperation::Created,
        path: None,
        content: None,
        content_sha256: None,
        size_bytes: None,
        actor: API_ACTOR.into(),
        created_at: 100,
        redacted_at: Some(150),
        redacted_by: Some(REDACTOR.into()),
    };
    assert_eq!(
        redact(&a, &first.version_id, REDACTOR, 150).await,
        RedactVersion::Redacted(Box::new(expected.clone()))
    );
    assert_eq!(
        redact(&a, &first.version_id, API_ACTOR, 160).await,
        RedactVersion::Redacted(Box::new(expected.clone())),
        "redacting again keeps the first redaction"
    );
    assert_eq!(
        store
            .get_memory_version(&a, &doc.id, &first.version_id)
            .await
            .unwrap(),
        Some(expected.clone())
    );
    assert_eq!(
        ids(&versions(&store, &first).await),
        vec![second.version_id.clone(), first.version_id.clone()],
        "the record stays in the history"
    );
    assert_eq!(
        store.get_memory(&a, &doc.id, &first.id).await.unwrap(),
        Some(second.clone()),
        "the memory itself is untouched"
    );

    // Once the memory is deleted, its last state can be redacted too.
    let deleted = stamp(170);
    assert_eq!(
        store
            .delete_memory(&a, &doc.id, &first.id, None, &deleted)
            .await
            .unwrap(),
        DeleteMemory::Deleted
    );
    for version_id in [&second.version_id, &deleted.id] {
        let RedactVersion::Redacted(v) = redact(&a, version_id, REDACTOR, 180).await else {
            panic!("{version_id} should be redactable")
        };
        assert_eq!((v.content, v.path, v.redacted_at), (None, None, Some(180)));
    }
}

pub async fn pruning_keeps_each_memorys_newest_version(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let edited = create(&store, &doc, "/edited", "1", 10).await;
    let edited_2 = change(&store, &edited, None, Some("2"), 20).await;
    let edited_3 = change(&store, &edited_2, None, Some("3"), 30).await;
    let gone = create(&store, &doc, "/gone", "x", 10).await;
    let gone_at = stamp(20);
    assert_eq!(
        store
            .delete_memory(&a, &doc.id, &gone.id, None, &gone_at)
            .await
            .unwrap(),
        DeleteMemory::Deleted
    );
    let ancient = create(&store, &doc, "/ancient", "x", 5).await;

    assert_eq!(store.prune_memory_versions(25).await.unwrap(), 3);
    assert_eq!(
        ids(&versions(&store, &edited).await),
        vec![edited_3.version_id.clone()]
    );
    assert_eq!(
        ids(&versions(&store, &gone).await),
        vec![gone_at.id.clone()],
        "a deleted memory keeps its deletion record"
    );
    assert_eq!(
        ids(&versions(&store, &ancient).await),
        vec![ancient.version_id.clone()],
        "a memory's only version stays however old"
    );
    assert_eq!(store.prune_memory_versions(25).await.unwrap(), 0);
    assert_eq!(store.prune_memory_versions(1_000).await.unwrap(), 0);
    assert_eq!(
        store.get_memory(&a, &doc.id, &edited.id).await.unwrap(),
        Some(edited_3)
    );
}

pub async fn concurrent_updates_queue_and_all_record_versions(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let row = create(&store, &doc, "/hot.md", "start", 100).await;
    let writers = (0..8).map(|i| {
        let (s, a, store_id, id) = (
            Arc::clone(&store),
            a.clone(),
            doc.id.clone(),
            row.id.clone(),
        );
        let change = MemoryChange {
            path: None,
            content: Some(content(&format!("writer {i}"))),
        };
        async move {
            s.update_memory(&a, &store_id, &id, &change, None, &stamp(200 + i))
                .await
        }
    });
    let results = futures::future::join_all(writers).await;
    let written: Vec<_> = results
        .into_iter()
        .map(|r| match r {
            Ok(MemoryWrite::Written(row)) => row,
            other => panic!("every writer should write, got {other:?}"),
        })
        .collect();
    assert_eq!(
        written.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        vec![row.id.as_str(); 8]
    );
    let history = versions(&store, &row).await;
    assert_eq!(history.len(), 9, "the creation and eight updates");
    let mut contents: Vec<_> = history[..8]
        .iter()
        .filter_map(|v| v.content.clone())
        .collect();
    contents.sort();
    assert_eq!(
        contents,
        (0..8).map(|i| format!("writer {i}")).collect::<Vec<_>>()
    );

    let last = store
        .get_memory(&a, &doc.id, &row.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        written.contains(&last),
        "the final row is one writer's whole result"
    );
    let head = history
        .iter()
        .find(|v| v.id == last.version_id)
        .expect("the memory points at one of its versions");
    assert_eq!(
        (head.content.as_deref(), head.content_sha256.as_deref()),
        (
            Some(last.content.as_str()),
            Some(last.content_sha256.as_str())
        )
    );
    assert_eq!(last.content_sha256, format!("sha-{}", last.content));

    // Guarded by the digest they all read, exactly one of the next eight gets through.
    let seen = last.content_sha256.clone();
    let guarded = (0..8).map(|i| {
        let (s, a, store_id, id, seen) = (
            Arc::clone(&store),
            a.clone(),
            doc.id.clone(),
            row.id.clone(),
            seen.clone(),
        );
        let change = MemoryChange {
            path: None,
            content: Some(content(&format!("guarded {i}"))),
        };
        async move {
            s.update_memory(&a, &store_id, &id, &change, Some(&seen), &stamp(300 + i))
                .await
                .unwrap()
        }
    });
    let results = futures::future::join_all(guarded).await;
    let winners: Vec<_> = results
        .iter()
        .filter_map(|r| match r {
            MemoryWrite::Written(row) => Some(row.content_sha256.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results.iter().all(|r| match r {
            MemoryWrite::Written(_) => true,
            MemoryWrite::PreconditionFailed { current_sha256 } => *current_sha256 == winners[0],
            _ => false,
        }),
        "{results:?}"
    );
    assert_eq!(versions(&store, &row).await.len(), 10);
}

pub async fn concurrent_path_claims_have_one_winner(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let creates = (0..12).map(|i| {
        let s = Arc::clone(&store);
        let new = new_memory(&doc, &format!("/{i}"), "x");
        async move { s.create_memory(&new, &stamp(100), 5).await.unwrap() }
    });
    let results = futures::future::join_all(creates).await;
    let written = results
        .iter()
        .filter(|r| matches!(r, MemoryWrite::Written(_)))
        .count();
    let full = results
        .iter()
        .filter(|r| matches!(r, MemoryWrite::StoreFull))
        .count();
    assert_eq!((written, full), (5, 7));
    assert_eq!(store.count_memories(&a, &doc.id).await.unwrap(), 5);

    // Four creates and four renames race for one path: exactly one gets it.
    let other = new_store(&store, &a).await;
    let mut movers = Vec::new();
    for i in 0..4 {
        movers.push(create(&store, &other, &format!("/mover-{i}"), "m", 100).await);
    }
    let creates = (0..4).map(|_| {
        let s = Arc::clone(&store);
        let new = new_memory(&other, "/contested", "c");
        async move { s.create_memory(&new, &stamp(110), ROOMY).await.unwrap() }
    });
    let renames = movers.iter().map(|m| {
        let (s, m) = (Arc::clone(&store), m.clone());
        let change = MemoryChange {
            path: Some("/contested".into()),
            content: None,
        };
        async move {
            s.update_memory(&m.tenant_id, &m.store_id, &m.id, &change, None, &stamp(110))
                .await
                .unwrap()
        }
    });
    let (created, renamed) = futures::future::join(
        futures::future::join_all(creates),
        futures::future::join_all(renames),
    )
    .await;
    let outcomes: Vec<_> = created.into_iter().chain(renamed).collect();
    let winners: Vec<_> = outcomes
        .iter()
        .filter_map(|o| match o {
            MemoryWrite::Written(row) => Some(row.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| match o {
            MemoryWrite::Written(_) => true,
            MemoryWrite::PathTaken { existing_id } => *existing_id == winners[0],
            _ => false,
        }),
        "{outcomes:?}"
    );
    assert_eq!(
        store
            .get_memory_by_path(&a, &other.id, "/contested")
            .await
            .unwrap()
            .map(|m| m.id),
        Some(winners[0].clone())
    );
}
