//! Contract cases for a session's own record: round trips, lists, changes and deletes.

use berth_store::{
    ChangeOutcome, Collection, DeleteOutcome, DeleteSessionOutcome, SessionChange, SessionQuery,
    SessionStatus, SortOrder,
};
use pretty_assertions::assert_eq;

use crate::fixtures::{event, session};

use super::{S, setup};

pub async fn sessions_round_trip_and_list(store: S) {
    let (t, env) = setup(&store).await;
    let first = session(&t, &env, 100);
    let stored = store
        .create_session(&first, &[], &[event("user.message")])
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].seq, 1);
    assert_eq!(stored[0].processed_at, None, "initial inputs are queued");
    let got = store.get_session(&t, &first.id).await.unwrap().unwrap();
    assert_eq!(got.last_seq, 1);
    assert_eq!(got.pending_inputs, 1);
    assert_eq!(got.body, first.body);

    let (other, _) = setup(&store).await;
    assert_eq!(store.get_session(&other, &first.id).await.unwrap(), None);

    let mut second = session(&t, &env, 200);
    second.agent_id = "agent_b".into();
    second.status = SessionStatus::Running;
    store.create_session(&second, &[], &[]).await.unwrap();
    let third = session(&t, &env, 300);
    store.create_session(&third, &[], &[]).await.unwrap();
    assert!(
        store
            .archive_session(&t, &third.id, 400, &[])
            .await
            .unwrap()
            .is_some()
    );

    let ids =
        |rows: Vec<berth_store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = SessionQuery {
        limit: 10,
        ..Default::default()
    };
    assert_eq!(
        ids(store.list_sessions(&t, &all).await.unwrap()),
        vec![second.id.clone(), first.id.clone()]
    );
    let with_archived = SessionQuery {
        include_archived: true,
        ..all.clone()
    };
    assert_eq!(
        store.list_sessions(&t, &with_archived).await.unwrap().len(),
        3
    );
    let by_agent = SessionQuery {
        agent_id: Some("agent_b".into()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_sessions(&t, &by_agent).await.unwrap()),
        vec![second.id.clone()]
    );
    let by_status = SessionQuery {
        statuses: vec![SessionStatus::Idle, SessionStatus::Terminated],
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_sessions(&t, &by_status).await.unwrap()),
        vec![first.id.clone()]
    );
    let after = SessionQuery {
        after: Some(second.id.clone()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_sessions(&t, &after).await.unwrap()),
        vec![first.id.clone()]
    );
    // A `before` cursor scans back towards the start, nearest first.
    let before = SessionQuery {
        before: Some(first.id.clone()),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_sessions(&t, &before).await.unwrap()),
        vec![second.id.clone()]
    );
    let asc = SessionQuery {
        order: SortOrder::Asc,
        include_archived: true,
        created_from: Some(150),
        ..all.clone()
    };
    assert_eq!(
        ids(store.list_sessions(&t, &asc).await.unwrap()),
        vec![second.id.clone(), third.id.clone()]
    );
}

pub async fn session_changes_and_deletes(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[], &[]).await.unwrap();
    let change = SessionChange {
        tenant_id: t.clone(),
        id: s.id.clone(),
        expected_version: 1,
        body: "{\"v\":2}".into(),
        now: 10,
        require_idle: false,
        events: vec![event("session.updated")],
        private: Some("{\"sealed\":1}".into()),
        memory_store_ids: None,
    };
    let ChangeOutcome::Applied(updated) = store.change_session(&change).await.unwrap() else {
        panic!("change refused")
    };
    assert_eq!(
        store
            .get_session(&t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .private
            .as_deref(),
        Some("{\"sealed\":1}")
    );
    assert_eq!(updated[0].seq, 1);
    assert_eq!(
        store.change_session(&change).await.unwrap(),
        ChangeOutcome::Stale
    );
    let row = store.get_session(&t, &s.id).await.unwrap().unwrap();
    assert_eq!((row.version, row.body.as_str()), (2, "{\"v\":2}"));

    // An environment used by a live session cannot be deleted.
    assert_eq!(
        store
            .delete_document(Collection::Environments, &t, &env)
            .await
            .unwrap(),
        DeleteOutcome::InUse
    );

    let busy = session(&t, &env, 2);
    store
        .create_session(&busy, &[], &[event("user.message")])
        .await
        .unwrap();
    let lease = store
        .claim_session(&busy.id, "r", 0, 100)
        .await
        .unwrap()
        .unwrap();
    store.begin_turn(&lease, 5, &[]).await.unwrap();
    let idle_only = SessionChange {
        id: busy.id.clone(),
        require_idle: true,
        events: vec![],
        ..change.clone()
    };
    assert_eq!(
        store.change_session(&idle_only).await.unwrap(),
        ChangeOutcome::Running
    );
    assert_eq!(
        store
            .delete_session(&t, &busy.id, 6, &[event("session.deleted")])
            .await
            .unwrap(),
        DeleteSessionOutcome::Running
    );

    let DeleteSessionOutcome::Deleted(last) = store
        .delete_session(
            &t,
            &s.id,
            20,
            &[event("session.status_terminated"), event("session.deleted")],
        )
        .await
        .unwrap()
    else {
        panic!("delete refused")
    };
    assert_eq!(last.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(store.get_session(&t, &s.id).await.unwrap(), None);
    assert_eq!(
        store.delete_session(&t, &s.id, 30, &[]).await.unwrap(),
        DeleteSessionOutcome::NotFound
    );
    // The log outlives the session for streams that are still reading it.
    assert_eq!(
        store
            .read_events(&s.id, 0, 10, u64::MAX)
            .await
            .unwrap()
            .len(),
        3
    );
}

pub async fn sessions_list_by_memory_store(store: S) {
    let (t, env) = setup(&store).await;
    let ids =
        |rows: Vec<berth_store::SessionRow>| rows.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let by_store = |id: &str| SessionQuery {
        limit: 10,
        memory_store_id: Some(id.to_owned()),
        ..Default::default()
    };
    let both = session(&t, &env, 100);
    let stores = ["memstore_a".to_owned(), "memstore_b".to_owned()];
    store.create_session(&both, &stores, &[]).await.unwrap();
    let only_b = session(&t, &env, 200);
    store
        .create_session(&only_b, &stores[1..], &[])
        .await
        .unwrap();
    // An id that only appears in a session's body text does not match.
    let mut mentions = session(&t, &env, 300);
    mentions.body = r#"{"title":"\"memory_store_id\":\"memstore_a\""}"#.into();
    store.create_session(&mentions, &[], &[]).await.unwrap();

    assert_eq!(
        ids(store
            .list_sessions(&t, &by_store("memstore_a"))
            .await
            .unwrap()),
        vec![both.id.clone()]
    );
    assert_eq!(
        ids(store
            .list_sessions(&t, &by_store("memstore_b"))
            .await
            .unwrap()),
        vec![only_b.id.clone(), both.id.clone()]
    );
    // LIKE wildcards in the filter match nothing.
    assert_eq!(
        store
            .list_sessions(&t, &by_store("memstore_%"))
            .await
            .unwrap(),
        vec![]
    );
    let (other, _) = setup(&store).await;
    assert_eq!(
        store
            .list_sessions(&other, &by_store("memstore_a"))
            .await
            .unwrap(),
        vec![]
    );

    // A change that names the stores replaces them; one that does not keeps them.
    let drop_b = SessionChange {
        tenant_id: t.clone(),
        id: both.id.clone(),
        expected_version: 1,
        body: both.body.clone(),
        now: 400,
        require_idle: false,
        events: vec![],
        private: None,
        memory_store_ids: Some(vec!["memstore_a".into()]),
    };
    assert!(matches!(
        store.change_session(&drop_b).await.unwrap(),
        ChangeOutcome::Applied(_)
    ));
    let keep = SessionChange {
        expected_version: 2,
        memory_store_ids: None,
        ..drop_b.clone()
    };
    assert!(matches!(
        store.change_session(&keep).await.unwrap(),
        ChangeOutcome::Applied(_)
    ));
    assert_eq!(
        ids(store
            .list_sessions(&t, &by_store("memstore_a"))
            .await
            .unwrap()),
        vec![both.id.clone()]
    );
    assert_eq!(
        ids(store
            .list_sessions(&t, &by_store("memstore_b"))
            .await
            .unwrap()),
        vec![only_b.id.clone()]
    );
    // Deleted sessions are not listed.
    assert!(matches!(
        store
            .delete_session(&t, &only_b.id, 500, &[])
            .await
            .unwrap(),
        DeleteSessionOutcome::Deleted(_)
    ));
    assert_eq!(
        store
            .list_sessions(&t, &by_store("memstore_b"))
            .await
            .unwrap(),
        vec![]
    );
}
