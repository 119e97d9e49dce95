//! `/v1/sessions/{id}/resources`: files added to a session after it was created, listed,
//! retrieved and removed; repository tokens rotated (contract §6.4).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::session::{MAX_FILE_RESOURCES, Resource, SessionStatic};
use berth_store::{Attempt, ChangeOutcome, SessionChange, SessionRow};
use serde::Deserialize;
use serde_json::json;

use crate::auth::Caller;
use crate::documents::{decode, optimistic};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::json_response;
use crate::sessions::prepare_file_resource;
use crate::state::AppState;
use berth_protocol::time::{micros, now};
use berth_runtime::session_private::SessionPrivate;

type AppStateRef = State<Arc<AppState>>;

/// `POST /v1/sessions/{id}/resources`: only files can be added (flat body).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct AddResourceRequest {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub file_id: Option<String>,
    #[serde(default)]
    pub mount_path: Option<String>,
}

/// `POST /v1/sessions/{id}/resources/{resource_id}`: rotates a repository's token.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct UpdateResourceRequest {
    pub authorization_token: String,
}

fn resource_id(r: &Resource) -> &str {
    match r {
        Resource::File { id, .. }
        | Resource::GithubRepository { id, .. }
        | Resource::MemoryStore { id, .. } => id,
    }
}

async fn load(
    state: &AppState,
    caller: &Caller,
    session_id: &str,
) -> ApiResult<(SessionRow, SessionStatic)> {
    let row = state
        .store
        .get_session(&caller.tenant_id, session_id)
        .await?
        .ok_or_else(|| ApiError::not_found("session", session_id))?;
    let snapshot: SessionStatic = decode(&row.body)?;
    Ok((row, snapshot))
}

async fn save(
    state: &AppState,
    caller: &Caller,
    row: &SessionRow,
    snapshot: &SessionStatic,
    private: Option<String>,
) -> ApiResult<bool> {
    let change = SessionChange {
        tenant_id: caller.tenant_id.clone(),
        id: row.id.clone(),
        expected_version: row.version,
        body: serde_json::to_string(snapshot).map_err(ApiError::internal)?,
        now: micros(now()),
        require_idle: false,
        events: Vec::new(),
        private,
        memory_store_ids: Some(snapshot.memory_store_ids()),
    };
    match state.runtime.change_session(&change).await? {
        ChangeOutcome::Applied(_) => Ok(true),
        ChangeOutcome::Stale | ChangeOutcome::Running => Ok(false),
        ChangeOutcome::NotFound => Err(ApiError::not_found("session", &row.id)),
    }
}

fn render(resource: &Resource) -> ApiResult<Response> {
    Ok(json_response(
        StatusCode::OK,
        serde_json::to_string(resource).map_err(ApiError::internal)?,
    ))
}

#[utoipa::path(post, path = "/sessions/{session_id}/resources", tag = "session_resources",
    params(("session_id" = String, Path)), request_body = AddResourceRequest,
    responses((status = 200, description = "the file resource"), (status = 400, body = berth_protocol::ErrorBody),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn add(
    State(state): AppStateRef,
    caller: Caller,
    Path(session_id): Path<String>,
    JsonBody(request): JsonBody<AddResourceRequest>,
) -> ApiResult<Response> {
    if request.kind != "file" {
        return Err(ApiError::bad_request(format!(
            "type: only file resources can be added to a session, not \"{}\"",
            request.kind
        )));
    }
    let file_id = request
        .file_id
        .ok_or_else(|| ApiError::bad_request("file_id: required for file resources"))?;
    let mount_path =
        prepare_file_resource(&state, &caller, "resource", &file_id, request.mount_path).await?;
    let (state, caller, session_id, file_id, mount_path) =
        (&state, &caller, &session_id, &file_id, &mount_path);
    optimistic("session", session_id, || async move {
        let (row, mut snapshot) = load(state, caller, session_id).await?;
        if row.archived_at.is_some() {
            return Err(ApiError::conflict(format!(
                "session {session_id} is archived"
            )));
        }
        let files = snapshot
            .resources
            .iter()
            .filter(|r| matches!(r, Resource::File { .. }))
            .count();
        if files >= MAX_FILE_RESOURCES {
            return Err(ApiError::bad_request(format!(
                "a session holds at most {MAX_FILE_RESOURCES} file resources"
            )));
        }
        let at = now();
        let resource = Resource::File {
            id: new_id(prefix::RESOURCE),
            file_id: file_id.clone(),
            mount_path: mount_path.clone(),
            created_at: at,
            updated_at: at,
        };
        snapshot.resources.push(resource.clone());
        let written = save(state, caller, &row, &snapshot, None).await?;
        Ok(if written {
            Attempt::Done(render(&resource)?)
        } else {
            Attempt::Lost
        })
    })
    .await
}

#[utoipa::path(get, path = "/sessions/{session_id}/resources", tag = "session_resources",
    params(("session_id" = String, Path), ("limit" = Option<u32>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, description = "`{data, next_page}`")))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    Path(session_id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    let limit = params.limit(100, 1000)? as usize;
    let (_, snapshot) = load(&state, &caller, &session_id).await?;
    let after = params.get("page").map(str::to_owned);
    let start = match &after {
        Some(id) => snapshot
            .resources
            .iter()
            .position(|r| resource_id(r) == id)
            .map_or(snapshot.resources.len(), |i| i + 1),
        None => 0,
    };
    let rest = snapshot.resources.get(start..).unwrap_or_default();
    let shown = rest.get(..limit.min(rest.len())).unwrap_or_default();
    let next = (rest.len() > shown.len())
        .then(|| shown.last().map(|r| resource_id(r).to_owned()))
        .flatten();
    let body = json!({"data": shown, "next_page": next});
    Ok(json_response(StatusCode::OK, body.to_string()))
}

#[utoipa::path(get, path = "/sessions/{session_id}/resources/{resource_id}", tag = "session_resources",
    params(("session_id" = String, Path), ("resource_id" = String, Path)),
    responses((status = 200, description = "the resource"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path((session_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, snapshot) = load(&state, &caller, &session_id).await?;
    let resource = snapshot
        .resources
        .iter()
        .find(|r| resource_id(r) == id)
        .ok_or_else(|| ApiError::not_found("resource", &id))?;
    render(resource)
}

#[utoipa::path(post, path = "/sessions/{session_id}/resources/{resource_id}", tag = "session_resources",
    params(("session_id" = String, Path), ("resource_id" = String, Path)), request_body = UpdateResourceRequest,
    responses((status = 200, description = "the resource"), (status = 400, body = berth_protocol::ErrorBody),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path((session_id, id)): Path<(String, String)>,
    JsonBody(request): JsonBody<UpdateResourceRequest>,
) -> ApiResult<Response> {
    if request.authorization_token.is_empty() || request.authorization_token.len() > 4096 {
        return Err(ApiError::bad_request(
            "authorization_token: must be 1-4096 characters",
        ));
    }
    let (state, caller, session_id, id, request) = (&state, &caller, &session_id, &id, &request);
    optimistic("session", session_id, || async move {
        let (row, mut snapshot) = load(state, caller, session_id).await?;
        let Some(resource) = snapshot
            .resources
            .iter_mut()
            .find(|r| resource_id(r) == id.as_str())
        else {
            return Err(ApiError::not_found("resource", id));
        };
        let Resource::GithubRepository { updated_at, .. } = resource else {
            return Err(ApiError::bad_request(
                "only github_repository resources can be updated (their authorization_token)",
            ));
        };
        *updated_at = now();
        let updated = resource.clone();
        let mut private =
            SessionPrivate::decode(row.private.as_deref()).map_err(ApiError::internal)?;
        let aad = format!("{}|{session_id}|{id}", caller.tenant_id);
        let sealed = state
            .runtime
            .session_secrets
            .seal(request.authorization_token.as_bytes(), aad.as_bytes());
        private.resource_tokens.insert(
            id.clone(),
            base64::engine::general_purpose::STANDARD.encode(sealed),
        );
        let private = private.encode().map_err(ApiError::internal)?;
        let written = save(state, caller, &row, &snapshot, private).await?;
        Ok(if written {
            Attempt::Done(render(&updated)?)
        } else {
            Attempt::Lost
        })
    })
    .await
}

#[utoipa::path(delete, path = "/sessions/{session_id}/resources/{resource_id}", tag = "session_resources",
    params(("session_id" = String, Path), ("resource_id" = String, Path)),
    responses((status = 200, description = "`{id, type: \"session_resource_deleted\"}`"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn remove(
    State(state): AppStateRef,
    caller: Caller,
    Path((session_id, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (state, caller, session_id, id) = (&state, &caller, &session_id, &id);
    optimistic("session", session_id, || async move {
        let (row, mut snapshot) = load(state, caller, session_id).await?;
        let before = snapshot.resources.len();
        snapshot.resources.retain(|r| resource_id(r) != id.as_str());
        if snapshot.resources.len() == before {
            return Err(ApiError::not_found("resource", id));
        }
        let written = save(state, caller, &row, &snapshot, None).await?;
        Ok(Attempt::won_if(written, || {
            json_response(
                StatusCode::OK,
                json!({"id": id, "type": "session_resource_deleted"}).to_string(),
            )
        }))
    })
    .await
}
