//! `flood`: the security review's memory attack. One tenant posts 100 events of 1 MB to one
//! session (the per-session input limit is lifted for the attack, as a tenant spreading it over
//! time would), then reads the full log ten times at once. Reports each response's size, the
//! server's RSS before, at its peak while the reads run, and after, and a large events page.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use hyper::Method;

use super::{agent_and_environment, new_session};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const EVENTS: usize = 100;
const EVENT_BYTES: usize = 1_000_000;
const READERS: usize = 10;

pub async fn flood(server: &BerthProcess) -> anyhow::Result<()> {
    let (agent, env) = agent_and_environment(server).await?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let session = new_session(&mut conn, &agent, &env).await?;
    let event = serde_json::json!({"events": [{"type": "system.message", "content": [{"type": "text", "text": "x".repeat(EVENT_BYTES)}]}]});
    let body = Bytes::from(event.to_string());
    let posted = Instant::now();
    for _ in 0..EVENTS {
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
        "posted {EVENTS} events of {} MB in {:.1} s",
        EVENT_BYTES / 1_000_000,
        posted.elapsed().as_secs_f64()
    );
    let before = server.rss_mib();
    let anon_before = crate::server::anon_rss_of(server.pid());
    let peak = Arc::new(std::sync::Mutex::new((before, anon_before)));
    let reading = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, reading, pid) = (Arc::clone(&peak), Arc::clone(&reading), server.pid());
        tokio::spawn(async move {
            while reading.load(Ordering::Relaxed) {
                let (rss, anon) = (crate::server::rss_of(pid), crate::server::anon_rss_of(pid));
                if let Ok(mut p) = peak.lock() {
                    *p = (p.0.max(rss), p.1.max(anon));
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    let client = reqwest::Client::new();
    let url = format!("http://{}/v1/sessions/{session}/log", server.addr);
    let started = Instant::now();
    let reads = (0..READERS).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let response = client
                .get(&url)
                .header("x-api-key", BENCH_KEY)
                .send()
                .await?;
            let mut stream = response.bytes_stream();
            let mut size = 0usize;
            while let Some(chunk) = stream.next().await {
                size += chunk?.len();
            }
            anyhow::Ok(size)
        }
    });
    let sizes = futures::future::try_join_all(reads).await?;
    let took = started.elapsed();
    reading.store(false, Ordering::Relaxed);
    sampler.await?;
    let (peak, anon_peak) = peak.lock().map(|p| *p).unwrap_or((before, anon_before));
    println!(
        "{READERS} concurrent GET …/log: {:.0} MB each, all done in {:.1} s",
        sizes.iter().copied().max().unwrap_or(0) as f64 / 1e6,
        took.as_secs_f64()
    );
    println!(
        "server RSS: {before:.0} MiB before, peak {peak:.0} MiB while reading, {:.0} MiB after",
        server.rss_mib()
    );
    println!(
        "  of which anonymous (heap, not the database's file-backed pages): {anon_before:.0} MiB \
         before, peak {anon_peak:.0} MiB, {:.0} MiB after",
        crate::server::anon_rss_of(server.pid())
    );
    let (status, page) = conn
        .send(
            Method::GET,
            &format!("/v1/sessions/{session}/events?limit=1000"),
            None,
        )
        .await?;
    anyhow::ensure!(status.is_success(), "page failed: {status}");
    println!(
        "GET events?limit=1000: {:.1} MB in one page",
        page.len() as f64 / 1e6
    );
    Ok(())
}
