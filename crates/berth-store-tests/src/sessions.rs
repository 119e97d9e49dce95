//! Contract cases for sessions, the event log and the runner's leases.

use std::sync::Arc;

use berth_store::{
    AppendOutcome, ChangeOutcome, Collection, ContextScope, DeleteOutcome, DeleteSessionOutcome,
    EventQuery, SessionChange, SessionQuery, SortOrder, Store, StreamBuffer, TurnEffects,
    TurnStart, UsageTotals,
};
use pretty_assertions::assert_eq;

use crate::fixtures::{doc, event, key, session, tenant};

type S = Arc<dyn Store>;

async fn setup(store: &S) -> (String, String) {
    let t = tenant("acme");
    store
        .create_tenant(&t, &key(&t.id, &format!("k-{}", t.id)))
        .await
        .unwrap();
    let env = doc(&t.id, 1);
    store
        .insert_document(Collection::Environments, &env)
        .await
        .unwrap();
    (t.id, env.id)
}

fn events_query(limit: u32) -> EventQuery {
    EventQuery {
        limit,
        order: SortOrder::Asc,
        ..Default::default()
    }
}

const LONG_AGO: i64 = 0;
const FAR_FUTURE: i64 = i64::MAX;

pub async fn sessions_round_trip_and_list(store: S) {
    let (t, env) = setup(&store).await;
    let first = session(&t, &env, 100);
    let stored = store
        .create_session(&first, &[event("user.message")])
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
    second.status = "running".into();
    store.create_session(&second, &[]).await.unwrap();
    let third = session(&t, &env, 300);
    store.create_session(&third, &[]).await.unwrap();
    assert!(store.archive_session(&t, &third.id, 400).await.unwrap());

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
        statuses: vec!["idle".into(), "terminated".into()],
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

pub async fn client_events_queue_and_interrupt(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[]).await.unwrap();
    let AppendOutcome::Appended(first) = store
        .append_client_events(
            &t,
            &s.id,
            &[event("user.message"), event("user.message")],
            10,
        )
        .await
        .unwrap()
    else {
        panic!("append refused")
    };
    assert_eq!(first.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(first.iter().all(|e| e.processed_at.is_none()));
    assert_eq!(
        store
            .get_session(&t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .pending_inputs,
        2
    );

    // The interrupt cancels what was queued before it, not what follows it.
    let AppendOutcome::Appended(second) = store
        .append_client_events(
            &t,
            &s.id,
            &[event("user.interrupt"), event("user.message")],
            20,
        )
        .await
        .unwrap()
    else {
        panic!("append refused")
    };
    assert_eq!(second[0].processed_at, Some(20));
    let row = store.get_session(&t, &s.id).await.unwrap().unwrap();
    assert_eq!(row.pending_inputs, 1);
    assert_eq!(row.last_seq, 4);
    let cancelled = store.get_event(&s.id, &first[0].id).await.unwrap().unwrap();
    assert_eq!(cancelled.cancelled_at, Some(20));

    let (other, _) = setup(&store).await;
    assert_eq!(
        store
            .append_client_events(&other, &s.id, &[event("user.message")], 30)
            .await
            .unwrap(),
        AppendOutcome::NotFound
    );
    store.archive_session(&t, &s.id, 40).await.unwrap();
    assert_eq!(
        store
            .append_client_events(&t, &s.id, &[event("user.message")], 50)
            .await
            .unwrap(),
        AppendOutcome::Archived
    );
}

pub async fn turns_promote_inputs_in_context_order(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store
        .create_session(&s, &[event("user.message")])
        .await
        .unwrap();
    assert_eq!(
        store.runnable_sessions(100, 10).await.unwrap(),
        vec![s.id.clone()]
    );
    let lease = store
        .claim_session(&s.id, "runner-a", 100, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(lease.status_at_claim, "idle");
    assert!(
        store.runnable_sessions(100, 10).await.unwrap().is_empty(),
        "leased"
    );
    let TurnStart::Started { promoted, appended } = store
        .begin_turn(&lease, 110, &[event("session.status_running")])
        .await
        .unwrap()
    else {
        panic!("turn did not start")
    };
    assert_eq!(promoted.len(), 1);
    assert_eq!(promoted[0].processed_at, Some(110));
    assert_eq!(appended[0].seq, 2);
    assert_eq!(
        store.get_session(&t, &s.id).await.unwrap().unwrap().status,
        "running"
    );

    // A message arrives mid-turn; the turn keeps writing after it.
    store
        .append_client_events(&t, &s.id, &[event("user.message")], 120)
        .await
        .unwrap();
    let usage = UsageTotals {
        input_tokens: 10,
        output_tokens: 5,
        cache_read_input_tokens: 2,
        cache_creation_input_tokens: 1,
    };
    let written = store
        .append_turn_events(
            &lease,
            &[event("agent.message"), event("session.status_idle")],
            &TurnEffects {
                usage: Some(usage),
                status: Some("idle".into()),
                end_turn: true,
                clear_stream_buffers: true,
            },
            200,
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        written.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![4, 5]
    );
    let row = store.get_session(&t, &s.id).await.unwrap().unwrap();
    assert_eq!(row.usage, usage);
    assert_eq!(row.status, "idle");
    assert_eq!(row.active_micros, 90);
    assert_eq!(row.turn_started_at, None);

    let TurnStart::Started { promoted, .. } = store
        .begin_turn(&lease, 300, &[event("session.status_running")])
        .await
        .unwrap()
    else {
        panic!("second turn did not start")
    };
    assert_eq!(promoted[0].seq, 3);
    let all = store
        .context_events(&s.id, 0, ContextScope::All)
        .await
        .unwrap();
    let context: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(
        context,
        vec![1, 2, 4, 5, 3, 6],
        "the mid-turn message comes after that turn"
    );
    // Context positions only grow: a reader can ask for what came after what it has.
    let orders: Vec<i64> = all.iter().map(|e| e.ctx_order.unwrap()).collect();
    assert!(orders.windows(2).all(|w| w[0] <= w[1]));
    let after = store
        .context_events(&s.id, orders[3], ContextScope::All)
        .await
        .unwrap();
    assert_eq!(after.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![3, 6]);
    let model_only = store
        .context_events(&s.id, 0, ContextScope::Model)
        .await
        .unwrap();
    assert_eq!(
        model_only.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 4, 3],
        "statuses are not model context"
    );
    assert_eq!(
        store.begin_turn(&lease, 400, &[]).await.unwrap(),
        TurnStart::NothingPending
    );
    store.release_lease(&lease).await.unwrap();
}

pub async fn leases_fence_stale_runners(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store
        .create_session(&s, &[event("user.message")])
        .await
        .unwrap();
    let a = store
        .claim_session(&s.id, "runner-a", 100, 1_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .claim_session(&s.id, "runner-b", 100, 2_000)
            .await
            .unwrap(),
        None,
        "a live lease cannot be taken"
    );
    assert!(store.renew_lease(&a, 1_500).await.unwrap());
    // Past the lease's expiry another runner takes over and the first is fenced out.
    let b = store
        .claim_session(&s.id, "runner-b", 1_600, 3_000)
        .await
        .unwrap()
        .unwrap();
    assert!(b.generation > a.generation);
    assert_eq!(
        store
            .append_turn_events(
                &a,
                &[event("agent.message")],
                &TurnEffects::default(),
                1_700
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.begin_turn(&a, 1_700, &[]).await.unwrap(),
        TurnStart::LeaseLost
    );
    assert!(!store.renew_lease(&a, 5_000).await.unwrap());
    store
        .save_stream_buffer(
            &a,
            &StreamBuffer {
                event_id: "sevt_x".into(),
                kind: "agent.message".into(),
                text: "stale".into(),
            },
        )
        .await
        .unwrap();
    assert!(store.stream_buffers(&s.id).await.unwrap().is_empty());
    assert_eq!(
        store
            .get_session(&t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        1
    );

    store
        .save_stream_buffer(
            &b,
            &StreamBuffer {
                event_id: "sevt_y".into(),
                kind: "agent.message".into(),
                text: "partial".into(),
            },
        )
        .await
        .unwrap();
    store
        .save_stream_buffer(
            &b,
            &StreamBuffer {
                event_id: "sevt_y".into(),
                kind: "agent.message".into(),
                text: "partial text".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        store.stream_buffers(&s.id).await.unwrap()[0].text,
        "partial text"
    );
    store.release_lease(&b).await.unwrap();
    assert!(
        store
            .claim_session(&s.id, "runner-c", LONG_AGO, 10)
            .await
            .unwrap()
            .is_some(),
        "a released lease is free"
    );
    let _ = FAR_FUTURE;
}

pub async fn session_changes_and_deletes(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[]).await.unwrap();
    let change = SessionChange {
        tenant_id: t.clone(),
        id: s.id.clone(),
        expected_version: 1,
        body: "{\"v\":2}".into(),
        now: 10,
        require_idle: false,
        events: vec![event("session.updated")],
        private: Some("{\"sealed\":1}".into()),
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
        .create_session(&busy, &[event("user.message")])
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
    assert_eq!(store.read_events(&s.id, 0, 10).await.unwrap().len(), 3);
}

pub async fn event_lists_filter_and_page(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[]).await.unwrap();
    for (i, kind) in [
        "system.message",
        "user.interrupt",
        "system.message",
        "user.interrupt",
    ]
    .iter()
    .enumerate()
    {
        store
            .append_client_events(&t, &s.id, &[event(kind)], 100 * (i as i64 + 1))
            .await
            .unwrap();
    }
    let seqs = |rows: Vec<berth_store::StoredEvent>| rows.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        seqs(
            store
                .list_events(&t, &s.id, &events_query(10))
                .await
                .unwrap()
        ),
        vec![1, 2, 3, 4]
    );
    let desc = EventQuery {
        order: SortOrder::Desc,
        after_seq: Some(4),
        ..events_query(2)
    };
    assert_eq!(
        seqs(store.list_events(&t, &s.id, &desc).await.unwrap()),
        vec![3, 2]
    );
    let typed = EventQuery {
        types: vec!["user.interrupt".into()],
        ..events_query(10)
    };
    assert_eq!(
        seqs(store.list_events(&t, &s.id, &typed).await.unwrap()),
        vec![2, 4]
    );
    let timed = EventQuery {
        processed_from: Some(200),
        processed_until: Some(400),
        ..events_query(10)
    };
    assert_eq!(
        seqs(store.list_events(&t, &s.id, &timed).await.unwrap()),
        vec![2, 3]
    );
    let (other, _) = setup(&store).await;
    assert!(
        store
            .list_events(&other, &s.id, &events_query(10))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        seqs(store.read_events(&s.id, 2, 10).await.unwrap()),
        vec![3, 4]
    );
}

pub async fn concurrent_appends_keep_seq_gapless(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[]).await.unwrap();
    let lease = store
        .claim_session(&s.id, "r", 0, i64::MAX)
        .await
        .unwrap()
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..24 {
        let store = Arc::clone(&store);
        let (t, sid, lease) = (t.clone(), s.id.clone(), lease.clone());
        tasks.push(tokio::spawn(async move {
            if i % 2 == 0 {
                store
                    .append_client_events(
                        &t,
                        &sid,
                        &[event("system.message"), event("user.interrupt")],
                        i,
                    )
                    .await
                    .map(|_| ())
            } else {
                store
                    .append_turn_events(
                        &lease,
                        &[event("agent.message")],
                        &TurnEffects::default(),
                        i,
                    )
                    .await
                    .map(|_| ())
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let all = store.read_events(&s.id, 0, 1000).await.unwrap();
    let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=36).collect::<Vec<_>>());
    assert_eq!(
        store
            .get_session(&t, &s.id)
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        36
    );
}
