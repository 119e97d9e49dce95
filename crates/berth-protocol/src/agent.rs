//! Agents (contract §4): the versioned definition of a model, system prompt, tools, MCP servers
//! and skills. This module holds the request and response shapes and the pure rules that turn a
//! create or update request into the next stored agent.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::agent_tools::{Tool, ToolParam, resolve_tools};
use crate::metadata::{self, EmptyValue};
use crate::multiagent::{AgentReference, Multiagent, MultiagentParam};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_no_control};
use crate::{Metadata, Timestamp};

pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
pub const MAX_SYSTEM_CHARS: usize = 100_000;
pub const MAX_MCP_SERVERS: usize = 20;
pub const MAX_SKILLS: usize = 20;
pub const MAX_MODEL_ID_CHARS: usize = 256;
pub const MAX_URL_CHARS: usize = 2048;

crate::wire_tag!(
    /// The literal `"agent"`.
    AgentTag = "agent"
);
crate::wire_tag!(
    /// The literal `"url"`.
    UrlTag = "url"
);

// ------------------------------------------------------------------ model

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EffortLevel {
    Low,
    Medium,
    High,
    Xhigh,
    Max,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Speed {
    Standard,
    Fast,
}

/// `effort` in responses: always the object form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Effort {
    #[serde(rename = "type")]
    pub kind: EffortLevel,
}

/// The model an agent runs on, as every response renders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ModelConfig {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<Effort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_geo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<Speed>,
}

/// `model` in requests: a bare id string or `{id, effort?, inference_geo?, speed?}`, where
/// `effort` is itself a bare level or `{type: level}`.
#[derive(Debug, Clone, PartialEq, Eq, ToSchema)]
#[schema(value_type = Object)]
pub struct ModelParam(pub ModelConfig);

impl<'de> Deserialize<'de> for ModelParam {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;

        #[derive(Deserialize)]
        struct Object {
            id: String,
            #[serde(default)]
            effort: Option<Value>,
            #[serde(default)]
            inference_geo: Option<String>,
            #[serde(default)]
            speed: Option<Speed>,
        }

        match Value::deserialize(deserializer)? {
            Value::String(id) => Ok(ModelParam(ModelConfig {
                id,
                effort: None,
                inference_geo: None,
                speed: None,
            })),
            value @ Value::Object(_) => {
                let o: Object = serde_json::from_value(value).map_err(D::Error::custom)?;
                let effort = match o.effort {
                    None | Some(Value::Null) => None,
                    Some(Value::String(s)) => Some(Effort {
                        kind: serde_json::from_value(Value::String(s))
                            .map_err(|e| D::Error::custom(format!("effort: {e}")))?,
                    }),
                    Some(other) => Some(
                        serde_json::from_value::<Effort>(other)
                            .map_err(|e| D::Error::custom(format!("effort: {e}")))?,
                    ),
                };
                Ok(ModelParam(ModelConfig {
                    id: o.id,
                    effort,
                    inference_geo: o.inference_geo,
                    speed: o.speed,
                }))
            }
            _ => Err(D::Error::custom(
                "expected a model id string or an object with an `id`",
            )),
        }
    }
}

fn validate_model(model: &ModelConfig) -> Validated {
    check_len("model.id", &model.id, 1, MAX_MODEL_ID_CHARS)?;
    check_no_control("model.id", &model.id)?;
    if let Some(geo) = &model.inference_geo {
        check_len("model.inference_geo", geo, 1, 64)?;
    }
    Ok(())
}

// ----------------------------------------------------- the other parts

/// Who the agent's actions run as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ExecutionIdentity {
    #[default]
    ServiceAccount,
    AwsRole {
        role_arn: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct McpServer {
    #[serde(rename = "type")]
    pub kind: UrlTag,
    pub name: String,
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SkillSource {
    Anthropic,
    Custom,
}

/// A skill reference in a request; `version` may be a string, an integer or absent (latest).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SkillParam {
    #[serde(rename = "type")]
    pub kind: SkillSource,
    pub skill_id: String,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub version: Option<Value>,
}

/// A skill reference in a response; `version` is always a string (`"latest"` when unpinned).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Skill {
    #[serde(rename = "type")]
    pub kind: SkillSource,
    pub skill_id: String,
    pub version: String,
}

pub const LATEST_SKILL_VERSION: &str = "latest";

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
    check_no_control("name", name)
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

fn validate_identity(identity: ExecutionIdentity) -> Validated<ExecutionIdentity> {
    if let ExecutionIdentity::AwsRole { role_arn } = &identity
        && (!role_arn.starts_with("arn:") || role_arn.len() > 2048)
    {
        return Err(ValidationError::new(
            "execution_identity.role_arn",
            "must be an AWS role ARN (arn:…)",
        ));
    }
    Ok(identity)
}

fn validate_mcp_servers(servers: Vec<McpServer>) -> Validated<Vec<McpServer>> {
    if servers.len() > MAX_MCP_SERVERS {
        return Err(ValidationError::new(
            "mcp_servers",
            format!("at most {MAX_MCP_SERVERS} MCP servers are allowed"),
        ));
    }
    let mut names = BTreeSet::new();
    for (i, server) in servers.iter().enumerate() {
        let at = format!("mcp_servers[{i}]");
        let name_ok = !server.name.is_empty()
            && server.name.len() <= 64
            && server
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !name_ok {
            return Err(ValidationError::new(
                format!("{at}.name"),
                "must be 1 to 64 characters of letters, digits, '_' or '-'",
            ));
        }
        if !names.insert(server.name.as_str()) {
            return Err(ValidationError::new(
                format!("{at}.name"),
                format!("\"{}\" is used by more than one MCP server", server.name),
            ));
        }
        validate_http_url(&server.url).map_err(|e| e.within(&format!("{at}.url")))?;
    }
    Ok(servers)
}

/// An absolute `http` or `https` URL with a host. Whether the host may be reached is decided at
/// connection time by the egress policy, not here.
pub fn validate_http_url(url: &str) -> Validated {
    check_len("", url, 1, MAX_URL_CHARS)?;
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| ValidationError::new("", "must be an http:// or https:// URL"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains(char::is_whitespace) || url.contains(char::is_control) {
        return Err(ValidationError::new(
            "",
            "must be an absolute URL with a host",
        ));
    }
    Ok(())
}

fn check_toolsets_match(tools: &[Tool], server_names: &[String]) -> Validated {
    for tool in tools {
        if let Tool::McpToolset(t) = tool
            && !server_names.contains(&t.mcp_server_name)
        {
            return Err(ValidationError::new(
                "mcp_servers",
                format!(
                    "MCP server \"{}\" is still used by an mcp_toolset in tools",
                    t.mcp_server_name
                ),
            ));
        }
    }
    for name in server_names {
        let used = tools
            .iter()
            .any(|t| matches!(t, Tool::McpToolset(m) if &m.mcp_server_name == name));
        if !used {
            return Err(ValidationError::new(
                "mcp_servers",
                format!("MCP server \"{name}\" is not referenced by any mcp_toolset in tools"),
            ));
        }
    }
    Ok(())
}

fn resolve_skills(params: Vec<SkillParam>) -> Validated<Vec<Skill>> {
    if params.len() > MAX_SKILLS {
        return Err(ValidationError::new(
            "skills",
            format!("at most {MAX_SKILLS} skills are allowed"),
        ));
    }
    let mut seen = BTreeSet::new();
    params
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = format!("skills[{i}]");
            let id_ok = match p.kind {
                SkillSource::Custom => {
                    crate::ids::has_prefix(&p.skill_id, crate::ids::prefix::SKILL)
                }
                SkillSource::Anthropic => {
                    !p.skill_id.is_empty()
                        && p.skill_id.len() <= 64
                        && p.skill_id
                            .bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                }
            };
            if !id_ok {
                return Err(ValidationError::new(
                    format!("{at}.skill_id"),
                    match p.kind {
                        SkillSource::Custom => "must be a custom skill id (skill_…)",
                        SkillSource::Anthropic => {
                            "must be an Anthropic skill name such as \"xlsx\""
                        }
                    },
                ));
            }
            if !seen.insert(p.skill_id.clone()) {
                return Err(ValidationError::new(
                    format!("{at}.skill_id"),
                    format!("\"{}\" is listed twice", p.skill_id),
                ));
            }
            let version = match p.version {
                None | Some(Value::Null) => LATEST_SKILL_VERSION.to_owned(),
                Some(Value::String(s)) if !s.is_empty() && s.len() <= 64 => s,
                Some(Value::Number(n)) if n.as_u64().is_some() => n.to_string(),
                Some(_) => {
                    return Err(ValidationError::new(
                        format!("{at}.version"),
                        "must be a version string or \"latest\"",
                    ));
                }
            };
            Ok(Skill {
                kind: p.kind,
                skill_id: p.skill_id,
                version,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;
    use serde_json::json;

    fn now() -> Timestamp {
        chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
    }

    fn create(body: Value) -> Validated<Agent> {
        let req: AgentCreateRequest = serde_json::from_value(body).unwrap();
        create_agent(req, "agent_x".to_owned(), now(), &HashMap::new())
    }

    fn update(agent: &Agent, body: Value) -> Validated<Option<Agent>> {
        let req: AgentUpdateRequest = serde_json::from_value(body).unwrap();
        update_agent(agent, req, now(), &HashMap::new())
    }

    #[test]
    fn model_string_becomes_object() {
        let agent = create(json!({"name":"a","model":"claude-sonnet-4-6"})).unwrap();
        let v = serde_json::to_value(&agent).unwrap();
        assert_eq!(v["model"], json!({"id":"claude-sonnet-4-6"}));
        assert_eq!(v["type"], "agent");
        assert_eq!(v["version"], 1);
        assert_eq!(v["execution_identity"], json!({"type":"service_account"}));
    }

    #[test]
    fn effort_string_becomes_object() {
        let agent =
            create(json!({"name":"a","model":{"id":"m","effort":"high","speed":"fast"}})).unwrap();
        let v = serde_json::to_value(&agent.model).unwrap();
        assert_eq!(v, json!({"id":"m","effort":{"type":"high"},"speed":"fast"}));
    }

    #[test]
    fn no_op_update_keeps_version() {
        let agent = create(json!({"name":"a","model":"m","system":"s"})).unwrap();
        assert_eq!(
            update(&agent, json!({"system":"s","name":"a"})).unwrap(),
            None
        );
        let next = update(&agent, json!({"system":"t"})).unwrap().unwrap();
        assert_eq!(next.version, 2);
        assert_eq!(next.system.as_deref(), Some("t"));
    }

    #[test]
    fn null_clears_but_not_name_or_model() {
        let agent = create(json!({"name":"a","model":"m","system":"s","description":"d"})).unwrap();
        let next = update(&agent, json!({"system":null,"description":""}))
            .unwrap()
            .unwrap();
        assert_eq!(next.system, None);
        assert_eq!(next.description, None);
        assert_eq!(
            update(&agent, json!({"name":null})).unwrap_err().field,
            "name"
        );
        assert_eq!(
            update(&agent, json!({"model":null})).unwrap_err().field,
            "model"
        );
    }

    #[test]
    fn metadata_is_patched() {
        let agent = create(json!({"name":"a","model":"m","metadata":{"a":"1","b":"2"}})).unwrap();
        let next = update(&agent, json!({"metadata":{"a":null,"c":"3"}}))
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::to_value(&next.metadata).unwrap(),
            json!({"b":"2","c":"3"})
        );
    }

    #[test]
    fn removing_a_server_needs_its_toolset_removed_too() {
        let agent = create(json!({"name":"a","model":"m",
            "mcp_servers":[{"type":"url","name":"gh","url":"https://example.com/mcp"}],
            "tools":[{"type":"mcp_toolset","mcp_server_name":"gh"}]}))
        .unwrap();
        let err = update(&agent, json!({"mcp_servers":[]})).unwrap_err();
        assert_eq!(err.field, "mcp_servers");
        let next = update(&agent, json!({"mcp_servers":null,"tools":null}))
            .unwrap()
            .unwrap();
        assert!(next.tools.is_empty() && next.mcp_servers.is_empty());
    }

    #[test]
    fn limits_are_enforced() {
        let long = "x".repeat(MAX_SYSTEM_CHARS + 1);
        assert_eq!(
            create(json!({"name":"a","model":"m","system":long}))
                .unwrap_err()
                .field,
            "system"
        );
        assert_eq!(
            create(json!({"name":"","model":"m"})).unwrap_err().field,
            "name"
        );
        assert_eq!(
            create(json!({"name":"a","model":"m","skills":[{"type":"custom","skill_id":"nope"}]}))
                .unwrap_err()
                .field,
            "skills[0].skill_id"
        );
    }
}
