//! `turns`: how much time Berth adds to a turn, and how many turns it sustains.
//!
//! A turn is `POST /v1/sessions/{id}/messages`, read until the stream closes after
//! `session.status_idle`. The fake model answers at once; its serving time per request is
//! recorded, so overhead = turn time − model time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use berth_test_support::FakeModel;
use bytes::Bytes;
use hyper::Method;

use super::{Options, agent_and_environment, millis, new_session, percentile};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess};

const WARMUP_TURNS: usize = 50;
/// Turns per session in the latency phase: a typical conversation, not an ever-growing one.
const TURNS_PER_SESSION: usize = 20;
/// Turns in the long-session phase, whose last tenth is reported.
const LONG_SESSION_TURNS: usize = 500;

fn message() -> Option<Bytes> {
    Some(Bytes::from_static(br#"{"content":"hello"}"#))
}

async fn turn(conn: &mut Connection, session: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (status, body) = conn
        .send(
            Method::POST,
            &format!("/v1/sessions/{session}/messages"),
            message(),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "turn failed: {status}");
    anyhow::ensure!(
        body.windows(19).any(|w| w == b"session.status_idle"),
        "turn stream ended without going idle"
    );
    Ok(started.elapsed())
}

pub async fn turns(
    server: &BerthProcess,
    model: &FakeModel,
    options: &Options,
) -> anyhow::Result<()> {
    let (agent, env) = agent_and_environment(server).await?;
    let mut conn = Connection::open(server.addr, BENCH_KEY).await?;
    let warmup = new_session(&mut conn, &agent, &env).await?;
    for _ in 0..WARMUP_TURNS {
        turn(&mut conn, &warmup).await?;
    }
    model.clear_records();
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut turn_ms = Vec::new();
    let mut session = new_session(&mut conn, &agent, &env).await?;
    while Instant::now() < deadline {
        if turn_ms.len() % TURNS_PER_SESSION == TURNS_PER_SESSION - 1 {
            session = new_session(&mut conn, &agent, &env).await?;
        }
        turn_ms.push(millis(turn(&mut conn, &session).await?));
    }
    report_latency(
        &format!("concurrency 1, sessions of {TURNS_PER_SESSION} turns"),
        turn_ms,
        model.served_durations(),
    );

    model.clear_records();
    let long = new_session(&mut conn, &agent, &env).await?;
    let mut long_ms = Vec::with_capacity(LONG_SESSION_TURNS);
    for _ in 0..LONG_SESSION_TURNS {
        long_ms.push(millis(turn(&mut conn, &long).await?));
    }
    let tail = LONG_SESSION_TURNS - LONG_SESSION_TURNS / 10;
    let served = model.served_durations();
    report_latency(
        &format!("concurrency 1, turns {tail}-{LONG_SESSION_TURNS} of one session"),
        long_ms.split_off(tail),
        served
            .get(tail..)
            .map(<[Duration]>::to_vec)
            .unwrap_or_default(),
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
        "concurrency {}, sessions of {TURNS_PER_SESSION} turns: {:.0} turns/s   turn p50 {:.2} ms p99 {:.2} ms   ({} turns)",
        options.concurrency,
        done.load(Ordering::Relaxed) as f64 / elapsed,
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        all.len()
    );
    println!("RSS after the turns: {:.1} MiB", server.rss_mib());
    Ok(())
}

fn report_latency(label: &str, mut turn_ms: Vec<f64>, served: Vec<Duration>) {
    let model_ms: Vec<f64> = served.into_iter().map(millis).collect();
    let mut overhead: Vec<f64> = turn_ms.iter().zip(&model_ms).map(|(t, m)| t - m).collect();
    turn_ms.sort_by(f64::total_cmp);
    overhead.sort_by(f64::total_cmp);
    let mut sorted_model = model_ms;
    sorted_model.sort_by(f64::total_cmp);
    println!(
        "{label}: {} turns   turn p50 {:.2} ms p99 {:.2} ms   model p50 {:.2} ms   overhead p50 {:.2} ms p99 {:.2} ms",
        turn_ms.len(),
        percentile(&turn_ms, 50.0),
        percentile(&turn_ms, 99.0),
        percentile(&sorted_model, 50.0),
        percentile(&overhead, 50.0),
        percentile(&overhead, 99.0),
    );
}
