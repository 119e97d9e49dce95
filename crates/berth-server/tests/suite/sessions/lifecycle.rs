//! Sessions' ends and edges: archiving (which terminates), deleting, the environments they pin
//! and the tenant they belong to.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::fixtures;

on_both_backends!(
    archive_and_delete,
    environments_in_use_cannot_be_deleted,
    sessions_are_tenant_scoped,
);

async fn archive_and_delete(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let s = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    let id = s["id"].as_str().unwrap();
    let archived = api
        .post(&format!("/v1/sessions/{id}/archive"), json!(null))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string());
    // Archiving terminates the session, and says so in its log.
    assert_eq!(archived["status"], "terminated");
    let events = api
        .get(&format!("/v1/sessions/{id}/events"))
        .await
        .expect(200);
    let kinds: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.last(),
        Some(&"session.status_terminated"),
        "{kinds:?}"
    );
    let again = api
        .post(&format!("/v1/sessions/{id}/archive"), json!(null))
        .await
        .expect(200);
    assert_eq!(again["archived_at"], archived["archived_at"]);
    assert_eq!(api.get("/v1/sessions").await.expect(200)["data"], json!([]));
    assert_eq!(
        api.get("/v1/sessions?include_archived=true")
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let refused = api
        .post(&format!("/v1/sessions/{id}/events"), json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "x"}]}]}))
        .await;
    assert_eq!(refused.status, 409);
    assert_eq!(refused.headers["x-should-retry"], "false");
    let deleted = api.delete(&format!("/v1/sessions/{id}")).await.expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "session_deleted"}));
    assert_eq!(api.get(&format!("/v1/sessions/{id}")).await.status, 404);
    assert_eq!(api.delete(&format!("/v1/sessions/{id}")).await.status, 404);
    assert_eq!(
        api.get(&format!("/v1/sessions/{id}/events")).await.status,
        404
    );
}

async fn environments_in_use_cannot_be_deleted(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let env_id = env["id"].as_str().unwrap();
    let s = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env_id}),
        )
        .await
        .expect(200);
    let refused = api.delete(&format!("/v1/environments/{env_id}")).await;
    assert_eq!(refused.status, 409);
    api.post(
        &format!("/v1/sessions/{}/archive", s["id"].as_str().unwrap()),
        json!(null),
    )
    .await
    .expect(200);
    api.delete(&format!("/v1/environments/{env_id}"))
        .await
        .expect(200);
}

async fn sessions_are_tenant_scoped(server: &TestServer) {
    let api = server.api();
    let (agent, env) = fixtures(server).await;
    let s = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    let id = s["id"].as_str().unwrap();
    let key = api
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200)["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = server.api_with_key(&key);
    for reply in [
        other.get(&format!("/v1/sessions/{id}")).await,
        other.get(&format!("/v1/sessions/{id}/events")).await,
        other.get(&format!("/v1/sessions/{id}/events/stream")).await,
        other.get(&format!("/v1/sessions/{id}/log")).await,
        other
            .post(&format!("/v1/sessions/{id}"), json!({"title": "x"}))
            .await,
        other
            .post(&format!("/v1/sessions/{id}/archive"), json!(null))
            .await,
        other
            .post(&format!("/v1/sessions/{id}/cancel"), json!(null))
            .await,
        other
            .post(
                &format!("/v1/sessions/{id}/events"),
                json!({"events": [{"type": "user.interrupt"}]}),
            )
            .await,
        other.delete(&format!("/v1/sessions/{id}")).await,
    ] {
        assert_eq!(reply.status, 404, "{}", reply.text);
    }
    // Another tenant cannot start a session on this tenant's agent or environment either.
    let stolen = other
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await;
    assert_eq!(stolen.status, 404);
    assert_eq!(
        other.get("/v1/sessions").await.expect(200)["data"],
        json!([])
    );
    assert_eq!(
        api.get(&format!("/v1/sessions/{id}")).await.expect(200)["title"],
        Value::Null
    );
    assert_eq!(
        api.get(&format!("/v1/sessions/{id}/events"))
            .await
            .expect(200)["data"],
        json!([])
    );
}
