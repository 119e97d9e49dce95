//! The smaller parts of an agent: execution identity, MCP servers and skill references, with
//! their validation.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::agent_tools::Tool;
use crate::validation::{Validated, ValidationError, check_len};

pub const MAX_MCP_SERVERS: usize = 20;
pub const MAX_SKILLS: usize = 20;
pub const MAX_URL_CHARS: usize = 2048;

crate::wire_tag!(
    /// The literal `"url"`.
    UrlTag = "url"
);

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

pub(crate) fn validate_identity(identity: ExecutionIdentity) -> Validated<ExecutionIdentity> {
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

pub(crate) fn validate_mcp_servers(servers: Vec<McpServer>) -> Validated<Vec<McpServer>> {
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

pub fn check_toolsets_match(tools: &[Tool], server_names: &[String]) -> Validated {
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

pub(crate) fn resolve_skills(params: Vec<SkillParam>) -> Validated<Vec<Skill>> {
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
