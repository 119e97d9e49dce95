//! What a session's sandbox gets besides its own folders: its file resources (read-only under
//! `/mnt/session/uploads/<file_id>/<filename>` or their `mount_path`; copied when the mount
//! path is in `/workspace`) and its agent's skills (read-only under `/mnt/skills/<name>/`),
//! fetched from blob storage into the sandbox's directory once and reused.

use std::path::{Path, PathBuf};

use berth_blob::BlobStore;
use berth_protocol::agent::LATEST_SKILL_VERSION;
use berth_protocol::session::{Resource, SessionStatic};
use berth_protocol::skill::{SkillObject, SkillVersionObject};
use berth_sandbox::{ExtraMount, SandboxDirs};
use berth_store::Store;
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::files::{file_key, object_of, skill_prefix};

/// Where skills appear in the sandbox.
pub const SKILLS_MOUNT: &str = "/mnt/skills";
const UPLOADS_MOUNT: &str = "/mnt/session/uploads";

/// A skill the agent has, for its system prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillInfo {
    pub name: String,
    pub description: String,
}

#[derive(Debug, Default)]
pub struct Prepared {
    pub mounts: Vec<ExtraMount>,
    pub skills: Vec<SkillInfo>,
}

#[derive(Deserialize)]
struct ManifestEntry {
    path: String,
}

/// Copies a blob to `dest` (via a temporary name), unless it is already there.
async fn fetch(blobs: &BlobStore, key: &str, dest: &Path) -> Result<(), String> {
    if dest.exists() {
        return Ok(());
    }
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent)
            .await
            .map_err(|e| e.to_string())?;
    }
    let partial = dest.with_extension("berth-partial");
    let blob = blobs.get(key).await.map_err(|e| e.to_string())?;
    let mut out = tokio::fs::File::create(&partial)
        .await
        .map_err(|e| e.to_string())?;
    let mut stream = blob.stream;
    while let Some(chunk) = stream.next().await {
        out.write_all(&chunk.map_err(|e| e.to_string())?)
            .await
            .map_err(|e| e.to_string())?;
    }
    out.flush().await.map_err(|e| e.to_string())?;
    tokio::fs::rename(&partial, dest)
        .await
        .map_err(|e| e.to_string())
}

/// Makes a file readable (and a folder searchable) by the sandbox's user.
fn open_up(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o755 } else { 0o644 };
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

fn open_up_tree(root: &Path) {
    open_up(root);
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            open_up(&path);
            if path.is_dir() {
                stack.push(path);
            }
        }
    }
}

/// Fetches the session's files and skills into its sandbox directory; returns the binds and
/// the skills to describe. Problems are logged and skipped (the turn goes on without them).
pub async fn prepare(
    store: &dyn Store,
    blobs: &BlobStore,
    dirs: &SandboxDirs,
    tenant_id: &str,
    session: &SessionStatic,
    owner: Option<(u32, u32)>,
) -> Prepared {
    let mut prepared = Prepared::default();
    let uploads = dirs.root.join("uploads");
    let mut any_upload = false;
    for resource in &session.resources {
        let Resource::File {
            file_id,
            mount_path,
            ..
        } = resource
        else {
            continue;
        };
        match prepare_file(store, blobs, dirs, tenant_id, file_id, mount_path, owner).await {
            Ok(Some(mount)) => prepared.mounts.push(mount),
            Ok(None) => any_upload = true,
            Err(e) => {
                tracing::warn!(session_id = %session.id, file_id, error = %e, "cannot mount a file resource")
            }
        }
    }
    if any_upload && uploads.exists() {
        open_up_tree(&uploads);
        prepared.mounts.push(ExtraMount {
            sandbox: UPLOADS_MOUNT.to_owned(),
            host: uploads,
            writable: false,
        });
    }
    let skills_dir = dirs.root.join("skills");
    for reference in &session.agent.skills {
        match prepare_skill(
            store,
            blobs,
            &skills_dir,
            tenant_id,
            &reference.skill_id,
            &reference.version,
        )
        .await
        {
            Ok(Some(info)) => prepared.skills.push(info),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(session_id = %session.id, skill_id = %reference.skill_id, error = %e, "cannot mount a skill")
            }
        }
    }
    if !prepared.skills.is_empty() {
        open_up_tree(&skills_dir);
        prepared.mounts.push(ExtraMount {
            sandbox: SKILLS_MOUNT.to_owned(),
            host: skills_dir,
            writable: false,
        });
    }
    prepared
}

/// Fetches one file resource. `Ok(None)`: it is under the shared uploads bind.
async fn prepare_file(
    store: &dyn Store,
    blobs: &BlobStore,
    dirs: &SandboxDirs,
    tenant_id: &str,
    file_id: &str,
    mount_path: &str,
    owner: Option<(u32, u32)>,
) -> Result<Option<ExtraMount>, String> {
    let row = store
        .get_file(
            tenant_id,
            file_id,
            berth_protocol::time::micros(berth_protocol::time::now()),
        )
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "the file no longer exists".to_owned())?;
    let file = object_of(&row).map_err(|e| format!("{e:?}"))?;
    let cached = dirs.root.join("uploads").join(file_id).join(&file.filename);
    fetch(blobs, &file_key(tenant_id, file_id), &cached).await?;
    if let Some(inside) = mount_path.strip_prefix("/workspace/") {
        // The workspace is the agent's: a copy it can change, made once.
        copy_into_workspace(&cached, &dirs.workspace, inside, owner)?;
        return Ok(None);
    }
    if mount_path == format!("{UPLOADS_MOUNT}/{file_id}/{}", file.filename) {
        return Ok(None);
    }
    open_up(&cached);
    Ok(Some(ExtraMount {
        sandbox: mount_path.to_owned(),
        host: cached,
        writable: false,
    }))
}

/// Fetches one skill version into `<skills>/<name>/` (replacing another version's files).
async fn prepare_skill(
    store: &dyn Store,
    blobs: &BlobStore,
    skills_dir: &Path,
    tenant_id: &str,
    skill_id: &str,
    version: &str,
) -> Result<Option<SkillInfo>, String> {
    let Some(skill) = store
        .get_skill(tenant_id, skill_id)
        .await
        .map_err(|e| e.to_string())?
    else {
        // Built-in skills have no files here; unknown ones were refused when the agent was saved.
        return Ok(None);
    };
    let skill: SkillObject = serde_json::from_str(&skill.body).map_err(|e| e.to_string())?;
    let version_id = if version == LATEST_SKILL_VERSION {
        skill.latest_version_id.clone()
    } else {
        version.to_owned()
    };
    let row = store
        .get_skill_version(tenant_id, skill_id, &version_id)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("version {version_id} does not exist"))?;
    let object: SkillVersionObject = serde_json::from_str(&row.body).map_err(|e| e.to_string())?;
    let manifest: Vec<ManifestEntry> =
        serde_json::from_str(&row.manifest).map_err(|e| e.to_string())?;
    let dest = skills_dir.join(&object.name);
    // Which version a folder holds is kept beside the bound folder, out of the sandbox's view.
    let markers = skills_dir.with_file_name("skill-versions");
    std::fs::create_dir_all(&markers).map_err(|e| e.to_string())?;
    let marker: PathBuf = markers.join(&object.name);
    let current = std::fs::read_to_string(&marker).unwrap_or_default();
    if current != row.id {
        let _ = std::fs::remove_dir_all(&dest);
        let prefix = skill_prefix(tenant_id, skill_id, &row.id);
        for (index, entry) in manifest.iter().enumerate() {
            fetch(
                blobs,
                &format!("{prefix}/f{index}"),
                &dest.join(&entry.path),
            )
            .await?;
        }
        std::fs::write(&marker, &row.id).map_err(|e| e.to_string())?;
    }
    Ok(Some(SkillInfo {
        name: object.name,
        description: object.description,
    }))
}

/// The system prompt's section about the agent's skills.
pub fn skills_prompt(skills: &[SkillInfo]) -> Option<String> {
    if skills.is_empty() {
        return None;
    }
    let mut text = String::from(
        "## Skills\n\nThese skills are installed in the sandbox. Before using one, read its \
         SKILL.md; its other files are next to it.\n",
    );
    for skill in skills {
        text.push_str(&format!(
            "\n- {}: {} ({SKILLS_MOUNT}/{}/SKILL.md)",
            skill.name, skill.description, skill.name
        ));
    }
    Some(text)
}

/// Copies `source` to `<workspace>/<inside>` unless something is there already. The workspace
/// is the agent's, and this runs as the server: no existing component of the path may be a
/// symlink (it could point anywhere on the host), directories are created one at a time, and
/// the file is created exclusively, which never follows a link at the final name.
fn copy_into_workspace(
    source: &Path,
    workspace: &Path,
    inside: &str,
    owner: Option<(u32, u32)>,
) -> Result<(), String> {
    let parts: Vec<&str> = inside.split('/').filter(|p| !p.is_empty()).collect();
    let Some((name, parents)) = parts.split_last() else {
        return Err("the mount path names no file".to_owned());
    };
    let mut dir = workspace.to_path_buf();
    for part in parents {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(meta) if meta.file_type().is_symlink() || !meta.is_dir() => {
                return Err(format!(
                    "{} is not a directory of the workspace (a link or a file is in the way)",
                    dir.display()
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
                if let Some((uid, gid)) = owner {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                        .map_err(|e| e.to_string())?;
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    let dest = dir.join(name);
    let mut out = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&dest)
    {
        Ok(f) => f,
        // Already there (the agent may have changed it): leave it.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e.to_string()),
    };
    let mut input = std::fs::File::open(source).map_err(|e| e.to_string())?;
    std::io::copy(&mut input, &mut out).map_err(|e| e.to_string())?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&out, Some(uid), Some(gid)).map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod workspace_copy_tests {
    use super::copy_into_workspace;

    #[test]
    fn copies_refuse_links_in_the_path_and_never_overwrite() {
        let root = tempfile::tempdir().unwrap();
        let workspace = root.path().join("workspace");
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&workspace).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let source = root.path().join("source.txt");
        std::fs::write(&source, "data").unwrap();

        copy_into_workspace(&source, &workspace, "a/b/file.txt", None).unwrap();
        assert_eq!(
            std::fs::read_to_string(workspace.join("a/b/file.txt")).unwrap(),
            "data"
        );
        // A directory link in the path: refused, nothing written outside.
        std::os::unix::fs::symlink(&outside, workspace.join("escape")).unwrap();
        assert!(copy_into_workspace(&source, &workspace, "escape/x.txt", None).is_err());
        assert!(!outside.join("x.txt").exists());
        // A dangling link at the final name: left alone, never followed.
        std::os::unix::fs::symlink(outside.join("target"), workspace.join("dangling")).unwrap();
        copy_into_workspace(&source, &workspace, "dangling", None).unwrap();
        assert!(!outside.join("target").exists());
        // An existing file is kept.
        std::fs::write(workspace.join("kept.txt"), "mine").unwrap();
        copy_into_workspace(&source, &workspace, "kept.txt", None).unwrap();
        assert_eq!(
            std::fs::read_to_string(workspace.join("kept.txt")).unwrap(),
            "mine"
        );
    }
}
