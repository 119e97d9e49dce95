//! Memory stores attached to sessions: mounted at `/mnt/memory/<name>/`, what the agent
//! writes there with `bash` becomes versions attributed to its session (found through the API
//! and by search), the next session reads it, read-only attachments cannot change it, and
//! sessions writing one memory keep every version with the last write on top.

use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{memory, store};

on_both_backends_with_model!(
    memory_written_with_bash_is_read_by_the_next_session,
    sessions_writing_one_memory_keep_every_version,
    attaching_checks_the_stores,
);

const SECS: u64 = 20;

async fn session_with(api: &Api, resources: Value) -> String {
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "memory agent", "model": "claude-sonnet-4-6", "system": "Be useful.",
                   "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "memory env"}))
        .await
        .expect(200);
    api.post(
        "/v1/sessions",
        json!({"agent": agent["id"], "environment_id": env["id"], "resources": resources}),
    )
    .await
    .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Runs one turn in which the model calls `tool` with `input`; returns the tool's result text.
async fn tool_turn(
    api: &Api,
    model: &FakeModel,
    session: &str,
    turn: usize,
    tool: &str,
    input: Value,
) -> String {
    model.push(ModelReply::tool_use(&format!("toolu_m{turn}"), tool, input));
    model.push(ModelReply::text("done"));
    say(api, session, "go").await;
    wait_for_turns(api, session, turn, SECS).await;
    all_events(api, session)
        .await
        .iter()
        .rfind(|e| e["type"] == "agent.tool_result")
        .map(|e| {
            e["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

async fn bash(api: &Api, model: &FakeModel, session: &str, turn: usize, command: &str) -> String {
    tool_turn(
        api,
        model,
        session,
        turn,
        "bash",
        json!({"command": command}),
    )
    .await
}

async fn memories(api: &Api, store_id: &str) -> Vec<(String, String)> {
    api.get(&format!(
        "/v1/memory_stores/{store_id}/memories?view=full&limit=20"
    ))
    .await
    .expect(200)["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_owned(),
                m["content"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn versions(api: &Api, store_id: &str, filter: &str) -> Vec<Value> {
    api.get(&format!(
        "/v1/memory_stores/{store_id}/memory_versions?view=full&{filter}"
    ))
    .await
    .expect(200)["data"]
        .as_array()
        .unwrap()
        .clone()
}

async fn memory_written_with_bash_is_read_by_the_next_session(
    server: &TestServer,
    model: &FakeModel,
) {
    let api = server.api();
    let store_id = api
        .post(
            "/v1/memory_stores",
            json!({"name": "team notes", "description": "Facts about the team."}),
        )
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let writer = session_with(
        &api,
        json!([{"type": "memory_store", "memory_store_id": store_id,
                "instructions": "Keep notes short."}]),
    )
    .await;
    let resources = api
        .get(&format!("/v1/sessions/{writer}/resources"))
        .await
        .expect(200);
    let resource = &resources["data"][0];
    assert_eq!(resource["type"], "memory_store");
    assert_eq!(resource["name"], "team notes");
    assert_eq!(resource["description"], "Facts about the team.");
    assert_eq!(resource["mount_path"], "/mnt/memory/team notes");
    assert_eq!(resource["access"], "read_write");

    let dir = "'/mnt/memory/team notes'";
    let out = bash(
        &api,
        model,
        &writer,
        1,
        &format!(
            "mkdir -p {dir}/people && echo 'Alice likes green tea' > {dir}/people/alice.md \
             && printf '\\377\\376' > {dir}/bad.bin && ls /mnt/memory"
        ),
    )
    .await;
    assert!(out.contains("team notes"), "{out}");
    assert!(
        out.contains("bad.bin: not saved (its content is not UTF-8 text)"),
        "the agent is told what was not saved: {out}"
    );
    let system = model.turn_requests()[0].body["system"].to_string();
    for part in [
        "Be useful.",
        "Memory store: team notes",
        "Mounted at /mnt/memory/team notes/ (read-write)",
        "Facts about the team.",
        "Instructions: Keep notes short.",
    ] {
        assert!(system.contains(part), "{part} in {system}");
    }

    // Saved at the end of the tool call, attributed to the session, searchable.
    assert_eq!(
        memories(&api, &store_id).await,
        vec![(
            "/people/alice.md".to_owned(),
            "Alice likes green tea\n".to_owned()
        )]
    );
    let by_writer = versions(&api, &store_id, &format!("session_id={writer}")).await;
    assert_eq!(by_writer.len(), 1);
    assert_eq!(
        by_writer[0]["created_by"],
        json!({"type": "session_actor", "session_id": writer})
    );
    let found = api
        .post(
            &format!("/v1/memory_stores/{store_id}/search"),
            json!({"query": "what tea does Alice like"}),
        )
        .await
        .expect(200);
    assert_eq!(found["data"][0]["path"], "/people/alice.md");

    // A second session, read-only: reads it, cannot change it by any tool.
    let reader = session_with(
        &api,
        json!([{"type": "memory_store", "memory_store_id": store_id, "access": "read_only"}]),
    )
    .await;
    let file = "/mnt/memory/team notes/people/alice.md";
    let out = bash(
        &api,
        model,
        &reader,
        1,
        &format!("cat '{file}'; echo changed > '{file}'; rm -f '{file}'; touch '/mnt/memory/team notes/new.md'"),
    )
    .await;
    assert!(out.contains("Alice likes green tea"), "{out}");
    assert!(out.contains("Read-only file system"), "{out}");
    let out = tool_turn(
        &api,
        model,
        &reader,
        2,
        "write",
        json!({"file_path": file, "content": "overwritten"}),
    )
    .await;
    assert!(out.contains("read-only"), "{out}");
    let system = model.turn_requests().last().unwrap().body["system"].to_string();
    assert!(system.contains("(read-only"), "{system}");
    assert_eq!(
        versions(&api, &store_id, "").await.len(),
        1,
        "nothing changed"
    );

    // A change through the API reaches the writer's folder at its next turn; its deletion
    // there deletes the memory, attributed to it.
    let id = memory_id(&api, &store_id, "/people/alice.md").await;
    api.post(
        &format!("/v1/memory_stores/{store_id}/memories/{id}"),
        json!({"content": "Alice now prefers coffee"}),
    )
    .await
    .expect(200);
    let out = bash(
        &api,
        model,
        &writer,
        2,
        &format!("cat {dir}/people/alice.md && rm {dir}/people/alice.md"),
    )
    .await;
    assert!(out.contains("Alice now prefers coffee"), "{out}");
    assert!(memories(&api, &store_id).await.is_empty());
    let deletions = versions(&api, &store_id, "operation=deleted").await;
    assert_eq!(deletions.len(), 1);
    assert_eq!(deletions[0]["created_by"]["session_id"], writer.as_str());
}

async fn memory_id(api: &Api, store_id: &str, path: &str) -> String {
    let listed = api
        .get(&format!("/v1/memory_stores/{store_id}/memories"))
        .await
        .expect(200);
    listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == path)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn sessions_writing_one_memory_keep_every_version(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let store_id = store(&api, "shared").await;
    memory(&api, &store_id, "/plan.md", "from the API").await;
    let resources = json!([{"type": "memory_store", "memory_store_id": store_id}]);
    let first = session_with(&api, resources.clone()).await;
    let second = session_with(&api, resources).await;
    let plan = "/mnt/memory/shared/plan.md";
    let out = bash(
        &api,
        model,
        &first,
        1,
        &format!("cat {plan} && echo first > {plan}"),
    )
    .await;
    assert!(out.contains("from the API"), "{out}");
    // The second session's folder was filled before the first one wrote: it overwrites.
    let out = bash(&api, model, &second, 1, &format!("echo second > {plan}")).await;
    assert!(!out.contains("not saved"), "{out}");
    assert_eq!(
        memories(&api, &store_id).await,
        vec![("/plan.md".to_owned(), "second\n".to_owned())]
    );
    let history: Vec<(String, String)> = versions(&api, &store_id, "")
        .await
        .iter()
        .map(|v| {
            (
                v["content"].as_str().unwrap().to_owned(),
                v["created_by"]["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        history,
        vec![
            ("second\n".to_owned(), "session_actor".to_owned()),
            ("first\n".to_owned(), "session_actor".to_owned()),
            ("from the API".to_owned(), "api_actor".to_owned()),
        ]
    );
    // The first session sees the second one's write at its next turn.
    let out = bash(&api, model, &first, 2, &format!("cat {plan}")).await;
    assert!(out.contains("second"), "{out}");
}

async fn attaching_checks_the_stores(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
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
    let create = |resources: Value| {
        let api = api.clone();
        let body =
            json!({"agent": agent["id"], "environment_id": env["id"], "resources": resources});
        async move { api.post("/v1/sessions", body).await }
    };
    let missing =
        create(json!([{"type": "memory_store", "memory_store_id": "memstore_missing"}])).await;
    assert_eq!(missing.status, 404, "{}", missing.text);
    let archived = store(&api, "old").await;
    api.post(&format!("/v1/memory_stores/{archived}/archive"), json!({}))
        .await
        .expect(200);
    let refused = create(json!([{"type": "memory_store", "memory_store_id": archived}])).await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    let mut nine = Vec::new();
    for i in 0..9 {
        let id = store(&api, &format!("s{i}")).await;
        nine.push(json!({"type": "memory_store", "memory_store_id": id}));
    }
    let too_many = create(Value::Array(nine.clone())).await;
    assert_eq!(too_many.status, 400, "{}", too_many.text);
    // Two stores of one name get distinct folders.
    let twin = store(&api, "s0").await;
    let ok = create(json!([nine[0], {"type": "memory_store", "memory_store_id": twin}]))
        .await
        .expect(200);
    let mounts: Vec<&str> = ok["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["mount_path"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, vec!["/mnt/memory/s0", "/mnt/memory/s0-2"]);
    assert_eq!(
        api.get("/v1/sessions?limit=100").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
