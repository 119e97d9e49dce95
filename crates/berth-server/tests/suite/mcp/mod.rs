//! Agents' MCP servers through whole turns: tools offered as `mcp__<server>__<tool>`, calls
//! carrying the session's vault credential (never seen by the model, the log or responses),
//! OAuth refresh, rotation mid-session, failures that leave the turn running, and tenants that
//! cannot borrow each other's credentials.

mod edge_cases;

use berth_test_support::mcp_fixture::{McpFixture, McpFixtureOptions};
use berth_test_support::oauth_fixture::TokenEndpoint;
use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    mcp_tools_use_the_vault_credential,
    secrets_are_redacted_from_everything_stored,
    failing_servers_become_session_errors,
    oauth_tokens_are_refreshed_once_and_stored,
    rotation_takes_effect_on_the_next_call,
    credentials_never_cross_tenants,
    mcp_calls_ask_first_by_default,
);

const SECS: u64 = 20;
pub(super) const TOKEN: &str = "mcp_tok_5a7b9c1d3e";

pub(super) async fn vault_with(api: &Api, auth: Value) -> (String, String) {
    let vault = api
        .post("/v1/vaults", json!({"display_name": "mcp"}))
        .await
        .expect(200);
    let vault_id = vault["id"].as_str().unwrap().to_owned();
    let credential = api
        .post(
            &format!("/v1/vaults/{vault_id}/credentials"),
            json!({ "auth": auth }),
        )
        .await
        .expect(200);
    (vault_id, credential["id"].as_str().unwrap().to_owned())
}

pub(super) async fn mcp_session(api: &Api, url: &str, vault_ids: &[&str]) -> String {
    mcp_session_with(api, url, vault_ids, "always_allow").await
}

async fn mcp_session_with(api: &Api, url: &str, vault_ids: &[&str], policy: &str) -> String {
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "mcp agent", "model": "claude-sonnet-4-6",
                   "mcp_servers": [{"type": "url", "name": "fixture", "url": url}],
                   "tools": [{"type": "mcp_toolset", "mcp_server_name": "fixture",
                              "default_config": {"permission_policy": {"type": policy}},
                              "configs": [{"name": "add", "enabled": false}]}]}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "mcp env"}))
        .await
        .expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"], "vault_ids": vault_ids}),
        )
        .await
        .expect(200);
    session["id"].as_str().unwrap().to_owned()
}

pub(super) fn by_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

pub(super) fn text_of(event: &Value) -> String {
    event["content"]
        .as_array()
        .map(|blocks| blocks.iter().filter_map(|b| b["text"].as_str()).collect())
        .unwrap_or_default()
}

/// Scripts one echo call and a closing message, runs the turn, returns the session's events.
pub(super) async fn echo_turn(
    api: &Api,
    model: &FakeModel,
    session: &str,
    turn: usize,
    text: &str,
) -> Vec<Value> {
    model.push(ModelReply::tool_use(
        &format!("toolu_m{turn}"),
        "mcp__fixture__echo",
        json!({"text": text}),
    ));
    model.push(ModelReply::text("done"));
    say(api, session, "echo please").await;
    wait_for_turns(api, session, turn, SECS).await;
    all_events(api, session).await
}

async fn mcp_tools_use_the_vault_credential(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
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
    let events = echo_turn(&api, model, &session, 1, "hello over MCP").await;

    let uses = by_type(&events, "agent.mcp_tool_use");
    assert_eq!(uses.len(), 1, "{events:#?}");
    assert_eq!(uses[0]["mcp_server_name"], "fixture");
    assert_eq!(uses[0]["name"], "echo");
    assert_eq!(uses[0]["input"], json!({"text": "hello over MCP"}));
    assert_eq!(uses[0]["evaluated_permission"], "allow");
    let results = by_type(&events, "agent.mcp_tool_result");
    assert_eq!(results[0]["mcp_tool_use_id"], uses[0]["id"]);
    assert!(results[0].get("is_error").is_none());
    assert!(text_of(results[0]).contains("hello over MCP"));
    assert!(by_type(&events, "session.error").is_empty());

    // The model was offered the enabled tools only, and saw the result keyed by the call id.
    let requests = model.turn_requests();
    let offered: Vec<String> = requests[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        offered.contains(&"mcp__fixture__echo".to_owned()),
        "{offered:?}"
    );
    assert!(
        !offered.contains(&"mcp__fixture__add".to_owned()),
        "disabled by config"
    );
    let last = requests.last().unwrap().body["messages"].to_string();
    assert!(last.contains("hello over MCP") && last.contains("mcp__fixture__echo"));

    // Every request to the server carried the credential; nothing else saw it.
    let auths = fixture.authorizations();
    assert!(!auths.is_empty());
    assert!(
        auths
            .iter()
            .all(|a| a.as_deref() == Some(&*format!("Bearer {TOKEN}")))
    );
    assert_eq!(fixture.calls()[0].tool, "echo");
    for request in &requests {
        assert!(!request.body.to_string().contains(TOKEN));
    }
    let listed = api
        .get(&format!("/v1/sessions/{session}/events?limit=1000"))
        .await
        .expect(200);
    assert!(!listed.to_string().contains(TOKEN));
}

async fn secrets_are_redacted_from_everything_stored(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
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
    // However the secret got there, it is masked before it is stored: here the model (scripted)
    // puts it in a call and the server echoes it back.
    let events = echo_turn(&api, model, &session, 1, &format!("leak {TOKEN} now")).await;
    let stored = serde_json::to_string(&events).unwrap();
    assert!(!stored.contains(TOKEN), "{stored}");
    assert!(stored.contains("leak [redacted] now"), "{stored}");
    // The model's next request was built from the redacted log.
    let last = model.turn_requests().last().unwrap().body.to_string();
    assert!(!last.contains(TOKEN));
    assert!(last.contains("[redacted]"));
}

async fn failing_servers_become_session_errors(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        token: Some(TOKEN.to_owned()),
        ..Default::default()
    })
    .await;
    let api = server.api();
    // A wrong token: the server refuses, the turn goes on without it.
    let (vault_id, _) = vault_with(
        &api,
        json!({"type": "static_bearer", "mcp_server_url": fixture.url, "token": "mcp_tok_wrong_000"}),
    )
    .await;
    let session = mcp_session(&api, &fixture.url, &[&vault_id]).await;
    model.push(ModelReply::text("carrying on"));
    say(&api, &session, "hi").await;
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    let errors = by_type(&events, "session.error");
    assert_eq!(errors.len(), 1, "{events:#?}");
    assert_eq!(
        errors[0]["error"]["type"],
        "mcp_authentication_failed_error"
    );
    assert_eq!(errors[0]["error"]["mcp_server_name"], "fixture");
    assert!(!errors[0].to_string().contains("mcp_tok_wrong_000"));
    assert_eq!(text_of(by_type(&events, "agent.message")[0]), "carrying on");
    let offered = model.turn_requests()[0].body["tools"].to_string();
    assert!(!offered.contains("mcp__fixture"), "{offered}");

    // A server that fails outright: a connection error.
    fixture.set_failing(true);
    model.push(ModelReply::text("still here"));
    say(&api, &session, "again").await;
    wait_for_turns(&api, &session, 2, SECS).await;
    let events = all_events(&api, &session).await;
    let errors = by_type(&events, "session.error");
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[1]["error"]["type"], "mcp_connection_failed_error");
}

async fn oauth_tokens_are_refreshed_once_and_stored(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        token: Some("at_fresh_222222".to_owned()),
        ..Default::default()
    })
    .await;
    let endpoint = TokenEndpoint::start("rt_refresh_333333", "at_fresh_222222").await;
    let api = server.api();
    let (vault_id, credential_id) = vault_with(
        &api,
        json!({"type": "mcp_oauth", "mcp_server_url": fixture.url,
               "access_token": "at_stale_111111",
               "refresh": {"client_id": "berth-test", "refresh_token": "rt_refresh_333333",
                           "token_endpoint": endpoint.url,
                           "token_endpoint_auth": {"type": "client_secret_post", "client_secret": "cs_444444"}}}),
    )
    .await;
    let session = mcp_session(&api, &fixture.url, &[&vault_id]).await;
    let events = echo_turn(&api, model, &session, 1, "after refresh").await;
    assert!(by_type(&events, "session.error").is_empty(), "{events:#?}");
    assert!(text_of(by_type(&events, "agent.mcp_tool_result")[0]).contains("after refresh"));
    assert_eq!(
        endpoint.request_count(),
        1,
        "one refresh for the whole turn"
    );
    let form = &endpoint.forms()[0];
    assert!(form.contains(&("client_secret".to_owned(), "cs_444444".to_owned())));
    assert!(form.contains(&("client_id".to_owned(), "berth-test".to_owned())));

    // The new token was stored (sealed) with its expiry, so the next turn needs no refresh.
    let credential = api
        .get(&format!(
            "/v1/vaults/{vault_id}/credentials/{credential_id}"
        ))
        .await
        .expect(200);
    assert!(credential["auth"]["expires_at"].is_string(), "{credential}");
    echo_turn(&api, model, &session, 2, "no refresh").await;
    assert_eq!(endpoint.request_count(), 1);
    let report = api
        .post(
            &format!("/v1/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate"),
            json!(null),
        )
        .await
        .expect(200);
    assert_eq!(report["status"], "valid", "{report}");
    assert_eq!(report["has_refresh_token"], true);
    let all =
        serde_json::to_string(&all_events(&api, &session).await).unwrap() + &report.to_string();
    for secret in [
        "at_stale_111111",
        "at_fresh_222222",
        "rt_refresh_333333",
        "cs_444444",
    ] {
        assert!(!all.contains(secret), "{secret} leaked");
    }
}

async fn rotation_takes_effect_on_the_next_call(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        token: Some("mcp_tok_first_aaaa".to_owned()),
        ..Default::default()
    })
    .await;
    let api = server.api();
    let (vault_id, credential_id) = vault_with(
        &api,
        json!({"type": "static_bearer", "mcp_server_url": fixture.url, "token": "mcp_tok_first_aaaa"}),
    )
    .await;
    let session = mcp_session(&api, &fixture.url, &[&vault_id]).await;
    echo_turn(&api, model, &session, 1, "one").await;
    // The server now wants another token, and the credential is rotated to it.
    fixture.set_token(Some("mcp_tok_second_bbbb"));
    api.post(
        &format!("/v1/vaults/{vault_id}/credentials/{credential_id}"),
        json!({"auth": {"type": "static_bearer", "token": "mcp_tok_second_bbbb"}}),
    )
    .await
    .expect(200);
    let events = echo_turn(&api, model, &session, 2, "two").await;
    let results = by_type(&events, "agent.mcp_tool_result");
    assert_eq!(results.len(), 2);
    assert!(results[1].get("is_error").is_none(), "{:#?}", results[1]);
    assert!(text_of(results[1]).contains("two"));
    assert_eq!(
        fixture.authorizations().last().unwrap().as_deref(),
        Some("Bearer mcp_tok_second_bbbb")
    );
}

async fn credentials_never_cross_tenants(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        token: Some(TOKEN.to_owned()),
        ..Default::default()
    })
    .await;
    let api = server.api();
    let other_key = api
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200)["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = server.api_with_key(&other_key);
    let (their_vault, _) = vault_with(
        &other,
        json!({"type": "static_bearer", "mcp_server_url": fixture.url, "token": TOKEN}),
    )
    .await;
    // Naming another tenant's vault is refused outright.
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6"}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "e"}))
        .await
        .expect(200);
    let refused = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"], "vault_ids": [their_vault]}),
        )
        .await;
    assert_eq!(refused.status, 404);
    // With no credential of its own, the session's calls carry none and are refused.
    let session = mcp_session(&api, &fixture.url, &[]).await;
    model.push(ModelReply::text("no tools"));
    say(&api, &session, "hi").await;
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    assert_eq!(
        by_type(&events, "session.error")[0]["error"]["type"],
        "mcp_authentication_failed_error"
    );
    assert!(
        fixture
            .authorizations()
            .iter()
            .all(|a| a.as_deref() != Some(&*format!("Bearer {TOKEN}")))
    );
}

async fn mcp_calls_ask_first_by_default(server: &TestServer, model: &FakeModel) {
    let fixture = McpFixture::start().await;
    let api = server.api();
    let session = mcp_session_with(&api, &fixture.url, &[], "always_ask").await;
    model.push(ModelReply::tool_use(
        "toolu_ask",
        "mcp__fixture__echo",
        json!({"text": "confirmed"}),
    ));
    model.push(ModelReply::text("echoed"));
    say(&api, &session, "echo").await;
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    let call = by_type(&events, "agent.mcp_tool_use")[0].clone();
    assert_eq!(call["evaluated_permission"], "ask");
    let idle = by_type(&events, "session.status_idle")[0];
    assert_eq!(idle["stop_reason"]["type"], "requires_action");
    assert_eq!(idle["stop_reason"]["event_ids"], json!([call["id"]]));
    assert!(
        fixture.calls().is_empty(),
        "nothing runs before the confirmation"
    );
    api.post(
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": call["id"], "result": "allow"}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, &session, 2, SECS).await;
    let events = all_events(&api, &session).await;
    let result = by_type(&events, "agent.mcp_tool_result")[0];
    assert_eq!(result["mcp_tool_use_id"], call["id"]);
    assert!(text_of(result).contains("confirmed"));
    assert_eq!(fixture.calls().len(), 1);
}
