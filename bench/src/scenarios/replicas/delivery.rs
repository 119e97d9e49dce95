//! The delivery phase of `replicas`: SSE clients on replicas A and B, messages posted on A,
//! and the time from each post to its `agent.message` and `session.status_idle` frames reaching
//! each client, split by whether the client is on the replica that ran the turn.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;
use tokio::sync::mpsc;

use super::{Fleet, MAX_REPLICAS, runner};
use crate::client::Connection;
use crate::scenarios::{Options, millis, new_session, open_stream, percentile};
use crate::server::BENCH_KEY;

/// Delivery rounds at most (the phase also stops after `--seconds`).
const DELIVERY_ROUNDS: usize = 200;
/// A frame not delivered within this counts as lost.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// Rounds lost in a row before the phase gives up.
const DELIVERY_GIVE_UP: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Message,
    Idle,
}

/// A watched frame: which client (0 = on A, 1 = on B), which round, what, when.
type Arrival = (usize, usize, Frame, Instant);

/// Reads a session's stream on `addr` and reports each round's `agent.message` (recognised by
/// its `ROUND-<n>` echo) and the `session.status_idle` after it.
async fn watch(
    addr: std::net::SocketAddr,
    session: String,
    client: usize,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> anyhow::Result<()> {
    let mut body = open_stream(addr, &format!("/v1/sessions/{session}/events/stream")).await?;
    let mut buffer = String::new();
    let mut round = usize::MAX;
    while let Some(frame) = body.frame().await {
        let Some(data) = frame?.data_ref().cloned() else {
            continue;
        };
        let at = Instant::now();
        buffer.push_str(&String::from_utf8_lossy(&data));
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let event = frame.lines().find_map(|l| l.strip_prefix("event: "));
            let text = frame
                .lines()
                .find_map(|l| l.strip_prefix("data: "))
                .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
                .and_then(|v| v["content"][0]["text"].as_str().map(str::to_owned));
            match event {
                Some("agent.message") => {
                    if let Some(n) = text
                        .as_deref()
                        .and_then(|t| t.strip_prefix("echo: ROUND-"))
                        .and_then(|n| n.parse().ok())
                    {
                        round = n;
                        let _ = arrivals.send((client, round, Frame::Message, at));
                    }
                }
                Some("session.status_idle") => {
                    let _ = arrivals.send((client, round, Frame::Idle, at));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Latencies of one kind of delivery, in ms.
#[derive(Default)]
struct Delivered {
    message: Vec<f64>,
    idle: Vec<f64>,
}

impl Delivered {
    fn describe(&mut self) -> String {
        if self.idle.is_empty() {
            return "nothing delivered".to_owned();
        }
        self.message.sort_by(f64::total_cmp);
        self.idle.sort_by(f64::total_cmp);
        format!(
            "agent.message p50 {:.1} ms p99 {:.1} ms, session.status_idle p50 {:.1} ms p99 {:.1} ms (n={})",
            percentile(&self.message, 50.0),
            percentile(&self.message, 99.0),
            percentile(&self.idle, 50.0),
            percentile(&self.idle, 99.0),
            self.idle.len()
        )
    }
}

/// Posts on A with SSE clients on A and B; returns a one-line summary.
pub(super) async fn delivery(
    fleet: &Fleet,
    agent: &str,
    env: &str,
    options: &Options,
) -> anyhow::Result<String> {
    let (a, b) = (
        fleet.replicas[0].process.addr,
        fleet.replicas[1].process.addr,
    );
    let mut conn = Connection::open(a, BENCH_KEY).await?;
    let session = new_session(&mut conn, agent, env).await?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let watchers = [
        tokio::spawn(watch(a, session.clone(), 0, tx.clone())),
        tokio::spawn(watch(b, session.clone(), 1, tx)),
    ];
    // Both streams subscribe before the first post.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut local = Delivered::default();
    let mut remote = Delivered::default();
    let mut ran_on = [0usize; MAX_REPLICAS];
    let (mut lost, mut lost_in_a_row) = (0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut posted = 0;
    while posted < DELIVERY_ROUNDS && Instant::now() < deadline {
        let round = posted;
        posted += 1;
        let before = fleet.turn_counts();
        let body = serde_json::json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": format!("ROUND-{round}")}]}]});
        let sent = Instant::now();
        let (status, _) = conn
            .send(
                Method::POST,
                &format!("/v1/sessions/{session}/events"),
                Some(Bytes::from(body.to_string())),
            )
            .await?;
        anyhow::ensure!(status.is_success(), "post failed: {status}");
        let mut seen: [Option<(Instant, Instant)>; 2] = [None, None];
        let mut message_at: [Option<Instant>; 2] = [None, None];
        let wait_until = tokio::time::Instant::now() + DELIVERY_TIMEOUT;
        while seen.iter().any(Option::is_none) {
            match tokio::time::timeout_at(wait_until, rx.recv()).await {
                Ok(Some((client, r, Frame::Message, at))) if r == round => {
                    message_at[client] = Some(at);
                }
                Ok(Some((client, r, Frame::Idle, at))) if r == round => {
                    if let Some(m) = message_at[client] {
                        seen[client] = Some((m, at));
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let ran = runner(&before, &fleet.turn_counts());
        if let Some(r) = ran.filter(|r| *r < MAX_REPLICAS) {
            ran_on[r] += 1;
        }
        if seen.iter().any(Option::is_none) {
            lost += 1;
            lost_in_a_row += 1;
            if lost_in_a_row == DELIVERY_GIVE_UP {
                println!(
                    "delivery: {DELIVERY_GIVE_UP} rounds in a row not delivered within {DELIVERY_TIMEOUT:?} (on A: {}, on B: {}); giving up",
                    seen[0].is_some(),
                    seen[1].is_some()
                );
                break;
            }
        } else {
            lost_in_a_row = 0;
        }
        for (client, times) in seen.iter().enumerate() {
            let Some((message, idle)) = times else {
                continue;
            };
            let on_runner = ran == Some(client);
            let bucket = if on_runner { &mut local } else { &mut remote };
            bucket.message.push(millis(message.duration_since(sent)));
            bucket.idle.push(millis(idle.duration_since(sent)));
        }
    }
    for w in watchers {
        w.abort();
    }
    println!(
        "delivery, {posted} messages posted on A (turns run by A/B/C: {}/{}/{}), {lost} not delivered to both clients",
        ran_on[0], ran_on[1], ran_on[2]
    );
    let local = local.describe();
    let remote = remote.describe();
    println!("  client on the replica running the turn: {local}");
    println!("  client on another replica:              {remote}");
    Ok(format!(
        "on the running replica {local}; on another replica {remote}; {lost} of {posted} lost"
    ))
}
