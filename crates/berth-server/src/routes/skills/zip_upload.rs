//! A skill uploaded as one zip archive: spooled to a temporary file (bounded by the size of a
//! whole skill), its entries unpacked one by one into a temporary directory with every limit
//! checked on the bytes actually read (never on the sizes the archive claims), then handed to
//! the upload as if each had been a file part. Metadata that editors and operating systems add
//! (`__MACOSX/`, `.git/`, `.DS_Store`, `._*` …) is left out.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use axum::extract::multipart::Field;
use berth_protocol::skill::{MAX_SKILL_FILE_BYTES, MAX_SKILL_FILES, MAX_SKILL_TOTAL_BYTES};
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};

/// One unpacked file: its path in the archive, where its bytes are, and how many there are.
pub(super) struct Unpacked {
    pub path: String,
    pub file: PathBuf,
    pub size: u64,
}

/// Whether a file part is a zip archive rather than a file of the skill.
pub(super) fn is_zip(file_name: &str, content_type: Option<&str>) -> bool {
    content_type.is_some_and(|t| t.eq_ignore_ascii_case("application/zip"))
        || file_name.to_ascii_lowercase().ends_with(".zip")
}

/// Paths an archive may hold that are not part of the skill.
fn is_metadata(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    ["__MACOSX/", ".git/", ".idea/", ".vscode/"]
        .iter()
        .any(|prefix| path.starts_with(prefix) || path.contains(&format!("/{prefix}")))
        || name == ".DS_Store"
        || name == "Thumbs.db"
        || name.starts_with("._")
}

#[derive(Debug, thiserror::Error)]
enum UnpackError {
    #[error("files: could not read the zip archive: {0}")]
    Unreadable(String),
    #[error("files: the zip archive is empty (after leaving out metadata files)")]
    Empty,
    #[error("files: a skill holds at most {MAX_SKILL_FILES} files")]
    TooMany,
    #[error(
        "files: a skill file may be at most {MAX_SKILL_FILE_BYTES} bytes and a skill \
         {MAX_SKILL_TOTAL_BYTES} bytes"
    )]
    TooLarge,
}

impl From<UnpackError> for ApiError {
    fn from(e: UnpackError) -> Self {
        match e {
            UnpackError::TooLarge => ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                berth_protocol::ErrorType::RequestTooLarge,
                e.to_string(),
            ),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// Spools the zip part and unpacks it into `into`.
pub(super) async fn unpack(mut field: Field<'_>, into: &Path) -> ApiResult<Vec<Unpacked>> {
    let spool = tempfile::tempfile().map_err(ApiError::internal)?;
    let mut spool = tokio::fs::File::from_std(spool);
    let mut spooled = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(crate::error::multipart_error)? {
        spooled += chunk.len() as u64;
        if spooled > MAX_SKILL_TOTAL_BYTES {
            return Err(UnpackError::TooLarge.into());
        }
        spool.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    let spool = spool.into_std().await;
    let into = into.to_owned();
    Ok(
        tokio::task::spawn_blocking(move || unpack_archive(spool, &into))
            .await
            .map_err(ApiError::internal)??,
    )
}

fn unpack_archive(spool: std::fs::File, into: &Path) -> Result<Vec<Unpacked>, UnpackError> {
    let unreadable = |e: &dyn std::fmt::Display| UnpackError::Unreadable(e.to_string());
    let mut archive = zip::ZipArchive::new(spool).map_err(|e| unreadable(&e))?;
    let mut unpacked = Vec::new();
    let mut total = 0u64;
    for index in 0..archive.len() {
        let entry = archive.by_index(index).map_err(|e| unreadable(&e))?;
        let path = entry.name().to_owned();
        if entry.is_dir() || is_metadata(&path) {
            continue;
        }
        if unpacked.len() >= MAX_SKILL_FILES {
            return Err(UnpackError::TooMany);
        }
        let limit = MAX_SKILL_FILE_BYTES.min(MAX_SKILL_TOTAL_BYTES.saturating_sub(total));
        let file = into.join(format!("f{}", unpacked.len()));
        let mut writer = std::fs::File::create(&file).map_err(|e| unreadable(&e))?;
        let mut bounded = entry.take(limit + 1);
        let size = std::io::copy(&mut bounded, &mut writer).map_err(|e| unreadable(&e))?;
        if size > limit {
            return Err(UnpackError::TooLarge);
        }
        writer.flush().map_err(|e| unreadable(&e))?;
        total += size;
        unpacked.push(Unpacked { path, file, size });
    }
    if unpacked.is_empty() {
        return Err(UnpackError::Empty);
    }
    Ok(unpacked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_files_are_left_out() {
        for path in [
            "__MACOSX/skill/._SKILL.md",
            "skill/.git/config",
            "skill/.DS_Store",
            "skill/._notes.md",
            "Thumbs.db",
        ] {
            assert!(is_metadata(path), "{path}");
        }
        for path in ["skill/SKILL.md", "skill/scripts/run.py", "git.md"] {
            assert!(!is_metadata(path), "{path}");
        }
        assert!(is_zip("skill.ZIP", None));
        assert!(is_zip("bundle", Some("application/zip")));
        assert!(!is_zip("SKILL.md", Some("text/markdown")));
    }
}
