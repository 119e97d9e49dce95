//! `tool-turns`: a turn with one `echo hi` tool call — the model asks for `bash`, Berth runs it
//! in the session's bubblewrap sandbox, the model answers. The fake model decides from the
//! request: a tool call first, the answer once it has seen the result. Reports latency at
//! concurrency 1 (the first turn of each session, which builds its sandbox, apart), then
//! turns/s at `--concurrency`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_test_support::{FakeModel, ModelReply, RecordedRequest, ReplyRule};
use bytes::Bytes;
use hyper::Method;

use super::{Options, millis, new_session, percentile, post_json};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const TURNS_PER_SESSION: usize = 20;

/// A tool call unless the request already carries its result.
fn tool_then_answer() -> ReplyRule {
    let counter = AtomicU64::new(0);
    Arc::new(move |request: &RecordedRequest| {
        let last = request.body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .cloned()
            .unwrap_or_default();
        if last.to_string().contains("\"tool_result\"") {
            ModelReply::text("It printed hi.")
        } else {
            let id = counter.fetch_add(1, Ordering::Relaxed);
            ModelReply::tool_use(
                &format!("toolu_{id}"),
                "bash",
                serde_json::json!({"command": "echo hi"}),
            )
        }
    })
}

async fn turn(conn: &mut Connection, session: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (status, body) = conn
        .send(
            Method::POST,
            &format!("/v1/sessions/{session}/messages"),
            Some(Bytes::from_static(br#"{"content":"run echo hi"}"#)),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "turn failed: {status}");
    let text = String::from_utf8_lossy(&body);
    anyhow::ensure!(
        text.contains("exit=0\\nhi\\n"),
        "the tool did not run: {text}"
    );
    anyhow::ensure!(
        text.contains("session.status_idle"),
        "the turn did not finish"
    );
    Ok(started.elapsed())
}

pub async fn tool_turns(
    server: &BerthProcess,
    model: &FakeModel,
    options: &Options,
) -> anyhow::Result<()> {
    model.reply_with(tool_then_answer());
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let agent = post_json(
        &mut conn,
        "/v1/agents",
        serde_json::json!({"name": "bench tools", "model": "claude-sonnet-4-6", "tools": [{"type": "agent_toolset_20260401"}]}),
    )
    .await?;
    let env = post_json(
        &mut conn,
        "/v1/environments",
        serde_json::json!({"name": "bench tools"}),
    )
    .await?;
    let (agent, env) = (super::id_of(&agent), super::id_of(&env));
    let warmup = new_session(&mut conn, &agent, &env).await?;
    for _ in 0..20 {
        turn(&mut conn, &warmup).await?;
    }

    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let (mut first, mut later) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        let session = new_session(&mut conn, &agent, &env).await?;
        first.push(millis(turn(&mut conn, &session).await?));
        for _ in 1..TURNS_PER_SESSION {
            later.push(millis(turn(&mut conn, &session).await?));
        }
    }
    let mut all: Vec<f64> = first.iter().chain(&later).copied().collect();
    for v in [&mut first, &mut later, &mut all] {
        v.sort_by(f64::total_cmp);
    }
    println!(
        "concurrency 1: {} turns with one bash call   p50 {:.2} ms   p99 {:.2} ms   (first turn of a session, sandbox created: p50 {:.2} ms; later turns p50 {:.2} ms)",
        all.len(),
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        percentile(&first, 50.0),
        percentile(&later, 50.0),
    );

    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..options.concurrency {
        let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
        let (agent, env) = (agent.clone(), env.clone());
        let done = Arc::clone(&done);
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut session = new_session(&mut conn, &agent, &env).await?;
            while Instant::now() < deadline {
                if latencies.len() % TURNS_PER_SESSION == TURNS_PER_SESSION - 1 {
                    session = new_session(&mut conn, &agent, &env).await?;
                }
                latencies.push(millis(turn(&mut conn, &session).await?));
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    println!(
        "concurrency {}: {:.0} turns/s   p50 {:.2} ms   p99 {:.2} ms   ({} turns)   RSS {:.1} MiB",
        options.concurrency,
        done.load(Ordering::Relaxed) as f64 / elapsed,
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        all.len(),
        server.rss_mib()
    );
    Ok(())
}
