//! The processes under test: `berth serve` replicas sharing one database, each with its own data
//! directory, and the fresh PostgreSQL database they share.
//!
//! Every replica slot has its own fake model provider, all answering with the same slow echo, so
//! the harness can tell which replica is in the middle of a turn: that replica's model request is
//! the one streaming from its slot's fake. A killed replica is restarted in the same slot: same
//! data directory, same settings, same fake, a new port. Clients find live replicas through
//! [`Live`], which the harness updates *before* a kill and after a restart.

use std::collections::{HashSet, VecDeque};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth_test_support::{FakeModel, ModelReply, ReplyRule};

use super::clients::Rng;

pub const KEY: &str = "berth_sk_cluster_test_key_0123456789abcdefghijkl";
/// Replicas must share the root secret: what one encrypts, the others read.
const ROOT_SECRET: &str = "c1a55e7b0d4f2a6e8c9b1d3f5a7e9c0b2d4f6a8e0c1b3d5f7a9e1c3b5d7f9a0b";
/// Short, so a dead replica's sessions are taken over within the test's time budget.
pub const LEASE_TTL_SECS: u64 = 3;
/// Three replicas share PostgreSQL with the rest of the test suite, which runs in parallel.
const DB_CONNECTIONS_PER_REPLICA: &str = "8";
/// Lines of each replica's log kept for failure reports.
const LOG_LINES: usize = 400;
/// A debug build on a busy machine, migrating a fresh database.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Characters per streamed text delta and the pause between frames: a reply streams for about
/// half a second (some 21 frames), so a kill lands in the middle of a turn.
const CHUNK_CHARS: usize = 4;
const FRAME_DELAY: Duration = Duration::from_millis(25);
const REPLY_TAIL: &str = " - streamed slowly so that replicas die mid-turn.";
/// A replica counts as mid-turn when one of its model requests arrived this long ago: some
/// deltas have streamed (and may be checkpointed), and a couple of hundred ms of reply remain.
const MID_TURN_AGE: std::ops::Range<Duration> =
    Duration::from_millis(100)..Duration::from_millis(300);
/// How long after a death clients still send to the dead replica, like a load balancer between
/// health checks: posts and stream connections fail and must be retried elsewhere.
const LB_NOTICE: Duration = Duration::from_millis(200);

/// What the fake model answers to a turn whose last user text is `text`.
pub fn reply_text(text: &str) -> String {
    format!("echo: {text}{REPLY_TAIL}")
}

/// After the database is back, how long answers may still be 5xx: requests that were waiting
/// on it finish, and a replica's first query may meet a connection that died with the restart.
const OUTAGE_AFTERMATH: Duration = Duration::from_millis(500);

/// Where clients send requests: the base URLs of the replicas, by slot, as a load balancer
/// would know them (it learns of a death [`LB_NOTICE`] after it happened), which URLs are
/// known dead for good, and when the database was down (when a 5xx is to be expected).
#[derive(Default)]
pub struct Live {
    urls: Mutex<Vec<Option<String>>>,
    dead: Mutex<HashSet<String>>,
    database_outages: Mutex<Vec<(Instant, Instant)>>,
}

impl Live {
    fn set(&self, slot: usize, url: Option<String>) {
        let mut urls = self.urls.lock().unwrap();
        if urls.len() <= slot {
            urls.resize(slot + 1, None);
        }
        urls[slot] = url;
    }

    /// The database is unreachable from `from` until `until`.
    pub fn database_outage(&self, from: Instant, until: Instant) {
        self.database_outages.lock().unwrap().push((from, until));
    }

    /// Whether the database went down after `since` and is down now.
    pub fn database_down_since(&self, since: Instant) -> bool {
        let now = Instant::now();
        self.database_outages
            .lock()
            .unwrap()
            .iter()
            .any(|(from, until)| *from >= since && now < *until)
    }

    /// Whether a request sent at `sent` and answered now may have met the database down (or
    /// just back): then a 5xx is the server saying so, not a bug.
    pub fn database_was_down(&self, sent: Instant) -> bool {
        let now = Instant::now();
        self.database_outages
            .lock()
            .unwrap()
            .iter()
            .any(|(from, until)| sent <= *until + OUTAGE_AFTERMATH && now >= *from)
    }

    /// Whether the process behind `url` is still running (not what the balancer thinks).
    pub fn is_up(&self, url: &str) -> bool {
        !self.dead.lock().unwrap().contains(url)
    }

    /// A random replica the balancer routes to, other than `avoid` when there is another one.
    pub fn pick(&self, rng: &mut Rng, avoid: Option<&str>) -> Option<String> {
        let live: Vec<String> = self
            .urls
            .lock()
            .unwrap()
            .iter()
            .flatten()
            .cloned()
            .collect();
        let others: Vec<&String> = live.iter().filter(|u| Some(u.as_str()) != avoid).collect();
        let pool: Vec<&String> = if others.is_empty() {
            live.iter().collect()
        } else {
            others
        };
        if pool.is_empty() {
            return None;
        }
        Some(pool[rng.below(pool.len())].clone())
    }

    /// Like [`Live::pick`], waiting while every replica is down (a restart is on its way).
    pub async fn pick_wait(&self, rng: &mut Rng, avoid: Option<&str>) -> String {
        let deadline = Instant::now() + START_TIMEOUT * 2;
        loop {
            if let Some(url) = self.pick(rng, avoid) {
                return url;
            }
            assert!(
                Instant::now() < deadline,
                "harness: no replica came back up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

type Log = Arc<Mutex<VecDeque<String>>>;

struct Slot {
    dir: tempfile::TempDir,
    model: FakeModel,
    /// When the slot's fake received turns' (streaming) model requests, the recent ones.
    turn_requests: Arc<Mutex<VecDeque<Instant>>>,
    child: Option<Child>,
    log: Log,
    starts: usize,
}

/// Replicas on one database (PostgreSQL), or one process on its own SQLite data directory.
pub struct Cluster {
    slots: Vec<Slot>,
    pub live: Arc<Live>,
    database_url: Option<String>,
}

impl Cluster {
    /// Starts `replicas` processes, one after another (each waits for its listen address).
    pub async fn start(replicas: usize, database_url: Option<String>) -> Self {
        let mut cluster = Self {
            slots: Vec::new(),
            live: Arc::new(Live::default()),
            database_url,
        };
        for _ in 0..replicas {
            let model = FakeModel::start().await;
            let turn_requests: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
            let seen = Arc::clone(&turn_requests);
            let rule: ReplyRule = Arc::new(move |request| {
                if request.is_streaming() {
                    let mut seen = seen.lock().unwrap();
                    seen.retain(|t| t.elapsed() < MID_TURN_AGE.end);
                    seen.push_back(Instant::now());
                }
                ModelReply::text(reply_text(&request.last_user_text()))
                    .with_chunk_chars(CHUNK_CHARS)
                    .with_frame_delay(FRAME_DELAY)
            });
            model.reply_with(rule);
            cluster.slots.push(Slot {
                dir: tempfile::tempdir().unwrap(),
                model,
                turn_requests,
                child: None,
                log: Arc::default(),
                starts: 0,
            });
            cluster.restart(cluster.slots.len() - 1).await;
        }
        cluster
    }

    /// Starts the slot's process again: same data directory, settings and fake model.
    pub async fn restart(&mut self, slot: usize) {
        let database_url = self.database_url.clone();
        let s = &mut self.slots[slot];
        assert!(s.child.is_none(), "harness: slot {slot} is already running");
        s.starts += 1;
        let (dir, model_url, log) = (
            s.dir.path().to_owned(),
            s.model.base_url.clone(),
            Arc::clone(&s.log),
        );
        let label = format!("r{slot}.{}", s.starts);
        let (child, url) = tokio::task::spawn_blocking(move || {
            spawn(&dir, &model_url, database_url.as_deref(), log, label)
        })
        .await
        .unwrap();
        self.slots[slot].child = Some(child);
        self.live.set(slot, Some(url));
    }

    /// `kill -9` without warning; clients keep being sent to it for [`LB_NOTICE`].
    pub async fn kill(&mut self, slot: usize) {
        // Known dead before it dies, so no stream ending now is taken for a live server's doing.
        if let Some(url) = self.url(slot) {
            self.live.dead.lock().unwrap().insert(url);
        }
        if let Some(mut child) = self.slots[slot].child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
        tokio::time::sleep(LB_NOTICE).await;
        self.live.set(slot, None);
    }

    fn url(&self, slot: usize) -> Option<String> {
        self.live.urls.lock().unwrap().get(slot).cloned().flatten()
    }

    /// A running slot (not in `exclude`) whose replica is in the middle of a turn, or `None` if
    /// none was within `timeout`.
    pub async fn wait_mid_turn(&self, exclude: &[usize], timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let busy = self.slots.iter().enumerate().find(|(i, s)| {
                let requests = s.turn_requests.lock().unwrap();
                s.child.is_some()
                    && !exclude.contains(i)
                    && requests.iter().any(|t| MID_TURN_AGE.contains(&t.elapsed()))
            });
            if let Some((slot, _)) = busy {
                return Some(slot);
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        None
    }

    /// Any running slot not in `exclude`.
    pub fn running_slot(&self, exclude: &[usize]) -> Option<usize> {
        (0..self.slots.len()).find(|i| self.slots[*i].child.is_some() && !exclude.contains(i))
    }

    /// Streaming model requests served so far, by every fake.
    pub fn model_turns(&self) -> usize {
        self.slots
            .iter()
            .map(|s| s.model.turn_requests().len())
            .sum()
    }

    /// The warnings and errors of every replica's log, and the last lines of each.
    pub fn log_report(&self, tail: usize) -> String {
        let mut out = String::new();
        for (i, slot) in self.slots.iter().enumerate() {
            let log = slot.log.lock().unwrap();
            out.push_str(&format!("--- replica slot {i}: warnings and errors ---\n"));
            for line in log
                .iter()
                .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            {
                out.push_str(line);
                out.push('\n');
            }
            out.push_str(&format!("--- replica slot {i}: last {tail} lines ---\n"));
            for line in log.iter().skip(log.len().saturating_sub(tail)) {
                out.push_str(line);
                out.push('\n');
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if let Some(mut child) = slot.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Starts one `berth serve` and returns it with its base URL, once it listens. Its log goes to
/// `log` (lines prefixed with `label`), read by a thread that also keeps the pipe drained.
fn spawn(
    data_dir: &Path,
    model_url: &str,
    database_url: Option<&str>,
    log: Log,
    label: String,
) -> (Child, String) {
    let binary = std::env::var("BERTH_CLUSTER_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_berth").to_owned());
    let mut command = Command::new(binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("BERTH_API_KEY", KEY)
        .env("BERTH_ROOT_SECRET", ROOT_SECRET)
        .env("ANTHROPIC_API_KEY", "sk-ant-cluster")
        .env("ANTHROPIC_BASE_URL", model_url)
        .env("BERTH_LEASE_TTL_SECS", LEASE_TTL_SECS.to_string())
        .env("BERTH_DB_MAX_CONNECTIONS", DB_CONNECTIONS_PER_REPLICA)
        .env("BERTH_LOG", "info")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line
                .split("addr=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(format!("http://{addr}"));
            }
            let mut log = log.lock().unwrap();
            if log.len() == LOG_LINES {
                log.pop_front();
            }
            log.push_back(format!("[{label}] {line}"));
        }
    });
    match rx.recv_timeout(START_TIMEOUT) {
        Ok(url) => (child, url),
        Err(e) => {
            let _ = child.kill();
            panic!("harness: berth did not start listening ({e})");
        }
    }
}

/// A brand-new database on the server named by `BERTH_TEST_DATABASE_URL`, dropped (with its
/// connections) when this goes away: `LISTEN/NOTIFY` channels are per database, so a database of
/// its own keeps other tests' announcements out of the cluster.
pub struct TestDatabase {
    admin_url: String,
    name: String,
    pub url: String,
}

/// A fresh database, or `None` to skip (no URL configured and `BERTH_REQUIRE_POSTGRES` unset).
pub async fn fresh_database() -> Option<TestDatabase> {
    let admin_url = match std::env::var("BERTH_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            let required = std::env::var("BERTH_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "BERTH_REQUIRE_POSTGRES=1 but BERTH_TEST_DATABASE_URL is not set"
            );
            eprintln!(
                "skipped: set BERTH_TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) \
                 to run the PostgreSQL cluster test"
            );
            return None;
        }
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!("berth_cluster_{}_{nanos}", std::process::id());
    let (client, connection) = tokio_postgres::connect(&admin_url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to BERTH_TEST_DATABASE_URL: {e}"));
    tokio::spawn(connection);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
    let url = with_database(&admin_url, &name);
    Some(TestDatabase {
        admin_url,
        name,
        url,
    })
}

/// `url` with its database (path) replaced by `name`, query kept.
fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let authority = rest.split('/').next().unwrap_or(rest);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Runs during unwinding too, on a runtime of its own (the test's may be gone).
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .ok()?;
                tokio::spawn(connection);
                client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("could not drop test database {}", self.name);
        }
    }
}

#[test]
fn database_urls_keep_authority_and_query() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/test", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
        "postgresql://u:p@h/x?sslmode=disable"
    );
    assert_eq!(
        with_database("postgres://h:5432", "x"),
        "postgres://h:5432/x"
    );
}
