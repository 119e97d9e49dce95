//! Servers that cannot be used: unreachable, failing, hanging, or refused by the egress policy.

use std::sync::Arc;
use std::time::Duration;

use berth_mcp::{McpClient, McpError, StaticToken};
use berth_net::EgressPolicy;
use berth_test_support::mcp_fixture::{HangingServer, McpFixture, McpFixtureOptions};

use super::{STARTUP, connect, connect_open, server};

#[tokio::test]
async fn an_unreachable_server_is_a_connection_error() {
    // A port that was just free: nothing listens there.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    drop(listener);

    let error = connect(&url, Arc::new(StaticToken(None)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, McpError::Connection(m) if m.to_lowercase().contains("refused")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_answering_500_is_a_connection_error() {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        failing: true,
        ..McpFixtureOptions::default()
    })
    .await;
    let error = connect(&fixture.url, Arc::new(StaticToken(None)))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, McpError::Connection(m) if m.contains("500")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_failing_mid_session_fails_the_call() {
    let fixture = McpFixture::start().await;
    let client = connect_open(&fixture.url).await;
    fixture.set_failing(true);
    let error = client
        .call_tool("echo", serde_json::Map::new(), Duration::from_secs(10))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, McpError::Connection(m) if m.contains("500")),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_at_startup() {
    let hanging = HangingServer::start().await;
    let error = McpClient::connect(
        &super::loopback_policy(),
        &server(&hanging.url),
        Arc::new(StaticToken(None)),
        Duration::from_millis(500),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, McpError::Timeout("startup")), "{error:?}");
}

#[tokio::test]
async fn the_egress_policy_refuses_loopback_unless_allowed() {
    let fixture = McpFixture::start().await;
    let error = McpClient::connect(
        &EgressPolicy::parse("").unwrap(),
        &server(&fixture.url),
        Arc::new(StaticToken(None)),
        STARTUP,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, McpError::Connection(m) if m.contains("BERTH_ALLOW_PRIVATE_EGRESS")),
        "{error:?}"
    );
    assert_eq!(fixture.request_count(), 0);

    let client = McpClient::connect(
        &EgressPolicy::parse("127.0.0.0/8").unwrap(),
        &server(&fixture.url),
        Arc::new(StaticToken(None)),
        STARTUP,
    )
    .await
    .unwrap();
    client.close().await;
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused() {
    let fixture = McpFixture::start().await;
    let url = fixture.url.replace("127.0.0.1", "localhost");
    let error = McpClient::connect(
        &EgressPolicy::parse("").unwrap(),
        &server(&url),
        Arc::new(StaticToken(None)),
        STARTUP,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&error, McpError::Connection(m) if m.contains("BERTH_ALLOW_PRIVATE_EGRESS")),
        "{error:?}"
    );
    assert_eq!(fixture.request_count(), 0);
}
