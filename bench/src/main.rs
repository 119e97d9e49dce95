//! `berth-bench`: a loopback load generator for Berth.
//!
//! It starts a release `berth serve` as a child process (so its RSS can be read from /proc),
//! drives it over keep-alive HTTP/1.1 connections, one per worker, and prints throughput and
//! latency percentiles per scenario. Every address it touches is on 127.0.0.1.

// A reporting tool: printing is its output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod client;
mod scenarios;
mod server;
mod stats;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "berth-bench", about = "Loopback benchmarks for Berth")]
struct Cli {
    /// The berth binary to benchmark.
    #[arg(long, default_value = "target/release/berth")]
    berth: String,
    /// Benchmark against PostgreSQL at this URL instead of SQLite (a fresh schema is used).
    #[arg(long)]
    database_url: Option<String>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds each measured phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// GET /v1/agents/{id}, POST /v1/agents and GET /v1/agents?limit=100, plus server RSS.
    Agents,
    /// Turn latency at concurrency 1 (and platform overhead = turn − model time), then turns/s
    /// at `--concurrency`, against an instant fake model.
    Turns,
    /// Event-page latency on a session with 10,000 events, at the start, middle and end.
    Events,
    /// Delivery latency of one event to 1,000 SSE subscribers of one session.
    Fanout {
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
    },
    /// Turns with one `echo hi` bash call in the session's sandbox: latency at concurrency 1,
    /// then turns/s at `--concurrency`.
    ToolTurns,
    /// What Berth adds to an MCP tool call (vault credential, redaction, stored result) over
    /// calling the fixture server directly.
    Mcp,
    /// Memory stores: write throughput, search latency on a 2,000-memory store, recall@5 of the
    /// fixed search corpus.
    Memory,
    /// Upload and download throughput of a 100 MB file (local blob storage) and server RSS.
    Files,
    /// A tenant's memory attack: 100 events of 1 MB, then 10 concurrent full-log reads; server
    /// RSS before, at peak and after.
    Flood,
    /// Streaming relay cost: from a token leaving the fake provider to its delta reaching an SSE
    /// client, with `--concurrency` turns streaming at once (Anthropic, then Chat Completions).
    Relay,
    /// Server RSS added by 10,000 sessions that each ran a turn and went idle.
    Idle {
        #[arg(long, default_value_t = 10_000)]
        sessions: usize,
    },
    /// Scale-out on one PostgreSQL database (needs `--database-url`): turns/s with 1, 2 and 3
    /// replicas, event delivery latency across replicas, and failover time after `kill -9` of
    /// the replica running a turn.
    Replicas {
        /// The replicas' lease TTL (`BERTH_LEASE_TTL_SECS`), which bounds failover time.
        #[arg(long, default_value_t = 5)]
        lease_ttl_secs: u64,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let options = scenarios::Options {
            concurrency: cli.concurrency,
            seconds: cli.seconds,
        };
        // Starts and stops its own replicas, each with a fake model of its own.
        if let Scenario::Replicas { lease_ttl_secs } = cli.scenario {
            return scenarios::replicas(
                &cli.berth,
                cli.database_url.as_deref(),
                &options,
                lease_ttl_secs,
            )
            .await;
        }
        let model = berth_test_support::FakeModel::start().await;
        let server = server::BerthProcess::start(
            &cli.berth,
            cli.database_url.as_deref(),
            Some(&model.base_url),
        )
        .await?;
        let result = match cli.scenario {
            Scenario::Agents => scenarios::agents(&server, &options).await,
            Scenario::Turns => scenarios::turns(&server, &model, &options).await,
            Scenario::Events => scenarios::events(&server).await,
            Scenario::Fanout { subscribers } => scenarios::fanout(&server, subscribers).await,
            Scenario::Idle { sessions } => scenarios::idle(&server, sessions).await,
            Scenario::Relay => scenarios::relay(&server, &model, &options).await,
            Scenario::Files => scenarios::files(&server).await,
            Scenario::Flood => scenarios::flood(&server).await,
            Scenario::Memory => scenarios::memory(&server, &options).await,
            Scenario::Mcp => scenarios::mcp(&server, &model, &options).await,
            Scenario::ToolTurns => scenarios::tool_turns(&server, &model, &options).await,
            // Handled above, before a single server is started.
            Scenario::Replicas { .. } => Ok(()),
        };
        server.stop();
        result
    })
}
