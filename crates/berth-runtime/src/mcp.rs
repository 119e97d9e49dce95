//! Agents' MCP servers in a session: connections opened lazily on a session's first turn and
//! kept while it is in use, the vault credential each request carries (looked up per request,
//! so a rotated credential takes effect on the next call), and the router that offers the
//! servers' tools to the model as `mcp__<server>__<tool>` beside the agent's other tools.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use berth_agent::tools::{ToolCall, ToolKind, ToolOutcome, ToolRouter};
use berth_llm::ToolSpec;
use berth_mcp::{AuthError, Authorizer, McpClient, McpError, McpServer};
use berth_net::EgressPolicy;
use berth_protocol::agent_tools::{PermissionPolicy, Tool, mcp_tool_name};
use berth_protocol::content::ContentBlock;
use berth_protocol::session::SessionStatic;
use tokio_util::sync::CancellationToken;

use crate::credentials::{CredentialError, Credentials};
use crate::redact::Redactor;

/// Longest wait for a server's handshake and tool list.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait for one tool call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Connections of sessions unused this long are closed.
const IDLE_TTL: Duration = Duration::from_secs(300);

/// Failures a turn reports as `session.error` events: servers left out at the start, calls
/// whose credentials were refused (or could not be refreshed) during it.
pub type McpFailures = Arc<std::sync::Mutex<Vec<McpFailure>>>;

/// Why a server is left out of a turn, for its `session.error`.
#[derive(Debug, Clone)]
pub struct McpFailure {
    pub server: String,
    /// `mcp_connection_failed_error` or `mcp_authentication_failed_error`.
    pub kind: &'static str,
    pub message: String,
}

struct SessionConnections {
    servers: HashMap<String, (String, Arc<McpClient>)>,
    redactor: Arc<RwLock<Redactor>>,
    last_used: Instant,
}

/// Every session's open MCP connections.
pub struct McpConnections {
    egress: EgressPolicy,
    credentials: Arc<Credentials>,
    sessions: tokio::sync::Mutex<HashMap<String, SessionConnections>>,
}

/// What a turn gets: the servers that answered, and why the others did not.
pub struct SessionMcp {
    pub clients: Vec<(String, Arc<McpClient>)>,
    pub failures: Vec<McpFailure>,
    /// The secrets of the session's credentials, for the redaction pass.
    pub redactor: Arc<RwLock<Redactor>>,
}

impl McpConnections {
    pub fn new(egress: EgressPolicy, credentials: Arc<Credentials>) -> Self {
        Self {
            egress,
            credentials,
            sessions: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    pub fn credentials(&self) -> &Arc<Credentials> {
        &self.credentials
    }

    /// The servers a session's agent uses (those an `mcp_toolset` names), connected.
    pub async fn for_session(&self, tenant_id: &str, session: &SessionStatic) -> SessionMcp {
        let secrets = self
            .credentials
            .secret_values(tenant_id, &session.vault_ids)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(session_id = %session.id, error = %e, "cannot read the session's credentials");
                Vec::new()
            });
        let wanted: Vec<McpServer> =
            session
                .agent
                .mcp_servers
                .iter()
                .filter(|s| {
                    session.agent.tools.iter().any(
                        |t| matches!(t, Tool::McpToolset(set) if set.mcp_server_name == s.name),
                    )
                })
                .map(|s| McpServer {
                    name: s.name.clone(),
                    url: s.url.clone(),
                })
                .collect();
        let mut sessions = self.sessions.lock().await;
        sessions.retain(|id, s| id == &session.id || s.last_used.elapsed() < IDLE_TTL);
        let entry = sessions
            .entry(session.id.clone())
            .or_insert_with(|| SessionConnections {
                servers: HashMap::new(),
                redactor: Arc::default(),
                last_used: Instant::now(),
            });
        entry.last_used = Instant::now();
        if let Ok(mut redactor) = entry.redactor.write() {
            *redactor = Redactor::new(&secrets);
        }
        // A server whose URL changed (agent update) is connected again.
        entry
            .servers
            .retain(|name, (url, _)| wanted.iter().any(|w| &w.name == name && &w.url == url));
        let missing: Vec<&McpServer> = wanted
            .iter()
            .filter(|w| !entry.servers.contains_key(&w.name))
            .collect();
        let redactor = Arc::clone(&entry.redactor);
        let connects = missing.iter().map(|server| {
            let auth = Arc::new(VaultAuthorizer {
                credentials: Arc::clone(&self.credentials),
                tenant_id: tenant_id.to_owned(),
                vault_ids: session.vault_ids.clone(),
                server_url: server.url.clone(),
                redactor: Arc::clone(&redactor),
            });
            async move {
                let result = McpClient::connect(&self.egress, server, auth, STARTUP_TIMEOUT).await;
                (*server, result)
            }
        });
        let mut failures = Vec::new();
        for (server, result) in futures::future::join_all(connects).await {
            match result {
                Ok(client) => {
                    entry
                        .servers
                        .insert(server.name.clone(), (server.url.clone(), Arc::new(client)));
                }
                Err(e) => {
                    let kind = match e {
                        McpError::Authentication(_) => "mcp_authentication_failed_error",
                        _ => "mcp_connection_failed_error",
                    };
                    let message = redactor
                        .read()
                        .map(|r| r.apply(&e.to_string()))
                        .unwrap_or_default();
                    tracing::info!(session_id = %session.id, server = %server.name, error = %message, "MCP server unavailable");
                    failures.push(McpFailure {
                        server: server.name.clone(),
                        kind,
                        message: format!("MCP server \"{}\": {message}", server.name),
                    });
                }
            }
        }
        let clients = wanted
            .iter()
            .filter_map(|w| {
                entry
                    .servers
                    .get(&w.name)
                    .map(|(_, c)| (w.name.clone(), Arc::clone(c)))
            })
            .collect();
        SessionMcp {
            clients,
            failures,
            redactor,
        }
    }

    /// Closes a session's connections (it was deleted).
    pub async fn close_session(&self, session_id: &str) {
        let removed = self.sessions.lock().await.remove(session_id);
        if let Some(connections) = removed {
            for (_, (_, client)) in connections.servers {
                if let Ok(client) = Arc::try_unwrap(client) {
                    client.close().await;
                }
            }
        }
    }
}

/// Supplies an MCP server's requests with the session's matching vault credential.
struct VaultAuthorizer {
    credentials: Arc<Credentials>,
    tenant_id: String,
    vault_ids: Vec<String>,
    server_url: String,
    redactor: Arc<RwLock<Redactor>>,
}

impl VaultAuthorizer {
    fn remember(&self, token: &str) {
        if let Ok(mut redactor) = self.redactor.write() {
            redactor.add(token);
        }
    }
}

fn auth_error(e: CredentialError) -> AuthError {
    AuthError::new(e.to_string())
}

#[async_trait]
impl Authorizer for VaultAuthorizer {
    async fn token(&self) -> Result<Option<String>, AuthError> {
        let Some(row) = self
            .credentials
            .for_mcp_server(&self.tenant_id, &self.vault_ids, &self.server_url)
            .await
            .map_err(auth_error)?
        else {
            return Ok(None);
        };
        let token = self.credentials.bearer(&row).await.map_err(auth_error)?;
        if let Some(token) = &token {
            self.remember(token);
        }
        Ok(token)
    }

    async fn refresh(&self, refused: &str) -> Result<Option<String>, AuthError> {
        let Some(row) = self
            .credentials
            .for_mcp_server(&self.tenant_id, &self.vault_ids, &self.server_url)
            .await
            .map_err(auth_error)?
        else {
            return Ok(None);
        };
        let fresh = if row.auth_type == "mcp_oauth" {
            Some(
                self.credentials
                    .refresh(&row, refused)
                    .await
                    .map_err(auth_error)?,
            )
        } else {
            // A static token may have been rotated since it was sent.
            self.credentials
                .bearer(&row)
                .await
                .map_err(auth_error)?
                .filter(|t| t != refused)
        };
        if let Some(token) = &fresh {
            self.remember(token);
        }
        Ok(fresh)
    }
}

/// One MCP tool as offered to the model.
struct OfferedTool {
    model_name: String,
    server: String,
    tool: String,
    policy: PermissionPolicy,
    client: Arc<McpClient>,
}

/// The agent's other tools plus its MCP servers' enabled tools.
pub struct WithMcp {
    inner: Arc<dyn ToolRouter>,
    failures: McpFailures,
    tools: Vec<OfferedTool>,
    specs: Vec<ToolSpec>,
    call_timeout: Duration,
}

impl WithMcp {
    pub fn new(
        inner: Arc<dyn ToolRouter>,
        agent_tools: &[Tool],
        clients: &[(String, Arc<McpClient>)],
        failures: McpFailures,
    ) -> Self {
        let mut tools = Vec::new();
        let mut specs = Vec::new();
        let taken: Vec<String> = inner.specs().into_iter().map(|s| s.name).collect();
        for (server, client) in clients {
            let Some(toolset) = agent_tools.iter().find_map(|t| match t {
                Tool::McpToolset(set) if &set.mcp_server_name == server => Some(set),
                _ => None,
            }) else {
                continue;
            };
            for tool in client.tools() {
                let Some(policy) = toolset.policy_for(&tool.name) else {
                    continue;
                };
                let model_name = mcp_tool_name(server, &tool.name);
                if taken.contains(&model_name)
                    || tools
                        .iter()
                        .any(|t: &OfferedTool| t.model_name == model_name)
                {
                    continue;
                }
                specs.push(ToolSpec {
                    name: model_name.clone(),
                    description: tool.description.clone(),
                    input_schema: tool.input_schema.clone(),
                });
                tools.push(OfferedTool {
                    model_name,
                    server: server.clone(),
                    tool: tool.name.clone(),
                    policy,
                    client: Arc::clone(client),
                });
            }
        }
        Self {
            inner,
            failures,
            tools,
            specs,
            call_timeout: CALL_TIMEOUT,
        }
    }

    fn find(&self, name: &str) -> Option<&OfferedTool> {
        self.tools.iter().find(|t| t.model_name == name)
    }
}

#[async_trait]
impl ToolRouter for WithMcp {
    fn specs(&self) -> Vec<ToolSpec> {
        let mut specs = self.inner.specs();
        specs.extend(self.specs.iter().cloned());
        specs
    }

    fn kind(&self, name: &str) -> ToolKind {
        match self.find(name) {
            Some(t) => ToolKind::Mcp {
                server: t.server.clone(),
                tool: t.tool.clone(),
            },
            None => self.inner.kind(name),
        }
    }

    fn permission(&self, name: &str) -> PermissionPolicy {
        match self.find(name) {
            Some(t) => t.policy,
            None => self.inner.permission(name),
        }
    }

    async fn execute(&self, call: &ToolCall, cancel: &CancellationToken) -> ToolOutcome {
        let Some(tool) = self.find(&call.name) else {
            return self.inner.execute(call, cancel).await;
        };
        let arguments = match &call.input {
            serde_json::Value::Object(map) => map.clone(),
            serde_json::Value::Null => serde_json::Map::new(),
            _ => {
                return error_outcome("Error: the tool's input must be a JSON object.".to_owned());
            }
        };
        let result = tokio::select! {
            r = tool.client.call_tool(&tool.tool, arguments, self.call_timeout) => r,
            () = cancel.cancelled() => {
                return error_outcome("Error: the turn was interrupted while this tool ran.".to_owned());
            }
        };
        match result {
            Ok(result) => ToolOutcome::Done {
                content: result.content.into_iter().map(to_block).collect(),
                is_error: result.is_error,
            },
            Err(e) => {
                if let McpError::Authentication(_) = &e
                    && let Ok(mut failures) = self.failures.lock()
                {
                    failures.push(McpFailure {
                        server: tool.server.clone(),
                        kind: "mcp_authentication_failed_error",
                        message: format!("MCP server \"{}\": {e}", tool.server),
                    });
                }
                error_outcome(format!("Error: MCP server \"{}\": {e}", tool.server))
            }
        }
    }
}

fn error_outcome(message: String) -> ToolOutcome {
    ToolOutcome::Done {
        content: vec![ContentBlock::text(message)],
        is_error: true,
    }
}

fn to_block(value: serde_json::Value) -> ContentBlock {
    serde_json::from_value(value.clone()).unwrap_or_else(|_| ContentBlock::text(value.to_string()))
}
