//! Test cases, one file per concern, and the helpers they share.

mod auth;
mod calls;
mod failures;
mod legacy_sse;

use std::sync::Arc;
use std::time::Duration;

use berth_mcp::{Authorizer, McpClient, McpError, McpServer, StaticToken};
use berth_net::EgressPolicy;

/// Generous for a loopback server, short enough that a hang fails the test quickly.
const STARTUP: Duration = Duration::from_secs(10);

/// The fixtures listen on loopback, which the default policy refuses.
fn loopback_policy() -> EgressPolicy {
    EgressPolicy::parse("127.0.0.0/8").unwrap()
}

fn server(url: &str) -> McpServer {
    McpServer {
        name: "fixture".to_owned(),
        url: url.to_owned(),
    }
}

async fn connect(url: &str, auth: Arc<dyn Authorizer>) -> Result<McpClient, McpError> {
    McpClient::connect(&loopback_policy(), &server(url), auth, STARTUP).await
}

async fn connect_open(url: &str) -> McpClient {
    connect(url, Arc::new(StaticToken(None))).await.unwrap()
}

fn args(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    value.as_object().cloned().unwrap()
}
