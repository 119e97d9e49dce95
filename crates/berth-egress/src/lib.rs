//! The egress proxy: the only way out of a sandbox's network namespace.
//!
//! A sandbox reaches it at `127.0.0.1:3128` inside its namespace. Every destination is checked
//! against the environment's host rules and the installation's egress policy ([`proxy`]).
//! Secrets ([`InjectedSecret`]) reach commands only as placeholders; the proxy puts the real
//! values into requests to the hosts each secret allows ([`forward`]), reading HTTPS through a CA
//! of this installation that only sandboxes trust ([`intercept`], [`ca`]), and takes them back
//! out of responses that reflect them ([`reflect`]).
//!
//! HTTP is hyper's: requests are parsed by its server and written to destinations by its client
//! from the parsed form. Modules depend downwards only: `proxy` → `intercept` → `forward` →
//! `reflect`, `secrets`, `refusal`, `body`, `serving`.

mod body;
pub mod ca;
mod forward;
pub mod hosts;
mod intercept;
mod proxy;
mod reflect;
mod refusal;
mod secrets;
mod serving;

pub use ca::{CaError, SANDBOX_CA_BUNDLE, SANDBOX_CA_CERT, SYSTEM_CA_BUNDLE, SandboxCa};
pub use hosts::HostRules;
pub use intercept::Interception;
pub use proxy::{EgressRules, ProxyState, serve};
pub use secrets::{
    InjectedSecret, PLACEHOLDER_PREFIX, SecretError, SharedSecrets, new_placeholder, validate,
};
