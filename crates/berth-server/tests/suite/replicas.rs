//! Replicas on one PostgreSQL database behave as one service: a stream on any replica sees
//! every durable event of a turn run by another, once and in order; `Last-Event-ID` resumes on
//! a different replica; live deltas cross replicas; an interrupt posted to one replica stops
//! the turn another runs; input posted anywhere is processed.

use std::time::Duration;

use berth_test_support::replicas::spawn_replicas;
use berth_test_support::sessions::{all_events, new_session, say, wait_for_turns};
use berth_test_support::{FakeModel, ModelReply, SseEvent, SseStream, TestServer};
use reqwest::Method;

const WAIT: Duration = Duration::from_secs(15);

async fn open(server: &TestServer, session_id: &str, query: &str, last: Option<i64>) -> SseStream {
    let mut request = server
        .api()
        .raw(
            Method::GET,
            &format!("/v1/sessions/{session_id}/events/stream{query}"),
        )
        .header("x-api-key", &server.admin_key);
    if let Some(last) = last {
        request = request.header("last-event-id", last.to_string());
    }
    let stream = SseStream::open(request).await;
    assert_eq!(stream.status, 200);
    stream
}

fn seqs(events: &[SseEvent]) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| e.id.as_deref().and_then(|id| id.parse().ok()))
        .collect()
}

fn is_idle(e: &SseEvent) -> bool {
    e.event == "session.status_idle"
}

async fn three() -> Option<(Vec<TestServer>, FakeModel)> {
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let replicas = spawn_replicas(3, |c| {
        berth_test_support::with_model(c, &base);
        c.sse_keepalive = Duration::from_millis(300);
    })
    .await?;
    Some((replicas, model))
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_on_other_replicas_see_every_event_once() {
    let Some((replicas, model)) = three().await else {
        return;
    };
    let (a, b, c) = (&replicas[0], &replicas[1], &replicas[2]);
    let session = new_session(&a.api(), serde_json::json!({})).await;
    let id = session["id"].as_str().unwrap().to_owned();
    let mut on_b = open(b, &id, "", None).await;
    let mut deltas_on_c = open(c, &id, "?event_deltas%5B%5D=agent.message", None).await;

    for turn in 1..=3 {
        model.push(
            ModelReply::text(format!("answer number {turn} with several words in it"))
                .with_chunk_chars(4)
                .with_frame_delay(Duration::from_millis(15)),
        );
        // Post through a different replica each time.
        say(&replicas[turn % 3].api(), &id, &format!("question {turn}")).await;
        wait_for_turns(&a.api(), &id, turn, 20).await;
    }
    let log = all_events(&a.api(), &id).await;
    let log_seqs: Vec<i64> = log.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(log_seqs, (1..=log.len() as i64).collect::<Vec<_>>());

    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.extend(on_b.until(WAIT, is_idle).await);
    }
    assert_eq!(
        seqs(&seen),
        log_seqs,
        "replica B delivered every event once, in order"
    );

    let on_c = deltas_on_c.until(WAIT, is_idle).await;
    assert!(
        on_c.iter()
            .any(|e| e.event == "agent.message_delta" || e.event.ends_with("_delta")),
        "live deltas reached another replica: {:?}",
        on_c.iter().map(|e| e.event.clone()).collect::<Vec<_>>()
    );

    // A client that read up to the middle resumes on yet another replica.
    let middle = log_seqs[log_seqs.len() / 2];
    let mut resumed = open(c, &id, "", Some(middle)).await;
    let more = {
        model.push(ModelReply::text("one more"));
        say(&b.api(), &id, "again").await;
        resumed
            .until(WAIT, |e| {
                is_idle(e)
                    && e.id
                        .as_deref()
                        .is_some_and(|s| s.parse::<i64>().unwrap() > *log_seqs.last().unwrap())
            })
            .await
    };
    let resumed_seqs = seqs(&more);
    assert_eq!(resumed_seqs.first().copied(), Some(middle + 1));
    let expected: Vec<i64> = (middle + 1..=*resumed_seqs.last().unwrap()).collect();
    assert_eq!(
        resumed_seqs, expected,
        "no gap and no duplicate after the resume"
    );
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_on_one_replica_stops_a_turn_on_another() {
    let Some((replicas, model)) = three().await else {
        return;
    };
    let (a, b) = (&replicas[0], &replicas[1]);
    let session = new_session(&a.api(), serde_json::json!({})).await;
    let id = session["id"].as_str().unwrap().to_owned();
    let mut stream = open(b, &id, "?include=chunks", None).await;
    // An answer that starts and then never finishes: only the interrupt can end this turn.
    model.push(
        ModelReply::text("word ".repeat(200))
            .with_chunk_chars(5)
            .hanging_after(3),
    );
    say(&a.api(), &id, "talk for a while").await;
    stream
        .until(WAIT, |e| e.event == "agent.message_chunk")
        .await;
    for replica in &replicas[1..] {
        // Whichever replica claimed the turn, the interrupt is posted somewhere else too.
        replica
            .api()
            .post(
                &format!("/v1/sessions/{id}/events"),
                serde_json::json!({"events": [{"type": "user.interrupt"}]}),
            )
            .await
            .expect(202);
    }
    stream.until(WAIT, is_idle).await;
    let status = b.api().get(&format!("/v1/sessions/{id}")).await.expect(200);
    assert_eq!(status["status"], "idle");
}
