//! `/v1/environments`: create, retrieve, update (POST or PATCH), list, archive, delete.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::environment::{
    Environment, EnvironmentCreateRequest, EnvironmentUpdateRequest, create_environment,
    update_environment,
};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::pagination::Order;
use berth_store::{Collection, DeleteOutcome};

use crate::auth::Caller;
use crate::documents::{Archivable, archive_document, change_document, to_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::now;

const ENVIRONMENT: &str = "environment";

type AppStateRef = State<Arc<AppState>>;

#[utoipa::path(post, path = "/environments", tag = "environments",
    request_body = EnvironmentCreateRequest,
    responses((status = 200, body = Environment), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<EnvironmentCreateRequest>,
) -> ApiResult<Response> {
    let env = create_environment(request, new_id(prefix::ENVIRONMENT), now())?;
    let doc = to_document(env.row(&caller.tenant_id, 1), &env)?;
    state
        .store
        .insert_document(Collection::Environments, &doc)
        .await?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(get, path = "/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Environment), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let doc = state
        .store
        .get_document(Collection::Environments, &caller.tenant_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(ENVIRONMENT, &id))?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(post, path = "/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)), request_body = EnvironmentUpdateRequest,
    responses((status = 200, body = Environment)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<EnvironmentUpdateRequest>,
) -> ApiResult<Response> {
    change_document(
        &*state.store,
        Collection::Environments,
        &caller.tenant_id,
        &id,
        ENVIRONMENT,
        |current: Environment| {
            if current.archived_at.is_some() {
                return Err(ApiError::bad_request(format!(
                    "environment {id} is archived and cannot be updated"
                ))
                .with_code("environment_archived"));
            }
            Ok(update_environment(&current, request.clone(), now())?)
        },
    )
    .await
}

#[utoipa::path(get, path = "/environments", tag = "environments",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Environment>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state
        .store
        .list_documents(Collection::Environments, &caller.tenant_id, &query)
        .await?;
    Ok(page_response(rows, limit, |d| &d.body, |d| d.id.clone()))
}

#[utoipa::path(post, path = "/environments/{environment_id}/archive", tag = "environments",
    params(("environment_id" = String, Path)), responses((status = 200, body = Environment)))]
pub async fn archive(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    archive_document::<Environment>(
        &*state.store,
        Collection::Environments,
        &caller.tenant_id,
        &id,
        ENVIRONMENT,
    )
    .await
}

#[utoipa::path(delete, path = "/environments/{environment_id}", tag = "environments",
    params(("environment_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    match state
        .store
        .delete_document(Collection::Environments, &caller.tenant_id, &id)
        .await?
    {
        DeleteOutcome::Deleted => Ok(axum::Json(Deleted::new(id, "environment_deleted"))),
        DeleteOutcome::NotFound => Err(ApiError::not_found(ENVIRONMENT, &id)),
        DeleteOutcome::InUse => Err(ApiError::conflict(format!(
            "environment {id} is used by sessions that are not archived; archive or delete them first"
        ))),
    }
}
