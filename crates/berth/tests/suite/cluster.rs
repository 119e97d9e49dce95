//! Fault suite for scale-out: replicas of the real `berth` binary are `kill -9`ed in the middle
//! of turns while clients keep posting messages and reading SSE streams, and afterwards every
//! session's log must be whole and every stream must have delivered it exactly once, in order.
//!
//! Scenario (PostgreSQL): three replicas on one fresh database, with one shared root secret and
//! API key, each with its own data directory (lease TTL 3 s). Every session gets its messages
//! posted at random moments over a load window, each to a random live replica (messages due
//! within 150 ms of each other go at once, so several queue behind a running turn), and an SSE
//! client on a random replica that reconnects with `Last-Event-ID` to a *different* replica
//! when its replica dies, and once on purpose mid-run (half of them also once while the
//! database is down). During the load one replica is killed mid-turn and restarted (same data
//! directory and settings); then, while turns are in flight, PostgreSQL "restarts"; later
//! another replica is killed mid-turn and left dead. Then, once the cluster is quiet (bounded
//! wait), for every session: the log's
//! `seq` is gapless from 1 with unique event ids; every posted message is there exactly once,
//! with `processed_at` set; the session is idle, not stuck `running`, and a
//! `session.status_idle` follows its last message; and its SSE client saw every durable event
//! exactly once, in order. The second test runs the same scenario on SQLite: one process, killed
//! mid-turn and restarted twice, its SSE clients reconnecting to the restarted process.
//!
//! The database restart is simulated, since the PostgreSQL server is shared with tests running
//! in parallel: the replicas reach it through a TCP proxy (see `proxy`) that, at the restart,
//! resets every open connection at once (pooled ones mid-query or mid-transaction, and each
//! replica's `LISTEN` connection), then resets new connections on accept for
//! [`DATABASE_DOWN`], then lets them through again. That is what a restart does to Berth: queries
//! fail (requests answer 5xx, and the clients treat a failed post as unclear: they read the log
//! before posting again), turns whose writes fail are closed on a later claim, and listeners
//! reconnect and re-read what they watch. A 5xx while the database is up is a failure.
//!
//! The model is a fake provider on loopback whose echo replies stream for about half a second,
//! so kills land mid-turn; each replica slot has its own fake, which is how the harness knows
//! which replica is running a turn (see `replicas`).
//!
//! Size and running:
//!
//! ```sh
//! # CI size: 6 sessions x 4 messages, about 10-15 s per test
//! BERTH_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo nextest run -p berth -E 'test(cluster)'
//! # full size: 50 sessions x 10 messages
//! BERTH_CLUSTER_SESSIONS=50 BERTH_CLUSTER_MESSAGES=10 BERTH_TEST_DATABASE_URL=… \
//!   cargo nextest run -p berth -E 'test(cluster)'
//! ```
//!
//! `BERTH_CLUSTER_BINARY=target/release/berth` runs the replicas from another build (a release
//! build suits the full size). Without `BERTH_TEST_DATABASE_URL` the PostgreSQL test skips with a message, or fails when
//! `BERTH_REQUIRE_POSTGRES=1`. Every random choice comes from a seed printed at the start;
//! `BERTH_CLUSTER_SEED=<n>` repeats the choices (kill timing still depends on the machine).

mod checks;
mod clients;
mod proxy;
mod replicas;
mod report;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use checks::{log_problems, stream_problems, turn_problems};
use clients::{Http, PostOutcome, Rng, Switches, Target, follow, post_all};
use proxy::DbProxy;
use replicas::{Cluster, LEASE_TTL_SECS, fresh_database};
use report::{describe_faults, describe_run};

const DEFAULT_SESSIONS: usize = 6;
const DEFAULT_MESSAGES: usize = 4;
/// Messages due within this of each other are posted at once.
const TOGETHER: Duration = Duration::from_millis(150);
/// A session's messages are spread over this much time per message (at least `MIN_WINDOW`): a
/// turn takes about half a second, so messages both queue and find the session idle.
const WINDOW_PER_MESSAGE: Duration = Duration::from_millis(800);
const MIN_WINDOW: Duration = Duration::from_secs(8);
/// When the kills and the database restart happen, as fractions of the load window (each also
/// waits for the one before it to be over).
const FIRST_KILL_AT: f64 = 0.15;
const DATABASE_RESTART_AT: f64 = 0.35;
const SECOND_KILL_AT: f64 = 0.7;
/// How long the database refuses connections at its restart: a fast restart of a small
/// PostgreSQL takes about this long.
const DATABASE_DOWN: Duration = Duration::from_secs(2);
/// After the database is back, before the second kill, so the two faults stay apart: the
/// replicas' `LISTEN` connections retry with a backoff that reaches 1.6 s during the outage,
/// so they are back within about 1.1 s of it.
const DATABASE_SETTLE: Duration = Duration::from_millis(1500);
/// How long a killed replica stays down before its restart.
const RESTART_AFTER: Duration = Duration::from_secs(1);
/// How long to wait for a replica to be mid-turn before killing one anyway.
const MID_TURN_PATIENCE: Duration = Duration::from_secs(5);
/// Quiet must come within this after the posting ends (lease expiry, sweep, queued turns), plus
/// a little per message for the queued turns of large runs.
const QUIET_BASE: Duration = Duration::from_secs(20);
const QUIET_PER_MESSAGE: Duration = Duration::from_millis(50);
/// SSE clients get this long after quiet to deliver the log's tail.
const FOLLOW_GRACE: Duration = Duration::from_secs(5);

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("BERTH_CLUSTER_SEED")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        })
}

struct Topology {
    label: &'static str,
    replicas: usize,
    database_url: Option<String>,
    /// Between the replicas and PostgreSQL, to restart the database once.
    proxy: Option<DbProxy>,
    /// SQLite has a single process: it must come back after the second kill too.
    restart_second_victim: bool,
}

struct Kill {
    slot: usize,
    at: Duration,
    mid_turn: bool,
    restarted_at: Option<Duration>,
}

struct DatabaseRestart {
    at: Duration,
    mid_turn: bool,
    /// Connections reset at once.
    cut: usize,
}

/// What the faults were and when.
struct Chaos {
    kills: Vec<Kill>,
    database: Option<DatabaseRestart>,
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_of_three_postgres_replicas_survives_kill_9_under_load() {
    let Some(database) = fresh_database().await else {
        return;
    };
    let proxy = DbProxy::start(&database.url).await;
    run(Topology {
        label: "PostgreSQL, 3 replicas",
        replicas: 3,
        database_url: Some(proxy.url(&database.url)),
        proxy: Some(proxy),
        restart_second_victim: false,
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_of_one_sqlite_process_survives_kill_9_under_load() {
    run(Topology {
        label: "SQLite, 1 process",
        replicas: 1,
        database_url: None,
        proxy: None,
        restart_second_victim: true,
    })
    .await;
}

async fn run(topology: Topology) {
    let sessions_n = env_number("BERTH_CLUSTER_SESSIONS", DEFAULT_SESSIONS);
    let messages_n = env_number("BERTH_CLUSTER_MESSAGES", DEFAULT_MESSAGES);
    let seed = seed();
    eprintln!(
        "cluster fault run ({}): {sessions_n} sessions x {messages_n} messages, seed {seed}, lease TTL {LEASE_TTL_SECS} s",
        topology.label
    );
    let mut rng = Rng::new(seed);
    let mut cluster = Cluster::start(topology.replicas, topology.database_url.clone()).await;
    let http = Http::new(Arc::clone(&cluster.live));

    let agent = http
        .create(
            "/v1/agents",
            json!({"name": "cluster agent", "model": "claude-sonnet-4-6"}),
            &mut rng,
        )
        .await;
    let env = http
        .create("/v1/environments", json!({"name": "cluster env"}), &mut rng)
        .await;
    let mut sessions = Vec::new();
    for _ in 0..sessions_n {
        let body = json!({"agent": agent["id"], "environment_id": env["id"]});
        let session = http.create("/v1/sessions", body, &mut rng).await;
        sessions.push(session["id"].as_str().unwrap().to_owned());
    }

    let window = MIN_WINDOW.max(WINDOW_PER_MESSAGE * messages_n as u32);
    let start = tokio::time::Instant::now();
    let mut followers = Vec::new();
    for session in &sessions {
        let target = Target::default();
        let switches = Switches {
            after_frames: 3 + rng.below(8),
            while_database_down: rng.below(2) == 0,
        };
        let task = tokio::spawn(follow(
            http.clone(),
            session.clone(),
            rng.split(),
            switches,
            Arc::clone(&target),
        ));
        followers.push((task, target));
    }
    let mut plans: Vec<Vec<(Duration, String)>> = Vec::new();
    let mut posters = Vec::new();
    for (i, session) in sessions.iter().enumerate() {
        let mut plan: Vec<(Duration, String)> = (0..messages_n)
            .map(|j| {
                let at = Duration::from_millis(rng.below(window.as_millis() as usize) as u64);
                (at, format!("s{i}-m{j}"))
            })
            .collect();
        plan.sort();
        // Half the sessions get their first two messages at once.
        if messages_n > 1 && rng.below(2) == 0 {
            plan[1].0 = plan[0].0;
        }
        plans.push(plan.clone());
        posters.push(tokio::spawn(post_all(
            http.clone(),
            session.clone(),
            plan,
            start,
            TOGETHER,
            rng.split(),
        )));
    }

    let chaos = chaos(&mut cluster, &topology, start, window).await;
    let mut failures = Vec::new();
    let mut outcomes: Vec<PostOutcome> = Vec::new();
    for (session, poster) in sessions.iter().zip(posters) {
        match poster.await {
            Ok(o) => outcomes.extend(o),
            Err(e) => failures.push(format!("{session}: a poster failed: {e}")),
        }
    }
    for unexplained in outcomes.iter().flat_map(|o| &o.unexplained) {
        failures.push(format!(
            "a post was answered 5xx with the database up: {unexplained}"
        ));
    }
    let posted_at = start.elapsed();

    let quiet_budget = QUIET_BASE + QUIET_PER_MESSAGE * (sessions_n * messages_n) as u32;
    let quiet = wait_quiet(&http, &sessions, &plans, quiet_budget, &mut rng).await;
    let quiet_at = start.elapsed();
    if !quiet {
        failures.push(format!(
            "the cluster was not quiet {quiet_budget:?} after the posting ended (at {posted_at:.1?})"
        ));
    }

    let mut logs = Vec::new();
    for (session, plan) in sessions.iter().zip(&plans) {
        let events = http.events(session, &mut rng).await;
        let texts: Vec<String> = plan.iter().map(|(_, t)| t.clone()).collect();
        let status = http
            .read(&format!("/v1/sessions/{session}"), &mut rng)
            .await;
        if status["status"] != "idle" {
            failures.push(format!(
                "{session}: status is {} at the end, not idle",
                status["status"]
            ));
        }
        for problem in log_problems(&events, &texts) {
            failures.push(format!("{session}: {problem}"));
        }
        logs.push(events);
    }

    let follow_deadline = std::time::Instant::now() + FOLLOW_GRACE;
    for ((_, target), log) in followers.iter().zip(&logs) {
        let last = log.last().and_then(|e| e["seq"].as_i64()).unwrap_or(0);
        *target.lock().unwrap() = Some((last, follow_deadline));
    }
    let mut followed = Vec::new();
    for (task, _) in followers {
        match tokio::time::timeout(FOLLOW_GRACE * 2, task).await {
            Ok(Ok(f)) => followed.push(Some(f)),
            _ => followed.push(None),
        }
    }
    for ((session, log), f) in sessions.iter().zip(&logs).zip(&followed) {
        match f {
            Some(f) => {
                for problem in stream_problems(log, f) {
                    failures.push(format!("{session}: SSE client: {problem}"));
                }
            }
            None => failures.push(format!("{session}: the SSE client got stuck")),
        }
    }

    let mut summary = String::new();
    describe_faults(&mut summary, &chaos, topology.proxy.as_ref());
    describe_run(
        &mut summary,
        &outcomes,
        &followed,
        posted_at,
        quiet_at,
        cluster.model_turns(),
    );
    eprint!("{summary}");
    if !failures.is_empty() {
        eprintln!("{}", cluster.log_report(25));
        let shown: Vec<&String> = failures.iter().take(40).collect();
        panic!(
            "{} invariant(s) broken ({} shown):\n{}",
            failures.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Kills a replica mid-turn and restarts it; restarts the database while turns run (when there
/// is a proxy to do it with); later kills another replica mid-turn (restarted only when there is
/// no other replica).
async fn chaos(
    cluster: &mut Cluster,
    topology: &Topology,
    start: tokio::time::Instant,
    window: Duration,
) -> Chaos {
    tokio::time::sleep_until(start + window.mul_f64(FIRST_KILL_AT)).await;
    let mut first = kill_mid_turn(cluster, &[], start).await;
    tokio::time::sleep(RESTART_AFTER).await;
    cluster.restart(first.slot).await;
    first.restarted_at = Some(start.elapsed());

    let database = match &topology.proxy {
        Some(proxy) => {
            tokio::time::sleep_until(start + window.mul_f64(DATABASE_RESTART_AT)).await;
            Some(restart_database(cluster, proxy, start).await)
        }
        None => None,
    };

    tokio::time::sleep_until(start + window.mul_f64(SECOND_KILL_AT)).await;
    let others: Vec<usize> = if topology.replicas > 1 {
        vec![first.slot]
    } else {
        Vec::new()
    };
    let mut second = kill_mid_turn(cluster, &others, start).await;
    if topology.restart_second_victim {
        tokio::time::sleep(RESTART_AFTER).await;
        cluster.restart(second.slot).await;
        second.restarted_at = Some(start.elapsed());
    }
    Chaos {
        kills: vec![first, second],
        database,
    }
}

/// Restarts the database while a replica is mid-turn (or anyway, after a while), and returns
/// once it has been back for [`DATABASE_SETTLE`].
async fn restart_database(
    cluster: &Cluster,
    proxy: &DbProxy,
    start: tokio::time::Instant,
) -> DatabaseRestart {
    let mid = cluster.wait_mid_turn(&[], MID_TURN_PATIENCE).await;
    let at = start.elapsed();
    // Known down before it goes down, so no 5xx it causes is taken for a bug.
    let from = std::time::Instant::now();
    cluster.live.database_outage(from, from + DATABASE_DOWN);
    let cut = proxy.restart(DATABASE_DOWN);
    tokio::time::sleep(DATABASE_DOWN + DATABASE_SETTLE).await;
    DatabaseRestart {
        at,
        mid_turn: mid.is_some(),
        cut,
    }
}

async fn kill_mid_turn(
    cluster: &mut Cluster,
    exclude: &[usize],
    start: tokio::time::Instant,
) -> Kill {
    let mid = cluster.wait_mid_turn(exclude, MID_TURN_PATIENCE).await;
    let slot = mid
        .or_else(|| cluster.running_slot(exclude))
        .expect("harness: no replica left to kill");
    let at = start.elapsed();
    cluster.kill(slot).await;
    Kill {
        slot,
        at,
        mid_turn: mid.is_some(),
        restarted_at: None,
    }
}

/// Waits until every session is idle with all its messages processed, or `budget` passes.
async fn wait_quiet(
    http: &Http,
    sessions: &[String],
    plans: &[Vec<(Duration, String)>],
    budget: Duration,
    rng: &mut Rng,
) -> bool {
    let deadline = tokio::time::Instant::now() + budget;
    let mut pending: Vec<usize> = (0..sessions.len()).collect();
    while tokio::time::Instant::now() < deadline {
        let mut still = Vec::new();
        for i in pending {
            let status = http
                .read(&format!("/v1/sessions/{}", sessions[i]), rng)
                .await;
            let texts: Vec<String> = plans[i].iter().map(|(_, t)| t.clone()).collect();
            let settled = status["status"] == "idle"
                && turn_problems(&http.events(&sessions[i], rng).await, &texts).is_empty();
            if !settled {
                still.push(i);
            }
        }
        if still.is_empty() {
            return true;
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}
