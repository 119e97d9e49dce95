//! Snapshots of a sandbox's own files (`workspace` and `outputs`) as one gzip-compressed tar
//! archive, so that a session can carry on on another replica: [`fingerprint`] says cheaply
//! whether anything changed since the last snapshot, [`pack`] streams the archive into any
//! writer, and [`restore`] replaces the sandbox's files with an archive's contents without ever
//! writing outside the sandbox's directory.
//!
//! An archive is data from the agent, so restoring treats it as hostile: only plain relative
//! paths under `workspace/` and `outputs/` are written, never through a symbolic link (links
//! are made last, and every parent is checked to be a real directory); hard links, devices,
//! FIFOs and set-id bits are dropped; the total size is capped; and everything lands in a fresh
//! staging directory first, swapped in only once the whole archive has been read.
//!
//! Kept: regular files with their permission bits and modification times (to the nanosecond,
//! in PAX headers, so output files synced by size and time are not taken for changed ones),
//! directories with their permission bits, and symbolic links whose target the sandbox can
//! see. Not kept: owners (restored files belong to the sandbox's user), directory times,
//! extended attributes, and `/tmp`.

mod pack;
mod unpack;
mod view;
mod walk;

use std::io;
use std::path::Path;

pub use pack::{Packed, pack};
pub use unpack::{Restored, restore};
pub use walk::{Fingerprint, fingerprint};

/// Largest snapshot, in bytes of file contents: past this a workspace is not snapshotted (the
/// caller logs why). A workspace that large is more likely a dataset or a build cache than
/// work to carry over, and it would hold the end of every turn for a long upload.
pub const MAX_SNAPSHOT_BYTES: u64 = 1 << 30;
/// Most entries (files, directories, links) in a snapshot: packing and restoring cost per
/// entry, and a million is more than a large `node_modules`.
pub const MAX_SNAPSHOT_ENTRIES: u64 = 1_000_000;

/// The directories a snapshot holds, by their names in the archive and under the sandbox's
/// directory.
pub const TREES: [&str; 2] = ["workspace", "outputs"];

/// What a snapshot may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotLimits {
    /// Bytes of file contents.
    pub bytes: u64,
    pub entries: u64,
}

impl Default for SnapshotLimits {
    fn default() -> Self {
        Self {
            bytes: MAX_SNAPSHOT_BYTES,
            entries: MAX_SNAPSHOT_ENTRIES,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("the sandbox's files are over the snapshot limit of {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("the sandbox has over {limit} files and directories, the snapshot limit")]
    TooManyEntries { limit: u64 },
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("the snapshot archive cannot be written or read: {0}")]
    Archive(io::Error),
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    }
}

#[cfg(test)]
mod tests;
