//! Every wire type Berth speaks, and nothing that does I/O.
//!
//! Request bodies deserialize leniently (unknown fields are ignored) and are then checked by the
//! `validate` functions next to each resource, which return a [`ValidationError`] naming the
//! offending field. Response bodies serialize exactly as the official SDKs expect them
//! (see `spec/cma-wire-contract.md`). Every type derives a `utoipa` schema so the OpenAPI
//! document is generated from these definitions.

pub mod agent;
pub mod agent_tools;
pub mod api_key;
pub mod content;
pub mod environment;
pub mod error;
pub mod event;
pub mod file;
pub mod ids;
pub mod memory;
pub mod metadata;
pub mod model_card;
pub mod multiagent;
pub mod nullable;
pub mod pagination;
pub mod session;
pub mod skill;
pub mod tag;
pub mod time;
pub mod validation;
pub mod vault;

pub use error::{ErrorBody, ErrorDetail, ErrorType};
pub use nullable::Nullable;
pub use validation::ValidationError;

/// Timestamps on the wire are RFC 3339 strings in UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// `{str: str}` metadata; a `BTreeMap` so the rendered JSON is stable.
pub type Metadata = std::collections::BTreeMap<String, String>;

/// The small object every delete endpoint returns: `{"id", "type": "<thing>_deleted"}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Deleted {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
}

impl Deleted {
    pub fn new(id: impl Into<String>, kind: &str) -> Self {
        Self {
            id: id.into(),
            kind: kind.to_owned(),
        }
    }
}
