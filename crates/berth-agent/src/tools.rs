//! How the loop reaches tools. The [`ToolRouter`] says which tools the model is offered and
//! runs a call, or reports that the client must answer it (custom tools, confirmations).

use async_trait::async_trait;
use berth_llm::ToolSpec;
use berth_protocol::agent_tools::{CustomTool, PermissionPolicy, Tool};
use berth_protocol::content::ContentBlock;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A tool call as the loop recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The id of the `agent.*tool_use` event, which is also the call id the model sees.
    pub event_id: String,
    pub name: String,
    pub input: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolKind {
    /// Executed by the server.
    Server,
    /// Executed by the client (`agent.custom_tool_use`).
    Custom,
    /// A tool of an MCP server, executed by the server (`agent.mcp_tool_use`).
    Mcp { server: String, tool: String },
    /// Not a tool this agent has.
    Unknown,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ToolOutcome {
    Done {
        content: Vec<ContentBlock>,
        is_error: bool,
    },
    /// The client must answer; the turn ends with `requires_action`.
    Pending,
}

#[async_trait]
pub trait ToolRouter: Send + Sync {
    /// The tools offered to the model.
    fn specs(&self) -> Vec<ToolSpec>;
    fn kind(&self, name: &str) -> ToolKind;
    /// The permission policy of a server tool.
    fn permission(&self, _name: &str) -> PermissionPolicy {
        PermissionPolicy::AlwaysAllow
    }
    /// Runs a server tool. Must return promptly once `cancel` fires.
    async fn execute(&self, call: &ToolCall, cancel: &CancellationToken) -> ToolOutcome;
}

/// The agent's custom tools, which the client executes.
pub fn custom_tools(tools: &[Tool]) -> Vec<&CustomTool> {
    tools
        .iter()
        .filter_map(|t| match t {
            Tool::Custom(c) => Some(c),
            _ => None,
        })
        .collect()
}

/// A router offering only the agent's custom tools.
pub struct CustomToolsOnly {
    specs: Vec<ToolSpec>,
}

impl CustomToolsOnly {
    pub fn new(tools: &[Tool]) -> Self {
        Self {
            specs: custom_tools(tools)
                .into_iter()
                .map(|c| ToolSpec {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    input_schema: c.input_schema.clone(),
                })
                .collect(),
        }
    }
}

#[async_trait]
impl ToolRouter for CustomToolsOnly {
    fn specs(&self) -> Vec<ToolSpec> {
        self.specs.clone()
    }

    fn kind(&self, name: &str) -> ToolKind {
        if self.specs.iter().any(|s| s.name == name) {
            ToolKind::Custom
        } else {
            ToolKind::Unknown
        }
    }

    async fn execute(&self, _call: &ToolCall, _cancel: &CancellationToken) -> ToolOutcome {
        ToolOutcome::Pending
    }
}
