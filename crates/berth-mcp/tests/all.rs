//! Integration tests: the MCP client against real rmcp servers on 127.0.0.1:0 (the fixtures of
//! `berth_test_support::mcp_fixture`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
