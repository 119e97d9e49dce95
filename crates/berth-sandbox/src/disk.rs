//! How much disk a sandbox's own files take, and the allowance a command runs with.
//!
//! There is no filesystem quota to lean on (sandboxes are plain directories on whatever disk
//! the data directory is), so quotas are kept by measuring: the blocks the sandbox's writable
//! directories hold (`workspace`, `outputs`, `tmp`; hard links counted once, sparse files by
//! what they really use) before and after every command, and every few moments while one runs.
//! A command starts with a file-size limit no larger than the room left, so no single file can
//! overshoot, and is stopped if the files together pass the quota while it runs.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

use crate::SandboxDirs;

/// The longest wait between two measurements while a command runs.
pub(crate) const MAX_POLL_INTERVAL: Duration = Duration::from_secs(2);
/// The shortest wait: small trees are measured in microseconds, and a command writing fast
/// should not get far past its quota.
pub(crate) const MIN_POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A command's share of the disk: the most the sandbox's files may take, and what they take
/// as it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskAllowance {
    pub limit_bytes: u64,
    pub used_bytes: u64,
}

impl DiskAllowance {
    /// The room left.
    pub fn remaining(&self) -> u64 {
        self.limit_bytes.saturating_sub(self.used_bytes)
    }
}

/// The bytes on disk of the sandbox's writable directories (blocking: walks them).
pub fn usage(dirs: &SandboxDirs) -> u64 {
    let mut seen: HashSet<(u64, u64)> = HashSet::new();
    let mut total = 0u64;
    for (_, dir) in dirs.mounts() {
        total += tree_usage(dir, &mut seen);
    }
    total
}

fn tree_usage(root: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![root.to_owned()];
    while let Some(path) = pending.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
        if meta.is_dir()
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            pending.extend(entries.flatten().map(|e| e.path()));
        }
    }
    total
}

/// How long to wait before measuring again, given how long a measurement took: a big tree is
/// measured less often, so measuring never takes more than a tenth of the time.
pub(crate) fn poll_interval(last_walk: Duration) -> Duration {
    (last_walk * 10).clamp(MIN_POLL_INTERVAL, MAX_POLL_INTERVAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_counts_blocks_once_per_file_and_ignores_sparseness() {
        let root = tempfile::tempdir().unwrap();
        let dirs = SandboxDirs::new(root.path().to_owned(), Vec::new());
        for (_, d) in dirs.mounts() {
            std::fs::create_dir_all(d).unwrap();
        }
        let empty = usage(&dirs);
        std::fs::write(dirs.workspace.join("a"), vec![7u8; 1 << 20]).unwrap();
        std::fs::hard_link(dirs.workspace.join("a"), dirs.tmp.join("a-again")).unwrap();
        let sparse = std::fs::File::create(dirs.outputs.join("sparse")).unwrap();
        sparse.set_len(1 << 30).unwrap();
        std::os::unix::fs::symlink("/usr", dirs.workspace.join("link")).unwrap();
        let used = usage(&dirs) - empty;
        assert!(
            (1 << 20..(1 << 20) + (64 << 10)).contains(&used),
            "one MiB counted once, the sparse file nearly nothing: {used}"
        );
    }

    #[test]
    fn polling_slows_down_for_big_trees() {
        assert_eq!(poll_interval(Duration::from_micros(50)), MIN_POLL_INTERVAL);
        assert_eq!(
            poll_interval(Duration::from_millis(50)),
            Duration::from_millis(500)
        );
        assert_eq!(poll_interval(Duration::from_secs(1)), MAX_POLL_INTERVAL);
    }
}
