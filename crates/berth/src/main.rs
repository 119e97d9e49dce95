//! `berth`: one binary that serves the managed-agents API (`berth serve`) and manages its
//! database (`berth migrate`). Configuration comes from flags or `BERTH_*` environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use berth_server::config::{
    DEFAULT_COMPACTION_THRESHOLD, DEFAULT_DB_MAX_CONNECTIONS, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_UPLOAD_BYTES, EgressPolicy, RateLimits, RetryPolicy,
    SandboxLimits,
};
use berth_server::{Server, ServerConfig};
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "berth", version, about = "A self-hosted managed-agents server")]
struct Cli {
    /// Log format.
    #[arg(long, env = "BERTH_LOG_FORMAT", default_value = "text", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (runs pending migrations first).
    Serve(Box<ServeArgs>),
    /// Apply pending database migrations and exit.
    Migrate(StorageArgs),
}

#[derive(Args)]
struct StorageArgs {
    /// Where the SQLite database, root secret and workspaces live.
    #[arg(long, env = "BERTH_DATA_DIR", default_value = "./berth-data")]
    data_dir: PathBuf,
    /// `postgres://…` selects PostgreSQL; otherwise SQLite in the data directory.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// PostgreSQL connections this process may open.
    #[arg(long, env = "BERTH_DB_MAX_CONNECTIONS", default_value_t = DEFAULT_DB_MAX_CONNECTIONS)]
    db_max_connections: usize,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "BERTH_LISTEN", default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    #[command(flatten)]
    storage: StorageArgs,
    /// 32 random bytes as 64 hex characters or base64; generated into the data dir if unset.
    #[arg(long, env = "BERTH_ROOT_SECRET", hide_env_values = true)]
    root_secret: Option<String>,
    /// The default tenant's admin key; generated and printed once if unset on first start.
    #[arg(long, env = "BERTH_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Largest accepted JSON request body, in bytes.
    #[arg(long, env = "BERTH_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// The default model provider's key (Anthropic Messages API).
    #[arg(long, env = "ANTHROPIC_API_KEY", hide_env_values = true)]
    anthropic_api_key: Option<String>,
    /// The default model provider's base URL.
    #[arg(long, env = "ANTHROPIC_BASE_URL")]
    anthropic_base_url: Option<String>,
    /// The fallback default provider's key (OpenAI Chat Completions), used when no Anthropic
    /// key is set.
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    openai_api_key: Option<String>,
    /// The fallback provider's base URL (any Chat Completions server).
    #[arg(long, env = "OPENAI_BASE_URL")]
    openai_base_url: Option<String>,
    /// Loopback, private or link-local hosts and CIDRs that the server's connections to
    /// tenant-chosen URLs (model cards, MCP servers) may reach, comma-separated, e.g.
    /// `127.0.0.0/8,10.0.0.5`. Sandboxes have a setting of their own.
    #[arg(long, env = "BERTH_ALLOW_PRIVATE_EGRESS", default_value = "")]
    allow_private_egress: String,
    /// Private or link-local hosts and CIDRs that sandboxes (and `web_fetch`) may reach,
    /// comma-separated. The host's own addresses stay closed unless listed one by one.
    #[arg(long, env = "BERTH_SANDBOX_ALLOW_PRIVATE_EGRESS", default_value = "")]
    sandbox_allow_private_egress: String,
    /// Retries of a failed model request (429, 5xx, 529, timeouts) before the turn gives up.
    #[arg(long, env = "BERTH_MODEL_MAX_RETRIES", default_value_t = 4)]
    model_max_retries: u32,
    /// Milliseconds before the first retry; each further retry doubles it (up to 30 s) unless
    /// the provider sent `retry-after`.
    #[arg(long, env = "BERTH_MODEL_RETRY_BASE_MS", default_value_t = 1000)]
    model_retry_base_ms: u64,
    /// Where session sandboxes keep their files (default: `<data-dir>/sandboxes`).
    #[arg(long, env = "BERTH_SANDBOX_DIR")]
    sandbox_dir: Option<PathBuf>,
    /// DEVELOPMENT ONLY: run agent commands directly on this host, without any isolation.
    #[arg(long, env = "BERTH_UNSAFE_NO_SANDBOX")]
    unsafe_no_sandbox: bool,
    /// Address space per sandboxed process, in MiB.
    #[arg(long, env = "BERTH_SANDBOX_MEMORY_MB", default_value_t = 4096)]
    sandbox_memory_mb: u64,
    /// CPU seconds per sandboxed process.
    #[arg(long, env = "BERTH_SANDBOX_CPU_SECS", default_value_t = 600)]
    sandbox_cpu_secs: u64,
    /// Processes (and threads) a session's sandbox may run at once.
    #[arg(long, env = "BERTH_SANDBOX_PROCESSES", default_value_t = 256)]
    sandbox_processes: u64,
    /// Memory all of a session's sandboxed processes may use together, in MiB (control
    /// groups, where the host has them).
    #[arg(long, env = "BERTH_SANDBOX_SESSION_MEMORY_MB", default_value_t = 4096)]
    sandbox_session_memory_mb: u64,
    /// CPU cores a session's sandboxed processes may use together (control groups).
    #[arg(long, env = "BERTH_SANDBOX_CPUS", default_value_t = 2.0)]
    sandbox_cpus: f64,
    /// Give each session a control group (memory, CPU and processes together) where the host
    /// offers one: `on` or `off`.
    #[arg(long, env = "BERTH_SANDBOX_CGROUPS", default_value = "on", value_parser = ["on", "off"])]
    sandbox_cgroups: String,
    /// Disk a session's sandbox files may take, in MiB.
    #[arg(long, env = "BERTH_SANDBOX_DISK_MB", default_value_t = 10 * 1024)]
    sandbox_disk_mb: u64,
    /// Disk the sandboxes of one tenant's live sessions may take together, in MiB.
    #[arg(long, env = "BERTH_TENANT_DISK_MB", default_value_t = 100 * 1024)]
    tenant_disk_mb: u64,
    /// Loopback ports of this host that sandboxes may reach (comma-separated), for a local
    /// gateway or tests.
    #[arg(long, env = "BERTH_SANDBOX_LOOPBACK_PORTS", value_delimiter = ',')]
    sandbox_loopback_ports: Vec<u16>,
    /// Largest file a sandboxed process may write, in MiB.
    #[arg(long, env = "BERTH_SANDBOX_FILE_SIZE_MB", default_value_t = 1024)]
    sandbox_file_size_mb: u64,
    /// Where file, skill and output bytes live: `s3://bucket/prefix` (credentials and endpoint
    /// from `AWS_*`) or `file:///path`; default `<data-dir>/blobs`.
    #[arg(long, env = "BERTH_BLOB_URL")]
    blob_url: Option<String>,
    /// Largest file upload, in bytes.
    #[arg(long, env = "BERTH_MAX_UPLOAD_BYTES", default_value_t = DEFAULT_MAX_UPLOAD_BYTES)]
    max_upload_bytes: u64,
    /// An OpenAI-compatible embeddings API for memory search (e.g. `http://127.0.0.1:11434/v1`);
    /// without it, memories are embedded by a built-in hashing embedder.
    #[arg(long, env = "BERTH_EMBEDDINGS_URL")]
    embeddings_url: Option<String>,
    /// The embedding model to ask `BERTH_EMBEDDINGS_URL` for.
    #[arg(
        long,
        env = "BERTH_EMBEDDINGS_MODEL",
        default_value = "text-embedding-3-small"
    )]
    embeddings_model: String,
    /// The bearer token for `BERTH_EMBEDDINGS_URL`.
    #[arg(long, env = "BERTH_EMBEDDINGS_API_KEY", hide_env_values = true)]
    embeddings_api_key: Option<String>,
    /// A SearXNG instance that serves the `web_search` tool.
    #[arg(long, env = "BERTH_SEARXNG_URL")]
    searxng_url: Option<String>,
    /// `GET` requests a tenant may make per minute (0 for no limit).
    #[arg(long, env = "BERTH_RATE_LIMIT_READS_PER_MINUTE", default_value_t = RateLimits::default().reads_per_minute)]
    rate_limit_reads_per_minute: u64,
    /// Other requests (creates, updates, sends, deletes) a tenant may make per minute (0 for
    /// no limit).
    #[arg(long, env = "BERTH_RATE_LIMIT_WRITES_PER_MINUTE", default_value_t = RateLimits::default().writes_per_minute)]
    rate_limit_writes_per_minute: u64,
    /// Bytes of events one session may be sent per minute (0 for no limit).
    #[arg(long, env = "BERTH_SESSION_INPUT_BYTES_PER_MINUTE", default_value_t = RateLimits::default().session_input_bytes_per_minute)]
    session_input_bytes_per_minute: u64,
    /// Largest event a client may send, serialized, in bytes.
    #[arg(long, env = "BERTH_MAX_EVENT_BYTES", default_value_t = DEFAULT_MAX_EVENT_BYTES)]
    max_event_bytes: usize,
    /// Compact a session's context when it passes this fraction of the model's window.
    #[arg(long, env = "BERTH_COMPACTION_THRESHOLD", default_value_t = DEFAULT_COMPACTION_THRESHOLD)]
    compaction_threshold: f64,
    /// Seconds a model stream may stay silent before it is abandoned.
    #[arg(long, env = "BERTH_MODEL_IDLE_TIMEOUT_SECS", default_value_t = 300)]
    model_idle_timeout_secs: u64,
    /// Seconds between `event: ping` keep-alives on idle streams.
    #[arg(long, env = "BERTH_SSE_KEEPALIVE_SECS", default_value_t = 15)]
    sse_keepalive_secs: u64,
    /// Seconds a runner's claim on a session lasts without renewal.
    #[arg(long, env = "BERTH_LEASE_TTL_SECS", default_value_t = 30)]
    lease_ttl_secs: u64,
    /// Address for Prometheus metrics (`GET /metrics`), e.g. `127.0.0.1:9187`; off when unset.
    #[arg(long, env = "BERTH_METRICS_LISTEN")]
    metrics_listen: Option<std::net::SocketAddr>,
}

impl StorageArgs {
    fn config(&self) -> ServerConfig {
        let mut config = ServerConfig::new(self.data_dir.clone());
        config.database_url = self.database_url.clone().filter(|u| !u.is_empty());
        config.db_max_connections = self.db_max_connections;
        config
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            report_error(&e);
            std::process::ExitCode::FAILURE
        }
    }
}

/// Start-up failures are operator mistakes more often than bugs: show the message, not a trace.
#[allow(clippy::print_stderr)]
fn report_error(e: &anyhow::Error) {
    eprintln!("error: {e:#}");
}

fn run(cli: Cli) -> anyhow::Result<()> {
    init_logging(cli.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve(*args).await,
            Command::Migrate(args) => {
                berth_server::startup::open_store(&args.config()).await?;
                tracing::info!("migrations are up to date");
                Ok(())
            }
        }
    })
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.storage.config();
    config.listen = args.listen;
    config.root_secret = args.root_secret.filter(|s| !s.is_empty());
    config.api_key = args.api_key.filter(|s| !s.is_empty());
    config.max_body_bytes = args.max_body_bytes;
    config.anthropic_api_key = args.anthropic_api_key.filter(|s| !s.is_empty());
    config.anthropic_base_url = args.anthropic_base_url.filter(|s| !s.is_empty());
    config.openai_api_key = args.openai_api_key.filter(|s| !s.is_empty());
    config.openai_base_url = args.openai_base_url.filter(|s| !s.is_empty());
    config.egress = EgressPolicy::parse(&args.allow_private_egress)?;
    config.sandbox_egress = EgressPolicy::for_sandboxes(&args.sandbox_allow_private_egress)?;
    config.model_retry = RetryPolicy {
        max_retries: args.model_max_retries,
        base_delay: std::time::Duration::from_millis(args.model_retry_base_ms.max(1)),
        ..RetryPolicy::default()
    };
    if !(0.1..=1.0).contains(&args.compaction_threshold) {
        anyhow::bail!("BERTH_COMPACTION_THRESHOLD must be between 0.1 and 1.0");
    }
    config.compaction_threshold = args.compaction_threshold;
    config.sandbox_dir = args.sandbox_dir;
    config.unsafe_no_sandbox = args.unsafe_no_sandbox;
    config.sandbox_loopback_ports = args.sandbox_loopback_ports;
    config.sandbox_limits = SandboxLimits {
        memory_bytes: args.sandbox_memory_mb.max(64) << 20,
        cpu_seconds: args.sandbox_cpu_secs.max(1),
        processes: args.sandbox_processes.max(8),
        file_size_bytes: args.sandbox_file_size_mb.max(1) << 20,
        session: berth_server::config::SessionResources {
            memory_bytes: args.sandbox_session_memory_mb.max(64) << 20,
            cpu_millis: (args.sandbox_cpus.max(0.01) * 1000.0) as u64,
            processes: args.sandbox_processes.max(8),
        },
        ..SandboxLimits::default()
    };
    config.sandbox_disk_bytes = args.sandbox_disk_mb.max(1) << 20;
    config.sandbox_cgroups = args.sandbox_cgroups == "on";
    config.rate_limits = RateLimits {
        reads_per_minute: args.rate_limit_reads_per_minute,
        writes_per_minute: args.rate_limit_writes_per_minute,
        session_input_bytes_per_minute: args.session_input_bytes_per_minute,
    };
    config.max_event_bytes = args.max_event_bytes.max(1024);
    config.tenant_disk_bytes = args.tenant_disk_mb.max(1) << 20;
    config.searxng_url = args.searxng_url.filter(|s| !s.is_empty());
    config.blob_url = args.blob_url.filter(|s| !s.is_empty());
    config.max_upload_bytes = args.max_upload_bytes;
    config.model_idle_timeout = std::time::Duration::from_secs(args.model_idle_timeout_secs.max(1));
    config.sse_keepalive = std::time::Duration::from_secs(args.sse_keepalive_secs.max(1));
    config.lease_ttl = std::time::Duration::from_secs(args.lease_ttl_secs.max(3));
    config.metrics_listen = args.metrics_listen;
    config.embeddings = args.embeddings_url.filter(|u| !u.is_empty()).map(|url| {
        berth_server::config::EmbeddingsConfig {
            url,
            model: args.embeddings_model,
            api_key: args.embeddings_api_key.filter(|k| !k.is_empty()),
        }
    });
    let server = Server::start(config).await?;
    if let Some(key) = server.bootstrap_key() {
        announce_bootstrap_key(key);
    }
    server.run(shutdown_signal()).await?;
    Ok(())
}

/// Shows a generated admin key once; it is stored only as a hash.
#[allow(clippy::print_stdout)]
fn announce_bootstrap_key(key: &str) {
    println!();
    println!("  A new Berth installation. Its admin API key (shown only now):");
    println!();
    println!("    {key}");
    println!();
    println!("  Use it as `x-api-key: <key>` or `Authorization: Bearer <key>`.");
    println!();
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("BERTH_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        // A closed log pipe must not take the server down (the internal error report itself
        // would go to the same closed stderr and panic).
        .log_internal_errors(false)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
