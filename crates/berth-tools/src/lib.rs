//! The built-in tools of `agent_toolset_20260401`, one file each, and [`AgentTools`], the router
//! that offers an agent its enabled tools (with their permission policies) and its custom
//! tools, and runs the built-in ones.
//!
//! Commands run in the session's sandbox (`berth-sandbox`). File tools run in the server on the
//! sandbox's directories, resolving paths exactly as the sandbox sees them; they never block
//! the async runtime. Web tools run in the server under the egress policy and the
//! environment's networking rules.

mod bash;
mod disk;
mod edit;
mod files;
mod glob;
mod grep;
mod output;
mod read;
pub mod web;
mod web_fetch;
mod web_search;
mod write;

use std::sync::Arc;

use async_trait::async_trait;
use berth_agent::tools::{ToolCall, ToolKind, ToolOutcome, ToolRouter, custom_tools};
use berth_llm::ToolSpec;
use berth_protocol::agent_tools::{BuiltinTool, PermissionPolicy, Tool, ToolConfig};
use berth_sandbox::{
    ExtraMount, HostRules, InjectedSecret, NetworkAccess, Sandbox, SandboxError, Sandboxes,
};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use disk::DiskBudget;
pub use output::{MAX_RESULT_CHARS, ToolError};
pub use web::{SearchBackend, SearchHit, Searxng, WebTools};

/// What the tools of one session work with.
pub struct ToolContext {
    pub sandboxes: Arc<Sandboxes>,
    pub session_id: String,
    /// The session's own sandbox user, in `berth_sandbox::SANDBOX_UIDS`, shared with no other
    /// live session; `None` when none could be had (the tools then say so).
    pub sandbox_uid: Option<u32>,
    /// The environment's networking, for the sandbox's proxy and for `web_fetch`.
    pub network: HostRules,
    pub web: Arc<WebTools>,
    /// A self-hosted environment: the customer's workers run the built-in tools and answer
    /// each call with `user.tool_result`, so the server only hands the calls out.
    pub client_executes: bool,
    /// Files and skills (read-only) and memory stores bound into the sandbox.
    pub extra_mounts: Vec<ExtraMount>,
    /// Vault `environment_variable` credentials: placeholders in the sandbox, real values
    /// substituted by its egress proxy.
    pub secrets: Vec<InjectedSecret>,
    /// The sandbox's disk quota; `None` for none.
    pub disk_budget: Option<Arc<dyn DiskBudget>>,
}

impl ToolContext {
    /// The session's sandbox, created on first use.
    pub fn sandbox(&self) -> Result<Arc<Sandbox>, ToolError> {
        let uid = self.sandbox_uid.ok_or_else(|| {
            ToolError::new("the sandbox is unavailable: no sandbox user is free on this server")
        })?;
        let sandbox = self
            .sandboxes
            .open(
                &self.session_id,
                uid,
                NetworkAccess::Proxied(self.network.clone()),
            )
            .map_err(|e: SandboxError| ToolError::new(e.to_string()))?;
        sandbox.set_extra_mounts(self.extra_mounts.clone());
        sandbox
            .set_secrets(self.secrets.clone())
            .map_err(|e| ToolError::new(e.to_string()))?;
        Ok(sandbox)
    }
}

/// Parses a tool's input, naming what is wrong.
pub(crate) fn parse_input<T: DeserializeOwned>(input: &Value) -> Result<T, ToolError> {
    serde_json::from_value(input.clone()).map_err(|e| ToolError::new(format!("invalid input: {e}")))
}

/// The tools an agent has.
pub struct AgentTools {
    context: Arc<ToolContext>,
    builtins: Vec<(BuiltinTool, PermissionPolicy)>,
    configs: Vec<ToolConfig>,
    custom: Vec<ToolSpec>,
}

impl AgentTools {
    pub fn new(tools: &[Tool], context: Arc<ToolContext>) -> Self {
        let toolset = tools.iter().find_map(|t| match t {
            Tool::AgentToolset(set) => Some(set),
            _ => None,
        });
        let builtins = toolset
            .map(|set| {
                BuiltinTool::ALL
                    .iter()
                    .filter_map(|tool| set.policy_for(*tool).map(|p| (*tool, p)))
                    .collect()
            })
            .unwrap_or_default();
        let custom = custom_tools(tools)
            .into_iter()
            .map(|c| ToolSpec {
                name: c.name.clone(),
                description: c.description.clone(),
                input_schema: c.input_schema.clone(),
            })
            .collect();
        Self {
            context,
            builtins,
            configs: toolset.map(|s| s.configs.clone()).unwrap_or_default(),
            custom,
        }
    }

    fn builtin(&self, name: &str) -> Option<(BuiltinTool, PermissionPolicy)> {
        if self.custom.iter().any(|c| c.name == name) {
            return None;
        }
        self.builtins
            .iter()
            .copied()
            .find(|(tool, _)| tool.as_str() == name)
    }

    fn config(&self, tool: BuiltinTool) -> Option<&ToolConfig> {
        self.configs.iter().find(|c| c.name == tool)
    }
}

fn spec_of(tool: BuiltinTool) -> ToolSpec {
    match tool {
        BuiltinTool::Bash => bash::spec(),
        BuiltinTool::Read => read::spec(),
        BuiltinTool::Write => write::spec(),
        BuiltinTool::Edit => edit::spec(),
        BuiltinTool::Glob => glob::spec(),
        BuiltinTool::Grep => grep::spec(),
        BuiltinTool::WebFetch => web_fetch::spec(),
        BuiltinTool::WebSearch => web_search::spec(),
    }
}

#[async_trait]
impl ToolRouter for AgentTools {
    fn specs(&self) -> Vec<ToolSpec> {
        self.builtins
            .iter()
            .filter(|(tool, _)| !self.custom.iter().any(|c| c.name == tool.as_str()))
            .map(|(tool, _)| spec_of(*tool))
            .chain(self.custom.iter().cloned())
            .collect()
    }

    fn kind(&self, name: &str) -> ToolKind {
        if self.custom.iter().any(|c| c.name == name) {
            ToolKind::Custom
        } else if self.builtin(name).is_some() {
            ToolKind::Server
        } else {
            ToolKind::Unknown
        }
    }

    fn permission(&self, name: &str) -> PermissionPolicy {
        self.builtin(name)
            .map_or(PermissionPolicy::AlwaysAllow, |(_, policy)| policy)
    }

    async fn execute(&self, call: &ToolCall, cancel: &CancellationToken) -> ToolOutcome {
        let Some((tool, _)) = self.builtin(&call.name) else {
            return ToolOutcome::Pending;
        };
        if self.context.client_executes {
            return ToolOutcome::Pending;
        }
        let ctx = &self.context;
        let input = &call.input;
        let result = match tool {
            BuiltinTool::Bash => bash::run(ctx, input, cancel).await,
            BuiltinTool::Read => read::run(ctx, input).await,
            BuiltinTool::Write => write::run(ctx, input).await,
            BuiltinTool::Edit => edit::run(ctx, input).await,
            BuiltinTool::Glob => glob::run(ctx, input, cancel).await,
            BuiltinTool::Grep => grep::run(ctx, input, cancel).await,
            BuiltinTool::WebFetch => web_fetch::run(ctx, self.config(tool), input, cancel).await,
            BuiltinTool::WebSearch => web_search::run(ctx, self.config(tool), input).await,
        };
        output::outcome(result)
    }
}
