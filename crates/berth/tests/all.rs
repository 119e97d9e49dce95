//! Tests of the `berth` binary itself, and the official SDKs driving a real server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;
