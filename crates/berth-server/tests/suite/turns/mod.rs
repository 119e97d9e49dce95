//! The turn loop against a fake model: what is sent, what is stored, queueing, interrupts,
//! custom tools, and failures.

mod tools;

use std::time::Duration;

use berth_test_support::sessions::{
    all_events, new_session, say, types, wait_for_status, wait_for_turns,
};
use berth_test_support::{Block, FakeModel, FakeUsage, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    a_turn_sends_the_agent_and_stores_the_answer,
    thinking_signatures_round_trip,
    messages_sent_mid_turn_are_queued_and_run_in_order,
    interrupt_stops_a_hanging_stream,
    cancel_stops_the_turn_and_drops_the_queue,
    partial_answers_re_idle_with_the_rest,
    model_errors_become_session_errors_and_the_session_recovers,
);

pub(super) const SECS: u64 = 15;

async fn a_turn_sends_the_agent_and_stores_the_answer(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(
        &api,
        json!({"model": "claude-sonnet-4-6", "system": "You are terse."}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::text("Hi there.").with_usage(FakeUsage {
        input_tokens: 100,
        output_tokens: 20,
        cache_read_input_tokens: 5,
        cache_creation_input_tokens: 7,
    }));
    say(&api, id, "Hello").await;
    let session = wait_for_turns(&api, id, 1, SECS).await;
    let requests = model.wait_for_requests(1, Duration::from_secs(5)).await;
    let request = &requests[0];
    assert_eq!(request.headers["x-api-key"], "sk-ant-test-key");
    assert_eq!(request.headers["anthropic-version"], "2023-06-01");
    assert_eq!(request.body["model"], "claude-sonnet-4-6");
    assert_eq!(request.body["stream"], true);
    assert_eq!(request.body["system"][0]["text"], "You are terse.");
    assert_eq!(
        request.body["system"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(request.body["messages"][0]["role"], "user");
    assert_eq!(request.body["messages"][0]["content"][0]["text"], "Hello");
    assert_eq!(
        request.body["messages"][0]["content"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    let events = all_events(&api, id).await;
    let message = events
        .iter()
        .find(|e| e["type"] == "agent.message")
        .unwrap();
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": "Hi there."}])
    );
    assert_eq!(session["usage"]["input_tokens"], 100);
    assert_eq!(session["usage"]["output_tokens"], 20);
    assert_eq!(session["usage"]["cache_read_input_tokens"], 5);
    assert_eq!(
        session["usage"]["cache_creation"]["ephemeral_5m_input_tokens"],
        7
    );
    assert!(session["stats"]["active_seconds"].as_f64().unwrap() > 0.0);
    // A second turn carries the first in its context.
    say(&api, id, "And again").await;
    let requests = model.wait_for_requests(2, Duration::from_secs(5)).await;
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 3);
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["content"][0]["text"], "Hi there.");
    let session = wait_for_turns(&api, id, 2, SECS).await;
    assert_eq!(session["usage"]["input_tokens"], 112, "usage accumulates");
}

async fn thinking_signatures_round_trip(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(
        &api,
        json!({"model": {"id": "claude-sonnet-4-6", "effort": "medium"}}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::thinking_then_text(
        "first I consider",
        "sig-abc",
        "Answer one",
    ));
    say(&api, id, "Think").await;
    wait_for_turns(&api, id, 1, SECS).await;
    say(&api, id, "More").await;
    let requests = model.wait_for_requests(2, Duration::from_secs(5)).await;
    assert_eq!(
        requests[0].body["thinking"],
        json!({"type": "enabled", "budget_tokens": 8192})
    );
    let assistant = &requests[1].body["messages"][1];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(
        assistant["content"][0],
        json!({"type": "thinking", "thinking": "first I consider", "signature": "sig-abc"})
    );
    assert_eq!(assistant["content"][1]["text"], "Answer one");
    let events = all_events(&api, id).await;
    let thinking = events
        .iter()
        .find(|e| e["type"] == "agent.thinking")
        .unwrap();
    assert!(!thinking.to_string().contains("first I consider"));
}

async fn messages_sent_mid_turn_are_queued_and_run_in_order(
    server: &TestServer,
    model: &FakeModel,
) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::text("slow answer to one").with_frame_delay(Duration::from_millis(60)));
    say(&api, id, "one").await;
    wait_for_status(&api, id, "running", SECS).await;
    let two = say(&api, id, "two").await;
    let three = say(&api, id, "three").await;
    assert_eq!(
        two["processed_at"],
        Value::Null,
        "queued while the turn runs"
    );
    assert_eq!(three["processed_at"], Value::Null);
    let requests = model.wait_for_requests(3, Duration::from_secs(10)).await;
    wait_for_turns(&api, id, 3, SECS).await;
    let last_user = |r: &berth_test_support::RecordedRequest| r.last_user_text();
    assert_eq!(
        requests.iter().map(last_user).collect::<Vec<_>>(),
        vec!["one", "two", "three"]
    );
    let second = requests[1].body["messages"].as_array().unwrap();
    assert_eq!(second.len(), 3, "two comes after the whole first turn");
    assert_eq!(second[1]["content"][0]["text"], "slow answer to one");
    let events = all_events(&api, id).await;
    let idles = events
        .iter()
        .filter(|e| e["type"] == "session.status_idle")
        .count();
    assert_eq!(idles, 3, "each message is its own turn");
    let processed = |text: &str| {
        events
            .iter()
            .find(|e| e["type"] == "user.message" && e["content"][0]["text"] == text)
            .unwrap()["processed_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first_idle = events
        .iter()
        .find(|e| e["type"] == "session.status_idle")
        .unwrap()["processed_at"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        processed("two") >= first_idle,
        "picked up after the first turn ended"
    );
    assert!(processed("three") > processed("two"));
}

async fn interrupt_stops_a_hanging_stream(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    // Three deltas, then the model sends nothing more: only the interrupt can end this turn.
    model.push(
        ModelReply::text("partial answer that never finishes")
            .hanging_after(3)
            .with_chunk_chars(5),
    );
    let mut stream = server.stream(id, "?include=chunks").await;
    say(&api, id, "start").await;
    let mut streamed = String::new();
    while streamed != "partial answer " {
        let event = stream
            .next(Duration::from_secs(SECS))
            .await
            .expect("the deltas never streamed");
        if event.event == "agent.message_chunk" {
            streamed.push_str(event.data["delta"].as_str().unwrap());
        }
    }
    let queued = say(&api, id, "queued before the interrupt").await;
    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.interrupt"}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let message = events
        .iter()
        .find(|e| e["type"] == "agent.message")
        .expect("the partial text is kept");
    assert_eq!(
        message["content"][0]["text"], "partial answer ",
        "exactly what streamed"
    );
    let end = events
        .iter()
        .find(|e| e["type"] == "span.model_request_end")
        .unwrap();
    assert!(end["model_request_start_id"].is_string());
    let order = types(&events);
    let interrupt_at = order.iter().position(|t| t == "user.interrupt").unwrap();
    assert_eq!(
        order[interrupt_at..].to_vec(),
        vec![
            "user.interrupt",
            "agent.message",
            "span.model_request_end",
            "session.status_idle"
        ],
        "the partial message and the closed span follow the interrupt"
    );
    assert!(
        !events.iter().any(|e| e["type"] == "session.error"),
        "an interrupt is not an error"
    );
    // The message queued before the interrupt was dropped (the next request answers the next
    // message); the session still works.
    let dropped = events.iter().find(|e| e["id"] == queued["id"]).unwrap();
    assert_eq!(dropped["processed_at"], Value::Null);
    say(&api, id, "after").await;
    let requests = model.wait_for_requests(2, Duration::from_secs(5)).await;
    assert_eq!(requests[1].last_user_text(), "after");
    let context = requests[1].body["messages"].as_array().unwrap();
    assert!(
        !context
            .iter()
            .any(|m| m.to_string().contains("queued before the interrupt"))
    );
}

async fn cancel_stops_the_turn_and_drops_the_queue(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::text("never ends").hanging_after(0));
    say(&api, id, "start").await;
    wait_for_status(&api, id, "running", SECS).await;
    let cancelled = api
        .post(&format!("/v1/sessions/{id}/cancel"), json!(null))
        .await
        .expect(200);
    assert_eq!(cancelled["type"], "session");
    let session = wait_for_turns(&api, id, 1, 2).await;
    assert_eq!(session["status"], "idle");
    let events = all_events(&api, id).await;
    assert!(events.iter().any(|e| e["type"] == "user.interrupt"));
    assert!(
        !events.iter().any(|e| e["type"] == "agent.message"),
        "nothing streamed, nothing kept"
    );
}

async fn partial_answers_re_idle_with_the_rest(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(
        &api,
        json!({"tools": [{"type": "custom", "name": "t", "description": "d", "input_schema": {"type": "object"}}]}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::message(
        vec![
            Block::ToolUse {
                id: "toolu_a".into(),
                name: "t".into(),
                input: json!({"n": 1}),
            },
            Block::ToolUse {
                id: "toolu_b".into(),
                name: "t".into(),
                input: json!({"n": 2}),
            },
        ],
        "tool_use",
    ));
    say(&api, id, "go").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let calls: Vec<Value> = all_events(&api, id)
        .await
        .into_iter()
        .filter(|e| e["type"] == "agent.custom_tool_use")
        .collect();
    assert_eq!(calls.len(), 2);
    let answer = |call: &Value| json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": call["id"], "content": [{"type": "text", "text": "ok"}]}]});
    api.post(&format!("/v1/sessions/{id}/events"), answer(&calls[0]))
        .await
        .expect(202);
    let idle = loop {
        let events = all_events(&api, id).await;
        let idles: Vec<Value> = events
            .iter()
            .filter(|e| e["type"] == "session.status_idle")
            .cloned()
            .collect();
        if idles.len() == 2 {
            break idles[1].clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        idle["stop_reason"],
        json!({"type": "requires_action", "event_ids": [calls[1]["id"]]})
    );
    assert_eq!(
        model.requests().len(),
        1,
        "the model waits for every answer"
    );
    api.post(&format!("/v1/sessions/{id}/events"), answer(&calls[1]))
        .await
        .expect(202);
    let requests = model.wait_for_requests(2, Duration::from_secs(5)).await;
    let results = &requests[1].body["messages"][2]["content"];
    assert_eq!(results.as_array().unwrap().len(), 2);
}

async fn model_errors_become_session_errors_and_the_session_recovers(
    server: &TestServer,
    model: &FakeModel,
) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::error(
        400,
        "invalid_request_error",
        "max_tokens is too large for this model",
    ));
    say(&api, id, "fail please").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let error = events
        .iter()
        .find(|e| e["type"] == "session.error")
        .unwrap();
    assert_eq!(error["error"]["type"], "model_request_failed_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_tokens is too large")
    );
    assert_eq!(error["error"]["retry_status"]["type"], "terminal");
    let end = events
        .iter()
        .find(|e| e["type"] == "span.model_request_end")
        .unwrap();
    assert_eq!(end["is_error"], true);
    assert!(!error.to_string().contains("sk-ant-test-key"));
    say(&api, id, "works now").await;
    model.wait_for_requests(2, Duration::from_secs(5)).await;
    wait_for_turns(&api, id, 2, SECS).await;
    let events = all_events(&api, id).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e["type"] == "agent.message")
            .count(),
        1
    );
}
