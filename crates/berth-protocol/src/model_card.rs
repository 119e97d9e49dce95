//! Model cards (seed "Model Cards"): a tenant's own model credentials. An agent whose `model`
//! equals a card's `model_id` runs through that card.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::Timestamp;
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_no_control};

crate::wire_tag!(
    /// The literal `"model_card"`.
    ModelCardTag = "model_card"
);

pub const MAX_CUSTOM_HEADERS: usize = 20;
pub const MAX_API_KEY_CHARS: usize = 4096;
/// Headers a card may not set: the transport owns them.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "accept",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum Provider {
    /// Anthropic's Messages API.
    #[serde(rename = "ant", alias = "anthropic")]
    Ant,
    /// A gateway speaking the Messages API.
    #[serde(rename = "ant-compatible")]
    AntCompatible,
    /// OpenAI's Chat Completions API.
    #[serde(rename = "oai", alias = "openai")]
    Oai,
    /// A server speaking Chat Completions (vLLM, Ollama, LiteLLM, OpenRouter…).
    #[serde(rename = "oai-compatible")]
    OaiCompatible,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Ant => "ant",
            Provider::AntCompatible => "ant-compatible",
            Provider::Oai => "oai",
            Provider::OaiCompatible => "oai-compatible",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "ant" | "anthropic" => Some(Provider::Ant),
            "ant-compatible" => Some(Provider::AntCompatible),
            "oai" | "openai" => Some(Provider::Oai),
            "oai-compatible" => Some(Provider::OaiCompatible),
            _ => None,
        }
    }

    /// The base URL used when a card gives none; compatible servers must say where they are.
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            Provider::Ant => Some("https://api.anthropic.com"),
            Provider::Oai => Some("https://api.openai.com/v1"),
            Provider::AntCompatible | Provider::OaiCompatible => None,
        }
    }
}

/// `POST /v1/model_cards`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ModelCardCreateRequest {
    /// The handle agents use as their `model`.
    pub model_id: String,
    pub provider: Provider,
    /// The model name sent to the provider; defaults to `model_id`.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    #[serde(default)]
    pub custom_headers: Option<BTreeMap<String, String>>,
    pub api_key: String,
    /// The model's context window in tokens (drives compaction).
    #[serde(default)]
    pub context_window: Option<u32>,
    /// Make this the tenant's default card (the previous default stops being one).
    #[serde(default)]
    pub is_default: Option<bool>,
}

/// `POST /v1/model_cards/{id}`: rotate the key, URL, headers or model; omitted fields keep.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct ModelCardUpdateRequest {
    #[serde(default)]
    pub model_id: Option<String>,
    #[serde(default)]
    pub provider: Option<Provider>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub base_url: Nullable<String>,
    #[serde(default)]
    pub custom_headers: Nullable<BTreeMap<String, String>>,
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub context_window: Nullable<u32>,
    #[serde(default)]
    pub is_default: Option<bool>,
}

/// A card as every response shows it: no key (only its last four characters) and header values
/// masked, since they often carry credentials too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ModelCard {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ModelCardTag,
    pub model_id: String,
    pub provider: Provider,
    pub model: String,
    pub base_url: Option<String>,
    pub custom_headers: BTreeMap<String, String>,
    pub api_key_preview: String,
    pub context_window: Option<u32>,
    /// The card used when an agent's model names no card; at most one per tenant.
    #[serde(default)]
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Archived cards are hidden from lists and serve no agent.
    #[serde(default)]
    pub archived_at: Option<DateTime<Utc>>,
}

/// The parts of a card that are sealed at rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCardSecrets {
    pub api_key: String,
    #[serde(default)]
    pub custom_headers: BTreeMap<String, String>,
}

/// The last four characters of a key, for telling keys apart.
/// A key's last four characters, as the seed defines `api_key_preview`; a key shorter than
/// eight characters shows nothing, so that no preview gives away half of a key.
pub fn key_preview(key: &str) -> String {
    let count = key.chars().count();
    if count < 8 {
        return String::new();
    }
    key.chars().skip(count - 4).collect()
}

/// A header value masked to `…` and its last four characters.
pub fn preview(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    let tail: String = chars.iter().skip(chars.len().saturating_sub(4)).collect();
    format!("…{tail}")
}

pub fn masked_headers(headers: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    headers
        .iter()
        .map(|(k, v)| (k.clone(), preview(v)))
        .collect()
}

pub fn validate_model_id(field: &str, id: &str) -> Validated {
    check_len(field, id, 1, 256)?;
    check_no_control(field, id)?;
    if id.chars().any(char::is_whitespace) {
        return Err(ValidationError::new(field, "must not contain whitespace"));
    }
    Ok(())
}

pub fn validate_api_key(key: &str) -> Validated {
    check_len("api_key", key, 1, MAX_API_KEY_CHARS)?;
    if key.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(ValidationError::new(
            "api_key",
            "must not contain whitespace or control characters",
        ));
    }
    Ok(())
}

pub fn validate_headers(headers: &BTreeMap<String, String>) -> Validated {
    if headers.len() > MAX_CUSTOM_HEADERS {
        return Err(ValidationError::new(
            "custom_headers",
            format!("at most {MAX_CUSTOM_HEADERS} headers are allowed"),
        ));
    }
    for (name, value) in headers {
        let at = format!("custom_headers.{name}");
        let token = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(ValidationError::new(at, "is not a valid header name"));
        }
        if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(ValidationError::new(
                at,
                "is set by Berth and cannot be overridden",
            ));
        }
        if value.len() > 8192 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(ValidationError::new(at, "is not a valid header value"));
        }
    }
    Ok(())
}

pub fn validate_context_window(window: u32) -> Validated {
    if !(1_000..=10_000_000).contains(&window) {
        return Err(ValidationError::new(
            "context_window",
            "must be between 1,000 and 10,000,000 tokens",
        ));
    }
    Ok(())
}

pub const MAX_BASE_URL_CHARS: usize = 2048;

/// A base URL must be absolute http(s) with a host; no credentials, query or fragment.
pub fn validate_base_url(url: &str) -> Validated {
    check_len("base_url", url, 1, MAX_BASE_URL_CHARS)?;
    check_no_control("base_url", url)?;
    let invalid = |why: &str| Err(ValidationError::new("base_url", why.to_owned()));
    let Some((scheme, rest)) = url.split_once("://") else {
        return invalid("must be an absolute http:// or https:// URL");
    };
    if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
        return invalid("must use http or https");
    }
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return invalid("must name a host");
    }
    if authority.contains('@') {
        return invalid("must not carry credentials; put the key in api_key or custom_headers");
    }
    if url.contains('?') || url.contains('#') || url.chars().any(char::is_whitespace) {
        return invalid("must not contain a query, fragment or whitespace");
    }
    Ok(())
}

fn check_base_url(provider: Provider, base_url: Option<&str>) -> Validated {
    match base_url {
        Some(url) => validate_base_url(url),
        None if provider.default_base_url().is_none() => Err(ValidationError::new(
            "base_url",
            format!("is required for provider \"{}\"", provider.as_str()),
        )),
        None => Ok(()),
    }
}

fn check_model(model: &str) -> Validated {
    check_len("model", model, 1, 256)?;
    check_no_control("model", model)
}

/// A card and its secrets, as they will be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCardParts {
    pub card: ModelCard,
    pub secrets: ModelCardSecrets,
}

/// Validates a create request into a card with a new id.
pub fn create_model_card(
    request: ModelCardCreateRequest,
    id: String,
    now: Timestamp,
) -> Validated<ModelCardParts> {
    validate_model_id("model_id", &request.model_id)?;
    validate_api_key(&request.api_key)?;
    let model = request.model.unwrap_or_else(|| request.model_id.clone());
    check_model(&model)?;
    let base_url = request.base_url.filter(|u| !u.is_empty());
    check_base_url(request.provider, base_url.as_deref())?;
    let headers = request.custom_headers.unwrap_or_default();
    validate_headers(&headers)?;
    if let Some(window) = request.context_window {
        validate_context_window(window)?;
    }
    Ok(ModelCardParts {
        card: ModelCard {
            id,
            kind: ModelCardTag,
            model_id: request.model_id,
            provider: request.provider,
            model,
            base_url,
            custom_headers: masked_headers(&headers),
            api_key_preview: key_preview(&request.api_key),
            context_window: request.context_window,
            is_default: request.is_default.unwrap_or(false),
            created_at: now,
            updated_at: now,
            archived_at: None,
        },
        secrets: ModelCardSecrets {
            api_key: request.api_key,
            custom_headers: headers,
        },
    })
}

/// What an update changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelCardChange {
    pub parts: ModelCardParts,
    /// The provider, URL, key, headers or model changed: the new settings must be probed.
    pub connection_changed: bool,
}

/// Applies an update; `None` when nothing changes.
pub fn update_model_card(
    current: &ModelCardParts,
    request: ModelCardUpdateRequest,
    now: Timestamp,
) -> Validated<Option<ModelCardChange>> {
    let mut next = current.clone();
    if let Some(model_id) = request.model_id {
        validate_model_id("model_id", &model_id)?;
        next.card.model_id = model_id;
    }
    if let Some(provider) = request.provider {
        next.card.provider = provider;
    }
    if let Some(model) = request.model {
        check_model(&model)?;
        next.card.model = model;
    }
    match request.base_url {
        Nullable::Absent => {}
        Nullable::Null => next.card.base_url = None,
        Nullable::Value(url) => next.card.base_url = Some(url).filter(|u| !u.is_empty()),
    }
    check_base_url(next.card.provider, next.card.base_url.as_deref())?;
    match request.custom_headers {
        Nullable::Absent => {}
        Nullable::Null => next.secrets.custom_headers.clear(),
        Nullable::Value(headers) => {
            validate_headers(&headers)?;
            next.secrets.custom_headers = headers;
        }
    }
    next.card.custom_headers = masked_headers(&next.secrets.custom_headers);
    if let Some(key) = request.api_key {
        validate_api_key(&key)?;
        next.card.api_key_preview = key_preview(&key);
        next.secrets.api_key = key;
    }
    if let Some(is_default) = request.is_default {
        next.card.is_default = is_default;
    }
    match request.context_window {
        Nullable::Absent => {}
        Nullable::Null => next.card.context_window = None,
        Nullable::Value(window) => {
            validate_context_window(window)?;
            next.card.context_window = Some(window);
        }
    }
    if next == *current {
        return Ok(None);
    }
    let connection_changed = next.card.provider != current.card.provider
        || next.card.base_url != current.card.base_url
        || next.card.model != current.card.model
        || next.secrets != current.secrets;
    next.card.updated_at = now;
    Ok(Some(ModelCardChange {
        parts: next,
        connection_changed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(provider: Provider) -> ModelCardCreateRequest {
        ModelCardCreateRequest {
            model_id: "mine".into(),
            provider,
            model: None,
            base_url: None,
            custom_headers: Some(BTreeMap::from([(
                "x-team".into(),
                "secret-value-9876".into(),
            )])),
            api_key: "sk-test-abcdefgh1234".into(),
            context_window: None,
            is_default: None,
        }
    }

    #[test]
    fn responses_show_previews_never_secrets() {
        let parts =
            create_model_card(request(Provider::Ant), "mdl_1".into(), chrono::Utc::now()).unwrap();
        let shown = serde_json::to_string(&parts.card).unwrap();
        assert!(!shown.contains("abcdefgh1234"), "{shown}");
        assert!(!shown.contains("secret-value"), "{shown}");
        assert_eq!(parts.card.api_key_preview, "1234");
        assert_eq!(key_preview("short"), "");
        assert_eq!(parts.card.custom_headers["x-team"], "…9876");
        assert_eq!(parts.card.model, "mine");
    }

    #[test]
    fn compatible_providers_need_a_base_url() {
        let err = create_model_card(
            request(Provider::OaiCompatible),
            "mdl_1".into(),
            chrono::Utc::now(),
        )
        .unwrap_err();
        assert_eq!(err.field, "base_url");
        let mut with_url = request(Provider::OaiCompatible);
        with_url.base_url = Some("ftp://example.com".into());
        assert!(create_model_card(with_url, "mdl_1".into(), chrono::Utc::now()).is_err());
    }

    #[test]
    fn updates_report_connection_changes() {
        let now = chrono::Utc::now();
        let parts = create_model_card(request(Provider::Ant), "mdl_1".into(), now).unwrap();
        let same = ModelCardUpdateRequest {
            model: Some("mine".into()),
            ..Default::default()
        };
        assert!(update_model_card(&parts, same, now).unwrap().is_none());
        let window = ModelCardUpdateRequest {
            context_window: Nullable::Value(50_000),
            ..Default::default()
        };
        let change = update_model_card(&parts, window, now).unwrap().unwrap();
        assert!(!change.connection_changed);
        let rotate = ModelCardUpdateRequest {
            api_key: Some("sk-new-key-5555".into()),
            ..Default::default()
        };
        let change = update_model_card(&parts, rotate, now).unwrap().unwrap();
        assert!(change.connection_changed);
        assert_eq!(change.parts.card.api_key_preview, "5555");
    }
}
