//! File access on the sandbox's files from the server: every operation runs through
//! [`Sandbox::with_files`], in the sandbox's own view and as its user (when the server is
//! root), with paths resolved exactly as the sandbox sees them; blocking I/O never runs on the
//! async runtime.

use std::path::Path;

use berth_sandbox::{Access, FileView, Resolved, Sandbox};

use crate::output::ToolError;

/// Runs `work` on the sandbox's files.
pub(crate) async fn on_files<T: Send + 'static>(
    sandbox: &Sandbox,
    work: impl FnOnce(&FileView) -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    sandbox
        .with_files(work)
        .await
        .map_err(|e| ToolError::new(e.to_string()))?
}

/// Resolves a path the model gave.
pub(crate) fn resolve(view: &FileView, path: &str, access: Access) -> Result<Resolved, ToolError> {
    if path.trim().is_empty() {
        return Err(ToolError::new("a path is required"));
    }
    view.resolve(path, access)
        .map_err(|e| ToolError::new(e.to_string()))
}

pub(crate) fn io_error(path: &str, e: &std::io::Error) -> ToolError {
    if berth_sandbox::is_read_only(e) {
        return ToolError::new(format!("{path} is read-only in the sandbox"));
    }
    match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::new(format!("{path} does not exist")),
        std::io::ErrorKind::PermissionDenied => {
            ToolError::new(format!("{path}: permission denied"))
        }
        _ => ToolError::new(format!("{path}: {e}")),
    }
}

/// Writes a file, creating missing parent directories; new files and directories are given to
/// `owner` (the sandbox's user, when the operation does not already run as it) so commands in
/// the sandbox can change them.
pub(crate) fn write_file(
    host: &Path,
    data: &[u8],
    owner: Option<(u32, u32)>,
    shown: &str,
) -> Result<(), ToolError> {
    let mut missing = Vec::new();
    let mut dir = host.parent();
    while let Some(d) = dir {
        if d.exists() {
            break;
        }
        missing.push(d.to_owned());
        dir = d.parent();
    }
    for d in missing.iter().rev() {
        std::fs::create_dir(d).map_err(|e| io_error(shown, &e))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(d, Some(uid), Some(gid)).map_err(|e| io_error(shown, &e))?;
        }
    }
    if host.is_dir() {
        return Err(ToolError::new(format!("{shown} is a directory")));
    }
    let existed = host.exists();
    std::fs::write(host, data).map_err(|e| io_error(shown, &e))?;
    if !existed && let Some((uid, gid)) = owner {
        std::os::unix::fs::chown(host, Some(uid), Some(gid)).map_err(|e| io_error(shown, &e))?;
    }
    Ok(())
}
