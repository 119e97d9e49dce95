//! Servers that speak only the older HTTP+SSE transport: the fallback from Streamable HTTP,
//! credentials on the stream and every POST, and the endpoint the server announces.

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth_mcp::{McpClient, McpError, StaticToken};
use berth_test_support::legacy_sse_fixture::{
    LegacySseFixture, LegacySseFixtureOptions, SeenRequest,
};
use berth_test_support::mcp_fixture::McpFixture;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::auth::Rotating;
use super::{args, connect, connect_open, loopback_policy, server};

const CALL: Duration = Duration::from_secs(10);

/// Each request as `METHOD /path rpc-method`, for whole-list assertions.
fn summary(requests: &[SeenRequest]) -> Vec<String> {
    requests
        .iter()
        .map(|r| {
            let rpc = r.rpc_method.as_deref().unwrap_or("-");
            format!("{} {} {rpc}", r.method, r.path)
        })
        .collect()
}

#[tokio::test]
async fn falls_back_to_http_sse_and_calls_echo() {
    let fixture = LegacySseFixture::start().await;
    let client = connect_open(&fixture.url).await;
    assert_eq!(client.transport(), "sse");

    let names: Vec<&str> = client.tools().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["echo"]);
    assert_eq!(
        client.tools()[0].input_schema,
        json!({
            "type": "object",
            "properties": {"text": {"type": "string"}},
            "required": ["text"],
        })
    );
    let result = client
        .call_tool("echo", args(json!({"text": "from the old days"})), CALL)
        .await
        .unwrap();
    assert_eq!(
        result.content,
        [json!({"type": "text", "text": "from the old days"})]
    );
    assert!(!result.is_error);

    // Streamable HTTP first (refused with 405), then the event stream and POSTs to its endpoint.
    assert_eq!(
        summary(&fixture.requests()),
        [
            "POST /sse initialize",
            "GET /sse -",
            "POST /messages initialize",
            "POST /messages notifications/initialized",
            "POST /messages tools/list",
            "POST /messages tools/call",
        ]
    );
    client.close().await;
}

#[tokio::test]
async fn streamable_http_servers_keep_streamable_http() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;
    assert_eq!(client.transport(), "streamable_http");
    client.close().await;
}

#[tokio::test]
async fn an_unknown_tool_is_a_protocol_error() {
    let fixture = LegacySseFixture::start().await;
    let client = connect_open(&fixture.url).await;
    let error = client
        .call_tool("nope", serde_json::Map::new(), CALL)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, McpError::Protocol(m) if m.contains("no tool named")),
        "{error:?}"
    );
    client.close().await;
}

#[tokio::test]
async fn sends_the_bearer_token_on_the_stream_and_every_post() {
    let fixture = LegacySseFixture::start_with(LegacySseFixtureOptions {
        token: Some("s3cret".to_owned()),
        ..LegacySseFixtureOptions::default()
    })
    .await;
    let client = connect(
        &fixture.url,
        Arc::new(StaticToken(Some("s3cret".to_owned()))),
    )
    .await
    .unwrap();
    assert_eq!(client.transport(), "sse");
    client
        .call_tool("echo", args(json!({"text": "hi"})), CALL)
        .await
        .unwrap();
    client.close().await;

    let requests = fixture.requests();
    assert!(requests.iter().any(|r| r.method == "GET"), "{requests:?}");
    assert_eq!(
        requests.iter().filter(|r| r.path == "/messages").count(),
        4,
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some("Bearer s3cret")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_401_is_no_reason_to_fall_back() {
    let fixture = LegacySseFixture::start_with(LegacySseFixtureOptions {
        token: Some("s3cret".to_owned()),
        ..LegacySseFixtureOptions::default()
    })
    .await;
    let error = connect(&fixture.url, Arc::new(StaticToken(None)))
        .await
        .unwrap_err();
    assert!(matches!(error, McpError::Authentication(_)), "{error:?}");
    assert_eq!(summary(&fixture.requests()), ["POST /sse initialize"]);
}

#[tokio::test]
async fn a_401_on_a_post_is_cured_by_a_refreshed_token() {
    let fixture = LegacySseFixture::start_with(LegacySseFixtureOptions {
        token: Some("old".to_owned()),
        ..LegacySseFixtureOptions::default()
    })
    .await;
    let auth = Rotating::new("old", Some("new"));
    let client = connect(&fixture.url, auth.clone()).await.unwrap();
    assert_eq!(auth.refused(), Vec::<String>::new());

    fixture.set_token(Some("new"));
    let result = client
        .call_tool("echo", args(json!({"text": "after rotation"})), CALL)
        .await
        .unwrap();
    assert_eq!(
        result.content,
        [json!({"type": "text", "text": "after rotation"})]
    );
    assert_eq!(auth.refused(), ["old"]);
    let calls: Vec<_> = fixture
        .requests()
        .into_iter()
        .filter(|r| r.rpc_method.as_deref() == Some("tools/call"))
        .map(|r| r.authorization)
        .collect();
    assert_eq!(
        calls,
        [Some("Bearer old".to_owned()), Some("Bearer new".to_owned())]
    );
    client.close().await;
}

#[tokio::test]
async fn an_endpoint_on_another_origin_is_refused() {
    // Another server the fixture's endpoint event points at: it must never see the token.
    let elsewhere = LegacySseFixture::start().await;
    let fixture = LegacySseFixture::start_with(LegacySseFixtureOptions {
        token: Some("s3cret".to_owned()),
        endpoint: Some(elsewhere.url.replace("/sse", "/messages?session_id=1")),
        ..LegacySseFixtureOptions::default()
    })
    .await;
    let error = connect(
        &fixture.url,
        Arc::new(StaticToken(Some("s3cret".to_owned()))),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, McpError::Connection(m) if m.contains("another origin")),
        "{error:?}"
    );
    assert_eq!(elsewhere.requests(), []);
    assert_eq!(
        summary(&fixture.requests()),
        ["POST /sse initialize", "GET /sse -"]
    );
}

#[tokio::test]
async fn startup_times_out_when_no_endpoint_is_announced() {
    let fixture = LegacySseFixture::start_with(LegacySseFixtureOptions {
        silent: true,
        ..LegacySseFixtureOptions::default()
    })
    .await;
    let error = McpClient::connect(
        &loopback_policy(),
        &server(&fixture.url),
        Arc::new(StaticToken(None)),
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, McpError::Timeout("startup")), "{error:?}");
    assert_eq!(
        summary(&fixture.requests()),
        ["POST /sse initialize", "GET /sse -"]
    );
}

#[tokio::test]
async fn a_url_speaking_neither_transport_reports_both_refusals() {
    let fixture = LegacySseFixture::start().await;
    let url = fixture.url.replace("/sse", "/nothing");
    let error = connect(&url, Arc::new(StaticToken(None)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &error,
            McpError::Protocol(m) if m == "the server speaks neither Streamable HTTP nor HTTP+SSE \
                at this URL (POST: HTTP 404 Not Found; GET: HTTP 404 Not Found)"
        ),
        "{error:?}"
    );
    assert_eq!(
        summary(&fixture.requests()),
        ["POST /nothing initialize", "GET /nothing -"]
    );
}

#[tokio::test]
async fn close_ends_the_event_stream() {
    let fixture = LegacySseFixture::start().await;
    let client = connect_open(&fixture.url).await;
    assert_eq!(fixture.open_streams(), 1);
    client.close().await;

    // The server notices the dropped connection on its own schedule.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fixture.open_streams() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(fixture.open_streams(), 0);
}
