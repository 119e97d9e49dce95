//! API keys and tenants: keys shown once, revocation, admin-only tenant creation, isolation.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::json;

on_both_backends!(
    api_key_lifecycle,
    tenants_need_an_admin_key,
    tenants_cannot_see_each_other,
);

async fn api_key_lifecycle(server: &TestServer) {
    let api = server.api();
    let created = api
        .post("/v1/api_keys", json!({"name": "ci"}))
        .await
        .expect(200);
    let key = created["key"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    assert!(key.starts_with("berth_sk_"));
    assert!(key.len() >= 50, "at least 256 bits of randomness");
    assert_eq!(created["type"], "api_key");
    assert!(key.starts_with(created["prefix"].as_str().unwrap()));

    let listed = api.get("/v1/api_keys").await.expect(200);
    assert!(
        !listed.to_string().contains(key),
        "lists never show the key"
    );
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);

    let with_new = server.api_with_key(key);
    with_new.get("/v1/agents").await.expect(200);
    let revoked = api.delete(&format!("/v1/api_keys/{id}")).await.expect(200);
    assert_eq!(revoked, json!({"id": id, "type": "api_key_deleted"}));
    let refused = with_new.get("/v1/agents").await;
    assert_eq!(
        refused.status, 401,
        "a revoked key fails on the next request"
    );
    assert_eq!(api.delete(&format!("/v1/api_keys/{id}")).await.status, 404);
}

async fn tenants_need_an_admin_key(server: &TestServer) {
    let api = server.api();
    let tenant = api
        .post("/v1/tenants", json!({"name": "acme"}))
        .await
        .expect(200);
    assert!(tenant["id"].as_str().unwrap().starts_with("tn_"));
    assert_eq!(tenant["type"], "tenant");
    let key = tenant["api_key"].as_str().unwrap();
    let acme = server.api_with_key(key);
    acme.get("/v1/agents").await.expect(200);
    let forbidden = acme.post("/v1/tenants", json!({"name": "sneaky"})).await;
    assert_eq!(forbidden.status, 403);
    assert_eq!(forbidden.error_type(), "permission_error");
    assert_eq!(acme.get("/v1/tenants").await.status, 403);
    let listed = api.get("/v1/tenants").await.expect(200);
    assert!(
        listed["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "acme")
    );
    let bad = api.post("/v1/tenants", json!({"name": ""})).await;
    assert_eq!(bad.status, 400);

    // A tenant cannot revoke its only key.
    let keys = acme.get("/v1/api_keys").await.expect(200);
    let only = keys["data"][0]["id"].as_str().unwrap();
    let last = acme.delete(&format!("/v1/api_keys/{only}")).await;
    assert_eq!(last.status, 409);
    acme.get("/v1/agents").await.expect(200);
}

async fn tenants_cannot_see_each_other(server: &TestServer) {
    let api = server.api();
    let other_key = api
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200)["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = server.api_with_key(&other_key);
    let agent = api
        .post("/v1/agents", json!({"name": "mine", "model": "m"}))
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "mine"}))
        .await
        .expect(200);
    let agent_id = agent["id"].as_str().unwrap();
    let env_id = env["id"].as_str().unwrap();

    for path in [
        format!("/v1/agents/{agent_id}"),
        format!("/v1/agents/{agent_id}?version=1"),
        format!("/v1/agents/{agent_id}/versions"),
        format!("/v1/agents/{agent_id}/versions/1"),
        format!("/v1/environments/{env_id}"),
    ] {
        let reply = other.get(&path).await;
        assert_eq!(reply.status, 404, "{path}");
    }
    assert_eq!(
        other
            .post(&format!("/v1/agents/{agent_id}"), json!({"name": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(
        other
            .post(&format!("/v1/agents/{agent_id}/archive"), json!(null))
            .await
            .status,
        404
    );
    assert_eq!(
        other.delete(&format!("/v1/agents/{agent_id}")).await.status,
        404
    );
    assert_eq!(
        other
            .post(&format!("/v1/environments/{env_id}"), json!({"name": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(
        other
            .delete(&format!("/v1/environments/{env_id}"))
            .await
            .status,
        404
    );
    let keys = api.get("/v1/api_keys").await.expect(200);
    let admin_key_id = keys["data"][0]["id"].as_str().unwrap();
    assert_eq!(
        other
            .delete(&format!("/v1/api_keys/{admin_key_id}"))
            .await
            .status,
        404
    );
    assert_eq!(other.get("/v1/agents").await.expect(200)["data"], json!([]));
    assert_eq!(
        other.get("/v1/environments").await.expect(200)["data"],
        json!([])
    );

    // Nothing the other tenant tried changed anything.
    let mine = api.get(&format!("/v1/agents/{agent_id}")).await.expect(200);
    assert_eq!(mine, agent);
    assert_eq!(
        api.get(&format!("/v1/environments/{env_id}"))
            .await
            .expect(200),
        env
    );
}
