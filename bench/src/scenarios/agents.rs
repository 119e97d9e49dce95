//! `agents`: reads, lists and creates of agents, plus the server's memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hyper::Method;

use super::{Options, run_phase};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

/// A system prompt of realistic length, so rows and responses are not trivially small.
const SYSTEM: &str = "You are a careful research assistant. Read the task, plan briefly, use the \
tools you have to gather facts, and answer with a short summary followed by the evidence.";

fn agent_body(i: u64) -> Bytes {
    Bytes::from(
        serde_json::json!({
            "name": format!("bench agent {i}"),
            "model": "claude-sonnet-4-6",
            "system": SYSTEM,
            "tools": [{"type": "agent_toolset_20260401"}],
            "metadata": {"bench": "true"}
        })
        .to_string(),
    )
}

/// Creates `count` agents as fast as `concurrency` connections allow; returns their ids.
async fn seed_agents(
    server: &BerthProcess,
    concurrency: usize,
    count: u64,
) -> anyhow::Result<Vec<String>> {
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let next = Arc::clone(&next);
        let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let (status, body) = conn
                    .send(Method::POST, "/v1/agents", Some(agent_body(i)))
                    .await?;
                anyhow::ensure!(status.is_success(), "seeding failed: {status}");
                let value: serde_json::Value = serde_json::from_slice(&body)?;
                ids.push(value["id"].as_str().unwrap_or_default().to_owned());
            }
            anyhow::Ok(ids)
        }));
    }
    let mut ids = Vec::new();
    for w in workers {
        ids.extend(w.await??);
    }
    Ok(ids)
}

pub async fn agents(server: &BerthProcess, options: &Options) -> anyhow::Result<()> {
    println!(
        "concurrency {} · {} s per phase · server at {}",
        options.concurrency, options.seconds, server.addr
    );
    println!("RSS at start: {:.1} MiB", server.rss_mib());

    let ids = Arc::new(seed_agents(server, options.concurrency, 1_000).await?);
    println!("seeded 1,000 agents; RSS {:.1} MiB", server.rss_mib());

    let get_ids = Arc::clone(&ids);
    let mut get = run_phase(server, options, move |worker, n| {
        let id = &get_ids[(worker * 7919 + n as usize) % get_ids.len()];
        (Method::GET, format!("/v1/agents/{id}"), None)
    })
    .await?;
    println!("{}", get.report("GET /v1/agents/{id}"));

    let mut list = run_phase(server, options, |_, _| {
        (Method::GET, "/v1/agents?limit=100".to_owned(), None)
    })
    .await?;
    println!("{}", list.report("GET /v1/agents?limit=100"));

    seed_agents(server, options.concurrency, 9_000).await?;
    println!("RSS with 10,000 agents stored: {:.1} MiB", server.rss_mib());

    let created = Arc::new(AtomicU64::new(10_000));
    let counter = Arc::clone(&created);
    let mut create = run_phase(server, options, move |_, _| {
        let i = counter.fetch_add(1, Ordering::Relaxed);
        (Method::POST, "/v1/agents".to_owned(), Some(agent_body(i)))
    })
    .await?;
    println!("{}", create.report("POST /v1/agents"));
    println!(
        "RSS with {} agents stored: {:.1} MiB",
        created.load(Ordering::Relaxed),
        server.rss_mib()
    );
    Ok(())
}
