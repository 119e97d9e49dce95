//! Retries on model cards: transient failures retried with events, retries running out, an
//! interrupt ending the backoff, and rejected keys that are terminal until the card is fixed.

use berth_test_support::sessions::{
    all_events, new_session, say, types, wait_for_status, wait_for_turns,
};
use berth_test_support::{FakeModel, ModelReply, TestServer, Wire};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{SECS, by_type, create_card};

on_both_backends_with_model!(
    transient_failures_are_retried_with_events,
    retries_run_out_into_retries_exhausted,
    an_interrupt_ends_the_backoff,
    a_rejected_key_is_terminal_until_the_card_is_fixed,
);

async fn transient_failures_are_retried_with_events(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    fake.push(ModelReply::rate_limited(1));
    fake.push(ModelReply::overloaded());
    fake.push(ModelReply::stream_error(
        "api_error",
        "Internal server error",
    ));
    fake.push(ModelReply::text("Third time lucky."));
    say(&api, id, "hello").await;
    // While it waits out the provider's retry-after, the session says so.
    wait_for_status(&api, id, "rescheduling", 5).await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let flow: Vec<String> = types(&events)
        .into_iter()
        .filter(|t| !t.starts_with("span.") && t != "user.message")
        .collect();
    assert_eq!(
        flow,
        [
            "session.status_running",
            "session.error",
            "session.status_rescheduled",
            "session.status_running",
            "session.error",
            "session.status_rescheduled",
            "session.status_running",
            "session.error",
            "session.status_rescheduled",
            "session.status_running",
            "agent.message",
            "session.status_idle",
        ]
    );
    // The provider's retry-after (1 s) passed between the rate-limited attempt and the next.
    let at = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(events[i]["processed_at"].as_str().unwrap()).unwrap()
    };
    let rescheduled = events
        .iter()
        .position(|e| e["type"] == "session.status_rescheduled")
        .unwrap();
    let rerun = rescheduled
        + events[rescheduled..]
            .iter()
            .position(|e| e["type"] == "session.status_running")
            .unwrap();
    assert!(
        at(rerun) - at(rescheduled) >= chrono::Duration::milliseconds(900),
        "retry-after was honoured: rescheduled at {}, running again at {}",
        at(rescheduled),
        at(rerun)
    );
    let errors = by_type(&events, "session.error");
    let kinds: Vec<&str> = errors
        .iter()
        .map(|e| e["error"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "model_rate_limited_error",
            "model_overloaded_error",
            "model_request_failed_error"
        ]
    );
    assert!(
        errors
            .iter()
            .all(|e| e["error"]["retry_status"] == json!({"type": "retrying"}))
    );
    assert!(
        errors[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Internal server error")
    );
    let ends = by_type(&events, "span.model_request_end");
    assert_eq!(ends.len(), 4);
    assert!(ends[..3].iter().all(|e| e["is_error"] == true));
    assert_eq!(
        by_type(&events, "session.status_idle")[0]["stop_reason"],
        json!({"type": "end_turn"})
    );
    assert_eq!(
        by_type(&events, "agent.message").len(),
        1,
        "nothing partial was kept from the failures"
    );
    assert_eq!(
        api.get(&format!("/v1/sessions/{id}")).await.body["status"],
        "idle"
    );
}

async fn retries_run_out_into_retries_exhausted(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    for _ in 0..4 {
        fake.push(ModelReply::error(503, "api_error", "upstream unavailable"));
    }
    say(&api, id, "hello").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let errors = by_type(&events, "session.error");
    let statuses: Vec<&str> = errors
        .iter()
        .map(|e| e["error"]["retry_status"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["retrying", "retrying", "retrying", "exhausted"]);
    assert!(
        errors
            .iter()
            .all(|e| e["error"]["type"] == "model_request_failed_error")
    );
    let idle = by_type(&events, "session.status_idle");
    assert_eq!(idle[0]["stop_reason"], json!({"type": "retries_exhausted"}));
    assert_eq!(fake.turn_requests().len(), 4);

    // The session stays usable.
    say(&api, id, "again").await;
    wait_for_turns(&api, id, 2, SECS).await;
    let events = all_events(&api, id).await;
    // The unanswered message is still part of the conversation.
    assert_eq!(
        by_type(&events, "agent.message")[0]["content"][0]["text"],
        "echo: hello again"
    );
}

async fn an_interrupt_ends_the_backoff(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    fake.push(ModelReply::rate_limited(60));
    say(&api, id, "hello").await;
    wait_for_status(&api, id, "rescheduling", 5).await;
    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.interrupt"}]}),
    )
    .await
    .expect(202);
    wait_for_status(&api, id, "idle", 5).await;
    assert_eq!(
        fake.turn_requests().len(),
        1,
        "no retry after the interrupt"
    );
}

async fn a_rejected_key_is_terminal_until_the_card_is_fixed(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    let card = create_card(server, fake, "rotated", "oai", json!({})).await;
    let card_id = card["id"].as_str().unwrap();
    let old_key = "sk-rotated-key-0123456789";
    let session = new_session(&api, json!({"model": "rotated"})).await;
    let id = session["id"].as_str().unwrap();
    // The provider revokes the key: OpenAI answers 401 quoting it half-masked.
    fake.accept_keys(&["sk-proj-fresh-key-abcdefghij"]);
    fake.clear_records();
    say(&api, id, "hello").await;
    wait_for_turns(&api, id, 1, SECS).await;
    assert_eq!(
        fake.turn_requests().len(),
        1,
        "authentication failures are not retried"
    );
    let events = all_events(&api, id).await;
    let error = by_type(&events, "session.error")[0].clone();
    assert_eq!(error["error"]["type"], "model_request_failed_error");
    assert_eq!(error["error"]["retry_status"], json!({"type": "terminal"}));
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("Incorrect API key provided"), "{message}");
    assert!(
        !message.contains(old_key)
            && !message.contains(&berth_test_support::fake_llm::masked_key(old_key)),
        "{message}"
    );
    assert!(!message.contains("sk-rot"), "{message}");

    // Rotating the card fixes the session without a restart.
    api.post(
        &format!("/v1/model_cards/{card_id}"),
        json!({"api_key": "sk-proj-fresh-key-abcdefghij", "model": "wire-renamed"}),
    )
    .await
    .expect(200);
    say(&api, id, "again").await;
    wait_for_turns(&api, id, 2, SECS).await;
    let requests = fake.turn_requests();
    let last = requests.last().unwrap();
    assert_eq!(
        last.headers["authorization"],
        "Bearer sk-proj-fresh-key-abcdefghij"
    );
    assert_eq!(last.body["model"], "wire-renamed");
    let events = all_events(&api, id).await;
    assert_eq!(
        by_type(&events, "agent.message")[0]["content"][0]["text"],
        "echo: hello again"
    );

    // Deleting the card falls back to the server's default provider.
    api.delete(&format!("/v1/model_cards/{card_id}"))
        .await
        .expect(200);
    say(&api, id, "fallback").await;
    wait_for_turns(&api, id, 3, SECS).await;
    let last = fake.requests().pop().unwrap();
    assert_eq!(last.wire, Wire::Anthropic);
    assert_eq!(last.body["model"], "rotated");
}
