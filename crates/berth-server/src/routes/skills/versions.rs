//! Skill versions: create, list, retrieve and delete.

use super::*;

#[utoipa::path(post, path = "/skills/{skill_id}/versions", tag = "skills",
    params(("skill_id" = String, Path)),
    request_body(content_type = "multipart/form-data", description = "`files[]`, as for a new skill"),
    responses((status = 200, body = SkillVersionObject), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create_version(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    mut multipart: Multipart,
) -> ApiResult<Response> {
    refuse_builtin(&id)?;
    load(&state, &caller, &id).await?;
    let upload = receive(&state, &caller.tenant_id, &id, &mut multipart).await?;
    let stored_prefix = skill_prefix(&caller.tenant_id, &id, &upload.version_id);
    let (state, caller, id, upload) = (&state, &caller, &id, &upload);
    let result = optimistic(SKILL, id, || async move {
        let row = load(state, caller, id).await?;
        if row.name != upload.name {
            return Err(ApiError::bad_request(format!(
                "files: SKILL.md names the skill \"{}\", but this skill is \"{}\"",
                upload.name, row.name
            )));
        }
        let mut skill: SkillObject = serde_json::from_str(&row.body).map_err(ApiError::internal)?;
        let (version, object) = version_row(&caller.tenant_id, id, upload)?;
        skill.latest_version_id = upload.version_id.clone();
        skill.updated_at = object.created_at;
        if let Some(name) = &upload.display_name {
            skill.display_name = name.clone();
        }
        let next = SkillRow {
            updated_at: version.created_at,
            version: row.version + 1,
            body: serde_json::to_string(&skill).map_err(ApiError::internal)?,
            ..row.clone()
        };
        let written = state
            .store
            .add_skill_version(&next, &version, row.version)
            .await?;
        Ok(Attempt::won_if(written, || {
            json_response(StatusCode::OK, version.body)
        }))
    })
    .await;
    if result.is_err() {
        let _ = state.runtime.blobs.delete_prefix(&stored_prefix).await;
    }
    result
}

#[utoipa::path(get, path = "/skills/{skill_id}/versions", tag = "skills",
    params(("skill_id" = String, Path), ("limit" = Option<u32>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<SkillVersionObject>)))]
pub async fn list_versions(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    if let Some((_, version)) = builtin(&id) {
        let body = format!(
            "{{\"data\":[{}],\"next_page\":null,\"has_more\":false}}",
            serde_json::to_string(&version).map_err(ApiError::internal)?
        );
        return Ok(json_response(StatusCode::OK, body));
    }
    load(&state, &caller, &id).await?;
    let (query, limit) = document_query(&params, 20, 1000, Order::Desc)?;
    let rows = state
        .store
        .list_skill_versions(&caller.tenant_id, &id, &query)
        .await?;
    Ok(page_response(rows, limit, |r| &r.body, |r| r.id.clone()))
}

pub(super) async fn load_version(
    state: &AppState,
    caller: &Caller,
    id: &str,
    version: &str,
) -> ApiResult<SkillVersionRow> {
    let version = if version == "latest" {
        let skill: SkillObject = serde_json::from_str(&load(state, caller, id).await?.body)
            .map_err(ApiError::internal)?;
        skill.latest_version_id
    } else {
        version.to_owned()
    };
    state
        .store
        .get_skill_version(&caller.tenant_id, id, &version)
        .await?
        .ok_or_else(|| ApiError::not_found("skill version", &version))
}

#[utoipa::path(get, path = "/skills/{skill_id}/versions/{version}", tag = "skills",
    params(("skill_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = SkillVersionObject), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve_version(
    State(state): AppStateRef,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    if let Some((_, builtin_version)) =
        builtin(&id).filter(|_| version == BUILTIN_VERSION || version == "latest")
    {
        return Ok(json_response(
            StatusCode::OK,
            serde_json::to_string(&builtin_version).map_err(ApiError::internal)?,
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        load_version(&state, &caller, &id, &version).await?.body,
    ))
}

#[utoipa::path(delete, path = "/skills/{skill_id}/versions/{version}", tag = "skills",
    params(("skill_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = berth_protocol::ErrorBody), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn remove_version(
    State(state): AppStateRef,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<axum::Json<Deleted>> {
    refuse_builtin(&id)?;
    let (state, caller, id, version) = (&state, &caller, &id, &version);
    optimistic(SKILL, id, || async move {
        let row = load(state, caller, id).await?;
        let target = load_version(state, caller, id, version).await?;
        let mut skill: SkillObject = serde_json::from_str(&row.body).map_err(ApiError::internal)?;
        if skill.latest_version_id == target.id {
            let query = berth_store::DocumentQuery {
                limit: 2,
                ..Default::default()
            };
            let newest = state
                .store
                .list_skill_versions(&caller.tenant_id, id, &query)
                .await?;
            let Some(next) = newest.iter().find(|v| v.id != target.id) else {
                return Err(ApiError::bad_request(
                    "this is the skill's only version; delete the skill instead",
                ));
            };
            skill.latest_version_id = next.id.clone();
        }
        skill.updated_at = now();
        let next = SkillRow {
            updated_at: micros(skill.updated_at),
            version: row.version + 1,
            body: serde_json::to_string(&skill).map_err(ApiError::internal)?,
            ..row.clone()
        };
        if !state
            .store
            .delete_skill_version(&next, &target.id, row.version)
            .await?
        {
            return Ok(Attempt::Lost);
        }
        let _ = state
            .runtime
            .blobs
            .delete_prefix(&skill_prefix(&caller.tenant_id, id, &target.id))
            .await;
        Ok(Attempt::Done(axum::Json(Deleted::new(
            target.id,
            "skill_version_deleted",
        ))))
    })
    .await
}
