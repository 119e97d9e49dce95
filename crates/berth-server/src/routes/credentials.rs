//! `/v1/vaults/{vault_id}/credentials`: create, retrieve, update (POST or PATCH), list,
//! archive (destroys the secret), delete, and `mcp_oauth_validate`. Secrets are sealed on the
//! way in and never leave.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::pagination::Order;
use berth_protocol::vault::MAX_CREDENTIALS_PER_VAULT;
use berth_protocol::vault::credential::{
    AuthView, Credential, CredentialCreateRequest, CredentialSecrets, CredentialUpdateRequest,
    comparable_url, create_credential, update_credential,
};
use berth_store::{Attempt, Collection, CredentialInsert, CredentialRow};
use serde_json::json;

use crate::auth::Caller;
use crate::documents::{decode, encode, optimistic};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::{micros, now};
use berth_runtime::credentials::{CredentialError, HttpSnapshot};

const CREDENTIAL: &str = "credential";

type AppStateRef = State<Arc<AppState>>;

fn credential_error(e: CredentialError) -> ApiError {
    match e {
        CredentialError::Store(e) => e.into(),
        other => ApiError::bad_request(other.to_string()),
    }
}

fn to_row(
    state: &AppState,
    tenant_id: &str,
    credential: &Credential,
    secrets: Option<&CredentialSecrets>,
    version: i64,
) -> ApiResult<CredentialRow> {
    Ok(CredentialRow {
        id: credential.id.clone(),
        tenant_id: tenant_id.to_owned(),
        vault_id: credential.vault_id.clone(),
        auth_type: credential.auth.type_name().to_owned(),
        // The column is the comparable form: lookups and the one-per-server rule use it.
        mcp_server_url: credential.auth.mcp_server_url().and_then(comparable_url),
        version,
        created_at: micros(credential.created_at),
        updated_at: micros(credential.updated_at),
        archived_at: credential.archived_at.map(micros),
        body: encode(credential)?,
        sealed: secrets
            .map(|s| {
                state
                    .runtime
                    .credentials
                    .seal(tenant_id, &credential.vault_id, &credential.id, s)
            })
            .transpose()
            .map_err(ApiError::internal)?,
    })
}

async fn load(
    state: &AppState,
    caller: &Caller,
    vault_id: &str,
    id: &str,
) -> ApiResult<(CredentialRow, Credential)> {
    let row = state
        .store
        .get_credential(&caller.tenant_id, vault_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(CREDENTIAL, id))?;
    let credential = decode(&row.body)?;
    Ok((row, credential))
}

#[utoipa::path(post, path = "/vaults/{vault_id}/credentials", tag = "credentials",
    params(("vault_id" = String, Path)), request_body = CredentialCreateRequest,
    responses((status = 200, body = Credential), (status = 400, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    Path(vault_id): Path<String>,
    JsonBody(request): JsonBody<CredentialCreateRequest>,
) -> ApiResult<Response> {
    let (credential, secrets) =
        create_credential(request, new_id(prefix::CREDENTIAL), vault_id.clone(), now())?;
    let row = to_row(&state, &caller.tenant_id, &credential, Some(&secrets), 1)?;
    match state
        .store
        .insert_credential(&row, MAX_CREDENTIALS_PER_VAULT)
        .await?
    {
        CredentialInsert::Inserted => Ok(json_response(StatusCode::OK, row.body)),
        CredentialInsert::NoVault => Err(ApiError::not_found("vault", &vault_id)),
        CredentialInsert::VaultFull => Err(ApiError::bad_request(format!(
            "vault {vault_id} already holds {MAX_CREDENTIALS_PER_VAULT} credentials (archived ones \
             count); delete one first"
        ))
        .with_code("vault_full")),
        CredentialInsert::DuplicateUrl => Err(ApiError::conflict(format!(
            "vault {vault_id} already has an active credential for {}",
            row.mcp_server_url.as_deref().unwrap_or("this MCP server")
        ))),
    }
}

#[utoipa::path(get, path = "/vaults/{vault_id}/credentials/{credential_id}", tag = "credentials",
    params(("vault_id" = String, Path), ("credential_id" = String, Path)),
    responses((status = 200, body = Credential), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path((vault_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (row, _) = load(&state, &caller, &vault_id, &id).await?;
    Ok(json_response(StatusCode::OK, row.body))
}

#[utoipa::path(post, path = "/vaults/{vault_id}/credentials/{credential_id}", tag = "credentials",
    params(("vault_id" = String, Path), ("credential_id" = String, Path)),
    request_body = CredentialUpdateRequest, responses((status = 200, body = Credential)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path((vault_id, id)): Path<(String, String)>,
    JsonBody(request): JsonBody<CredentialUpdateRequest>,
) -> ApiResult<Response> {
    let (state, caller, vault_id, id, request) = (&state, &caller, &vault_id, &id, &request);
    optimistic(CREDENTIAL, id, || async move {
        let (row, current) = load(state, caller, vault_id, id).await?;
        if current.archived_at.is_some() {
            return Err(ApiError::bad_request(format!(
                "credential {id} is archived and cannot be updated"
            ))
            .with_code("credential_archived"));
        }
        let secrets = state
            .runtime
            .credentials
            .open(&row)
            .map_err(credential_error)?;
        let Some((next, next_secrets)) =
            update_credential(&current, &secrets, request.clone(), now())?
        else {
            return Ok(Attempt::Done(json_response(StatusCode::OK, row.body)));
        };
        let next_row = to_row(
            state,
            &caller.tenant_id,
            &next,
            Some(&next_secrets),
            row.version + 1,
        )?;
        let written = state
            .store
            .replace_credential(&next_row, row.version)
            .await?;
        Ok(Attempt::won_if(written, || {
            json_response(StatusCode::OK, next_row.body)
        }))
    })
    .await
}

#[utoipa::path(get, path = "/vaults/{vault_id}/credentials", tag = "credentials",
    params(("vault_id" = String, Path), ("limit" = Option<u32>, Query),
           ("page" = Option<String>, Query), ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Credential>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    Path(vault_id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    state
        .store
        .get_document(Collection::Vaults, &caller.tenant_id, &vault_id)
        .await?
        .ok_or_else(|| ApiError::not_found("vault", &vault_id))?;
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state
        .store
        .list_credentials(&caller.tenant_id, &vault_id, &query)
        .await?;
    Ok(page_response(rows, limit, |r| &r.body, |r| r.id.clone()))
}

/// Archives a credential and destroys its secret; an archived one is left as it is.
pub(crate) async fn archive_row(state: &AppState, row: &CredentialRow) -> ApiResult<String> {
    // The first attempt uses the row the caller read; a lost race reads it again.
    let mut given = Some(row.clone());
    optimistic(CREDENTIAL, &row.id, || {
        let given = given.take();
        async move {
            let row = match given {
                Some(row) => row,
                None => state
                    .store
                    .get_credential(&row.tenant_id, &row.vault_id, &row.id)
                    .await?
                    .ok_or_else(|| ApiError::not_found(CREDENTIAL, &row.id))?,
            };
            let mut credential: Credential = decode(&row.body)?;
            if credential.archived_at.is_some() && row.sealed.is_none() {
                return Ok(Attempt::Done(row.body));
            }
            let at = now();
            credential.archived_at = Some(at);
            credential.updated_at = at;
            let next = to_row(state, &row.tenant_id, &credential, None, row.version + 1)?;
            let written = state.store.replace_credential(&next, row.version).await?;
            Ok(Attempt::won_if(written, || next.body))
        }
    })
    .await
}

#[utoipa::path(post, path = "/vaults/{vault_id}/credentials/{credential_id}/archive",
    tag = "credentials", params(("vault_id" = String, Path), ("credential_id" = String, Path)),
    responses((status = 200, body = Credential)))]
pub async fn archive(
    State(state): AppStateRef,
    caller: Caller,
    Path((vault_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (row, _) = load(&state, &caller, &vault_id, &id).await?;
    let body = archive_row(&state, &row).await?;
    Ok(json_response(StatusCode::OK, body))
}

#[utoipa::path(delete, path = "/vaults/{vault_id}/credentials/{credential_id}",
    tag = "credentials", params(("vault_id" = String, Path), ("credential_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    State(state): AppStateRef,
    caller: Caller,
    Path((vault_id, id)): Path<(String, String)>,
) -> ApiResult<axum::Json<Deleted>> {
    if state
        .store
        .delete_credential(&caller.tenant_id, &vault_id, &id)
        .await?
    {
        Ok(axum::Json(Deleted::new(id, "vault_credential_deleted")))
    } else {
        Err(ApiError::not_found(CREDENTIAL, &id))
    }
}

/// What probing the MCP server with a token showed.
enum Probe {
    Accepted(HttpSnapshot),
    Refused(HttpSnapshot),
    Other(HttpSnapshot),
    Unreachable,
}

async fn probe(state: &AppState, url: &str, token: &str, secrets: &[&str]) -> Probe {
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "berth", "version": env!("CARGO_PKG_VERSION")}
        }
    });
    let request = match state
        .runtime
        .credentials
        .http()
        .request(reqwest::Method::POST, url)
    {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "MCP server probe failed");
            return Probe::Unreachable;
        }
    };
    let response = match request
        .bearer_auth(token)
        .header(
            reqwest::header::ACCEPT,
            "application/json, text/event-stream",
        )
        .json(&body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => {
            tracing::info!(error = %e, "MCP server probe failed");
            return Probe::Unreachable;
        }
    };
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let snapshot = HttpSnapshot::read(response, secrets).await;
    if let Some(session) = session
        && let Ok(request) = state
            .runtime
            .credentials
            .http()
            .request(reqwest::Method::DELETE, url)
    {
        let _ = request
            .bearer_auth(token)
            .header("mcp-session-id", session)
            .send()
            .await;
    }
    match snapshot.status_code {
        200..=299 => Probe::Accepted(snapshot),
        401 | 403 => Probe::Refused(snapshot),
        _ => Probe::Other(snapshot),
    }
}

#[utoipa::path(post,
    path = "/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate",
    tag = "credentials", params(("vault_id" = String, Path), ("credential_id" = String, Path)),
    responses((status = 200, description = "`vault_credential_validation`")))]
pub async fn mcp_oauth_validate(
    State(state): AppStateRef,
    caller: Caller,
    Path((vault_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (row, credential) = load(&state, &caller, &vault_id, &id).await?;
    let AuthView::McpOauth { mcp_server_url, .. } = &credential.auth else {
        return Err(ApiError::bad_request(format!(
            "credential {id} is {}, not mcp_oauth",
            credential.auth.type_name()
        )));
    };
    let secrets = state
        .runtime
        .credentials
        .open(&row)
        .map_err(credential_error)?;
    let has_refresh_token = secrets.refresh_token.is_some();
    let token = secrets.access_token.clone().unwrap_or_default();
    let values: Vec<&str> = secrets.values().collect();
    let mut refresh_report = None;
    let mut outcome = probe(&state, mcp_server_url, &token, &values).await;
    if matches!(outcome, Probe::Refused(_)) {
        match state.runtime.credentials.refresh(&row, &token).await {
            Ok(fresh) => {
                refresh_report = Some(json!({"status": "succeeded", "http_response": null}));
                let mut values = values.clone();
                values.push(&fresh);
                outcome = probe(&state, mcp_server_url, &fresh, &values).await;
            }
            Err(CredentialError::Refresh(failure)) => {
                refresh_report = Some(json!({
                    "status": failure.status,
                    "http_response": failure.http.map(|h| h.to_json()),
                }));
            }
            Err(other) => return Err(credential_error(other)),
        }
    }
    let (status, snapshot) = match &outcome {
        Probe::Accepted(s) => ("valid", Some(s.to_json())),
        Probe::Refused(s) => ("invalid", Some(s.to_json())),
        Probe::Other(s) => ("unknown", Some(s.to_json())),
        Probe::Unreachable => ("unknown", None),
    };
    let report = json!({
        "type": "vault_credential_validation",
        "credential_id": id,
        "vault_id": vault_id,
        "status": status,
        "has_refresh_token": has_refresh_token,
        "validated_at": now(),
        "mcp_probe": {"method": "initialize", "http_response": snapshot},
        "refresh": refresh_report,
    });
    Ok(json_response(StatusCode::OK, report.to_string()))
}
