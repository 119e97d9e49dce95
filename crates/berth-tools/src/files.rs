//! File access on the sandbox's directories from the server: path resolution in the sandbox's
//! view, blocking I/O off the async runtime, and new files handed to the sandbox's user.

use std::path::Path;

use berth_sandbox::{Access, Resolved, Sandbox};

use crate::output::ToolError;

/// Resolves a path the model gave.
pub(crate) fn resolve(
    sandbox: &Sandbox,
    path: &str,
    access: Access,
) -> Result<Resolved, ToolError> {
    if path.trim().is_empty() {
        return Err(ToolError::new("a path is required"));
    }
    sandbox
        .dirs()
        .resolve(path, access)
        .map_err(|e| ToolError::new(e.to_string()))
}

/// Runs blocking file work on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ToolError> + Send + 'static,
) -> Result<T, ToolError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ToolError::new(format!("the file operation failed: {e}")))?
}

pub(crate) fn io_error(path: &str, e: &std::io::Error) -> ToolError {
    match e.kind() {
        std::io::ErrorKind::NotFound => ToolError::new(format!("{path} does not exist")),
        std::io::ErrorKind::PermissionDenied => {
            ToolError::new(format!("{path}: permission denied"))
        }
        _ => ToolError::new(format!("{path}: {e}")),
    }
}

/// Writes a file, creating missing parent directories; new files and directories are given to
/// `owner` (the sandbox's user) so commands in the sandbox can change them.
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
