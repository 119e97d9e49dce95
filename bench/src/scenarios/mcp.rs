//! `mcp`: what Berth adds to an MCP tool call. The same fixture server (bearer token required)
//! is called directly with Berth's MCP client, then by agents in turns, where Berth picks the
//! session's vault credential, unseals it, calls the server, masks secrets in the result and
//! stores it. Reports the direct call's latency, the in-turn call's (from the stored
//! `agent.mcp_tool_use` to the stored `agent.mcp_tool_result`, by their `processed_at`), and the
//! difference.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_mcp::{McpClient, McpServer, StaticToken};
use berth_test_support::mcp_fixture::{McpFixture, McpFixtureOptions};
use berth_test_support::{FakeModel, ModelReply, RecordedRequest, ReplyRule};
use bytes::Bytes;
use hyper::Method;

use super::{Options, millis, percentile, post_json};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const TOKEN: &str = "bench_mcp_token_0123456789";
const DIRECT_CALLS: usize = 2000;

/// An echo call unless the request already carries its result.
fn echo_then_answer() -> ReplyRule {
    let counter = AtomicU64::new(0);
    Arc::new(move |request: &RecordedRequest| {
        let last = request.body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or_default();
        if last.to_string().contains("\"tool_result\"") {
            ModelReply::text("Echoed.")
        } else {
            let id = counter.fetch_add(1, Ordering::Relaxed);
            ModelReply::tool_use(
                &format!("toolu_{id}"),
                "mcp__fixture__echo",
                serde_json::json!({"text": "bench"}),
            )
        }
    })
}

fn processed_at(event: &serde_json::Value) -> Option<i64> {
    let text = event["processed_at"].as_str()?;
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.timestamp_micros())
}

async fn direct(fixture: &McpFixture) -> anyhow::Result<Vec<f64>> {
    let policy = berth_net::EgressPolicy::parse("127.0.0.1")?;
    let server = McpServer {
        name: "fixture".into(),
        url: fixture.url.clone(),
    };
    let client = McpClient::connect(
        &policy,
        &server,
        Arc::new(StaticToken(Some(TOKEN.to_owned()))),
        Duration::from_secs(10),
    )
    .await?;
    let mut arguments = serde_json::Map::new();
    arguments.insert("text".into(), "bench".into());
    let mut latencies = Vec::with_capacity(DIRECT_CALLS);
    for _ in 0..DIRECT_CALLS {
        let started = Instant::now();
        let result = client
            .call_tool("echo", arguments.clone(), Duration::from_secs(10))
            .await?;
        latencies.push(millis(started.elapsed()));
        anyhow::ensure!(!result.is_error, "echo failed");
    }
    client.close().await;
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

pub async fn mcp(
    server: &BerthProcess,
    model: &FakeModel,
    options: &Options,
) -> anyhow::Result<()> {
    let fixture = McpFixture::start_with(McpFixtureOptions {
        token: Some(TOKEN.to_owned()),
        ..Default::default()
    })
    .await;
    let direct = direct(&fixture).await?;

    model.reply_with(echo_then_answer());
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let vault = post_json(
        &mut conn,
        "/v1/vaults",
        serde_json::json!({"display_name": "bench"}),
    )
    .await?;
    let vault_id = super::id_of(&vault);
    post_json(
        &mut conn,
        &format!("/v1/vaults/{vault_id}/credentials"),
        serde_json::json!({"auth": {"type": "static_bearer", "mcp_server_url": fixture.url, "token": TOKEN}}),
    )
    .await?;
    let agent = post_json(
        &mut conn,
        "/v1/agents",
        serde_json::json!({"name": "bench mcp", "model": "claude-sonnet-4-6",
            "mcp_servers": [{"type": "url", "name": "fixture", "url": fixture.url}],
            "tools": [{"type": "mcp_toolset", "mcp_server_name": "fixture",
                       "default_config": {"permission_policy": {"type": "always_allow"}}}]}),
    )
    .await?;
    let env = post_json(
        &mut conn,
        "/v1/environments",
        serde_json::json!({"name": "bench mcp"}),
    )
    .await?;
    let (agent, env) = (super::id_of(&agent), super::id_of(&env));
    let session = new_session_with_vault(&mut conn, &agent, &env, &vault_id).await?;
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut in_turn = Vec::new();
    let mut turns = 0usize;
    while Instant::now() < deadline {
        let (status, body) = conn
            .send(
                Method::POST,
                &format!("/v1/sessions/{session}/messages"),
                Some(Bytes::from_static(br#"{"content":"echo"}"#)),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "turn failed: {status}");
        // The reply is the turn's event stream (SSE): one JSON event per `data:` line.
        let text = String::from_utf8_lossy(&body);
        let events: Vec<serde_json::Value> = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .filter_map(|d| serde_json::from_str(d.trim()).ok())
            .collect();
        let find = |kind: &str| events.iter().find(|e| e["type"] == kind).cloned();
        let (Some(used), Some(result)) =
            (find("agent.mcp_tool_use"), find("agent.mcp_tool_result"))
        else {
            anyhow::bail!("the turn made no MCP call: {text}");
        };
        anyhow::ensure!(
            result.get("is_error").is_none(),
            "the call failed: {result}"
        );
        if let (Some(a), Some(b)) = (processed_at(&used), processed_at(&result)) {
            // The first turn connects to the server; it is reported apart.
            if turns > 0 {
                in_turn.push((b - a) as f64 / 1000.0);
            }
        }
        turns += 1;
    }
    in_turn.sort_by(f64::total_cmp);
    anyhow::ensure!(!in_turn.is_empty(), "no turns completed");
    println!(
        "direct MCP call (Berth's client, bearer token): {} calls   p50 {:.3} ms   p99 {:.3} ms",
        direct.len(),
        percentile(&direct, 50.0),
        percentile(&direct, 99.0)
    );
    println!(
        "MCP call inside a turn (vault credential, redaction, stored result): {} calls   p50 {:.3} ms   p99 {:.3} ms",
        in_turn.len(),
        percentile(&in_turn, 50.0),
        percentile(&in_turn, 99.0)
    );
    println!(
        "added by Berth: p50 {:.3} ms",
        percentile(&in_turn, 50.0) - percentile(&direct, 50.0)
    );
    Ok(())
}

async fn new_session_with_vault(
    conn: &mut Connection,
    agent: &str,
    env: &str,
    vault_id: &str,
) -> anyhow::Result<String> {
    let session = post_json(
        conn,
        "/v1/sessions",
        serde_json::json!({"agent": agent, "environment_id": env, "vault_ids": [vault_id]}),
    )
    .await?;
    Ok(super::id_of(&session))
}
