//! A real Berth server for one test.

use std::time::Duration;

use berth_server::config::{EgressPolicy, RetryPolicy};
use berth_server::{Server, ServerConfig};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::Api;
use crate::sse::SseStream;

/// An admin key long enough for the server to accept as `BERTH_API_KEY`.
pub const TEST_ADMIN_KEY: &str = "berth_sk_test_admin_key_0123456789abcdefghijklmnop";

pub struct TestServer {
    pub base_url: String,
    pub admin_key: String,
    pub default_tenant_id: String,
    /// Kept so the directory lives as long as the server.
    pub data_dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A client authenticated with the admin key of the default tenant.
    pub fn api(&self) -> Api {
        Api::new(&self.base_url, &self.admin_key)
    }

    /// A client with another key.
    pub fn api_with_key(&self, key: &str) -> Api {
        Api::new(&self.base_url, key)
    }

    /// Opens a session's live event stream (`query` is appended as is: `""` or `"?include=chunks"`),
    /// checking that the server answered with a stream.
    pub async fn stream(&self, session_id: &str, query: &str) -> SseStream {
        let stream = SseStream::open(
            self.api()
                .raw(
                    reqwest::Method::GET,
                    &format!("/v1/sessions/{session_id}/events/stream{query}"),
                )
                .header("x-api-key", &self.admin_key),
        )
        .await;
        assert_eq!(stream.status, 200, "the event stream was refused");
        stream
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A server on SQLite in a temporary data directory.
pub async fn spawn_server() -> TestServer {
    spawn_server_with(|_| {}).await
}

/// A server on SQLite, with the configuration adjusted by `configure` before start.
pub async fn spawn_server_with(configure: impl FnOnce(&mut ServerConfig)) -> TestServer {
    let data_dir = tempfile::tempdir().unwrap();
    let mut config = ServerConfig::new(data_dir.path().to_owned());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.api_key = Some(TEST_ADMIN_KEY.to_owned());
    configure(&mut config);
    start(config, data_dir).await
}

/// Points the server's default model provider at a fake, lets model cards reach loopback (where
/// fakes listen), and retries failed model requests quickly.
pub fn with_model(config: &mut ServerConfig, base_url: &str) {
    config.anthropic_api_key = Some("sk-ant-test-key".to_owned());
    config.anthropic_base_url = Some(base_url.to_owned());
    config.egress = EgressPolicy::parse("127.0.0.0/8").unwrap();
    config.model_retry = RetryPolicy {
        max_retries: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    };
}

/// A server on a fresh PostgreSQL schema, or `None` when no test database is configured.
pub async fn spawn_postgres_server() -> Option<TestServer> {
    spawn_postgres_server_with(|_| {}).await
}

/// Like [`spawn_postgres_server`], with the configuration adjusted by `configure`.
pub async fn spawn_postgres_server_with(
    configure: impl FnOnce(&mut ServerConfig),
) -> Option<TestServer> {
    let options = berth_store_postgres::testing::fresh_schema().await?;
    let schema = options.schema.clone().unwrap_or_default();
    let separator = if options.url.contains('?') { '&' } else { '?' };
    let url = format!(
        "{}{separator}options=-c%20search_path%3D{schema}",
        options.url
    );
    Some(
        spawn_server_with(|config| {
            config.database_url = Some(url);
            config.db_max_connections = 8;
            configure(config);
        })
        .await,
    )
}

async fn start(config: ServerConfig, data_dir: TempDir) -> TestServer {
    let admin_key = config.api_key.clone().unwrap_or_default();
    let server = Server::start(config).await.expect("server starts");
    let base_url = format!("http://{}", server.local_addr());
    let default_tenant_id = server.default_tenant_id().to_owned();
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    TestServer {
        base_url,
        admin_key,
        default_tenant_id,
        data_dir,
        shutdown: Some(tx),
        handle: Some(handle),
    }
}
