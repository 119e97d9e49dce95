use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::time::{Duration, SystemTime};

use flate2::Compression;
use flate2::write::GzEncoder;
use pretty_assertions::assert_eq;
use tar::{Builder, EntryType, Header};

use super::*;
use crate::SandboxDirs;

/// A sandbox directory with its three trees, as `prepare_dirs` makes them.
fn sandbox(temp: &Path, name: &str) -> SandboxDirs {
    let dirs = SandboxDirs::new(temp.join(name), Vec::new());
    for (_, dir) in dirs.mounts() {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dirs
}

fn archive_of(dirs: &SandboxDirs) -> Vec<u8> {
    let mut out = Vec::new();
    pack(dirs, &mut out, SnapshotLimits::default()).unwrap();
    out
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_restore_brings_back_files_modes_times_and_links() {
    let temp = tempfile::tempdir().unwrap();
    let from = sandbox(temp.path(), "a");
    let ws = &from.workspace;
    write(&ws.join("src/a.txt"), "hello\n");
    let precise = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
    std::fs::File::options()
        .write(true)
        .open(ws.join("src/a.txt"))
        .unwrap()
        .set_modified(precise)
        .unwrap();
    write(&ws.join("run.sh"), "#!/bin/sh\necho ran\n");
    std::fs::set_permissions(ws.join("run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
    symlink("src/a.txt", ws.join("link.txt")).unwrap();
    symlink("/usr/bin/python3", ws.join("python")).unwrap();
    symlink("/var/lib/secret", ws.join("escape")).unwrap();
    std::fs::create_dir_all(ws.join("empty")).unwrap();
    write(&ws.join("locked/inside.txt"), "kept\n");
    std::fs::set_permissions(ws.join("locked"), std::fs::Permissions::from_mode(0o555)).unwrap();
    write(&from.outputs.join("report.csv"), "a,b\n");
    write(&from.tmp.join("scratch"), "not carried\n");
    let archive = archive_of(&from);

    let to = sandbox(temp.path(), "b");
    write(&to.workspace.join("old.txt"), "replaced\n");
    write(&to.tmp.join("keep"), "tmp is not touched\n");
    let restored = restore(&to, archive.as_slice(), None, SnapshotLimits::default()).unwrap();
    assert_eq!(restored.skipped, 1, "the link to /var/lib is dropped");

    let read = |p: &str| std::fs::read_to_string(to.workspace.join(p)).unwrap();
    assert_eq!(read("src/a.txt"), "hello\n");
    assert_eq!(read("link.txt"), "hello\n");
    assert_eq!(read("locked/inside.txt"), "kept\n");
    assert_eq!(mode(&to.workspace.join("run.sh")), 0o755);
    assert_eq!(mode(&to.workspace.join("locked")), 0o555);
    assert_eq!(mode(&to.workspace), 0o700);
    assert_eq!(
        std::fs::read_link(to.workspace.join("link.txt")).unwrap(),
        Path::new("src/a.txt")
    );
    assert_eq!(
        std::fs::read_link(to.workspace.join("python")).unwrap(),
        Path::new("/usr/bin/python3")
    );
    assert!(std::fs::symlink_metadata(to.workspace.join("escape")).is_err());
    assert!(to.workspace.join("empty").is_dir());
    assert!(!to.workspace.join("old.txt").exists());
    assert_eq!(
        std::fs::metadata(to.workspace.join("src/a.txt"))
            .unwrap()
            .modified()
            .unwrap(),
        precise
    );
    assert_eq!(
        std::fs::read_to_string(to.outputs.join("report.csv")).unwrap(),
        "a,b\n"
    );
    assert!(!to.tmp.join("scratch").exists());
    assert!(to.tmp.join("keep").exists());
    assert!(!to.root.join(".berth-restore").exists());
    assert!(!to.root.join(".berth-replaced").exists());

    // Apart from the dropped link, the copy is the original as far as a snapshot can tell.
    std::fs::remove_file(ws.join("escape")).unwrap();
    assert_eq!(fingerprint(&to).unwrap(), fingerprint(&from).unwrap());
}

#[test]
fn fingerprints_move_with_every_kept_change() {
    let temp = tempfile::tempdir().unwrap();
    let dirs = sandbox(temp.path(), "s");
    write(&dirs.workspace.join("a.txt"), "one");
    let mut last = fingerprint(&dirs).unwrap();
    assert_eq!(last.bytes, 3);
    assert_eq!(last.entries, 3, "two trees and a file");
    assert_eq!(
        fingerprint(&dirs).unwrap(),
        last,
        "stable when nothing changes"
    );
    write(&dirs.tmp.join("x"), "tmp is not in snapshots");
    assert_eq!(fingerprint(&dirs).unwrap(), last);

    type Change = Box<dyn Fn(&SandboxDirs)>;
    let changes: Vec<Change> = vec![
        Box::new(|d| write(&d.workspace.join("b.txt"), "new")),
        Box::new(|d| {
            std::fs::set_permissions(
                d.workspace.join("b.txt"),
                std::fs::Permissions::from_mode(0o755),
            )
            .unwrap()
        }),
        Box::new(|d| {
            std::fs::rename(d.workspace.join("b.txt"), d.workspace.join("c.txt")).unwrap()
        }),
        Box::new(|d| std::fs::create_dir(d.workspace.join("dir")).unwrap()),
        Box::new(|d| symlink("a.txt", d.workspace.join("link")).unwrap()),
        Box::new(|d| {
            std::fs::remove_file(d.workspace.join("link")).unwrap();
            symlink("c.txt", d.workspace.join("link")).unwrap();
        }),
        Box::new(|d| write(&d.outputs.join("out.txt"), "output")),
    ];
    for (index, change) in changes.iter().enumerate() {
        change(&dirs);
        let now = fingerprint(&dirs).unwrap();
        assert_ne!(now.digest, last.digest, "change {index} went unseen");
        last = now;
    }
}

/// One raw entry, with whatever name, type and link the test wants (the builder's own methods
/// refuse unsafe names).
fn raw(
    builder: &mut Builder<GzEncoder<Vec<u8>>>,
    kind: EntryType,
    path: &str,
    link: &str,
    data: &[u8],
    mode: u32,
) {
    let mut header = Header::new_gnu();
    header.set_entry_type(kind);
    header.set_size(data.len() as u64);
    header.set_mode(mode);
    header.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
    header.as_old_mut().linkname[..link.len()].copy_from_slice(link.as_bytes());
    header.set_cksum();
    builder.append(&header, data).unwrap();
}

#[test]
fn hostile_archives_write_nothing_outside_the_sandbox() {
    let temp = tempfile::tempdir().unwrap();
    let outside = temp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    write(&outside.join("target"), "original");
    let out = outside.display().to_string();
    let dirs = sandbox(temp.path(), "s");

    let mut b = Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    let file = EntryType::Regular;
    raw(&mut b, file, "../evil", "", b"x", 0o644);
    raw(&mut b, file, "workspace/../../evil", "", b"x", 0o644);
    raw(&mut b, file, &format!("{out}/absolute"), "", b"x", 0o644);
    // A link out, then files through it.
    raw(
        &mut b,
        EntryType::Symlink,
        "workspace/etc",
        &out,
        b"",
        0o777,
    );
    raw(
        &mut b,
        file,
        "workspace/etc/passwd",
        "",
        b"root::0:0",
        0o644,
    );
    raw(
        &mut b,
        EntryType::Symlink,
        "workspace/up",
        "../../..",
        b"",
        0o777,
    );
    raw(&mut b, file, "workspace/up/evil", "", b"x", 0o644);
    // A link kept (the sandbox sees /tmp), then a link through it.
    let planted = format!("berth-planted-{}", std::process::id());
    raw(
        &mut b,
        EntryType::Symlink,
        "workspace/sys",
        "/tmp",
        b"",
        0o777,
    );
    raw(
        &mut b,
        EntryType::Symlink,
        &format!("workspace/sys/{planted}"),
        "/usr",
        b"",
        0o777,
    );
    // Replacing the mount point itself.
    raw(&mut b, EntryType::Symlink, "outputs", &out, b"", 0o777);
    raw(&mut b, file, "outputs/through", "", b"x", 0o644);
    raw(
        &mut b,
        EntryType::Link,
        "workspace/hard",
        &format!("{out}/target"),
        b"",
        0o644,
    );
    raw(&mut b, EntryType::Char, "workspace/null", "", b"", 0o666);
    raw(&mut b, EntryType::Fifo, "workspace/fifo", "", b"", 0o644);
    raw(&mut b, file, "elsewhere/file", "", b"x", 0o644);
    raw(&mut b, file, "workspace/suid", "", b"#!/bin/sh\n", 0o4755);
    raw(&mut b, file, "workspace/fine.txt", "", b"fine", 0o644);
    let archive = b.into_inner().unwrap().finish().unwrap();

    let restored = restore(&dirs, archive.as_slice(), None, SnapshotLimits::default()).unwrap();

    let mut names: Vec<String> = std::fs::read_dir(&outside)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["target"], "nothing was written outside");
    assert_eq!(
        std::fs::read_to_string(outside.join("target")).unwrap(),
        "original"
    );
    for evil in [
        temp.path().join("evil"),
        dirs.root.join("evil"),
        dirs.root.join("elsewhere"),
    ] {
        assert!(!evil.exists(), "{}", evil.display());
    }
    // What was safe to write is there, in real directories.
    let ws = &dirs.workspace;
    assert_eq!(
        std::fs::read_to_string(ws.join("fine.txt")).unwrap(),
        "fine"
    );
    assert_eq!(
        std::fs::read_to_string(ws.join("etc/passwd")).unwrap(),
        "root::0:0"
    );
    assert!(std::fs::symlink_metadata(ws.join("etc")).unwrap().is_dir());
    assert!(std::fs::symlink_metadata(ws.join("up")).unwrap().is_dir());
    assert_eq!(
        std::fs::read_link(ws.join("sys")).unwrap(),
        Path::new("/tmp")
    );
    assert!(std::fs::symlink_metadata(Path::new("/tmp").join(&planted)).is_err());
    assert!(std::fs::symlink_metadata(&dirs.outputs).unwrap().is_dir());
    assert!(dirs.outputs.join("through").is_file());
    for absent in ["hard", "null", "fifo"] {
        assert!(
            std::fs::symlink_metadata(ws.join(absent)).is_err(),
            "{absent}"
        );
    }
    assert_eq!(mode(&ws.join("suid")), 0o755, "set-id bits are dropped");
    assert_eq!(
        restored.skipped, 11,
        "three unsafe paths, three links, the mount point, a hard link, a device, a FIFO and a \
         path outside the trees"
    );
}

#[test]
fn limits_hold_on_both_sides_and_a_failed_restore_changes_nothing() {
    let temp = tempfile::tempdir().unwrap();
    let from = sandbox(temp.path(), "a");
    write(&from.workspace.join("big.bin"), &"x".repeat(10_000));
    let small = SnapshotLimits {
        bytes: 1000,
        entries: 100,
    };
    assert!(matches!(
        pack(&from, Vec::new(), small),
        Err(SnapshotError::TooLarge { limit: 1000 })
    ));
    assert!(matches!(
        fingerprint(&from).unwrap().check(small),
        Err(SnapshotError::TooLarge { .. })
    ));
    let archive = archive_of(&from);

    let to = sandbox(temp.path(), "b");
    write(&to.workspace.join("mine.txt"), "still here");
    assert!(matches!(
        restore(&to, archive.as_slice(), None, small),
        Err(SnapshotError::TooLarge { limit: 1000 })
    ));
    let few = SnapshotLimits {
        bytes: 1 << 20,
        entries: 0,
    };
    assert!(matches!(
        restore(&to, archive.as_slice(), None, few),
        Err(SnapshotError::TooManyEntries { limit: 0 })
    ));
    let cut = archive.get(..archive.len() / 2).unwrap();
    assert!(matches!(
        restore(&to, cut, None, SnapshotLimits::default()),
        Err(SnapshotError::Archive(_))
    ));
    assert_eq!(
        std::fs::read_to_string(to.workspace.join("mine.txt")).unwrap(),
        "still here"
    );
    assert!(!to.workspace.join("big.bin").exists());
    assert!(!to.root.join(".berth-restore").exists());
}
