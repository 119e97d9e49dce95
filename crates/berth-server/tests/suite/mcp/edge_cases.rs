//! MCP servers at the edges: private URLs refused, the older SSE transport, and a refresh
//! refused mid-session.

use berth_test_support::mcp_fixture::{McpFixture, McpFixtureOptions};
use berth_test_support::oauth_fixture::TokenEndpoint;
use berth_test_support::{FakeModel, TestServer};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{TOKEN, by_type, echo_turn, mcp_session, text_of, vault_with};

on_both_backends_with_model!(
    private_mcp_urls_are_refused,
    servers_on_the_older_sse_transport_work_too,
    a_refused_refresh_mid_session_is_an_authentication_error,
);

async fn private_mcp_urls_are_refused(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    for url in [
        "http://10.1.2.3/mcp",
        "http://169.254.169.254/latest",
        "http://[fd00::1]/mcp",
    ] {
        let refused = api
            .post(
                "/v1/agents",
                json!({"name": "a", "model": "m",
                       "mcp_servers": [{"type": "url", "name": "internal", "url": url}],
                       "tools": [{"type": "mcp_toolset", "mcp_server_name": "internal"}]}),
            )
            .await;
        assert_eq!(refused.status, 400, "{url}");
        assert!(
            refused.error_message().contains("mcp_servers[0].url"),
            "{}",
            refused.error_message()
        );
    }
}

async fn servers_on_the_older_sse_transport_work_too(server: &TestServer, model: &FakeModel) {
    use berth_test_support::legacy_sse_fixture::{LegacySseFixture, LegacySseFixtureOptions};
    let fixture = LegacySseFixture::start_with(LegacySseFixtureOptions {
        token: Some(TOKEN.to_owned()),
        ..Default::default()
    })
    .await;
    let api = server.api();
    let (vault_id, _) = vault_with(
        &api,
        json!({"type": "static_bearer", "mcp_server_url": fixture.url, "token": TOKEN}),
    )
    .await;
    let session = mcp_session(&api, &fixture.url, &[&vault_id]).await;
    let events = echo_turn(&api, model, &session, 1, "over SSE").await;
    assert!(by_type(&events, "session.error").is_empty(), "{events:#?}");
    let results = by_type(&events, "agent.mcp_tool_result");
    assert!(text_of(results[0]).contains("over SSE"));
    assert!(
        fixture
            .authorizations()
            .iter()
            .all(|a| a.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
}

async fn a_refused_refresh_mid_session_is_an_authentication_error(
    server: &TestServer,
    model: &FakeModel,
) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        token: Some("at_works_555555".to_owned()),
        ..Default::default()
    })
    .await;
    // The endpoint knows another refresh token, so every refresh is refused.
    let endpoint = TokenEndpoint::start("rt_other_777777", "at_never_888888").await;
    let api = server.api();
    let (vault_id, _) = vault_with(
        &api,
        json!({"type": "mcp_oauth", "mcp_server_url": fixture.url,
               "access_token": "at_works_555555",
               "refresh": {"client_id": "c", "refresh_token": "rt_mine_666666",
                           "token_endpoint": endpoint.url, "token_endpoint_auth": {"type": "none"}}}),
    )
    .await;
    let session = mcp_session(&api, &fixture.url, &[&vault_id]).await;
    echo_turn(&api, model, &session, 1, "first").await;
    // The server stops accepting the token; the refresh is refused.
    fixture.set_token(Some("at_rotated_999999"));
    let events = echo_turn(&api, model, &session, 2, "second").await;
    let results = by_type(&events, "agent.mcp_tool_result");
    assert_eq!(results[1]["is_error"], true, "{:#?}", results[1]);
    let errors = by_type(&events, "session.error");
    assert_eq!(errors.len(), 1, "{events:#?}");
    assert_eq!(
        errors[0]["error"]["type"],
        "mcp_authentication_failed_error"
    );
    assert_eq!(errors[0]["error"]["mcp_server_name"], "fixture");
    assert_eq!(endpoint.request_count(), 1);
    let stored = serde_json::to_string(&events).unwrap();
    for secret in ["at_works_555555", "rt_mine_666666"] {
        assert!(!stored.contains(secret));
    }
}
