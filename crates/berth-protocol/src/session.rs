//! Sessions (contract §6): a running instance of an agent in an environment, with its event log.
//!
//! The stored body of a session holds everything that changes only through explicit updates
//! (the resolved agent snapshot, title, metadata, resources); status, usage and statistics live in
//! columns and are added when the session is rendered.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::agent::{
    Agent, AgentTag, ExecutionIdentity, McpServer, ModelConfig, ModelParam, Skill, SkillParam,
};
use crate::agent_tools::{Tool, ToolParam};
use crate::multiagent::Multiagent;
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_no_control};
use crate::{Metadata, event::EventParam};

pub const MAX_TITLE_CHARS: usize = 500;
pub const MAX_INITIAL_EVENTS: usize = 50;
pub const MAX_VAULT_IDS: usize = 50;
pub const MAX_FILE_RESOURCES: usize = 500;
pub const MAX_MEMORY_STORE_RESOURCES: usize = 8;
pub const MAX_INSTRUCTIONS_CHARS: usize = 4096;

crate::wire_tag!(
    /// The literal `"session"`.
    SessionTag = "session"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for input. Sessions start idle.
    Idle,
    /// A turn is in progress.
    Running,
    /// A transient error is being retried.
    Rescheduling,
    /// The session can no longer run.
    Terminated,
}

impl SessionStatus {
    pub const ALL: [SessionStatus; 4] = [
        SessionStatus::Idle,
        SessionStatus::Running,
        SessionStatus::Rescheduling,
        SessionStatus::Terminated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Idle => "idle",
            SessionStatus::Running => "running",
            SessionStatus::Rescheduling => "rescheduling",
            SessionStatus::Terminated => "terminated",
        }
    }

    /// A turn is under way (running or waiting to retry): the session refuses changes that
    /// need it idle.
    pub fn is_busy(self) -> bool {
        matches!(self, SessionStatus::Running | SessionStatus::Rescheduling)
    }

    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "idle" => SessionStatus::Idle,
            "running" => SessionStatus::Running,
            "rescheduling" => SessionStatus::Rescheduling,
            "terminated" => SessionStatus::Terminated,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------- requests

/// `POST /v1/sessions`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SessionCreateRequest {
    /// An agent id, `{type:"agent", id, version?}` or `{type:"agent_with_overrides", …}`.
    #[schema(value_type = Object)]
    pub agent: AgentRefParam,
    pub environment_id: String,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub vault_ids: Option<Vec<String>>,
    #[serde(default)]
    pub resources: Option<Vec<ResourceParam>>,
    #[serde(default)]
    pub initial_events: Option<Vec<EventParam>>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub budget: Option<Value>,
}

/// The `agent` of a session create: an id (latest version), a pinned version, or a version with
/// per-session overrides.
#[derive(Debug, Clone)]
pub enum AgentRefParam {
    Latest(String),
    Pinned { id: String, version: Option<i64> },
    WithOverrides(Box<AgentOverrides>),
}

#[derive(Debug, Clone, Deserialize)]
pub struct AgentOverrides {
    pub id: String,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub model: Option<ModelParam>,
    #[serde(default)]
    pub system: Nullable<String>,
    #[serde(default)]
    pub tools: Option<Vec<ToolParam>>,
    #[serde(default)]
    pub mcp_servers: Option<Vec<McpServer>>,
    #[serde(default)]
    pub skills: Option<Vec<SkillParam>>,
}

impl AgentRefParam {
    pub fn id(&self) -> &str {
        match self {
            AgentRefParam::Latest(id) | AgentRefParam::Pinned { id, .. } => id,
            AgentRefParam::WithOverrides(o) => &o.id,
        }
    }

    pub fn version(&self) -> Option<i64> {
        match self {
            AgentRefParam::Latest(_) => None,
            AgentRefParam::Pinned { version, .. } => *version,
            AgentRefParam::WithOverrides(o) => o.version,
        }
    }
}

impl<'de> Deserialize<'de> for AgentRefParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        #[derive(Deserialize)]
        struct Pinned {
            id: String,
            #[serde(default)]
            version: Option<i64>,
        }

        let value = Value::deserialize(deserializer)?;
        match &value {
            Value::String(id) => Ok(AgentRefParam::Latest(id.clone())),
            Value::Object(map) => match map.get("type").and_then(Value::as_str) {
                Some("agent") => {
                    let p: Pinned = serde_json::from_value(value).map_err(D::Error::custom)?;
                    Ok(AgentRefParam::Pinned {
                        id: p.id,
                        version: p.version,
                    })
                }
                Some("agent_with_overrides") => {
                    let o: AgentOverrides =
                        serde_json::from_value(value).map_err(D::Error::custom)?;
                    Ok(AgentRefParam::WithOverrides(Box::new(o)))
                }
                _ => Err(D::Error::custom(
                    "type must be \"agent\" or \"agent_with_overrides\"",
                )),
            },
            _ => Err(D::Error::custom(
                "expected an agent id or an object with a type",
            )),
        }
    }
}

/// A resource to attach at creation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResourceParam {
    GithubRepository {
        url: String,
        #[serde(default)]
        authorization_token: Option<String>,
        #[serde(default)]
        #[schema(value_type = Option<Object>)]
        checkout: Option<Value>,
        #[serde(default)]
        mount_path: Option<String>,
    },
    File {
        file_id: String,
        #[serde(default)]
        mount_path: Option<String>,
    },
    MemoryStore {
        memory_store_id: String,
        #[serde(default)]
        access: Option<MemoryAccess>,
        #[serde(default)]
        instructions: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemoryAccess {
    ReadWrite,
    ReadOnly,
}

/// `POST /v1/sessions/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct SessionUpdateRequest {
    #[serde(default)]
    pub title: Nullable<String>,
    #[serde(default)]
    pub metadata: Nullable<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub agent: Option<SessionAgentUpdate>,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub budget: Nullable<Value>,
    #[serde(default)]
    pub vault_ids: Option<Vec<String>>,
}

/// Only the tools and MCP servers of a session's agent may change, and only while it is idle.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct SessionAgentUpdate {
    #[serde(default)]
    pub tools: Option<Vec<ToolParam>>,
    #[serde(default)]
    pub mcp_servers: Option<Vec<McpServer>>,
}

// --------------------------------------------------------------- responses

/// The agent as a session runs it: a frozen snapshot of one version, plus any overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionAgent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: AgentTag,
    pub name: String,
    pub model: ModelConfig,
    pub system: Option<String>,
    pub description: Option<String>,
    pub tools: Vec<Tool>,
    pub mcp_servers: Vec<McpServer>,
    pub skills: Vec<Skill>,
    pub execution_identity: ExecutionIdentity,
    pub multiagent: Option<Multiagent>,
    pub version: i64,
}

impl SessionAgent {
    pub fn from_agent(agent: &Agent) -> Self {
        Self {
            id: agent.id.clone(),
            kind: AgentTag,
            name: agent.name.clone(),
            model: agent.model.clone(),
            system: agent.system.clone(),
            description: agent.description.clone(),
            tools: agent.tools.clone(),
            mcp_servers: agent.mcp_servers.clone(),
            skills: agent.skills.clone(),
            execution_identity: agent.execution_identity.clone(),
            multiagent: agent.multiagent.clone(),
            version: agent.version,
        }
    }
}

/// An attached resource, as responses show it (secrets such as tokens are never included).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Resource {
    GithubRepository {
        id: String,
        url: String,
        mount_path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(value_type = Option<Object>)]
        checkout: Option<Value>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    },
    File {
        id: String,
        file_id: String,
        mount_path: String,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    },
    MemoryStore {
        id: String,
        memory_store_id: String,
        access: MemoryAccess,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instructions: Option<String>,
        /// The store's name when the session was created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        /// The store's description when the session was created.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Where the sandbox sees the store: `/mnt/memory/<name>`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mount_path: Option<String>,
        created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    },
}

/// The parts of a session that change only by explicit update; stored as the session body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionStatic {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SessionTag,
    pub environment_id: String,
    pub title: Option<String>,
    pub metadata: Metadata,
    pub agent: SessionAgent,
    pub resources: Vec<Resource>,
    pub vault_ids: Vec<String>,
    pub budget: Option<Value>,
    pub deployment_id: Option<String>,
    pub outcome_evaluations: Vec<Value>,
    pub created_at: DateTime<Utc>,
}

impl SessionStatic {
    /// The memory stores among the session's resources, in resource order.
    pub fn memory_store_ids(&self) -> Vec<String> {
        self.resources
            .iter()
            .filter_map(|resource| match resource {
                Resource::MemoryStore {
                    memory_store_id, ..
                } => Some(memory_store_id.clone()),
                _ => None,
            })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionStats {
    pub active_seconds: f64,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CacheCreation {
    pub ephemeral_5m_input_tokens: u64,
    pub ephemeral_1h_input_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionUsage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation: CacheCreation,
}

/// The session object as documented; the server renders it from [`SessionStatic`] plus columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: SessionTag,
    pub environment_id: String,
    pub title: Option<String>,
    pub metadata: Metadata,
    pub agent: SessionAgent,
    pub status: SessionStatus,
    pub resources: Vec<Resource>,
    pub vault_ids: Vec<String>,
    #[schema(value_type = Option<Object>)]
    pub budget: Option<Value>,
    pub deployment_id: Option<String>,
    #[schema(value_type = Vec<Object>)]
    pub outcome_evaluations: Vec<Value>,
    pub stats: SessionStats,
    pub usage: SessionUsage,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

// -------------------------------------------------------------- validation

pub fn validate_title(title: &str) -> Validated {
    check_len("title", title, 0, MAX_TITLE_CHARS)?;
    check_no_control("title", title)
}

pub fn validate_vault_ids(ids: &[String]) -> Validated {
    if ids.len() > MAX_VAULT_IDS {
        return Err(ValidationError::new(
            "vault_ids",
            format!("at most {MAX_VAULT_IDS} vaults are allowed"),
        ));
    }
    for (i, id) in ids.iter().enumerate() {
        if !crate::ids::has_prefix(id, crate::ids::prefix::VAULT) {
            return Err(ValidationError::new(
                format!("vault_ids[{i}]"),
                "must be a vault id (vlt_…)",
            ));
        }
    }
    Ok(())
}

/// A mount path: absolute, no `..` or empty segments, no control characters.
pub fn validate_mount_path(field: &str, path: &str) -> Validated {
    check_len(field, path, 2, 1024)?;
    check_no_control(field, path)?;
    if !path.starts_with('/') {
        return Err(ValidationError::new(field, "must be an absolute path"));
    }
    if path
        .split('/')
        .skip(1)
        .any(|segment| segment.is_empty() || segment == "." || segment == "..")
    {
        return Err(ValidationError::new(
            field,
            "must not contain empty, '.' or '..' segments",
        ));
    }
    Ok(())
}

pub fn validate_budget(budget: &Value) -> Validated {
    let ok = budget.get("type").and_then(Value::as_str) == Some("limit")
        && budget
            .pointer("/max_list_cost/amount")
            .and_then(Value::as_str)
            .is_some_and(|a| !a.is_empty() && a.bytes().all(|b| b.is_ascii_digit()))
        && budget
            .pointer("/max_list_cost/currency")
            .and_then(Value::as_str)
            == Some("USD");
    if ok {
        Ok(())
    } else {
        Err(ValidationError::new(
            "budget",
            "must be {\"type\":\"limit\",\"max_list_cost\":{\"amount\":\"<minor units>\",\"currency\":\"USD\"}}",
        ))
    }
}
