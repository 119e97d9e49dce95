//! API keys and tenants (seed "API Keys"; Berth's `POST /v1/tenants`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::{Validated, check_len, check_name_text};

crate::wire_tag!(
    /// The literal `"api_key"`.
    ApiKeyTag = "api_key"
);
crate::wire_tag!(
    /// The literal `"tenant"`.
    TenantTag = "tenant"
);

pub const MAX_KEY_NAME_CHARS: usize = 256;

/// `POST /v1/api_keys`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ApiKeyCreateRequest {
    #[serde(default)]
    pub name: Option<String>,
}

impl ApiKeyCreateRequest {
    pub fn validated_name(&self) -> Validated<String> {
        let name = self.name.clone().unwrap_or_else(|| "unnamed".to_owned());
        check_len("name", &name, 1, MAX_KEY_NAME_CHARS)?;
        check_name_text("name", &name)?;
        Ok(name)
    }
}

/// An API key as lists show it: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiKey {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: ApiKeyTag,
    pub name: String,
    /// The first characters of the key, so a person can tell keys apart.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The one response that carries the raw key: the answer to its creation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub api_key: ApiKey,
    /// The secret. It is shown once and cannot be retrieved again.
    pub key: String,
}

/// `POST /v1/tenants` (admin key only).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct TenantCreateRequest {
    pub name: String,
}

impl TenantCreateRequest {
    pub fn validate(&self) -> Validated {
        check_len("name", &self.name, 1, 256)?;
        check_name_text("name", &self.name)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Tenant {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: TenantTag,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

/// A new tenant with its first API key (shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedTenant {
    #[serde(flatten)]
    pub tenant: Tenant,
    pub api_key: String,
    pub api_key_id: String,
}
