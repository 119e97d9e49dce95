//! Liveness and readiness, both without authentication.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// `GET /healthz`: the process is up. Never touches the database, so it stays cheap.
#[utoipa::path(get, path = "/healthz", tag = "health", responses((status = 200, description = "`{\"ok\": true}`")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "ok": true }))
}

/// `GET /readyz`: the process can serve requests, i.e. its database answers.
#[utoipa::path(get, path = "/readyz", tag = "health", responses((status = 200, description = "`{\"ok\": true, \"database\": \"sqlite\"}`"), (status = 503, body = berth_protocol::ErrorBody)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> ApiResult<Json<Value>> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::unavailable(format!("database not ready: {e}")))?;
    Ok(Json(
        json!({ "ok": true, "database": state.store.backend() }),
    ))
}
