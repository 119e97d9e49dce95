//! `/v1/environments`: create, retrieve, update (POST or PATCH), list, archive, delete — the
//! shared document handlers ([`super::document_resource`]) under this resource's annotations.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::Timestamp;
use berth_protocol::environment::{
    Environment, EnvironmentCreateRequest, EnvironmentUpdateRequest, create_environment,
    update_environment,
};
use berth_protocol::ids::prefix;
use berth_protocol::validation::Validated;
use berth_store::Collection;

use super::document_resource::{self as documents, DocumentResource};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use crate::state::AppState;

type AppStateRef = State<Arc<AppState>>;

impl DocumentResource for Environment {
    const COLLECTION: Collection = Collection::Environments;
    const NAME: &'static str = "environment";
    const ID_PREFIX: &'static str = prefix::ENVIRONMENT;
    const ARCHIVED_CODE: &'static str = "environment_archived";
    const DELETED_TYPE: &'static str = "environment_deleted";
    type Create = EnvironmentCreateRequest;
    type Update = EnvironmentUpdateRequest;

    fn create(request: Self::Create, id: String, now: Timestamp) -> Validated<Self> {
        create_environment(request, id, now)
    }

    fn update(current: &Self, request: Self::Update, now: Timestamp) -> Validated<Option<Self>> {
        update_environment(current, request, now)
    }

    fn in_use(id: &str) -> String {
        format!(
            "environment {id} is used by sessions that are not archived; archive or delete them \
             first"
        )
    }
}

#[utoipa::path(post, path = "/environments", tag = "environments",
    request_body = EnvironmentCreateRequest,
    responses((status = 200, body = Environment), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create(
    state: AppStateRef,
    caller: Caller,
    request: JsonBody<EnvironmentCreateRequest>,
) -> ApiResult<Response> {
    documents::create::<Environment>(state, caller, request).await
}

#[utoipa::path(get, path = "/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Environment), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(state: AppStateRef, caller: Caller, id: Path<String>) -> ApiResult<Response> {
    documents::retrieve::<Environment>(state, caller, id).await
}

#[utoipa::path(post, path = "/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)), request_body = EnvironmentUpdateRequest,
    responses((status = 200, body = Environment)))]
pub async fn update(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
    request: JsonBody<EnvironmentUpdateRequest>,
) -> ApiResult<Response> {
    documents::update::<Environment>(state, caller, id, request).await
}

#[utoipa::path(get, path = "/environments", tag = "environments",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Environment>)))]
pub async fn list(state: AppStateRef, caller: Caller, params: QueryParams) -> ApiResult<Response> {
    documents::list::<Environment>(state, caller, params).await
}

#[utoipa::path(post, path = "/environments/{environment_id}/archive", tag = "environments",
    params(("environment_id" = String, Path)), responses((status = 200, body = Environment)))]
pub async fn archive(state: AppStateRef, caller: Caller, id: Path<String>) -> ApiResult<Response> {
    documents::archive::<Environment>(state, caller, id).await
}

#[utoipa::path(delete, path = "/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    state: AppStateRef,
    caller: Caller,
    id: Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    documents::delete::<Environment>(state, caller, id).await
}
