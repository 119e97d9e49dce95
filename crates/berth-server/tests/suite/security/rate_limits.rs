//! Per-tenant request rate limits: over the limit a request gets `429` in the error envelope
//! with `retry-after`; every limited response carries the limit, what remains and when the
//! window resets; reads and writes count apart, tenants apart, and replicas on PostgreSQL
//! share the counts.

use berth_server::ServerConfig;
use berth_test_support::replicas::spawn_replicas;
use berth_test_support::{Api, FakeModel, TestServer};
use serde_json::json;

on_both_backends_configured!(tiny_limits; requests_are_limited_per_tenant_and_kind);

fn tiny_limits(config: &mut ServerConfig) {
    config.rate_limits.reads_per_minute = 5;
    config.rate_limits.writes_per_minute = 3;
}

async fn create_agent(api: &Api, n: usize) -> berth_test_support::Reply {
    api.post(
        "/v1/agents",
        json!({"name": format!("agent {n}"), "model": "claude-sonnet-4-6"}),
    )
    .await
}

async fn requests_are_limited_per_tenant_and_kind(server: &TestServer, _model: &FakeModel) {
    super::start_of_a_rate_window().await;
    let admin = server.api();
    let other = admin
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200);
    let other = server.api_with_key(other["api_key"].as_str().unwrap());
    // One write is spent on the tenant; two agents use the rest.
    let mut remaining = Vec::new();
    for n in 0..2 {
        let reply = create_agent(&admin, n).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        let header = |name: &str| reply.headers[name].to_str().unwrap().to_owned();
        assert_eq!(header("anthropic-ratelimit-requests-limit"), "3");
        remaining.push(header("anthropic-ratelimit-requests-remaining"));
        assert!(header("anthropic-ratelimit-requests-reset").ends_with('Z'));
    }
    assert_eq!(remaining, ["1", "0"]);
    let refused = create_agent(&admin, 9).await;
    assert_eq!(refused.status.as_u16(), 429);
    assert_eq!(refused.error_type(), "rate_limit_error");
    assert!(refused.body["request_id"].is_string(), "the usual envelope");
    let retry: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(
        refused.headers["anthropic-ratelimit-requests-remaining"],
        "0"
    );
    // Nothing was created by the refused request.
    let agents = admin.get("/v1/agents").await.expect(200);
    assert_eq!(agents["data"].as_array().unwrap().len(), 2);
    // Reads have a window of their own (the list above was the first).
    for _ in 0..4 {
        assert_eq!(admin.get("/v1/agents").await.status.as_u16(), 200);
    }
    assert_eq!(admin.get("/v1/agents").await.status.as_u16(), 429);
    // Another tenant is not held back, and health checks never are.
    assert_eq!(create_agent(&other, 1).await.status.as_u16(), 200);
    let health = reqwest::get(format!("{}/healthz", server.base_url))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_one_limit() {
    let Some(replicas) = spawn_replicas(2, |c| {
        c.rate_limits.writes_per_minute = 4;
    })
    .await
    else {
        return;
    };
    super::start_of_a_rate_window().await;
    let (a, b) = (replicas[0].api(), replicas[1].api());
    let mut accepted = 0;
    for n in 0..4 {
        let api = if n % 2 == 0 { &a } else { &b };
        let reply = create_agent(api, n).await;
        assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
        accepted += 1;
    }
    assert_eq!(accepted, 4);
    assert_eq!(create_agent(&a, 10).await.status.as_u16(), 429);
    assert_eq!(create_agent(&b, 11).await.status.as_u16(), 429);
    for replica in replicas {
        replica.stop().await;
    }
}
