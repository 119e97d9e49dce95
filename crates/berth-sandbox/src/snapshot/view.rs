//! Which symbolic links a restore keeps: those whose target, read as the sandbox reads it (from
//! where the link sits, `/workspace/...` or `/mnt/session/outputs/...`), names something the
//! sandbox can see. A link to anything else dangles inside the sandbox anyway, while on the
//! host it would name a host path; it is dropped. Restoring never follows a link either way.

use std::ffi::OsStr;
use std::path::{Component, Path};

use super::TREES;
use crate::paths::{OUTPUTS, SYSTEM_DIRS, TMP, WORKSPACE};

/// What a sandbox sees besides the system directories: its own mounts, the read-only mounts
/// under `/mnt` (uploads, skills) and its own `/dev`.
const VISIBLE: &[&str] = &[WORKSPACE, "/mnt", TMP, "/dev"];

/// Whether a link at `relative` (a path in the archive, such as `workspace/bin/python`) to
/// `target` points somewhere the sandbox can see.
pub(crate) fn keeps_link(relative: &Path, target: &Path) -> bool {
    let mut parts = relative.components();
    let mount = match parts.next() {
        Some(Component::Normal(tree)) if tree == TREES[0] => WORKSPACE,
        Some(Component::Normal(tree)) if tree == TREES[1] => OUTPUTS,
        _ => return false,
    };
    let mut at: Vec<&OsStr> = Path::new(mount)
        .components()
        .chain(parts)
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part),
            _ => None,
        })
        .collect();
    // The link's own name: its target is read from the directory it sits in.
    at.pop();
    for component in target.components() {
        match component {
            Component::RootDir => at.clear(),
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(part) => at.push(part),
            Component::CurDir | Component::Prefix(_) => {}
        }
    }
    let resolved = Path::new("/").join(at.iter().collect::<std::path::PathBuf>());
    VISIBLE
        .iter()
        .chain(SYSTEM_DIRS)
        .any(|root| resolved.starts_with(root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_judged_from_where_the_sandbox_sees_them() {
        let keeps = |at: &str, to: &str| keeps_link(Path::new(at), Path::new(to));
        assert!(keeps("workspace/link.txt", "src/a.txt"));
        assert!(keeps("workspace/a/b/up", "../../other"));
        assert!(keeps("workspace/venv/bin/python", "/usr/bin/python3"));
        assert!(keeps("workspace/report", "/mnt/session/outputs/report.csv"));
        assert!(keeps("outputs/back", "../../../workspace/x"));
        assert!(keeps("workspace/null", "/dev/null"));
        // Out of the workspace to the sandbox's root, then to host paths it cannot see.
        assert!(!keeps("workspace/up", ".."));
        assert!(!keeps("workspace/escape", "../../../../root/.ssh"));
        assert!(!keeps("workspace/data", "/var/lib/berth"));
        assert!(!keeps("workspace/root", "/"));
        // `..` never climbs above the root, as in the kernel.
        assert!(keeps("workspace/deep", "../../../../../usr/lib"));
        // Nothing outside the trees is a link anyone keeps.
        assert!(!keeps("elsewhere/link", "x"));
    }
}
