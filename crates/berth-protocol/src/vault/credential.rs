//! Vault credentials (contract §8.1): what a request may say, what a response shows, and the
//! secret fields, which live apart from the public object so that no response can carry them.
//! Requests are here; responses and secrets are in `views`, the rules that turn a request into
//! them in `resolve`.

mod resolve;
mod views;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use utoipa::ToSchema;

use crate::Metadata;
use crate::nullable::Nullable;

pub use resolve::*;
pub use views::*;

pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_TOKEN_CHARS: usize = 16_384;
pub const MAX_SECRET_NAME_CHARS: usize = 256;
pub const MAX_SECRET_VALUE_CHARS: usize = 65_536;
pub const MAX_CREDENTIAL_HOSTS: usize = 100;

crate::wire_tag!(
    /// The literal `"vault_credential"`.
    CredentialTag = "vault_credential"
);

// ---------------------------------------------------------------- requests

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CredentialCreateRequest {
    pub auth: AuthParam,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CredentialUpdateRequest {
    #[serde(default)]
    pub auth: Option<AuthUpdateParam>,
    #[serde(default)]
    pub display_name: Nullable<String>,
    #[serde(default)]
    pub metadata: Nullable<BTreeMap<String, Option<String>>>,
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthParam {
    StaticBearer {
        mcp_server_url: String,
        token: String,
    },
    McpOauth {
        mcp_server_url: String,
        access_token: String,
        #[serde(default)]
        expires_at: Option<DateTime<Utc>>,
        #[serde(default)]
        refresh: Option<RefreshParam>,
    },
    EnvironmentVariable {
        secret_name: String,
        secret_value: String,
        networking: CredentialNetworking,
        #[serde(default)]
        injection_location: Option<InjectionLocationParam>,
    },
}

impl std::fmt::Debug for AuthParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthParam(<redacted>)")
    }
}

#[derive(Clone, Deserialize, ToSchema)]
pub struct RefreshParam {
    pub client_id: String,
    pub refresh_token: String,
    pub token_endpoint: String,
    pub token_endpoint_auth: TokenEndpointAuthParam,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub resource: Option<String>,
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TokenEndpointAuthParam {
    None,
    ClientSecretBasic { client_secret: String },
    ClientSecretPost { client_secret: String },
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub struct InjectionLocationParam {
    #[serde(default)]
    pub header: Option<bool>,
    #[serde(default)]
    pub body: Option<bool>,
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AuthUpdateParam {
    StaticBearer {
        #[serde(default)]
        token: Option<String>,
    },
    McpOauth {
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        #[schema(value_type = Option<String>, format = DateTime)]
        expires_at: Nullable<DateTime<Utc>>,
        #[serde(default)]
        refresh: Nullable<RefreshUpdateParam>,
    },
    EnvironmentVariable {
        #[serde(default)]
        secret_value: Option<String>,
        #[serde(default)]
        networking: Option<CredentialNetworking>,
        #[serde(default)]
        injection_location: Option<InjectionLocationParam>,
    },
}

impl std::fmt::Debug for AuthUpdateParam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthUpdateParam(<redacted>)")
    }
}

#[derive(Clone, Default, Deserialize, ToSchema)]
pub struct RefreshUpdateParam {
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub scope: Nullable<String>,
    #[serde(default)]
    pub token_endpoint_auth: Option<TokenEndpointAuthUpdateParam>,
    /// Needed only when the credential had no refresh settings before.
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub token_endpoint: Option<String>,
    #[serde(default)]
    pub resource: Nullable<String>,
}

#[derive(Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TokenEndpointAuthUpdateParam {
    None,
    ClientSecretBasic {
        #[serde(default)]
        client_secret: Option<String>,
    },
    ClientSecretPost {
        #[serde(default)]
        client_secret: Option<String>,
    },
}
