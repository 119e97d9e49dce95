//! Resolution: the pure rules that turn a credential request into the public object and its
//! secrets, and the checks on URLs, tokens, secrets and networking.

use super::*;
use crate::Timestamp;
use crate::metadata::{self, EmptyValue};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_no_control};
use crate::vault::check_display_name;

pub fn create_credential(
    request: CredentialCreateRequest,
    id: String,
    vault_id: String,
    now: Timestamp,
) -> Validated<(Credential, CredentialSecrets)> {
    if let Some(name) = &request.display_name {
        check_display_name(name)?;
    }
    let metadata = request.metadata.unwrap_or_default();
    metadata::validate(&metadata)?;
    let (auth, secrets) = resolve_auth(request.auth)?;
    Ok((
        Credential {
            id,
            kind: CredentialTag,
            vault_id,
            display_name: request.display_name,
            metadata,
            auth,
            created_at: now,
            updated_at: now,
            archived_at: None,
        },
        secrets,
    ))
}

/// Applies an update; `None` when nothing changes. `auth` must keep its type; secret fields
/// left out keep their values.
pub fn update_credential(
    current: &Credential,
    secrets: &CredentialSecrets,
    request: CredentialUpdateRequest,
    now: Timestamp,
) -> Validated<Option<(Credential, CredentialSecrets)>> {
    let mut next = current.clone();
    let mut next_secrets = secrets.clone();
    if let Some(name) = request.display_name.into_change() {
        if let Some(name) = &name {
            check_display_name(name)?;
        }
        next.display_name = name;
    }
    if !request.metadata.is_absent() {
        let patch = match &request.metadata {
            Nullable::Value(p) => Some(p),
            _ => None,
        };
        next.metadata = metadata::apply_patch(&next.metadata, patch, EmptyValue::Keep)?;
    }
    if let Some(auth) = request.auth {
        next.auth = update_auth(&current.auth, &mut next_secrets, auth)?;
    }
    if next == *current && next_secrets == *secrets {
        return Ok(None);
    }
    next.updated_at = now;
    Ok(Some((next, next_secrets)))
}

fn resolve_auth(auth: AuthParam) -> Validated<(AuthView, CredentialSecrets)> {
    match auth {
        AuthParam::StaticBearer {
            mcp_server_url,
            token,
        } => {
            let mcp_server_url = check_url("auth.mcp_server_url", &mcp_server_url)?;
            check_token("auth.token", &token)?;
            Ok((
                AuthView::StaticBearer { mcp_server_url },
                CredentialSecrets {
                    token: Some(token),
                    ..Default::default()
                },
            ))
        }
        AuthParam::McpOauth {
            mcp_server_url,
            access_token,
            expires_at,
            refresh,
        } => {
            let mcp_server_url = check_url("auth.mcp_server_url", &mcp_server_url)?;
            check_token("auth.access_token", &access_token)?;
            let mut secrets = CredentialSecrets {
                access_token: Some(access_token),
                ..Default::default()
            };
            let refresh = match refresh {
                None => None,
                Some(r) => {
                    check_len("auth.refresh.client_id", &r.client_id, 1, 512)?;
                    check_token("auth.refresh.refresh_token", &r.refresh_token)?;
                    let token_endpoint =
                        check_url("auth.refresh.token_endpoint", &r.token_endpoint)?;
                    let (kind, client_secret) = match r.token_endpoint_auth {
                        TokenEndpointAuthParam::None => (TokenEndpointAuthKind::None, None),
                        TokenEndpointAuthParam::ClientSecretBasic { client_secret } => (
                            TokenEndpointAuthKind::ClientSecretBasic,
                            Some(client_secret),
                        ),
                        TokenEndpointAuthParam::ClientSecretPost { client_secret } => {
                            (TokenEndpointAuthKind::ClientSecretPost, Some(client_secret))
                        }
                    };
                    if let Some(s) = &client_secret {
                        check_token("auth.refresh.token_endpoint_auth.client_secret", s)?;
                    }
                    secrets.refresh_token = Some(r.refresh_token);
                    secrets.client_secret = client_secret;
                    Some(RefreshView {
                        client_id: r.client_id,
                        token_endpoint,
                        token_endpoint_auth: TokenEndpointAuthView { kind },
                        scope: check_optional("auth.refresh.scope", r.scope)?,
                        resource: check_optional("auth.refresh.resource", r.resource)?,
                    })
                }
            };
            Ok((
                AuthView::McpOauth {
                    mcp_server_url,
                    expires_at,
                    refresh,
                },
                secrets,
            ))
        }
        AuthParam::EnvironmentVariable {
            secret_name,
            secret_value,
            networking,
            injection_location,
        } => {
            check_secret_name(&secret_name)?;
            check_secret_value(&secret_value)?;
            let networking = check_networking(networking)?;
            let injection_location = injection(None, injection_location);
            Ok((
                AuthView::EnvironmentVariable {
                    secret_name,
                    networking,
                    injection_location,
                },
                CredentialSecrets {
                    secret_value: Some(secret_value),
                    ..Default::default()
                },
            ))
        }
    }
}

fn update_auth(
    current: &AuthView,
    secrets: &mut CredentialSecrets,
    update: AuthUpdateParam,
) -> Validated<AuthView> {
    match (current, update) {
        (AuthView::StaticBearer { .. }, AuthUpdateParam::StaticBearer { token }) => {
            if let Some(token) = token {
                check_token("auth.token", &token)?;
                secrets.token = Some(token);
            }
            Ok(current.clone())
        }
        (
            AuthView::McpOauth {
                mcp_server_url,
                expires_at,
                refresh,
            },
            AuthUpdateParam::McpOauth {
                access_token,
                expires_at: new_expiry,
                refresh: refresh_update,
            },
        ) => {
            if let Some(token) = access_token {
                check_token("auth.access_token", &token)?;
                secrets.access_token = Some(token);
            }
            let expires_at = match new_expiry.into_change() {
                Some(change) => change,
                None => *expires_at,
            };
            let refresh = match refresh_update {
                Nullable::Absent => refresh.clone(),
                Nullable::Null => {
                    secrets.refresh_token = None;
                    secrets.client_secret = None;
                    None
                }
                Nullable::Value(r) => Some(update_refresh(refresh.as_ref(), secrets, r)?),
            };
            Ok(AuthView::McpOauth {
                mcp_server_url: mcp_server_url.clone(),
                expires_at,
                refresh,
            })
        }
        (
            AuthView::EnvironmentVariable {
                secret_name,
                networking,
                injection_location,
            },
            AuthUpdateParam::EnvironmentVariable {
                secret_value,
                networking: new_networking,
                injection_location: new_injection,
            },
        ) => {
            if let Some(value) = secret_value {
                check_secret_value(&value)?;
                secrets.secret_value = Some(value);
            }
            let networking = match new_networking {
                Some(n) => check_networking(n)?,
                None => networking.clone(),
            };
            Ok(AuthView::EnvironmentVariable {
                secret_name: secret_name.clone(),
                networking,
                injection_location: injection(Some(*injection_location), new_injection),
            })
        }
        (current, _) => Err(ValidationError::new(
            "auth.type",
            format!(
                "must stay \"{}\"; create a new credential to change the kind",
                current.type_name()
            ),
        )),
    }
}

fn update_refresh(
    current: Option<&RefreshView>,
    secrets: &mut CredentialSecrets,
    update: RefreshUpdateParam,
) -> Validated<RefreshView> {
    let client_id = match (update.client_id, current) {
        (Some(id), _) => {
            check_len("auth.refresh.client_id", &id, 1, 512)?;
            id
        }
        (None, Some(c)) => c.client_id.clone(),
        (None, None) => {
            return Err(ValidationError::new(
                "auth.refresh.client_id",
                "is required when the credential has no refresh settings yet",
            ));
        }
    };
    let token_endpoint = match (update.token_endpoint, current) {
        (Some(url), _) => check_url("auth.refresh.token_endpoint", &url)?,
        (None, Some(c)) => c.token_endpoint.clone(),
        (None, None) => {
            return Err(ValidationError::new(
                "auth.refresh.token_endpoint",
                "is required when the credential has no refresh settings yet",
            ));
        }
    };
    if let Some(token) = update.refresh_token {
        check_token("auth.refresh.refresh_token", &token)?;
        secrets.refresh_token = Some(token);
    } else if secrets.refresh_token.is_none() {
        return Err(ValidationError::new(
            "auth.refresh.refresh_token",
            "is required when the credential has no refresh token yet",
        ));
    }
    let kind = match update.token_endpoint_auth {
        None => current.map_or(TokenEndpointAuthKind::None, |c| c.token_endpoint_auth.kind),
        Some(TokenEndpointAuthUpdateParam::None) => {
            secrets.client_secret = None;
            TokenEndpointAuthKind::None
        }
        Some(
            TokenEndpointAuthUpdateParam::ClientSecretBasic { client_secret }
            | TokenEndpointAuthUpdateParam::ClientSecretPost { client_secret },
        ) if client_secret.is_none() && secrets.client_secret.is_none() => {
            return Err(ValidationError::new(
                "auth.refresh.token_endpoint_auth.client_secret",
                "is required when the credential has no client secret yet",
            ));
        }
        Some(TokenEndpointAuthUpdateParam::ClientSecretBasic { client_secret }) => {
            set_client_secret(secrets, client_secret)?;
            TokenEndpointAuthKind::ClientSecretBasic
        }
        Some(TokenEndpointAuthUpdateParam::ClientSecretPost { client_secret }) => {
            set_client_secret(secrets, client_secret)?;
            TokenEndpointAuthKind::ClientSecretPost
        }
    };
    let keep = |change: Nullable<String>, old: Option<&String>, field: &str| match change {
        Nullable::Absent => Ok(old.cloned()),
        Nullable::Null => Ok(None),
        Nullable::Value(v) => check_optional(field, Some(v)),
    };
    Ok(RefreshView {
        client_id,
        token_endpoint,
        token_endpoint_auth: TokenEndpointAuthView { kind },
        scope: keep(
            update.scope,
            current.and_then(|c| c.scope.as_ref()),
            "auth.refresh.scope",
        )?,
        resource: keep(
            update.resource,
            current.and_then(|c| c.resource.as_ref()),
            "auth.refresh.resource",
        )?,
    })
}

fn set_client_secret(secrets: &mut CredentialSecrets, value: Option<String>) -> Validated {
    if let Some(value) = value {
        check_token("auth.refresh.token_endpoint_auth.client_secret", &value)?;
        secrets.client_secret = Some(value);
    }
    Ok(())
}

fn injection(
    current: Option<InjectionLocation>,
    param: Option<InjectionLocationParam>,
) -> InjectionLocation {
    let base = current.unwrap_or(InjectionLocation {
        header: true,
        body: false,
    });
    let param = param.unwrap_or_default();
    InjectionLocation {
        header: param.header.unwrap_or(base.header),
        body: param.body.unwrap_or(base.body),
    }
}

/// An `http(s)` URL with a host, without credentials or fragment, kept exactly as the client
/// wrote it; [`comparable_url`] is the form it is compared and looked up in.
pub fn check_url(field: &str, raw: &str) -> Validated<String> {
    check_len(field, raw, 1, MAX_URL_CHARS)?;
    if raw.trim() != raw {
        return Err(ValidationError::new(
            field,
            "must not start or end with whitespace",
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| ValidationError::new(field, format!("is not a valid URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ValidationError::new(
            field,
            "must be an http or https URL with a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
        return Err(ValidationError::new(
            field,
            "must not contain user information or a fragment",
        ));
    }
    Ok(raw.to_owned())
}

/// The form a URL checked by [`check_url`] is compared and looked up in: parsed, and without a
/// trailing `/` on its path, so that `https://h/mcp/` and `https://h/mcp` name the same server.
pub fn comparable_url(raw: &str) -> Option<String> {
    url::Url::parse(raw).ok().map(|url| normalize_url(&url))
}

/// The form URLs are compared in.
pub fn normalize_url(url: &url::Url) -> String {
    let text = url.to_string();
    match text.strip_suffix('/') {
        Some(stripped) if url.query().is_none() => stripped.to_owned(),
        _ => text,
    }
}

fn check_token(field: &str, value: &str) -> Validated {
    check_len(field, value, 1, MAX_TOKEN_CHARS)?;
    check_no_control(field, value)
}

fn check_optional(field: &str, value: Option<String>) -> Validated<Option<String>> {
    if let Some(v) = &value {
        check_len(field, v, 1, MAX_URL_CHARS)?;
        check_no_control(field, v)?;
    }
    Ok(value)
}

fn check_secret_name(name: &str) -> Validated {
    check_len("auth.secret_name", name, 1, MAX_SECRET_NAME_CHARS)?;
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(ValidationError::new(
            "auth.secret_name",
            "must be an environment variable name: letters, digits and `_`, not starting with a digit",
        ));
    }
    Ok(())
}

fn check_secret_value(value: &str) -> Validated {
    check_len("auth.secret_value", value, 1, MAX_SECRET_VALUE_CHARS)?;
    if value.contains('\0') {
        return Err(ValidationError::new(
            "auth.secret_value",
            "must not contain NUL characters",
        ));
    }
    Ok(())
}

fn check_networking(networking: CredentialNetworking) -> Validated<CredentialNetworking> {
    match networking {
        CredentialNetworking::Unrestricted => Ok(CredentialNetworking::Unrestricted),
        CredentialNetworking::Limited { allowed_hosts } => {
            if allowed_hosts.is_empty() || allowed_hosts.len() > MAX_CREDENTIAL_HOSTS {
                return Err(ValidationError::new(
                    "auth.networking.allowed_hosts",
                    format!("must list 1 to {MAX_CREDENTIAL_HOSTS} hosts"),
                ));
            }
            let mut hosts = Vec::with_capacity(allowed_hosts.len());
            for (i, written) in allowed_hosts.into_iter().enumerate() {
                let field = format!("auth.networking.allowed_hosts[{i}]");
                // Kept as written; checked (and later matched) in lower case without a
                // trailing dot.
                let host = written.trim_end_matches('.').to_ascii_lowercase();
                let valid = written.trim() == written
                    && !host.is_empty()
                    && host.len() <= 253
                    && host
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
                if !valid {
                    return Err(ValidationError::new(
                        field,
                        "must be a host name or address",
                    ));
                }
                hosts.push(written);
            }
            Ok(CredentialNetworking::Limited {
                allowed_hosts: hosts,
            })
        }
    }
}
