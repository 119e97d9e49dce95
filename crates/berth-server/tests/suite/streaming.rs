//! Server-sent event streams: live tails, previews, chunks, replay, Last-Event-ID, keep-alives,
//! the one-shot `/messages`, and closing when the session goes away.

use std::time::Duration;

use berth_test_support::sessions::{new_session, say, wait_for_event, wait_for_turns};
use berth_test_support::{FakeModel, ModelReply, SseEvent, SseStream, TestServer};
use pretty_assertions::assert_eq;
use reqwest::Method;
use serde_json::{Value, json};

on_both_backends_with_model!(
    live_tail_carries_the_contract_events_with_seq_ids,
    previews_announce_ids_that_the_final_events_keep,
    chunks_use_the_extension_names,
    chunk_streams_open_with_the_inputs_that_wait,
    replay_and_last_event_id_resume_without_gaps,
    idle_streams_get_keepalives,
    one_shot_messages_stream_one_turn_and_close,
    streams_close_when_the_session_is_deleted,
    accept_header_switches_the_list_to_a_stream,
);

const WAIT: Duration = Duration::from_secs(10);

fn is_idle(e: &SseEvent) -> bool {
    e.event == "session.status_idle"
}

fn names(events: &[SseEvent]) -> Vec<String> {
    events.iter().map(|e| e.event.clone()).collect()
}

async fn live_tail_carries_the_contract_events_with_seq_ids(
    server: &TestServer,
    _model: &FakeModel,
) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = server.stream(&id, "").await;
    say(&api, &id, "hello").await;
    let events = stream.until(WAIT, is_idle).await;
    assert_eq!(
        names(&events),
        vec![
            "user.message",
            "session.status_running",
            "span.model_request_start",
            "agent.message",
            "span.model_request_end",
            "session.status_idle"
        ]
    );
    for (i, e) in events.iter().enumerate() {
        assert_eq!(
            e.id.as_deref(),
            Some((i + 1).to_string().as_str()),
            "id is the seq"
        );
        assert_eq!(e.data["type"], e.event.as_str(), "event name is the type");
        assert_eq!(e.data["seq"], i + 1);
    }
    assert_eq!(
        events[3].data["content"],
        json!([{"type": "text", "text": "echo: hello"}])
    );
    assert_eq!(events[4].data["model_usage"]["input_tokens"], 12);
    assert_eq!(
        events[4].data["model_request_start_id"],
        events[2].data["id"]
    );
    // A second turn arrives on the same stream.
    say(&api, &id, "again").await;
    let more = stream.until(WAIT, is_idle).await;
    assert_eq!(more[0].data["content"][0]["text"], "again");
}

async fn previews_announce_ids_that_the_final_events_keep(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = server
        .stream(
            &id,
            "?event_deltas%5B%5D=agent.message&event_deltas%5B%5D=agent.thinking",
        )
        .await;
    model.push(
        ModelReply::thinking_then_text("let me think about it", "sig-1", "a fairly long answer")
            .with_chunk_chars(4),
    );
    say(&api, &id, "question").await;
    let events = stream.until(WAIT, is_idle).await;
    let starts: Vec<&SseEvent> = events.iter().filter(|e| e.event == "event_start").collect();
    assert_eq!(starts.len(), 2);
    assert_eq!(starts[0].data["event"]["type"], "agent.thinking");
    assert_eq!(starts[1].data["event"]["type"], "agent.message");
    let message_id = starts[1].data["event"]["id"].clone();
    let deltas: Vec<&SseEvent> = events.iter().filter(|e| e.event == "event_delta").collect();
    assert!(deltas.len() > 2, "text arrives in pieces");
    let joined: String = deltas
        .iter()
        .inspect(|d| {
            assert_eq!(d.data["event_id"], message_id);
            assert_eq!(d.data["delta"]["index"], 0);
            assert!(d.id.is_none(), "deltas have no sequence number");
        })
        .map(|d| {
            d.data["delta"]["content"]["text"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(joined, "a fairly long answer");
    let thinking = events.iter().find(|e| e.event == "agent.thinking").unwrap();
    assert_eq!(thinking.data["id"], starts[0].data["event"]["id"]);
    assert!(
        thinking.data.get("thinking").is_none(),
        "thinking text is never exposed"
    );
    let message = events.iter().find(|e| e.event == "agent.message").unwrap();
    assert_eq!(message.data["id"], message_id);
    assert!(
        !names(&events).iter().any(|n| n.contains("chunk")),
        "chunks are a separate opt-in"
    );
}

async fn chunks_use_the_extension_names(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = server.stream(&id, "?include=chunks").await;
    let sent = say(&api, &id, "chunky").await;
    let events = stream.until(WAIT, is_idle).await;
    let n = names(&events);
    // The queue's notifications: the input waits, then a turn takes it.
    let pending = events
        .iter()
        .find(|e| e.event == "system.user_message_pending")
        .unwrap();
    assert_eq!(pending.data["event_id"], sent["id"]);
    assert_eq!(pending.data["event"]["type"], "user.message");
    assert!(pending.data["event"]["processed_at"].is_null());
    let promoted = events
        .iter()
        .find(|e| e.event == "system.user_message_promoted")
        .unwrap();
    assert_eq!(promoted.data["event_id"], sent["id"]);
    assert_eq!(promoted.data["seq"], sent["seq"]);
    assert!(promoted.data["processed_at"].is_string());
    let at = |name: &str| n.iter().position(|x| x == name).unwrap();
    assert!(at("system.user_message_pending") < at("system.user_message_promoted"));
    assert!(at("system.user_message_promoted") < at("agent.message_stream_start"));
    assert!(n.contains(&"agent.message_stream_start".to_owned()));
    assert!(n.contains(&"agent.message_stream_end".to_owned()));
    let start = events
        .iter()
        .find(|e| e.event == "agent.message_stream_start")
        .unwrap();
    let chunks: String = events
        .iter()
        .filter(|e| e.event == "agent.message_chunk")
        .map(|e| {
            assert_eq!(e.data["message_id"], start.data["message_id"]);
            e.data["delta"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(chunks, "echo: chunky");
    let end = events
        .iter()
        .find(|e| e.event == "agent.message_stream_end")
        .unwrap();
    assert_eq!(end.data["status"], "completed");
    assert!(!n.contains(&"event_delta".to_owned()));

    // An interrupt cancels what waits before it, and says so.
    let both = api
        .post(
            &format!("/v1/sessions/{id}/events"),
            json!({"events": [
                {"type": "user.message", "content": [{"type": "text", "text": "never mind"}]},
                {"type": "user.interrupt"}
            ]}),
        )
        .await
        .expect(202);
    let cancelled = stream
        .until(WAIT, |e| e.event == "system.user_message_cancelled")
        .await;
    let cancelled = cancelled.last().unwrap();
    assert_eq!(cancelled.data["event_id"], both["data"][0]["id"]);
    assert_eq!(cancelled.data["pending_seq"], both["data"][0]["seq"]);
}

async fn replay_and_last_event_id_resume_without_gaps(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    say(&api, &id, "one").await;
    wait_for_turns(&api, &id, 1, 10).await;
    let mut replay = server.stream(&id, "?replay=1").await;
    let first = replay.until(WAIT, is_idle).await;
    let seqs: Vec<String> = first.iter().map(|e| e.id.clone().unwrap()).collect();
    assert_eq!(seqs, (1..=6).map(|i| i.to_string()).collect::<Vec<_>>());
    say(&api, &id, "two").await;
    let second = replay.until(WAIT, is_idle).await;
    assert_eq!(
        second[0].id.as_deref(),
        Some("7"),
        "then the live tail, continuing the sequence"
    );

    let mut resumed = SseStream::open(
        api.raw(Method::GET, &format!("/v1/sessions/{id}/events/stream"))
            .header("x-api-key", &server.admin_key)
            .header("last-event-id", "4"),
    )
    .await;
    let rest = resumed.until(WAIT, |e| e.id.as_deref() == Some("12")).await;
    let seqs: Vec<i64> = rest
        .iter()
        .map(|e| e.id.as_deref().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        seqs,
        (5..=12).collect::<Vec<_>>(),
        "exactly the events after 4, each once"
    );
    let bad = api
        .raw(Method::GET, &format!("/v1/sessions/{id}/events/stream"))
        .header("x-api-key", &server.admin_key)
        .header("last-event-id", "banana")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

async fn idle_streams_get_keepalives(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = server.stream(&id, "").await;
    let first = stream
        .next(Duration::from_secs(3))
        .await
        .expect("a ping arrives");
    assert_eq!(first.event, "ping");
    assert_eq!(first.data, json!({}));
}

async fn one_shot_messages_stream_one_turn_and_close(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = SseStream::open(
        api.raw(Method::POST, &format!("/v1/sessions/{id}/messages"))
            .header("x-api-key", &server.admin_key)
            .json(&json!({"content": "one shot"})),
    )
    .await;
    assert_eq!(stream.status, 200);
    let events = stream.rest(WAIT).await;
    let n = names(&events);
    assert_eq!(n.first().map(String::as_str), Some("user.message"));
    assert_eq!(
        n.last().map(String::as_str),
        Some("session.status_idle"),
        "closes after idle"
    );
    assert!(
        n.contains(&"agent.message_chunk".to_owned()),
        "chunks included"
    );
    assert_eq!(events[0].data["content"][0]["text"], "one shot");
    assert!(events[0].data["processed_at"].is_string());
    let message = events.iter().find(|e| e.event == "agent.message").unwrap();
    assert_eq!(message.data["content"][0]["text"], "echo: one shot");
    let blocks = api
        .raw(Method::POST, &format!("/v1/sessions/{id}/messages"))
        .header("x-api-key", &server.admin_key)
        .json(&json!({"content": [{"type": "text", "text": "as blocks"}]}));
    let mut second = SseStream::open(blocks).await;
    let events = second.rest(WAIT).await;
    assert_eq!(events[0].data["content"][0]["text"], "as blocks");
    let bad = api
        .post(
            &format!("/v1/sessions/{id}/messages"),
            json!({"content": 5}),
        )
        .await;
    assert_eq!(bad.status, 400);
}

async fn streams_close_when_the_session_is_deleted(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut stream = server.stream(&id, "").await;
    api.delete(&format!("/v1/sessions/{id}")).await.expect(200);
    let rest = stream.rest(WAIT).await;
    assert_eq!(names(&rest), vec!["session.deleted"]);
}

async fn accept_header_switches_the_list_to_a_stream(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    say(&api, &id, "x").await;
    wait_for_turns(&api, &id, 1, 10).await;
    let mut stream = SseStream::open(
        api.raw(Method::GET, &format!("/v1/sessions/{id}/events?replay=1"))
            .header("x-api-key", &server.admin_key)
            .header("accept", "text/event-stream"),
    )
    .await;
    assert_eq!(stream.status, 200);
    let first = stream.until(WAIT, |_| true).await;
    assert_eq!(first[0].event, "user.message");
    let value: Value = first[0].data.clone();
    assert_eq!(value["seq"], 1);
}

/// An `include=chunks` stream opened while inputs wait begins with a pending frame for each.
async fn chunk_streams_open_with_the_inputs_that_wait(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let id = new_session(&api, json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // A turn that never ends keeps the session busy, so the next message waits.
    model.push(ModelReply::text("thinking it over slowly").hanging_after(1));
    say(&api, &id, "first").await;
    wait_for_event(&api, &id, "session.status_running", 10).await;
    let waiting = say(&api, &id, "second").await;
    assert!(waiting["processed_at"].is_null());
    let mut stream = server.stream(&id, "?include=chunks").await;
    let pending = stream
        .until(WAIT, |e| e.event == "system.user_message_pending")
        .await;
    let pending = pending.last().unwrap();
    assert_eq!(pending.data["event_id"], waiting["id"]);
    assert_eq!(pending.data["event"]["content"][0]["text"], "second");
    // The interrupt ends the turn and drops what waits.
    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.interrupt"}]}),
    )
    .await
    .expect(202);
    let cancelled = stream
        .until(WAIT, |e| e.event == "system.user_message_cancelled")
        .await;
    assert_eq!(cancelled.last().unwrap().data["event_id"], waiting["id"]);
}
