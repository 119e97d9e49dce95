//! Contract cases for what memory search reads: the full-text index follows every write
//! (create, edit, rename, delete, store deletion) within its store and tenant, and vectors are
//! stored with their content, listed per embedder and filled in only for unchanged content.

use berth_store::{MemoryChange, MemoryContent, MemoryEmbedding, MemoryWrite};
use pretty_assertions::assert_eq;

use crate::memory_fixtures::{
    ROOMY, S, change, content, create, new_memory, new_store, new_tenant, stamp,
};

async fn found(store: &S, tenant: &str, memory_store: &str, words: &[&str]) -> Vec<String> {
    let terms: Vec<String> = words.iter().map(|w| (*w).to_owned()).collect();
    let mut paths: Vec<String> = store
        .search_memories_text(tenant, memory_store, &terms, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.path)
        .collect();
    paths.sort();
    paths
}

fn embedded(text: &str, model: &str, vector: &[u8]) -> MemoryContent {
    MemoryContent {
        embedding: Some(MemoryEmbedding {
            model: model.to_owned(),
            vector: vector.to_vec(),
        }),
        ..content(text)
    }
}

pub async fn text_search_follows_every_write(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let doc = new_store(&store, &a).await;
    let sibling = new_store(&store, &a).await;
    let foreign = new_store(&store, &b).await;
    let deploy = create(
        &store,
        &doc,
        "/notes/deploy.md",
        "Blue green releases on Tuesday",
        1,
    )
    .await;
    create(
        &store,
        &doc,
        "/people/alice.md",
        "Alice prefers written updates",
        2,
    )
    .await;
    create(&store, &sibling, "/x.md", "Tuesday in the sibling store", 3).await;
    create(&store, &foreign, "/y.md", "Tuesday in another tenant", 4).await;

    assert_eq!(
        found(&store, &a, &doc.id, &["tuesday"]).await,
        vec!["/notes/deploy.md"]
    );
    assert_eq!(
        found(&store, &a, &doc.id, &["deploy"]).await,
        vec!["/notes/deploy.md"],
        "paths are indexed"
    );
    assert_eq!(
        found(&store, &a, &doc.id, &["releasing"]).await,
        vec!["/notes/deploy.md"],
        "words are stemmed"
    );
    assert_eq!(
        found(&store, &a, &doc.id, &["tuesday", "alice"]).await,
        vec!["/notes/deploy.md", "/people/alice.md"],
        "any term matches"
    );
    assert!(
        found(&store, &b, &doc.id, &["tuesday"]).await.is_empty(),
        "another tenant"
    );
    assert!(
        found(&store, &a, &doc.id, &["a\"b OR *"]).await.is_empty(),
        "operators are words"
    );
    assert!(found(&store, &a, &doc.id, &[]).await.is_empty());

    let edited = change(&store, &deploy, None, Some("Canary releases on Friday"), 5).await;
    assert!(found(&store, &a, &doc.id, &["tuesday"]).await.is_empty());
    assert_eq!(
        found(&store, &a, &doc.id, &["friday"]).await,
        vec!["/notes/deploy.md"]
    );
    let renamed = change(&store, &edited, Some("/notes/shipping.md"), None, 6).await;
    assert!(found(&store, &a, &doc.id, &["deploy"]).await.is_empty());
    assert_eq!(
        found(&store, &a, &doc.id, &["shipping", "friday"]).await,
        vec!["/notes/shipping.md"]
    );
    store
        .delete_memory(&a, &doc.id, &renamed.id, None, &stamp(7))
        .await
        .unwrap();
    assert!(found(&store, &a, &doc.id, &["friday"]).await.is_empty());

    // Deleting a whole store leaves the index of the others intact and writable.
    store
        .delete_document(berth_store::Collection::MemoryStores, &a, &doc.id)
        .await
        .unwrap();
    assert_eq!(
        found(&store, &a, &sibling.id, &["tuesday"]).await,
        vec!["/x.md"]
    );
    create(&store, &sibling, "/z.md", "Tuesday again", 8).await;
    assert_eq!(
        found(&store, &a, &sibling.id, &["tuesday"]).await,
        vec!["/x.md", "/z.md"]
    );
}

pub async fn vectors_are_stored_with_their_content(store: S) {
    let a = new_tenant(&store, "a").await;
    let doc = new_store(&store, &a).await;
    let mut new = new_memory(&doc, "/v.md", "first");
    new.content = embedded("first", "m1", &[1, 2, 3]);
    let MemoryWrite::Written(row) = store.create_memory(&new, &stamp(1), ROOMY).await.unwrap()
    else {
        panic!("not written");
    };
    let plain = create(&store, &doc, "/plain.md", "no vector", 2).await;
    let vectors = store.memory_vectors(&a, &doc.id, "m1").await.unwrap();
    assert_eq!(vectors.len(), 1);
    assert_eq!(
        (vectors[0].id.as_str(), vectors[0].vector.as_slice()),
        (row.id.as_str(), &[1u8, 2, 3][..])
    );
    assert!(
        store
            .memory_vectors(&a, &doc.id, "m2")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .memory_vectors("tn_other", &doc.id, "m1")
            .await
            .unwrap()
            .is_empty()
    );

    let signature = || store.memory_vector_signature(&a, &doc.id, "m1");
    let first = signature().await.unwrap();
    assert_eq!(first.count, 1);
    assert_eq!(first, signature().await.unwrap(), "nothing changed");
    assert_eq!(
        store
            .memory_vector_signature(&a, &doc.id, "m2")
            .await
            .unwrap(),
        Default::default()
    );

    // A rename keeps the vector; new content brings its own, or none.
    let renamed = change(&store, &row, Some("/w.md"), None, 3).await;
    assert_eq!(signature().await.unwrap(), first);
    assert_eq!(
        store.memory_vectors(&a, &doc.id, "m1").await.unwrap()[0].vector,
        vec![1, 2, 3]
    );
    let edit = MemoryChange {
        path: None,
        content: Some(content("second")),
    };
    let MemoryWrite::Written(edited) = store
        .update_memory(&a, &doc.id, &renamed.id, &edit, None, &stamp(4))
        .await
        .unwrap()
    else {
        panic!("not written");
    };
    assert!(
        store
            .memory_vectors(&a, &doc.id, "m1")
            .await
            .unwrap()
            .is_empty()
    );
    let mut todo: Vec<String> = store
        .memories_to_embed("m1", 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    todo.sort();
    let mut expected = vec![edited.id.clone(), plain.id.clone()];
    expected.sort();
    assert_eq!(todo, expected);

    let vector = MemoryEmbedding {
        model: "m1".into(),
        vector: vec![9, 9],
    };
    assert!(
        !store
            .set_memory_embedding(&edited.id, "sha-first", &vector)
            .await
            .unwrap(),
        "made from content that is gone"
    );
    assert!(
        store
            .set_memory_embedding(&edited.id, "sha-second", &vector)
            .await
            .unwrap()
    );
    assert_eq!(
        store.memory_vectors(&a, &doc.id, "m1").await.unwrap()[0].vector,
        vec![9, 9]
    );
    assert_eq!(store.memories_to_embed("m1", 10).await.unwrap().len(), 1);

    let mut rows = store
        .memories_by_ids(
            &a,
            &doc.id,
            &[edited.id.clone(), plain.id.clone(), "mem_missing".into()],
        )
        .await
        .unwrap();
    rows.sort_by(|x, y| x.path.cmp(&y.path));
    assert_eq!(
        rows.iter()
            .map(|r| (r.path.as_str(), r.content.as_str()))
            .collect::<Vec<_>>(),
        vec![("/plain.md", "no vector"), ("/w.md", "second")]
    );
    assert!(
        store
            .memories_by_ids("tn_other", &doc.id, std::slice::from_ref(&plain.id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .memories_by_ids(&a, &doc.id, &[])
            .await
            .unwrap()
            .is_empty()
    );
}
