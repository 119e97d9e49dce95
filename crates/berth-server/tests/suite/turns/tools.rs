//! Tool calls in the turn loop: custom tools waiting for the client, unknown tools, and runaway
//! loops stopped at the step limit.

use std::time::Duration;

use berth_test_support::sessions::{all_events, new_session, say, wait_for_turns};
use berth_test_support::{Block, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::SECS;

on_both_backends_with_model!(
    custom_tools_wait_for_the_client,
    unknown_tools_get_an_error_result,
    runaway_loops_stop_at_the_step_limit,
);

async fn custom_tools_wait_for_the_client(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(
        &api,
        json!({"tools": [{"type": "custom", "name": "get_weather", "description": "Weather for a city",
                          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]}),
    )
    .await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::message(
        vec![
            Block::Text("Let me check.".into()),
            Block::ToolUse {
                id: "toolu_01".into(),
                name: "get_weather".into(),
                input: json!({"city": "Oslo"}),
            },
        ],
        "tool_use",
    ));
    model.push(ModelReply::text("It is sunny in Oslo."));
    say(&api, id, "Weather in Oslo?").await;
    wait_for_turns(&api, id, 1, SECS).await;
    let events = all_events(&api, id).await;
    let call = events
        .iter()
        .find(|e| e["type"] == "agent.custom_tool_use")
        .unwrap();
    assert_eq!(call["name"], "get_weather");
    assert_eq!(call["input"], json!({"city": "Oslo"}));
    let idle = events
        .iter()
        .rev()
        .find(|e| e["type"] == "session.status_idle")
        .unwrap();
    assert_eq!(
        idle["stop_reason"],
        json!({"type": "requires_action", "event_ids": [call["id"]]})
    );
    let requests = model.requests();
    assert_eq!(requests[0].body["tools"][0]["name"], "get_weather");

    api.post(
        &format!("/v1/sessions/{id}/events"),
        json!({"events": [{"type": "user.custom_tool_result", "custom_tool_use_id": call["id"],
                           "content": [{"type": "text", "text": "sunny, 21C"}]}]}),
    )
    .await
    .expect(202);
    let requests = model.wait_for_requests(2, Duration::from_secs(5)).await;
    wait_for_turns(&api, id, 2, SECS).await;
    let messages = requests[1].body["messages"].as_array().unwrap();
    let assistant = &messages[1]["content"];
    assert_eq!(assistant[1]["type"], "tool_use");
    assert_eq!(
        assistant[1]["id"], call["id"],
        "the call id the model sees is the event id"
    );
    let result = &messages[2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["tool_use_id"], call["id"]);
    assert_eq!(result["content"][0]["text"], "sunny, 21C");
    let events = all_events(&api, id).await;
    assert_eq!(
        events.last().unwrap()["stop_reason"],
        json!({"type": "end_turn"})
    );
}

async fn unknown_tools_get_an_error_result(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    model.push(ModelReply::tool_use(
        "toolu_x",
        "teleport",
        json!({"to": "mars"}),
    ));
    model.push(ModelReply::text("Sorry, I cannot do that."));
    say(&api, id, "go to mars").await;
    let requests = model.wait_for_requests(2, Duration::from_secs(5)).await;
    wait_for_turns(&api, id, 1, SECS).await;
    let result = &requests[1].body["messages"][2]["content"][0];
    assert_eq!(result["type"], "tool_result");
    assert_eq!(result["is_error"], true);
    let events = all_events(&api, id).await;
    let tool_result = events
        .iter()
        .find(|e| e["type"] == "agent.tool_result")
        .unwrap();
    assert_eq!(tool_result["is_error"], true);
    assert!(
        tool_result["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("teleport")
    );
}

async fn runaway_loops_stop_at_the_step_limit(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = new_session(&api, json!({})).await;
    let id = session["id"].as_str().unwrap();
    for i in 0..=berth_agent::MAX_STEPS {
        model.push(ModelReply::tool_use(
            &format!("toolu_{i}"),
            "spin",
            json!({}),
        ));
    }
    say(&api, id, "loop forever").await;
    model
        .wait_for_requests(berth_agent::MAX_STEPS, Duration::from_secs(60))
        .await;
    let session = wait_for_turns(&api, id, 1, 60).await;
    assert_eq!(session["status"], "idle");
    let events = all_events(&api, id).await;
    let error = events
        .iter()
        .find(|e| e["type"] == "session.error")
        .unwrap();
    assert_eq!(error["error"]["type"], "tool_use_limit_reached_error");
    assert_eq!(model.requests().len(), berth_agent::MAX_STEPS);
}
