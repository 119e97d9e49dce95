use chrono::TimeZone;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::*;

fn at(s: i64) -> Timestamp {
    Utc.timestamp_opt(1_800_000_000 + s, 0)
        .single()
        .unwrap_or_default()
}

fn refused(path: &str) -> String {
    match normalize_path(path) {
        Ok(p) => panic!("{path:?} was accepted as {p:?}"),
        Err(e) => {
            assert_eq!(e.field, "path");
            e.message
        }
    }
}

#[test]
fn the_spec_limits() {
    assert_eq!(MAX_MEMORIES_PER_STORE, 2_000);
    assert_eq!(MAX_PATH_SEGMENTS, 20);
    assert_eq!(MAX_PATH_BYTES, 1_024);
    assert_eq!(MAX_CONTENT_BYTES, 102_400);
    assert_eq!(MAX_DESCRIPTION_CHARS, 1_024);
}

#[test]
fn paths_are_compared_in_nfc_and_case_sensitively() {
    let precomposed = normalize_path("/notes/caf\u{e9}.md").unwrap();
    let decomposed = normalize_path("/notes/cafe\u{301}.md").unwrap();
    assert_eq!(precomposed, decomposed);
    assert_eq!(decomposed, "/notes/caf\u{e9}.md");
    assert_ne!(
        normalize_path("/Notes.md").unwrap(),
        normalize_path("/notes.md").unwrap()
    );
    assert_eq!(normalize_path("/a b/ c .md").unwrap(), "/a b/ c .md");
}

#[test]
fn paths_must_be_absolute_file_paths() {
    assert!(refused("").contains("empty"));
    assert!(refused("notes.md").contains("start with '/'"));
    assert!(refused("/").contains("below '/'"));
    assert!(refused("/notes/").contains("must not end with '/'"));
    assert!(refused("/notes//a.md").contains("empty segments"));
    assert!(refused("//a.md").contains("empty segments"));
}

#[test]
fn dot_segments_are_refused() {
    for path in ["/..", "/a/../b", "/a/..", "/.", "/./a", "/a/./b"] {
        assert!(refused(path).contains("'.' or '..'"), "{path}");
    }
    // Dots inside a name are ordinary characters.
    assert_eq!(normalize_path("/.hidden/..md").unwrap(), "/.hidden/..md");
}

#[test]
fn control_characters_and_backslashes_are_refused() {
    for path in ["/a\nb", "/a\u{0}", "/tab\there", "/del\u{7f}", "/c1\u{85}"] {
        assert!(refused(path).contains("control"), "{path:?}");
    }
    assert!(refused("/a\\b").contains('\\'));
    for path in [
        "/a\u{2028}b",
        "/a\u{2029}b",
        "/zero\u{200B}width",
        "/rlo\u{202E}dm.exe",
        "/\u{FEFF}bom",
    ] {
        assert!(refused(path).contains("format characters"), "{path:?}");
    }
    // Letters of any script are fine.
    assert!(normalize_path("/日本/ملاحظات.md").is_ok());
}

#[test]
fn paths_hold_at_most_twenty_segments() {
    let twenty = "/s".repeat(MAX_PATH_SEGMENTS);
    assert_eq!(normalize_path(&twenty).unwrap(), twenty);
    let message = refused(&"/s".repeat(MAX_PATH_SEGMENTS + 1));
    assert!(message.contains("at most 20 segments"), "{message}");
}

#[test]
fn the_byte_limit_applies_after_normalisation() {
    let longest = format!("/{}", "a".repeat(MAX_PATH_BYTES - 1));
    assert!(normalize_path(&longest).is_ok());
    assert!(refused(&format!("{longest}a")).contains("1024 bytes"));
    // 400 × "e" + combining acute is 1,201 bytes as sent and 801 once composed.
    let decomposed = format!("/{}", "e\u{301}".repeat(400));
    assert!(decomposed.len() > MAX_PATH_BYTES);
    assert_eq!(normalize_path(&decomposed).unwrap().len(), 801);
    // Bytes, not characters: 513 two-byte characters are 1,027 bytes.
    assert!(refused(&format!("/{}", "\u{e9}".repeat(513))).contains("bytes"));
}

#[test]
fn content_is_limited_in_bytes() {
    assert!(check_content(&"a".repeat(MAX_CONTENT_BYTES)).is_ok());
    let err = check_content(&"a".repeat(MAX_CONTENT_BYTES + 1)).unwrap_err();
    assert_eq!(err.field, "content");
    // 51,201 characters, but 102,402 bytes.
    assert!(check_content(&"\u{e9}".repeat(51_201)).is_err());
}

#[test]
fn content_sha256_is_lowercase_hex_of_the_bytes() {
    assert_eq!(
        content_sha256(""),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(
        content_sha256("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let upper = content_sha256("abc").to_ascii_uppercase();
    assert_eq!(
        parse_sha256("expected_content_sha256", &upper).unwrap(),
        content_sha256("abc")
    );
    for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65)] {
        let err = parse_sha256("expected_content_sha256", bad).unwrap_err();
        assert_eq!(err.field, "expected_content_sha256");
    }
}

fn create(body: Value) -> Validated<MemoryCreate> {
    resolve_create(serde_json::from_value(body).unwrap())
}

fn update(body: Value) -> Validated<MemoryEdit> {
    resolve_update(serde_json::from_value(body).unwrap())
}

#[test]
fn creates_normalise_and_digest() {
    let made = create(json!({"path": "/cafe\u{301}.md", "content": "abc"})).unwrap();
    assert_eq!(
        made,
        MemoryCreate {
            path: "/caf\u{e9}.md".into(),
            content: CheckedContent {
                content: "abc".into(),
                sha256: content_sha256("abc"),
                size_bytes: 3,
            },
        }
    );
    let empty = create(json!({"path": "/empty.md", "content": null})).unwrap();
    assert_eq!(empty.content.content, "");
    assert_eq!(empty.content.sha256, content_sha256(""));
    assert_eq!(create(json!({"path": "/a"})).unwrap_err().field, "content");
    assert_eq!(create(json!({"content": "x"})).unwrap_err().field, "path");
    assert_eq!(
        create(json!({"path": "/a/", "content": "x"}))
            .unwrap_err()
            .field,
        "path"
    );
}

#[test]
fn updates_rename_edit_and_guard() {
    let edit = update(json!({
        "path": "/b.md",
        "content": "new",
        "precondition": {"type": "content_sha256", "content_sha256": content_sha256("old").to_uppercase()},
    }))
    .unwrap();
    assert_eq!(edit.path.as_deref(), Some("/b.md"));
    assert_eq!(edit.content.map(|c| c.sha256), Some(content_sha256("new")));
    assert_eq!(edit.expected_sha256, Some(content_sha256("old")));

    let noop = update(json!({})).unwrap();
    assert_eq!(
        noop,
        MemoryEdit {
            path: None,
            content: None,
            expected_sha256: None
        }
    );
    let emptied = update(json!({"content": null})).unwrap();
    assert_eq!(emptied.content.map(|c| c.size_bytes), Some(0));
    assert_eq!(update(json!({"path": null})).unwrap_err().field, "path");
    assert_eq!(
        update(json!({"precondition": {"type": "content_sha256"}}))
            .unwrap_err()
            .field,
        "precondition.content_sha256"
    );
    assert!(
        serde_json::from_value::<MemoryUpdateRequest>(json!({"precondition": {"type": "etag"}}))
            .is_err()
    );
}

#[test]
fn stores_have_a_directory_name_and_a_short_description() {
    let make = |body: Value| {
        create_memory_store(
            serde_json::from_value(body).unwrap(),
            "memstore_1".into(),
            at(0),
        )
    };
    let store = make(json!({"name": "notes"})).unwrap();
    assert_eq!(
        serde_json::to_value(&store).unwrap(),
        json!({"id": "memstore_1", "type": "memory_store", "name": "notes", "description": "",
               "metadata": {}, "created_at": "2027-01-15T08:00:00Z",
               "updated_at": "2027-01-15T08:00:00Z", "archived_at": null})
    );
    assert_eq!(make(json!({})).unwrap_err().field, "name");
    for bad in ["", "a/b", "a\\b", "..", "tab\there"] {
        assert_eq!(
            make(json!({"name": bad})).unwrap_err().field,
            "name",
            "{bad}"
        );
    }
    let long = "é".repeat(MAX_DESCRIPTION_CHARS);
    assert!(make(json!({"name": "n", "description": long})).is_ok());
    let err = make(json!({"name": "n", "description": format!("{long}x")})).unwrap_err();
    assert_eq!(err.field, "description");
}

#[test]
fn store_updates_patch_and_clear() {
    let store = create_memory_store(
        serde_json::from_value(json!({"name": "n", "description": "d", "metadata": {"a": "1"}}))
            .unwrap(),
        "memstore_1".into(),
        at(0),
    )
    .unwrap();
    let patch = |body: Value| {
        update_memory_store(&store, serde_json::from_value(body).unwrap(), at(5)).unwrap()
    };
    assert_eq!(patch(json!({})), None);
    assert_eq!(patch(json!({"name": "n", "description": "d"})), None);
    let cleared = patch(json!({"description": ""})).unwrap();
    assert_eq!(
        (cleared.description.as_str(), cleared.updated_at),
        ("", at(5))
    );
    assert_eq!(patch(json!({"description": null})).unwrap().description, "");
    let next = patch(json!({"name": "m", "metadata": {"a": null, "b": "2"}})).unwrap();
    assert_eq!(next.name, "m");
    assert_eq!(next.metadata, [("b".to_owned(), "2".to_owned())].into());
    let err = update_memory_store(
        &store,
        serde_json::from_value(json!({"name": null})).unwrap(),
        at(5),
    )
    .unwrap_err();
    assert_eq!(err.field, "name");
}

fn memory() -> Memory {
    Memory {
        id: "mem_1".into(),
        kind: memories::MemoryTag,
        memory_store_id: "memstore_1".into(),
        memory_version_id: "memver_1".into(),
        path: "/a.md".into(),
        content_sha256: content_sha256("abc"),
        content_size_bytes: 3,
        content: Some("abc".into()),
        created_at: at(0),
        updated_at: at(1),
    }
}

#[test]
fn basic_views_show_content_as_null() {
    let basic = serde_json::to_value(memory().in_view(MemoryView::Basic)).unwrap();
    assert_eq!(basic["content"], Value::Null);
    assert_eq!(basic["type"], "memory");
    let full = serde_json::to_value(memory().in_view(MemoryView::Full)).unwrap();
    assert_eq!(full["content"], "abc");
    assert_eq!(MemoryView::parse("view", "full").unwrap(), MemoryView::Full);
    assert_eq!(MemoryView::parse("view", "all").unwrap_err().field, "view");
}

#[test]
fn list_items_are_memories_or_prefixes() {
    let items = vec![
        MemoryListItem::Prefix(MemoryPrefix::new("/projects/foo/")),
        MemoryListItem::Memory(memory().in_view(MemoryView::Basic)),
    ];
    let wire = serde_json::to_value(&items).unwrap();
    assert_eq!(
        wire[0],
        json!({"type": "memory_prefix", "path": "/projects/foo/"})
    );
    assert_eq!(wire[1]["type"], "memory");
    let back: Vec<MemoryListItem> = serde_json::from_value(wire).unwrap();
    assert_eq!(back, items);
}

#[test]
fn versions_name_their_operation_and_actors() {
    let version = MemoryVersion {
        id: "memver_2".into(),
        kind: versions::MemoryVersionTag,
        memory_id: "mem_1".into(),
        memory_store_id: "memstore_1".into(),
        operation: MemoryOperation::Deleted,
        created_at: at(2),
        content: None,
        content_sha256: None,
        content_size_bytes: None,
        path: None,
        created_by: Some(Actor::SessionActor {
            session_id: "sesn_1".into(),
        }),
        redacted_at: Some(at(3)),
        redacted_by: Some(Actor::ApiActor {
            api_key_id: "apikey_1".into(),
        }),
    };
    let wire = serde_json::to_value(&version).unwrap();
    assert_eq!(wire["type"], "memory_version");
    assert_eq!(wire["operation"], "deleted");
    assert_eq!(
        wire["created_by"],
        json!({"type": "session_actor", "session_id": "sesn_1"})
    );
    assert_eq!(
        wire["redacted_by"],
        json!({"type": "api_actor", "api_key_id": "apikey_1"})
    );
    let back: MemoryVersion = serde_json::from_value(wire).unwrap();
    assert_eq!(back, version);
    for (op, name) in [
        (MemoryOperation::Created, "created"),
        (MemoryOperation::Modified, "modified"),
        (MemoryOperation::Deleted, "deleted"),
    ] {
        assert_eq!(op.as_str(), name);
        assert_eq!(serde_json::to_value(op).unwrap(), name);
    }
    let user: Actor =
        serde_json::from_value(json!({"type": "service_account_actor", "service_account_id": "s"}))
            .unwrap();
    assert_eq!(
        user,
        Actor::ServiceAccountActor {
            service_account_id: "s".into()
        }
    );
}
