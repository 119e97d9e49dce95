//! Finding 8: a sandbox's user was a hash of its session id modulo 50,000, so sessions of
//! different tenants could share a user and its process limit. Users are allocated in the
//! store: no two live sessions share one, and a session keeps its user on every replica.

use berth_test_support::replicas::spawn_replicas;
use berth_test_support::{Api, FakeModel, TestServer};
use serde_json::json;

use super::{call_tool, tool_session};

on_both_backends_with_model!(live_sessions_never_share_a_sandbox_user);

async fn sandbox_user(api: &Api, model: &FakeModel, session: &str, turn: usize) -> String {
    let (out, _) = call_tool(
        api,
        model,
        session,
        turn,
        "bash",
        json!({"command": "id -u"}),
    )
    .await;
    out.lines().nth(1).unwrap_or_default().to_owned()
}

async fn live_sessions_never_share_a_sandbox_user(server: &TestServer, model: &FakeModel) {
    let admin = server.api();
    let tenant = admin
        .post("/v1/tenants", json!({"name": "neighbour"}))
        .await
        .expect(200);
    let neighbour = server.api_with_key(tenant["api_key"].as_str().unwrap());
    let mut users = Vec::new();
    for api in [&admin, &neighbour, &admin, &neighbour] {
        let session = tool_session(api, json!({"name": "cloud"})).await;
        users.push(sandbox_user(api, model, &session, 1).await);
    }
    let mut distinct = users.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), users.len(), "{users:?}");
    assert!(
        users.iter().all(|u| u.parse::<u32>().unwrap() >= 200_000),
        "{users:?}"
    );
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_keeps_its_user_on_every_replica() {
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let Some(replicas) = spawn_replicas(2, |c| berth_test_support::with_model(c, &base)).await
    else {
        return;
    };
    let (a, b) = (replicas[0].api(), replicas[1].api());
    let session = tool_session(&a, json!({"name": "cloud"})).await;
    let first = sandbox_user(&a, &model, &session, 1).await;
    let mut seen = vec![first.clone()];
    // Turns run on whichever replica claims them: several turns, sent through both.
    for turn in 2..=4 {
        let api = if turn % 2 == 0 { &b } else { &a };
        seen.push(sandbox_user(api, &model, &session, turn).await);
    }
    assert!(seen.iter().all(|u| *u == first), "{seen:?}");
    for replica in replicas {
        replica.stop().await;
    }
}
