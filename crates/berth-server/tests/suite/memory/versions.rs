//! Memory versions: every change recorded, and redaction.

use berth_test_support::TestServer;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

use super::{memory, store};

on_both_backends!(versions_record_every_change,);

async fn versions_record_every_change(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "notes").await;
    let base = format!("/v1/memory_stores/{store_id}/memories");
    let versions = format!("/v1/memory_stores/{store_id}/memory_versions");
    let created = memory(&api, &store_id, "/a.md", "one").await;
    let id = created["id"].as_str().unwrap();
    let first_version = created["memory_version_id"].as_str().unwrap().to_owned();
    api.post(&format!("{base}/{id}"), json!({"content": "two"}))
        .await
        .expect(200);
    let unchanged = api
        .post(&format!("{base}/{id}"), json!({"content": "two"}))
        .await
        .expect(200);
    let other = memory(&api, &store_id, "/b.md", "other").await;

    let listed = api
        .get(&format!("{versions}?memory_id={id}"))
        .await
        .expect(200);
    let ops: Vec<&str> = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["modified", "created"], "a no-op records nothing");
    assert_eq!(listed["data"][0]["id"], unchanged["memory_version_id"]);
    assert_eq!(
        listed["data"][0]["content"],
        Value::Null,
        "list defaults to basic"
    );
    assert_eq!(listed["data"][0]["type"], "memory_version");
    assert_eq!(listed["data"][0]["created_by"]["type"], "api_actor");
    assert!(listed["data"][0]["created_by"]["api_key_id"].is_string());
    assert_eq!(
        api.get(&versions).await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let full = api
        .get(&format!("{versions}?memory_id={id}&view=full"))
        .await
        .expect(200);
    assert_eq!(full["data"][0]["content"], "two");

    let old = api
        .get(&format!("{versions}/{first_version}"))
        .await
        .expect(200);
    assert_eq!(old["content"], "one", "retrieve defaults to full");
    assert_eq!(old["path"], "/a.md");

    let head = other["memory_version_id"].as_str().unwrap();
    let live = api
        .post(&format!("{versions}/{head}/redact"), json!(null))
        .await;
    assert_eq!(live.status, 409);
    assert!(live.error_message().contains("live"), "{}", live.text);

    let redacted = api
        .post(&format!("{versions}/{first_version}/redact"), json!(null))
        .await
        .expect(200);
    assert_eq!(redacted["id"], first_version.as_str());
    assert_eq!(redacted["content"], Value::Null);
    assert_eq!(redacted["path"], Value::Null);
    assert_eq!(redacted["content_sha256"], Value::Null);
    assert!(redacted["redacted_at"].is_string());
    assert_eq!(redacted["redacted_by"]["type"], "api_actor");
    let kept = api
        .get(&format!("{versions}/{first_version}"))
        .await
        .expect(200);
    assert_eq!(kept["operation"], "created", "the record stays");
    assert_eq!(kept["content"], Value::Null);

    api.delete(&format!("{base}/{id}")).await.expect(200);
    let after_delete = api
        .get(&format!("{versions}?memory_id={id}&view=full"))
        .await
        .expect(200);
    let data = after_delete["data"].as_array().unwrap();
    assert_eq!(data.len(), 3, "versions outlive their memory");
    assert_eq!(data[0]["operation"], "deleted");
    assert_eq!(
        data[0]["path"], data[1]["path"],
        "a deletion records where it was"
    );
    for field in ["content", "content_sha256", "content_size_bytes"] {
        assert_eq!(data[0][field], Value::Null, "{field} of a deletion");
    }
    assert_eq!(data[1]["content"], "two");
    let only_deletions = api
        .get(&format!("{versions}?memory_id={id}&operation=deleted"))
        .await
        .expect(200);
    assert_eq!(only_deletions["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get(&format!("{versions}?operation=renamed"))
            .await
            .status,
        400
    );
    assert_eq!(
        api.get(&format!("{versions}/memver_missing")).await.status,
        404
    );
}
