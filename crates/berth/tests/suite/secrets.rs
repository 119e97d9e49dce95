//! Model-card secrets stay secret: after creating cards, running turns, a provider error that
//! quotes the key and a refused rotation, the key and header values appear in no API response,
//! no event, no log line (at debug level) and no file under the data directory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_test_support::fake_llm::masked_key;
use berth_test_support::sessions::{all_events, new_session, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply};
use serde_json::json;

const ADMIN: &str = "berth_sk_secrets_test_admin_key_0123456789abcdef";
const CARD_KEY: &str = "sk-proj-SECRETKEY-4f9a7c2e1b8d6f3a0e5c";
const ROTATED_KEY: &str = "sk-ant-ROTATEDKEY-91c3e7a5f2b8d4c6e0a1";
const HEADER_VALUE: &str = "hdr-SECRETHEADER-77e1c9";

/// Every form of a secret that must not appear: whole, masked as providers echo it, and its
/// distinctive middle.
fn forbidden() -> Vec<String> {
    let mut out = Vec::new();
    for secret in [CARD_KEY, ROTATED_KEY, HEADER_VALUE] {
        out.push(secret.to_owned());
        out.push(masked_key(secret));
    }
    out.extend(["SECRETKEY", "ROTATEDKEY", "SECRETHEADER"].map(str::to_owned));
    out
}

fn assert_clean(what: &str, text: &str) {
    for secret in forbidden() {
        assert!(!text.contains(&secret), "{what} contains {secret:?}");
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_responses_events_logs_or_the_data_dir() {
    let fake = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let Logged {
        mut child,
        api,
        log,
        reader,
    } = spawn_logged(dir.path(), &[]);
    let mut responses = String::new();

    let created = api
        .post(
            "/v1/model_cards",
            json!({"model_id": "gateway", "provider": "oai-compatible", "model": "wire-model",
                   "base_url": format!("{}/v1", fake.base_url), "api_key": CARD_KEY,
                   "custom_headers": {"x-gateway-token": HEADER_VALUE}}),
        )
        .await;
    responses.push_str(&created.text);
    let card = created.expect(200);
    let card_id = card["id"].as_str().unwrap();

    // A turn that works, then the provider revokes the key and quotes it back half-masked.
    let session = new_session(&api, json!({"model": "gateway"})).await;
    let id = session["id"].as_str().unwrap();
    say(&api, id, "hello").await;
    wait_for_turns(&api, id, 1, 20).await;
    fake.accept_keys(&["something-else-entirely-000"]);
    say(&api, id, "again").await;
    wait_for_turns(&api, id, 2, 20).await;

    // A rotation the provider refuses, one it accepts, and a mid-stream provider error.
    let refused = api
        .post(
            &format!("/v1/model_cards/{card_id}"),
            json!({"api_key": ROTATED_KEY}),
        )
        .await;
    assert_eq!(refused.status, 400);
    responses.push_str(&refused.text);
    fake.accept_keys(&[ROTATED_KEY]);
    let rotated = api
        .post(
            &format!("/v1/model_cards/{card_id}"),
            json!({"api_key": ROTATED_KEY, "provider": "ant-compatible", "base_url": fake.base_url}),
        )
        .await;
    responses.push_str(&rotated.text);
    rotated.expect(200);
    fake.push(ModelReply::stream_error("api_error", "upstream hiccup"));
    say(&api, id, "third").await;
    wait_for_turns(&api, id, 3, 20).await;

    for path in [
        format!("/v1/model_cards/{card_id}"),
        "/v1/model_cards".to_owned(),
        "/v1/oma/model_cards".to_owned(),
        format!("/v1/sessions/{id}"),
        format!("/v1/sessions/{id}/log"),
    ] {
        responses.push_str(&api.get(&path).await.text);
    }
    let events = all_events(&api, id).await;
    let error_messages: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "session.error")
        .map(|e| e["error"]["message"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        error_messages
            .iter()
            .any(|m| m.contains("Incorrect API key provided")),
        "the provider's explanation is kept: {error_messages:?}"
    );
    let events = serde_json::to_string(&events).unwrap();

    // The key did reach the provider (so the test would notice if it were never used).
    let sent: Vec<String> = fake.requests().iter().filter_map(|r| r.api_key()).collect();
    assert!(sent.iter().any(|k| k == CARD_KEY) && sent.iter().any(|k| k == ROTATED_KEY));

    stop_gracefully(&mut child);
    reader.join().unwrap();
    assert_clean("an API response", &responses);
    assert_clean("the event log", &events);
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("model request failed"),
        "debug logs were captured"
    );
    assert_clean("the server log", &log);
    let files = files_under(dir.path());
    assert!(files.iter().any(|f| f.ends_with("berth.db")));
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        assert_clean(&format!("{}", file.display()), &text);
    }
}

/// Stops the server with SIGTERM (so the database is checkpointed and closed) and waits.
fn stop_gracefully(child: &mut std::process::Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "berth did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `berth serve` at debug level whose log is collected.
struct Logged {
    child: std::process::Child,
    api: Api,
    log: Arc<Mutex<String>>,
    reader: std::thread::JoinHandle<()>,
}

fn spawn_logged(dir: &std::path::Path, env: &[(&str, &str)]) -> Logged {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("BERTH_API_KEY", ADMIN)
        .env("BERTH_ALLOW_PRIVATE_EGRESS", "127.0.0.1")
        .env("BERTH_MODEL_RETRY_BASE_MS", "10")
        .env("BERTH_LOG", "debug")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("DATABASE_URL")
        .env_remove("BERTH_ROOT_SECRET")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in env {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let log = Arc::new(Mutex::new(String::new()));
    let addr = loop {
        let line = lines.next().expect("berth exits before listening").unwrap();
        log.lock().unwrap().push_str(&line);
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let reader = {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                let mut log = log.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        })
    };
    Logged {
        child,
        api: Api::new(&format!("http://{addr}"), ADMIN),
        log,
        reader,
    }
}

const MCP_TOKEN: &str = "mcpSECRETtoken-3b8f1a";
const STALE_ACCESS: &str = "oauthSTALEaccess-5d2c9e";
const FRESH_ACCESS: &str = "oauthFRESHaccess-8a4b7f";
const REFRESH: &str = "oauthREFRESHtoken-1e6d3c";
const CLIENT_SECRET: &str = "oauthCLIENTsecret-9f0a2b";
const ENV_VALUE: &str = "envSECRETvalue-4c7e1d";

fn assert_no_vault_secret(what: &str, text: &str) {
    for secret in [
        MCP_TOKEN,
        STALE_ACCESS,
        FRESH_ACCESS,
        REFRESH,
        CLIENT_SECRET,
        ENV_VALUE,
    ] {
        assert!(!text.contains(secret), "{what} contains {secret:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_secrets_never_appear_in_model_requests_events_responses_logs_or_the_data_dir() {
    use berth_test_support::mcp_fixture::{McpFixture, McpFixtureOptions};
    use berth_test_support::oauth_fixture::TokenEndpoint;

    let fake = FakeModel::start().await;
    let bearer_server = McpFixture::start_with(McpFixtureOptions {
        token: Some(MCP_TOKEN.to_owned()),
        ..Default::default()
    })
    .await;
    let oauth_server = McpFixture::start_with(McpFixtureOptions {
        token: Some(FRESH_ACCESS.to_owned()),
        ..Default::default()
    })
    .await;
    let endpoint = TokenEndpoint::start(REFRESH, FRESH_ACCESS).await;
    let dir = tempfile::tempdir().unwrap();
    let Logged {
        mut child,
        api,
        log,
        reader,
    } = spawn_logged(
        dir.path(),
        &[
            ("ANTHROPIC_API_KEY", "sk-ant-test-key"),
            ("ANTHROPIC_BASE_URL", &fake.base_url),
        ],
    );
    let mut responses = String::new();
    let vault = api
        .post("/v1/vaults", json!({"display_name": "all kinds"}))
        .await
        .expect(200);
    let vault_id = vault["id"].as_str().unwrap();
    let credentials = format!("/v1/vaults/{vault_id}/credentials");
    let mut ids = Vec::new();
    for auth in [
        json!({"type": "static_bearer", "mcp_server_url": bearer_server.url, "token": MCP_TOKEN}),
        json!({"type": "mcp_oauth", "mcp_server_url": oauth_server.url, "access_token": STALE_ACCESS,
               "refresh": {"client_id": "c", "refresh_token": REFRESH, "token_endpoint": endpoint.url,
                           "token_endpoint_auth": {"type": "client_secret_basic", "client_secret": CLIENT_SECRET}}}),
        json!({"type": "environment_variable", "secret_name": "SERVICE_KEY", "secret_value": ENV_VALUE,
               "networking": {"type": "unrestricted"}}),
    ] {
        let created = api.post(&credentials, json!({ "auth": auth })).await;
        responses.push_str(&created.text);
        ids.push(created.expect(200)["id"].as_str().unwrap().to_owned());
    }
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "all", "model": "claude-sonnet-4-6",
                   "mcp_servers": [{"type": "url", "name": "bearer", "url": bearer_server.url},
                                   {"type": "url", "name": "oauth", "url": oauth_server.url}],
                   "tools": [{"type": "mcp_toolset", "mcp_server_name": "bearer",
                              "default_config": {"permission_policy": {"type": "always_allow"}}},
                             {"type": "mcp_toolset", "mcp_server_name": "oauth",
                              "default_config": {"permission_policy": {"type": "always_allow"}}}]}),
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
            json!({"agent": agent["id"], "environment_id": env["id"], "vault_ids": [vault_id]}),
        )
        .await
        .expect(200);
    let id = session["id"].as_str().unwrap();
    // Both servers are called; the scripted model also echoes a secret back through one, as a
    // tool that leaks would.
    fake.push(ModelReply::tool_use(
        "toolu_1",
        "mcp__bearer__echo",
        json!({"text": "one"}),
    ));
    fake.push(ModelReply::tool_use(
        "toolu_2",
        "mcp__oauth__echo",
        json!({"text": format!("leaking {MCP_TOKEN} and {ENV_VALUE}")}),
    ));
    fake.push(ModelReply::text("done"));
    say(&api, id, "call both").await;
    wait_for_turns(&api, id, 1, 30).await;
    let validation = api
        .post(
            &format!("{credentials}/{}/mcp_oauth_validate", ids[1]),
            json!(null),
        )
        .await;
    responses.push_str(&validation.text);
    assert_eq!(validation.expect(200)["status"], "valid");
    for path in [
        credentials.clone(),
        format!("/v1/vaults/{vault_id}"),
        format!("/v1/sessions/{id}"),
    ] {
        responses.push_str(&api.get(&path).await.text);
    }
    let events = all_events(&api, id).await;
    let results: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "agent.mcp_tool_result")
        .collect();
    assert_eq!(results.len(), 2, "{events:#?}");
    assert!(
        results.iter().all(|r| r.get("is_error").is_none()),
        "{results:#?}"
    );
    // The credentials did reach the servers (so the test would notice if they were never used).
    assert!(
        bearer_server
            .authorizations()
            .iter()
            .any(|a| a.as_deref() == Some(&*format!("Bearer {MCP_TOKEN}")))
    );
    assert_eq!(endpoint.request_count(), 1);
    let events = serde_json::to_string(&events).unwrap();
    let model_requests: String = fake.requests().iter().map(|r| r.body.to_string()).collect();

    stop_gracefully(&mut child);
    reader.join().unwrap();
    assert_no_vault_secret("an API response", &responses);
    assert_no_vault_secret("the event log", &events);
    assert_no_vault_secret("a model request", &model_requests);
    let log = log.lock().unwrap().clone();
    assert!(
        log.contains("refreshed an OAuth access token"),
        "debug logs were captured"
    );
    assert_no_vault_secret("the server log", &log);
    for file in files_under(dir.path()) {
        let bytes = std::fs::read(&file).unwrap();
        assert_no_vault_secret(
            &format!("{}", file.display()),
            &String::from_utf8_lossy(&bytes),
        );
    }
}
