//! Connections: one writer thread that batches concurrent writes into a single transaction
//! (group commit), and a small pool of read-only connections used from blocking tasks.
//!
//! SQLite allows one writer at a time; funnelling every write through one thread avoids
//! `SQLITE_BUSY` entirely, and committing a batch of jobs at once turns many small transactions
//! into one, which is where SQLite's write throughput comes from. Each job runs inside its own
//! savepoint, so a failing job rolls back alone and the others still commit. A job's result is
//! released to its caller only after the batch's COMMIT succeeded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use berth_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{Semaphore, oneshot};

/// Most jobs committed in one transaction; bounds the latency one batch adds to its last job.
const MAX_BATCH: usize = 256;
/// How long a connection waits on a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Read connections kept open; reads beyond this wait for a free one.
const READERS: usize = 4;

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

pub struct Pool {
    writer: Mutex<mpsc::Sender<Job>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    read_permits: Semaphore,
    path: PathBuf,
}

pub fn open_connection(path: &Path, read_only: bool) -> StoreResult<Connection> {
    let flags = if read_only {
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let conn = Connection::open_with_flags(path, flags).map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    // WAL lets readers run while the writer commits; NORMAL sync is durable across process
    // crashes (the WAL is fsynced at checkpoints), which is the failure Berth must survive.
    // Reads go through a memory map of the first 256 MiB (the OS's page cache, shared by all
    // connections, instead of a copy per connection): full-text searches touch many pages.
    conn.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -4000;
         PRAGMA mmap_size = 268435456;",
    )
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Pool {
    /// Starts the writer thread on `writer` (already migrated) and opens the readers.
    pub fn start(path: &Path, writer: Connection) -> StoreResult<Self> {
        let (tx, rx) = mpsc::channel::<Job>();
        thread::Builder::new()
            .name("berth-sqlite-writer".to_owned())
            .spawn(move || writer_loop(writer, rx))
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        let mut readers = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            readers.push(open_connection(path, true)?);
        }
        Ok(Self {
            writer: Mutex::new(tx),
            readers: Arc::new(Mutex::new(readers)),
            read_permits: Semaphore::new(READERS),
            path: path.to_owned(),
        })
    }

    /// Runs `f` inside the writer's current transaction and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<StoreResult<T>>();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            let ok = result.is_ok();
            let completion: Completion = Box::new(move |commit| {
                let outcome = match commit {
                    Ok(()) => result,
                    Err(e) => Err(StoreError::Backend(format!("commit failed: {e}"))),
                };
                let _ = tx.send(outcome);
            });
            (ok, completion)
        });
        {
            let sender = self
                .writer
                .lock()
                .map_err(|_| StoreError::Unavailable("writer lock poisoned".into()))?;
            sender
                .send(job)
                .map_err(|_| StoreError::Unavailable("the SQLite writer has stopped".into()))?;
        }
        rx.await
            .map_err(|_| StoreError::Backend("write job was abandoned".into()))?
    }

    /// Runs `f` on a read connection in a blocking task.
    pub async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let _permit = self
            .read_permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("reader pool closed".into()))?;
        let readers = Arc::clone(&self.readers);
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            let taken = readers.lock().ok().and_then(|mut r| r.pop());
            let conn = match taken {
                Some(conn) => conn,
                // A reader lost to a panicking job is replaced on demand.
                None => open_connection(&path, true)?,
            };
            let result = f(&conn);
            if let Ok(mut r) = readers.lock() {
                r.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Backend(format!("read task failed: {e}")))?
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&conn, batch);
    }
    tracing::debug!("SQLite writer stopped");
}

fn run_batch(conn: &Connection, batch: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let message = e.to_string();
        tracing::error!(error = %message, "cannot begin a write transaction");
        // The jobs are dropped unrun; their callers see an abandoned job.
        return;
    }
    let mut completions = Vec::with_capacity(batch.len());
    for job in batch {
        let savepoint = conn.execute_batch("SAVEPOINT job");
        if let Err(e) = savepoint {
            tracing::error!(error = %e, "cannot open a savepoint");
            continue;
        }
        match catch_unwind(AssertUnwindSafe(|| job(conn))) {
            Ok((ok, completion)) => {
                if !ok {
                    let _ = conn.execute_batch("ROLLBACK TO job");
                }
                completions.push(completion);
            }
            Err(_) => {
                tracing::error!("a write job panicked; its changes were rolled back");
                let _ = conn.execute_batch("ROLLBACK TO job");
            }
        }
        let _ = conn.execute_batch("RELEASE job");
    }
    let commit = conn.execute_batch("COMMIT").map_err(|e| e.to_string());
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for completion in completions {
        completion(commit.clone());
    }
}

pub fn backend(e: rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(err, ref message) = e {
        if err.code == rusqlite::ErrorCode::ConstraintViolation {
            return StoreError::Conflict(message.clone().unwrap_or_else(|| err.to_string()));
        }
        if matches!(
            err.code,
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
        ) {
            return StoreError::Unavailable(e.to_string());
        }
    }
    StoreError::Backend(e.to_string())
}
