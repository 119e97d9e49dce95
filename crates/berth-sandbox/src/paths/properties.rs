//! Property tests of path resolution: whatever path the model names and whatever links the
//! sandbox has made, a resolved path is inside one of the sandbox's mounts (the system
//! directories only for reading), never in the sandbox's own host folder beside them.
//! `PROPTEST_CASES` raises the number of cases (CI runs the default 256).

use std::path::{Component, Path};

use proptest::prelude::*;

use super::{Access, SandboxDirs};

/// Targets a link in the workspace may point at.
fn link_target() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("/".to_owned()),
        Just("..".to_owned()),
        Just("../..".to_owned()),
        Just("../../..".to_owned()),
        Just("../secret".to_owned()),
        Just("/etc".to_owned()),
        Just("/mnt".to_owned()),
        Just("/mnt/session/outputs".to_owned()),
        Just("/tmp/../..".to_owned()),
        Just("/proc/self/root".to_owned()),
        Just("a".to_owned()),
        Just("l0".to_owned()),
        Just("l1/..".to_owned()),
        Just("HOST_ROOT".to_owned()),
        Just("HOST_ROOT/secret".to_owned()),
    ]
}

/// A path as the model might name it.
fn asked_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just(".."),
        Just("."),
        Just(""),
        Just("workspace"),
        Just("tmp"),
        Just("mnt"),
        Just("session"),
        Just("outputs"),
        Just("etc"),
        Just("secret"),
        Just("a"),
        Just("l0"),
        Just("l1"),
        Just("l2"),
    ];
    (any::<bool>(), proptest::collection::vec(segment, 0..8)).prop_map(|(absolute, parts)| {
        format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"))
    })
}

fn inside(path: &Path, base: &Path) -> bool {
    path.starts_with(base)
}

proptest! {
    #[test]
    fn resolved_paths_stay_in_the_mounts(
        targets in proptest::collection::vec(link_target(), 3),
        asked in asked_path(),
        write in any::<bool>(),
    ) {
        let temp = tempfile::tempdir().unwrap();
        let root = temp.path().join("sandbox");
        let dirs = SandboxDirs::new(root.clone(), Vec::new());
        for (_, host) in dirs.mounts() {
            std::fs::create_dir_all(host).unwrap();
        }
        std::fs::create_dir_all(dirs.workspace.join("a")).unwrap();
        std::fs::create_dir_all(root.join("secret")).unwrap();
        std::fs::write(root.join("secret/key"), "host only").unwrap();
        for (i, target) in targets.iter().enumerate() {
            let target = target.replace("HOST_ROOT", &root.to_string_lossy());
            std::os::unix::fs::symlink(target, dirs.workspace.join(format!("l{i}"))).unwrap();
        }
        let access = if write { Access::Write } else { Access::Read };
        let Ok(resolved) = dirs.resolve(&asked, access) else {
            return Ok(());
        };
        prop_assert!(
            !resolved.host.components().any(|c| c == Component::ParentDir),
            "{asked} -> {:?}", resolved.host
        );
        prop_assert!(!resolved.sandbox.split('/').any(|s| s == ".." || s == "."), "{}", resolved.sandbox);
        let writable_mount = dirs.mounts().iter().any(|(_, host)| inside(&resolved.host, host));
        if resolved.writable {
            prop_assert!(writable_mount, "{asked} -> {:?} is writable", resolved.host);
        } else {
            prop_assert!(!write, "{asked}: a write resolved to a read-only path");
            prop_assert!(!inside(&resolved.host, &root), "{asked} -> {:?}", resolved.host);
        }
        // On the host, too, the path ends up in a mount or outside the sandbox's folder.
        if let Ok(real) = std::fs::canonicalize(&resolved.host) {
            let real_root = std::fs::canonicalize(&root).unwrap();
            let in_mount = dirs
                .mounts()
                .iter()
                .any(|(_, host)| inside(&real, &std::fs::canonicalize(host).unwrap()));
            prop_assert!(in_mount || !inside(&real, &real_root), "{asked} -> {:?}", real);
        }
    }
}
