//! The clients of the fault suite: they talk to whichever replica is up and carry on when it
//! dies, the way a client behind a load balancer would.
//!
//! - [`Http::post_message`] posts a message to a random live replica. A request that fails
//!   without an answer (the replica died, or answered 5xx: the database was down, or the
//!   connection to it died with a commit in flight) may or may not have been stored, so the
//!   client reads the log through a replica, retrying while reads fail, and posts again only if
//!   it is not there: that keeps "every posted message appears exactly once" a property of the
//!   server. A 5xx while the database was up is recorded as a problem.
//! - [`follow`] reads a session's SSE stream (`include=chunks`, so every durable event is sent),
//!   and when the stream ends reconnects with `Last-Event-ID` to a different replica (or to the
//!   restarted process when there is only one); once per run it switches replica on purpose.
//!   Some clients also reconnect while the database is down, as a client whose own connection
//!   broke then would: a stream refused with a 5xx while the database is down is tried again;
//!   any other refusal is a problem.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_sse::Decoder;
use futures::StreamExt;
use serde_json::{Value, json};

use super::replicas::{KEY, Live};

/// A request to a live replica answers well within this; longer means it is stuck.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// After a failed post, how long a commit already sent by the dying replica gets to land before
/// the log is checked for the message.
const AMBIGUITY_SETTLE: Duration = Duration::from_millis(300);
/// A message that cannot be posted within this, with replicas restarting, is a failure.
const POST_DEADLINE: Duration = Duration::from_secs(60);
/// How often a quiet SSE stream checks whether it is done or should switch.
const STREAM_POLL: Duration = Duration::from_millis(200);

/// A small deterministic generator (xorshift64*): a run is reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self((seed ^ 0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// A new generator for a task of its own.
    pub fn split(&mut self) -> Self {
        Self::new(self.next_u64())
    }
}

/// HTTP to the cluster: JSON requests with a timeout, streams without one.
#[derive(Clone)]
pub struct Http {
    json: reqwest::Client,
    stream: reqwest::Client,
    pub live: Arc<Live>,
}

/// How posting one message went.
#[derive(Debug, Default, Clone)]
pub struct PostOutcome {
    /// Attempts that failed without a clear answer.
    pub ambiguous: usize,
    /// Of those, how many turned out to have been stored anyway.
    pub stored_anyway: usize,
    /// Of those, how many were answered 5xx.
    pub server_errors: usize,
    /// 5xx answers while the database was up: a server bug.
    pub unexplained: Vec<String>,
}

impl Http {
    pub fn new(live: Arc<Live>) -> Self {
        let json = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .unwrap();
        let stream = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        Self { json, stream, live }
    }

    async fn get(&self, base: &str, path: &str) -> Result<Value, String> {
        let response = self
            .json
            .get(format!("{base}{path}"))
            .header("x-api-key", KEY)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let text = response.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("GET {path}: {status} {text}"));
        }
        serde_json::from_str(&text).map_err(|e| e.to_string())
    }

    /// GET through any live replica, trying others while replicas die.
    pub async fn read(&self, path: &str, rng: &mut Rng) -> Value {
        let deadline = Instant::now() + POST_DEADLINE;
        loop {
            let base = self.live.pick_wait(rng, None).await;
            match self.get(&base, path).await {
                Ok(v) => return v,
                Err(e) => assert!(Instant::now() < deadline, "no replica answered {path}: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every event of the session, all pages read from one replica (started over on another if
    /// that one fails half-way).
    pub async fn events(&self, session: &str, rng: &mut Rng) -> Vec<Value> {
        let deadline = Instant::now() + POST_DEADLINE;
        'replica: loop {
            let base = self.live.pick_wait(rng, None).await;
            let mut out = Vec::new();
            // The whole log, Berth's extension events (recovery warnings) included.
            let first = format!("/v1/sessions/{session}/events?limit=1000&include=chunks");
            let mut path = first.clone();
            loop {
                match self.get(&base, &path).await {
                    Ok(page) => {
                        out.extend(page["data"].as_array().cloned().unwrap_or_default());
                        match page["next_page"].as_str() {
                            Some(next) => {
                                path = format!("{first}&page={next}");
                            }
                            None => return out,
                        }
                    }
                    Err(e) => {
                        assert!(
                            Instant::now() < deadline,
                            "cannot read {session}'s log: {e}"
                        );
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue 'replica;
                    }
                }
            }
        }
    }

    /// Creates `path` with `body` on a random live replica (setup: nothing is being killed).
    pub async fn create(&self, path: &str, body: Value, rng: &mut Rng) -> Value {
        let base = self.live.pick_wait(rng, None).await;
        let response = self
            .json
            .post(format!("{base}{path}"))
            .header("x-api-key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "POST {path} failed");
        response.json().await.unwrap()
    }

    /// Posts a `user.message` with `text` so that it is stored exactly once.
    pub async fn post_message(&self, session: &str, text: &str, rng: &mut Rng) -> PostOutcome {
        let body = json!({"events": [{"type": "user.message", "content": [{"type": "text", "text": text}]}]});
        let path = format!("/v1/sessions/{session}/events");
        let deadline = Instant::now() + POST_DEADLINE;
        let mut outcome = PostOutcome::default();
        loop {
            assert!(
                Instant::now() < deadline,
                "could not post {text:?} within {POST_DEADLINE:?}"
            );
            let base = self.live.pick_wait(rng, None).await;
            let sent_at = Instant::now();
            let sent = self
                .json
                .post(format!("{base}{path}"))
                .header("x-api-key", KEY)
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(r) if r.status().as_u16() == 202 => return outcome,
                Ok(r) if r.status().is_client_error() => {
                    let status = r.status();
                    let text = r.text().await.unwrap_or_default();
                    panic!("server refused a message on {base}: {status} {text}");
                }
                Ok(r) if r.status().is_server_error() => {
                    outcome.server_errors += 1;
                    if !self.live.database_was_down(sent_at) {
                        let status = r.status();
                        let answer = r.text().await.unwrap_or_default();
                        outcome
                            .unexplained
                            .push(format!("{status} {answer} from {base} posting {text:?}"));
                    }
                }
                // The replica died (or an unexpected success status: read the log to know).
                _ => {}
            }
            outcome.ambiguous += 1;
            tokio::time::sleep(AMBIGUITY_SETTLE).await;
            let stored = self.events(session, rng).await.iter().any(|e| {
                e["type"] == "user.message" && e["content"][0]["text"].as_str() == Some(text)
            });
            if stored {
                outcome.stored_anyway += 1;
                return outcome;
            }
        }
    }
}

/// One durable frame as an SSE client received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub seq: i64,
    pub event_id: String,
    pub kind: String,
}

/// What one SSE client saw, across all its connections.
#[derive(Debug, Default)]
pub struct Followed {
    pub seen: Vec<Seen>,
    /// Streams opened (the first one included).
    pub connections: usize,
    /// Streams that ended while their replica was still up (a server closing a live stream,
    /// as it does when it cannot read the log).
    pub ended_while_up: usize,
    /// Streams refused with a 5xx while the database was down, and tried again.
    pub refused_while_database_down: usize,
    pub reconnected_while_database_down: bool,
    pub switched_on_purpose: bool,
    /// Refused streams and undecodable bytes.
    pub errors: Vec<String>,
}

/// When a follower may stop: once it has seen `seq`, or at the deadline.
pub type Target = Arc<Mutex<Option<(i64, Instant)>>>;

fn reached(target: &Target, last: i64) -> bool {
    target
        .lock()
        .unwrap()
        .is_some_and(|(seq, deadline)| last >= seq || Instant::now() >= deadline)
}

/// When a follower leaves a working stream for another replica.
#[derive(Debug, Clone, Copy)]
pub struct Switches {
    /// Once, after this many durable frames.
    pub after_frames: usize,
    /// Once, while the database is down.
    pub while_database_down: bool,
}

/// Follows the session's stream until `target` says stop, switching replica as `switches` says.
pub async fn follow(
    http: Http,
    session: String,
    mut rng: Rng,
    switches: Switches,
    target: Target,
) -> Followed {
    let mut out = Followed::default();
    let mut last = 0i64;
    let mut current: Option<String> = None;
    'connect: loop {
        if reached(&target, last) {
            return out;
        }
        let base = http.live.pick_wait(&mut rng, current.as_deref()).await;
        current = Some(base.clone());
        let sent_at = Instant::now();
        let response = http
            .stream
            .get(format!(
                "{base}/v1/sessions/{session}/events/stream?include=chunks"
            ))
            .header("x-api-key", KEY)
            .header("last-event-id", last.to_string())
            .send()
            .await;
        let response = match response {
            Ok(r) if r.status().is_success() => r,
            Ok(r) if r.status().is_server_error() && http.live.database_was_down(sent_at) => {
                out.refused_while_database_down += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Ok(r) => {
                out.errors
                    .push(format!("stream on {base} refused: {}", r.status()));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            Err(_) => {
                // The replica died between the pick and the request.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        out.connections += 1;
        let mut body = response.bytes_stream();
        let mut decoder = Decoder::new();
        loop {
            match tokio::time::timeout(STREAM_POLL, body.next()).await {
                Ok(Some(Ok(chunk))) => match decoder.feed(&chunk) {
                    Ok(frames) => {
                        for frame in frames {
                            let Some(id) = frame.id.clone() else { continue };
                            let data: Value =
                                serde_json::from_str(frame.data_str()).unwrap_or_default();
                            let seq = id.trim().parse().unwrap_or(-1);
                            out.seen.push(Seen {
                                seq,
                                event_id: data["id"].as_str().unwrap_or_default().to_owned(),
                                kind: frame.event.unwrap_or_default(),
                            });
                            last = seq;
                        }
                    }
                    Err(e) => {
                        out.errors
                            .push(format!("undecodable stream on {base}: {e}"));
                        continue 'connect;
                    }
                },
                Ok(_) => {
                    if http.live.is_up(&base) {
                        out.ended_while_up += 1;
                    }
                    continue 'connect;
                }
                Err(_) => {}
            }
            if !out.switched_on_purpose && out.seen.len() >= switches.after_frames {
                out.switched_on_purpose = true;
                continue 'connect;
            }
            if switches.while_database_down
                && !out.reconnected_while_database_down
                && http.live.database_down_since(sent_at)
            {
                out.reconnected_while_database_down = true;
                continue 'connect;
            }
            if reached(&target, last) {
                return out;
            }
        }
    }
}

/// One session's messages, each posted at its offset from `start`; messages due within
/// `together` of each other go at once (concurrently, to different replicas), so several can be
/// queued behind a running turn.
pub async fn post_all(
    http: Http,
    session: String,
    plan: Vec<(Duration, String)>,
    start: tokio::time::Instant,
    together: Duration,
    mut rng: Rng,
) -> Vec<PostOutcome> {
    let mut outcomes = Vec::new();
    let mut rest = plan.as_slice();
    while let Some((first, _)) = rest.first() {
        let n = rest
            .iter()
            .take_while(|(at, _)| at.saturating_sub(*first) <= together)
            .count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        tokio::time::sleep_until(start + *first).await;
        let posts = group.iter().map(|(_, text)| {
            let (http, session, mut rng) = (http.clone(), session.clone(), rng.split());
            async move { http.post_message(&session, text, &mut rng).await }
        });
        outcomes.extend(futures::future::join_all(posts).await);
    }
    outcomes
}
