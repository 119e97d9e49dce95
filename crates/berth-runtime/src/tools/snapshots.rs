//! Sandbox files that follow their session across replicas. At the end of each turn a
//! session's `workspace` and `outputs` go to blob storage as one archive (when they changed);
//! a replica that opens the session's sandbox without the latest archive's contents restores
//! it before any tool runs. Deleting the session deletes its archives.
//!
//! Under `t/<tenant>/sessions/<session>/workspace/` are `<id>.tar.gz` archives and `latest.json`,
//! naming the current one; it is written only after its archive is complete, so a reader never
//! sees half an archive. Each sandbox directory holds a marker, out of the sandbox's view,
//! with the id of the snapshot its files match and their fingerprint: a replica whose marker
//! names another id restores; one whose files still have the fingerprint skips the upload.
//!
//! A replica whose files are behind the latest snapshot (its restore failed) never uploads
//! them, so stale files cannot overwrite newer ones. On only when the database is shared
//! (PostgreSQL) and blob storage is configured (`BERTH_BLOB_URL`), as replicas need.

use std::path::Path;
use std::time::Duration;

use berth_blob::{BlobError, BlobStore};
use berth_protocol::ids::new_id;
use berth_sandbox::SandboxDirs;
use berth_sandbox::snapshot::{self, SnapshotError, SnapshotLimits};
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::pipe;

/// Snapshot ids are compared, never parsed; time-ordered ids make listings readable.
const ID_PREFIX: &str = "snap";
/// The marker in the sandbox's directory (not mounted into the sandbox).
const MARKER_FILE: &str = ".berth-snapshot";
/// A snapshot or restore still running after this long is abandoned (logged), so a stalled
/// blob store cannot hold a session: 1 GiB at a slow 2 MB/s fits.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(600);
/// Compressed archives are at most their contents plus tar headers; this leaves room for
/// the headers of many small files.
const MAX_ARCHIVE_BYTES: u64 = snapshot::MAX_SNAPSHOT_BYTES + (256 << 20);

#[derive(Debug, thiserror::Error)]
enum SnapshotFailure {
    #[error(transparent)]
    Files(#[from] SnapshotError),
    #[error("blob storage: {0}")]
    Blob(#[from] BlobError),
    #[error("{0}")]
    Other(String),
}

impl From<tokio::task::JoinError> for SnapshotFailure {
    fn from(e: tokio::task::JoinError) -> Self {
        Self::Other(format!("the snapshot task failed: {e}"))
    }
}

/// `latest.json`: the current snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Latest {
    id: String,
    /// Bytes of file contents and of the archive, for operators reading the bucket.
    content_bytes: u64,
    archive_bytes: u64,
}

/// The marker: which snapshot the local files match, and their fingerprint then.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Marker {
    id: String,
    fingerprint: String,
}

pub struct WorkspaceSnapshots {
    blobs: BlobStore,
    enabled: bool,
    limits: SnapshotLimits,
}

fn prefix(tenant_id: &str, session_id: &str) -> String {
    format!("t/{tenant_id}/sessions/{session_id}/workspace")
}

fn archive_key(tenant_id: &str, session_id: &str, id: &str) -> String {
    format!("{}/{id}.tar.gz", prefix(tenant_id, session_id))
}

fn latest_key(tenant_id: &str, session_id: &str) -> String {
    format!("{}/latest.json", prefix(tenant_id, session_id))
}

impl WorkspaceSnapshots {
    pub fn new(blobs: BlobStore, enabled: bool) -> Self {
        Self {
            blobs,
            enabled,
            limits: SnapshotLimits::default(),
        }
    }

    /// Uploads the session's files if they changed since the snapshot they match. Failures
    /// are logged: the session goes on, and its files stay on this replica.
    pub async fn save(&self, tenant_id: &str, session_id: &str, dirs: SandboxDirs) {
        if !self.enabled || !dirs.workspace.is_dir() {
            return;
        }
        let work = self.try_save(tenant_id, session_id, dirs);
        match tokio::time::timeout(TRANSFER_TIMEOUT, work).await {
            Ok(Ok(Some(id))) => tracing::debug!(session_id, snapshot = %id, "sandbox snapshotted"),
            Ok(Ok(None)) => {}
            Ok(Err(SnapshotFailure::Files(
                e @ (SnapshotError::TooLarge { .. } | SnapshotError::TooManyEntries { .. }),
            ))) => tracing::warn!(
                session_id,
                error = %e,
                "sandbox not snapshotted: its files stay on this replica only"
            ),
            Ok(Err(e)) => tracing::warn!(session_id, error = %e, "cannot snapshot the sandbox"),
            Err(_) => tracing::warn!(session_id, "snapshotting the sandbox timed out"),
        }
    }

    async fn try_save(
        &self,
        tenant_id: &str,
        session_id: &str,
        dirs: SandboxDirs,
    ) -> Result<Option<String>, SnapshotFailure> {
        let marker = read_marker(&dirs.root).await;
        let scan = dirs.clone();
        let now = tokio::task::spawn_blocking(move || snapshot::fingerprint(&scan)).await??;
        if marker.as_ref().is_some_and(|m| m.fingerprint == now.digest) {
            return Ok(None);
        }
        now.check(self.limits)?;
        let latest = self.latest(tenant_id, session_id).await?;
        if let Some(latest) = &latest
            && marker.as_ref().map(|m| m.id.as_str()) != Some(latest.id.as_str())
        {
            tracing::warn!(
                session_id,
                "the sandbox's files here are behind the latest snapshot; not snapshotting them"
            );
            return Ok(None);
        }
        let id = new_id(ID_PREFIX);
        let key = archive_key(tenant_id, session_id, &id);
        let archive_bytes = match self.upload(&key, dirs.clone()).await {
            Ok(size) => size,
            Err(e) => {
                let _ = self.blobs.delete(&key).await;
                return Err(e);
            }
        };
        let pointer = Latest {
            id: id.clone(),
            content_bytes: now.bytes,
            archive_bytes,
        };
        let body =
            serde_json::to_vec(&pointer).map_err(|e| SnapshotFailure::Other(e.to_string()))?;
        self.blobs
            .put_bytes(&latest_key(tenant_id, session_id), Bytes::from(body))
            .await?;
        write_marker(&dirs.root, &id, &now.digest).await;
        if let Some(previous) = latest {
            let old = archive_key(tenant_id, session_id, &previous.id);
            if let Err(e) = self.blobs.delete(&old).await {
                tracing::warn!(session_id, error = %e, "cannot delete a replaced snapshot");
            }
        }
        Ok(Some(id))
    }

    /// Packs on a blocking thread straight into the upload; the object counts only if both
    /// ends succeeded.
    async fn upload(&self, key: &str, dirs: SandboxDirs) -> Result<u64, SnapshotFailure> {
        let (mut writer, rx) = pipe::to_stream();
        let limits = self.limits;
        let packing =
            tokio::task::spawn_blocking(move || match snapshot::pack(&dirs, &mut writer, limits) {
                Ok(packed) => writer
                    .finish()
                    .map(|()| packed)
                    .map_err(SnapshotError::Archive),
                Err(e) => {
                    writer.fail(e.to_string());
                    Err(e)
                }
            });
        let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
        let uploaded = self.blobs.put_stream(key, stream, MAX_ARCHIVE_BYTES).await;
        match (uploaded, packing.await?) {
            (Ok(size), Ok(_)) => Ok(size),
            // The packer's own error says more than the upload's "the source failed".
            (Ok(_) | Err(BlobError::Source(_)), Err(e)) => Err(e.into()),
            (Err(e), _) => Err(e.into()),
        }
    }

    /// Brings the sandbox's files to the latest snapshot, if they are not there already.
    /// Failures are logged and the files left as they were.
    pub async fn restore(
        &self,
        tenant_id: &str,
        session_id: &str,
        dirs: &SandboxDirs,
        owner: Option<(u32, u32)>,
    ) {
        if !self.enabled {
            return;
        }
        let work = self.try_restore(tenant_id, session_id, dirs, owner);
        match tokio::time::timeout(TRANSFER_TIMEOUT, work).await {
            Ok(Ok(Some(id))) => {
                tracing::info!(session_id, snapshot = %id, "sandbox restored from its snapshot")
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => tracing::error!(
                session_id,
                error = %e,
                "cannot restore the sandbox from its snapshot; the turn runs on the files here"
            ),
            Err(_) => tracing::error!(session_id, "restoring the sandbox timed out"),
        }
    }

    async fn try_restore(
        &self,
        tenant_id: &str,
        session_id: &str,
        dirs: &SandboxDirs,
        owner: Option<(u32, u32)>,
    ) -> Result<Option<String>, SnapshotFailure> {
        let Some(latest) = self.latest(tenant_id, session_id).await? else {
            return Ok(None);
        };
        if read_marker(&dirs.root)
            .await
            .is_some_and(|m| m.id == latest.id)
        {
            return Ok(None);
        }
        let blob = match self
            .blobs
            .get(&archive_key(tenant_id, session_id, &latest.id))
            .await
        {
            Ok(blob) => blob,
            Err(BlobError::NotFound) => {
                // Nothing can ever be restored from it: carry on with the files here, and have
                // the end of the turn snapshot them in its place (no fingerprint matches ""),
                // rather than refuse to snapshot them forever.
                tracing::error!(
                    session_id,
                    snapshot = %latest.id,
                    "the latest sandbox snapshot's archive is missing; keeping the files here"
                );
                write_marker(&dirs.root, &latest.id, "").await;
                return Ok(None);
            }
            Err(e) => return Err(e.into()),
        };
        let (tx, reader) = pipe::from_stream();
        let (target, limits) = (dirs.clone(), self.limits);
        let unpacking = tokio::task::spawn_blocking(move || {
            snapshot::restore(&target, reader, owner, limits)?;
            snapshot::fingerprint(&target)
        });
        let mut stream = blob.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| std::io::Error::other(e.to_string()));
            // A closed pipe: the restore stopped (it says why below).
            if tx.send(chunk).await.is_err() {
                break;
            }
        }
        drop(tx);
        let restored = unpacking.await??;
        write_marker(&dirs.root, &latest.id, &restored.digest).await;
        Ok(Some(latest.id))
    }

    /// Deletes every snapshot of a session (whether or not snapshots are on now).
    pub async fn delete(&self, tenant_id: &str, session_id: &str) {
        if let Err(e) = self
            .blobs
            .delete_prefix(&prefix(tenant_id, session_id))
            .await
        {
            tracing::warn!(session_id, error = %e, "cannot delete the session's sandbox snapshots");
        }
    }

    async fn latest(
        &self,
        tenant_id: &str,
        session_id: &str,
    ) -> Result<Option<Latest>, SnapshotFailure> {
        match self.blobs.read(&latest_key(tenant_id, session_id)).await {
            Ok(body) => serde_json::from_slice(&body)
                .map(Some)
                .map_err(|e| SnapshotFailure::Other(format!("latest.json is unreadable: {e}"))),
            Err(BlobError::NotFound) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

async fn read_marker(root: &Path) -> Option<Marker> {
    let body = tokio::fs::read(root.join(MARKER_FILE)).await.ok()?;
    serde_json::from_slice(&body).ok()
}

/// Records what the local files match. A marker that cannot be written only costs a
/// needless upload or restore later.
async fn write_marker(root: &Path, id: &str, fingerprint: &str) {
    let marker = Marker {
        id: id.to_owned(),
        fingerprint: fingerprint.to_owned(),
    };
    let Ok(body) = serde_json::to_vec(&marker) else {
        return;
    };
    let partial = root.join(format!("{MARKER_FILE}.partial"));
    let written = async {
        tokio::fs::write(&partial, body).await?;
        tokio::fs::rename(&partial, root.join(MARKER_FILE)).await
    };
    if let Err(e) = written.await {
        tracing::warn!(path = %root.display(), error = %e, "cannot write the snapshot marker");
    }
}

#[cfg(test)]
mod tests;
