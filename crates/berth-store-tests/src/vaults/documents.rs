//! Contract cases for vaults as documents, and how their lifecycle bounds their credentials.

use berth_store::{
    Collection, CredentialInsert, DeleteOutcome, Document, DocumentQuery, SortOrder, StoreError,
};
use pretty_assertions::assert_eq;

use crate::fixtures::id;

use super::{S, archive_vault, archived, credential, ids, insert, new_tenant, new_vault, page};

pub async fn vaults_are_documents(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let v = new_vault(&store, &a).await;
    let other = new_vault(&store, &a).await;
    assert_eq!(
        store
            .get_document(Collection::Vaults, &a, &v.id)
            .await
            .unwrap(),
        Some(v.clone())
    );
    assert_eq!(
        store
            .get_document(Collection::Vaults, &b, &v.id)
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store.insert_document(Collection::Vaults, &v).await,
        Err(StoreError::Conflict(_))
    ));
    // Vaults keep no history, and are not agents.
    assert_eq!(store.get_agent_version(&a, &v.id, 1).await.unwrap(), None);

    let renamed = Document {
        version: 2,
        updated_at: 30,
        body: r#"{"name":"renamed"}"#.into(),
        ..v.clone()
    };
    assert!(
        !store
            .replace_document(Collection::Vaults, &renamed, 5)
            .await
            .unwrap()
    );
    assert!(
        store
            .replace_document(Collection::Vaults, &renamed, 1)
            .await
            .unwrap()
    );
    archive_vault(&store, &renamed).await;
    let listed = store
        .list_documents(Collection::Vaults, &a, &page(10))
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        vec![other.id.clone()],
        "archived vaults are hidden by default"
    );
    let everything = store
        .list_documents(
            Collection::Vaults,
            &a,
            &DocumentQuery {
                include_archived: true,
                order: SortOrder::Asc,
                ..page(10)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        everything.iter().map(|d| d.id.clone()).collect::<Vec<_>>(),
        vec![v.id.clone(), other.id.clone()]
    );
    assert_eq!(everything[0].archived_at, Some(50));
    assert!(
        store
            .list_documents(Collection::Vaults, &b, &page(10))
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(
        store
            .delete_document(Collection::Vaults, &b, &v.id)
            .await
            .unwrap(),
        DeleteOutcome::NotFound
    );
    assert_eq!(
        store
            .delete_document(Collection::Vaults, &a, &v.id)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    assert_eq!(
        store
            .get_document(Collection::Vaults, &a, &v.id)
            .await
            .unwrap(),
        None
    );
}

pub async fn credentials_need_a_live_vault_of_the_tenant(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let v = new_vault(&store, &a).await;

    let mut missing = credential(&v, None);
    missing.vault_id = id("vlt");
    assert_eq!(insert(&store, &missing).await, CredentialInsert::NoVault);

    let mut foreign = credential(&v, None);
    foreign.tenant_id = b.clone();
    assert_eq!(
        insert(&store, &foreign).await,
        CredentialInsert::NoVault,
        "another tenant's vault is not found"
    );
    assert!(
        store
            .list_credentials(
                &a,
                &v.id,
                &DocumentQuery {
                    include_archived: true,
                    ..page(10)
                }
            )
            .await
            .unwrap()
            .is_empty()
    );

    archive_vault(&store, &v).await;
    let late = credential(&v, Some("https://late.example.com/"));
    assert_eq!(insert(&store, &late).await, CredentialInsert::NoVault);
    assert_eq!(
        store.get_credential(&a, &v.id, &late.id).await.unwrap(),
        None
    );
}

pub async fn deleting_a_vault_deletes_its_credentials(store: S) {
    let a = new_tenant(&store, "a").await;
    let v = new_vault(&store, &a).await;
    let kept = new_vault(&store, &a).await;
    let live = credential(&v, Some("https://live.example.com/"));
    let old = credential(&v, None);
    let other = credential(&kept, None);
    for c in [&live, &old, &other] {
        assert_eq!(insert(&store, c).await, CredentialInsert::Inserted);
    }
    assert!(store.replace_credential(&archived(&old), 1).await.unwrap());
    assert_eq!(
        store
            .delete_document(Collection::Vaults, &a, &v.id)
            .await
            .unwrap(),
        DeleteOutcome::Deleted
    );
    for c in [&live, &old] {
        assert_eq!(store.get_credential(&a, &v.id, &c.id).await.unwrap(), None);
    }
    let all = DocumentQuery {
        include_archived: true,
        ..page(10)
    };
    assert!(
        store
            .list_credentials(&a, &v.id, &all)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ids(&store.list_credentials(&a, &kept.id, &all).await.unwrap()),
        vec![other.id.clone()],
        "other vaults keep theirs"
    );
    // The rows are really gone: their ids can be used again.
    let mut reused = credential(&kept, Some("https://live.example.com/"));
    reused.id = live.id.clone();
    assert_eq!(insert(&store, &reused).await, CredentialInsert::Inserted);
}
