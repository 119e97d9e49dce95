//! Vaults and credentials (contract §8.1): CRUD, write-only secrets, limits, archiving that
//! destroys secrets, tenant isolation, and secrets never stored in plaintext.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends!(
    vault_lifecycle,
    credentials_never_show_secrets,
    credential_limits_and_conflicts,
    archiving_destroys_secrets,
    vaults_are_private_to_their_tenant,
    oauth_validation_reports_each_step,
);

const TOKEN: &str = "tok_live_6bd1c0ffee93";

async fn vault(api: &berth_test_support::Api, name: &str) -> String {
    api.post("/v1/vaults", json!({"display_name": name}))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn vault_lifecycle(server: &TestServer) {
    let api = server.api();
    let created = api
        .post(
            "/v1/vaults",
            json!({"display_name": "ops", "metadata": {"team": "infra"}}),
        )
        .await
        .expect(200);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("vlt_"));
    assert_eq!(created["type"], "vault");
    assert_eq!(created["archived_at"], Value::Null);
    assert_eq!(
        api.get(&format!("/v1/vaults/{id}")).await.expect(200),
        created
    );

    let renamed = api
        .patch(
            &format!("/v1/vaults/{id}"),
            json!({"display_name": "prod", "metadata": {"team": null, "tier": "1"}}),
        )
        .await
        .expect(200);
    assert_eq!(renamed["display_name"], "prod");
    assert_eq!(renamed["metadata"], json!({"tier": "1"}));
    let missing_name = api.post("/v1/vaults", json!({})).await;
    assert_eq!(missing_name.status, 400);
    assert!(missing_name.error_message().contains("display_name"));

    let listed = api.get("/v1/vaults").await.expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    let archived = api
        .post(&format!("/v1/vaults/{id}/archive"), json!(null))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string());
    assert_eq!(
        api.get("/v1/vaults").await.expect(200)["data"],
        json!([]),
        "archived vaults are hidden by default"
    );
    assert_eq!(
        api.get("/v1/vaults?include_archived=true")
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let deleted = api.delete(&format!("/v1/vaults/{id}")).await.expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "vault_deleted"}));
    assert_eq!(api.get(&format!("/v1/vaults/{id}")).await.status, 404);
}

async fn credentials_never_show_secrets(server: &TestServer) {
    let api = server.api();
    let vault_id = vault(&api, "secrets").await;
    let base = format!("/v1/vaults/{vault_id}/credentials");
    let bearer = api
        .post(
            &base,
            json!({"display_name": "github", "auth": {
                "type": "static_bearer", "mcp_server_url": "https://mcp.example.com/mcp/",
                "token": TOKEN
            }}),
        )
        .await
        .expect(200);
    let oauth = api
        .post(
            &base,
            json!({"auth": {
                "type": "mcp_oauth", "mcp_server_url": "https://linear.example.com/mcp",
                "access_token": "at_secret_value_1", "expires_at": "2031-01-01T00:00:00Z",
                "refresh": {"client_id": "cid", "refresh_token": "rt_secret_value_1",
                    "token_endpoint": "https://auth.example.com/token",
                    "token_endpoint_auth": {"type": "client_secret_basic", "client_secret": "cs_secret_value_1"}}
            }}),
        )
        .await
        .expect(200);
    let env = api
        .post(
            &base,
            json!({"auth": {
                "type": "environment_variable", "secret_name": "API_KEY",
                "secret_value": "sv_secret_value_1",
                "networking": {"type": "limited", "allowed_hosts": ["api.example.com"]}
            }}),
        )
        .await
        .expect(200);
    assert_eq!(
        bearer["auth"],
        json!({"type": "static_bearer", "mcp_server_url": "https://mcp.example.com/mcp/"})
    );
    // The URL comes back exactly as sent, and names the same server as without its slash.
    let same_server = api
        .post(
            &base,
            json!({"auth": {"type": "static_bearer", "mcp_server_url": "https://mcp.example.com/mcp",
                "token": "another-token"}}),
        )
        .await;
    assert_eq!(same_server.status, 409, "{}", same_server.text);
    assert_eq!(bearer["type"], "vault_credential");
    assert_eq!(bearer["vault_id"], vault_id.as_str());
    assert!(bearer["id"].as_str().unwrap().starts_with("vcrd_"));
    assert_eq!(
        oauth["auth"]["refresh"],
        json!({"client_id": "cid", "token_endpoint": "https://auth.example.com/token",
               "token_endpoint_auth": {"type": "client_secret_basic"}, "scope": null, "resource": null})
    );
    assert_eq!(
        env["auth"]["injection_location"],
        json!({"header": true, "body": false})
    );

    // Rotating one field keeps the rest; the type cannot change.
    let id = bearer["id"].as_str().unwrap();
    let rotated = api
        .post(
            &format!("{base}/{id}"),
            json!({"auth": {"type": "static_bearer", "token": "tok_rotated_value_2"}}),
        )
        .await
        .expect(200);
    assert_eq!(rotated["auth"], bearer["auth"]);
    let retyped = api
        .post(
            &format!("{base}/{id}"),
            json!({"auth": {"type": "mcp_oauth", "access_token": "x"}}),
        )
        .await;
    assert_eq!(retyped.status, 400);

    let everything = [
        serde_json::to_string(&api.get(&base).await.expect(200)).unwrap(),
        serde_json::to_string(&api.get(&format!("{base}/{id}")).await.expect(200)).unwrap(),
        serde_json::to_string(&bearer).unwrap(),
        serde_json::to_string(&oauth).unwrap(),
        serde_json::to_string(&env).unwrap(),
        serde_json::to_string(&rotated).unwrap(),
    ]
    .concat();
    for secret in [
        TOKEN,
        "tok_rotated_value_2",
        "at_secret_value_1",
        "rt_secret_value_1",
        "cs_secret_value_1",
        "sv_secret_value_1",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} appeared in a response"
        );
        assert_not_on_disk(server, secret);
    }
}

/// No file under the data directory (the SQLite database and its WAL included) holds `secret`.
fn assert_not_on_disk(server: &TestServer, secret: &str) {
    for entry in walk(server.data_dir.path()) {
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is stored in plaintext in {}",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

async fn credential_limits_and_conflicts(server: &TestServer) {
    let api = server.api();
    let vault_id = vault(&api, "full").await;
    let base = format!("/v1/vaults/{vault_id}/credentials");
    let bearer = |i: usize| {
        json!({"auth": {"type": "static_bearer",
            "mcp_server_url": format!("https://mcp{i}.example.com/mcp"), "token": "t0k3n-value"}})
    };
    api.post(&base, bearer(0)).await.expect(200);
    let duplicate = api.post(&base, bearer(0)).await;
    assert_eq!(duplicate.status, 409);
    for i in 1..20 {
        api.post(&base, bearer(i)).await.expect(200);
    }
    let full = api.post(&base, bearer(20)).await;
    assert_eq!(full.status, 400);
    assert!(
        full.error_message().contains("20"),
        "{}",
        full.error_message()
    );

    let bad = api
        .post(
            &base,
            json!({"auth": {"type": "static_bearer", "mcp_server_url": "ftp://x", "token": "t"}}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let missing_vault = api
        .post("/v1/vaults/vlt_missing/credentials", bearer(1))
        .await;
    assert_eq!(missing_vault.status, 404);
    let page = api.get(&format!("{base}?limit=5")).await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 5);
    assert!(page["next_page"].is_string());
}

async fn archiving_destroys_secrets(server: &TestServer) {
    let api = server.api();
    let vault_id = vault(&api, "archive").await;
    let base = format!("/v1/vaults/{vault_id}/credentials");
    let credential = api
        .post(
            &base,
            json!({"auth": {"type": "static_bearer", "mcp_server_url": "https://a.example.com/mcp", "token": TOKEN}}),
        )
        .await
        .expect(200);
    let id = credential["id"].as_str().unwrap();
    let archived = api
        .post(&format!("{base}/{id}/archive"), json!(null))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string());
    let update = api
        .post(&format!("{base}/{id}"), json!({"display_name": "again"}))
        .await;
    assert_eq!(update.status, 400);
    // The URL is free again for a new credential.
    let second = api
        .post(
            &base,
            json!({"auth": {"type": "static_bearer", "mcp_server_url": "https://a.example.com/mcp", "token": TOKEN}}),
        )
        .await
        .expect(200);
    // Archiving the vault archives its credentials.
    api.post(&format!("/v1/vaults/{vault_id}/archive"), json!(null))
        .await
        .expect(200);
    let second_id = second["id"].as_str().unwrap();
    let after = api.get(&format!("{base}/{second_id}")).await.expect(200);
    assert!(after["archived_at"].is_string());
    let listed = api
        .get(&format!("{base}?include_archived=true"))
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    api.delete(&format!("{base}/{id}")).await.expect(200);
    assert_eq!(api.get(&format!("{base}/{id}")).await.status, 404);
}

async fn vaults_are_private_to_their_tenant(server: &TestServer) {
    let api = server.api();
    let other_key = api
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200)["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = server.api_with_key(&other_key);
    let vault_id = vault(&api, "mine").await;
    let base = format!("/v1/vaults/{vault_id}/credentials");
    let credential = api
        .post(
            &base,
            json!({"auth": {"type": "static_bearer", "mcp_server_url": "https://a.example.com/mcp", "token": TOKEN}}),
        )
        .await
        .expect(200);
    let id = credential["id"].as_str().unwrap();
    assert_eq!(
        other.get(&format!("/v1/vaults/{vault_id}")).await.status,
        404
    );
    assert_eq!(other.get(&base).await.status, 404);
    assert_eq!(other.get(&format!("{base}/{id}")).await.status, 404);
    assert_eq!(
        other
            .post(
                &base,
                json!({"auth": {"type": "static_bearer", "mcp_server_url": "https://b.example.com/mcp", "token": TOKEN}})
            )
            .await
            .status,
        404
    );
    assert_eq!(other.delete(&format!("{base}/{id}")).await.status, 404);
    assert_eq!(
        other.delete(&format!("/v1/vaults/{vault_id}")).await.status,
        404
    );
    api.get(&format!("{base}/{id}")).await.expect(200);
}

async fn oauth_validation_reports_each_step(server: &TestServer) {
    let api = server.api();
    let vault_id = vault(&api, "validate").await;
    let base = format!("/v1/vaults/{vault_id}/credentials");
    let bearer = api
        .post(
            &base,
            json!({"auth": {"type": "static_bearer", "mcp_server_url": "https://a.example.com/mcp", "token": TOKEN}}),
        )
        .await
        .expect(200);
    let id = bearer["id"].as_str().unwrap();
    let wrong_kind = api
        .post(&format!("{base}/{id}/mcp_oauth_validate"), json!(null))
        .await;
    assert_eq!(wrong_kind.status, 400);

    // A server on a private address the operator did not allow: the probe cannot run.
    let oauth = api
        .post(
            &base,
            json!({"auth": {"type": "mcp_oauth", "mcp_server_url": "http://127.0.0.1:9/mcp",
                "access_token": "at_unreachable_1"}}),
        )
        .await
        .expect(200);
    let id = oauth["id"].as_str().unwrap();
    let report = api
        .post(&format!("{base}/{id}/mcp_oauth_validate"), json!(null))
        .await
        .expect(200);
    assert_eq!(report["type"], "vault_credential_validation");
    assert_eq!(report["status"], "unknown");
    assert_eq!(report["has_refresh_token"], false);
    assert_eq!(report["credential_id"], id);
    assert_eq!(report["mcp_probe"]["method"], "initialize");
}
