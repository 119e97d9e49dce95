//! A TCP proxy between the replicas and PostgreSQL that can "restart the database".
//!
//! Restarting the real server would break every other test sharing it, so the replicas reach
//! PostgreSQL through this proxy instead, and [`DbProxy::restart`] does to them what a restart
//! does: every open connection (the pools' and the `LISTEN` ones) is reset at once, in both
//! directions, so the server rolls back whatever was in flight and the replicas see their
//! connections die; then, for a while, new connections are reset as soon as they are accepted
//! (the server is "down"), and after that they go through again.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// PostgreSQL's port when a URL names none.
const DEFAULT_PORT: u16 = 5432;
/// Pause after a failed `accept` (descriptors exhausted), so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// What the proxy has done so far.
#[derive(Debug, Default)]
struct Counts {
    /// Connections relayed to PostgreSQL.
    accepted: AtomicUsize,
    /// Relayed connections still open.
    open: AtomicUsize,
    /// Connections reset on accept while the database was "down".
    refused: AtomicUsize,
}

/// A proxy on `127.0.0.1:0` relaying to the PostgreSQL server of a database URL.
pub struct DbProxy {
    port: u16,
    /// Each restart bumps this; connections opened before it are reset.
    generation: watch::Sender<u64>,
    /// New connections are reset on accept until then.
    down_until: Arc<Mutex<Option<Instant>>>,
    counts: Arc<Counts>,
    accept: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    /// Starts relaying to the server `database_url` names.
    pub async fn start(database_url: &str) -> Self {
        let upstream = upstream_of(database_url);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (generation, current) = watch::channel(0u64);
        let down_until: Arc<Mutex<Option<Instant>>> = Arc::default();
        let counts: Arc<Counts> = Arc::default();
        let accept = tokio::spawn(accept_loop(
            listener,
            upstream,
            current,
            Arc::clone(&down_until),
            Arc::clone(&counts),
        ));
        Self {
            port,
            generation,
            down_until,
            counts,
            accept,
        }
    }

    /// `database_url` pointing at the proxy instead of the server (user, database and query
    /// kept).
    pub fn url(&self, database_url: &str) -> String {
        with_address(database_url, &format!("127.0.0.1:{}", self.port))
    }

    /// "Restarts the database": resets every open connection now and every new one for `down`.
    /// Returns how many were open.
    pub fn restart(&self, down: Duration) -> usize {
        // Down first, so no connection slips in between the cut and the refusals.
        *self.down_until.lock().unwrap() = Some(Instant::now() + down);
        let open = self.counts.open.load(Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
        open
    }

    /// Connections reset on accept while down, so far.
    pub fn refused(&self) -> usize {
        self.counts.refused.load(Ordering::SeqCst)
    }

    /// Connections relayed so far.
    pub fn accepted(&self) -> usize {
        self.counts.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        // Dropping `generation` ends every relay too (their receivers see it closed).
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    generation: watch::Receiver<u64>,
    down_until: Arc<Mutex<Option<Instant>>>,
    counts: Arc<Counts>,
) {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        let down = down_until
            .lock()
            .unwrap()
            .is_some_and(|until| Instant::now() < until);
        if down {
            counts.refused.fetch_add(1, Ordering::SeqCst);
            reset(client);
            continue;
        }
        counts.accepted.fetch_add(1, Ordering::SeqCst);
        let mut generation = generation.clone();
        generation.borrow_and_update();
        tokio::spawn(relay(
            client,
            upstream.clone(),
            generation,
            Arc::clone(&counts),
        ));
    }
}

/// Copies both ways until either side closes or a restart cuts the connection.
async fn relay(
    mut client: TcpStream,
    upstream: String,
    mut generation: watch::Receiver<u64>,
    counts: Arc<Counts>,
) {
    counts.open.fetch_add(1, Ordering::SeqCst);
    let _open = OpenGuard(Arc::clone(&counts));
    let server = tokio::select! {
        s = TcpStream::connect(&upstream) => s,
        _ = generation.changed() => {
            reset(client);
            return;
        }
    };
    let Ok(mut server) = server else {
        reset(client);
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        // A restart, or the proxy is gone.
        _ = generation.changed() => {}
    }
    reset(client);
    reset(server);
}

struct OpenGuard(Arc<Counts>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Closes with a reset rather than an orderly shutdown: the peer learns at once, and whatever
/// was unsent is lost, as when a server process dies.
fn reset(stream: TcpStream) {
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// The `host:port` a PostgreSQL URL connects to.
fn upstream_of(url: &str) -> String {
    let authority = authority(url);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    let has_port = match host_port.rsplit_once(':') {
        // `[::1]` has colons but no port.
        Some((_, tail)) => !tail.contains(']'),
        None => false,
    };
    if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:{DEFAULT_PORT}")
    }
}

/// The URL's `user@host:port` part.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

/// `url` with its `host:port` replaced by `address`.
fn with_address(url: &str, address: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let authority = authority(url);
    let tail = rest.get(authority.len()..).unwrap_or("");
    match authority.rsplit_once('@') {
        Some((user, _)) => format!("{scheme}://{user}@{address}{tail}"),
        None => format!("{scheme}://{address}{tail}"),
    }
}

#[test]
fn proxy_urls_keep_user_database_and_query() {
    assert_eq!(
        upstream_of("postgres://postgres@127.0.0.1:5432/test"),
        "127.0.0.1:5432"
    );
    assert_eq!(
        upstream_of("postgresql://u:p@db/x?sslmode=disable"),
        "db:5432"
    );
    assert_eq!(upstream_of("postgres://[::1]/x"), "[::1]:5432");
    assert_eq!(upstream_of("postgres://[::1]:6543/x"), "[::1]:6543");
    assert_eq!(
        with_address("postgres://postgres@127.0.0.1:5432/b1", "127.0.0.1:9"),
        "postgres://postgres@127.0.0.1:9/b1"
    );
    assert_eq!(
        with_address("postgresql://u:p@db/x?sslmode=disable", "127.0.0.1:9"),
        "postgresql://u:p@127.0.0.1:9/x?sslmode=disable"
    );
    assert_eq!(
        with_address("postgres://h", "127.0.0.1:9"),
        "postgres://127.0.0.1:9"
    );
}
