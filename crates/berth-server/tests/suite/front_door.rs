//! What comes in at the front door is refused cleanly when it cannot be stored: a NUL character
//! anywhere a client can put text is a 400 with the error envelope on both backends (PostgreSQL
//! once answered 500 for `GET /v1/agents/%00`), and nothing is written.

use berth_test_support::{Part, TestServer};
use serde_json::json;

on_both_backends!(
    nul_characters_are_refused_everywhere,
    mcp_urls_and_skills_are_checked_wherever_they_are_set,
    opaque_strings_come_back_as_sent,
);

async fn nul_characters_are_refused_everywhere(server: &TestServer) {
    let api = server.api();
    for path in [
        "/v1/agents/%00",
        "/v1/agents/agent_%00x",
        "/v1/sessions/%00/events",
        "/v1/agents?page=%00",
        "/v1/sessions?agent_id=a%00",
        "/v1/memory_stores/%00/memories",
    ] {
        let refused = api.get(path).await;
        assert_eq!(refused.status.as_u16(), 400, "{path}: {}", refused.text);
        assert_eq!(refused.error_type(), "invalid_request_error", "{path}");
        assert!(
            refused.error_message().contains("NUL"),
            "{path}: {}",
            refused.text
        );
    }
    let bodies = [
        (
            "/v1/agents",
            json!({"name": "a\u{0}", "model": "claude-sonnet-4-6"}),
            "name",
        ),
        (
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6", "metadata": {"k\u{0}": "v"}}),
            "metadata.k",
        ),
        (
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6", "system": "x\u{0}y"}),
            "system",
        ),
        ("/v1/environments", json!({"name": "e\u{0}"}), "name"),
        (
            "/v1/vaults",
            json!({"display_name": "v\u{0}"}),
            "display_name",
        ),
        ("/v1/memory_stores", json!({"name": "m\u{0}"}), "name"),
    ];
    for (path, body, field) in bodies {
        let refused = api.post(path, body.clone()).await;
        assert_eq!(refused.status.as_u16(), 400, "{body}: {}", refused.text);
        assert!(
            refused.error_message().contains(field),
            "{body}: {}",
            refused.text
        );
    }
    // A backslash followed by "u0000" is text, not a NUL.
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "a\\u0000", "model": "claude-sonnet-4-6"}),
        )
        .await
        .expect(200);
    assert_eq!(agent["name"], "a\\u0000");
    // Nothing refused was stored.
    for (list, expected) in [
        ("/v1/agents", 1),
        ("/v1/environments", 0),
        ("/v1/vaults", 0),
        ("/v1/memory_stores", 0),
    ] {
        let page = api.get(list).await.expect(200);
        assert_eq!(page["data"].as_array().unwrap().len(), expected, "{list}");
    }
    // Multipart text fields too.
    let refused = api
        .multipart(
            "/v1/files",
            vec![
                Part::text("expires_in_seconds", "6\u{0}0"),
                Part::file("file", "a.txt", b"hello".to_vec()),
            ],
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    let files = api.get("/v1/files").await.expect(200);
    assert!(files["data"].as_array().unwrap().is_empty(), "{files}");
}

/// The private-address check on MCP server URLs, and the check that skills exist, hold for an
/// agent's update and for a session's overrides and update as they do for an agent's create.
async fn mcp_urls_and_skills_are_checked_wherever_they_are_set(server: &TestServer) {
    let api = server.api();
    let private = json!([{"type": "url", "name": "internal", "url": "http://127.0.0.1:9/mcp"}]);
    let toolset = json!([{"type": "mcp_toolset", "mcp_server_name": "internal"}]);
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6"}),
        )
        .await
        .expect(200);
    let agent_id = agent["id"].as_str().unwrap();
    let refused = api
        .post(
            &format!("/v1/agents/{agent_id}"),
            json!({"version": 1, "mcp_servers": private, "tools": toolset}),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert!(
        refused.error_message().starts_with("mcp_servers[0].url"),
        "{}",
        refused.text
    );
    let env = api
        .post("/v1/environments", json!({"name": "e"}))
        .await
        .expect(200);
    let overridden = |overrides: serde_json::Value| {
        let mut agent = json!({"type": "agent_with_overrides", "id": agent_id});
        for (key, value) in overrides.as_object().unwrap() {
            agent[key] = value.clone();
        }
        json!({"agent": agent, "environment_id": env["id"]})
    };
    let refused = api
        .post(
            "/v1/sessions",
            overridden(json!({"mcp_servers": private, "tools": toolset})),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert!(
        refused
            .error_message()
            .starts_with("agent.mcp_servers[0].url"),
        "{}",
        refused.text
    );
    let refused = api
        .post(
            "/v1/sessions",
            overridden(json!({"skills": [{"type": "custom", "skill_id": "skill_missing"}]})),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert!(
        refused.error_message().starts_with("agent.skills[0]"),
        "{}",
        refused.text
    );
    let sessions = api.get("/v1/sessions").await.expect(200);
    assert!(
        sessions["data"].as_array().unwrap().is_empty(),
        "{sessions}"
    );

    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent_id, "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    let refused = api
        .post(
            &format!("/v1/sessions/{}", session["id"].as_str().unwrap()),
            json!({"agent": {"mcp_servers": private, "tools": toolset}}),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    assert!(
        refused
            .error_message()
            .starts_with("agent.mcp_servers[0].url"),
        "{}",
        refused.text
    );
}

/// Strings a client sets come back byte for byte; the server compares them in a normal form
/// where it must (hosts in lower case, URLs without a trailing slash) but never stores that form
/// in their place.
async fn opaque_strings_come_back_as_sent(server: &TestServer) {
    let api = server.api();
    let name = "  Ré\u{301}sumé bot  ";
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": name, "model": "claude-sonnet-4-6", "description": "Line one\n  line two ",
                   "metadata": {"Key": " Value "},
                   "mcp_servers": [{"type": "url", "name": "docs", "url": "https://MCP.Example.com/sse/"}],
                   "tools": [{"type": "mcp_toolset", "mcp_server_name": "docs"}]}),
        )
        .await
        .expect(200);
    let stored = api
        .get(&format!("/v1/agents/{}", agent["id"].as_str().unwrap()))
        .await
        .expect(200);
    assert_eq!(stored["name"], name);
    assert_eq!(stored["description"], "Line one\n  line two ");
    assert_eq!(stored["metadata"], json!({"Key": " Value "}));
    assert_eq!(
        stored["mcp_servers"][0]["url"],
        "https://MCP.Example.com/sse/"
    );

    let env = api
        .post(
            "/v1/environments",
            json!({"name": "e", "config": {"type": "cloud", "networking": {"type": "limited",
                   "allowed_hosts": ["API.Example.com", "api.example.com", "*.Docs.Example.org"]}}}),
        )
        .await
        .expect(200);
    assert_eq!(
        env["config"]["networking"]["allowed_hosts"],
        json!(["API.Example.com", "*.Docs.Example.org"]),
        "kept as written, a host listed twice in two cases once"
    );

    let vault = api
        .post("/v1/vaults", json!({"display_name": "v"}))
        .await
        .expect(200);
    let credential = api
        .post(
            &format!("/v1/vaults/{}/credentials", vault["id"].as_str().unwrap()),
            json!({"auth": {"type": "environment_variable", "secret_name": "TOKEN",
                   "secret_value": "s3cr3t-value", "networking": {"type": "limited",
                   "allowed_hosts": ["Api.Example.com."]}}}),
        )
        .await
        .expect(200);
    assert_eq!(
        credential["auth"]["networking"]["allowed_hosts"],
        json!(["Api.Example.com."])
    );
    let refused = api
        .post(
            &format!("/v1/vaults/{}/credentials", vault["id"].as_str().unwrap()),
            json!({"auth": {"type": "static_bearer", "mcp_server_url": " https://h/mcp",
                   "token": "t0k3n-value"}}),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
}
