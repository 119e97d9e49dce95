//! What a sandbox service sets up from its settings — the control groups sessions run in and
//! the TLS interception of the egress proxy — and the directories it prepares per sandbox.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use berth_egress::{Interception, SandboxCa};
use nix::unistd::{Gid, Uid};

use crate::SandboxError;
use crate::cgroups;
use crate::paths::SandboxDirs;
use crate::settings::SandboxSettings;

/// The installation's control groups for sessions, or `None` (logged) when the host has none
/// this server may use.
pub(crate) fn session_cgroups(settings: &SandboxSettings) -> Option<cgroups::Cgroups> {
    use sha2::Digest;
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    // Named after the sandbox directory, so servers sharing a host keep to their own groups.
    let digest = sha2::Sha256::digest(settings.root.as_os_str().as_encoded_bytes());
    let tag = hex::encode(digest.get(..4).unwrap_or_default());
    match cgroups::Cgroups::detect(Path::new("/sys/fs/cgroup"), &own, &tag) {
        Ok(groups) => {
            tracing::info!(using = %groups.describe(), "sessions' memory, CPU and processes are limited");
            Some(groups)
        }
        Err(reason) => {
            tracing::warn!(%reason, "no control groups: sessions' processes are limited one by one only");
            None
        }
    }
}

/// The installation's interception, or `None` (logged) when its CA cannot be set up.
pub(crate) fn interception(settings: &SandboxSettings) -> Option<Arc<Interception>> {
    let ca = match &settings.ca_dir {
        Some(dir) => SandboxCa::load_or_create(dir),
        None => SandboxCa::ephemeral(&settings.root.join(".berth-ca")),
    };
    match ca.and_then(|ca| Interception::new(ca, &settings.upstream_roots_pem)) {
        Ok(i) => Some(Arc::new(i)),
        Err(e) => {
            tracing::error!(error = %e, "no interception CA: secrets are never sent over HTTPS");
            None
        }
    }
}

/// Creates the sandbox's directories, owned by its user.
pub(crate) fn prepare_dirs(
    dirs: &SandboxDirs,
    identity: Option<(Uid, Gid)>,
) -> Result<(), SandboxError> {
    let setup =
        |what: &Path, e: std::io::Error| SandboxError::Setup(format!("{}: {e}", what.display()));
    std::fs::create_dir_all(&dirs.root).map_err(|e| setup(&dirs.root, e))?;
    std::fs::set_permissions(&dirs.root, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| setup(&dirs.root, e))?;
    for (_, dir) in dirs.mounts() {
        let fresh = !dir.exists();
        std::fs::create_dir_all(dir).map_err(|e| setup(dir, e))?;
        if fresh {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| setup(dir, e))?;
        }
        if let Some((uid, gid)) = identity {
            // A directory kept from a user the session had before (an older release chose
            // users differently) is handed over whole, so the session can use its files.
            let owner = std::fs::symlink_metadata(dir).map_err(|e| setup(dir, e))?;
            if std::os::unix::fs::MetadataExt::uid(&owner) != uid.as_raw() {
                hand_over(dir, uid, gid).map_err(|e| setup(dir, e))?;
            }
        }
    }
    Ok(())
}

/// Gives `dir` and everything under it to `uid`/`gid`, never following a link.
fn hand_over(dir: &Path, uid: Uid, gid: Gid) -> std::io::Result<()> {
    let mut pending = vec![dir.to_owned()];
    while let Some(path) = pending.pop() {
        let meta = std::fs::symlink_metadata(&path)?;
        std::os::unix::fs::lchown(&path, Some(uid.as_raw()), Some(gid.as_raw()))?;
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        }
    }
    Ok(())
}
