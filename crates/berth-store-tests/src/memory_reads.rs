//! Contract cases for reading memories and for stores as documents: path-ordered pages and
//! prefixes, recency, tenant isolation and the cascade on store deletion.

use std::sync::Arc;

use berth_store::{
    Collection, DeleteMemory, DeleteOutcome, DocumentQuery, MemoryQuery, MemoryRow, SortOrder,
};
use pretty_assertions::assert_eq;

use crate::memory_fixtures::{
    S, archive_store, change, create, new_store, new_tenant, stamp, versions,
};

fn paths(rows: &[MemoryRow]) -> Vec<&str> {
    rows.iter().map(|r| r.path.as_str()).collect()
}

fn by_path(limit: u32) -> MemoryQuery {
    MemoryQuery {
        limit,
        order: SortOrder::Asc,
        with_content: true,
        ..Default::default()
    }
}

pub async fn memory_stores_are_documents(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let get = |tenant: String| {
        let (store, id) = (Arc::clone(&store), doc.id.clone());
        async move {
            store
                .get_document(Collection::MemoryStores, &tenant, &id)
                .await
                .unwrap()
        }
    };
    assert_eq!(get(a.clone()).await, Some(doc.clone()));
    assert_eq!(get(b.clone()).await, None);
    archive_store(&store, &doc).await;
    let page = DocumentQuery {
        limit: 10,
        ..Default::default()
    };
    assert!(
        store
            .list_documents(Collection::MemoryStores, &a, &page)
            .await
            .unwrap()
            .is_empty(),
        "archived stores are hidden by default"
    );
    assert_eq!(
        store
            .delete_document(Collection::MemoryStores, &b, &doc.id)
            .await
            .unwrap(),
        DeleteOutcome::NotFound
    );
    assert_eq!(
        store
            .delete_document(Collection::MemoryStores, &a, &doc.id)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(get(a).await, None);
}

pub async fn memory_lists_page_by_path(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let other = new_store(&store, &a).await;
    // Byte order: uppercase before lowercase, ASCII before accented letters.
    let sorted = [
        "/B.md",
        "/a.md",
        "/projects",
        "/projects/a/deep.md",
        "/projects/b.md",
        "/projects0",
        "/projectsZ",
        "/\u{e9}t\u{e9}.md",
    ];
    for (i, path) in [5, 2, 7, 0, 3, 6, 1, 4]
        .map(|i| sorted[i])
        .iter()
        .enumerate()
    {
        let text = format!("content of {path}");
        create(&store, &doc, path, &text, 100 + i as i64).await;
    }
    create(&store, &other, "/a.md", "elsewhere", 200).await;

    let all = store
        .list_memories(&a, &doc.id, &by_path(100))
        .await
        .unwrap();
    assert_eq!(paths(&all), sorted.to_vec());
    assert_eq!(all[1].content, "content of /a.md");

    for order in [SortOrder::Asc, SortOrder::Desc] {
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let query = MemoryQuery {
                after: after.clone(),
                order,
                ..by_path(3)
            };
            let page = store.list_memories(&a, &doc.id, &query).await.unwrap();
            if page.is_empty() {
                break;
            }
            after = page.last().map(|m| m.path.clone());
            seen.extend(page.into_iter().map(|m| m.path));
        }
        let mut expected: Vec<String> = sorted.iter().map(|p| (*p).to_owned()).collect();
        if order == SortOrder::Desc {
            expected.reverse();
        }
        assert_eq!(seen, expected, "{order:?}");
    }

    let under = |prefix: &str, after: Option<&str>| {
        let (s, a, store_id) = (Arc::clone(&store), a.clone(), doc.id.clone());
        let query = MemoryQuery {
            path_prefix: Some(prefix.to_owned()),
            after: after.map(str::to_owned),
            with_content: false,
            ..by_path(100)
        };
        async move { s.list_memories(&a, &store_id, &query).await.unwrap() }
    };
    let projects = under("/projects/", None).await;
    assert_eq!(
        paths(&projects),
        vec!["/projects/a/deep.md", "/projects/b.md"]
    );
    assert!(
        projects
            .iter()
            .all(|m| m.content.is_empty() && m.size_bytes > 0),
        "lists without content still carry digest and size"
    );
    assert_eq!(
        paths(&under("/projects/", Some("/projects/a/deep.md")).await),
        vec!["/projects/b.md"]
    );
    assert_eq!(
        paths(&under("/projects", None).await),
        vec![
            "/projects",
            "/projects/a/deep.md",
            "/projects/b.md",
            "/projects0",
            "/projectsZ"
        ]
    );
    assert_eq!(
        paths(&under("/\u{e9}", None).await),
        vec!["/\u{e9}t\u{e9}.md"]
    );
    // Prefixes are literal: no LIKE wildcards.
    assert_eq!(paths(&under("/%", None).await), Vec::<&str>::new());
    assert_eq!(paths(&under("/_", None).await), Vec::<&str>::new());

    assert!(
        store
            .list_memories(&b, &doc.id, &by_path(100))
            .await
            .unwrap()
            .is_empty(),
        "another tenant lists nothing"
    );
    assert_eq!(store.count_memories(&b, &doc.id).await.unwrap(), 0);
}

pub async fn recent_memories_come_newest_first(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let old = create(&store, &doc, "/old", "1", 100).await;
    let middle = create(&store, &doc, "/middle", "2", 200).await;
    let newer = create(&store, &doc, "/newer", "3", 300).await;
    let touched = change(&store, &old, None, Some("1b"), 400).await;
    let recent = store.recent_memories(&a, &doc.id, 2).await.unwrap();
    assert_eq!(recent, vec![touched, newer]);
    let everything = store.recent_memories(&a, &doc.id, 10).await.unwrap();
    assert_eq!(everything.last(), Some(&middle));
}

pub async fn deleting_a_store_deletes_its_memories_and_versions(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let kept = new_store(&store, &a).await;
    let gone = create(&store, &doc, "/a", "x", 100).await;
    let stays = create(&store, &kept, "/a", "y", 100).await;
    assert_eq!(
        store
            .delete_document(Collection::MemoryStores, &a, &doc.id)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(store.get_memory(&a, &doc.id, &gone.id).await.unwrap(), None);
    assert_eq!(
        store
            .get_memory_version(&a, &doc.id, &gone.version_id)
            .await
            .unwrap(),
        None
    );
    assert!(versions(&store, &gone).await.is_empty());
    assert_eq!(
        store.get_memory(&a, &kept.id, &stays.id).await.unwrap(),
        Some(stays.clone())
    );
    assert_eq!(versions(&store, &stays).await.len(), 1);
}

pub async fn memories_are_tenant_scoped(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let row = create(&store, &doc, "/secret.md", "x", 100).await;
    assert_eq!(store.get_memory(&b, &doc.id, &row.id).await.unwrap(), None);
    assert_eq!(
        store
            .get_memory_by_path(&b, &doc.id, "/secret.md")
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .recent_memories(&b, &doc.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .delete_memory(&b, &doc.id, &row.id, None, &stamp(110))
            .await
            .unwrap(),
        DeleteMemory::NoStore
    );
    let as_b = MemoryRow {
        tenant_id: b.clone(),
        ..row.clone()
    };
    assert!(versions(&store, &as_b).await.is_empty());
    assert_eq!(
        store
            .get_memory_version(&b, &doc.id, &row.version_id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_memory(&a, &doc.id, &row.id).await.unwrap(),
        Some(row),
        "the owner's memory is untouched"
    );
}
