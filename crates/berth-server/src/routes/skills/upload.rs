//! Receiving a version's files: multipart parts (or one zip archive) streamed into blob storage
//! under the version's prefix, then checked as a whole; a refused upload leaves nothing behind.

use super::*;
use crate::error::multipart_error;

/// An uploaded version, stored but not yet recorded.
pub(super) struct Upload {
    pub version_id: String,
    pub display_name: Option<String>,
    pub name: String,
    pub description: String,
    pub manifest: Vec<ManifestEntry>,
}

/// Streams the parts of a version upload into blob storage under the version's prefix.
pub(super) async fn receive(
    state: &AppState,
    tenant_id: &str,
    skill_id: &str,
    multipart: &mut Multipart,
) -> ApiResult<Upload> {
    let version_id = format!("{:016}", micros(now()));
    let prefix = skill_prefix(tenant_id, skill_id, &version_id);
    let mut raw_paths: Vec<String> = Vec::new();
    let mut sizes: Vec<u64> = Vec::new();
    let mut skill_md: Vec<(usize, Vec<u8>)> = Vec::new();
    let mut display_name = None;
    let mut description = None;
    let mut total = 0u64;
    let unpacked_dir = tempfile::tempdir().map_err(ApiError::internal)?;
    let received: ApiResult<()> = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or("").to_owned();
            match name.as_str() {
                "files" | "files[]" | "file"
                    if raw_paths.is_empty()
                        && zip_upload::is_zip(
                            field.file_name().unwrap_or(""),
                            field.content_type(),
                        ) =>
                {
                    // The whole skill as one archive.
                    for file in zip_upload::unpack(field, unpacked_dir.path()).await? {
                        let index = raw_paths.len();
                        let key = format!("{prefix}/f{index}");
                        if file.path.rsplit('/').next() == Some(SKILL_FILE) {
                            let bytes = tokio::fs::read(&file.file).await.map_err(ApiError::internal)?;
                            skill_md.push((index, bytes.clone()));
                            state.runtime.blobs.put_bytes(&key, bytes.into()).await.map_err(blob_error)?;
                        } else {
                            let reader = tokio::fs::File::open(&file.file).await.map_err(ApiError::internal)?;
                            let stream = tokio_util::io::ReaderStream::new(reader).map_err(|e| e.to_string());
                            state.runtime.blobs.put_stream(&key, stream, file.size).await.map_err(blob_error)?;
                        }
                        total += file.size;
                        raw_paths.push(file.path);
                        sizes.push(file.size);
                    }
                }
                "files" | "files[]" | "file" => {
                    let path = field.file_name().unwrap_or("").to_owned();
                    crate::nul::check_text("files: a file name", &path)?;
                    if path.is_empty() {
                        return Err(ApiError::bad_request("files: every file part needs a filename (its path in the skill)"));
                    }
                    if raw_paths.len() >= MAX_SKILL_FILES {
                        return Err(ApiError::bad_request(format!("files: a skill holds at most {MAX_SKILL_FILES} files")));
                    }
                    let index = raw_paths.len();
                    let left = MAX_SKILL_TOTAL_BYTES.saturating_sub(total);
                    let limit = MAX_SKILL_FILE_BYTES.min(left);
                    let size = if path.rsplit(['/', '\\']).next() == Some(SKILL_FILE) {
                        let bytes = field.bytes().await.map_err(multipart_error)?;
                        if bytes.len() as u64 > limit {
                            return Err(ApiError::too_large(limit as usize));
                        }
                        skill_md.push((index, bytes.to_vec()));
                        state.runtime.blobs.put_bytes(&format!("{prefix}/f{index}"), bytes.clone()).await.map_err(blob_error)?;
                        bytes.len() as u64
                    } else {
                        let stream = field.map_err(|e| e.body_text());
                        state
                            .runtime.blobs
                            .put_stream(&format!("{prefix}/f{index}"), stream, limit)
                            .await
                            .map_err(|e| match e {
                                berth_blob::BlobError::TooLarge(_) => ApiError::new(
                                    StatusCode::PAYLOAD_TOO_LARGE,
                                    berth_protocol::ErrorType::RequestTooLarge,
                                    format!("{path}: a skill file may be at most {MAX_SKILL_FILE_BYTES} bytes and a skill {MAX_SKILL_TOTAL_BYTES} bytes"),
                                ),
                                other => blob_error(other),
                            })?
                    };
                    total += size;
                    raw_paths.push(path);
                    sizes.push(size);
                }
                "display_name" | "display_title" => {
                    let text = field.text().await.map_err(multipart_error)?;
                    crate::nul::check_text(&name, &text)?;
                    display_name = Some(text);
                }
                "description" => {
                    let text = field.text().await.map_err(multipart_error)?;
                    crate::nul::check_text(&name, &text)?;
                    if text.chars().count() > MAX_DESCRIPTION_CHARS {
                        return Err(ApiError::bad_request(format!(
                            "description: at most {MAX_DESCRIPTION_CHARS} characters"
                        )));
                    }
                    description = Some(text);
                }
                "id" => {
                    return Err(ApiError::bad_request(
                        "id: skill ids are assigned by the server (skill_…); leave the part out",
                    ));
                }
                _ => {
                    let mut field = field;
                    while field.chunk().await.map_err(multipart_error)?.is_some() {}
                }
            }
        }
        Ok(())
    }
    .await;
    if received.is_err() {
        // Read what the client is still sending (the route's body limit bounds it), so that
        // it gets the answer rather than a connection closed under its upload.
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(_)) = field.chunk().await {}
        }
    }
    let checked: ApiResult<Upload> = async {
        received?;
        let inner = skill_paths(&raw_paths)?;
        let root = inner.iter().position(|p| p == SKILL_FILE).unwrap_or(0);
        let text = skill_md
            .iter()
            .find(|(i, _)| *i == root)
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        let text = String::from_utf8(text)
            .map_err(|_| ApiError::bad_request("files: SKILL.md must be UTF-8 text"))?;
        let header = parse_skill_md(&text)?;
        if let Some(d) = &display_name {
            if d.trim().is_empty()
                || d.chars().count() > MAX_DISPLAY_NAME_CHARS
                || d.contains(['\n', '\r'])
            {
                return Err(ApiError::bad_request(format!(
                    "display_name: must be a single line of 1-{MAX_DISPLAY_NAME_CHARS} characters"
                )));
            }
            berth_protocol::validation::check_name_text("display_name", d)?;
        }
        // Blobs are stored by part index; the manifest maps paths to them.
        let manifest = inner
            .iter()
            .zip(&sizes)
            .map(|(path, size)| ManifestEntry {
                path: path.clone(),
                size: *size,
            })
            .collect();
        Ok(Upload {
            version_id: version_id.clone(),
            display_name,
            name: header.name,
            // Given explicitly, the description wins over the one in SKILL.md.
            description: description.unwrap_or(header.description),
            manifest,
        })
    }
    .await;
    if checked.is_err() {
        let _ = state.runtime.blobs.delete_prefix(&prefix).await;
    }
    checked
}
