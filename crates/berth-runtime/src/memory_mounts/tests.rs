//! Syncing a memory folder against a real SQLite store: a crashed turn's files saved from the
//! state files alone, edits and removals found by stamp, files the agent changed never
//! overwritten by the store's version, and bad files reported without touching the store.

use std::sync::Arc;

use berth_memory::MemoryIndex;
use berth_sandbox::SandboxDirs;
use berth_store::{Collection, Document, MemoryQuery, NewApiKey, Store, TenantRow};
use berth_store_sqlite::SqliteStore;

use super::sync::MountState;
use super::sync_leftovers;

const TENANT: &str = "tn_mounts";
const STORE: &str = "memstore_mounts";

async fn fixture() -> (tempfile::TempDir, Arc<dyn Store>, SandboxDirs) {
    let temp = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&temp.path().join("berth.db"))
            .await
            .unwrap(),
    );
    let tenant = TenantRow {
        id: TENANT.into(),
        name: "mounts".into(),
        created_at: 1,
    };
    let key = NewApiKey {
        id: "apikey_mounts".into(),
        tenant_id: TENANT.into(),
        name: "k".into(),
        prefix: "k".into(),
        hash: b"k".to_vec(),
        is_admin: false,
        source: "api".into(),
        created_at: 1,
    };
    store.create_tenant(&tenant, &key).await.unwrap();
    let doc = Document {
        id: STORE.into(),
        tenant_id: TENANT.into(),
        version: 1,
        created_at: 1,
        updated_at: 1,
        archived_at: None,
        body: format!(r#"{{"id":"{STORE}","type":"memory_store"}}"#),
    };
    store
        .insert_document(Collection::MemoryStores, &doc)
        .await
        .unwrap();
    let dirs = SandboxDirs::new(temp.path().join("sandbox"), Vec::new());
    std::fs::create_dir_all(dirs.root.join("memory/notes")).unwrap();
    std::fs::create_dir_all(dirs.root.join("memory-state")).unwrap();
    MountState::new(STORE, true).save(&dirs.root.join("memory-state/notes.json"));
    (temp, store, dirs)
}

async fn contents(store: &Arc<dyn Store>) -> Vec<(String, String)> {
    let query = MemoryQuery {
        limit: 100,
        with_content: true,
        order: berth_store::SortOrder::Asc,
        ..Default::default()
    };
    store
        .list_memories(TENANT, STORE, &query)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.path, m.content))
        .collect()
}

async fn recover(store: &Arc<dyn Store>, dirs: &SandboxDirs) {
    sync_leftovers(
        store.as_ref(),
        &MemoryIndex::default(),
        dirs,
        TENANT,
        "sesn_1",
    )
    .await;
}

#[tokio::test]
async fn a_crashed_turns_files_are_saved_from_disk() {
    let (_temp, store, dirs) = fixture().await;
    let folder = dirs.root.join("memory/notes");
    std::fs::create_dir_all(folder.join("a")).unwrap();
    std::fs::write(folder.join("a/one.md"), "first").unwrap();
    std::fs::write(folder.join("two.md"), "second").unwrap();
    std::fs::write(folder.join("binary.bin"), [0xff, 0xfe]).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", folder.join("link.md")).unwrap();
    recover(&store, &dirs).await;
    assert_eq!(
        contents(&store).await,
        vec![
            ("/a/one.md".to_owned(), "first".to_owned()),
            ("/two.md".to_owned(), "second".to_owned()),
        ]
    );
    let query = berth_store::MemoryVersionQuery {
        page: berth_store::DocumentQuery {
            limit: 10,
            ..Default::default()
        },
        ..Default::default()
    };
    let versions = store
        .list_memory_versions(TENANT, STORE, &query)
        .await
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert!(
        versions
            .iter()
            .all(|v| v.actor == r#"{"type":"session_actor","session_id":"sesn_1"}"#),
        "{versions:?}"
    );

    // Nothing changed: nothing written again. An edit and a removal are found.
    recover(&store, &dirs).await;
    std::fs::write(folder.join("a/one.md"), "first, edited").unwrap();
    std::fs::remove_file(folder.join("two.md")).unwrap();
    recover(&store, &dirs).await;
    assert_eq!(
        contents(&store).await,
        vec![("/a/one.md".to_owned(), "first, edited".to_owned())]
    );
    let state = MountState::load(&dirs.root.join("memory-state/notes.json")).unwrap();
    assert_eq!(state.files.keys().collect::<Vec<_>>(), vec!["/a/one.md"]);
}

#[tokio::test]
async fn read_only_folders_are_never_synced_out() {
    let (_temp, store, dirs) = fixture().await;
    MountState::new(STORE, false).save(&dirs.root.join("memory-state/notes.json"));
    std::fs::write(dirs.root.join("memory/notes/x.md"), "x").unwrap();
    recover(&store, &dirs).await;
    assert!(contents(&store).await.is_empty());
}

#[test]
fn folders_are_named_after_stores_and_unique() {
    use super::unique_folder;
    let mut taken = Default::default();
    assert_eq!(
        unique_folder("Team notes", "memstore_1", &mut taken),
        "Team notes"
    );
    assert_eq!(
        unique_folder("Team notes", "memstore_2", &mut taken),
        "Team notes-2"
    );
    assert_eq!(
        unique_folder("a/b\\c\td", "memstore_3", &mut taken),
        "a_b_c_d"
    );
    assert_eq!(unique_folder("..", "memstore_4", &mut taken), "memstore_4");
    assert_eq!(
        unique_folder("  .hidden ", "memstore_5", &mut taken),
        "hidden"
    );
    assert_eq!(
        unique_folder("notes\u{200B}", "memstore_7", &mut taken),
        "notes_"
    );
    let long = "é".repeat(80);
    assert!(unique_folder(&long, "memstore_6", &mut taken).len() <= 100);
}
