//! Finding 7: `BERTH_ALLOW_PRIVATE_EGRESS`, meant for the server's own connections (model
//! cards, MCP servers on private addresses), also opened those addresses to every sandbox, and
//! a sandbox reached a service on the Berth host through the host's own address. Sandboxes
//! have a policy of their own, and the host's addresses stay closed unless named exactly.

use std::net::IpAddr;

use berth_server::ServerConfig;
use berth_server::config::EgressPolicy;
use berth_test_support::{FakeModel, TestServer};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{call_tool, tool_session};

mod server_policy_open {
    on_both_backends_configured!(server_policy_wide_open; sandboxes_never_reach_the_host);
    use super::*;
}
mod sandbox_ranges_open {
    on_both_backends_configured!(sandbox_ranges_open; sandboxes_never_reach_the_host);
    use super::*;
}
mod host_address_named {
    on_both_backends_configured!(host_address_named; a_named_host_address_is_reachable);
    use super::*;
}

/// The host's first address that is not loopback, where test services listen.
fn host_address() -> Option<IpAddr> {
    berth_net::host_addresses()
        .into_iter()
        .find(|a| a.is_ipv4() && !a.is_loopback())
}

/// The operator opens every private address to the server's own connections.
fn server_policy_wide_open(config: &mut ServerConfig) {
    config.egress = EgressPolicy::parse("0.0.0.0/0,::/0").unwrap();
}

/// The operator opens every private range to sandboxes, but names no host address.
fn sandbox_ranges_open(config: &mut ServerConfig) {
    config.egress = EgressPolicy::parse("0.0.0.0/0").unwrap();
    config.sandbox_egress = EgressPolicy::for_sandboxes("0.0.0.0/0,::/0").unwrap();
}

/// The operator names the host's address for sandboxes, on purpose.
fn host_address_named(config: &mut ServerConfig) {
    let named = host_address().map(|a| a.to_string()).unwrap_or_default();
    config.sandbox_egress = EgressPolicy::for_sandboxes(&named).unwrap();
}

/// A service of the host on every interface, answering with a secret.
async fn host_service() -> u16 {
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            // The request first, as an HTTP server reads it: answering before it and closing
            // would reset the connection under the request still being sent.
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && socket.read(&mut byte).await.unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let body = "host-only-secret";
            let reply = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    port
}

async fn fetch_from_sandbox(server: &TestServer, model: &FakeModel) -> Option<String> {
    let Some(address) = host_address() else {
        eprintln!("SKIPPED: this host has no address besides loopback");
        return None;
    };
    let port = host_service().await;
    let api = server.api();
    let session = tool_session(
        &api,
        json!({"name": "open", "config": {"type": "cloud", "networking": {"type": "unrestricted"}}}),
    )
    .await;
    let (out, _) = call_tool(
        &api,
        model,
        &session,
        1,
        "bash",
        json!({"command": format!("curl -s -m 10 http://{address}:{port}/")}),
    )
    .await;
    Some(out)
}

async fn sandboxes_never_reach_the_host(server: &TestServer, model: &FakeModel) {
    let Some(out) = fetch_from_sandbox(server, model).await else {
        return;
    };
    assert!(!out.contains("host-only-secret"), "{out}");
    assert!(
        out.contains("Berth egress proxy") && out.contains("Berth host itself"),
        "{out}"
    );
}

async fn a_named_host_address_is_reachable(server: &TestServer, model: &FakeModel) {
    let Some(out) = fetch_from_sandbox(server, model).await else {
        return;
    };
    assert!(out.contains("host-only-secret"), "{out}");
}
