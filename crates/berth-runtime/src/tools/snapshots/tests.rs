//! The snapshot protocol between replicas: one shared local blob store, and a sandbox
//! directory for each replica's disk.

use std::path::Path;

use berth_blob::BlobStore;
use berth_sandbox::SandboxDirs;

use super::*;

const TENANT: &str = "tn_test";
const SESSION: &str = "sesn_test";

fn replica_disk(temp: &Path, name: &str) -> SandboxDirs {
    let dirs = SandboxDirs::new(temp.join(name).join(SESSION), Vec::new());
    for (_, dir) in dirs.mounts() {
        std::fs::create_dir_all(dir).unwrap();
    }
    dirs
}

async fn latest_id(snapshots: &WorkspaceSnapshots) -> Option<String> {
    snapshots
        .latest(TENANT, SESSION)
        .await
        .unwrap()
        .map(|l| l.id)
}

async fn archives(blobs: &BlobStore) -> Vec<String> {
    let mut keys: Vec<String> = blobs
        .list(&prefix(TENANT, SESSION))
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.key)
        .filter(|k| k.ends_with(".tar.gz"))
        .collect();
    keys.sort();
    keys
}

fn read(dirs: &SandboxDirs, path: &str) -> String {
    std::fs::read_to_string(dirs.workspace.join(path)).unwrap()
}

#[tokio::test]
async fn replicas_hand_files_over_and_stale_ones_never_win() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobStore::local(&temp.path().join("blobs")).unwrap();
    let snapshots = WorkspaceSnapshots::new(blobs.clone(), true);
    let a = replica_disk(temp.path(), "a");
    let b = replica_disk(temp.path(), "b");

    std::fs::write(a.workspace.join("notes.md"), "from a\n").unwrap();
    snapshots.save(TENANT, SESSION, a.clone()).await;
    let first = latest_id(&snapshots).await.expect("a snapshot");

    // B has files of its own but never saw the latest snapshot: they are not uploaded.
    std::fs::write(b.workspace.join("notes.md"), "stale on b\n").unwrap();
    snapshots.save(TENANT, SESSION, b.clone()).await;
    assert_eq!(latest_id(&snapshots).await.unwrap(), first);

    snapshots.restore(TENANT, SESSION, &b, None).await;
    assert_eq!(read(&b, "notes.md"), "from a\n");
    snapshots.save(TENANT, SESSION, b.clone()).await;
    assert_eq!(
        latest_id(&snapshots).await.unwrap(),
        first,
        "unchanged files are not uploaded again"
    );

    std::fs::write(b.workspace.join("notes.md"), "from b\n").unwrap();
    snapshots.save(TENANT, SESSION, b.clone()).await;
    let second = latest_id(&snapshots).await.unwrap();
    assert_ne!(second, first);
    assert_eq!(
        archives(&blobs).await,
        [archive_key(TENANT, SESSION, &second)]
    );

    // A is behind now: its own later change is not uploaded, and it catches up on restore.
    std::fs::write(a.workspace.join("notes.md"), "a diverged\n").unwrap();
    snapshots.save(TENANT, SESSION, a.clone()).await;
    assert_eq!(latest_id(&snapshots).await.unwrap(), second);
    snapshots.restore(TENANT, SESSION, &a, None).await;
    assert_eq!(read(&a, "notes.md"), "from b\n");

    // A missing archive does not wedge the session: the files here become the next snapshot.
    blobs
        .delete(&archive_key(TENANT, SESSION, &second))
        .await
        .unwrap();
    let c = replica_disk(temp.path(), "c");
    std::fs::write(c.workspace.join("notes.md"), "from c\n").unwrap();
    snapshots.restore(TENANT, SESSION, &c, None).await;
    assert_eq!(read(&c, "notes.md"), "from c\n");
    snapshots.save(TENANT, SESSION, c.clone()).await;
    let third = latest_id(&snapshots).await.unwrap();
    assert_ne!(third, second);
    snapshots.restore(TENANT, SESSION, &a, None).await;
    assert_eq!(read(&a, "notes.md"), "from c\n");

    snapshots.delete(TENANT, SESSION).await;
    assert!(
        blobs
            .list(&prefix(TENANT, SESSION))
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn nothing_happens_when_snapshots_are_off() {
    let temp = tempfile::tempdir().unwrap();
    let blobs = BlobStore::local(&temp.path().join("blobs")).unwrap();
    let snapshots = WorkspaceSnapshots::new(blobs.clone(), false);
    let a = replica_disk(temp.path(), "a");
    std::fs::write(a.workspace.join("notes.md"), "local only\n").unwrap();
    snapshots.save(TENANT, SESSION, a.clone()).await;
    assert!(blobs.list("t").await.unwrap().is_empty());
    assert!(!a.root.join(MARKER_FILE).exists());
}
