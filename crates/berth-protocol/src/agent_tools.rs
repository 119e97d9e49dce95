//! The agent `tools[]` union (contract §4.3): the built-in toolset, MCP toolsets and custom tools,
//! as requests (sparse) and as responses (every config fully resolved).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

mod checks;

use crate::validation::{Validated, ValidationError, check_len};
pub use checks::validate_custom_tool;
use checks::{normalize_url_sources, validate_web_fields};

/// Most entries `tools[]` may hold.
pub const MAX_TOOLS: usize = 128;
/// Longest custom tool description we accept.
pub const MAX_TOOL_DESCRIPTION_CHARS: usize = 10_000;
/// Largest custom tool input schema, serialized.
pub const MAX_INPUT_SCHEMA_BYTES: usize = 64 * 1024;
/// Most domains in a web tool's allow or block list.
pub const MAX_DOMAINS: usize = 100;

/// How a tool call is authorised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PermissionPolicy {
    /// Run without asking.
    AlwaysAllow,
    /// Pause the session with `requires_action` until the client confirms.
    AlwaysAsk,
    /// Let the server decide per call.
    Auto,
}

/// The eight built-in tools of `agent_toolset_20260401`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinTool {
    Bash,
    Edit,
    Read,
    Write,
    Glob,
    Grep,
    WebFetch,
    WebSearch,
}

impl BuiltinTool {
    pub const ALL: [BuiltinTool; 8] = [
        BuiltinTool::Bash,
        BuiltinTool::Edit,
        BuiltinTool::Read,
        BuiltinTool::Write,
        BuiltinTool::Glob,
        BuiltinTool::Grep,
        BuiltinTool::WebFetch,
        BuiltinTool::WebSearch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BuiltinTool::Bash => "bash",
            BuiltinTool::Edit => "edit",
            BuiltinTool::Read => "read",
            BuiltinTool::Write => "write",
            BuiltinTool::Glob => "glob",
            BuiltinTool::Grep => "grep",
            BuiltinTool::WebFetch => "web_fetch",
            BuiltinTool::WebSearch => "web_search",
        }
    }

    fn is_web(self) -> bool {
        matches!(self, BuiltinTool::WebFetch | BuiltinTool::WebSearch)
    }
}

// ---------------------------------------------------------------- requests

/// One entry of `tools[]` in a create or update request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum ToolParam {
    /// The built-in sandbox tools.
    #[serde(rename = "agent_toolset_20260401")]
    AgentToolset(AgentToolsetParam),
    /// The tools of one declared MCP server.
    #[serde(rename = "mcp_toolset")]
    McpToolset(McpToolsetParam),
    /// A tool the client executes.
    #[serde(rename = "custom")]
    Custom(CustomTool),
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct DefaultConfigParam {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permission_policy: Option<PermissionPolicy>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AgentToolsetParam {
    #[serde(default)]
    pub default_config: Option<DefaultConfigParam>,
    #[serde(default)]
    pub configs: Option<Vec<ToolConfigParam>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ToolConfigParam {
    pub name: BuiltinTool,
    #[serde(rename = "type", default)]
    pub kind: Option<BuiltinTool>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permission_policy: Option<PermissionPolicy>,
    #[serde(default)]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(default)]
    pub blocked_domains: Option<Vec<String>>,
    #[serde(default)]
    pub max_content_tokens: Option<u32>,
    /// `web_fetch` only: which sources a fetched URL may come from.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub url_sources: Option<Value>,
    /// `web_search` only: `{type:"approximate", city?, region?, country?, timezone?}`.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub user_location: Option<Value>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct McpToolsetParam {
    pub mcp_server_name: String,
    #[serde(default)]
    pub default_config: Option<DefaultConfigParam>,
    #[serde(default)]
    pub configs: Option<Vec<McpToolConfigParam>>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct McpToolConfigParam {
    pub name: String,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub permission_policy: Option<PermissionPolicy>,
}

/// A client-executed tool; identical in requests and responses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustomTool {
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub input_schema: Value,
}

// --------------------------------------------------------------- responses

/// One entry of `tools[]` in an agent object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum Tool {
    #[serde(rename = "agent_toolset_20260401")]
    AgentToolset(AgentToolset),
    #[serde(rename = "mcp_toolset")]
    McpToolset(McpToolset),
    #[serde(rename = "custom")]
    Custom(CustomTool),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DefaultConfig {
    pub enabled: bool,
    pub permission_policy: PermissionPolicy,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AgentToolset {
    pub default_config: DefaultConfig,
    pub configs: Vec<ToolConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ToolConfig {
    pub name: BuiltinTool,
    #[serde(rename = "type")]
    pub kind: BuiltinTool,
    pub enabled: bool,
    pub permission_policy: PermissionPolicy,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub allowed_domains: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub blocked_domains: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub max_content_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub url_sources: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    #[schema(value_type = Option<Object>)]
    pub user_location: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct McpToolset {
    pub mcp_server_name: String,
    pub default_config: DefaultConfig,
    pub configs: Vec<McpToolConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct McpToolConfig {
    pub name: String,
    pub enabled: bool,
    pub permission_policy: PermissionPolicy,
}

impl McpToolset {
    /// Whether a tool of the server is offered, and under which policy; `None` when disabled.
    pub fn policy_for(&self, tool: &str) -> Option<PermissionPolicy> {
        let config = self.configs.iter().find(|c| c.name == tool);
        let enabled = config.map_or(self.default_config.enabled, |c| c.enabled);
        enabled.then(|| {
            config.map_or(self.default_config.permission_policy, |c| {
                c.permission_policy
            })
        })
    }
}

/// Longest tool name offered to a model.
pub const MAX_MODEL_TOOL_NAME: usize = 64;

/// The name an MCP tool is offered to the model under: `mcp__<server>__<tool>`, reduced to
/// `[A-Za-z0-9_-]`. A name longer than [`MAX_MODEL_TOOL_NAME`] keeps its start and ends in `_`
/// and eight hex digits of a hash of the whole name, so it stays unique and stable.
pub fn mcp_tool_name(server: &str, tool: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let full = format!("mcp__{}__{}", clean(server), clean(tool));
    if full.len() <= MAX_MODEL_TOOL_NAME {
        return full;
    }
    // FNV-1a over the original names: stable across builds and platforms.
    let mut hash: u32 = 0x811c_9dc5;
    for byte in server.bytes().chain([0]).chain(tool.bytes()) {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let suffix = format!("_{hash:08x}");
    let keep = MAX_MODEL_TOOL_NAME - suffix.len();
    // Only ASCII remains, so any byte index is a character boundary.
    format!("{}{suffix}", full.get(..keep).unwrap_or(&full))
}

impl AgentToolset {
    /// Whether a built-in tool is offered, and under which policy; `None` when disabled.
    pub fn policy_for(&self, tool: BuiltinTool) -> Option<PermissionPolicy> {
        let config = self.configs.iter().find(|c| c.name == tool);
        let enabled = config.map_or(self.default_config.enabled, |c| c.enabled);
        enabled.then(|| {
            config.map_or(self.default_config.permission_policy, |c| {
                c.permission_policy
            })
        })
    }
}

// -------------------------------------------------------------- resolution

/// Resolves and validates `tools[]` against the agent's declared MCP server names.
pub fn resolve_tools(params: Vec<ToolParam>, mcp_server_names: &[String]) -> Validated<Vec<Tool>> {
    if params.len() > MAX_TOOLS {
        return Err(ValidationError::new(
            "tools",
            format!(
                "has {} entries; at most {MAX_TOOLS} are allowed",
                params.len()
            ),
        ));
    }
    let mut tools = Vec::with_capacity(params.len());
    let mut seen_toolset = false;
    let mut seen_mcp: BTreeSet<String> = BTreeSet::new();
    let mut seen_custom: BTreeSet<String> = BTreeSet::new();
    for (i, param) in params.into_iter().enumerate() {
        let at = format!("tools[{i}]");
        let tool = match param {
            ToolParam::AgentToolset(p) => {
                if seen_toolset {
                    return Err(ValidationError::new(
                        &at,
                        "agent_toolset_20260401 may appear only once",
                    ));
                }
                seen_toolset = true;
                Tool::AgentToolset(resolve_agent_toolset(p).map_err(|e| e.within(&at))?)
            }
            ToolParam::McpToolset(p) => {
                if !mcp_server_names.contains(&p.mcp_server_name) {
                    return Err(ValidationError::new(
                        format!("{at}.mcp_server_name"),
                        format!("\"{}\" is not declared in mcp_servers", p.mcp_server_name),
                    ));
                }
                if !seen_mcp.insert(p.mcp_server_name.clone()) {
                    return Err(ValidationError::new(
                        format!("{at}.mcp_server_name"),
                        format!("\"{}\" has more than one mcp_toolset", p.mcp_server_name),
                    ));
                }
                Tool::McpToolset(resolve_mcp_toolset(p).map_err(|e| e.within(&at))?)
            }
            ToolParam::Custom(custom) => {
                validate_custom_tool(&custom).map_err(|e| e.within(&at))?;
                if !seen_custom.insert(custom.name.clone()) {
                    return Err(ValidationError::new(
                        format!("{at}.name"),
                        format!("custom tool \"{}\" is defined twice", custom.name),
                    ));
                }
                Tool::Custom(custom)
            }
        };
        tools.push(tool);
    }
    for name in mcp_server_names {
        if !seen_mcp.contains(name) {
            return Err(ValidationError::new(
                "mcp_servers",
                format!("MCP server \"{name}\" is not referenced by any mcp_toolset in tools"),
            ));
        }
    }
    Ok(tools)
}

fn resolve_default(param: Option<DefaultConfigParam>, policy: PermissionPolicy) -> DefaultConfig {
    let param = param.unwrap_or_default();
    DefaultConfig {
        enabled: param.enabled.unwrap_or(true),
        permission_policy: param.permission_policy.unwrap_or(policy),
    }
}

fn resolve_agent_toolset(param: AgentToolsetParam) -> Validated<AgentToolset> {
    // The built-in toolset runs without asking unless told otherwise.
    let default_config = resolve_default(param.default_config, PermissionPolicy::AlwaysAllow);
    let mut configs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in param.configs.unwrap_or_default().into_iter().enumerate() {
        let at = format!("configs[{i}]");
        if c.kind.is_some_and(|k| k != c.name) {
            return Err(ValidationError::new(
                format!("{at}.type"),
                format!("must equal name \"{}\"", c.name.as_str()),
            ));
        }
        if !seen.insert(c.name) {
            return Err(ValidationError::new(
                format!("{at}.name"),
                format!("\"{}\" is configured twice", c.name.as_str()),
            ));
        }
        validate_web_fields(&c).map_err(|e| e.within(&at))?;
        configs.push(ToolConfig {
            name: c.name,
            kind: c.name,
            enabled: c.enabled.unwrap_or(default_config.enabled),
            permission_policy: c
                .permission_policy
                .unwrap_or(default_config.permission_policy),
            allowed_domains: c.allowed_domains,
            blocked_domains: c.blocked_domains,
            max_content_tokens: c.max_content_tokens,
            url_sources: c.url_sources.map(normalize_url_sources),
            user_location: c.user_location,
        });
    }
    Ok(AgentToolset {
        default_config,
        configs,
    })
}

fn resolve_mcp_toolset(param: McpToolsetParam) -> Validated<McpToolset> {
    // MCP tools reach third-party systems, so they ask first unless configured otherwise.
    let default_config = resolve_default(param.default_config, PermissionPolicy::AlwaysAsk);
    let mut configs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in param.configs.unwrap_or_default().into_iter().enumerate() {
        let at = format!("configs[{i}].name");
        check_len(&at, &c.name, 1, 256)?;
        if !seen.insert(c.name.clone()) {
            return Err(ValidationError::new(
                at,
                format!("\"{}\" is configured twice", c.name),
            ));
        }
        configs.push(McpToolConfig {
            name: c.name,
            enabled: c.enabled.unwrap_or(default_config.enabled),
            permission_policy: c
                .permission_policy
                .unwrap_or(default_config.permission_policy),
        });
    }
    Ok(McpToolset {
        mcp_server_name: param.mcp_server_name,
        default_config,
        configs,
    })
}

#[cfg(test)]
mod tests;
