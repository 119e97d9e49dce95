//! Which model client serves a session's agent.
//!
//! Today: the operator's default credentials (`ANTHROPIC_API_KEY`, `ANTHROPIC_BASE_URL`). The
//! resolver is consulted at the start of every turn, so credential changes apply to the next
//! turn without a restart.

use std::sync::Arc;

use berth_llm::ModelClient;
use berth_llm::anthropic::{AnthropicClient, AnthropicConfig};
use berth_protocol::session::SessionAgent;

use crate::config::ServerConfig;

/// Why no client could be found; shown to the user as a `session.error`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ResolveError(pub String);

pub struct ModelResolver {
    default: Option<Arc<dyn ModelClient>>,
}

impl ModelResolver {
    pub fn from_config(config: &ServerConfig) -> Self {
        let default = config.anthropic_api_key.as_ref().and_then(|key| {
            let base = config
                .anthropic_base_url
                .clone()
                .unwrap_or_else(|| "https://api.anthropic.com".to_owned());
            let mut client_config = AnthropicConfig::new(key.clone(), base);
            client_config.idle_timeout = config.model_idle_timeout;
            match AnthropicClient::new(client_config) {
                Ok(client) => Some(Arc::new(client) as Arc<dyn ModelClient>),
                Err(e) => {
                    tracing::error!(error = %e, "cannot build the default Anthropic client");
                    None
                }
            }
        });
        Self { default }
    }

    pub async fn resolve(
        &self,
        _tenant_id: &str,
        _agent: &SessionAgent,
    ) -> Result<Arc<dyn ModelClient>, ResolveError> {
        self.default.clone().ok_or_else(|| {
            ResolveError(
                "no model provider is configured: the operator must set ANTHROPIC_API_KEY \
                 (and optionally ANTHROPIC_BASE_URL)"
                    .to_owned(),
            )
        })
    }
}
