//! Connecting, listing tools and calling them.

use std::time::Duration;

use berth_mcp::McpError;
use berth_test_support::mcp_fixture::{McpFixture, McpFixtureOptions, SeenCall};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{args, connect_open};

const CALL: Duration = Duration::from_secs(10);

#[tokio::test]
async fn connects_lists_tools_and_calls_echo() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;

    let names: Vec<&str> = client.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["echo", "add", "fail", "sleep"]);
    let echo = &client.tools()[0];
    assert_eq!(echo.description, "Returns its text.");
    assert_eq!(
        echo.input_schema,
        json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        })
    );

    let result = client
        .call_tool("echo", args(json!({"text": "hello there"})), CALL)
        .await
        .unwrap();
    assert_eq!(
        result.content,
        [json!({"type": "text", "text": "hello there"})]
    );
    assert!(!result.is_error);
    assert_eq!(
        fixture.calls(),
        [SeenCall {
            tool: "echo".to_owned(),
            arguments: json!({"text": "hello there"}),
        }]
    );
    client.close().await;
}

#[tokio::test]
async fn add_returns_the_sum() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;
    let result = client
        .call_tool("add", args(json!({"a": 2, "b": 40})), CALL)
        .await
        .unwrap();
    assert_eq!(result.content, [json!({"type": "text", "text": "42"})]);
    client.close().await;
}

#[tokio::test]
async fn follows_tools_list_pagination() {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        page_size: Some(1),
        ..McpFixtureOptions::default()
    })
    .await;
    let client = connect_open(&fixture.url).await;

    let names: Vec<&str> = client.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["echo", "add", "fail", "sleep"]);
    let list_requests = fixture
        .requests()
        .iter()
        .filter(|r| r.rpc_method.as_deref() == Some("tools/list"))
        .count();
    assert_eq!(list_requests, 4);
    client.close().await;
}

#[tokio::test]
async fn a_failing_tool_is_an_error_result() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;
    let result = client
        .call_tool("fail", args(json!({"message": "disk full"})), CALL)
        .await
        .unwrap();
    assert!(result.is_error);
    assert_eq!(
        result.content,
        [json!({"type": "text", "text": "disk full"})]
    );
    client.close().await;
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;
    let error = client
        .call_tool("nope", serde_json::Map::new(), CALL)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, McpError::Protocol(m) if m.contains("no tool named nope")),
        "{error:?}"
    );
    client.close().await;
}

#[tokio::test]
async fn a_slow_tool_times_out_and_the_session_goes_on() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;

    let error = client
        .call_tool(
            "sleep",
            args(json!({"ms": 30_000})),
            Duration::from_millis(300),
        )
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Timeout("tool call")), "{error:?}");

    let result = client
        .call_tool("echo", args(json!({"text": "still here"})), CALL)
        .await
        .unwrap();
    assert_eq!(
        result.content,
        [json!({"type": "text", "text": "still here"})]
    );
    client.close().await;
}

#[tokio::test]
async fn close_ends_the_session_with_delete() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;
    client.close().await;
    assert!(
        fixture.requests().iter().any(|r| r.method == "DELETE"),
        "{:?}",
        fixture.requests()
    );
}
