//! `relay`: what streaming costs. `--concurrency` sessions run turns at once against a fake
//! provider that paces its tokens; each token carries a unique marker. The fake timestamps every
//! token as it leaves; an SSE client per session (with `event_deltas`) timestamps the same token
//! as its `event_delta` arrives. The difference is Berth's relay cost: parsing the provider's
//! stream, publishing the delta, framing it as SSE. Runs once on the Anthropic wire (the default
//! provider) and once on Chat Completions (an `oai-compatible` model card).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_test_support::{FakeModel, ModelReply};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use tokio::sync::mpsc;

use super::{
    Options, agent_and_environment_for, millis, new_session, open_stream, percentile, post_json,
};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

/// Tokens per answer and the pause before each (a fast model: 200 tokens/s per stream).
const TOKENS: usize = 40;
const TOKEN_GAP: Duration = Duration::from_millis(5);
/// A marker is `M` and seven digits; with its trailing space, one token.
const MARKER_LEN: usize = 9;

type SentTimes = Arc<Mutex<HashMap<u64, Instant>>>;

enum Seen {
    Token(u64, Instant),
    Idle,
}

/// Every marker (`M` + 7 digits) in `bytes`.
fn markers(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut i = 0;
    while i + 8 <= bytes.len() {
        if bytes[i] == b'M' && bytes[i + 1..i + 8].iter().all(u8::is_ascii_digit) {
            let n = bytes[i + 1..i + 8]
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            out.push(n);
            i += 8;
        } else {
            i += 1;
        }
    }
    out
}

/// Reads one session's stream: each `event_delta`'s markers, and each idle.
async fn watch(
    addr: SocketAddr,
    session: String,
    seen: mpsc::UnboundedSender<Seen>,
) -> anyhow::Result<()> {
    let path = format!("/v1/sessions/{session}/events/stream?event_deltas[]=agent.message");
    let mut body = open_stream(addr, &path).await?;
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        let Some(data) = frame.data_ref() else {
            continue;
        };
        let at = Instant::now();
        buffer.extend_from_slice(data);
        while let Some(end) = buffer.windows(2).position(|w| w == b"\n\n") {
            let event: Vec<u8> = buffer.drain(..end + 2).collect();
            let text = String::from_utf8_lossy(&event);
            if text.contains("\"event_delta\"") {
                for n in markers(&event) {
                    let _ = seen.send(Seen::Token(n, at));
                }
            } else if text.contains("\"session.status_idle\"") {
                let _ = seen.send(Seen::Idle);
            }
        }
    }
    Ok(())
}

fn answer(next_marker: &mut u64) -> ModelReply {
    let mut text = String::with_capacity(TOKENS * MARKER_LEN);
    for _ in 0..TOKENS {
        text.push_str(&format!("M{:07} ", *next_marker));
        *next_marker += 1;
    }
    ModelReply::text(text)
        .with_chunk_chars(MARKER_LEN)
        .with_frame_delay(TOKEN_GAP)
}

/// Runs turns on one session until the deadline; returns the relay latencies (ms) it saw.
async fn drive(
    server_addr: SocketAddr,
    session: String,
    sent: SentTimes,
    deadline: Instant,
) -> anyhow::Result<Vec<f64>> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watcher = tokio::spawn(watch(server_addr, session.clone(), tx));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = Connection::open(server_addr, BENCH_KEY).await?;
    let mut latencies = Vec::new();
    let body = serde_json::json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": "go"}]}]});
    while Instant::now() < deadline {
        let (status, _) = conn
            .send(
                Method::POST,
                &format!("/v1/sessions/{session}/events"),
                Some(Bytes::from(body.to_string())),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "posting a message failed: {status}");
        loop {
            match tokio::time::timeout(Duration::from_secs(30), rx.recv()).await {
                Ok(Some(Seen::Token(n, at))) => {
                    let left = sent.lock().ok().and_then(|mut s| s.remove(&n));
                    if let Some(left) = left {
                        latencies.push(millis(at.saturating_duration_since(left)));
                    }
                }
                Ok(Some(Seen::Idle)) => break,
                _ => anyhow::bail!("session {session}: the turn never finished"),
            }
        }
    }
    watcher.abort();
    Ok(latencies)
}

async fn phase(
    server: &BerthProcess,
    model: &FakeModel,
    options: &Options,
    agent_model: &str,
    label: &str,
    first_marker: u64,
) -> anyhow::Result<()> {
    let (agent, env) = agent_and_environment_for(server, agent_model).await?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let mut sessions = Vec::new();
    for _ in 0..options.concurrency {
        sessions.push(new_session(&mut conn, &agent, &env).await?);
    }
    let sent: SentTimes = Arc::default();
    {
        let sent = Arc::clone(&sent);
        model.observe_frames(Arc::new(move |frame: &[u8]| {
            let at = Instant::now();
            if let Ok(mut s) = sent.lock() {
                for n in markers(frame) {
                    s.insert(n, at);
                }
            }
        }));
    }
    // Enough scripted answers for every turn the phase can run.
    let mut next_marker = first_marker;
    let turns_possible =
        (options.seconds as usize + 2) * 1000 / (TOKENS * TOKEN_GAP.as_millis() as usize) + 1;
    for _ in 0..turns_possible * options.concurrency {
        model.push(answer(&mut next_marker));
    }
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let drivers: Vec<_> = sessions
        .into_iter()
        .map(|s| tokio::spawn(drive(server.addr, s, Arc::clone(&sent), deadline)))
        .collect();
    let mut latencies = Vec::new();
    for d in drivers {
        latencies.extend(d.await??);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "{label}: {} tokens over {} concurrent turns: relay p50 {:.3} ms   p90 {:.3} ms   p99 {:.3} ms   max {:.3} ms",
        latencies.len(),
        options.concurrency,
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
        percentile(&latencies, 100.0),
    );
    Ok(())
}

pub async fn relay(
    server: &BerthProcess,
    model: &FakeModel,
    options: &Options,
) -> anyhow::Result<()> {
    phase(
        server,
        model,
        options,
        "claude-sonnet-4-6",
        "Anthropic Messages",
        0,
    )
    .await?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    post_json(
        &mut conn,
        "/v1/model_cards",
        serde_json::json!({"model_id": "relay-oai", "provider": "oai-compatible",
                           "base_url": format!("{}/v1", model.base_url), "api_key": "sk-relay-bench"}),
    )
    .await?;
    model.clear_records();
    // Markers of answers left over from the first phase stay distinct.
    phase(
        server,
        model,
        options,
        "relay-oai",
        "Chat Completions",
        5_000_000,
    )
    .await
}
