//! Findings 2 and 3: unbounded events exhausted memory (100 events of 1 MB, then concurrent
//! reads of the full log at 100 MB each), and one 20 MB message bricked its session. Events are
//! capped in size and in bytes per minute per session, pages are bounded by bytes, the log is
//! streamed, a message that can never fit the model's context is refused when sent, and an
//! oversized piece already in a session no longer stops its turns.

use berth_server::ServerConfig;
use berth_test_support::sessions::{all_events, new_session, say, wait_for_turns};
use berth_test_support::{FakeModel, ModelReply, TestServer};
use serde_json::{Value, json};

use super::SECS;

mod capped {
    on_both_backends_configured!(small_event_limits; events_are_capped_in_size_and_rate);
    use super::*;
}
mod paged {
    on_both_backends_configured!(no_input_rate; pages_and_the_log_stay_bounded);
    use super::*;
}
mod context {
    on_both_backends_configured!(no_input_rate; messages_must_fit_the_context_and_sessions_recover);
    use super::*;
}

const MAX_EVENT: usize = 64 << 10;

fn small_event_limits(config: &mut ServerConfig) {
    config.max_event_bytes = MAX_EVENT;
    config.rate_limits.session_input_bytes_per_minute = 1 << 20;
}

fn no_input_rate(config: &mut ServerConfig) {
    config.rate_limits.session_input_bytes_per_minute = 0;
}

fn system_message(bytes: usize) -> Value {
    json!({"events": [{"type": "system.message", "content": [{"type": "text", "text": "x".repeat(bytes)}]}]})
}

async fn event_count(server: &TestServer, session: &str) -> usize {
    all_events(&server.api(), session).await.len()
}

async fn events_are_capped_in_size_and_rate(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    let path = format!("/v1/sessions/{id}/events");
    let before = event_count(server, id).await;
    let refused = api
        .post(&path, system_message(MAX_EVENT + 1))
        .await
        .expect(400);
    assert_eq!(refused["error"]["type"], "invalid_request_error");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most"),
        "{refused}"
    );
    assert_eq!(event_count(server, id).await, before, "nothing was stored");
    // 1 MiB a minute: about sixteen events of 60 KiB, then 429 with retry-after.
    super::start_of_a_rate_window().await;
    let mut accepted = 0;
    let refusal = loop {
        let reply = api.post(&path, system_message(60 << 10)).await;
        if reply.status.as_u16() == 202 {
            accepted += 1;
            assert!(accepted < 40, "the rate limit never held");
            continue;
        }
        break reply;
    };
    assert_eq!(refusal.status.as_u16(), 429, "{}", refusal.text);
    assert!(refusal.headers.get("retry-after").is_some());
    assert!(
        refusal.text.contains("rate_limit_error"),
        "{}",
        refusal.text
    );
    assert!((14..=17).contains(&accepted), "{accepted}");
    assert_eq!(event_count(server, id).await, before + accepted);
}

async fn pages_and_the_log_stay_bounded(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    let path = format!("/v1/sessions/{id}/events");
    // 6 MiB of events: more than one page holds.
    for _ in 0..24 {
        api.post(&path, system_message(256 << 10)).await.expect(202);
    }
    let first: Value = api.get(&format!("{path}?limit=1000")).await.expect(200);
    let page = first["data"].as_array().unwrap();
    assert!(
        page.len() < 24,
        "the page ended on its byte budget: {}",
        page.len()
    );
    assert!(first.to_string().len() < 5 << 20);
    assert_eq!(first["has_more"], true);
    let total = all_events(&api, id).await;
    let messages = total
        .iter()
        .filter(|e| e["type"] == "system.message")
        .count();
    assert_eq!(messages, 24, "paging reaches every event");
    // The full log is one JSON array, streamed.
    let log = api.get(&format!("/v1/sessions/{id}/log")).await.expect(200);
    assert_eq!(log.as_array().unwrap().len(), total.len());
}

async fn messages_must_fit_the_context_and_sessions_recover(
    server: &TestServer,
    model: &FakeModel,
) {
    let api = server.api();
    let session = new_session(&api, json!({"tools": [{"type": "agent_toolset_20260401"}]})).await;
    let id = session["id"].as_str().unwrap();
    // Far more than the model's 200,000-token window could ever take in one message.
    let huge = json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "word ".repeat(400_000)}]}]});
    let refused = api
        .post(&format!("/v1/sessions/{id}/events"), huge)
        .await
        .expect(400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model's context"),
        "{refused}"
    );
    // An oversized piece inside a session (here a tool input the model wrote) no longer fails
    // the session's turns.
    model.push(ModelReply::tool_use(
        "toolu_big",
        "write",
        json!({"file_path": "/workspace/big.txt", "content": "y".repeat(1_500_000)}),
    ));
    model.push(ModelReply::text("written"));
    say(&api, id, "write it").await;
    wait_for_turns(&api, id, 1, SECS).await;
    model.push(ModelReply::text("still here"));
    say(&api, id, "and now?").await;
    wait_for_turns(&api, id, 2, SECS).await;
    let events = all_events(&api, id).await;
    let errors: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "session.error")
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let last = events
        .iter()
        .rfind(|e| e["type"] == "agent.message")
        .unwrap();
    assert_eq!(last["content"][0]["text"], "still here");
    let sent = model.turn_requests().last().unwrap().body.to_string();
    assert!(
        sent.len() < 1_000_000,
        "the model saw the oversized input cut: {}",
        sent.len()
    );
}
