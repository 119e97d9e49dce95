//! The services built-in tools use (sandboxes, web access) and the router a turn gets: the
//! agent's enabled tools and custom tools, with the network its environment allows. Sandbox
//! files follow their session across replicas through `snapshots`.

mod disk;
mod pipe;
mod snapshots;
mod users;

use std::path::PathBuf;
use std::sync::Arc;

use berth_agent::tools::ToolRouter;
use berth_blob::BlobStore;
use berth_protocol::agent_tools::Tool;
use berth_protocol::environment::{Environment, EnvironmentConfig, Networking};
use berth_protocol::session::SessionStatic;
use berth_sandbox::{
    HostRules, Isolation, NetworkAccess, SandboxSettings, Sandboxes, find_bubblewrap,
};
use berth_store::{Collection, Store};
use berth_tools::{AgentTools, SearchBackend, Searxng, ToolContext, WebTools};

use crate::RuntimeError;
use crate::config::RuntimeConfig;
use crate::credentials::Credentials;
use crate::mcp::{McpConnections, McpFailures, WithMcp};
use crate::memory_mounts::{SessionMemory, WithMemory};
use crate::mounts::{self, Prepared};
use crate::redact::Redactor;
pub use snapshots::WorkspaceSnapshots;

/// What a turn works with.
pub struct TurnTools {
    pub router: Arc<dyn ToolRouter>,
    pub skills_prompt: Option<String>,
    /// The system prompt's section about the session's memory stores.
    pub memory_prompt: Option<String>,
    /// MCP servers left out of this turn, and why.
    pub mcp_failures: McpFailures,
    /// The session's secrets, masked in everything the turn stores.
    pub redactor: Arc<std::sync::RwLock<Redactor>>,
}

pub struct ToolServices {
    pub sandboxes: Arc<Sandboxes>,
    /// Disk quotas: per session's sandbox, and per tenant across its live sessions.
    disk: Arc<disk::DiskLedger>,
    /// Sessions' sandbox users, as allocated in the store.
    users: users::SandboxUsers,
    /// Sessions' MCP server connections.
    pub mcp: McpConnections,
    pub web: Arc<WebTools>,
    /// File, skill and output bytes (mounted into sandboxes, synced out of them).
    pub blobs: BlobStore,
    /// Sandbox files in blob storage, for the next replica to run the session.
    pub snapshots: WorkspaceSnapshots,
    /// Embeds what agents write to their memory stores.
    pub memory: berth_memory::MemoryIndex,
}

impl ToolServices {
    pub fn new(
        config: &RuntimeConfig,
        blobs: BlobStore,
        credentials: Arc<Credentials>,
        memory: berth_memory::MemoryIndex,
    ) -> Result<Self, RuntimeError> {
        let root = config
            .sandbox_dir
            .clone()
            .unwrap_or_else(|| config.data_dir.join("sandboxes"));
        let isolation = if config.unsafe_no_sandbox {
            Isolation::Unsafe
        } else {
            Isolation::Bubblewrap(
                find_bubblewrap().unwrap_or_else(|| PathBuf::from("/usr/bin/bwrap")),
            )
        };
        let mut settings = SandboxSettings::new(root, isolation);
        settings.limits = config.sandbox_limits;
        settings.egress = config.sandbox_egress.clone();
        settings.idle_ttl = config.sandbox_idle_ttl;
        settings.ca_dir = Some(config.data_dir.join("sandbox-ca"));
        settings.loopback_ports = config.sandbox_loopback_ports.clone();
        settings.session_cgroups = config.sandbox_cgroups;
        // The data directory (database, root secret) is never visible, wherever it is.
        settings.hidden = vec![
            config
                .data_dir
                .canonicalize()
                .unwrap_or_else(|_| config.data_dir.clone()),
        ];
        let search: Option<Arc<dyn SearchBackend>> = match &config.searxng_url {
            Some(url) => Some(Arc::new(Searxng::new(url).map_err(|e| {
                RuntimeError::Config(format!("cannot build the search client: {e}"))
            })?)),
            None => None,
        };
        let web = WebTools::new(config.sandbox_egress.clone(), search)
            .map_err(|e| RuntimeError::Config(format!("cannot build the web_fetch client: {e}")))?;
        // Only replicas sharing a database and blob storage can pick up each other's sessions;
        // a single process keeps its sandboxes on its own disk and needs no snapshots.
        let shared = config.uses_postgres() && config.blob_url.is_some();
        Ok(Self {
            sandboxes: Arc::new(Sandboxes::new(settings)),
            disk: Arc::new(disk::DiskLedger::new(
                config.sandbox_disk_bytes,
                config.tenant_disk_bytes,
            )),
            users: users::SandboxUsers::default(),
            mcp: McpConnections::new(config.egress.clone(), credentials),
            web: Arc::new(web),
            snapshots: WorkspaceSnapshots::new(blobs.clone(), shared),
            blobs,
            memory,
        })
    }

    /// Stores what the session's agent wrote under `/mnt/session/outputs/` as files, then
    /// snapshots the sandbox's files for other replicas (when they changed). Runs before the
    /// session goes idle, so whichever replica runs the next turn finds both.
    pub async fn sync_outputs(&self, store: Arc<dyn Store>, tenant_id: &str, session_id: &str) {
        let dirs = self.sandboxes.dirs(session_id);
        // Memory folders are synced after every tool call; this catches a crashed turn's.
        crate::memory_mounts::sync_leftovers(
            store.as_ref(),
            &self.memory,
            &dirs,
            tenant_id,
            session_id,
        )
        .await;
        let outputs = dirs.outputs.clone();
        crate::files::sync_outputs(store, &self.blobs, tenant_id, session_id, outputs).await;
        self.snapshots.save(tenant_id, session_id, dirs).await;
    }

    /// Forgets what this replica remembers of a deleted session (its sandbox user, freed by the
    /// store).
    pub fn forget_session(&self, session_id: &str) {
        self.users.forget(session_id);
    }

    /// Deletes a deleted session's sandbox snapshots.
    pub async fn delete_snapshots(&self, tenant_id: &str, session_id: &str) {
        self.snapshots.delete(tenant_id, session_id).await;
    }

    /// The tools of one turn of `session`, the system prompt's section about its skills, and
    /// what the turn must know about its MCP servers.
    pub async fn router(
        &self,
        store: &Arc<dyn Store>,
        tenant_id: &str,
        session: &SessionStatic,
    ) -> TurnTools {
        let environment = match store
            .get_document(Collection::Environments, tenant_id, &session.environment_id)
            .await
        {
            Ok(Some(doc)) => serde_json::from_str::<Environment>(&doc.body).ok(),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(session_id = %session.id, error = %e, "cannot read the session's environment");
                None
            }
        };
        let mcp_hosts: Vec<String> = session
            .agent
            .mcp_servers
            .iter()
            .map(|s| berth_sandbox::hosts::normalize_host(&s.url))
            .collect();
        // Self-hosted environments run tools on the customer's workers, which answer each
        // call with `user.tool_result`.
        let (network, client_executes) = match environment.map(|e| e.config) {
            Some(EnvironmentConfig::Cloud(cloud)) => {
                (host_rules(&cloud.networking, &mcp_hosts), false)
            }
            Some(EnvironmentConfig::SelfHosted(_)) => (HostRules::Only(Vec::new()), true),
            None => (HostRules::Only(Vec::new()), false),
        };
        let has_sandbox_tools = session
            .agent
            .tools
            .iter()
            .any(|t| matches!(t, Tool::AgentToolset(_)));
        let mut prepared = Prepared::default();
        let mut memory = None;
        let sandbox_uid = if has_sandbox_tools && !client_executes {
            self.users.of(store.as_ref(), tenant_id, &session.id).await
        } else {
            None
        };
        if let Some(uid) = sandbox_uid {
            match self
                .sandboxes
                .open(&session.id, uid, NetworkAccess::Proxied(network.clone()))
            {
                Ok(sandbox) => {
                    // Files the session made on another replica come first: mounting copies
                    // file resources into the workspace only where nothing is yet.
                    self.snapshots
                        .restore(tenant_id, &session.id, &sandbox.dirs(), sandbox.owner())
                        .await;
                    prepared = mounts::prepare(
                        store.as_ref(),
                        &self.blobs,
                        &sandbox.dirs(),
                        tenant_id,
                        session,
                        sandbox.owner(),
                    )
                    .await;
                    memory = SessionMemory::prepare(
                        Arc::clone(store),
                        self.memory.clone(),
                        &sandbox.dirs(),
                        tenant_id,
                        session,
                        sandbox.owner(),
                    )
                    .await
                    .map(Arc::new);
                    if let Some(memory) = &memory {
                        prepared.mounts.extend(memory.extra_mounts());
                    }
                }
                Err(e) => {
                    tracing::debug!(session_id = %session.id, error = %e, "no sandbox for files and skills")
                }
            }
        }
        let skills = mounts::skills_prompt(&prepared.skills);
        let secrets = self
            .mcp
            .credentials()
            .sandbox_secrets(tenant_id, &session.vault_ids)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(session_id = %session.id, error = %e, "cannot read the session's environment credentials");
                Vec::new()
            });
        let context = ToolContext {
            sandboxes: Arc::clone(&self.sandboxes),
            session_id: session.id.clone(),
            sandbox_uid,
            network,
            web: Arc::clone(&self.web),
            client_executes,
            extra_mounts: prepared.mounts,
            secrets,
            disk_budget: Some(Arc::new(disk::SessionDisk::new(
                Arc::clone(&self.disk),
                Arc::clone(store),
                tenant_id,
                &session.id,
            ))),
        };
        let mut builtins: Arc<dyn ToolRouter> =
            Arc::new(AgentTools::new(&session.agent.tools, Arc::new(context)));
        if let Some(memory) = &memory {
            builtins = Arc::new(WithMemory::new(builtins, Arc::clone(memory)));
        }
        let mcp = self.mcp.for_session(tenant_id, session).await;
        let failures: McpFailures = Arc::new(std::sync::Mutex::new(mcp.failures));
        let router: Arc<dyn ToolRouter> = if session.agent.mcp_servers.is_empty() {
            builtins
        } else {
            Arc::new(WithMcp::new(
                builtins,
                &session.agent.tools,
                &mcp.clients,
                Arc::clone(&failures),
            ))
        };
        TurnTools {
            router,
            skills_prompt: skills,
            memory_prompt: memory.as_ref().map(|m| m.prompt()),
            mcp_failures: failures,
            redactor: mcp.redactor,
        }
    }
}

fn host_rules(networking: &Networking, mcp_hosts: &[String]) -> HostRules {
    match networking {
        Networking::Unrestricted => HostRules::Any,
        Networking::Limited {
            allowed_hosts,
            allow_mcp_servers,
            allow_package_managers,
        } => HostRules::limited(
            allowed_hosts,
            *allow_package_managers,
            if *allow_mcp_servers { mcp_hosts } else { &[] },
        ),
    }
}
