//! `/v1/skills`: custom skills uploaded as folders of files with a `SKILL.md` at the root, their
//! versions, their bundles (zip) and single files; the built-in skills, listed but without
//! files here.

mod files;
mod upload;
mod versions;
mod zip_upload;

pub use files::*;
pub use versions::*;

use upload::{Upload, receive};

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::pagination::Order;
use berth_protocol::skill::{
    BUILTIN_SKILLS, MAX_DESCRIPTION_CHARS, MAX_DISPLAY_NAME_CHARS, MAX_SKILL_FILE_BYTES,
    MAX_SKILL_FILES, MAX_SKILL_TOTAL_BYTES, SKILL_FILE, SkillObject, SkillSourceKind,
    SkillSourceObject, SkillTag, SkillVersionObject, SkillVersionTag, parse_skill_md, skill_paths,
};
use berth_store::{Attempt, SkillRow, SkillVersionRow, StoreError};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::documents::optimistic;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use berth_runtime::files::skill_prefix;

use crate::files::blob_error;
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::{micros, now};

type AppStateRef = State<Arc<AppState>>;

const SKILL: &str = "skill";
/// When the built-in skills say they were created.
const BUILTIN_CREATED: &str = "2025-10-16T00:00:00Z";
const BUILTIN_VERSION: &str = "1";

/// One file of a version: its path inside the skill and where its bytes are.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ManifestEntry {
    path: String,
    size: u64,
}

fn builtin(id: &str) -> Option<(SkillObject, SkillVersionObject)> {
    let (name, description) = BUILTIN_SKILLS.iter().find(|(n, _)| *n == id)?;
    let created = chrono::DateTime::parse_from_rfc3339(BUILTIN_CREATED)
        .ok()?
        .to_utc();
    Some((
        SkillObject {
            id: (*name).to_owned(),
            kind: SkillTag,
            display_name: (*name).to_owned(),
            latest_version_id: BUILTIN_VERSION.to_owned(),
            source: SkillSourceObject {
                kind: SkillSourceKind::Anthropic,
            },
            created_at: created,
            updated_at: created,
        },
        SkillVersionObject {
            id: BUILTIN_VERSION.to_owned(),
            kind: SkillVersionTag,
            skill_id: (*name).to_owned(),
            name: (*name).to_owned(),
            description: format!("Create, edit and analyse {description}"),
            created_at: created,
        },
    ))
}

fn refuse_builtin(id: &str) -> ApiResult<()> {
    if builtin(id).is_some() {
        return Err(ApiError::bad_request(format!(
            "{id} is a built-in skill and cannot be changed or deleted"
        ))
        .with_code("builtin_skill"));
    }
    Ok(())
}

/// Where a version's file is in blob storage.
fn file_key(
    tenant_id: &str,
    skill_id: &str,
    version_id: &str,
    manifest: &[ManifestEntry],
    path: &str,
) -> Option<String> {
    let index = manifest.iter().position(|e| e.path == path)?;
    Some(format!(
        "{}/f{index}",
        skill_prefix(tenant_id, skill_id, version_id)
    ))
}

fn version_row(
    tenant_id: &str,
    skill_id: &str,
    upload: &Upload,
) -> ApiResult<(SkillVersionRow, SkillVersionObject)> {
    let created = berth_protocol::time::from_micros(upload.version_id.parse().unwrap_or_default());
    let object = SkillVersionObject {
        id: upload.version_id.clone(),
        kind: SkillVersionTag,
        skill_id: skill_id.to_owned(),
        name: upload.name.clone(),
        description: upload.description.clone(),
        created_at: created,
    };
    let row = SkillVersionRow {
        skill_id: skill_id.to_owned(),
        id: upload.version_id.clone(),
        tenant_id: tenant_id.to_owned(),
        created_at: micros(created),
        body: serde_json::to_string(&object).map_err(ApiError::internal)?,
        manifest: serde_json::to_string(&upload.manifest).map_err(ApiError::internal)?,
    };
    Ok((row, object))
}

#[utoipa::path(post, path = "/skills", tag = "skills",
    request_body(content_type = "multipart/form-data", description = "`files[]` (paths inside the skill, SKILL.md at the root), `display_name`"),
    responses((status = 200, body = SkillObject), (status = 400, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody), (status = 413, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    let id = new_id(prefix::SKILL);
    let upload = receive(&state, &caller.tenant_id, &id, &mut multipart).await?;
    let (version, _) = version_row(&caller.tenant_id, &id, &upload)?;
    let created = berth_protocol::time::from_micros(version.created_at);
    let skill = SkillObject {
        id: id.clone(),
        kind: SkillTag,
        display_name: upload
            .display_name
            .clone()
            .unwrap_or_else(|| upload.name.clone()),
        latest_version_id: upload.version_id.clone(),
        source: SkillSourceObject {
            kind: SkillSourceKind::Custom,
        },
        created_at: created,
        updated_at: created,
    };
    let row = SkillRow {
        id: id.clone(),
        tenant_id: caller.tenant_id.clone(),
        name: upload.name.clone(),
        created_at: version.created_at,
        updated_at: version.created_at,
        version: 1,
        body: serde_json::to_string(&skill).map_err(ApiError::internal)?,
    };
    match state.store.insert_skill(&row, &version).await {
        Ok(()) => Ok(json_response(StatusCode::OK, row.body)),
        Err(e) => {
            let _ = state
                .runtime
                .blobs
                .delete_prefix(&format!("t/{}/skills/{id}", caller.tenant_id))
                .await;
            match e {
                StoreError::Conflict(_) => Err(ApiError::conflict(format!(
                    "a skill named \"{}\" already exists; upload a new version of it instead",
                    upload.name
                ))
                .with_code("skill_name_taken")),
                other => Err(other.into()),
            }
        }
    }
}

#[utoipa::path(get, path = "/skills", tag = "skills",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query), ("source" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<SkillObject>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let source = params.get("source");
    let builtins: Vec<String> = BUILTIN_SKILLS
        .iter()
        .filter_map(|(id, _)| builtin(id))
        .filter_map(|(skill, _)| serde_json::to_string(&skill).ok())
        .collect();
    match source {
        Some("anthropic") => {
            let body = format!(
                "{{\"data\":[{}],\"next_page\":null,\"has_more\":false}}",
                builtins.join(",")
            );
            return Ok(json_response(StatusCode::OK, body));
        }
        Some("custom") | None => {}
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "source: must be custom or anthropic, not \"{other}\""
            )));
        }
    }
    let (query, limit) = document_query(&params, 20, 1000, Order::Desc)?;
    let mut rows = state.store.list_skills(&caller.tenant_id, &query).await?;
    let last_page = rows.len() <= limit as usize;
    let mut bodies: Vec<String> = rows
        .iter_mut()
        .map(|r| std::mem::take(&mut r.body))
        .collect();
    // Built-in skills follow the custom ones, on the last page.
    if source.is_none() && last_page {
        bodies.extend(builtins);
        let limit = bodies.len() as u32;
        return Ok(page_response(bodies, limit, String::as_str, |_| {
            String::new()
        }));
    }
    let pairs: Vec<(String, String)> = rows.iter().map(|r| r.id.clone()).zip(bodies).collect();
    Ok(page_response(
        pairs,
        limit,
        |p| p.1.as_str(),
        |p| p.0.clone(),
    ))
}

async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<SkillRow> {
    state
        .store
        .get_skill(&caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(SKILL, id))
}

#[utoipa::path(get, path = "/skills/{skill_id}", tag = "skills",
    params(("skill_id" = String, Path)),
    responses((status = 200, body = SkillObject), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if let Some((skill, _)) = builtin(&id) {
        return Ok(json_response(
            StatusCode::OK,
            serde_json::to_string(&skill).map_err(ApiError::internal)?,
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        load(&state, &caller, &id).await?.body,
    ))
}

#[utoipa::path(delete, path = "/skills/{skill_id}", tag = "skills",
    params(("skill_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = berth_protocol::ErrorBody), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn remove(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    refuse_builtin(&id)?;
    if !state.store.delete_skill(&caller.tenant_id, &id).await? {
        return Err(ApiError::not_found(SKILL, &id));
    }
    if let Err(e) = state
        .runtime
        .blobs
        .delete_prefix(&format!("t/{}/skills/{id}", caller.tenant_id))
        .await
    {
        tracing::warn!(skill_id = %id, error = %e, "cannot delete a skill's files");
    }
    Ok(axum::Json(Deleted::new(id, "skill_deleted")))
}

/// Refuses skill references that name no skill of the tenant (or no such version).
pub async fn check_references(
    state: &AppState,
    caller: &Caller,
    skills: &[berth_protocol::agent::Skill],
) -> ApiResult<()> {
    for (i, skill) in skills.iter().enumerate() {
        let at = format!("skills[{i}]");
        match skill.kind {
            berth_protocol::agent::SkillSource::Anthropic => {
                if builtin(&skill.skill_id).is_none() {
                    return Err(ApiError::bad_request(format!(
                        "{at}.skill_id: no built-in skill \"{}\"",
                        skill.skill_id
                    )));
                }
            }
            berth_protocol::agent::SkillSource::Custom => {
                let Some(row) = state
                    .store
                    .get_skill(&caller.tenant_id, &skill.skill_id)
                    .await?
                else {
                    return Err(ApiError::bad_request(format!(
                        "{at}.skill_id: no skill {}",
                        skill.skill_id
                    )));
                };
                if skill.version != berth_protocol::agent::LATEST_SKILL_VERSION
                    && state
                        .store
                        .get_skill_version(&caller.tenant_id, &row.id, &skill.version)
                        .await?
                        .is_none()
                {
                    return Err(ApiError::bad_request(format!(
                        "{at}.version: skill {} has no version {}",
                        skill.skill_id, skill.version
                    )));
                }
            }
        }
    }
    Ok(())
}
