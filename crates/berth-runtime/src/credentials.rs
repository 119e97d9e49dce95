//! Vault credentials at work: sealing and opening their secrets, picking the credential a
//! session's MCP server call carries, and refreshing `mcp_oauth` tokens — once at a time per
//! credential, stored sealed with compare-and-swap so concurrent refreshers agree.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth_net::{EgressPolicy, PolicedClient};
use berth_protocol::vault::credential::{
    AuthView, Credential, CredentialNetworking, CredentialSecrets, TokenEndpointAuthKind,
    normalize_url,
};
use berth_store::{Attempt, CredentialRow, Store, optimistically};
use berth_vault::SealingKey;
use chrono::Utc;
use serde::Deserialize;

use berth_protocol::time::{micros, now};

/// Longest wait for a token endpoint.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes of a token endpoint's or MCP server's answer kept for diagnostics.
pub const MAX_DIAGNOSTIC_BODY: usize = 4096;
/// Tokens this close to expiry are refreshed before use.
const EXPIRY_MARGIN_SECS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "the credential's secret cannot be decrypted; was the root secret changed? Update the \
         credential to store its secret again"
    )]
    Open,
    #[error("the credential has no stored secret (it is archived)")]
    NoSecret,
    #[error("the credential's stored secret is unreadable: {0}")]
    Corrupt(String),
    #[error("the credential's secret could not be encoded: {0}")]
    Encode(serde_json::Error),
    #[error("storage failed: {0}")]
    Store(#[from] berth_store::StoreError),
    #[error("{0}")]
    Refresh(RefreshFailure),
}

/// Why a token refresh did not produce a token, with what the endpoint said.
#[derive(Debug, Clone)]
pub struct RefreshFailure {
    /// `failed`, `connect_error` or `no_refresh_token` (the validation report's words).
    pub status: &'static str,
    pub message: String,
    pub http: Option<HttpSnapshot>,
}

impl std::fmt::Display for RefreshFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A response as a validation report shows it.
#[derive(Debug, Clone)]
pub struct HttpSnapshot {
    pub status_code: u16,
    pub content_type: String,
    pub body: String,
    pub body_truncated: bool,
}

impl HttpSnapshot {
    pub async fn read(response: reqwest::Response, secrets: &[&str]) -> Self {
        let status_code = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response.bytes().await.unwrap_or_default();
        let body_truncated = bytes.len() > MAX_DIAGNOSTIC_BODY;
        let kept = bytes.get(..MAX_DIAGNOSTIC_BODY).unwrap_or(&bytes);
        let mut body = String::from_utf8_lossy(kept).into_owned();
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            body = body.replace(secret, crate::redact::MASK);
        }
        Self {
            status_code,
            content_type,
            body,
            body_truncated,
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "status_code": self.status_code,
            "content_type": self.content_type,
            "body": self.body,
            "body_truncated": self.body_truncated,
        })
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

pub struct Credentials {
    store: Arc<dyn Store>,
    key: SealingKey,
    /// For token endpoints and MCP probes: tenant-chosen URLs under the egress policy.
    http: PolicedClient,
    /// One lock per credential being refreshed.
    refreshing: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Credentials {
    pub fn new(
        store: Arc<dyn Store>,
        key: SealingKey,
        egress: EgressPolicy,
    ) -> Result<Self, reqwest::Error> {
        let http = PolicedClient::new(egress, |b| {
            b.timeout(REFRESH_TIMEOUT).connect_timeout(REFRESH_TIMEOUT)
        })?;
        Ok(Self {
            store,
            key,
            http,
            refreshing: Mutex::new(HashMap::new()),
        })
    }

    pub fn http(&self) -> &PolicedClient {
        &self.http
    }

    fn associated_data(tenant_id: &str, vault_id: &str, credential_id: &str) -> Vec<u8> {
        format!("vault_credential|{tenant_id}|{vault_id}|{credential_id}").into_bytes()
    }

    pub fn seal(
        &self,
        tenant_id: &str,
        vault_id: &str,
        credential_id: &str,
        secrets: &CredentialSecrets,
    ) -> Result<Vec<u8>, CredentialError> {
        let plaintext =
            zeroize::Zeroizing::new(serde_json::to_vec(secrets).map_err(CredentialError::Encode)?);
        Ok(self.key.seal(
            &plaintext,
            &Self::associated_data(tenant_id, vault_id, credential_id),
        ))
    }

    pub fn open(&self, row: &CredentialRow) -> Result<CredentialSecrets, CredentialError> {
        let sealed = row.sealed.as_deref().ok_or(CredentialError::NoSecret)?;
        let plaintext = zeroize::Zeroizing::new(
            self.key
                .open(
                    sealed,
                    &Self::associated_data(&row.tenant_id, &row.vault_id, &row.id),
                )
                .map_err(|_| CredentialError::Open)?,
        );
        serde_json::from_slice(&plaintext).map_err(|e| CredentialError::Corrupt(e.to_string()))
    }

    /// The credential an MCP server call of a session carries: among the active credentials of
    /// the session's vaults (in `vault_ids` order), the first whose `mcp_server_url` is the
    /// server's URL, else the first with the same origin.
    pub async fn for_mcp_server(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
        server_url: &str,
    ) -> Result<Option<CredentialRow>, CredentialError> {
        if vault_ids.is_empty() {
            return Ok(None);
        }
        let Ok(server) = url::Url::parse(server_url) else {
            return Ok(None);
        };
        let wanted = normalize_url(&server);
        let mut rows = self.store.vault_credentials(tenant_id, vault_ids).await?;
        rows.retain(|r| r.tenant_id == tenant_id && r.archived_at.is_none());
        rows.sort_by_key(|r| {
            (
                vault_ids
                    .iter()
                    .position(|v| *v == r.vault_id)
                    .unwrap_or(usize::MAX),
                std::cmp::Reverse(r.created_at),
            )
        });
        let exact = rows
            .iter()
            .position(|r| r.mcp_server_url.as_deref() == Some(wanted.as_str()));
        let same_origin = || {
            rows.iter().position(|r| {
                r.mcp_server_url
                    .as_deref()
                    .and_then(|u| url::Url::parse(u).ok())
                    .is_some_and(|u| u.origin() == server.origin())
            })
        };
        Ok(exact.or_else(same_origin).map(|i| rows.swap_remove(i)))
    }

    /// Every secret value of a session's credentials, for redaction.
    pub async fn secret_values(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> Result<Vec<String>, CredentialError> {
        if vault_ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self.store.vault_credentials(tenant_id, vault_ids).await?;
        let mut values = Vec::new();
        for row in rows.iter().filter(|r| r.tenant_id == tenant_id) {
            if let Ok(secrets) = self.open(row) {
                values.extend(secrets.values().map(str::to_owned));
            }
        }
        Ok(values)
    }

    /// The session's `environment_variable` credentials as the sandbox gets them: a fresh
    /// placeholder in the variable, the value for the proxy to put in requests to the
    /// credential's hosts. The first credential of a name wins (in `vault_ids` order).
    pub async fn sandbox_secrets(
        &self,
        tenant_id: &str,
        vault_ids: &[String],
    ) -> Result<Vec<berth_sandbox::InjectedSecret>, CredentialError> {
        if vault_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = self.store.vault_credentials(tenant_id, vault_ids).await?;
        rows.retain(|r| r.tenant_id == tenant_id && r.auth_type == "environment_variable");
        rows.sort_by_key(|r| {
            (
                vault_ids
                    .iter()
                    .position(|v| *v == r.vault_id)
                    .unwrap_or(usize::MAX),
                std::cmp::Reverse(r.created_at),
            )
        });
        let mut secrets: Vec<berth_sandbox::InjectedSecret> = Vec::new();
        for row in &rows {
            let credential: Credential = serde_json::from_str(&row.body)
                .map_err(|e| CredentialError::Corrupt(e.to_string()))?;
            let AuthView::EnvironmentVariable {
                secret_name,
                networking,
                injection_location,
            } = credential.auth
            else {
                continue;
            };
            if secrets.iter().any(|s| s.env_name == secret_name) {
                continue;
            }
            let Some(value) = self.open(row)?.secret_value.clone() else {
                continue;
            };
            let mut secret = berth_sandbox::InjectedSecret::new(secret_name, value);
            secret.hosts = match networking {
                CredentialNetworking::Unrestricted => None,
                CredentialNetworking::Limited { allowed_hosts } => Some(allowed_hosts),
            };
            secret.in_headers = injection_location.header;
            secret.in_body = injection_location.body;
            secrets.push(secret);
        }
        Ok(secrets)
    }

    /// The bearer token to send with a credential now: its token, or for `mcp_oauth` a fresh
    /// access token when the stored one has expired and can be refreshed.
    pub async fn bearer(&self, row: &CredentialRow) -> Result<Option<String>, CredentialError> {
        let secrets = self.open(row)?;
        let credential: Credential =
            serde_json::from_str(&row.body).map_err(|e| CredentialError::Corrupt(e.to_string()))?;
        if let AuthView::McpOauth {
            expires_at: Some(expires_at),
            refresh: Some(_),
            ..
        } = &credential.auth
            && expires_at.timestamp() - EXPIRY_MARGIN_SECS <= Utc::now().timestamp()
            && let Some(current) = secrets.access_token.as_deref()
        {
            return self.refresh(row, current).await.map(Some);
        }
        Ok(secrets.bearer().map(str::to_owned))
    }

    /// Refreshes an `mcp_oauth` credential whose access token `refused` was turned down (or
    /// has expired). One refresh at a time per credential: a caller that waited finds the token
    /// another one stored and uses it.
    pub async fn refresh(
        &self,
        row: &CredentialRow,
        refused: &str,
    ) -> Result<String, CredentialError> {
        let lock = {
            let mut map = self
                .refreshing
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Arc::clone(map.entry(row.id.clone()).or_default())
        };
        let _guard = lock.lock().await;
        let refreshed = optimistically::<_, CredentialError, _>(|| async move {
            let current = self
                .store
                .get_credential(&row.tenant_id, &row.vault_id, &row.id)
                .await?
                .filter(|r| r.archived_at.is_none())
                .ok_or(CredentialError::NoSecret)?;
            let mut secrets = self.open(&current)?;
            if let Some(token) = secrets.access_token.as_deref()
                && token != refused
            {
                return Ok(Attempt::Done(token.to_owned()));
            }
            let mut credential: Credential = serde_json::from_str(&current.body)
                .map_err(|e| CredentialError::Corrupt(e.to_string()))?;
            let response = self.call_token_endpoint(&credential, &secrets).await?;
            let expires_at = response
                .expires_in
                .filter(|s| *s > 0)
                .map(|s| now() + chrono::Duration::seconds(s));
            if let AuthView::McpOauth {
                expires_at: stored, ..
            } = &mut credential.auth
            {
                *stored = expires_at;
            }
            let at = now();
            credential.updated_at = at;
            secrets.access_token = Some(response.access_token.clone());
            if let Some(rotated) = response.refresh_token {
                secrets.refresh_token = Some(rotated);
            }
            let next = CredentialRow {
                version: current.version + 1,
                updated_at: micros(at),
                body: serde_json::to_string(&credential).map_err(CredentialError::Encode)?,
                sealed: Some(self.seal(
                    &current.tenant_id,
                    &current.vault_id,
                    &current.id,
                    &secrets,
                )?),
                ..current.clone()
            };
            if !self
                .store
                .replace_credential(&next, current.version)
                .await?
            {
                return Ok(Attempt::Lost);
            }
            tracing::info!(credential_id = %row.id, vault_id = %row.vault_id, "refreshed an OAuth access token");
            Ok(Attempt::Done(response.access_token))
        })
        .await?;
        refreshed.ok_or_else(|| {
            CredentialError::Refresh(RefreshFailure {
                status: "failed",
                message: "the credential kept changing while it was being refreshed".to_owned(),
                http: None,
            })
        })
    }

    async fn call_token_endpoint(
        &self,
        credential: &Credential,
        secrets: &CredentialSecrets,
    ) -> Result<TokenResponse, CredentialError> {
        let failure = |status, message: String, http| {
            CredentialError::Refresh(RefreshFailure {
                status,
                message,
                http,
            })
        };
        let (
            AuthView::McpOauth {
                refresh: Some(refresh),
                ..
            },
            Some(refresh_token),
        ) = (&credential.auth, secrets.refresh_token.as_deref())
        else {
            return Err(failure(
                "no_refresh_token",
                "the credential has no refresh token, so its access token cannot be renewed"
                    .to_owned(),
                None,
            ));
        };
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(scope) = refresh.scope.as_deref() {
            form.push(("scope", scope));
        }
        if let Some(resource) = refresh.resource.as_deref() {
            form.push(("resource", resource));
        }
        let request = self
            .http
            .request(reqwest::Method::POST, &refresh.token_endpoint)
            .map_err(|e| failure("connect_error", format!("token endpoint: {e}"), None))?
            .header(reqwest::header::ACCEPT, "application/json");
        let request = match (
            refresh.token_endpoint_auth.kind,
            secrets.client_secret.as_deref(),
        ) {
            (TokenEndpointAuthKind::ClientSecretBasic, Some(secret)) => {
                request.basic_auth(&refresh.client_id, Some(secret))
            }
            (TokenEndpointAuthKind::ClientSecretPost, Some(secret)) => {
                form.push(("client_id", &refresh.client_id));
                form.push(("client_secret", secret));
                request
            }
            _ => {
                form.push(("client_id", &refresh.client_id));
                request
            }
        };
        let response = request.form(&form).send().await.map_err(|e| {
            failure(
                "connect_error",
                format!("the token endpoint could not be reached: {e}"),
                None,
            )
        })?;
        let secret_values: Vec<&str> = secrets.values().collect();
        if !response.status().is_success() {
            let snapshot = HttpSnapshot::read(response, &secret_values).await;
            return Err(failure(
                "failed",
                format!(
                    "the token endpoint refused the refresh (HTTP {})",
                    snapshot.status_code
                ),
                Some(snapshot),
            ));
        }
        let bytes = response.bytes().await.map_err(|e| {
            failure(
                "connect_error",
                format!("reading the token endpoint's answer failed: {e}"),
                None,
            )
        })?;
        serde_json::from_slice::<TokenResponse>(&bytes).map_err(|e| {
            failure(
                "failed",
                format!("the token endpoint's answer has no usable access_token: {e}"),
                None,
            )
        })
    }
}
