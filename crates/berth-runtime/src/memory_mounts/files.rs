//! The server's file operations inside a mounted memory folder. The folder belongs to the
//! agent, which may have put links anywhere in it, and the server runs as root: nothing here
//! follows a symbolic link. Directories are walked and created one component at a time, files
//! are written in a scratch directory outside the folder (same filesystem) and renamed into
//! place (a rename replaces a link at the final name instead of following it), and deletions
//! check every parent. What the server creates gets explicit modes (0644, 0755), whatever its
//! umask, and belongs to the sandbox's user in read-write folders.

use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Files looked at in one folder before the rest is left for the next round.
pub(super) const MAX_FILES: usize = 5_000;

/// A file's size and modification time: when both are as last synced, the file is taken as
/// unchanged without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp {
    pub size: u64,
    pub mtime_ns: i128,
}

impl Stamp {
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }
}

/// What a walk found.
#[derive(Default)]
pub(super) struct Walk {
    /// Regular files: path below the folder (`a/b.md`) and stamp.
    pub files: Vec<(String, Stamp)>,
    /// Things that cannot be memories, each with the reason.
    pub skipped: Vec<(String, &'static str)>,
    /// Whether every entry was looked at: when not (too many files, an unreadable directory),
    /// a file missing from `files` may still be there and must not count as removed.
    pub complete: bool,
}

/// The regular files below `root`, links and special files reported, never followed.
pub(super) fn walk(root: &Path) -> Walk {
    let mut found = Walk {
        complete: true,
        ..Walk::default()
    };
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            found.complete = false;
            continue;
        };
        for entry in entries.flatten() {
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                found.skipped.push((
                    format!("{prefix}{}", entry.file_name().to_string_lossy()),
                    "its name is not UTF-8",
                ));
                continue;
            };
            let rel = format!("{prefix}{name}");
            let Ok(meta) = std::fs::symlink_metadata(entry.path()) else {
                found.complete = false;
                continue;
            };
            if meta.file_type().is_symlink() {
                found
                    .skipped
                    .push((rel, "symbolic links are not saved as memories"));
            } else if meta.is_dir() {
                pending.push((entry.path(), format!("{rel}/")));
            } else if meta.is_file() {
                if found.files.len() >= MAX_FILES {
                    found.skipped.push((rel, "the folder holds too many files"));
                    found.complete = false;
                    continue;
                }
                found.files.push((rel, Stamp::of(&meta)));
            } else {
                found
                    .skipped
                    .push((rel, "only regular files are saved as memories"));
            }
        }
    }
    found.files.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// Reads a file (not a link) of at most `limit` bytes; `Ok(None)` when it is larger.
pub(super) fn read_file(root: &Path, rel: &str, limit: u64) -> io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let path = checked_parent(root, rel, None)?.1;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}

/// Writes `content` at `root/rel`, creating directories (owned by `owner`) as needed. The
/// bytes go first to a file in `scratch`, a directory the sandbox cannot see on the same
/// filesystem.
pub(super) fn write_file(
    root: &Path,
    scratch: &Path,
    rel: &str,
    content: &[u8],
    owner: Option<(u32, u32)>,
) -> io::Result<Stamp> {
    let (_, path) = checked_parent(root, rel, Some(owner))?;
    let temp = scratch.join(format!("write-{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)?;
    out.write_all(content)?;
    out.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&out, Some(uid), Some(gid))?;
    }
    out.sync_data()?;
    drop(out);
    if let Err(e) = std::fs::rename(&temp, &path) {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    Ok(Stamp::of(&std::fs::symlink_metadata(&path)?))
}

/// The stamp of the regular file at `root/rel`, if there is one (a link or a missing file
/// gives `None`).
pub(super) fn stamp_of(root: &Path, rel: &str) -> Option<Stamp> {
    let path = checked_parent(root, rel, None).ok()?.1;
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.is_file().then(|| Stamp::of(&meta))
}

/// Deletes `root/rel` if it is still a regular file with `stamp` (the agent did not change it).
pub(super) fn remove_if_unchanged(root: &Path, rel: &str, stamp: Stamp) -> io::Result<()> {
    let path = checked_parent(root, rel, None)?.1;
    let meta = std::fs::symlink_metadata(&path)?;
    if meta.is_file() && Stamp::of(&meta) == stamp {
        std::fs::remove_file(&path)?;
    }
    Ok(())
}

/// The parent directory of `root/rel` and the full path, with every directory between checked
/// to be a real directory. With `create`, missing ones are made (0755, owned by its user).
fn checked_parent(
    root: &Path,
    rel: &str,
    create: Option<Option<(u32, u32)>>,
) -> io::Result<(PathBuf, PathBuf)> {
    let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
    let Some((name, parents)) = parts.split_last() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "an empty path"));
    };
    if parts.iter().any(|p| *p == "." || *p == "..") {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a dot segment"));
    }
    let mut dir = root.to_path_buf();
    for part in parents {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{part} is a file or a link, not a folder"
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let Some(owner) = create else {
                    return Err(e);
                };
                std::fs::create_dir(&dir)?;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
                }
            }
            Err(e) => return Err(e),
        }
    }
    let path = dir.join(name);
    Ok((dir, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_reads_and_walks_never_follow_links() {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("store");
        let outside = temp.path().join("outside");
        let scratch = temp.path().join("scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret"), "host secret").unwrap();

        let stamp = write_file(&root, &scratch, "a/b/c.md", b"hello", None).unwrap();
        assert_eq!(stamp.size, 5);
        assert_eq!(
            read_file(&root, "a/b/c.md", 100).unwrap().unwrap(),
            b"hello"
        );
        assert_eq!(
            read_file(&root, "a/b/c.md", 4).unwrap(),
            None,
            "over the limit"
        );

        std::os::unix::fs::symlink(&outside, root.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("leak.md")).unwrap();
        assert!(write_file(&root, &scratch, "escape/x.md", b"x", None).is_err());
        assert!(!outside.join("x.md").exists());
        assert!(
            read_file(&root, "leak.md", 100).is_err(),
            "a link is not read"
        );
        assert!(read_file(&root, "escape/secret", 100).is_err());
        // Writing over a link replaces the link.
        write_file(&root, &scratch, "leak.md", b"mine", None).unwrap();
        assert_eq!(
            std::fs::read_to_string(outside.join("secret")).unwrap(),
            "host secret"
        );

        std::os::unix::fs::symlink(&outside, root.join("escape2")).unwrap();
        let walked = walk(&root);
        assert_eq!(
            walked
                .files
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>(),
            vec!["a/b/c.md", "leak.md"]
        );
        assert_eq!(walked.skipped.len(), 2, "{:?}", walked.skipped);
        assert!(walked.complete, "links are reported, not unread");

        assert!(remove_if_unchanged(&root, "escape/secret", stamp).is_err());
        assert!(outside.join("secret").exists());
        let changed = Stamp { size: 99, ..stamp };
        remove_if_unchanged(&root, "a/b/c.md", changed).unwrap();
        assert!(root.join("a/b/c.md").exists(), "changed since: kept");
        remove_if_unchanged(&root, "a/b/c.md", stamp).unwrap();
        assert!(!root.join("a/b/c.md").exists());
    }
}
