//! Builders and helpers the memory cases share: tenants, stores (documents), memories that
//! must be written, and version listings.

use std::sync::Arc;

use berth_store::{
    Collection, Document, DocumentQuery, MemoryChange, MemoryContent, MemoryRow,
    MemoryVersionQuery, MemoryVersionRow, MemoryVersionStamp, MemoryWrite, NewMemory, Store,
};

use crate::fixtures::{id, key, tenant};

pub(crate) type S = Arc<dyn Store>;

/// The limit the cases pass unless they test it; larger than any case fills.
pub(crate) const ROOMY: u32 = 100;
pub(crate) const API_ACTOR: &str = r#"{"type":"api_actor","api_key_id":"apikey_1"}"#;

pub(crate) async fn new_tenant(store: &S, name: &str) -> String {
    let t = tenant(name);
    store
        .create_tenant(&t, &key(&t.id, &format!("mk-{}", t.id)))
        .await
        .unwrap();
    t.id
}

pub(crate) async fn new_store(store: &S, tenant_id: &str) -> Document {
    let id = id("memstore");
    let doc = Document {
        body: format!(r#"{{"id":"{id}","type":"memory_store"}}"#),
        id,
        tenant_id: tenant_id.to_owned(),
        version: 1,
        created_at: 10,
        updated_at: 10,
        archived_at: None,
    };
    store
        .insert_document(Collection::MemoryStores, &doc)
        .await
        .unwrap();
    doc
}

pub(crate) async fn archive_store(store: &S, doc: &Document) {
    let archived = Document {
        archived_at: Some(50),
        updated_at: 50,
        ..doc.clone()
    };
    assert!(
        store
            .replace_document(Collection::MemoryStores, &archived, doc.version)
            .await
            .unwrap()
    );
}

/// Content with a stand-in digest: the store keeps what the server computed, opaquely.
pub(crate) fn content(text: &str) -> MemoryContent {
    MemoryContent {
        text: text.to_owned(),
        sha256: format!("sha-{text}"),
        size_bytes: text.len() as i64,
        embedding: None,
    }
}

pub(crate) fn new_memory(doc: &Document, path: &str, text: &str) -> NewMemory {
    NewMemory {
        id: id("mem"),
        tenant_id: doc.tenant_id.clone(),
        store_id: doc.id.clone(),
        path: path.to_owned(),
        content: content(text),
    }
}

pub(crate) fn stamp(at: i64) -> MemoryVersionStamp {
    MemoryVersionStamp {
        id: id("memver"),
        actor: API_ACTOR.to_owned(),
        created_at: at,
    }
}

/// Creates a memory that must be written.
pub(crate) async fn create(
    store: &S,
    doc: &Document,
    path: &str,
    text: &str,
    at: i64,
) -> MemoryRow {
    match store
        .create_memory(&new_memory(doc, path, text), &stamp(at), ROOMY)
        .await
        .unwrap()
    {
        MemoryWrite::Written(row) => row,
        other => panic!("creating {path} answered {other:?}"),
    }
}

/// Changes a memory in a way that must be written.
pub(crate) async fn change(
    store: &S,
    row: &MemoryRow,
    path: Option<&str>,
    text: Option<&str>,
    at: i64,
) -> MemoryRow {
    let change = MemoryChange {
        path: path.map(str::to_owned),
        content: text.map(content),
    };
    match store
        .update_memory(
            &row.tenant_id,
            &row.store_id,
            &row.id,
            &change,
            None,
            &stamp(at),
        )
        .await
        .unwrap()
    {
        MemoryWrite::Written(row) => row,
        other => panic!("updating {} answered {other:?}", row.path),
    }
}

pub(crate) async fn versions(store: &S, row: &MemoryRow) -> Vec<MemoryVersionRow> {
    let query = MemoryVersionQuery {
        memory_id: Some(row.id.clone()),
        with_content: true,
        page: DocumentQuery {
            limit: 100,
            ..Default::default()
        },
        ..Default::default()
    };
    store
        .list_memory_versions(&row.tenant_id, &row.store_id, &query)
        .await
        .unwrap()
}
