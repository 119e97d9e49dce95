//! Sessions on every kind of model card: the requests each wire format gets, tool calls and
//! thinking on each, retries and their events, failures that must not be retried, rotation
//! without a restart, compaction, and exact usage.

use std::time::{Duration, Instant};

use berth_test_support::sessions::{
    all_events, new_session, say, types, wait_for_status, wait_for_turns,
};
use berth_test_support::{Block, FakeModel, FakeUsage, ModelReply, TestServer, Wire};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    every_provider_kind_runs_turns_with_tools,
    thinking_round_trips_through_cards,
    transient_failures_are_retried_with_events,
    retries_run_out_into_retries_exhausted,
    an_interrupt_ends_the_backoff,
    a_rejected_key_is_terminal_until_the_card_is_fixed,
    usage_is_exact_across_providers_and_retries,
    long_conversations_are_compacted_and_continue,
    a_context_too_large_to_compact_ends_the_turn,
    a_cut_off_answer_ends_the_turn_clearly,
);

const SECS: u64 = 20;
const CUSTOM_TOOL: &str = "lookup";

async fn create_card(
    server: &TestServer,
    fake: &FakeModel,
    model_id: &str,
    provider: &str,
    extra: Value,
) -> Value {
    let base = if provider.starts_with("oai") {
        format!("{}/v1", fake.base_url)
    } else {
        fake.base_url.clone()
    };
    let mut body = json!({
        "model_id": model_id,
        "provider": provider,
        "model": format!("wire-{model_id}"),
        "base_url": base,
        "api_key": format!("sk-{model_id}-key-0123456789"),
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    server.api().post("/v1/model_cards", body).await.expect(200)
}

fn custom_tool() -> Value {
    json!({"type": "custom", "name": CUSTOM_TOOL, "description": "Looks a word up.",
           "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}}})
}

fn by_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

async fn every_provider_kind_runs_turns_with_tools(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    for provider in ["ant", "ant-compatible", "oai", "oai-compatible"] {
        let handle = format!("m-{provider}");
        create_card(server, fake, &handle, provider, json!({})).await;
        let session = new_session(
            &api,
            json!({"model": handle, "system": "Be brief.", "tools": [custom_tool()]}),
        )
        .await;
        let id = session["id"].as_str().unwrap();
        fake.clear_records();
        fake.push(ModelReply::message(
            vec![
                Block::Text("Let me look.".into()),
                Block::ToolUse {
                    id: "call_7".into(),
                    name: CUSTOM_TOOL.into(),
                    input: json!({"word": "berth", "deep": {"a": [1, 2]}}),
                },
            ],
            "tool_use",
        ));
        fake.push(ModelReply::text(format!("Done on {provider}.")));
        say(&api, id, "look up berth").await;
        let session = wait_for_turns(&api, id, 1, SECS).await;
        let events = all_events(&api, id).await;
        let tool_use = by_type(&events, "agent.custom_tool_use");
        assert_eq!(tool_use.len(), 1, "{provider}: {:?}", types(&events));
        assert_eq!(tool_use[0]["name"], CUSTOM_TOOL);
        assert_eq!(
            tool_use[0]["input"],
            json!({"word": "berth", "deep": {"a": [1, 2]}}),
            "{provider}: fragments joined"
        );
        let idle = by_type(&events, "session.status_idle");
        assert_eq!(
            idle[0]["stop_reason"]["type"], "requires_action",
            "{provider}"
        );
        api.post(
            &format!("/v1/sessions/{id}/events"),
            json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": tool_use[0]["id"],
                               "content": [{"type": "text", "text": "a place to moor"}]}]}),
        )
        .await
        .expect(202);
        wait_for_turns(&api, id, 2, SECS).await;
        let events = all_events(&api, id).await;
        let tool_use = by_type(&events, "agent.custom_tool_use");
        let answer =
            by_type(&events, "agent.message").last().unwrap()["content"][0]["text"].clone();
        assert_eq!(answer, format!("Done on {provider}."));
        assert!(session["status"] == "idle");

        let requests = fake.turn_requests();
        assert_eq!(requests.len(), 2, "{provider}");
        let key = format!("sk-{handle}-key-0123456789");
        let (first, second) = (&requests[0], &requests[1]);
        assert_eq!(first.body["model"], format!("wire-{handle}"));
        if provider.starts_with("ant") {
            assert_eq!(first.wire, Wire::Anthropic);
            assert_eq!(first.headers["x-api-key"], key.as_str());
            assert_eq!(first.body["system"][0]["text"], "Be brief.");
            assert_eq!(first.body["tools"][0]["name"], CUSTOM_TOOL);
            assert_eq!(
                first.body["tools"][0]["cache_control"],
                json!({"type": "ephemeral"}),
                "the last tool is a cache breakpoint"
            );
            let result = &second.body["messages"][2]["content"][0];
            assert_eq!(result["type"], "tool_result");
            assert_eq!(
                result["tool_use_id"], tool_use[0]["id"],
                "tool calls are known by their event ids"
            );
        } else {
            assert_eq!(first.wire, Wire::OpenAi);
            assert_eq!(first.headers["authorization"], format!("Bearer {key}"));
            assert_eq!(first.body["stream_options"], json!({"include_usage": true}));
            assert_eq!(
                first.body["messages"][0],
                json!({"role": "system", "content": "Be brief."})
            );
            assert_eq!(first.body["tools"][0]["function"]["name"], CUSTOM_TOOL);
            let limit = if provider == "oai" {
                "max_completion_tokens"
            } else {
                "max_tokens"
            };
            assert!(first.body[limit].is_u64(), "{provider} sends {limit}");
            let messages = second.body["messages"].as_array().unwrap();
            let call = &messages[2];
            assert_eq!(call["role"], "assistant");
            assert_eq!(call["tool_calls"][0]["id"], tool_use[0]["id"]);
            assert_eq!(
                serde_json::from_str::<Value>(
                    call["tool_calls"][0]["function"]["arguments"]
                        .as_str()
                        .unwrap()
                )
                .unwrap(),
                json!({"word": "berth", "deep": {"a": [1, 2]}})
            );
            assert_eq!(
                messages[3],
                json!({"role": "tool", "tool_call_id": tool_use[0]["id"], "content": "a place to moor"})
            );
        }
    }
}

async fn thinking_round_trips_through_cards(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    // Anthropic-compatible: thinking is requested, and the signed block goes back verbatim.
    create_card(server, fake, "thinker", "ant-compatible", json!({})).await;
    let session = new_session(
        &api,
        json!({"model": {"id": "thinker", "effort": {"type": "low"}}, "tools": [custom_tool()]}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    fake.clear_records();
    fake.push(ModelReply::message(
        vec![
            Block::Thinking {
                text: "I should look it up.".into(),
                signature: "sig-abc==".into(),
            },
            Block::ToolUse {
                id: "toolu_1".into(),
                name: CUSTOM_TOOL.into(),
                input: json!({"word": "x"}),
            },
        ],
        "tool_use",
    ));
    fake.push(ModelReply::text("ok"));
    say(&api, id, "think").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let thinking = by_type(&events, "agent.thinking");
    assert_eq!(thinking.len(), 1);
    assert!(
        thinking[0].get("thinking").is_none(),
        "thinking text is never shown"
    );
    let call = by_type(&events, "agent.custom_tool_use")[0]["id"].clone();
    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": call, "content": [{"type": "text", "text": "y"}]}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, id, 2, SECS).await;
    let requests = fake.turn_requests();
    assert_eq!(requests[0].body["thinking"]["type"], "enabled");
    let replayed = &requests[1].body["messages"][1]["content"][0];
    assert_eq!(replayed["type"], "thinking");
    assert_eq!(replayed["thinking"], "I should look it up.");
    assert_eq!(replayed["signature"], "sig-abc==");

    // OpenAI-compatible: reasoning streams as thinking; it is asked for with reasoning_effort and
    // never sent back.
    create_card(server, fake, "reasoner", "oai-compatible", json!({})).await;
    let session = new_session(
        &api,
        json!({"model": {"id": "reasoner", "effort": {"type": "high"}}}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    fake.clear_records();
    fake.push(ModelReply::thinking_then_text(
        "Weighing options.",
        "",
        "Option B.",
    ));
    fake.push(ModelReply::text("Still B."));
    say(&api, id, "choose").await;
    wait_for_turns(&api, id, 1, SECS).await;
    say(&api, id, "sure?").await;
    wait_for_turns(&api, id, 2, SECS).await;
    let events = all_events(&api, id).await;
    assert_eq!(by_type(&events, "agent.thinking").len(), 1);
    let requests = fake.turn_requests();
    assert_eq!(requests[0].body["reasoning_effort"], "high");
    let history = requests[1].body["messages"].to_string();
    assert!(history.contains("Option B."));
    assert!(!history.contains("Weighing options."), "{history}");
}

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
    let started = Instant::now();
    say(&api, id, "hello").await;
    // While it waits out the provider's retry-after, the session says so.
    wait_for_status(&api, id, "rescheduling", 5).await;
    wait_for_turns(&api, id, 1, SECS).await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retry-after was honoured"
    );
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
    let asked = Instant::now();
    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.interrupt"}]}),
    )
    .await
    .expect(202);
    wait_for_status(&api, id, "idle", 5).await;
    assert!(asked.elapsed() < Duration::from_secs(3));
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

fn usage(input: u64, output: u64, read: u64, creation: u64) -> FakeUsage {
    FakeUsage {
        input_tokens: input,
        output_tokens: output,
        cache_read_input_tokens: read,
        cache_creation_input_tokens: creation,
    }
}

async fn usage_is_exact_across_providers_and_retries(server: &TestServer, fake: &FakeModel) {
    let api = server.api();
    create_card(server, fake, "counted", "oai-compatible", json!({})).await;
    let session = new_session(&api, json!({"tools": [custom_tool()]})).await;
    let id = session["id"].as_str().unwrap();
    // Anthropic (the default provider): a 429, then a tool call, then the answer.
    fake.push(ModelReply::rate_limited(0));
    fake.push(
        ModelReply::tool_use("t1", CUSTOM_TOOL, json!({"word": "a"}))
            .with_usage(usage(100, 10, 40, 5)),
    );
    say(&api, id, "one").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let call = by_type(&all_events(&api, id).await, "agent.custom_tool_use")[0]["id"].clone();
    fake.push(ModelReply::text("first").with_usage(usage(150, 20, 0, 60)));
    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": call, "content": [{"type": "text", "text": "r"}]}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, id, 2, SECS).await;
    // Another session runs on an OpenAI-compatible card: cached tokens count as cache reads.
    let session2 = new_session(&api, json!({"model": "counted"})).await;
    let id2 = session2["id"].as_str().unwrap();
    fake.push(ModelReply::text("second").with_usage(usage(300, 30, 200, 0)));
    say(&api, id2, "two").await;
    wait_for_turns(&api, id2, 1, SECS).await;

    for (sid, expected) in [
        (
            id,
            json!([[0, 0, 0, 0], [100, 10, 40, 5], [150, 20, 0, 60]]),
        ),
        (id2, json!([[300, 30, 200, 0]])),
    ] {
        let events = all_events(&api, sid).await;
        let spans: Vec<Value> = by_type(&events, "span.model_request_end")
            .iter()
            .map(|e| {
                let u = &e["model_usage"];
                json!([
                    u["input_tokens"],
                    u["output_tokens"],
                    u["cache_read_input_tokens"],
                    u["cache_creation_input_tokens"]
                ])
            })
            .collect();
        assert_eq!(Value::Array(spans), expected);
        let totals = api.get(&format!("/v1/sessions/{sid}")).await.expect(200)["usage"].clone();
        let sum = |i: usize| {
            expected
                .as_array()
                .unwrap()
                .iter()
                .map(|row| row[i].as_u64().unwrap())
                .sum::<u64>()
        };
        assert_eq!(totals["input_tokens"], sum(0));
        assert_eq!(totals["output_tokens"], sum(1));
        assert_eq!(totals["cache_read_input_tokens"], sum(2));
        let creation = &totals["cache_creation"];
        assert_eq!(
            creation["ephemeral_5m_input_tokens"].as_u64().unwrap()
                + creation["ephemeral_1h_input_tokens"].as_u64().unwrap(),
            sum(3)
        );
    }
}

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
    let session = new_session(&api, json!({"model": "tiny"})).await;
    let id = session["id"].as_str().unwrap();
    fake.clear_records();
    say(&api, id, &filler("huge", 1500)).await;
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

/// With only `OPENAI_API_KEY` set, agents no card serves run on Chat Completions; a stream that
/// goes silent past the idle timeout is abandoned and retried.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openai_default_provider_serves_and_silent_streams_time_out() {
    let fake = FakeModel::start().await;
    let base = format!("{}/v1", fake.base_url);
    let server = berth_test_support::spawn_server_with(|c| {
        berth_test_support::with_model(c, &fake.base_url);
        c.anthropic_api_key = None;
        c.openai_api_key = Some("sk-openai-operator-key".to_owned());
        c.openai_base_url = Some(base.clone());
        c.model_idle_timeout = Duration::from_millis(400);
    })
    .await;
    let api = server.api();
    let session = new_session(&api, json!({"model": "gpt-operator"})).await;
    let id = session["id"].as_str().unwrap();
    fake.push(ModelReply::text("never finishes").hanging_after(1));
    fake.push(ModelReply::text("second try"));
    say(&api, id, "hello").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let error = by_type(&events, "session.error")[0].clone();
    assert_eq!(error["error"]["retry_status"], json!({"type": "retrying"}));
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sent nothing"),
        "{error}"
    );
    assert_eq!(
        by_type(&events, "agent.message")[0]["content"][0]["text"],
        "second try"
    );
    let requests = fake.turn_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].wire, Wire::OpenAi);
    assert_eq!(
        requests[0].headers["authorization"],
        "Bearer sk-openai-operator-key"
    );
    assert_eq!(requests[0].body["model"], "gpt-operator");
    assert!(
        requests[0].body["max_tokens"].is_u64(),
        "a custom base URL gets max_tokens"
    );
    server.stop().await;
}
