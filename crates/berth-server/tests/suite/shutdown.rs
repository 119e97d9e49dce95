//! Graceful shutdown: once requests have drained, the server waits for the runtime's tracked
//! background work — here a turn whose command is running — to finish writing, so stopping
//! leaves no turn half-open in the store.

use std::time::Duration;

use berth_server::ServerConfig;
use berth_test_support::sessions::{all_events, say, wait_for_status};
use berth_test_support::{FakeModel, ModelReply};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_waits_for_running_turns_to_close() {
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let mut server = berth_test_support::spawn_server_with(|c| {
        berth_test_support::with_model(c, &base);
    })
    .await;
    let api = server.api();
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6", "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "e"}))
        .await
        .expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    let id = session["id"].as_str().unwrap().to_owned();
    model.push(ModelReply::tool_use(
        "toolu_long",
        "bash",
        json!({"command": "sleep 30"}),
    ));
    say(&api, &id, "run something long").await;
    wait_for_status(&api, &id, "running", 10).await;
    // The command has started once its tool use is in the log.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !all_events(&api, &id)
        .await
        .iter()
        .any(|e| e["type"] == "agent.tool_use")
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the command never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let data_dir = std::mem::replace(&mut server.data_dir, tempfile::tempdir().unwrap());
    let tenant = server.default_tenant_id.clone();
    server.stop().await;

    // Read the store as the server left it, the moment it stopped.
    let store = berth_server::startup::open_store(&ServerConfig::new(data_dir.path().to_owned()))
        .await
        .unwrap();
    let row = store.get_session(&tenant, &id).await.unwrap().unwrap();
    assert_eq!(
        row.status,
        berth_store::SessionStatus::Idle,
        "the turn was closed before the server stopped"
    );
    let last = store
        .read_events(&id, 0, 1000, u64::MAX)
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(last.kind, "session.status_idle");
}
