//! The contract cases. Each takes a fresh, empty store.

use std::collections::HashSet;
use std::sync::Arc;

use berth_store::{
    Collection, DeleteOutcome, Document, DocumentQuery, RevokeOutcome, SortOrder, Store,
};
use pretty_assertions::assert_eq;

use crate::fixtures::{doc, key, tenant};

type S = Arc<dyn Store>;

async fn new_tenant(store: &S, name: &str) -> String {
    let t = tenant(name);
    store
        .create_tenant(&t, &key(&t.id, &format!("first-{}", t.id)))
        .await
        .unwrap();
    t.id
}

fn page(limit: u32) -> DocumentQuery {
    DocumentQuery {
        limit,
        ..Default::default()
    }
}

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

fn card(tenant_id: &str, model_id: &str) -> berth_store::ModelCardRow {
    let id = crate::fixtures::id("mdl");
    berth_store::ModelCardRow {
        body: format!(r#"{{"id":"{id}","model_id":"{model_id}"}}"#),
        id,
        tenant_id: tenant_id.to_owned(),
        model_id: model_id.to_owned(),
        provider: "ant".to_owned(),
        version: 1,
        created_at: 1,
        updated_at: 1,
        sealed: vec![1, 2, 3],
    }
}

pub async fn model_cards_are_unique_per_tenant(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let first = card(&a, "fast");
    store.insert_model_card(&first).await.unwrap();
    let dup = store.insert_model_card(&card(&a, "fast")).await;
    assert!(matches!(dup, Err(berth_store::StoreError::Conflict(_))));
    store.insert_model_card(&card(&b, "fast")).await.unwrap();
    assert_eq!(
        store.find_model_card(&a, "fast").await.unwrap(),
        Some(first.clone())
    );
    assert_eq!(store.get_model_card(&b, &first.id).await.unwrap(), None);
    let mut next = first.clone();
    next.version = 2;
    next.model_id = "faster".into();
    next.sealed = vec![9];
    assert!(!store.replace_model_card(&next, 7).await.unwrap());
    assert!(store.replace_model_card(&next, 1).await.unwrap());
    assert_eq!(store.find_model_card(&a, "fast").await.unwrap(), None);
    assert_eq!(
        store
            .find_model_card(&a, "faster")
            .await
            .unwrap()
            .unwrap()
            .sealed,
        vec![9]
    );
    let mut openai = card(&a, "gpt");
    openai.provider = "oai".to_owned();
    store.insert_model_card(&openai).await.unwrap();
    assert_eq!(
        store
            .list_model_cards(&a, None, &page(10))
            .await
            .unwrap()
            .len(),
        2
    );
    let only_oai = store
        .list_model_cards(&a, Some("oai"), &page(10))
        .await
        .unwrap();
    assert_eq!(only_oai, vec![openai.clone()]);
    assert!(!store.delete_model_card(&b, &first.id).await.unwrap());
    assert!(store.delete_model_card(&a, &first.id).await.unwrap());
    assert!(store.delete_model_card(&a, &openai.id).await.unwrap());
    assert!(
        store
            .list_model_cards(&a, None, &page(10))
            .await
            .unwrap()
            .is_empty()
    );
}

fn file_row(tenant_id: &str, scope: Option<&str>, expires_at: Option<i64>) -> berth_store::FileRow {
    let id = crate::fixtures::id("file");
    berth_store::FileRow {
        body: format!(r#"{{"id":"{id}"}}"#),
        id,
        tenant_id: tenant_id.to_owned(),
        scope_id: scope.map(str::to_owned),
        output_path: None,
        created_at: 1,
        expires_at,
        size_bytes: 10,
    }
}

pub async fn files_are_scoped_expire_and_page(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    let loose = file_row(&a, None, None);
    let scoped = file_row(&a, Some("sesn_1"), None);
    let expiring = file_row(&a, None, Some(100));
    for f in [&loose, &scoped, &expiring] {
        store.insert_file(f).await.unwrap();
    }
    assert_eq!(
        store.get_file(&a, &loose.id, 50).await.unwrap(),
        Some(loose.clone())
    );
    assert_eq!(store.get_file(&b, &loose.id, 50).await.unwrap(), None);
    assert!(
        store
            .get_file(&a, &expiring.id, 50)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_file(&a, &expiring.id, 100)
            .await
            .unwrap()
            .is_none()
    );
    let all = berth_store::FileQuery {
        page: page(10),
        ..Default::default()
    };
    assert_eq!(store.list_files(&a, &all, 50).await.unwrap().len(), 3);
    assert_eq!(store.list_files(&a, &all, 200).await.unwrap().len(), 2);
    let by_scope = berth_store::FileQuery {
        scope_id: Some("sesn_1".into()),
        page: page(10),
        ..Default::default()
    };
    assert_eq!(
        store.list_files(&a, &by_scope, 50).await.unwrap(),
        vec![scoped.clone()]
    );
    let by_ids = berth_store::FileQuery {
        ids: Some(vec![loose.id.clone(), "file_nope".into()]),
        page: page(10),
        ..Default::default()
    };
    assert_eq!(
        store.list_files(&a, &by_ids, 50).await.unwrap(),
        vec![loose.clone()]
    );
    let first = store
        .list_files(
            &a,
            &berth_store::FileQuery {
                page: page(1),
                ..Default::default()
            },
            50,
        )
        .await
        .unwrap();
    let second_page = berth_store::FileQuery {
        page: DocumentQuery {
            limit: 5,
            after: Some(first[0].id.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        store.list_files(&a, &second_page, 50).await.unwrap().len(),
        2
    );
    assert_eq!(
        store.expired_files(150, 10).await.unwrap(),
        vec![expiring.clone()]
    );
    assert_eq!(store.scoped_files(&a, "sesn_1").await.unwrap().len(), 1);

    let mut output = file_row(&a, Some("sesn_1"), None);
    output.output_path = Some("report.csv".into());
    store.insert_file(&output).await.unwrap();
    let mut clash = file_row(&a, Some("sesn_1"), None);
    clash.output_path = Some("report.csv".into());
    assert!(matches!(
        store.insert_file(&clash).await,
        Err(berth_store::StoreError::Conflict(_))
    ));
    output.size_bytes = 99;
    assert!(store.replace_file(&output).await.unwrap());
    assert_eq!(
        store
            .get_file(&a, &output.id, 0)
            .await
            .unwrap()
            .unwrap()
            .size_bytes,
        99
    );
    assert!(!store.delete_file(&b, &output.id).await.unwrap());
    assert!(store.delete_file(&a, &output.id).await.unwrap());
    assert!(store.get_file(&a, &output.id, 0).await.unwrap().is_none());
}

pub async fn skills_keep_versions_and_unique_names(store: S) {
    let a = new_tenant(&store, "a").await;
    let skill = berth_store::SkillRow {
        id: crate::fixtures::id("skill"),
        tenant_id: a.clone(),
        name: "csv-tools".into(),
        created_at: 1,
        updated_at: 1,
        version: 1,
        body: "{}".into(),
    };
    let version = |id: &str| berth_store::SkillVersionRow {
        skill_id: skill.id.clone(),
        id: id.to_owned(),
        tenant_id: a.clone(),
        created_at: 1,
        body: format!(r#"{{"id":"{id}"}}"#),
        manifest: "[]".into(),
    };
    store.insert_skill(&skill, &version("0001")).await.unwrap();
    let mut twin = skill.clone();
    twin.id = crate::fixtures::id("skill");
    let twin_version = berth_store::SkillVersionRow {
        skill_id: twin.id.clone(),
        ..version("0001")
    };
    assert!(matches!(
        store.insert_skill(&twin, &twin_version).await,
        Err(berth_store::StoreError::Conflict(_))
    ));
    assert!(
        store.get_skill(&a, &twin.id).await.unwrap().is_none(),
        "nothing of the refused skill is kept"
    );

    let mut next = skill.clone();
    next.version = 2;
    next.body = r#"{"latest":"0002"}"#.into();
    assert!(
        !store
            .add_skill_version(&next, &version("0002"), 5)
            .await
            .unwrap()
    );
    assert!(
        store
            .add_skill_version(&next, &version("0002"), 1)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_skill(&a, &skill.id).await.unwrap().unwrap().body,
        next.body
    );
    let versions = store
        .list_skill_versions(&a, &skill.id, &page(10))
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
        ["0002", "0001"]
    );
    assert!(
        store
            .get_skill_version(&a, &skill.id, "0001")
            .await
            .unwrap()
            .is_some()
    );
    let mut after_delete = next.clone();
    after_delete.version = 3;
    assert!(
        store
            .delete_skill_version(&after_delete, "0001", 2)
            .await
            .unwrap()
    );
    assert!(
        store
            .get_skill_version(&a, &skill.id, "0001")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_skills(&a, &page(10)).await.unwrap().len(), 1);
    assert!(store.delete_skill(&a, &skill.id).await.unwrap());
    assert!(
        store
            .list_skill_versions(&a, &skill.id, &page(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.delete_skill(&a, &skill.id).await.unwrap());
}
