//! Files' bytes and rows together: where each object lives in blob storage, writing the object
//! before its row and deleting it after, the session outputs sync (what the agent wrote under
//! `/mnt/session/outputs/` becomes files scoped to the session), and the sweeps of expired files
//! and of what crashes left behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use berth_blob::{BlobError, BlobStore};
use berth_protocol::file::{FileObject, FileScope, FileTag, SessionScopeTag, guess_mime_type};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::time::{from_micros, micros, now};
use berth_store::{FileRecords, FileRow, Store, StoreError};
use chrono::{DateTime, Utc};

/// Why a file operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("reading the file: {0}")]
    Io(#[from] std::io::Error),
    /// A stored body is not what this version expects (a bug or a bad migration).
    #[error("a file's stored body: {0}")]
    Body(#[from] serde_json::Error),
}

/// Most output files synced per session (the rest are ignored, with a log line).
const MAX_OUTPUT_FILES: usize = 1000;
/// Largest output file synced.
const MAX_OUTPUT_BYTES: u64 = 1 << 30;

/// Where a file's bytes live in blob storage.
pub fn file_key(tenant_id: &str, file_id: &str) -> String {
    format!("t/{tenant_id}/files/{file_id}")
}

/// Where a skill version's files live in blob storage.
pub fn skill_prefix(tenant_id: &str, skill_id: &str, version_id: &str) -> String {
    format!("t/{tenant_id}/skills/{skill_id}/{version_id}")
}

/// The stored API object of a file row.
pub fn object_of(row: &FileRow) -> Result<FileObject, FileError> {
    Ok(serde_json::from_str(&row.body)?)
}

pub fn row_of(
    tenant_id: &str,
    file: &FileObject,
    output_path: Option<String>,
) -> Result<FileRow, FileError> {
    Ok(FileRow {
        id: file.id.clone(),
        tenant_id: tenant_id.to_owned(),
        scope_id: file.scope.as_ref().map(|s| s.id.clone()),
        output_path,
        created_at: micros(file.created_at),
        expires_at: file.expires_at.map(micros),
        size_bytes: file.size_bytes as i64,
        body: serde_json::to_string(file)?,
    })
}

/// Deletes a file's row, then its bytes.
pub async fn delete(
    store: &dyn FileRecords,
    blobs: &BlobStore,
    row: &FileRow,
) -> Result<bool, FileError> {
    let deleted = store.delete_file(&row.tenant_id, &row.id).await?;
    if deleted && let Err(e) = blobs.delete(&file_key(&row.tenant_id, &row.id)).await {
        tracing::warn!(file_id = %row.id, error = %e, "cannot delete a file's bytes");
    }
    Ok(deleted)
}

/// Deletes expired files (rows, then bytes), a batch at a time.
pub async fn delete_expired(store: &dyn FileRecords, blobs: &BlobStore) {
    match store.expired_files(micros(now()), 200).await {
        Ok(rows) => {
            for row in rows {
                if let Err(e) = delete(store, blobs, &row).await {
                    tracing::warn!(file_id = %row.id, error = ?e, "cannot delete an expired file");
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot look for expired files"),
    }
}

/// How old an object without a row must be before it counts as left behind: an upload's row
/// commits right after its bytes, so anything this old without one never got it.
pub const ORPHAN_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes what crashes left in blob storage: staged parts of uploads cut off midway, and file
/// objects whose row never committed. Returns how many bytes it freed.
pub async fn sweep_orphans(store: &dyn Store, blobs: &BlobStore) -> u64 {
    let mut freed = blobs
        .remove_abandoned_uploads(ORPHAN_GRACE)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot look for abandoned uploads");
            0
        });
    let mut query = berth_store::DocumentQuery {
        limit: 200,
        ..Default::default()
    };
    loop {
        let tenants = match store.list_tenants(&query).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list tenants for the orphan sweep");
                return freed;
            }
        };
        for tenant in &tenants {
            freed += sweep_tenant_files(store, blobs, &tenant.id).await;
        }
        match tenants.last() {
            Some(last) if tenants.len() == query.limit as usize => {
                query.after = Some(last.id.clone());
            }
            _ => return freed,
        }
    }
}

async fn sweep_tenant_files(store: &dyn FileRecords, blobs: &BlobStore, tenant_id: &str) -> u64 {
    let prefix = format!("t/{tenant_id}/files/");
    let listed = match blobs.list(&prefix).await {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(tenant_id, error = %e, "cannot list files for the orphan sweep");
            return 0;
        }
    };
    let mut freed = 0;
    for object in listed {
        let old = object
            .modified
            .elapsed()
            .is_ok_and(|age| age >= ORPHAN_GRACE);
        let Some(file_id) = object
            .key
            .strip_prefix(&prefix)
            .filter(|id| !id.contains('/'))
        else {
            continue;
        };
        if !old {
            continue;
        }
        // An expired file's row is hidden but its bytes go with it (the expiry sweep), so a
        // missing row is all it takes.
        match store.get_file(tenant_id, file_id, 0).await {
            Ok(None) => {
                if blobs.delete(&object.key).await.is_ok() {
                    tracing::info!(key = %object.key, bytes = object.size, "removed a file object without a row");
                    freed += object.size;
                }
            }
            Ok(Some(_)) => {}
            Err(e) => tracing::warn!(error = %e, "cannot check a file object's row"),
        }
    }
    freed
}

/// Deletes every file of a session (uploads scoped to it and its outputs).
pub async fn delete_session_files(
    store: &dyn FileRecords,
    blobs: &BlobStore,
    tenant_id: &str,
    session_id: &str,
) {
    match store.scoped_files(tenant_id, session_id).await {
        Ok(rows) => {
            for row in rows {
                if let Err(e) = delete(store, blobs, &row).await {
                    tracing::warn!(file_id = %row.id, error = ?e, "cannot delete a session's file");
                }
            }
        }
        Err(e) => tracing::warn!(session_id, error = %e, "cannot list a deleted session's files"),
    }
}

/// An output file found on disk.
struct OnDisk {
    relative: String,
    path: PathBuf,
    size: u64,
    modified: DateTime<Utc>,
}

fn scan_outputs(root: &Path) -> Vec<OnDisk> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                let Ok(relative) = entry
                    .path()
                    .strip_prefix(root)
                    .map(|p| p.to_string_lossy().into_owned())
                else {
                    continue;
                };
                let modified = meta
                    .modified()
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_else(|_| now());
                found.push(OnDisk {
                    relative,
                    path: entry.path(),
                    size: meta.len(),
                    modified,
                });
                if found.len() >= MAX_OUTPUT_FILES {
                    return found;
                }
            }
        }
    }
    found
}

/// Brings the session's output files up to date with `/mnt/session/outputs/`: new and changed
/// files are stored (object first, then row), removed ones deleted.
pub async fn sync_outputs(
    store: Arc<dyn Store>,
    blobs: &BlobStore,
    tenant_id: &str,
    session_id: &str,
    outputs_dir: PathBuf,
) {
    if !outputs_dir.exists() {
        return;
    }
    let dir = outputs_dir.clone();
    let on_disk = tokio::task::spawn_blocking(move || scan_outputs(&dir))
        .await
        .unwrap_or_default();
    let known = match store.scoped_files(tenant_id, session_id).await {
        Ok(rows) => rows
            .into_iter()
            .filter(|r| r.output_path.is_some())
            .collect::<Vec<_>>(),
        Err(e) => {
            tracing::warn!(session_id, error = %e, "cannot read the session's outputs");
            return;
        }
    };
    for file in &on_disk {
        let existing = known
            .iter()
            .find(|r| r.output_path.as_deref() == Some(file.relative.as_str()));
        let unchanged = existing.is_some_and(|r| {
            r.size_bytes as u64 == file.size && r.created_at == micros(file.modified)
        });
        if unchanged || file.size > MAX_OUTPUT_BYTES {
            continue;
        }
        let id = existing.map_or_else(|| new_id(prefix::FILE), |r| r.id.clone());
        if let Err(e) = store_output(
            store.as_ref(),
            blobs,
            tenant_id,
            session_id,
            &id,
            file,
            existing.is_some(),
        )
        .await
        {
            tracing::warn!(session_id, path = %file.relative, error = ?e, "cannot store an output file");
        }
    }
    for row in known.iter().filter(|r| {
        !on_disk
            .iter()
            .any(|f| Some(f.relative.as_str()) == r.output_path.as_deref())
    }) {
        if let Err(e) = delete(store.as_ref(), blobs, row).await {
            tracing::warn!(session_id, error = ?e, "cannot delete a removed output file");
        }
    }
}

async fn store_output(
    store: &dyn FileRecords,
    blobs: &BlobStore,
    tenant_id: &str,
    session_id: &str,
    id: &str,
    file: &OnDisk,
    replace: bool,
) -> Result<(), FileError> {
    let handle = tokio::fs::File::open(&file.path).await?;
    let stream = tokio_util::io::ReaderStream::new(handle);
    let size = blobs
        .put_stream(&file_key(tenant_id, id), stream, MAX_OUTPUT_BYTES)
        .await?;
    let object = FileObject {
        id: id.to_owned(),
        kind: FileTag,
        filename: file.relative.clone(),
        mime_type: guess_mime_type(&file.relative).to_owned(),
        size_bytes: size,
        created_at: from_micros(micros(file.modified)),
        downloadable: true,
        expires_at: None,
        scope: Some(FileScope {
            kind: SessionScopeTag,
            id: session_id.to_owned(),
        }),
    };
    let mut row = row_of(tenant_id, &object, Some(file.relative.clone()))?;
    // The row remembers the size and time the bytes were read at, to spot later changes.
    row.size_bytes = file.size as i64;
    if replace {
        store.replace_file(&row).await?;
    } else {
        store.insert_file(&row).await?;
    }
    Ok(())
}
