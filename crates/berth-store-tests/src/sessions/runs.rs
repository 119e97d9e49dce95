//! Contract cases for running a session: client events, turns and the runner's leases.

use berth_store::{
    AppendOutcome, ContextScope, SessionStatus, StreamBuffer, TurnEffects, TurnStart, UsageTotals,
};
use pretty_assertions::assert_eq;

use crate::fixtures::{event, session};

use super::{FAR_FUTURE, LONG_AGO, S, setup};

pub async fn client_events_queue_and_interrupt(store: S) {
    let (t, env) = setup(&store).await;
    let s = session(&t, &env, 1);
    store.create_session(&s, &[], &[]).await.unwrap();
    let AppendOutcome::Appended {
        stored: first,
        cancelled: none,
    } = store
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
    assert!(none.is_empty());
    let waiting =
        |rows: Vec<berth_store::StoredEvent>| rows.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(
        waiting(store.queued_inputs(&s.id, 10).await.unwrap()),
        vec![1, 2]
    );
    assert_eq!(
        waiting(store.queued_inputs(&s.id, 1).await.unwrap()),
        vec![1]
    );
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
    let AppendOutcome::Appended {
        stored: second,
        cancelled,
    } = store
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
    assert_eq!(
        cancelled,
        first
            .iter()
            .map(|e| berth_store::CancelledInput {
                id: e.id.clone(),
                seq: e.seq
            })
            .collect::<Vec<_>>()
    );
    let row = store.get_session(&t, &s.id).await.unwrap().unwrap();
    assert_eq!(row.pending_inputs, 1);
    assert_eq!(row.last_seq, 4);
    assert_eq!(
        waiting(store.queued_inputs(&s.id, 10).await.unwrap()),
        vec![4]
    );
    let cancelled_event = store.get_event(&s.id, &first[0].id).await.unwrap().unwrap();
    assert_eq!(cancelled_event.cancelled_at, Some(20));

    let (other, _) = setup(&store).await;
    assert_eq!(
        store
            .append_client_events(&other, &s.id, &[event("user.message")], 30)
            .await
            .unwrap(),
        AppendOutcome::NotFound
    );
    // Archiving terminates: the queued message is cancelled, the terminated event is logged,
    // the status stays terminated and nothing more is taken in.
    assert_eq!(
        store
            .archive_session(&other, &s.id, 40, &[event("session.status_terminated")])
            .await
            .unwrap(),
        None
    );
    let archived = store
        .archive_session(&t, &s.id, 40, &[event("session.status_terminated")])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(archived.len(), 1);
    assert_eq!(archived[0].seq, 5);
    assert_eq!(archived[0].processed_at, Some(40));
    let row = store.get_session(&t, &s.id).await.unwrap().unwrap();
    assert_eq!(row.status, SessionStatus::Terminated);
    assert_eq!((row.pending_inputs, row.last_seq), (0, 5));
    let queued = store
        .get_event(&s.id, &second[1].id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(queued.cancelled_at, Some(40));
    assert_eq!(
        store
            .archive_session(&t, &s.id, 45, &[event("session.status_terminated")])
            .await
            .unwrap(),
        Some(Vec::new()),
        "archiving twice changes nothing"
    );
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
        .create_session(&s, &[], &[event("user.message")])
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
    assert_eq!(lease.status_at_claim, SessionStatus::Idle);
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
        SessionStatus::Running
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
                status: Some(SessionStatus::Idle),
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
    assert_eq!(row.status, SessionStatus::Idle);
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
        .create_session(&s, &[], &[event("user.message")])
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
                kind: berth_store::EventKind::AgentMessage,
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
                kind: berth_store::EventKind::AgentMessage,
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
                kind: berth_store::EventKind::AgentMessage,
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
