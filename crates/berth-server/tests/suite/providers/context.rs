//! Long conversations on model cards: compaction, contexts too large to compact, and answers
//! cut off at the output limit.

use berth_test_support::sessions::{all_events, new_session, say, wait_for_turns};
use berth_test_support::{Block, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{CUSTOM_TOOL, SECS, by_type, create_card, custom_tool};

on_both_backends_with_model!(
    long_conversations_are_compacted_and_continue,
    a_context_too_large_to_compact_ends_the_turn,
    a_cut_off_answer_ends_the_turn_clearly,
);

/// About `tokens` tokens of distinct text (the estimate counts four characters per token).
fn filler(tag: &str, tokens: usize) -> String {
    let mut text = format!("[{tag}] ");
    while text.len() < tokens * 4 {
        text.push_str(tag);
        text.push(' ');
    }
    text
}

async fn long_conversations_are_compacted_and_continue(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    create_card(
        server,
        fake,
        "small",
        "ant-compatible",
        json!({"context_window": 1000}),
    )
    .await;
    let session = new_session(&api, json!({"model": "small"})).await;
    let id = session["id"].as_str().unwrap();
    fake.clear_records();
    for turn in 1..=3 {
        fake.push(ModelReply::text(format!("noted {turn}")));
        say(&api, id, &filler(&format!("part{turn}"), 225)).await;
        wait_for_turns(&api, id, turn, SECS).await;
    }
    // The fourth message pushes the context past 80% of the window: the older turns are
    // summarised first, then the turn runs on the summary.
    fake.push(ModelReply::text(
        "SUMMARY: the user sent parts one and two.",
    ));
    fake.push(ModelReply::text("noted 4"));
    say(&api, id, &filler("part4", 225)).await;
    wait_for_turns(&api, id, 4, SECS).await;
    let requests = fake.turn_requests();
    assert_eq!(requests.len(), 5);
    let summary_request = requests[3].body.to_string();
    assert!(
        summary_request.contains("Summarize the conversation"),
        "{summary_request}"
    );
    assert!(summary_request.contains("part1"));
    let after = requests[4].body["messages"].to_string();
    assert!(
        after.contains("SUMMARY: the user sent parts one and two."),
        "{after}"
    );
    assert!(
        !after.contains("part1"),
        "the summarised turns are not sent again"
    );
    assert!(after.contains("part4"));

    let events = all_events(&api, id).await;
    let compacted = by_type(&events, "agent.thread_context_compacted");
    assert_eq!(compacted.len(), 1);
    assert!(
        compacted[0].get("summary").is_none(),
        "the summary stays private"
    );
    // The log keeps everything.
    let said: Vec<&Value> = by_type(&events, "user.message");
    assert_eq!(said.len(), 4);
    assert_eq!(by_type(&events, "agent.message").len(), 4);
    assert!(
        !by_type(&events, "agent.message")
            .iter()
            .any(|e| e["content"].to_string().contains("SUMMARY"))
    );

    // The summary's own request is a span like any other, and counted in the session's usage.
    let spans = by_type(&events, "span.model_request_end");
    assert_eq!(spans.len(), 5);
    let spent: u64 = spans
        .iter()
        .map(|e| e["model_usage"]["input_tokens"].as_u64().unwrap())
        .sum();
    let session = api.get(&format!("/v1/sessions/{id}")).await.expect(200);
    assert_eq!(session["usage"]["input_tokens"], spent);

    // The next turn starts from the summary too.
    fake.push(ModelReply::text("noted 5"));
    say(&api, id, "short").await;
    wait_for_turns(&api, id, 5, SECS).await;
    let next = fake.turn_requests().pop().unwrap().body["messages"].to_string();
    assert!(next.contains("SUMMARY:") && !next.contains("part1"));
}

async fn a_context_too_large_to_compact_ends_the_turn(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    create_card(
        server,
        fake,
        "tiny",
        "oai-compatible",
        json!({"context_window": 1000}),
    )
    .await;
    // A message that could never fit is refused when it is sent, and nothing is stored.
    let session = new_session(&api, json!({"model": "tiny"})).await;
    let id = session["id"].as_str().unwrap();
    let refused = api
        .post(
            &format!("/v1/sessions/{id}/events"),
            json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": filler("huge", 1500)}]}]}),
        )
        .await
        .expect(400);
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("model's context"),
        "{refused}"
    );
    assert!(
        by_type(&all_events(&api, id).await, "user.message").is_empty(),
        "nothing was stored"
    );
    // A system prompt alone larger than the window leaves nothing to compact: the turn ends.
    let session = new_session(
        &api,
        json!({"model": "tiny", "system": filler("rules", 1500)}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    fake.clear_records();
    say(&api, id, "hello").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let error = by_type(&events, "session.error")[0].clone();
    assert_eq!(error["error"]["type"], "compaction_limit_reached_error");
    assert_eq!(error["error"]["retry_status"], json!({"type": "terminal"}));
    assert!(
        fake.turn_requests().is_empty(),
        "nothing over the window was sent"
    );
    assert_eq!(
        by_type(&events, "session.status_idle")[0]["stop_reason"],
        json!({"type": "end_turn"})
    );
}

async fn a_cut_off_answer_ends_the_turn_clearly(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    create_card(server, fake, "short", "oai", json!({})).await;
    let session = new_session(&api, json!({"model": "short", "tools": [custom_tool()]})).await;
    let id = session["id"].as_str().unwrap();
    fake.push(ModelReply::message(
        vec![
            Block::Text("The answer is long and".into()),
            Block::ToolUse {
                id: "c1".into(),
                name: CUSTOM_TOOL.into(),
                input: json!({"word": "cut"}),
            },
        ],
        "max_tokens",
    ));
    say(&api, id, "write a lot").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    assert_eq!(
        by_type(&events, "agent.message")[0]["content"][0]["text"],
        "The answer is long and"
    );
    let error = by_type(&events, "session.error")[0].clone();
    assert_eq!(error["error"]["type"], "model_request_failed_error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("output token limit")
    );
    let idle = by_type(&events, "session.status_idle")[0].clone();
    assert_eq!(
        idle["stop_reason"],
        json!({"type": "end_turn"}),
        "the cut-off tool call is not awaited"
    );
}
