//! Which model serves a session's agent, and the secrets of model cards.
//!
//! An agent whose `model` equals one of its tenant's model cards' `model_id` runs through that
//! card; otherwise through the operator's default credentials (`ANTHROPIC_API_KEY`, then
//! `OPENAI_API_KEY`); otherwise the turn ends with a clear error. Resolution happens before
//! every model call and reads the card afresh, so a rotated key, URL or model applies at the
//! next call on every replica. Building a client is cheap (the HTTP connection pools are
//! shared), so nothing is cached that could go stale.
//!
//! Card secrets (the key and header values) are sealed with AES-256-GCM under a key derived
//! from the root secret for this purpose only, bound to the tenant and card id, and opened only
//! here, in memory, for the request that needs them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use berth_agent::{ModelSource, ResolvedModel};
use berth_llm::anthropic::{AnthropicClient, AnthropicConfig};
use berth_llm::openai::{Dialect, OpenAiClient, OpenAiConfig};
use berth_llm::probe::{self, ProbeError, ProbeTarget, Protocol};
use berth_llm::{ModelClient, ModelError, ModelErrorKind};
use berth_net::{EgressPolicy, PolicedClient};
use berth_protocol::model_card::{ModelCard, ModelCardSecrets, Provider};
use berth_store::{ModelCardRow, Store};
use berth_vault::SealingKey;

use crate::config::RuntimeConfig;

/// The operator's own provider, used when no card matches.
struct DefaultProvider {
    protocol: Protocol,
    client: Arc<dyn ModelClient>,
}

/// A card's connection settings with its secrets opened.
pub struct CardConnection<'a> {
    pub provider: Provider,
    pub base_url: &'a str,
    pub api_key: &'a str,
    pub custom_headers: Vec<(String, String)>,
    pub model: &'a str,
}

impl CardConnection<'_> {
    fn protocol(&self) -> Protocol {
        protocol_of(self.provider)
    }
}

fn protocol_of(provider: Provider) -> Protocol {
    match provider {
        Provider::Ant | Provider::AntCompatible => Protocol::Anthropic,
        Provider::Oai => Protocol::OpenAi(Dialect::OpenAi),
        Provider::OaiCompatible => Protocol::OpenAi(Dialect::Compatible),
    }
}

/// Why a card's secrets could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CardSecretError {
    #[error(
        "the model card's key cannot be decrypted; was the root secret changed? Rotate the \
         card's api_key to store it again"
    )]
    Open,
    #[error("the model card's stored secrets are unreadable: {0}")]
    Corrupt(String),
    #[error("the model card's secrets could not be encoded: {0}")]
    Encode(serde_json::Error),
}

pub struct ModelResolver {
    store: Arc<dyn Store>,
    card_keys: SealingKey,
    /// For URLs tenants chose: obeys `BERTH_ALLOW_PRIVATE_EGRESS`.
    tenant_http: PolicedClient,
    defaults: Vec<DefaultProvider>,
    idle_timeout: Duration,
}

impl ModelResolver {
    pub fn new(
        config: &RuntimeConfig,
        store: Arc<dyn Store>,
        card_keys: SealingKey,
    ) -> Result<Self, ModelError> {
        let tenant_http = berth_llm::http_client(config.egress.clone())?;
        // The operator's own base URLs are trusted wherever they point.
        let operator_http = berth_llm::http_client(EgressPolicy::allow_all())?;
        let mut defaults = Vec::new();
        if let Some(key) = &config.anthropic_api_key {
            let base = config
                .anthropic_base_url
                .clone()
                .unwrap_or_else(|| "https://api.anthropic.com".to_owned());
            let mut anthropic = AnthropicConfig::new(key.clone(), base);
            anthropic.idle_timeout = config.model_idle_timeout;
            defaults.push(DefaultProvider {
                protocol: Protocol::Anthropic,
                client: Arc::new(AnthropicClient::new(anthropic, operator_http.clone())),
            });
        }
        if let Some(key) = &config.openai_api_key {
            let base = config.openai_base_url.clone();
            let dialect = if base.is_some() {
                Dialect::Compatible
            } else {
                Dialect::OpenAi
            };
            let base = base.unwrap_or_else(|| "https://api.openai.com/v1".to_owned());
            let mut openai = OpenAiConfig::new(key.clone(), base, dialect);
            openai.idle_timeout = config.model_idle_timeout;
            defaults.push(DefaultProvider {
                protocol: Protocol::OpenAi(dialect),
                client: Arc::new(OpenAiClient::new(openai, operator_http)),
            });
        }
        Ok(Self {
            store,
            card_keys,
            tenant_http,
            defaults,
            idle_timeout: config.model_idle_timeout,
        })
    }

    /// The egress policy tenant-chosen URLs obey.
    pub fn egress(&self) -> &EgressPolicy {
        self.tenant_http.policy()
    }

    fn associated_data(tenant_id: &str, card_id: &str) -> Vec<u8> {
        format!("model_card|{tenant_id}|{card_id}").into_bytes()
    }

    pub fn seal(
        &self,
        tenant_id: &str,
        card_id: &str,
        secrets: &ModelCardSecrets,
    ) -> Result<Vec<u8>, CardSecretError> {
        let plaintext =
            zeroize::Zeroizing::new(serde_json::to_vec(secrets).map_err(CardSecretError::Encode)?);
        Ok(self
            .card_keys
            .seal(&plaintext, &Self::associated_data(tenant_id, card_id)))
    }

    pub fn open(&self, row: &ModelCardRow) -> Result<ModelCardSecrets, CardSecretError> {
        let plaintext = self
            .card_keys
            .open(&row.sealed, &Self::associated_data(&row.tenant_id, &row.id))
            .map_err(|_| CardSecretError::Open)?;
        serde_json::from_slice(&plaintext).map_err(|e| CardSecretError::Corrupt(e.to_string()))
    }

    /// Runs the capability probe against a card's settings.
    pub async fn probe(&self, card: &CardConnection<'_>) -> Result<(), ProbeError> {
        let target = ProbeTarget {
            protocol: card.protocol(),
            base_url: card.base_url,
            api_key: card.api_key,
            custom_headers: &card.custom_headers,
            model: card.model,
        };
        probe::probe(&self.tenant_http, &target).await
    }

    fn card_client(&self, card: &CardConnection<'_>) -> Arc<dyn ModelClient> {
        match card.protocol() {
            Protocol::Anthropic => {
                let mut config = AnthropicConfig::new(card.api_key, card.base_url);
                config.custom_headers = card.custom_headers.clone();
                config.idle_timeout = self.idle_timeout;
                Arc::new(AnthropicClient::new(config, self.tenant_http.clone()))
            }
            Protocol::OpenAi(dialect) => {
                let mut config = OpenAiConfig::new(card.api_key, card.base_url, dialect);
                config.custom_headers = card.custom_headers.clone();
                config.idle_timeout = self.idle_timeout;
                Arc::new(OpenAiClient::new(config, self.tenant_http.clone()))
            }
        }
    }

    /// The context window of the model an agent's `handle` names, without building a client;
    /// `None` when no model serves it.
    pub async fn context_window(&self, tenant_id: &str, handle: &str) -> Option<u32> {
        if let Ok(Some(row)) = self.card_for(tenant_id, handle).await {
            let card: ModelCard = serde_json::from_str(&row.body).ok()?;
            return Some(
                card.context_window
                    .unwrap_or_else(|| default_context_window(card.provider, &card.model)),
            );
        }
        let default = self.defaults.first()?;
        let provider = match default.protocol {
            Protocol::Anthropic => Provider::Ant,
            Protocol::OpenAi(Dialect::OpenAi) => Provider::Oai,
            Protocol::OpenAi(Dialect::Compatible) => Provider::OaiCompatible,
        };
        Some(default_context_window(provider, handle))
    }

    /// The card an agent whose `model` is `handle` uses: the card with that handle, or else the
    /// tenant's default card.
    async fn card_for(
        &self,
        tenant_id: &str,
        handle: &str,
    ) -> berth_store::StoreResult<Option<berth_store::ModelCardRow>> {
        match self.store.find_model_card(tenant_id, handle).await? {
            Some(row) => Ok(Some(row)),
            None => self.store.default_model_card(tenant_id).await,
        }
    }

    /// The model for an agent whose `model` is `handle`, as of now.
    pub async fn resolve(
        &self,
        tenant_id: &str,
        handle: &str,
    ) -> Result<ResolvedModel, ModelError> {
        let row = self.card_for(tenant_id, handle).await.map_err(|e| {
            ModelError::new(
                ModelErrorKind::Connection,
                format!("cannot read the tenant's model cards: {e}"),
            )
        })?;
        if let Some(row) = row {
            return self.resolve_card(&row);
        }
        let Some(default) = self.defaults.first() else {
            return Err(ModelError::new(
                ModelErrorKind::InvalidRequest,
                format!(
                    "no model card has model_id \"{handle}\" and the server has no default model \
                     provider: create a model card with that model_id, or have the operator set \
                     ANTHROPIC_API_KEY or OPENAI_API_KEY"
                ),
            ));
        };
        let provider = match default.protocol {
            Protocol::Anthropic => Provider::Ant,
            Protocol::OpenAi(Dialect::OpenAi) => Provider::Oai,
            Protocol::OpenAi(Dialect::Compatible) => Provider::OaiCompatible,
        };
        Ok(ResolvedModel {
            client: Arc::clone(&default.client),
            model: handle.to_owned(),
            context_window: default_context_window(provider, handle),
            supports_thinking: supports_thinking(provider, handle),
        })
    }

    fn resolve_card(&self, row: &ModelCardRow) -> Result<ResolvedModel, ModelError> {
        let invalid = |message: String| ModelError::new(ModelErrorKind::InvalidRequest, message);
        let card: ModelCard = serde_json::from_str(&row.body)
            .map_err(|e| invalid(format!("the model card {} is unreadable: {e}", row.id)))?;
        let secrets = self.open(row).map_err(|e| invalid(e.to_string()))?;
        let base_url = card
            .base_url
            .as_deref()
            .or(card.provider.default_base_url())
            .ok_or_else(|| invalid(format!("the model card {} has no base_url", row.id)))?;
        let connection = CardConnection {
            provider: card.provider,
            base_url,
            api_key: &secrets.api_key,
            custom_headers: header_pairs(&secrets.custom_headers),
            model: &card.model,
        };
        Ok(ResolvedModel {
            client: self.card_client(&connection),
            model: card.model.clone(),
            context_window: card
                .context_window
                .unwrap_or_else(|| default_context_window(card.provider, &card.model)),
            supports_thinking: supports_thinking(card.provider, &card.model),
        })
    }
}

pub fn header_pairs(headers: &BTreeMap<String, String>) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The context window of well-known models; a card's `context_window` overrides it.
pub fn default_context_window(provider: Provider, model: &str) -> u32 {
    let model = model.to_ascii_lowercase();
    match provider {
        Provider::Ant | Provider::AntCompatible => 200_000,
        Provider::Oai | Provider::OaiCompatible => {
            if model.starts_with("gpt-4.1") {
                1_047_576
            } else if model.starts_with("gpt-5") {
                400_000
            } else if model.starts_with('o')
                && model.chars().nth(1).is_some_and(|c| c.is_ascii_digit())
            {
                200_000
            } else {
                128_000
            }
        }
    }
}

/// Whether requests may carry a thinking (reasoning) configuration. OpenAI rejects
/// `reasoning_effort` for its non-reasoning models; compatible servers ignore what they lack.
fn supports_thinking(provider: Provider, model: &str) -> bool {
    match provider {
        Provider::Oai => {
            let model = model.to_ascii_lowercase();
            model.starts_with("gpt-5")
                || (model.starts_with('o')
                    && model.chars().nth(1).is_some_and(|c| c.is_ascii_digit()))
        }
        _ => true,
    }
}

/// A session's model as the turn loop sees it: its tenant and its agent's model handle,
/// resolved at every call.
pub struct SessionModel {
    pub resolver: Arc<ModelResolver>,
    pub tenant_id: String,
    pub handle: String,
}

#[async_trait]
impl ModelSource for SessionModel {
    async fn resolve(&self) -> Result<ResolvedModel, ModelError> {
        self.resolver.resolve(&self.tenant_id, &self.handle).await
    }
}
