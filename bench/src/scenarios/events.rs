//! `events`: reading a page of a long event log must not get slower as the log grows.

use std::time::Instant;

use bytes::Bytes;
use hyper::Method;

use super::{agent_and_environment, millis, new_session, percentile};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const LOG_LENGTH: usize = 10_000;
const BATCH: usize = 50;
const SAMPLES: usize = 2_000;

pub async fn events(server: &BerthProcess) -> anyhow::Result<()> {
    let (agent, env) = agent_and_environment(server).await?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let session = new_session(&mut conn, &agent, &env).await?;
    let event = serde_json::json!({"type": "system.message", "content": [{"type": "text", "text": "a note of moderate length for the log, so that pages are realistic in size"}]});
    let body = Bytes::from(serde_json::json!({"events": vec![event; BATCH]}).to_string());
    let filled = Instant::now();
    for _ in 0..LOG_LENGTH / BATCH {
        let (status, _) = conn
            .send(
                Method::POST,
                &format!("/v1/sessions/{session}/events"),
                Some(body.clone()),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "append failed: {status}");
    }
    println!(
        "appended {LOG_LENGTH} events in {:.1} s ({:.0} events/s in batches of {BATCH})",
        filled.elapsed().as_secs_f64(),
        LOG_LENGTH as f64 / filled.elapsed().as_secs_f64()
    );
    for (label, query) in [
        ("first page", "limit=100".to_owned()),
        (
            "middle page",
            format!("limit=100&after_seq={}", LOG_LENGTH / 2),
        ),
        (
            "last page",
            format!("limit=100&after_seq={}", LOG_LENGTH - 100),
        ),
        ("newest first", "limit=100&order=desc".to_owned()),
    ] {
        let path = format!("/v1/sessions/{session}/events?{query}");
        let mut latencies = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let (status, _) = conn.send(Method::GET, &path, None).await?;
            anyhow::ensure!(status.is_success(), "page failed: {status}");
            latencies.push(millis(started.elapsed()));
        }
        latencies.sort_by(f64::total_cmp);
        println!(
            "GET events ({label:<12}) of {LOG_LENGTH}: p50 {:.2} ms   p99 {:.2} ms",
            percentile(&latencies, 50.0),
            percentile(&latencies, 99.0)
        );
    }
    Ok(())
}
