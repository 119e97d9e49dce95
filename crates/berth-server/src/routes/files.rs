//! `/v1/files`: multipart upload (streamed to blob storage), list, metadata, download, delete;
//! and a session's outputs (`/v1/sessions/{id}/outputs`).

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::file::{
    FileObject, FileScope, FileTag, MAX_EXPIRES_IN_SECONDS, MAX_LIST_IDS, MIN_EXPIRES_IN_SECONDS,
    SessionScopeTag, clean_mime_type, guess_mime_type, sanitize_filename,
};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::pagination::Order;
use berth_store::FileQuery;
use futures::TryStreamExt;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, multipart_error};
use crate::extract::QueryParams;
use berth_runtime::files::{delete, file_key, object_of, row_of};

use crate::files::{blob_error, download};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::{micros, now};

type AppStateRef = State<Arc<AppState>>;

const FILE: &str = "file";

/// A text field's value.
async fn text_field(field: axum::extract::multipart::Field<'_>) -> ApiResult<String> {
    let name = field.name().unwrap_or("").to_owned();
    let text = field.text().await.map_err(multipart_error)?;
    crate::nul::check_text(&name, &text)?;
    if text.len() > 1024 {
        return Err(ApiError::bad_request(format!("{name}: too long")));
    }
    Ok(text)
}

#[utoipa::path(post, path = "/files", tag = "files",
    request_body(content_type = "multipart/form-data", description = "`file` (required), `expires_in_seconds`, `session_id` or `scope_id` (seed: scopes the file to a session)"),
    responses((status = 200, body = FileObject), (status = 400, body = berth_protocol::ErrorBody),
              (status = 413, body = berth_protocol::ErrorBody)))]
pub async fn upload(
    State(state): AppStateRef,
    caller: Caller,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let id = new_id(prefix::FILE);
    let key = file_key(&caller.tenant_id, &id);
    let limit = state.config.max_upload_bytes;
    let mut stored: Option<(String, String, u64)> = None;
    let mut expires_in: Option<String> = None;
    let mut scope: Option<String> = None;
    let result: ApiResult<()> = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or("").to_owned();
            match name.as_str() {
                "file" => {
                    if stored.is_some() {
                        return Err(ApiError::bad_request(
                            "file: only one file may be uploaded at a time",
                        ));
                    }
                    let raw_name = field.file_name().unwrap_or("").to_owned();
                    crate::nul::check_text("file: its name", &raw_name)?;
                    let mime = field
                        .content_type()
                        .and_then(clean_mime_type)
                        .filter(|m| m != "application/octet-stream")
                        .unwrap_or_else(|| guess_mime_type(&raw_name).to_owned());
                    let filename = sanitize_filename(&raw_name, &mime);
                    let stream = field.map_err(|e| e.body_text());
                    let size = state
                        .runtime
                        .blobs
                        .put_stream(&key, stream, limit)
                        .await
                        .map_err(blob_error)?;
                    stored = Some((filename, mime, size));
                }
                "expires_in_seconds" => expires_in = Some(text_field(field).await?),
                "session_id" | "scope_id" => {
                    scope = Some(text_field(field).await?).filter(|s| !s.is_empty())
                }
                _ => {
                    // Unknown parts are read and ignored.
                    let mut field = field;
                    while field.chunk().await.map_err(multipart_error)?.is_some() {}
                }
            }
        }
        Ok(())
    }
    .await;
    let finished: ApiResult<Response> = async {
        result?;
        let (filename, mime_type, size_bytes) =
            stored.clone().ok_or_else(|| ApiError::bad_request("file: a `file` part is required"))?;
        let created_at = now();
        let expires_at = match &expires_in {
            None => None,
            Some(text) => {
                let seconds: i64 = text
                    .trim()
                    .parse()
                    .map_err(|_| ApiError::bad_request("expires_in_seconds: must be an integer"))?;
                if !(MIN_EXPIRES_IN_SECONDS..=MAX_EXPIRES_IN_SECONDS).contains(&seconds) {
                    return Err(ApiError::bad_request(format!(
                        "expires_in_seconds: must be between {MIN_EXPIRES_IN_SECONDS} and {MAX_EXPIRES_IN_SECONDS}"
                    )));
                }
                Some(created_at + chrono::Duration::seconds(seconds))
            }
        };
        if let Some(session_id) = &scope
            && state.store.get_session(&caller.tenant_id, session_id).await?.is_none()
        {
            return Err(ApiError::not_found("session", session_id));
        }
        let object = FileObject {
            id: id.clone(),
            kind: FileTag,
            filename,
            mime_type,
            size_bytes,
            created_at,
            downloadable: true,
            expires_at,
            scope: scope.map(|id| FileScope { kind: SessionScopeTag, id }),
        };
        let row = row_of(&caller.tenant_id, &object, None)?;
        state.store.insert_file(&row).await?;
        Ok(json_response(StatusCode::OK, row.body))
    }
    .await;
    if finished.is_err() && stored.is_some() {
        // Nothing of a refused upload is kept.
        let _ = state.runtime.blobs.delete(&key).await;
    }
    finished
}

#[utoipa::path(get, path = "/files", tag = "files",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query), ("scope_id" = Option<String>, Query),
           ("ids[]" = Option<Vec<String>>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<FileObject>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let ids = params.get_all("ids");
    let ids = if ids.is_empty() {
        None
    } else {
        if params.get("page").is_some() || params.get("limit").is_some() {
            return Err(ApiError::bad_request(
                "ids[] cannot be combined with page or limit",
            ));
        }
        let mut ids = ids;
        ids.sort();
        ids.dedup();
        if ids.len() > MAX_LIST_IDS {
            return Err(ApiError::bad_request(format!(
                "ids[]: at most {MAX_LIST_IDS} ids"
            )));
        }
        Some(ids)
    };
    let (mut page, limit) = document_query(&params, 20, 1000, Order::Desc)?;
    if let Some(ids) = &ids {
        page.limit = ids.len() as u32 + 1;
    }
    let query = FileQuery {
        scope_id: params.get("scope_id").map(str::to_owned),
        ids,
        page,
    };
    let rows = state
        .store
        .list_files(&caller.tenant_id, &query, micros(now()))
        .await?;
    let limit = if query.ids.is_some() {
        rows.len() as u32
    } else {
        limit
    };
    Ok(page_response(rows, limit, |r| &r.body, |r| r.id.clone()))
}

/// Whether a request asks for a file's bytes rather than its metadata: an `Accept` header that
/// names a type and is not JSON (`application/json`, `*/*` or none mean metadata).
fn wants_content(headers: &HeaderMap) -> bool {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    !accept.is_empty() && !accept.contains("json") && !accept.contains("*/*")
}

#[utoipa::path(get, path = "/files/{file_id}", tag = "files",
    params(("file_id" = String, Path)),
    responses((status = 200, body = FileObject, description = "metadata; the bytes when `Accept` names a non-JSON type"),
              (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let row = state
        .store
        .get_file(&caller.tenant_id, &id, micros(now()))
        .await?
        .ok_or_else(|| ApiError::not_found(FILE, &id))?;
    if wants_content(&headers) {
        return download(&state.runtime.blobs, &row).await;
    }
    Ok(json_response(StatusCode::OK, row.body))
}

#[utoipa::path(get, path = "/files/{file_id}/content", tag = "files",
    params(("file_id" = String, Path)),
    responses((status = 200, description = "the file's bytes"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn content(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = state
        .store
        .get_file(&caller.tenant_id, &id, micros(now()))
        .await?
        .ok_or_else(|| ApiError::not_found(FILE, &id))?;
    if !object_of(&row)?.downloadable {
        return Err(ApiError::forbidden(format!(
            "file {id} is not downloadable"
        )));
    }
    download(&state.runtime.blobs, &row).await
}

#[utoipa::path(delete, path = "/files/{file_id}", tag = "files",
    params(("file_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn remove(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    let row = state
        .store
        .get_file(&caller.tenant_id, &id, i64::MIN)
        .await?
        .ok_or_else(|| ApiError::not_found(FILE, &id))?;
    if delete(state.store.as_ref(), &state.runtime.blobs, &row).await? {
        Ok(axum::Json(Deleted::new(id, "file_deleted")))
    } else {
        Err(ApiError::not_found(FILE, &id))
    }
}

#[utoipa::path(get, path = "/sessions/{session_id}/outputs", tag = "files",
    params(("session_id" = String, Path)),
    responses((status = 200, description = "`{data: [{filename, size_bytes, uploaded_at, media_type, file_id}], has_more}`")))]
pub async fn outputs(
    State(state): AppStateRef,
    caller: Caller,
    Path(session_id): Path<String>,
) -> ApiResult<Response> {
    if state
        .store
        .get_session(&caller.tenant_id, &session_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("session", &session_id));
    }
    let rows = state
        .store
        .scoped_files(&caller.tenant_id, &session_id)
        .await?;
    let mut data = Vec::new();
    for row in rows.iter().filter(|r| r.output_path.is_some()) {
        let file = object_of(row)?;
        data.push(serde_json::json!({
            "filename": file.filename,
            "size_bytes": file.size_bytes,
            "uploaded_at": file.created_at,
            "media_type": file.mime_type,
            "file_id": file.id,
        }));
    }
    Ok(json_response(
        StatusCode::OK,
        serde_json::json!({"data": data, "has_more": false}).to_string(),
    ))
}

#[utoipa::path(get, path = "/sessions/{session_id}/outputs/{filename}", tag = "files",
    params(("session_id" = String, Path), ("filename" = String, Path)),
    responses((status = 200, description = "the output's bytes"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn output(
    State(state): AppStateRef,
    caller: Caller,
    Path((session_id, filename)): Path<(String, String)>,
) -> ApiResult<Response> {
    if filename
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
        || filename.contains('\\')
    {
        return Err(ApiError::bad_request("invalid filename"));
    }
    let rows = state
        .store
        .scoped_files(&caller.tenant_id, &session_id)
        .await?;
    let row = rows
        .iter()
        .find(|r| r.output_path.as_deref() == Some(filename.as_str()))
        .ok_or_else(|| ApiError::not_found("output file", &filename))?;
    download(&state.runtime.blobs, row).await
}
