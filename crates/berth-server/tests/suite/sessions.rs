//! Sessions: create with each agent form, retrieve, update, list with filters and pages (their
//! ends and edges are in `lifecycle`).

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends!(
    create_with_each_agent_form,
    create_validates_and_stores_nothing_on_error,
    update_title_metadata_and_agent_tools,
    list_filters_and_pages_both_ways,
);

mod lifecycle;

async fn fixtures(server: &TestServer) -> (Value, Value) {
    let api = server.api();
    let agent = api
        .post("/v1/agents", json!({"name": "a", "model": "m", "system": "v1 prompt",
            "tools": [{"type": "custom", "name": "lookup", "description": "d", "input_schema": {"type": "object"}}]}))
        .await
        .expect(200);
    let id = agent["id"].as_str().unwrap();
    api.post(&format!("/v1/agents/{id}"), json!({"system": "v2 prompt"}))
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "e"}))
        .await
        .expect(200);
    (api.get(&format!("/v1/agents/{id}")).await.expect(200), env)
}

async fn create_with_each_agent_form(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let (agent_id, env_id) = (agent["id"].as_str().unwrap(), env["id"].as_str().unwrap());

    let latest = api
        .post("/v1/sessions", json!({"agent": agent_id, "environment_id": env_id, "title": "t", "metadata": {"k": "v"}}))
        .await
        .expect(200);
    assert!(latest["id"].as_str().unwrap().starts_with("sesn_"));
    assert_eq!(latest["type"], "session");
    assert_eq!(latest["status"], "idle");
    assert_eq!(latest["agent"]["version"], 2);
    assert_eq!(latest["agent"]["system"], "v2 prompt");
    assert_eq!(latest["agent"]["type"], "agent");
    assert!(
        latest["agent"].get("created_at").is_none(),
        "the snapshot has no timestamps"
    );
    assert_eq!(latest["title"], "t");
    assert_eq!(latest["metadata"], json!({"k": "v"}));
    assert_eq!(latest["usage"]["input_tokens"], 0);
    assert!(latest["stats"]["duration_seconds"].is_number());
    assert_eq!(latest["resources"], json!([]));
    assert_eq!(latest["vault_ids"], json!([]));
    assert_eq!(latest["outcome_evaluations"], json!([]));
    assert_eq!(
        api.get(&format!("/v1/sessions/{}", latest["id"].as_str().unwrap()))
            .await
            .expect(200)["id"],
        latest["id"]
    );

    let pinned = api
        .post("/v1/sessions", json!({"agent": {"type": "agent", "id": agent_id, "version": 1}, "environment_id": env_id}))
        .await
        .expect(200);
    assert_eq!(pinned["agent"]["version"], 1);
    assert_eq!(pinned["agent"]["system"], "v1 prompt");

    let file = api
        .multipart(
            "/v1/files",
            vec![berth_test_support::Part::file("file", "notes.txt", "hi")],
        )
        .await
        .expect(200);
    let file_id = file["id"].as_str().unwrap();
    let memory_store = api
        .post("/v1/memory_stores", json!({"name": "notes"}))
        .await
        .expect(200);
    let overridden = api
        .post(
            "/v1/sessions",
            json!({"agent": {"type": "agent_with_overrides", "id": agent_id, "model": {"id": "other-model"}, "system": null,
                             "tools": [{"type": "agent_toolset_20260401"}]},
                   "environment_id": env_id,
                   "resources": [{"type": "file", "file_id": file_id},
                                 {"type": "github_repository", "url": "https://github.com/acme/widgets.git", "authorization_token": "ghp_secret_token"},
                                 {"type": "memory_store", "memory_store_id": memory_store["id"], "access": "read_only", "instructions": "be careful"}],
                   "initial_events": [{"type": "user.message", "content": [{"type": "text", "text": "hi"}]}]}),
        )
        .await
        .expect(200);
    assert_eq!(overridden["agent"]["model"], json!({"id": "other-model"}));
    assert_eq!(overridden["agent"]["system"], Value::Null);
    assert_eq!(
        overridden["agent"]["tools"][0]["type"],
        "agent_toolset_20260401"
    );
    let resources = overridden["resources"].as_array().unwrap();
    assert_eq!(
        resources[0]["mount_path"],
        format!("/mnt/session/uploads/{file_id}/notes.txt")
    );
    assert_eq!(resources[1]["mount_path"], "/workspace/widgets");
    assert_eq!(resources[2]["access"], "read_only");
    assert_eq!(resources[2]["mount_path"], "/mnt/memory/notes");
    assert!(
        resources
            .iter()
            .all(|r| r["id"].as_str().unwrap().starts_with("sesrsc_"))
    );
    assert!(
        !overridden.to_string().contains("ghp_secret_token"),
        "tokens are never returned"
    );
    let events = api
        .get(&format!(
            "/v1/sessions/{}/events",
            overridden["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(events["data"][0]["type"], "user.message");
}

async fn create_validates_and_stores_nothing_on_error(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let (agent_id, env_id) = (agent["id"].as_str().unwrap(), env["id"].as_str().unwrap());
    let missing_agent = api
        .post(
            "/v1/sessions",
            json!({"agent": "agent_nope", "environment_id": env_id}),
        )
        .await;
    assert_eq!(missing_agent.status, 404);
    let missing_env = api
        .post(
            "/v1/sessions",
            json!({"agent": agent_id, "environment_id": "env_nope"}),
        )
        .await;
    assert_eq!(missing_env.status, 404);
    let missing_version = api
        .post("/v1/sessions", json!({"agent": {"type": "agent", "id": agent_id, "version": 9}, "environment_id": env_id}))
        .await;
    assert_eq!(missing_version.status, 404);
    for (body, field) in [
        (json!({"agent": agent_id}), "environment_id"),
        (
            json!({"agent": {"type": "robot", "id": agent_id}, "environment_id": env_id}),
            "agent",
        ),
        (
            json!({"agent": agent_id, "environment_id": env_id, "vault_ids": ["nope"]}),
            "vault_ids[0]",
        ),
        (
            json!({"agent": agent_id, "environment_id": env_id, "resources": [{"type": "file", "file_id": "file_a", "mount_path": "/x/../etc"}]}),
            "resources[0].mount_path",
        ),
        (
            json!({"agent": agent_id, "environment_id": env_id, "initial_events": [{"type": "user.interrupt"}]}),
            "initial_events[0].type",
        ),
        (
            json!({"agent": agent_id, "environment_id": env_id, "initial_events": [{"type": "user.message", "content": []}]}),
            "initial_events[0].content",
        ),
        (
            json!({"agent": agent_id, "environment_id": env_id, "budget": {"type": "limit"}}),
            "budget",
        ),
    ] {
        let reply = api.post("/v1/sessions", body).await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.text);
        assert!(
            reply.error_message().starts_with(field),
            "{field}: {}",
            reply.error_message()
        );
    }
    api.post(&format!("/v1/environments/{env_id}/archive"), json!(null))
        .await
        .expect(200);
    let archived = api
        .post(
            "/v1/sessions",
            json!({"agent": agent_id, "environment_id": env_id}),
        )
        .await;
    assert_eq!(archived.status, 400);
    assert_eq!(
        archived.body["error"]["details"]["error_code"],
        "environment_archived"
    );
    let listed = api
        .get("/v1/sessions?include_archived=true")
        .await
        .expect(200);
    assert_eq!(listed["data"], json!([]), "nothing was stored");
}

async fn update_title_metadata_and_agent_tools(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let session = api
        .post("/v1/sessions", json!({"agent": agent["id"], "environment_id": env["id"], "title": "old", "metadata": {"a": "1", "b": "2"}}))
        .await
        .expect(200);
    let id = session["id"].as_str().unwrap();
    let updated = api
        .post(
            &format!("/v1/sessions/{id}"),
            json!({"title": "new", "metadata": {"a": null, "c": "3"},
            "agent": {"tools": [{"type": "agent_toolset_20260401"}]}}),
        )
        .await
        .expect(200);
    assert_eq!(updated["title"], "new");
    assert_eq!(updated["metadata"], json!({"b": "2", "c": "3"}));
    assert_eq!(
        updated["agent"]["tools"][0]["type"],
        "agent_toolset_20260401"
    );
    let cleared = api
        .patch(&format!("/v1/sessions/{id}"), json!({"title": null}))
        .await
        .expect(200);
    assert_eq!(cleared["title"], Value::Null);
    let events = api
        .get(&format!("/v1/sessions/{id}/events"))
        .await
        .expect(200);
    let updates: Vec<&Value> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "session.updated")
        .collect();
    assert_eq!(updates.len(), 2);
    assert_eq!(updates[0]["title"], "new");
    assert!(updates[0]["agent"]["tools"].is_array());
    assert!(updates[1].get("metadata").is_none(), "only what changed");

    let refused = api
        .post(&format!("/v1/sessions/{id}"), json!({"vault_ids": []}))
        .await;
    assert_eq!(refused.status, 400);
    let no_budget = api
        .post(&format!("/v1/sessions/{id}"), json!({"budget": {"type": "limit", "max_list_cost": {"amount": "100", "currency": "USD"}}}))
        .await;
    assert_eq!(
        no_budget.body["error"]["details"]["error_code"],
        "budget_create_only"
    );
    let bad_tools = api
        .post(
            &format!("/v1/sessions/{id}"),
            json!({"agent": {"tools": [{"type": "mcp_toolset", "mcp_server_name": "nope"}]}}),
        )
        .await;
    assert_eq!(bad_tools.status, 400);
    assert_eq!(
        api.get(&format!("/v1/sessions/{id}")).await.expect(200)["agent"],
        updated["agent"]
    );

    // A budget change is what its session.updated carries; a removed budget is null.
    let budget = |amount: &str| json!({"type": "limit", "max_list_cost": {"amount": amount, "currency": "USD"}});
    let with_budget = api
        .post(
            "/v1/sessions",
            json!({"agent": updated["agent"]["id"], "environment_id": updated["environment_id"],
                   "budget": budget("100")}),
        )
        .await
        .expect(200);
    let budgeted = with_budget["id"].as_str().unwrap();
    api.post(
        &format!("/v1/sessions/{budgeted}"),
        json!({"budget": budget("250")}),
    )
    .await
    .expect(200);
    api.post(&format!("/v1/sessions/{budgeted}"), json!({"budget": null}))
        .await
        .expect(200);
    let events = api
        .get(&format!(
            "/v1/sessions/{budgeted}/events?types[]=session.updated"
        ))
        .await
        .expect(200);
    let updates = events["data"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "{events}");
    assert_eq!(updates[0]["budget"], budget("250"));
    assert!(updates[0].get("title").is_none() && updates[0].get("agent").is_none());
    assert!(
        updates[1].get("budget").is_some_and(Value::is_null),
        "{}",
        updates[1]
    );
}

async fn list_filters_and_pages_both_ways(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let other = api
        .post("/v1/agents", json!({"name": "b", "model": "m"}))
        .await
        .expect(200);
    let mut ids = Vec::new();
    for i in 0..5 {
        let agent_id = if i == 4 {
            other["id"].clone()
        } else {
            agent["id"].clone()
        };
        let s = api
            .post(
                "/v1/sessions",
                json!({"agent": agent_id, "environment_id": env["id"]}),
            )
            .await
            .expect(200);
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    // A filter that cannot be honoured is refused, not ignored.
    let refused = api.get("/v1/sessions?deployment_id=depl_1").await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(
        refused.error_message().contains("deployment_id"),
        "{}",
        refused.text
    );
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    let page1 = api.get("/v1/sessions?limit=2").await.expect(200);
    let got = |page: &Value| {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(got(&page1), newest_first[..2].to_vec());
    assert_eq!(page1["prev_page"], Value::Null);
    let page2 = api
        .get(&format!(
            "/v1/sessions?limit=2&page={}",
            page1["next_page"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(got(&page2), newest_first[2..4].to_vec());
    let back = api
        .get(&format!(
            "/v1/sessions?limit=2&page={}",
            page2["prev_page"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(got(&back), newest_first[..2].to_vec());
    assert_eq!(
        back["prev_page"],
        Value::Null,
        "the first page has no previous page"
    );

    let by_agent = api
        .get(&format!(
            "/v1/sessions?agent_id={}",
            other["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(got(&by_agent), vec![ids[4].clone()]);
    let by_version = api
        .get(&format!(
            "/v1/sessions?agent_id={}&agent_version=1",
            agent["id"].as_str().unwrap()
        ))
        .await
        .expect(200);
    assert_eq!(by_version["data"], json!([]), "the sessions run version 2");
    let idle = api
        .get("/v1/sessions?statuses%5B%5D=idle&statuses%5B%5D=running&limit=100")
        .await
        .expect(200);
    assert_eq!(idle["data"].as_array().unwrap().len(), 5);
    let none = api
        .get("/v1/sessions?statuses%5B%5D=terminated")
        .await
        .expect(200);
    assert_eq!(none["data"], json!([]));
    let asc = api.get("/v1/sessions?order=asc&limit=1").await.expect(200);
    assert_eq!(got(&asc), vec![ids[0].clone()]);
    assert_eq!(
        api.get("/v1/sessions?statuses%5B%5D=sleeping").await.status,
        400
    );
    assert_eq!(api.get("/v1/sessions?agent_version=1").await.status, 400);
}
