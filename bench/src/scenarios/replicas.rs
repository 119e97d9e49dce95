//! `replicas`: Berth scaled out on one PostgreSQL database.
//!
//! 1. **Turns/s with 1, 2 and 3 replicas.** `--concurrency` workers spread round-robin over the
//!    replicas, each running turns (`POST /v1/sessions/{id}/messages`, read to the stream's end)
//!    on its replica for `--seconds`, on sessions of 20 turns, against instant fake models. The
//!    replicas and the load generator share the machine's cores, so on one box this shows what
//!    coordination costs, not capacity added.
//! 2. **Delivery across replicas.** SSE clients on replicas A and B, messages posted on A; the
//!    time from the post to the `agent.message` and `session.status_idle` frames reaching each
//!    client, split by whether the client's replica is the one that ran the turn.
//! 3. **Failover.** A turn streams slowly, the replica running it is `kill -9`ed; the time from
//!    the kill to the session's next durable event (written by another replica once the lease
//!    has expired) and to the session being idle again, next to the lease TTL.
//!
//! Every replica has a fake model of its own, so the replica that ran a turn is the one whose
//! fake received the request.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

mod delivery;

use berth_test_support::{FakeModel, ModelReply};
use bytes::Bytes;
use hyper::Method;

use super::{Options, agent_and_environment, millis, new_session, percentile};
use crate::client::Connection;
use crate::server::{BENCH_KEY, BerthProcess, fresh_schema};

const MAX_REPLICAS: usize = 3;
/// Replicas must share the root secret: what one encrypts, the others read.
const ROOT_SECRET: &str = "be7c4a1f9d2e6b3a8c5f0e7d4a1b9c6e3f8a5d2b7e4c1f9a6d3b8e5c2f7a4d1b";
/// Turns per session in the throughput phases: a typical conversation, not an ever-growing one.
const TURNS_PER_SESSION: usize = 20;
const FAILOVER_ROUNDS: usize = 3;
/// The failover turn's reply: about 100 deltas 20 ms apart, so the kill lands mid-stream.
const SLOW_FRAME_DELAY: Duration = Duration::from_millis(20);
const SLOW_TAIL: &str = " and a long answer that streams slowly, so that the replica running it can be killed in the middle of it; \
     it goes on for a while longer, long enough for a kill half a second in, and then it goes on a little more \
     before it finally ends here.";
/// How far into the slow turn the kill comes.
const KILL_AFTER: Duration = Duration::from_millis(500);

/// A replica and the fake model only it talks to.
struct Replica {
    process: BerthProcess,
    model: FakeModel,
    /// Streaming (turn) requests its fake has received.
    turns: Arc<AtomicUsize>,
}

struct Fleet {
    binary: String,
    database_url: String,
    lease_ttl_secs: String,
    /// While set, every fake answers with the slow reply.
    slow: Arc<AtomicBool>,
    replicas: Vec<Replica>,
}

impl Fleet {
    async fn add(&mut self) -> anyhow::Result<()> {
        let model = FakeModel::start().await;
        let slow = Arc::clone(&self.slow);
        let turns = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&turns);
        model.reply_with(Arc::new(move |request| {
            if request.is_streaming() {
                counter.fetch_add(1, Ordering::Relaxed);
            }
            let text = format!("echo: {}", request.last_user_text());
            if slow.load(Ordering::Relaxed) {
                ModelReply::text(format!("{text}{SLOW_TAIL}"))
                    .with_chunk_chars(4)
                    .with_frame_delay(SLOW_FRAME_DELAY)
            } else {
                ModelReply::text(text)
            }
        }));
        let env = [
            ("BERTH_ROOT_SECRET", ROOT_SECRET),
            ("BERTH_LEASE_TTL_SECS", self.lease_ttl_secs.as_str()),
        ];
        let process = BerthProcess::start_with(
            &self.binary,
            Some(&self.database_url),
            Some(&model.base_url),
            &env,
        )
        .await?;
        self.replicas.push(Replica {
            process,
            model,
            turns,
        });
        Ok(())
    }

    /// Streaming model requests each replica's fake has received.
    fn turn_counts(&self) -> Vec<usize> {
        self.replicas
            .iter()
            .map(|r| r.turns.load(Ordering::Relaxed))
            .collect()
    }

    /// The fakes record every request; nothing here reads them back.
    fn forget_requests(&self) {
        for replica in &self.replicas {
            replica.model.clear_records();
        }
    }

    fn stop(self) {
        for replica in self.replicas {
            replica.process.stop();
        }
    }
}

/// Which replica ran the turn(s) started since `before` was taken.
fn runner(before: &[usize], after: &[usize]) -> Option<usize> {
    before.iter().zip(after).position(|(b, a)| a > b)
}

pub async fn replicas(
    binary: &str,
    database_url: Option<&str>,
    options: &Options,
    lease_ttl_secs: u64,
) -> anyhow::Result<()> {
    let Some(url) = database_url else {
        anyhow::bail!("the replicas scenario needs --database-url: replicas share PostgreSQL");
    };
    let mut fleet = Fleet {
        binary: binary.to_owned(),
        database_url: fresh_schema(url, &format!("bench_replicas_{}", std::process::id()))?,
        lease_ttl_secs: lease_ttl_secs.to_string(),
        slow: Arc::default(),
        replicas: Vec::new(),
    };
    let result = phases(&mut fleet, options, lease_ttl_secs).await;
    fleet.stop();
    result
}

async fn phases(fleet: &mut Fleet, options: &Options, lease_ttl_secs: u64) -> anyhow::Result<()> {
    fleet.add().await?;
    let (agent, env) = agent_and_environment(&fleet.replicas[0].process).await?;
    println!(
        "replicas on one PostgreSQL schema: lease TTL {lease_ttl_secs} s, {} workers, {} s per phase",
        options.concurrency, options.seconds
    );
    let mut rates = Vec::new();
    for count in 1..=MAX_REPLICAS {
        while fleet.replicas.len() < count {
            fleet.add().await?;
        }
        rates.push(throughput(fleet, &agent, &env, options).await?);
        fleet.forget_requests();
    }
    let delivered = delivery::delivery(fleet, &agent, &env, options).await?;
    let failovers = failover(fleet, &agent, &env).await?;

    println!();
    println!("== replicas summary ==");
    let base = rates.first().copied().unwrap_or(0.0).max(1e-9);
    let scaling: Vec<String> = rates
        .iter()
        .enumerate()
        .map(|(i, r)| format!("{} replica(s) {r:.0} ({:.2}x)", i + 1, r / base))
        .collect();
    println!("turns/s:   {}", scaling.join("   "));
    println!("delivery:  {delivered}");
    let mut next: Vec<f64> = failovers.iter().map(|f| f.0).collect();
    next.sort_by(f64::total_cmp);
    let mut idle: Vec<f64> = failovers.iter().map(|f| f.1).collect();
    idle.sort_by(f64::total_cmp);
    println!(
        "failover:  next durable event {:.2} s after kill -9 (median of {}, max {:.2} s), idle again {:.2} s; lease TTL {lease_ttl_secs} s",
        percentile(&next, 50.0),
        next.len(),
        percentile(&next, 100.0),
        percentile(&idle, 50.0),
    );
    Ok(())
}

async fn turn(conn: &mut Connection, session: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (status, body) = conn
        .send(
            Method::POST,
            &format!("/v1/sessions/{session}/messages"),
            Some(Bytes::from_static(br#"{"content":"hello"}"#)),
        )
        .await?;
    anyhow::ensure!(status.is_success(), "turn failed: {status}");
    anyhow::ensure!(
        body.windows(19).any(|w| w == b"session.status_idle"),
        "turn stream ended without going idle"
    );
    Ok(started.elapsed())
}

/// Turns/s with every replica of the fleet taking an equal share of the workers.
async fn throughput(
    fleet: &Fleet,
    agent: &str,
    env: &str,
    options: &Options,
) -> anyhow::Result<f64> {
    let count = fleet.replicas.len();
    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for worker in 0..options.concurrency {
        let addr = fleet.replicas[worker % count].process.addr;
        let (agent, env) = (agent.to_owned(), env.to_owned());
        let (done, errors) = (Arc::clone(&done), Arc::clone(&errors));
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut conn = Connection::open(addr, BENCH_KEY).await?;
            let mut session = new_session(&mut conn, &agent, &env).await?;
            let mut in_session = 0;
            while Instant::now() < deadline {
                if in_session == TURNS_PER_SESSION {
                    session = new_session(&mut conn, &agent, &env).await?;
                    in_session = 0;
                }
                in_session += 1;
                match turn(&mut conn, &session).await {
                    Ok(t) => {
                        latencies.push(millis(t));
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        conn = Connection::open(addr, BENCH_KEY).await?;
                        session = new_session(&mut conn, &agent, &env).await?;
                        in_session = 0;
                    }
                }
            }
            anyhow::Ok(latencies)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    all.sort_by(f64::total_cmp);
    println!(
        "{count} replica(s), {} workers: {rate:.0} turns/s   turn p50 {:.2} ms p99 {:.2} ms   ({} turns, {} errors)",
        options.concurrency,
        percentile(&all, 50.0),
        percentile(&all, 99.0),
        all.len(),
        errors.load(Ordering::Relaxed)
    );
    Ok(rate)
}

/// The newest event's seq, read from the replica at the other end of `conn`.
async fn newest_seq(conn: &mut Connection, session: &str) -> anyhow::Result<i64> {
    let (status, body) = conn
        .send(
            Method::GET,
            &format!("/v1/sessions/{session}/events?order=desc&limit=1"),
            None,
        )
        .await?;
    anyhow::ensure!(status.is_success(), "events: {status}");
    let page: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(page["data"][0]["seq"].as_i64().unwrap_or(0))
}

async fn session_status(conn: &mut Connection, session: &str) -> anyhow::Result<String> {
    let (status, body) = conn
        .send(Method::GET, &format!("/v1/sessions/{session}"), None)
        .await?;
    anyhow::ensure!(status.is_success(), "session: {status}");
    let session: serde_json::Value = serde_json::from_slice(&body)?;
    Ok(session["status"].as_str().unwrap_or_default().to_owned())
}

/// Kills the replica running a turn, `FAILOVER_ROUNDS` times; returns, per round, seconds from
/// the kill to the next durable event and to idle.
async fn failover(fleet: &mut Fleet, agent: &str, env: &str) -> anyhow::Result<Vec<(f64, f64)>> {
    let ttl: u64 = fleet.lease_ttl_secs.parse().unwrap_or(30);
    let give_up = Duration::from_secs(ttl * 3 + 15);
    let mut out = Vec::new();
    for round in 0..FAILOVER_ROUNDS {
        fleet.slow.store(true, Ordering::Relaxed);
        let mut conn = Connection::open(fleet.replicas[0].process.addr, BENCH_KEY).await?;
        let session = new_session(&mut conn, agent, env).await?;
        let before = fleet.turn_counts();
        let body = serde_json::json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": format!("failover {round}")}]}]});
        let (status, _) = conn
            .send(
                Method::POST,
                &format!("/v1/sessions/{session}/events"),
                Some(Bytes::from(body.to_string())),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "post failed: {status}");
        let wait_until = Instant::now() + Duration::from_secs(10);
        let victim = loop {
            if let Some(r) = runner(&before, &fleet.turn_counts()) {
                break r;
            }
            anyhow::ensure!(Instant::now() < wait_until, "no replica started the turn");
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        tokio::time::sleep(KILL_AFTER).await;
        let killed = fleet.replicas.remove(victim);
        let killed_at = Instant::now();
        killed.process.kill()?;
        fleet.slow.store(false, Ordering::Relaxed);
        let mut survivor = Connection::open(fleet.replicas[0].process.addr, BENCH_KEY).await?;
        // Read after the kill: nothing the dead replica wrote can come later.
        let last = newest_seq(&mut survivor, &session).await?;
        let next = loop {
            if newest_seq(&mut survivor, &session).await? > last {
                break killed_at.elapsed();
            }
            anyhow::ensure!(
                killed_at.elapsed() < give_up,
                "no replica took the session over within {give_up:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let idle = loop {
            if session_status(&mut survivor, &session).await? == "idle" {
                break killed_at.elapsed();
            }
            anyhow::ensure!(
                killed_at.elapsed() < give_up,
                "the session did not go idle within {give_up:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        println!(
            "failover {round}: kill -9 of the replica running the turn; next durable event from another replica after {:.2} s, idle after {:.2} s (lease TTL {ttl} s)",
            next.as_secs_f64(),
            idle.as_secs_f64()
        );
        out.push((next.as_secs_f64(), idle.as_secs_f64()));
        fleet.add().await?;
    }
    Ok(out)
}
