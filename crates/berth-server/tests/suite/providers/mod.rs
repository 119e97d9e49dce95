//! Sessions on every kind of model card: the requests each wire format gets, tool calls and
//! thinking on each, retries and their events, failures that must not be retried, rotation
//! without a restart, compaction, and exact usage.

mod context;
mod retries;

use std::time::Duration;

use berth_test_support::sessions::{all_events, new_session, say, types, wait_for_turns};
use berth_test_support::{Block, FakeModel, FakeUsage, ModelReply, TestServer, Wire};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    every_provider_kind_runs_turns_with_tools,
    thinking_round_trips_through_cards,
    usage_is_exact_across_providers_and_retries,
);

pub(super) const SECS: u64 = 20;
pub(super) const CUSTOM_TOOL: &str = "lookup";

pub(super) async fn create_card(
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

pub(super) fn custom_tool() -> Value {
    json!({"type": "custom", "name": CUSTOM_TOOL, "description": "Looks a word up.",
           "input_schema": {"type": "object", "properties": {"word": {"type": "string"}}}})
}

pub(super) fn by_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
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
