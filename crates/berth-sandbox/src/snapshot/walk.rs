//! Walking a sandbox's own files in a stable order (parents first, siblings by name) without
//! following links: the one view of the tree that fingerprints and archives share.
//!
//! The walk goes by path, so a process swapping a directory for a link while it runs could
//! steer it; none can: snapshots are taken between turns, and every sandboxed process dies
//! with its command (bubblewrap's PID namespace). Only `--unsafe-no-sandbox`, which isolates
//! nothing anyway, lets processes outlive their command.

use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{SnapshotError, SnapshotLimits, TREES, io_at};
use crate::SandboxDirs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    Dir,
    File,
    Link(PathBuf),
    /// FIFOs, sockets, devices: never archived.
    Other,
}

/// One entry of the tree.
pub(crate) struct Item {
    /// Its path in the archive, e.g. `workspace/src/main.rs`.
    pub relative: PathBuf,
    pub host: PathBuf,
    pub kind: Kind,
    pub meta: Metadata,
}

/// The trees of a sandbox: (name in the archive, host directory).
pub(crate) fn trees(dirs: &SandboxDirs) -> [(&'static str, &Path); 2] {
    [(TREES[0], &dirs.workspace), (TREES[1], &dirs.outputs)]
}

/// Calls `visit` for every entry of the sandbox's trees (missing trees are skipped). Entries
/// that vanish during the walk are skipped; anything else unreadable fails it, since a
/// snapshot missing files would lose them on restore.
pub(crate) fn walk(
    dirs: &SandboxDirs,
    mut visit: impl FnMut(&Item) -> Result<(), SnapshotError>,
) -> Result<(), SnapshotError> {
    let mut roots = Vec::new();
    for (name, host) in trees(dirs) {
        if let Some(item) = item(host.to_owned(), PathBuf::from(name))? {
            roots.push(item);
        }
    }
    // An explicit stack: a hostile tree may be deeper than a thread's stack allows recursion.
    let mut stack = vec![roots.into_iter()];
    while let Some(level) = stack.last_mut() {
        let Some(item) = level.next() else {
            stack.pop();
            continue;
        };
        visit(&item)?;
        if item.kind == Kind::Dir {
            stack.push(children(&item)?.into_iter());
        }
    }
    Ok(())
}

fn children(dir: &Item) -> Result<Vec<Item>, SnapshotError> {
    let mut names: Vec<OsString> = Vec::new();
    for entry in std::fs::read_dir(&dir.host).map_err(io_at(&dir.host))? {
        names.push(entry.map_err(io_at(&dir.host))?.file_name());
    }
    names.sort();
    let mut items = Vec::with_capacity(names.len());
    for name in names {
        if let Some(item) = item(dir.host.join(&name), dir.relative.join(&name))? {
            items.push(item);
        }
    }
    Ok(items)
}

fn item(host: PathBuf, relative: PathBuf) -> Result<Option<Item>, SnapshotError> {
    let meta = match std::fs::symlink_metadata(&host) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_at(&host)(e)),
    };
    let file_type = meta.file_type();
    let kind = if file_type.is_dir() {
        Kind::Dir
    } else if file_type.is_file() {
        Kind::File
    } else if file_type.is_symlink() {
        match std::fs::read_link(&host) {
            Ok(target) => Kind::Link(target),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_at(&host)(e)),
        }
    } else {
        Kind::Other
    };
    Ok(Some(Item {
        relative,
        host,
        kind,
        meta,
    }))
}

/// A summary of a sandbox's files: equal digests mean nothing a snapshot keeps has changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// SHA-256 (hex) over every entry's path, type, permission bits, and a file's size and
    /// modification time or a link's target. Contents are not read: any change through the
    /// file system moves the modification time.
    pub digest: String,
    /// Bytes of file contents.
    pub bytes: u64,
    pub entries: u64,
}

impl Fingerprint {
    /// Whether a snapshot of these files fits `limits`.
    pub fn check(&self, limits: SnapshotLimits) -> Result<(), SnapshotError> {
        if self.bytes > limits.bytes {
            return Err(SnapshotError::TooLarge {
                limit: limits.bytes,
            });
        }
        if self.entries > limits.entries {
            return Err(SnapshotError::TooManyEntries {
                limit: limits.entries,
            });
        }
        Ok(())
    }
}

/// Fingerprints the sandbox's `workspace` and `outputs` (a stat per entry, no reads).
pub fn fingerprint(dirs: &SandboxDirs) -> Result<Fingerprint, SnapshotError> {
    let mut hash = Sha256::new();
    let (mut bytes, mut entries) = (0u64, 0u64);
    walk(dirs, |item| {
        entries += 1;
        hash.update(item.relative.as_os_str().as_bytes());
        hash.update([0]);
        // The mode carries the file type as well as the permission bits.
        hash.update(item.meta.mode().to_le_bytes());
        match &item.kind {
            Kind::File => {
                bytes += item.meta.len();
                hash.update(item.meta.len().to_le_bytes());
                hash.update(item.meta.mtime().to_le_bytes());
                hash.update(item.meta.mtime_nsec().to_le_bytes());
            }
            Kind::Link(target) => hash.update(target.as_os_str().as_bytes()),
            Kind::Dir | Kind::Other => {}
        }
        hash.update([0xff]);
        Ok(())
    })?;
    Ok(Fingerprint {
        digest: hex::encode(hash.finalize()),
        bytes,
        entries,
    })
}
