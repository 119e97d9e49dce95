//! Paths as the sandbox sees them, mapped to the host. File tools run in the server, so a path
//! from the model (`/workspace/src/main.rs`) is resolved here exactly as the sandbox would see
//! it: symlinks are followed in the sandbox's view (a link to `/etc/passwd` reads the system's
//! read-only copy, never a host path), and anything outside the sandbox's mounts is refused.

use std::io;
use std::path::{Path, PathBuf};

/// The writable mounts of every sandbox.
pub const WORKSPACE: &str = "/workspace";
pub const OUTPUTS: &str = "/mnt/session/outputs";
pub const TMP: &str = "/tmp";

/// The host's system directories, mounted read-only (those that exist).
pub const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32",
];

/// Symlinks followed before a path is refused (as Linux does).
const MAX_LINKS: usize = 40;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error(
        "{0} is outside the sandbox's files (/workspace, /mnt/session/outputs, /tmp and the \
         read-only system directories)"
    )]
    Outside(String),
    #[error("{0} is read-only in the sandbox")]
    ReadOnly(String),
    #[error("{0}: too many levels of symbolic links")]
    TooManyLinks(String),
    #[error("{path}: {source}")]
    Io { path: String, source: io::Error },
}

/// A file or directory bound into the sandbox besides its own folders: read-only (uploaded
/// files, skills, read-only memory stores) or writable (read-write memory stores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraMount {
    /// Where the sandbox sees it, e.g. `/mnt/session/uploads`.
    pub sandbox: String,
    pub host: PathBuf,
    pub writable: bool,
}

/// A sandbox's directories on the host.
#[derive(Debug, Clone)]
pub struct SandboxDirs {
    pub root: PathBuf,
    pub workspace: PathBuf,
    pub outputs: PathBuf,
    pub tmp: PathBuf,
    /// Host paths inside the system mounts that the sandbox must not see (hidden by tmpfs).
    pub hidden: Vec<PathBuf>,
    /// Extra binds, most specific first.
    pub extra: Vec<ExtraMount>,
}

/// A resolved path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// Where it is on the host.
    pub host: PathBuf,
    /// How the sandbox names it (normalised, links followed).
    pub sandbox: String,
    pub writable: bool,
}

impl SandboxDirs {
    pub fn new(root: PathBuf, hidden: Vec<PathBuf>) -> Self {
        Self {
            workspace: root.join("workspace"),
            outputs: root.join("outputs"),
            tmp: root.join("tmp"),
            root,
            hidden,
            extra: Vec::new(),
        }
    }

    /// The writable mounts: (sandbox path, host path).
    pub fn mounts(&self) -> [(&'static str, &Path); 3] {
        [
            (WORKSPACE, self.workspace.as_path()),
            (OUTPUTS, self.outputs.as_path()),
            (TMP, self.tmp.as_path()),
        ]
    }

    /// The host path of a normalised sandbox path, and whether it is writable.
    fn host_of(&self, sandbox: &str) -> Option<(PathBuf, bool)> {
        for mount in &self.extra {
            if let Some(rest) = strip_mount(sandbox, &mount.sandbox) {
                let host = if rest.is_empty() {
                    mount.host.clone()
                } else {
                    mount.host.join(rest)
                };
                return Some((host, mount.writable));
            }
        }
        for (mount, host) in self.mounts() {
            if let Some(rest) = strip_mount(sandbox, mount) {
                return Some((host.join(rest), true));
            }
        }
        for dir in SYSTEM_DIRS {
            if strip_mount(sandbox, dir).is_some() {
                let host = PathBuf::from(sandbox);
                if self.hidden.iter().any(|h| host.starts_with(h)) {
                    return None;
                }
                return Some((host, false));
            }
        }
        None
    }

    /// The sandbox's name for a host path inside one of its mounts (not the system
    /// directories).
    pub fn to_sandbox(&self, host: &Path) -> Option<String> {
        let extra = self
            .extra
            .iter()
            .map(|m| (m.sandbox.as_str(), m.host.as_path()));
        extra.chain(self.mounts()).find_map(|(mount, base)| {
            let rest = host.strip_prefix(base).ok()?;
            let rest = rest.to_str()?;
            Some(if rest.is_empty() {
                mount.to_owned()
            } else {
                format!("{mount}/{rest}")
            })
        })
    }

    /// Resolves `path` (absolute, or relative to `/workspace`) as the sandbox would.
    pub fn resolve(&self, path: &str, access: Access) -> Result<Resolved, PathError> {
        let start = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("{WORKSPACE}/{path}")
        };
        let mut pending: Vec<String> = components(&start);
        pending.reverse();
        let mut done: Vec<String> = Vec::new();
        let mut links = 0;
        while let Some(part) = pending.pop() {
            if part == ".." {
                done.pop();
                continue;
            }
            done.push(part);
            let sandbox = join(&done);
            let Some((host, _)) = self.host_of(&sandbox) else {
                // Directories above the mounts (`/`, `/mnt`) are only passed through.
                if is_mount_ancestor(&sandbox) {
                    continue;
                }
                return Err(PathError::Outside(path.to_owned()));
            };
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if !meta.file_type().is_symlink() {
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(PathError::TooManyLinks(path.to_owned()));
            }
            let target = std::fs::read_link(&host).map_err(|source| PathError::Io {
                path: path.to_owned(),
                source,
            })?;
            let target = target.to_string_lossy().into_owned();
            done.pop();
            if target.starts_with('/') {
                done.clear();
            }
            let mut next = components(&target);
            next.reverse();
            pending.extend(next);
        }
        let sandbox = join(&done);
        let (host, writable) = self
            .host_of(&sandbox)
            .ok_or_else(|| PathError::Outside(path.to_owned()))?;
        if access == Access::Write && !writable {
            return Err(PathError::ReadOnly(sandbox));
        }
        Ok(Resolved {
            host,
            sandbox,
            writable,
        })
    }
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_owned)
        .collect()
}

fn join(parts: &[String]) -> String {
    format!("/{}", parts.join("/"))
}

/// `rest` when `path` is `mount` or below it.
fn strip_mount<'a>(path: &'a str, mount: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(mount)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

fn is_mount_ancestor(path: &str) -> bool {
    path == "/" || path == "/mnt" || path.starts_with("/mnt/")
}

#[cfg(test)]
mod properties;

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> (tempfile::TempDir, SandboxDirs) {
        let temp = tempfile::tempdir().unwrap();
        let dirs = SandboxDirs::new(temp.path().to_owned(), Vec::new());
        for (_, host) in dirs.mounts() {
            std::fs::create_dir_all(host).unwrap();
        }
        (temp, dirs)
    }

    #[test]
    fn paths_map_to_their_mounts() {
        let (_t, dirs) = dirs();
        let r = dirs
            .resolve("/workspace/src/../a.txt", Access::Write)
            .unwrap();
        assert_eq!(r.host, dirs.workspace.join("a.txt"));
        assert_eq!(r.sandbox, "/workspace/a.txt");
        assert_eq!(
            dirs.resolve("notes.md", Access::Read).unwrap().sandbox,
            "/workspace/notes.md"
        );
        assert_eq!(
            dirs.resolve("/mnt/session/outputs/r.csv", Access::Write)
                .unwrap()
                .host,
            dirs.outputs.join("r.csv")
        );
        assert!(matches!(
            dirs.resolve("/etc/hostname", Access::Write),
            Err(PathError::ReadOnly(_))
        ));
        assert!(
            !dirs
                .resolve("/etc/hostname", Access::Read)
                .unwrap()
                .writable
        );
        assert!(matches!(
            dirs.resolve("/root/.ssh/id_rsa", Access::Read),
            Err(PathError::Outside(_))
        ));
        assert!(matches!(
            dirs.resolve("/workspace/../../root", Access::Read),
            Err(PathError::Outside(_))
        ));
    }

    #[test]
    fn symlinks_are_followed_in_the_sandbox_view() {
        let (_t, dirs) = dirs();
        let secret = dirs.root.join("secret");
        std::fs::write(&secret, "host secret").unwrap();
        // An absolute link names a sandbox path, not a host path.
        std::os::unix::fs::symlink("/var/lib/secret", dirs.workspace.join("escape")).unwrap();
        assert!(matches!(
            dirs.resolve("/workspace/escape", Access::Read),
            Err(PathError::Outside(_))
        ));
        std::os::unix::fs::symlink("/tmp/x", dirs.workspace.join("to_tmp")).unwrap();
        assert_eq!(
            dirs.resolve("/workspace/to_tmp", Access::Write)
                .unwrap()
                .host,
            dirs.tmp.join("x")
        );
        std::os::unix::fs::symlink("../../..", dirs.workspace.join("up")).unwrap();
        assert!(matches!(
            dirs.resolve("/workspace/up/root", Access::Read),
            Err(PathError::Outside(_))
        ));
        std::os::unix::fs::symlink("loop", dirs.workspace.join("loop")).unwrap();
        assert!(matches!(
            dirs.resolve("/workspace/loop", Access::Read),
            Err(PathError::TooManyLinks(_))
        ));
        assert_eq!(
            dirs.to_sandbox(&dirs.workspace.join("a/b")).unwrap(),
            "/workspace/a/b"
        );
    }
}
