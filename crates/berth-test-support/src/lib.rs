//! Test helpers shared by Berth's integration tests and benchmarks.
//!
//! [`spawn_server`] starts the real server in-process on `127.0.0.1:0` with a fresh data
//! directory (SQLite) or a fresh PostgreSQL schema, and [`Api`] drives it over HTTP the way a
//! client would. [`mcp_fixture`] serves fixture MCP servers for MCP client tests, and
//! [`legacy_sse_fixture`] one that speaks only the older HTTP+SSE transport.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
pub mod fake_llm;
pub mod legacy_sse_fixture;
pub mod mcp_fixture;
pub mod oauth_fixture;
pub mod replicas;
mod server;
pub mod sessions;
mod sse;

pub use api::{Api, Part, Reply};
pub use fake_llm::{
    Block, FakeModel, FakeUsage, FrameObserver, ModelReply, RecordedRequest, ReplyRule, Wire,
};

/// The fake model provider's routes, for the standalone binary.
pub fn fake_model_router() -> axum::Router {
    fake_llm::router_for_binary()
}
pub use server::{
    TestServer, spawn_postgres_server, spawn_postgres_server_with, spawn_server, spawn_server_with,
    with_model,
};
pub use sse::{SseEvent, SseStream};
