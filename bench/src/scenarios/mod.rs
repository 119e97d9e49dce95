//! The scenarios. Each phase runs `concurrency` workers for a fixed time and reports.

mod agents;
mod events;
mod fanout;
mod files;
mod flood;
mod idle;
mod mcp;
mod memory;
mod relay;
mod replicas;
mod tool_turns;
mod turns;

pub use agents::agents;
pub use events::events;
pub use fanout::fanout;
pub use files::files;
pub use flood::flood;
pub use idle::idle;
pub use mcp::mcp;
pub use memory::memory;
pub use relay::relay;
pub use replicas::replicas;
pub use tool_turns::tool_turns;
pub use turns::turns;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::Method;

use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};
use crate::stats::Stats;

pub struct Options {
    pub concurrency: usize,
    pub seconds: u64,
}

/// Runs `make(worker, n)` requests from `concurrency` workers for the phase's duration.
pub(crate) async fn run_phase<F>(
    server: &BerthProcess,
    options: &Options,
    make: F,
) -> anyhow::Result<Stats>
where
    F: Fn(usize, u64) -> (Method, String, Option<Bytes>) + Send + Sync + 'static,
{
    let make = Arc::new(make);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..options.concurrency {
        let make = Arc::clone(&make);
        let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
        workers.push(tokio::spawn(async move {
            let mut stats = Stats::default();
            let mut n = 0u64;
            while Instant::now() < deadline {
                let (method, path, body) = make(worker, n);
                let sent = Instant::now();
                match conn.send(method, &path, body).await {
                    Ok((status, _)) if status.is_success() => {
                        stats
                            .latencies_micros
                            .push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                    }
                    _ => stats.errors += 1,
                }
                n += 1;
            }
            stats
        }));
    }
    let mut total = Stats::default();
    for w in workers {
        total.merge(w.await?);
    }
    total.elapsed = started.elapsed();
    Ok(total)
}

/// Creates an agent and an environment; returns their ids.
pub async fn agent_and_environment(server: &BerthProcess) -> anyhow::Result<(String, String)> {
    agent_and_environment_for(server, "claude-sonnet-4-6").await
}

/// Like [`agent_and_environment`], with the agent on `model`.
pub async fn agent_and_environment_for(
    server: &BerthProcess,
    model: &str,
) -> anyhow::Result<(String, String)> {
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let agent = post_json(
        &mut conn,
        "/v1/agents",
        serde_json::json!({"name": "bench", "model": model}),
    )
    .await?;
    let env = post_json(
        &mut conn,
        "/v1/environments",
        serde_json::json!({"name": "bench"}),
    )
    .await?;
    Ok((id_of(&agent), id_of(&env)))
}

pub async fn post_json(
    conn: &mut Connection,
    path: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let (status, bytes) = conn
        .send(Method::POST, path, Some(Bytes::from(body.to_string())))
        .await?;
    anyhow::ensure!(
        status.is_success(),
        "POST {path} answered {status}: {}",
        String::from_utf8_lossy(&bytes)
    );
    Ok(serde_json::from_slice(&bytes)?)
}

pub fn id_of(v: &serde_json::Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// Creates a session on the agent and environment; returns its id.
pub async fn new_session(conn: &mut Connection, agent: &str, env: &str) -> anyhow::Result<String> {
    let s = post_json(
        conn,
        "/v1/sessions",
        serde_json::json!({"agent": agent, "environment_id": env}),
    )
    .await?;
    Ok(id_of(&s))
}

pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Opens an SSE stream on its own connection and returns the response body.
pub async fn open_stream(
    addr: std::net::SocketAddr,
    path: &str,
) -> anyhow::Result<hyper::body::Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = hyper::Request::builder()
        .method(Method::GET)
        .uri(path)
        .header("host", "127.0.0.1")
        .header("x-api-key", BENCH_KEY)
        .body(http_body_util::Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(
        response.status().is_success(),
        "stream refused: {}",
        response.status()
    );
    Ok(response.into_body())
}
