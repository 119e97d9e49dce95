//! `/v1/vaults`: create, retrieve, update (POST or PATCH), list, archive (which archives every
//! credential and destroys its secret), delete (credentials go with it).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::pagination::Order;
use berth_protocol::vault::{
    Vault, VaultCreateRequest, VaultUpdateRequest, create_vault, update_vault,
};
use berth_store::{Collection, DeleteOutcome, DocumentQuery};

use crate::auth::Caller;
use crate::documents::{Archivable, archive_document, change_document, to_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::now;

pub(crate) const VAULT: &str = "vault";

type AppStateRef = State<Arc<AppState>>;

#[utoipa::path(post, path = "/vaults", tag = "vaults",
    request_body = VaultCreateRequest,
    responses((status = 200, body = Vault), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<VaultCreateRequest>,
) -> ApiResult<Response> {
    let vault = create_vault(request, new_id(prefix::VAULT), now())?;
    let doc = to_document(vault.row(&caller.tenant_id, 1), &vault)?;
    state
        .store
        .insert_document(Collection::Vaults, &doc)
        .await?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(get, path = "/vaults/{vault_id}", tag = "vaults",
    params(("vault_id" = String, Path)),
    responses((status = 200, body = Vault), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let doc = state
        .store
        .get_document(Collection::Vaults, &caller.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(VAULT, &id))?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(post, path = "/vaults/{vault_id}", tag = "vaults",
    params(("vault_id" = String, Path)), request_body = VaultUpdateRequest,
    responses((status = 200, body = Vault)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<VaultUpdateRequest>,
) -> ApiResult<Response> {
    change_document(
        &*state.store,
        Collection::Vaults,
        &caller.tenant_id,
        &id,
        VAULT,
        |current: Vault| {
            if current.archived_at.is_some() {
                return Err(ApiError::bad_request(format!(
                    "vault {id} is archived and cannot be updated"
                ))
                .with_code("vault_archived"));
            }
            Ok(update_vault(&current, request.clone(), now())?)
        },
    )
    .await
}

#[utoipa::path(get, path = "/vaults", tag = "vaults",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Vault>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state
        .store
        .list_documents(Collection::Vaults, &caller.tenant_id, &query)
        .await?;
    Ok(page_response(rows, limit, |d| &d.body, |d| d.id.clone()))
}

#[utoipa::path(post, path = "/vaults/{vault_id}/archive", tag = "vaults",
    params(("vault_id" = String, Path)), responses((status = 200, body = Vault)))]
pub async fn archive(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    // Credentials first: once the vault says it is archived, no secret of it is left.
    let mut query = DocumentQuery {
        limit: 100,
        ..Default::default()
    };
    loop {
        let page = state
            .store
            .list_credentials(&caller.tenant_id, &id, &query)
            .await?;
        for credential in &page {
            super::credentials::archive_row(&state, credential).await?;
        }
        match page.last() {
            Some(last) if page.len() == query.limit as usize => query.after = Some(last.id.clone()),
            _ => break,
        }
    }
    archive_document::<Vault>(
        &*state.store,
        Collection::Vaults,
        &caller.tenant_id,
        &id,
        VAULT,
    )
    .await
}

#[utoipa::path(delete, path = "/vaults/{vault_id}", tag = "vaults",
    params(("vault_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    match state
        .store
        .delete_document(Collection::Vaults, &caller.tenant_id, &id)
        .await?
    {
        DeleteOutcome::Deleted => Ok(axum::Json(Deleted::new(id, "vault_deleted"))),
        DeleteOutcome::NotFound => Err(ApiError::not_found(VAULT, &id)),
        DeleteOutcome::InUse => Err(ApiError::conflict(format!("vault {id} is in use"))),
    }
}
