//! `/v1/vaults`: create, retrieve, update (POST or PATCH), list, archive (which archives every
//! credential and destroys its secret), delete (credentials go with it).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::Timestamp;
use berth_protocol::ids::prefix;
use berth_protocol::validation::Validated;
use berth_protocol::vault::{
    Vault, VaultCreateRequest, VaultUpdateRequest, create_vault, update_vault,
};
use berth_store::{Collection, DocumentQuery};

use super::document_resource::{self as documents, DocumentResource};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

type AppStateRef = State<Arc<AppState>>;

impl DocumentResource for Vault {
    const COLLECTION: Collection = Collection::Vaults;
    const NAME: &'static str = "vault";
    const ID_PREFIX: &'static str = prefix::VAULT;
    const ARCHIVED_CODE: &'static str = "vault_archived";
    const DELETED_TYPE: &'static str = "vault_deleted";
    type Create = VaultCreateRequest;
    type Update = VaultUpdateRequest;

    fn create(request: Self::Create, id: String, now: Timestamp) -> Validated<Self> {
        create_vault(request, id, now)
    }

    fn update(current: &Self, request: Self::Update, now: Timestamp) -> Validated<Option<Self>> {
        update_vault(current, request, now)
    }
}

#[utoipa::path(post, path = "/vaults", tag = "vaults",
    request_body = VaultCreateRequest,
    responses((status = 200, body = Vault), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create(
    state: AppStateRef,
    caller: Caller,
    request: JsonBody<VaultCreateRequest>,
) -> ApiResult<Response> {
    documents::create::<Vault>(state, caller, request).await
}

#[utoipa::path(get, path = "/vaults/{vault_id}", tag = "vaults",
    params(("vault_id" = String, Path)),
    responses((status = 200, body = Vault), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(state: AppStateRef, caller: Caller, id: Path<String>) -> ApiResult<Response> {
    documents::retrieve::<Vault>(state, caller, id).await
}

#[utoipa::path(post, path = "/vaults/{vault_id}", tag = "vaults",
    params(("vault_id" = String, Path)), request_body = VaultUpdateRequest,
    responses((status = 200, body = Vault)))]
pub async fn update(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
    request: JsonBody<VaultUpdateRequest>,
) -> ApiResult<Response> {
    documents::update::<Vault>(state, caller, id, request).await
}

#[utoipa::path(get, path = "/vaults", tag = "vaults",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Vault>)))]
pub async fn list(state: AppStateRef, caller: Caller, params: QueryParams) -> ApiResult<Response> {
    documents::list::<Vault>(state, caller, params).await
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
    documents::archive::<Vault>(State(state), caller, Path(id)).await
}

#[utoipa::path(delete, path = "/vaults/{vault_id}", tag = "vaults",
    params(("vault_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    documents::delete::<Vault>(state, caller, id).await
}
