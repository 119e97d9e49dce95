//! Files over HTTP: downloads streamed from blob storage, and how blob and file failures become
//! error responses. The files themselves (keys, rows, outputs, sweeps) are the runtime's
//! (`berth_runtime::files`).

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use berth_blob::{BlobError, BlobStore};
use berth_runtime::files::{FileError, file_key, object_of};
use berth_store::FileRow;

use crate::error::ApiError;

pub fn blob_error(e: BlobError) -> ApiError {
    match e {
        BlobError::NotFound => ApiError::internal("a file's bytes are missing from blob storage"),
        BlobError::TooLarge(limit) => ApiError::too_large(limit as usize),
        BlobError::Source(message) => {
            ApiError::bad_request(format!("the upload was cut short: {message}"))
        }
        other => ApiError::internal(other),
    }
}

/// A file operation's failure as a response.
impl From<FileError> for ApiError {
    fn from(e: FileError) -> Self {
        match e {
            FileError::Store(e) => ApiError::from(e),
            FileError::Blob(e) => blob_error(e),
            other => ApiError::internal(other),
        }
    }
}

/// Streams a file's bytes as a download.
pub async fn download(blobs: &BlobStore, row: &FileRow) -> Result<Response, ApiError> {
    let file = object_of(row)?;
    let blob = blobs
        .get(&file_key(&row.tenant_id, &row.id))
        .await
        .map_err(blob_error)?;
    let body = Body::from_stream(blob.stream);
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.mime_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(blob.size));
    let ascii: String = file
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
