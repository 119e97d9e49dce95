//! Environments: contract §5.1 plus the seed's PATCH and DELETE.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends!(
    environment_lifecycle,
    partial_config_updates,
    config_validation,
);

async fn environment_lifecycle(server: &TestServer) {
    let api = server.api();
    let env = api
        .post(
            "/v1/environments",
            json!({"name": "python", "description": "py", "metadata": {"a": "1"}}),
        )
        .await
        .expect(200);
    let id = env["id"].as_str().unwrap();
    assert!(id.starts_with("env_"));
    assert_eq!(env["type"], "environment");
    assert_eq!(env["config"]["type"], "cloud");
    assert_eq!(env["config"]["networking"]["type"], "limited");
    assert_eq!(env["scope"], Value::Null);
    assert_eq!(
        api.get(&format!("/v1/environments/{id}")).await.expect(200),
        env
    );

    let renamed = api
        .patch(
            &format!("/v1/environments/{id}"),
            json!({"name": "python3", "metadata": {"a": "", "b": "2"}, "description": ""}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["name"], "python3");
    assert_eq!(renamed["metadata"], json!({"b": "2"}));
    assert_eq!(
        renamed["description"], "",
        "environments keep an empty description"
    );
    let cleared = api
        .post(
            &format!("/v1/environments/{id}"),
            json!({"description": null}),
        )
        .await
        .expect(200);
    assert_eq!(cleared["description"], Value::Null);

    let listed = api.get("/v1/environments").await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let archived = api
        .post(&format!("/v1/environments/{id}/archive"), json!(null))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string());
    assert_eq!(
        api.get("/v1/environments").await.expect(200)["data"],
        json!([])
    );
    assert_eq!(
        api.get("/v1/environments?include_archived=true")
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let refused = api
        .post(&format!("/v1/environments/{id}"), json!({"name": "x"}))
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.body["error"]["details"]["error_code"],
        "environment_archived"
    );

    let deleted = api
        .delete(&format!("/v1/environments/{id}"))
        .await
        .expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "environment_deleted"}));
    assert_eq!(api.get(&format!("/v1/environments/{id}")).await.status, 404);
    assert_eq!(
        api.delete(&format!("/v1/environments/{id}")).await.status,
        404
    );
}

async fn partial_config_updates(server: &TestServer) {
    let api = server.api();
    let env = api
        .post(
            "/v1/environments",
            json!({"name": "e", "config": {"type": "cloud",
                "packages": {"pip": ["requests==2.31.0"], "npm": ["left-pad@1.3.0"]},
                "networking": {"type": "limited", "allowed_hosts": ["api.example.com"], "allow_package_managers": true}}}),
        )
        .await
        .expect(200);
    let id = env["id"].as_str().unwrap();
    assert_eq!(
        env["config"]["packages"],
        json!({"type": "packages", "apt": [], "cargo": [], "gem": [], "go": [], "npm": ["left-pad@1.3.0"], "pip": ["requests==2.31.0"]})
    );
    let next = api
        .post(
            &format!("/v1/environments/{id}"),
            json!({"config": {"type": "cloud", "networking": {"type": "unrestricted"}}}),
        )
        .await
        .expect(200);
    assert_eq!(
        next["config"]["networking"],
        json!({"type": "unrestricted"})
    );
    assert_eq!(
        next["config"]["packages"], env["config"]["packages"],
        "omitted packages are kept"
    );

    let switch = api
        .post(
            &format!("/v1/environments/{id}"),
            json!({"config": {"type": "self_hosted"}}),
        )
        .await;
    assert_eq!(switch.status, 400);
    assert_eq!(
        switch.body["error"]["details"]["error_code"],
        "invalid_config_type_change"
    );

    let hosted = api
        .post(
            "/v1/environments",
            json!({"name": "mine", "config": {"type": "self_hosted"}, "scope": "organization"}),
        )
        .await
        .expect(200);
    assert_eq!(hosted["config"], json!({"type": "self_hosted"}));
    assert_eq!(hosted["scope"], "organization");
}

async fn config_validation(server: &TestServer) {
    let api = server.api();
    for (config, field) in [
        (
            json!({"type": "cloud", "packages": {"pip": ["a; rm -rf /"]}}),
            "config.packages.pip[0]",
        ),
        (
            json!({"type": "cloud", "packages": {"apt": ["-oDebug=1"]}}),
            "config.packages.apt[0]",
        ),
        (
            json!({"type": "cloud", "networking": {"type": "limited", "allowed_hosts": ["http://x.com/"]}}),
            "config.networking.allowed_hosts[0]",
        ),
        (json!({"type": "moon"}), "config"),
        (
            json!({"type": "cloud", "networking": {"type": "open"}}),
            "config",
        ),
    ] {
        let reply = api
            .post("/v1/environments", json!({"name": "e", "config": config}))
            .await;
        assert_eq!(reply.status, 400, "{field}: {}", reply.text);
        assert!(
            reply.error_message().starts_with(field),
            "{field}: {}",
            reply.error_message()
        );
    }
    let no_name = api.post("/v1/environments", json!({})).await;
    assert_eq!(no_name.status, 400);
    assert_eq!(
        api.get("/v1/environments").await.expect(200)["data"],
        json!([])
    );
}
