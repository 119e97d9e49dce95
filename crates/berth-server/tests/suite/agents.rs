//! Agents: the contract §4 object and semantics over HTTP.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends!(
    create_and_retrieve,
    updates_bump_the_version_only_on_change,
    update_semantics_null_clears_arrays_replace_metadata_patches,
    version_guard,
    versions_are_listed_and_retrievable,
    list_pages_and_filters,
    archive_and_delete,
    validation_failures_store_nothing,
    multiagent_roster_is_pinned,
);

async fn create(server: &TestServer, body: Value) -> Value {
    server.api().post("/v1/agents", body).await.expect(200)
}

async fn create_and_retrieve(server: &TestServer) {
    let api = server.api();
    let agent = create(
        server,
        json!({
            "name": "Researcher",
            "model": {"id": "claude-sonnet-4-6", "effort": "high"},
            "system": "Be brief.",
            "description": "does research",
            "tools": [
                {"type": "agent_toolset_20260401", "default_config": {"enabled": true},
                 "configs": [{"name": "bash", "permission_policy": {"type": "always_ask"}},
                             {"name": "web_fetch", "allowed_domains": ["example.com"], "url_sources": {"user_input": "all"}}]},
                {"type": "mcp_toolset", "mcp_server_name": "github"},
                {"type": "custom", "name": "lookup", "description": "Looks up a thing",
                 "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}
            ],
            "mcp_servers": [{"type": "url", "name": "github", "url": "https://mcp.example.com/github"}],
            "skills": [{"type": "anthropic", "skill_id": "xlsx"}],
            "metadata": {"team": "a"}
        }),
    )
    .await;
    let id = agent["id"].as_str().unwrap();
    assert!(id.starts_with("agent_"));
    assert_eq!(agent["type"], "agent");
    assert_eq!(agent["version"], 1);
    assert_eq!(
        agent["model"],
        json!({"id": "claude-sonnet-4-6", "effort": {"type": "high"}})
    );
    assert_eq!(agent["archived_at"], Value::Null);
    assert_eq!(
        agent["execution_identity"],
        json!({"type": "service_account"})
    );
    assert_eq!(
        agent["tools"][0]["configs"][0],
        json!({"name": "bash", "type": "bash", "enabled": true, "permission_policy": {"type": "always_ask"}})
    );
    assert_eq!(
        agent["tools"][0]["configs"][1]["url_sources"],
        json!({"user_input": {"type": "all"}})
    );
    assert_eq!(
        agent["tools"][1]["default_config"]["permission_policy"],
        json!({"type": "always_ask"}),
        "MCP toolsets ask by default"
    );
    assert_eq!(
        agent["skills"],
        json!([{"type": "anthropic", "skill_id": "xlsx", "version": "latest"}])
    );
    let fetched = api.get(&format!("/v1/agents/{id}")).await.expect(200);
    assert_eq!(fetched, agent);
    let missing = api.get("/v1/agents/agent_00000000000000000000000000").await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.error_type(), "not_found_error");
}

async fn updates_bump_the_version_only_on_change(server: &TestServer) {
    let api = server.api();
    let agent = create(server, json!({"name": "a", "model": "m", "system": "s"})).await;
    let id = agent["id"].as_str().unwrap();
    let same = api
        .post(
            &format!("/v1/agents/{id}"),
            json!({"name": "a", "system": "s"}),
        )
        .await
        .expect(200);
    assert_eq!(same["version"], 1);
    assert_eq!(same["updated_at"], agent["updated_at"]);
    let changed = api
        .post(&format!("/v1/agents/{id}"), json!({"system": "t"}))
        .await
        .expect(200);
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["system"], "t");
    // PATCH is the seed's spelling of the same update.
    let patched = api
        .patch(&format!("/v1/agents/{id}"), json!({"description": "d"}))
        .await
        .expect(200);
    assert_eq!(patched["version"], 3);
    assert_eq!(patched["system"], "t", "omitted fields are kept");
}

async fn update_semantics_null_clears_arrays_replace_metadata_patches(server: &TestServer) {
    let api = server.api();
    let agent = create(
        server,
        json!({"name": "a", "model": "m", "system": "s", "description": "d",
               "tools": [{"type": "agent_toolset_20260401"}],
               "metadata": {"a": "1", "b": "2"}}),
    )
    .await;
    let id = agent["id"].as_str().unwrap();
    let next = api
        .post(
            &format!("/v1/agents/{id}"),
            json!({"system": null, "description": "", "tools": [{"type": "custom", "name": "x", "description": "x", "input_schema": {"type": "object"}}],
                   "metadata": {"a": null, "c": "3"}}),
        )
        .await
        .expect(200);
    assert_eq!(next["system"], Value::Null);
    assert_eq!(next["description"], Value::Null);
    assert_eq!(next["tools"].as_array().unwrap().len(), 1);
    assert_eq!(next["tools"][0]["type"], "custom");
    assert_eq!(next["metadata"], json!({"b": "2", "c": "3"}));
    let cleared = api
        .post(&format!("/v1/agents/{id}"), json!({"tools": null}))
        .await
        .expect(200);
    assert_eq!(cleared["tools"], json!([]));
    for field in ["name", "model"] {
        let reply = api
            .post(&format!("/v1/agents/{id}"), json!({field: null}))
            .await;
        assert_eq!(reply.status, 400, "{field}");
        assert!(reply.error_message().starts_with(field));
    }
}

async fn version_guard(server: &TestServer) {
    let api = server.api();
    let agent = create(server, json!({"name": "a", "model": "m"})).await;
    let id = agent["id"].as_str().unwrap();
    let ok = api
        .post(
            &format!("/v1/agents/{id}"),
            json!({"version": 1, "name": "b"}),
        )
        .await
        .expect(200);
    assert_eq!(ok["version"], 2);
    let stale = api
        .post(
            &format!("/v1/agents/{id}"),
            json!({"version": 1, "name": "c"}),
        )
        .await;
    assert_eq!(stale.status, 409);
    let current = api.get(&format!("/v1/agents/{id}")).await.expect(200);
    assert_eq!(current["name"], "b", "a refused update changes nothing");
}

async fn versions_are_listed_and_retrievable(server: &TestServer) {
    let api = server.api();
    let agent = create(server, json!({"name": "v1", "model": "m"})).await;
    let id = agent["id"].as_str().unwrap();
    api.post(&format!("/v1/agents/{id}"), json!({"name": "v2"}))
        .await
        .expect(200);
    api.post(&format!("/v1/agents/{id}"), json!({"name": "v3"}))
        .await
        .expect(200);
    let v1 = api
        .get(&format!("/v1/agents/{id}?version=1"))
        .await
        .expect(200);
    assert_eq!(v1["name"], "v1");
    assert_eq!(v1["version"], 1);
    let v2 = api
        .get(&format!("/v1/agents/{id}/versions/2"))
        .await
        .expect(200);
    assert_eq!(v2["name"], "v2");
    assert_eq!(
        api.get(&format!("/v1/agents/{id}/versions/9")).await.status,
        404
    );
    assert_eq!(
        api.get(&format!("/v1/agents/{id}/versions/x")).await.status,
        404
    );

    let first = api
        .get(&format!("/v1/agents/{id}/versions?limit=2"))
        .await
        .expect(200);
    let names: Vec<_> = first["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("v3"), json!("v2")]);
    assert_eq!(first["has_more"], true);
    let page = first["next_page"].as_str().unwrap();
    let second = api
        .get(&format!("/v1/agents/{id}/versions?limit=2&page={page}"))
        .await
        .expect(200);
    assert_eq!(second["data"][0]["name"], "v1");
    assert_eq!(second["next_page"], Value::Null);
    assert_eq!(second["has_more"], false);
}

async fn list_pages_and_filters(server: &TestServer) {
    let api = server.api();
    let mut ids = Vec::new();
    for i in 0..7 {
        let a = create(server, json!({"name": format!("a{i}"), "model": "m"})).await;
        ids.push(a["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut path = "/v1/agents?limit=3".to_owned();
    loop {
        let page = api.get(&path).await.expect(200);
        for a in page["data"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_owned());
        }
        match page["next_page"].as_str() {
            Some(next) => path = format!("/v1/agents?limit=3&page={next}"),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, no gaps, no duplicates");
    // The seed's `cursor` alias reads the same cursor.
    let page = api.get("/v1/agents?limit=3").await.expect(200);
    let cursor = page["next_page"].as_str().unwrap();
    let via_cursor = api
        .get(&format!("/v1/agents?limit=3&cursor={cursor}"))
        .await
        .expect(200);
    assert_eq!(via_cursor["data"][0]["id"], ids[3].as_str());

    let future = api
        .get("/v1/agents?created_at%5Bgte%5D=2999-01-01T00:00:00Z")
        .await
        .expect(200);
    assert_eq!(future["data"], json!([]));
    let past = api
        .get("/v1/agents?created_at%5Blte%5D=2999-01-01T00:00:00%2B00:00&limit=100")
        .await
        .expect(200);
    assert_eq!(past["data"].as_array().unwrap().len(), 7);
}

async fn archive_and_delete(server: &TestServer) {
    let api = server.api();
    let a = create(server, json!({"name": "a", "model": "m"})).await;
    let b = create(server, json!({"name": "b", "model": "m"})).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    let archived = api
        .post(&format!("/v1/agents/{a_id}/archive"), json!(null))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string());
    assert_eq!(archived["version"], 1, "archiving is not a new version");
    let deleted = api.delete(&format!("/v1/agents/{b_id}")).await.expect(200);
    assert_eq!(deleted, json!({"id": b_id, "type": "agent_deleted"}));
    let still_there = api.get(&format!("/v1/agents/{b_id}")).await.expect(200);
    assert!(still_there["archived_at"].is_string(), "delete archives");

    let visible = api.get("/v1/agents").await.expect(200);
    assert_eq!(visible["data"], json!([]));
    let all = api
        .get("/v1/agents?include_archived=true")
        .await
        .expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 2);
    // The seed's `archived` filter: only archived, or only active, agents.
    let c = create(server, json!({"name": "c", "model": "m"})).await;
    let ids = |page: Value| -> Vec<String> {
        let mut ids: Vec<String> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![a_id.to_owned(), b_id.to_owned()];
    both.sort();
    assert_eq!(
        ids(api.get("/v1/agents?archived=true").await.expect(200)),
        both
    );
    assert_eq!(
        ids(api
            .get("/v1/agents?archived=false&include_archived=true")
            .await
            .expect(200)),
        vec![c["id"].as_str().unwrap().to_owned()]
    );
    assert_eq!(api.get("/v1/agents?archived=maybe").await.status, 400);
    let refused = api
        .post(&format!("/v1/agents/{a_id}"), json!({"name": "z"}))
        .await;
    assert_eq!(refused.status, 400);
    let v1 = api
        .get(&format!("/v1/agents/{a_id}?version=1"))
        .await
        .expect(200);
    assert!(v1["archived_at"].is_string());
}

async fn validation_failures_store_nothing(server: &TestServer) {
    let api = server.api();
    let cases = [
        (
            json!({"name": "a", "model": "m", "system": "x".repeat(100_001)}),
            "system",
        ),
        (json!({"name": "", "model": "m"}), "name"),
        (json!({"name": "a", "model": ""}), "model.id"),
        (
            json!({"name": "a", "model": "m", "metadata": (0..17).map(|i| (format!("k{i}"), json!("v"))).collect::<serde_json::Map<_, _>>()}),
            "metadata",
        ),
        (
            json!({"name": "a", "model": "m", "mcp_servers": [{"type": "url", "name": "gh", "url": "https://x.example"}]}),
            "mcp_servers",
        ),
        (
            json!({"name": "a", "model": "m", "tools": [{"type": "mcp_toolset", "mcp_server_name": "nope"}]}),
            "tools[0].mcp_server_name",
        ),
        (
            json!({"name": "a", "model": "m", "tools": [{"type": "custom", "name": "bad name", "description": "d", "input_schema": {"type": "object"}}]}),
            "tools[0].name",
        ),
        (
            json!({"name": "a", "model": "m", "tools": [{"type": "custom", "name": "x", "description": "d", "input_schema": {"type": "string"}}]}),
            "tools[0].input_schema.type",
        ),
        (
            json!({"name": "a", "model": "m", "mcp_servers": [{"type": "url", "name": "gh", "url": "ftp://x"}], "tools": [{"type": "mcp_toolset", "mcp_server_name": "gh"}]}),
            "mcp_servers[0].url",
        ),
        (
            json!({"name": "a", "model": {"id": "m", "effort": "extreme"}}),
            "model",
        ),
    ];
    for (body, field) in cases {
        let reply = api.post("/v1/agents", body).await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.text);
        assert!(
            reply.error_message().starts_with(field),
            "expected the message to name {field}: {}",
            reply.error_message()
        );
    }
    let metadata_error = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "m", "metadata": {"k": "x".repeat(513)}}),
        )
        .await;
    assert_eq!(
        metadata_error.body["error"]["details"]["error_code"],
        "invalid_metadata"
    );
    assert_eq!(api.get("/v1/agents").await.expect(200)["data"], json!([]));

    let agent = create(server, json!({"name": "a", "model": "m"})).await;
    let id = agent["id"].as_str().unwrap();
    let bad = api
        .post(
            &format!("/v1/agents/{id}"),
            json!({"name": "b", "system": "x".repeat(100_001)}),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        api.get(&format!("/v1/agents/{id}")).await.expect(200),
        agent
    );
}

async fn multiagent_roster_is_pinned(server: &TestServer) {
    let api = server.api();
    let helper = create(server, json!({"name": "helper", "model": "m"})).await;
    let helper_id = helper["id"].as_str().unwrap();
    api.post(
        &format!("/v1/agents/{helper_id}"),
        json!({"name": "helper 2"}),
    )
    .await
    .expect(200);
    let lead = create(
        server,
        json!({"name": "lead", "model": "m",
               "multiagent": {"type": "coordinator", "agents": [helper_id, {"type": "agent", "id": helper_id, "version": 1}, {"type": "self"}, {"type": "advisor", "model": "m2"}]}}),
    )
    .await;
    let lead_id = lead["id"].as_str().unwrap();
    assert_eq!(
        lead["multiagent"],
        json!({"type": "coordinator", "agents": [
            {"type": "agent", "id": helper_id, "version": 2},
            {"type": "agent", "id": helper_id, "version": 1},
            {"type": "agent", "id": lead_id, "version": 1},
            {"type": "advisor", "model": "m2"}
        ]})
    );
    let unknown = api
        .post(
            "/v1/agents",
            json!({"name": "x", "model": "m", "multiagent": {"type": "coordinator", "agents": ["agent_nope"]}}),
        )
        .await;
    assert_eq!(unknown.status, 400);
    let v2 = api
        .post(
            "/v1/agents",
            json!({"name": "y", "model": "m", "multiagent": {"type": "multiagent_20261001", "subagents": {"type": "enabled", "predefined_agents": [helper_id]}}}),
        )
        .await
        .expect(200);
    assert_eq!(
        v2["multiagent"],
        json!({"type": "multiagent_20261001", "advisor": {"type": "disabled"},
               "subagents": {"type": "enabled", "inline_agents": {"type": "disabled"}, "predefined_agents": [{"type": "agent", "id": helper_id, "version": 2}]},
               "workflows": {"type": "disabled"}})
    );
}
