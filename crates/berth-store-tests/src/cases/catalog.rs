//! Contract cases for the per-tenant catalogues: model cards, files and skills.

use berth_store::DocumentQuery;
use pretty_assertions::assert_eq;

use super::{S, new_tenant, page};

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
        is_default: false,
        archived_at: None,
    }
}

pub async fn one_default_card_per_tenant_and_archived_cards_hide(store: S) {
    let a = new_tenant(&store, "a").await;
    let b = new_tenant(&store, "b").await;
    assert_eq!(store.default_model_card(&a).await.unwrap(), None);
    let first = berth_store::ModelCardRow {
        is_default: true,
        ..card(&a, "first")
    };
    store.insert_model_card(&first).await.unwrap();
    let other_tenant = berth_store::ModelCardRow {
        is_default: true,
        ..card(&b, "theirs")
    };
    store.insert_model_card(&other_tenant).await.unwrap();
    assert_eq!(
        store.default_model_card(&a).await.unwrap(),
        Some(first.clone())
    );
    // A new default takes over, in one step: the old one is no longer the default.
    let second = berth_store::ModelCardRow {
        is_default: true,
        ..card(&a, "second")
    };
    store.insert_model_card(&second).await.unwrap();
    assert_eq!(
        store.default_model_card(&a).await.unwrap(),
        Some(second.clone())
    );
    assert!(
        !store
            .get_model_card(&a, &first.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    assert_eq!(
        store.default_model_card(&b).await.unwrap(),
        Some(other_tenant.clone())
    );
    // So does an updated one.
    let again = berth_store::ModelCardRow {
        is_default: true,
        version: 2,
        ..first.clone()
    };
    assert!(store.replace_model_card(&again, 1).await.unwrap());
    assert_eq!(
        store.default_model_card(&a).await.unwrap(),
        Some(again.clone())
    );
    assert!(
        !store
            .get_model_card(&a, &second.id)
            .await
            .unwrap()
            .unwrap()
            .is_default
    );
    // Archived: not found by handle, not listed, not the default; still readable by id.
    let archived = berth_store::ModelCardRow {
        version: 3,
        archived_at: Some(5),
        ..again.clone()
    };
    assert!(store.replace_model_card(&archived, 2).await.unwrap());
    assert_eq!(store.find_model_card(&a, "first").await.unwrap(), None);
    assert_eq!(store.default_model_card(&a).await.unwrap(), None);
    let listed = store.list_model_cards(&a, None, &page(10)).await.unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        vec![second.id.as_str()]
    );
    assert_eq!(
        store.get_model_card(&a, &first.id).await.unwrap(),
        Some(archived)
    );
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
