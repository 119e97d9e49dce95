//! `environment_variable` vault credentials in a session's sandbox: commands see only a
//! placeholder; the egress proxy puts the real value into requests to the credential's hosts,
//! where its `injection_location` allows; nothing stored ever holds the value.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::any;
use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply};
use serde_json::{Value, json};

const SECRET: &str = "sv_live_4f3e2d1c0b9a";

type Seen = Arc<Mutex<Vec<(Option<String>, String)>>>;

/// A loopback server that records each request's `Authorization` header and body.
async fn recording_upstream() -> (u16, Seen) {
    let seen: Seen = Arc::default();
    async fn record(State(seen): State<Seen>, headers: HeaderMap, body: String) -> &'static str {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        seen.lock().unwrap().push((auth, body));
        "recorded"
    }
    let app = Router::new()
        .route("/{*path}", any(record))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (port, seen)
}

async fn bash(api: &Api, model: &FakeModel, session: &str, turn: usize, command: &str) -> String {
    model.push(ModelReply::tool_use(
        &format!("toolu_{turn}"),
        "bash",
        json!({"command": command}),
    ));
    model.push(ModelReply::text("ok"));
    say(api, session, "run it").await;
    wait_for_turns(api, session, turn, 30).await;
    let events = all_events(api, session).await;
    events
        .iter()
        .rfind(|e| e["type"] == "agent.tool_result")
        .and_then(|e| e["content"][0]["text"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_variable_credentials_reach_only_their_hosts() {
    let (port, seen) = recording_upstream().await;
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let server = berth_test_support::spawn_server_with(|c| {
        berth_test_support::with_model(c, &base);
        c.sandbox_loopback_ports = vec![port];
    })
    .await;
    let api = server.api();
    let vault = api
        .post("/v1/vaults", json!({"display_name": "env"}))
        .await
        .expect(200);
    let vault_id = vault["id"].as_str().unwrap();
    for (name, body) in [("API_KEY", false), ("BODY_KEY", true)] {
        api.post(
            &format!("/v1/vaults/{vault_id}/credentials"),
            json!({"auth": {"type": "environment_variable", "secret_name": name,
                            "secret_value": SECRET,
                            "networking": {"type": "limited", "allowed_hosts": ["localhost"]},
                            "injection_location": {"header": true, "body": body}}}),
        )
        .await
        .expect(200);
    }
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "env agent", "model": "claude-sonnet-4-6",
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

    let shown = bash(&api, &model, session, 1, "echo \"$API_KEY\"").await;
    assert!(shown.contains("berth-secret-"), "{shown}");
    assert!(!shown.contains(SECRET));

    // To an allowed host: the header carries the value; the body only where allowed.
    bash(
        &api,
        &model,
        session,
        2,
        &format!(
            "curl -s -m 10 --noproxy '' -H \"Authorization: Bearer $API_KEY\" -d \"key=$API_KEY\" http://localhost:{port}/a"
        ),
    )
    .await;
    bash(
        &api,
        &model,
        session,
        3,
        &format!("curl -s -m 10 --noproxy '' -d \"key=$BODY_KEY\" http://localhost:{port}/b"),
    )
    .await;
    // To a host the credential does not name: only the placeholder leaves.
    bash(
        &api,
        &model,
        session,
        4,
        &format!("curl -s -m 10 --noproxy '' -H \"Authorization: Bearer $API_KEY\" http://127.0.0.1:{port}/c"),
    )
    .await;
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[0].0.as_deref(), Some(&*format!("Bearer {SECRET}")));
    assert!(seen[0].1.starts_with("key=berth-secret-"), "{:?}", seen[0]);
    assert_eq!(seen[1].1, format!("key={SECRET}"));
    let refused = seen[2].0.as_deref().unwrap_or_default();
    assert!(refused.starts_with("Bearer berth-secret-"), "{refused}");

    // Nothing the session stored holds the value.
    let events: Value = api
        .get(&format!("/v1/sessions/{session}/events?limit=1000"))
        .await
        .expect(200);
    assert!(!events.to_string().contains(SECRET));
    for request in model.turn_requests() {
        assert!(!request.body.to_string().contains(SECRET));
    }
}
