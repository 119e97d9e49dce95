//! Blob storage for file contents, skill bundles and session outputs, over `object_store`: a
//! directory under the data dir by default, or S3-compatible storage (`s3://bucket/prefix`,
//! credentials and endpoint from the usual `AWS_*` variables) with the `s3` feature.
//!
//! Uploads and downloads stream: an upload is written in parts of a fixed size with at most two
//! in flight, a download is a stream of the store's chunks, so memory stays flat whatever the
//! object's size.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::{GetResultPayload, ObjectStore, WriteMultipart};

/// Part size for local uploads; S3 needs at least 5 MiB.
const LOCAL_PART_BYTES: usize = 1 << 20;
const S3_PART_BYTES: usize = 5 << 20;
/// Chunk size when streaming a local file out.
const LOCAL_READ_BYTES: usize = 1 << 20;
/// Parts uploading at once.
const PARTS_IN_FLIGHT: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("not found")]
    NotFound,
    #[error("the upload exceeds the limit of {0} bytes")]
    TooLarge(u64),
    #[error("reading the upload failed: {0}")]
    Source(String),
    #[error("blob storage is not configured correctly: {0}")]
    Config(String),
    #[error("blob storage failed: {0}")]
    Store(String),
}

fn store_error(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { .. } => BlobError::NotFound,
        other => BlobError::Store(other.to_string()),
    }
}

/// A stored object being read.
pub struct Blob {
    pub size: u64,
    pub stream: BoxStream<'static, Result<Bytes, BlobError>>,
}

/// An object's key, size and last change, from a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub modified: std::time::SystemTime,
}

/// Settings for an S3-compatible store that override the environment.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// e.g. `http://127.0.0.1:9000` for MinIO or moto.
    pub endpoint: Option<String>,
    /// Access key id and secret.
    pub credentials: Option<(String, String)>,
    pub region: Option<String>,
}

#[derive(Clone)]
pub struct BlobStore {
    inner: Arc<dyn ObjectStore>,
    part_bytes: usize,
    describe: String,
    /// The directory of local storage, where interrupted uploads leave staged parts.
    local_root: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for BlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe)
    }
}

impl BlobStore {
    /// Objects as files under `dir` (created if missing).
    pub fn local(dir: &Path) -> Result<Self, BlobError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| BlobError::Config(format!("{}: {e}", dir.display())))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(|e| BlobError::Config(e.to_string()))?
            .with_automatic_cleanup(true);
        Ok(Self {
            inner: Arc::new(store),
            part_bytes: LOCAL_PART_BYTES,
            describe: format!("local blob storage at {}", dir.display()),
            local_root: Some(dir.to_owned()),
        })
    }

    /// `s3://bucket[/prefix]` (with the `s3` feature), or `file:///path`.
    pub fn from_url(url: &str) -> Result<Self, BlobError> {
        if let Some(path) = url.strip_prefix("file://") {
            return Self::local(Path::new(path));
        }
        Self::s3(url)
    }

    #[cfg(feature = "s3")]
    fn s3(url: &str) -> Result<Self, BlobError> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            BlobError::Config(format!("{url}: use s3://bucket/prefix or file:///path"))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let options = S3Options {
            endpoint: std::env::var("AWS_ENDPOINT_URL")
                .or_else(|_| std::env::var("AWS_ENDPOINT"))
                .ok(),
            ..S3Options::default()
        };
        Self::s3_with(bucket, prefix, options)
    }

    /// An S3-compatible store; unset options come from the `AWS_*` environment variables.
    #[cfg(feature = "s3")]
    pub fn s3_with(bucket: &str, prefix: &str, options: S3Options) -> Result<Self, BlobError> {
        if bucket.is_empty() {
            return Err(BlobError::Config("the S3 URL names no bucket".into()));
        }
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = options.endpoint {
            builder = builder
                .with_allow_http(endpoint.starts_with("http://"))
                .with_endpoint(endpoint);
        }
        if let Some((key, secret)) = options.credentials {
            builder = builder
                .with_access_key_id(key)
                .with_secret_access_key(secret);
        }
        if let Some(region) = options.region {
            builder = builder.with_region(region);
        }
        let store = builder
            .build()
            .map_err(|e| BlobError::Config(e.to_string()))?;
        let prefix = prefix.trim_matches('/');
        let inner: Arc<dyn ObjectStore> = if prefix.is_empty() {
            Arc::new(store)
        } else {
            Arc::new(object_store::prefix::PrefixStore::new(store, prefix))
        };
        Ok(Self {
            inner,
            part_bytes: S3_PART_BYTES,
            describe: format!("S3 blob storage at s3://{bucket}/{prefix}"),
            local_root: None,
        })
    }

    #[cfg(not(feature = "s3"))]
    fn s3(url: &str) -> Result<Self, BlobError> {
        Err(BlobError::Config(format!(
            "{url}: this build has no S3 support (build with the `s3` feature)"
        )))
    }

    /// Writes a stream to `key`, refusing more than `limit` bytes; returns the size. Nothing
    /// is left behind when it fails.
    pub async fn put_stream<S, E>(&self, key: &str, stream: S, limit: u64) -> Result<u64, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let path = ObjectPath::from(key);
        let upload = self.inner.put_multipart(&path).await.map_err(store_error)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.part_bytes);
        let mut size = 0u64;
        let mut stream = std::pin::pin!(stream);
        while let Some(chunk) = stream.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(BlobError::Source(e.to_string()));
                }
            };
            size += chunk.len() as u64;
            if size > limit {
                let _ = writer.abort().await;
                return Err(BlobError::TooLarge(limit));
            }
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                return Err(store_error(e));
            }
            writer.put(chunk);
        }
        writer.finish().await.map_err(store_error)?;
        Ok(size)
    }

    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> Result<(), BlobError> {
        self.inner
            .put(&ObjectPath::from(key), bytes.into())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Streams an object.
    pub async fn get(&self, key: &str) -> Result<Blob, BlobError> {
        let result = self
            .inner
            .get(&ObjectPath::from(key))
            .await
            .map_err(store_error)?;
        let size = result.meta.size;
        let stream = match result.payload {
            // `object_store` reads local files 8 KiB at a time, a blocking task per read; reading
            // in large chunks is several times faster.
            GetResultPayload::File(file, _) => {
                use tokio::io::AsyncReadExt;
                let file = tokio::fs::File::from_std(file).take(size);
                tokio_util::io::ReaderStream::with_capacity(file, LOCAL_READ_BYTES)
                    .map_err(|e| BlobError::Store(e.to_string()))
                    .boxed()
            }
            GetResultPayload::Stream(stream) => stream.map_err(store_error).boxed(),
        };
        Ok(Blob { size, stream })
    }

    /// Reads a whole (small) object.
    pub async fn read(&self, key: &str) -> Result<Bytes, BlobError> {
        let result = self
            .inner
            .get(&ObjectPath::from(key))
            .await
            .map_err(store_error)?;
        result.bytes().await.map_err(store_error)
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self.inner.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Objects under `prefix`.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Listed>, BlobError> {
        let prefix = ObjectPath::from(prefix);
        self.inner
            .list(Some(&prefix))
            .map_ok(|meta| Listed {
                key: meta.location.to_string(),
                size: meta.size,
                modified: meta.last_modified.into(),
            })
            .try_collect()
            .await
            .map_err(store_error)
    }

    /// Removes what uploads cut off by a crash left behind, once older than `older_than`:
    /// local storage stages an upload in a file beside its object (`<key>#<n>`) that only a
    /// finished upload renames, and that no listing shows. Returns the bytes freed. (On S3, an
    /// unfinished multipart upload is invisible here too; a bucket lifecycle rule aborting
    /// incomplete uploads removes it.)
    pub async fn remove_abandoned_uploads(
        &self,
        older_than: std::time::Duration,
    ) -> Result<u64, BlobError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || abandoned_uploads(&root, older_than))
            .await
            .map_err(|e| BlobError::Store(e.to_string()))?
    }

    /// Deletes every object under `prefix`.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<(), BlobError> {
        for listed in self.list(prefix).await? {
            self.delete(&listed.key).await?;
        }
        Ok(())
    }
}

/// Whether a file name is a staged upload (`<name>#<digits>`).
fn is_staged_upload(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

fn abandoned_uploads(root: &Path, older_than: std::time::Duration) -> Result<u64, BlobError> {
    let mut freed = 0;
    let mut pending = vec![root.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(entry.path());
                continue;
            }
            let stale = meta
                .modified()
                .ok()
                .and_then(|m| m.elapsed().ok())
                .is_some_and(|age| age >= older_than);
            if stale && is_staged_upload(&entry.file_name().to_string_lossy()) {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => freed += meta.len(),
                    Err(e) => {
                        tracing::warn!(path = %entry.path().display(), error = %e, "cannot remove an abandoned upload")
                    }
                }
            }
        }
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn streams_in_and_out_and_enforces_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        let chunks: Vec<Result<Bytes, std::io::Error>> = (0..5)
            .map(|i| Ok(Bytes::from(vec![i as u8; 700_000])))
            .collect();
        let size = store
            .put_stream("t/a/files/one", futures::stream::iter(chunks), 10 << 20)
            .await
            .unwrap();
        assert_eq!(size, 3_500_000);
        let blob = store.get("t/a/files/one").await.unwrap();
        assert_eq!(blob.size, 3_500_000);
        let back: Vec<Bytes> = blob.stream.try_collect().await.unwrap();
        let back: Vec<u8> = back.concat();
        assert_eq!(back.len(), 3_500_000);
        assert_eq!(back[700_000], 1);

        let too_big: Vec<Result<Bytes, std::io::Error>> = vec![Ok(Bytes::from(vec![0; 2000]))];
        let err = store
            .put_stream("t/a/files/two", futures::stream::iter(too_big), 1000)
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::TooLarge(1000)));
        assert!(matches!(
            store.get("t/a/files/two").await,
            Err(BlobError::NotFound)
        ));

        assert_eq!(store.list("t/a").await.unwrap().len(), 1);
        store.delete_prefix("t/a").await.unwrap();
        assert!(matches!(
            store.get("t/a/files/one").await,
            Err(BlobError::NotFound)
        ));
        store.delete("t/a/files/one").await.unwrap();
    }

    #[tokio::test]
    async fn staged_parts_of_abandoned_uploads_are_removed_once_old() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::local(dir.path()).unwrap();
        store
            .put_bytes("t/a/files/kept", Bytes::from_static(b"kept"))
            .await
            .unwrap();
        let files = dir.path().join("t/a/files");
        std::fs::write(files.join("file_x#1"), vec![0u8; 4096]).unwrap();
        std::fs::write(files.join("notes#draft"), b"not a staged part").unwrap();
        let fresh = files.join("file_y#2");
        std::fs::write(&fresh, b"in flight").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(7200);
        for name in ["file_x#1", "notes#draft"] {
            std::fs::File::options()
                .write(true)
                .open(files.join(name))
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let freed = store
            .remove_abandoned_uploads(std::time::Duration::from_secs(3600))
            .await
            .unwrap();
        assert_eq!(freed, 4096);
        assert!(!files.join("file_x#1").exists());
        assert!(files.join("notes#draft").exists(), "only staged parts go");
        assert!(fresh.exists(), "an upload still in flight stays");
        assert_eq!(
            store.read("t/a/files/kept").await.unwrap(),
            Bytes::from_static(b"kept")
        );
    }
}
