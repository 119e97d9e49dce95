//! Finding 6: with an `environment_variable` credential for host H, an H that echoes headers
//! handed the real value back to the sandbox, and `| base64` put it into a stored tool result
//! and the model's context. Responses from H carry the placeholder instead, and stored events
//! are redacted of encoded forms too.

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use berth_test_support::FakeModel;
use serde_json::{Value, json};

use super::call_tool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_secrets_never_reach_the_sandbox_or_the_log_sqlite() {
    reflected_secrets_never_reach_the_sandbox_or_the_log(false).await;
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reflected_secrets_never_reach_the_sandbox_or_the_log_postgres() {
    reflected_secrets_never_reach_the_sandbox_or_the_log(true).await;
}

const SECRET: &str = "sv_live_reflect_7c6b5a49";

/// A loopback server that answers with the request's `Authorization` header.
async fn echo_server() -> u16 {
    async fn echo(headers: HeaderMap) -> String {
        headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }
    let app = Router::new().route("/{*path}", any(echo));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    port
}

async fn reflected_secrets_never_reach_the_sandbox_or_the_log(postgres: bool) {
    let port = echo_server().await;
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    // The echo server listens on loopback: the server under test opens that one port.
    let configure = |c: &mut berth_server::ServerConfig| {
        berth_test_support::with_model(c, &base);
        c.sandbox_loopback_ports = vec![port];
    };
    let server = if postgres {
        match berth_test_support::spawn_postgres_server_with(configure).await {
            Some(server) => server,
            None => return,
        }
    } else {
        berth_test_support::spawn_server_with(configure).await
    };
    let model = &model;
    let api = server.api();
    let vault = api
        .post("/v1/vaults", json!({"display_name": "env"}))
        .await
        .expect(200);
    let vault_id = vault["id"].as_str().unwrap();
    api.post(
        &format!("/v1/vaults/{vault_id}/credentials"),
        json!({"auth": {"type": "environment_variable", "secret_name": "API_KEY",
                        "secret_value": SECRET,
                        "networking": {"type": "limited", "allowed_hosts": ["localhost"]},
                        "injection_location": {"header": true, "body": false}}}),
    )
    .await
    .expect(200);
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "echo agent", "model": "claude-sonnet-4-6",
                   "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await
        .expect(200);
    let env = api
        .post(
            "/v1/environments",
            json!({"name": "open", "config": {"type": "cloud", "networking": {"type": "unrestricted"}}}),
        )
        .await
        .expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"], "vault_ids": [vault_id]}),
        )
        .await
        .expect(200);
    let session = session["id"].as_str().unwrap();
    let curl = format!(
        "curl -s -m 10 --noproxy '' -H \"Authorization: Bearer $API_KEY\" http://localhost:{port}/echo"
    );
    let (out, _) = call_tool(
        &api,
        model,
        session,
        1,
        "bash",
        json!({"command": format!("{curl}; echo; {curl} | base64 -w0; echo; {curl} | xxd -p | tr -d '\\n'")}),
    )
    .await;
    assert!(
        out.contains("Bearer berth-secret-"),
        "the echo carries the placeholder: {out}"
    );

    let forms: Vec<String> = berth_vault::encoded_forms(SECRET.as_bytes())
        .into_iter()
        .map(|f| String::from_utf8(f).unwrap())
        .collect();
    let events: Value = api
        .get(&format!("/v1/sessions/{session}/events?limit=1000"))
        .await
        .expect(200);
    let stored = events.to_string();
    let requests: Vec<String> = model
        .turn_requests()
        .iter()
        .map(|r| r.body.to_string())
        .collect();
    for form in &forms {
        assert!(
            !stored.contains(form.as_str()),
            "stored events hold {form}: {stored}"
        );
        for request in &requests {
            assert!(!request.contains(form.as_str()), "the model saw {form}");
        }
    }
    server.stop().await;
}
