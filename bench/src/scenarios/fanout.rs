//! `fanout`: one event, many subscribers. Opens N SSE streams on one session, posts a marked
//! event, and measures when each subscriber receives it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use tokio::sync::{Barrier, mpsc};

use super::{agent_and_environment, millis, new_session, open_stream, percentile};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const ROUNDS: usize = 10;

/// Opens one stream and reports, for each marker it sees, when it arrived.
async fn subscriber(
    addr: std::net::SocketAddr,
    session: String,
    ready: Arc<Barrier>,
    seen: mpsc::UnboundedSender<(usize, Instant)>,
) -> anyhow::Result<()> {
    let mut body = open_stream(addr, &format!("/v1/sessions/{session}/events/stream")).await?;
    ready.wait().await;
    let mut tail: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let at = Instant::now();
        tail.extend_from_slice(data);
        while let Some(pos) = tail.windows(7).position(|w| w == b"MARKER-") {
            let digits: Vec<u8> = tail[pos + 7..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .copied()
                .collect();
            if let Ok(n) = String::from_utf8_lossy(&digits).parse::<usize>() {
                let _ = seen.send((n, at));
            }
            tail.drain(..pos + 7);
        }
        if tail.len() > 4096 {
            let keep = tail.len() - 64;
            tail.drain(..keep);
        }
    }
    Ok(())
}

pub async fn fanout(server: &BerthProcess, subscribers: usize) -> anyhow::Result<()> {
    let (agent, env) = agent_and_environment(server).await?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let session = new_session(&mut conn, &agent, &env).await?;
    let rss_before = server.rss_mib();
    let ready = Arc::new(Barrier::new(subscribers + 1));
    let (tx, mut rx) = mpsc::unbounded_channel();
    for _ in 0..subscribers {
        tokio::spawn(subscriber(
            server.addr,
            session.clone(),
            Arc::clone(&ready),
            tx.clone(),
        ));
    }
    ready.wait().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    println!(
        "{subscribers} subscribers connected; server RSS {:.1} MiB (+{:.1})",
        server.rss_mib(),
        server.rss_mib() - rss_before
    );
    let mut latencies = Vec::with_capacity(subscribers * ROUNDS);
    for round in 0..ROUNDS {
        let body = serde_json::json!({"events": [{"type": "system.message", "content": [{"type": "text", "text": format!("MARKER-{round}")}]}]});
        let sent = Instant::now();
        let (status, _) = conn
            .send(
                Method::POST,
                &format!("/v1/sessions/{session}/events"),
                Some(Bytes::from(body.to_string())),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "post failed: {status}");
        let mut received = 0;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while received < subscribers {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some((n, at))) if n == round => {
                    latencies.push(millis(at.duration_since(sent)));
                    received += 1;
                }
                Ok(Some(_)) => {}
                _ => anyhow::bail!(
                    "round {round}: only {received} of {subscribers} subscribers got the event"
                ),
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "delivery to {subscribers} subscribers ({ROUNDS} rounds): p50 {:.1} ms   p99 {:.1} ms   max {:.1} ms",
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0)
    );
    Ok(())
}
