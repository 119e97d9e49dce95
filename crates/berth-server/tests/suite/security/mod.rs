//! The attacks of the security review, each tried as a hostile tenant or agent would, against
//! a real server: file tools reaching root-only host files, oversized events, a session's
//! processes and disk, the kernel's attack surface, injected secrets reflected back, the
//! sandboxes' egress, shared sandbox users, request floods, and hostile request bodies.

/// Runs each listed `async fn(&TestServer, &FakeModel)` on both backends, with a fake model
/// and the server configured further by `$configure` (a `fn(&mut ServerConfig)`).
macro_rules! on_both_backends_configured {
    ($configure:ident; $($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let model = berth_test_support::FakeModel::start().await;
                    let base = model.base_url.clone();
                    let server = berth_test_support::spawn_server_with(|c| {
                        berth_test_support::with_model(c, &base);
                        super::$configure(c);
                    })
                    .await;
                    super::$case(&server, &model).await;
                    server.stop().await;
                }
            )*
        }
        mod postgres {
            $(
                #[cfg_attr(berth_no_postgres, ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL")]
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let model = berth_test_support::FakeModel::start().await;
                    let base = model.base_url.clone();
                    let Some(server) = berth_test_support::spawn_postgres_server_with(|c| {
                        berth_test_support::with_model(c, &base);
                        super::$configure(c);
                    })
                    .await
                    else {
                        return;
                    };
                    super::$case(&server, &model).await;
                    server.stop().await;
                }
            )*
        }
    };
}

mod egress;
mod events;
mod file_tools;
mod inputs;
mod kernel;
mod limits;
mod rate_limits;
mod secrets;
mod uids;

use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply};
use serde_json::{Value, json};

/// Rate limits count in windows of a wall-clock minute: a test that counts requests against one
/// starts early enough in a minute that its requests all fall in the same window.
async fn start_of_a_rate_window() {
    let into_minute = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if into_minute > 50_000 {
        tokio::time::sleep(std::time::Duration::from_millis(
            60_100 - into_minute as u64,
        ))
        .await;
    }
}

/// Seconds a turn may take.
const SECS: u64 = 30;

/// A session of an agent with the built-in toolset in a cloud environment (`networking` as
/// given, or the default).
async fn tool_session(api: &Api, environment: Value) -> String {
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "hostile agent", "model": "claude-sonnet-4-6",
                   "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await
        .expect(200);
    let env = api.post("/v1/environments", environment).await.expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    session["id"].as_str().unwrap().to_owned()
}

/// Has the agent call one tool in a fresh turn (the session's `turn`-th); returns the result's
/// text and whether it is an error.
async fn call_tool(
    api: &Api,
    model: &FakeModel,
    session: &str,
    turn: usize,
    name: &str,
    input: Value,
) -> (String, bool) {
    model.push(ModelReply::tool_use(&format!("toolu_{turn}"), name, input));
    model.push(ModelReply::text("done"));
    say(api, session, "go on").await;
    wait_for_turns(api, session, turn, SECS).await;
    let events = all_events(api, session).await;
    let result = events
        .iter()
        .rev()
        .find(|e| e["type"] == "agent.tool_result")
        .expect("a tool result");
    let text = result["content"]
        .as_array()
        .map(|blocks| blocks.iter().filter_map(|b| b["text"].as_str()).collect())
        .unwrap_or_default();
    (text, result["is_error"] == true)
}
