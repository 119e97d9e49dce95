//! `idle`: sessions that ran a turn and went idle must not hold memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use super::{agent_and_environment, post_json};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const CREATORS: usize = 16;

pub async fn idle(server: &BerthProcess, sessions: usize) -> anyhow::Result<()> {
    let (agent, env) = agent_and_environment(server).await?;
    // Warm the process up (allocator pools, statement caches) before the baseline.
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    for _ in 0..50 {
        post_json(&mut conn, "/v1/sessions", serde_json::json!({"agent": agent, "environment_id": env,
            "initial_events": [{"type": "user.message", "content": [{"type": "text", "text": "warm up"}]}]})).await?;
    }
    wait_until_idle(&mut conn).await?;
    let baseline = server.rss_mib();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CREATORS {
        let (agent, env, next) = (agent.clone(), env.clone(), Arc::clone(&next));
        let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < sessions {
                post_json(&mut conn, "/v1/sessions", serde_json::json!({"agent": agent, "environment_id": env,
                    "initial_events": [{"type": "user.message", "content": [{"type": "text", "text": "one turn, then idle"}]}]})).await?;
            }
            anyhow::Ok(())
        }));
    }
    for w in workers {
        w.await??;
    }
    wait_until_idle(&mut conn).await?;
    println!(
        "{sessions} sessions created and each ran one turn in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let after = server.rss_mib();
    println!(
        "RSS baseline {baseline:.1} MiB, with {sessions} idle sessions {after:.1} MiB: +{:.1} MiB",
        after - baseline
    );
    Ok(())
}

async fn wait_until_idle(conn: &mut Connection) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (_, running) = conn
            .send(
                Method::GET,
                "/v1/sessions?statuses%5B%5D=running&limit=1",
                None::<Bytes>,
            )
            .await?;
        let v: serde_json::Value = serde_json::from_slice(&running)?;
        if v["data"].as_array().is_some_and(|d| d.is_empty()) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "sessions never went idle");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
