//! Contract cases for the event log: filtered, paged lists and gapless concurrent appends.

use std::sync::Arc;

use berth_store::{EventQuery, SortOrder, TurnEffects};
use pretty_assertions::assert_eq;

use crate::fixtures::{event, session};

use super::{S, events_query, setup};

pub async fn event_lists_filter_and_page(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[], &[]).await.unwrap();
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
    // Berth's extension events are left out on request.
    store
        .append_client_events(&t, &s.id, &[event("session.warning")], 450)
        .await
        .unwrap();
    let contract_only = EventQuery {
        hide_extensions: true,
        ..events_query(10)
    };
    assert_eq!(
        seqs(store.list_events(&t, &s.id, &contract_only).await.unwrap()),
        vec![1, 2, 3, 4]
    );
    assert_eq!(
        seqs(
            store
                .list_events(&t, &s.id, &events_query(10))
                .await
                .unwrap()
        ),
        vec![1, 2, 3, 4, 5]
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
        seqs(store.read_events(&s.id, 2, 10, u64::MAX).await.unwrap()),
        vec![3, 4, 5]
    );
    // Byte budgets end a page at the event that reaches them, and never return nothing.
    let one_body = store.read_events(&s.id, 0, 1, u64::MAX).await.unwrap()[0]
        .body
        .len() as u64;
    assert_eq!(
        seqs(store.read_events(&s.id, 0, 10, one_body + 1).await.unwrap()),
        vec![1, 2]
    );
    assert_eq!(
        seqs(store.read_events(&s.id, 0, 10, 1).await.unwrap()),
        vec![1]
    );
    let budgeted = EventQuery {
        max_bytes: Some(2 * one_body),
        ..events_query(10)
    };
    assert_eq!(
        seqs(store.list_events(&t, &s.id, &budgeted).await.unwrap()),
        vec![1, 2]
    );
}

pub async fn concurrent_appends_keep_seq_gapless(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[], &[]).await.unwrap();
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
    let all = store.read_events(&s.id, 0, 1000, u64::MAX).await.unwrap();
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
