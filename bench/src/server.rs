//! The server under test: a `berth serve` child process on a free loopback port.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, bail};

/// The admin key the benchmark starts the server with.
pub const BENCH_KEY: &str = "berth_sk_benchmark_key_0123456789abcdefghijklmnopqr";

pub struct BerthProcess {
    child: Child,
    pub addr: SocketAddr,
    _data_dir: tempfile::TempDir,
}

impl BerthProcess {
    pub async fn start(
        binary: &str,
        database_url: Option<&str>,
        model_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let database_url = match database_url {
            Some(url) => Some(fresh_schema(url, &format!("bench_{}", std::process::id()))?),
            None => None,
        };
        Self::start_with(binary, database_url.as_deref(), model_url, &[]).await
    }

    /// Starts a server on `database_url` exactly as given (replicas share one schema; see
    /// [`fresh_schema`]), with `env` set on top of the usual settings.
    pub async fn start_with(
        binary: &str,
        database_url: Option<&str>,
        model_url: Option<&str>,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let data_dir = tempfile::tempdir()?;
        let mut command = Command::new(binary);
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir.path())
            .env("BERTH_API_KEY", BENCH_KEY)
            .env("BERTH_LOG", "warn,berth_server=info")
            // Model cards in the benchmarks point at the fake on loopback.
            .env("BERTH_ALLOW_PRIVATE_EGRESS", "127.0.0.1")
            // Limits high enough never to bind: the limiter still runs (and is measured), but a
            // benchmark measures throughput, not the limits.
            .env("BERTH_RATE_LIMIT_READS_PER_MINUTE", "1000000000")
            .env("BERTH_RATE_LIMIT_WRITES_PER_MINUTE", "1000000000")
            .env("BERTH_SESSION_INPUT_BYTES_PER_MINUTE", "1000000000000")
            .env_remove("DATABASE_URL")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(url) = model_url {
            command
                .env("ANTHROPIC_API_KEY", "sk-ant-bench")
                .env("ANTHROPIC_BASE_URL", url);
        }
        if let Some(url) = database_url {
            command.env("DATABASE_URL", url);
        }
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {binary}"))?;
        let stderr = child.stderr.take().context("stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let Some(line) = lines.next() else {
                bail!("berth exited before listening");
            };
            let line = line?;
            if let Some(rest) = line.split("addr=").nth(1) {
                break rest.split_whitespace().next().unwrap_or_default().parse()?;
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Ok(Self {
            child,
            addr,
            _data_dir: data_dir,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident set size of the server process, in MiB.
    pub fn rss_mib(&self) -> f64 {
        rss_of(self.child.id())
    }

    /// `kill -9`: the process gets no chance to finish anything.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// Resident set size of a process, in MiB.
pub fn rss_of(pid: u32) -> f64 {
    status_mib(pid, "VmRSS:")
}

/// The anonymous part of a process's RSS (its heap and stacks, without file-backed pages such
/// as SQLite's memory map), in MiB.
pub fn anon_rss_of(pid: u32) -> f64 {
    status_mib(pid, "RssAnon:")
}

fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Drops and re-creates `schema` in the database at `url`; returns the URL that selects it.
pub fn fresh_schema(url: &str, schema: &str) -> anyhow::Result<String> {
    let status = Command::new("psql")
        .arg(url)
        .args(["-q", "-c"])
        .arg(format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema};"
        ))
        .status()
        .context("running psql to create the benchmark schema")?;
    if !status.success() {
        bail!("psql could not create schema {schema}");
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{url}{separator}options=-c%20search_path%3D{schema}"
    ))
}
