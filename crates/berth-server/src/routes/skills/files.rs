//! A skill version's files: the whole version as a zip bundle, and single files.

use super::versions::load_version;
use super::*;

#[utoipa::path(get, path = "/skills/{skill_id}/versions/{version}/content", tag = "skills",
    params(("skill_id" = String, Path), ("version" = String, Path)),
    responses((status = 200, description = "the version's files as a zip archive"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn version_content(
    State(state): AppStateRef,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    if builtin(&id).is_some() {
        return Err(ApiError::not_found("skill bundle", &id));
    }
    let row = load_version(&state, &caller, &id, &version).await?;
    let object: SkillVersionObject = serde_json::from_str(&row.body).map_err(ApiError::internal)?;
    let manifest: Vec<ManifestEntry> =
        serde_json::from_str(&row.manifest).map_err(ApiError::internal)?;
    // The archive is built in a temporary file, one member at a time, then streamed.
    let spool = tempfile::tempfile().map_err(ApiError::internal)?;
    let mut writer = zip::ZipWriter::new(spool);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (index, entry) in manifest.iter().enumerate() {
        let key = format!("{}/f{index}", skill_prefix(&caller.tenant_id, &id, &row.id));
        let bytes = state.runtime.blobs.read(&key).await.map_err(blob_error)?;
        let path = format!("{}/{}", object.name, entry.path);
        writer = tokio::task::spawn_blocking(move || -> Result<_, zip::result::ZipError> {
            use std::io::Write;
            writer.start_file(path, options)?;
            writer.write_all(&bytes)?;
            Ok(writer)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    }
    let file =
        tokio::task::spawn_blocking(move || -> Result<std::fs::File, zip::result::ZipError> {
            use std::io::Seek;
            let mut file = writer.finish()?;
            file.rewind()?;
            Ok(file)
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut response = Response::new(Body::from_stream(stream));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{}.zip\"", object.name)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[utoipa::path(get, path = "/skills/{skill_id}/files/{path}", tag = "skills",
    params(("skill_id" = String, Path), ("path" = String, Path)),
    responses((status = 200, description = "one file of the latest version"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn file(
    State(state): AppStateRef,
    caller: Caller,
    Path((id, path)): Path<(String, String)>,
) -> ApiResult<Response> {
    version_file_response(&state, &caller, &id, "latest", &path).await
}

#[utoipa::path(get, path = "/skills/{skill_id}/versions/{version}/files/{path}", tag = "skills",
    params(("skill_id" = String, Path), ("version" = String, Path), ("path" = String, Path)),
    responses((status = 200, description = "one file of the version"), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn version_file(
    State(state): AppStateRef,
    caller: Caller,
    Path((id, version, path)): Path<(String, String, String)>,
) -> ApiResult<Response> {
    version_file_response(&state, &caller, &id, &version, &path).await
}

/// One file of a version (`latest` for the newest), as stored.
async fn version_file_response(
    state: &AppState,
    caller: &Caller,
    id: &str,
    version: &str,
    path: &str,
) -> ApiResult<Response> {
    let row = load_version(state, caller, id, version).await?;
    let manifest: Vec<ManifestEntry> =
        serde_json::from_str(&row.manifest).map_err(ApiError::internal)?;
    let key = file_key(&caller.tenant_id, id, &row.id, &manifest, path)
        .ok_or_else(|| ApiError::not_found("skill file", path))?;
    let blob = state.runtime.blobs.get(&key).await.map_err(blob_error)?;
    let mut response = Response::new(Body::from_stream(blob.stream));
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(berth_protocol::file::guess_mime_type(path)) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size));
    Ok(response)
}
