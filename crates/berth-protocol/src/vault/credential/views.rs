//! What a credential response shows, and the secret fields kept apart from it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CredentialTag;
use crate::Metadata;

// --------------------------------------------------------------- responses

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Credential {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: CredentialTag,
    pub vault_id: String,
    pub display_name: Option<String>,
    pub metadata: Metadata,
    pub auth: AuthView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

/// `auth` as responses show it: everything but the secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthView {
    StaticBearer {
        mcp_server_url: String,
    },
    McpOauth {
        mcp_server_url: String,
        expires_at: Option<DateTime<Utc>>,
        refresh: Option<RefreshView>,
    },
    EnvironmentVariable {
        secret_name: String,
        networking: CredentialNetworking,
        injection_location: InjectionLocation,
    },
}

impl AuthView {
    pub fn type_name(&self) -> &'static str {
        match self {
            AuthView::StaticBearer { .. } => "static_bearer",
            AuthView::McpOauth { .. } => "mcp_oauth",
            AuthView::EnvironmentVariable { .. } => "environment_variable",
        }
    }

    pub fn mcp_server_url(&self) -> Option<&str> {
        match self {
            AuthView::StaticBearer { mcp_server_url }
            | AuthView::McpOauth { mcp_server_url, .. } => Some(mcp_server_url),
            AuthView::EnvironmentVariable { .. } => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RefreshView {
    pub client_id: String,
    pub token_endpoint: String,
    pub token_endpoint_auth: TokenEndpointAuthView,
    pub scope: Option<String>,
    pub resource: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenEndpointAuthView {
    #[serde(rename = "type")]
    pub kind: TokenEndpointAuthKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenEndpointAuthKind {
    None,
    ClientSecretBasic,
    ClientSecretPost,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CredentialNetworking {
    Unrestricted,
    Limited { allowed_hosts: Vec<String> },
}

impl CredentialNetworking {
    /// Whether a request to `host` may carry this credential's secret.
    pub fn allows(&self, host: &str) -> bool {
        match self {
            CredentialNetworking::Unrestricted => true,
            CredentialNetworking::Limited { allowed_hosts } => allowed_hosts.iter().any(|h| {
                h.trim_end_matches('.')
                    .eq_ignore_ascii_case(host.trim_end_matches('.'))
            }),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InjectionLocation {
    pub header: bool,
    pub body: bool,
}

// ------------------------------------------------------------------ secrets

/// The write-only fields of a credential, sealed by the server before they are stored.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialSecrets {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_value: Option<String>,
}

impl std::fmt::Debug for CredentialSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CredentialSecrets(<redacted>)")
    }
}

impl CredentialSecrets {
    /// Every secret value, for redaction.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        [
            &self.token,
            &self.access_token,
            &self.refresh_token,
            &self.client_secret,
            &self.secret_value,
        ]
        .into_iter()
        .filter_map(|v| v.as_deref())
    }

    /// The bearer token an MCP request carries.
    pub fn bearer(&self) -> Option<&str> {
        self.token.as_deref().or(self.access_token.as_deref())
    }
}
