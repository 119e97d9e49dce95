//! Contract cases for vaults (documents) and their credentials: the per-vault limit, one active
//! credential per MCP server URL, tenant isolation and the cascade on vault deletion.

mod credentials;
mod documents;

use std::sync::Arc;

use berth_store::{Collection, CredentialInsert, CredentialRow, Document, DocumentQuery, Store};

use crate::fixtures::{id, key, tenant};

pub use credentials::{
    active_urls_are_unique_per_vault, concurrent_inserts_respect_the_limit,
    credentials_round_trip_and_page, replacing_and_deleting_credentials,
    vault_credentials_are_active_and_tenant_scoped, vaults_hold_a_limited_number_of_credentials,
};
pub use documents::{
    credentials_need_a_live_vault_of_the_tenant, deleting_a_vault_deletes_its_credentials,
    vaults_are_documents,
};

type S = Arc<dyn Store>;

/// The limit the cases pass unless they test it; larger than any case fills.
const ROOMY: u32 = 100;

async fn new_tenant(store: &S, name: &str) -> String {
    let t = tenant(name);
    store
        .create_tenant(&t, &key(&t.id, &format!("vk-{}", t.id)))
        .await
        .unwrap();
    t.id
}

fn vault_doc(tenant_id: &str) -> Document {
    let id = id("vlt");
    Document {
        body: format!(r#"{{"id":"{id}","type":"vault"}}"#),
        id,
        tenant_id: tenant_id.to_owned(),
        version: 1,
        created_at: 10,
        updated_at: 10,
        archived_at: None,
    }
}

async fn new_vault(store: &S, tenant_id: &str) -> Document {
    let v = vault_doc(tenant_id);
    store.insert_document(Collection::Vaults, &v).await.unwrap();
    v
}

async fn archive_vault(store: &S, v: &Document) {
    let archived = Document {
        archived_at: Some(50),
        updated_at: 50,
        ..v.clone()
    };
    assert!(
        store
            .replace_document(Collection::Vaults, &archived, v.version)
            .await
            .unwrap()
    );
}

/// A credential for `url` (a bearer token), or an environment variable without a URL.
fn credential(v: &Document, url: Option<&str>) -> CredentialRow {
    let id = id("vcrd");
    CredentialRow {
        body: format!(r#"{{"id":"{id}","vault_id":"{}"}}"#, v.id),
        id,
        tenant_id: v.tenant_id.clone(),
        vault_id: v.id.clone(),
        auth_type: if url.is_some() {
            "static_bearer"
        } else {
            "environment_variable"
        }
        .to_owned(),
        mcp_server_url: url.map(str::to_owned),
        version: 1,
        created_at: 20,
        updated_at: 20,
        archived_at: None,
        sealed: Some(vec![7, 8, 9]),
    }
}

async fn insert(store: &S, c: &CredentialRow) -> CredentialInsert {
    store.insert_credential(c, ROOMY).await.unwrap()
}

/// The credential archived as the server does it: new version, secret dropped.
fn archived(c: &CredentialRow) -> CredentialRow {
    CredentialRow {
        version: c.version + 1,
        updated_at: 60,
        archived_at: Some(60),
        sealed: None,
        body: format!(r#"{{"id":"{}","archived":true}}"#, c.id),
        ..c.clone()
    }
}

fn page(limit: u32) -> DocumentQuery {
    DocumentQuery {
        limit,
        ..Default::default()
    }
}

fn ids(rows: &[CredentialRow]) -> Vec<String> {
    rows.iter().map(|c| c.id.clone()).collect()
}

fn sorted_ids(rows: &[CredentialRow]) -> Vec<String> {
    let mut ids = ids(rows);
    ids.sort();
    ids
}
