//! Agents (contract §4): the versioned definition of a model, system prompt, tools, MCP servers
//! and skills. This module holds the request and response shapes and the pure rules that turn a
//! create or update request into the next stored agent.

mod model;
mod parts;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use model::{Effort, EffortLevel, MAX_MODEL_ID_CHARS, ModelConfig, ModelParam, Speed};
pub use parts::{
    ExecutionIdentity, LATEST_SKILL_VERSION, MAX_MCP_SERVERS, MAX_SKILLS, MAX_URL_CHARS, McpServer,
    Skill, SkillParam, SkillSource, UrlTag, check_toolsets_match, validate_http_url,
};

use model::validate_model;
use parts::{resolve_skills, validate_identity, validate_mcp_servers};

use crate::agent_tools::{Tool, ToolParam, resolve_tools};
use crate::metadata::{self, EmptyValue};
use crate::multiagent::{AgentReference, Multiagent, MultiagentParam};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_name_text};
use crate::{Metadata, Timestamp};

pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
pub const MAX_SYSTEM_CHARS: usize = 100_000;

crate::wire_tag!(
    /// The literal `"agent"`.
    AgentTag = "agent"
);

// ------------------------------------------------------ request bodies

/// `POST /v1/agents`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AgentCreateRequest {
    pub name: String,
    pub model: ModelParam,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub tools: Option<Vec<ToolParam>>,
    #[serde(default)]
    pub mcp_servers: Option<Vec<McpServer>>,
    #[serde(default)]
    pub skills: Option<Vec<SkillParam>>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub execution_identity: Option<ExecutionIdentity>,
    #[serde(default)]
    pub multiagent: Option<MultiagentParam>,
}

/// `POST /v1/agents/{id}` and `PATCH /v1/agents/{id}`: omitted keys keep, `null` clears.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct AgentUpdateRequest {
    #[serde(default)]
    pub name: Nullable<String>,
    #[serde(default)]
    pub model: Nullable<ModelParam>,
    #[serde(default)]
    pub description: Nullable<String>,
    #[serde(default)]
    pub system: Nullable<String>,
    #[serde(default)]
    pub tools: Nullable<Vec<ToolParam>>,
    #[serde(default)]
    pub mcp_servers: Nullable<Vec<McpServer>>,
    #[serde(default)]
    pub skills: Nullable<Vec<SkillParam>>,
    #[serde(default)]
    pub metadata: Nullable<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub execution_identity: Nullable<ExecutionIdentity>,
    #[serde(default)]
    pub multiagent: Nullable<MultiagentParam>,
    /// Optimistic concurrency: the update fails with 409 unless this is the current version.
    #[serde(default)]
    pub version: Option<i64>,
}

impl AgentUpdateRequest {
    pub fn multiagent_param(&self) -> Option<&MultiagentParam> {
        match &self.multiagent {
            Nullable::Value(m) => Some(m),
            _ => None,
        }
    }
}

// ------------------------------------------------------------- response

/// The agent object (`type: "agent"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Agent {
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
    pub metadata: Metadata,
    pub execution_identity: ExecutionIdentity,
    pub multiagent: Option<Multiagent>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// The parts of an agent that a session may override or that define its behaviour; comparing
/// two of these decides whether an update changed anything.
#[derive(Debug, Clone, PartialEq)]
struct Definition {
    name: String,
    model: ModelConfig,
    system: Option<String>,
    description: Option<String>,
    tools: Vec<Tool>,
    mcp_servers: Vec<McpServer>,
    skills: Vec<Skill>,
    metadata: Metadata,
    execution_identity: ExecutionIdentity,
    multiagent: Option<Multiagent>,
}

impl Agent {
    fn definition(&self) -> Definition {
        Definition {
            name: self.name.clone(),
            model: self.model.clone(),
            system: self.system.clone(),
            description: self.description.clone(),
            tools: self.tools.clone(),
            mcp_servers: self.mcp_servers.clone(),
            skills: self.skills.clone(),
            metadata: self.metadata.clone(),
            execution_identity: self.execution_identity.clone(),
            multiagent: self.multiagent.clone(),
        }
    }

    fn with_definition(&self, d: Definition, now: Timestamp) -> Agent {
        Agent {
            id: self.id.clone(),
            kind: AgentTag,
            name: d.name,
            model: d.model,
            system: d.system,
            description: d.description,
            tools: d.tools,
            mcp_servers: d.mcp_servers,
            skills: d.skills,
            metadata: d.metadata,
            execution_identity: d.execution_identity,
            multiagent: d.multiagent,
            version: self.version + 1,
            created_at: self.created_at,
            updated_at: now,
            archived_at: self.archived_at,
        }
    }
}

/// Builds version 1 of a new agent. `referenced_versions` holds the current version of every
/// agent the `multiagent` roster names (see [`MultiagentParam::referenced_agent_ids`]).
pub fn create_agent(
    request: AgentCreateRequest,
    id: String,
    now: Timestamp,
    referenced_versions: &HashMap<String, i64>,
) -> Validated<Agent> {
    let this = AgentReference::new(id.clone(), 1);
    check_name(&request.name)?;
    let model = request.model.0;
    validate_model(&model)?;
    let mcp_servers = validate_mcp_servers(request.mcp_servers.unwrap_or_default())?;
    let names: Vec<String> = mcp_servers.iter().map(|s| s.name.clone()).collect();
    let tools = resolve_tools(request.tools.unwrap_or_default(), &names)?;
    let metadata = request.metadata.unwrap_or_default();
    metadata::validate(&metadata)?;
    let definition = Definition {
        name: request.name,
        model,
        system: clean_text("system", request.system, MAX_SYSTEM_CHARS)?,
        description: clean_text("description", request.description, MAX_DESCRIPTION_CHARS)?,
        tools,
        mcp_servers,
        skills: resolve_skills(request.skills.unwrap_or_default())?,
        metadata,
        execution_identity: validate_identity(request.execution_identity.unwrap_or_default())?,
        multiagent: request
            .multiagent
            .map(|m| m.resolve(&this, referenced_versions))
            .transpose()?,
    };
    Ok(Agent {
        id,
        kind: AgentTag,
        name: definition.name,
        model: definition.model,
        system: definition.system,
        description: definition.description,
        tools: definition.tools,
        mcp_servers: definition.mcp_servers,
        skills: definition.skills,
        metadata: definition.metadata,
        execution_identity: definition.execution_identity,
        multiagent: definition.multiagent,
        version: 1,
        created_at: now,
        updated_at: now,
        archived_at: None,
    })
}

/// Applies an update. Returns `None` when nothing would change, so the version is not bumped.
pub fn update_agent(
    current: &Agent,
    request: AgentUpdateRequest,
    now: Timestamp,
    referenced_versions: &HashMap<String, i64>,
) -> Validated<Option<Agent>> {
    let mut next = current.definition();
    match request.name {
        Nullable::Absent => {}
        Nullable::Null => return Err(ValidationError::new("name", "cannot be cleared")),
        Nullable::Value(name) => {
            check_name(&name)?;
            next.name = name;
        }
    }
    match request.model {
        Nullable::Absent => {}
        Nullable::Null => return Err(ValidationError::new("model", "cannot be cleared")),
        Nullable::Value(model) => {
            validate_model(&model.0)?;
            next.model = model.0;
        }
    }
    if let Some(system) = request.system.into_change() {
        next.system = clean_text("system", system, MAX_SYSTEM_CHARS)?;
    }
    if let Some(description) = request.description.into_change() {
        next.description = clean_text("description", description, MAX_DESCRIPTION_CHARS)?;
    }
    if let Some(servers) = request.mcp_servers.into_change() {
        next.mcp_servers = validate_mcp_servers(servers.unwrap_or_default())?;
    }
    let names: Vec<String> = next.mcp_servers.iter().map(|s| s.name.clone()).collect();
    match request.tools.into_change() {
        Some(tools) => next.tools = resolve_tools(tools.unwrap_or_default(), &names)?,
        None => {
            // The stored tools must still agree with a changed server list.
            check_toolsets_match(&next.tools, &names)?;
        }
    }
    if let Some(skills) = request.skills.into_change() {
        next.skills = resolve_skills(skills.unwrap_or_default())?;
    }
    if !request.metadata.is_absent() {
        let patch = match &request.metadata {
            Nullable::Value(p) => Some(p),
            _ => None,
        };
        next.metadata = metadata::apply_patch(&next.metadata, patch, EmptyValue::Keep)?;
    }
    if let Some(identity) = request.execution_identity.into_change() {
        next.execution_identity = validate_identity(identity.unwrap_or_default())?;
    }
    if let Some(multiagent) = request.multiagent.into_change() {
        let this = AgentReference::new(current.id.clone(), current.version + 1);
        next.multiagent = multiagent
            .map(|m| m.resolve(&this, referenced_versions))
            .transpose()?;
    }
    if next == current.definition() {
        return Ok(None);
    }
    Ok(Some(current.with_definition(next, now)))
}

fn check_name(name: &str) -> Validated {
    check_len("name", name, 1, MAX_NAME_CHARS)?;
    check_name_text("name", name)
}

/// `null` and `""` both clear an optional text field (contract §4.2).
fn clean_text(field: &str, value: Option<String>, max: usize) -> Validated<Option<String>> {
    match value {
        None => Ok(None),
        Some(v) if v.is_empty() => Ok(None),
        Some(v) => {
            check_len(field, &v, 0, max)?;
            Ok(Some(v))
        }
    }
}

#[cfg(test)]
mod tests;
