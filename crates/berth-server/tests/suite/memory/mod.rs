//! Memory stores, memories and versions (contract §8.2): store lifecycle, views, optimistic
//! concurrency, path rules, depth roll-ups, versions and redaction, tenant isolation, and the
//! seed's `entries` listing.

mod search;
mod sessions;
mod versions;

use berth_test_support::{Api, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends!(
    memory_store_lifecycle,
    memories_create_retrieve_update_list,
    preconditions_and_path_conflicts_answer_409,
    bad_paths_and_content_are_refused,
    depth_rolls_up_deeper_paths,
    memory_stores_are_private_to_their_tenant,
    entries_lists_recent_memories,
);

pub(super) async fn store(api: &Api, name: &str) -> String {
    api.post("/v1/memory_stores", json!({"name": name}))
        .await
        .expect(200)["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(super) async fn memory(api: &Api, store_id: &str, path: &str, content: &str) -> Value {
    api.post(
        &format!("/v1/memory_stores/{store_id}/memories"),
        json!({"path": path, "content": content}),
    )
    .await
    .expect(200)
}

fn sha256(text: &str) -> String {
    berth_protocol::memory::content_sha256(text)
}

fn paths(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["path"].as_str().unwrap().to_owned())
        .collect()
}

async fn memory_store_lifecycle(server: &TestServer) {
    let api = server.api();
    let created = api
        .post(
            "/v1/memory_stores",
            json!({"name": "notes", "description": "team notes", "metadata": {"team": "infra"}}),
        )
        .await
        .expect(200);
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("memstore_"));
    assert_eq!(created["type"], "memory_store");
    assert_eq!(created["description"], "team notes");
    assert_eq!(created["archived_at"], Value::Null);
    assert_eq!(
        api.get(&format!("/v1/memory_stores/{id}"))
            .await
            .expect(200),
        created
    );
    let missing_name = api.post("/v1/memory_stores", json!({})).await;
    assert_eq!(missing_name.status, 400);
    assert!(missing_name.error_message().contains("name"));

    let updated = api
        .post(
            &format!("/v1/memory_stores/{id}"),
            json!({"description": "", "metadata": {"team": null, "tier": "1"}}),
        )
        .await
        .expect(200);
    assert_eq!(updated["description"], "");
    assert_eq!(updated["metadata"], json!({"tier": "1"}));
    let renamed = api
        .patch(&format!("/v1/memory_stores/{id}"), json!({"name": "docs"}))
        .await
        .expect(200);
    assert_eq!(renamed["name"], "docs");

    assert_eq!(
        api.get("/v1/memory_stores").await.expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let archived = api
        .post(&format!("/v1/memory_stores/{id}/archive"), json!(null))
        .await
        .expect(200);
    assert!(archived["archived_at"].is_string());
    assert_eq!(
        api.get("/v1/memory_stores").await.expect(200)["data"],
        json!([])
    );
    assert_eq!(
        api.get("/v1/memory_stores?include_archived=true")
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let write = api
        .post(
            &format!("/v1/memory_stores/{id}/memories"),
            json!({"path": "/a.md", "content": "x"}),
        )
        .await;
    assert_eq!(write.status, 400, "archived stores are read-only");

    let deleted = api
        .delete(&format!("/v1/memory_stores/{id}"))
        .await
        .expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "memory_store_deleted"}));
    assert_eq!(
        api.get(&format!("/v1/memory_stores/{id}")).await.status,
        404
    );
}

async fn memories_create_retrieve_update_list(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "notes").await;
    let base = format!("/v1/memory_stores/{store_id}/memories");
    let created = memory(&api, &store_id, "/notes/today.md", "hello").await;
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("mem_"));
    assert_eq!(created["type"], "memory");
    assert_eq!(created["memory_store_id"], store_id.as_str());
    assert_eq!(created["content"], Value::Null, "create defaults to basic");
    assert_eq!(created["content_sha256"], sha256("hello"));
    assert_eq!(created["content_size_bytes"], 5);
    assert!(
        created["memory_version_id"]
            .as_str()
            .unwrap()
            .starts_with("memver_")
    );

    let full = api
        .post(
            &format!("{base}?view=full"),
            json!({"path": "/empty.md", "content": null}),
        )
        .await
        .expect(200);
    assert_eq!(full["content"], "");

    let fetched = api.get(&format!("{base}/{id}")).await.expect(200);
    assert_eq!(fetched["content"], "hello", "retrieve defaults to full");
    let basic = api
        .get(&format!("{base}/{id}?view=basic"))
        .await
        .expect(200);
    assert_eq!(basic["content"], Value::Null);
    assert_eq!(
        api.get(&format!("{base}/{id}?view=everything"))
            .await
            .status,
        400
    );

    let edited = api
        .post(
            &format!("{base}/{id}"),
            json!({"content": "hello again", "path": "/notes/tomorrow.md"}),
        )
        .await
        .expect(200);
    assert_eq!(edited["content"], Value::Null, "update defaults to basic");
    assert_eq!(edited["path"], "/notes/tomorrow.md");
    assert_eq!(edited["content_sha256"], sha256("hello again"));
    assert_ne!(edited["memory_version_id"], created["memory_version_id"]);

    let listed = api.get(&base).await.expect(200);
    assert_eq!(paths(&listed), ["/empty.md", "/notes/tomorrow.md"]);
    assert_eq!(listed["data"][1]["content"], Value::Null);
    let listed_full = api.get(&format!("{base}?view=full")).await.expect(200);
    assert_eq!(listed_full["data"][1]["content"], "hello again");

    let page = api.get(&format!("{base}?limit=1")).await.expect(200);
    assert_eq!(paths(&page), ["/empty.md"]);
    assert_eq!(page["has_more"], true);
    let next = page["next_page"].as_str().unwrap();
    let rest = api
        .get(&format!("{base}?limit=1&page={next}"))
        .await
        .expect(200);
    assert_eq!(paths(&rest), ["/notes/tomorrow.md"]);
    assert_eq!(rest["has_more"], false);

    let deleted = api.delete(&format!("{base}/{id}")).await.expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "memory_deleted"}));
    assert_eq!(api.get(&format!("{base}/{id}")).await.status, 404);
    assert_eq!(
        api.get("/v1/memory_stores/memstore_missing/memories")
            .await
            .status,
        404
    );
    assert_eq!(
        api.post(
            "/v1/memory_stores/memstore_missing/memories",
            json!({"path": "/a.md", "content": "x"})
        )
        .await
        .status,
        404
    );
}

async fn preconditions_and_path_conflicts_answer_409(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "notes").await;
    let base = format!("/v1/memory_stores/{store_id}/memories");
    let created = memory(&api, &store_id, "/a.md", "one").await;
    let id = created["id"].as_str().unwrap();
    memory(&api, &store_id, "/b.md", "two").await;

    let stale = api
        .post(
            &format!("{base}/{id}"),
            json!({"content": "changed", "precondition": {"type": "content_sha256", "content_sha256": sha256("other")}}),
        )
        .await;
    assert_eq!(stale.status, 409);
    assert_eq!(stale.error_type(), "memory_precondition_failed_error");
    assert_eq!(stale.headers["x-should-retry"], "false");
    let fresh = api
        .post(
            &format!("{base}/{id}?view=full"),
            json!({"content": "changed", "precondition": {"type": "content_sha256", "content_sha256": sha256("one").to_uppercase()}}),
        )
        .await
        .expect(200);
    assert_eq!(fresh["content"], "changed");

    let clash = api
        .post(&format!("{base}/{id}"), json!({"path": "/b.md"}))
        .await;
    assert_eq!(clash.status, 409);
    assert_eq!(clash.error_type(), "memory_path_conflict_error");
    assert_eq!(clash.headers["x-should-retry"], "false");
    let duplicate = api
        .post(&base, json!({"path": "/b.md", "content": "again"}))
        .await;
    assert_eq!(duplicate.status, 409);
    assert_eq!(duplicate.error_type(), "memory_path_conflict_error");

    let bad_delete = api
        .delete(&format!(
            "{base}/{id}?expected_content_sha256={}",
            sha256("one")
        ))
        .await;
    assert_eq!(bad_delete.status, 409);
    assert_eq!(bad_delete.error_type(), "memory_precondition_failed_error");
    assert_eq!(bad_delete.headers["x-should-retry"], "false");
    assert_eq!(
        api.delete(&format!("{base}/{id}?expected_content_sha256=nothex"))
            .await
            .status,
        400
    );
    api.delete(&format!(
        "{base}/{id}?expected_content_sha256={}",
        sha256("changed")
    ))
    .await
    .expect(200);
}

async fn bad_paths_and_content_are_refused(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "notes").await;
    let base = format!("/v1/memory_stores/{store_id}/memories");
    let deep = format!("/{}", vec!["d"; 21].join("/"));
    for (path, field) in [
        ("/a/../b.md", "path"),
        ("notes.md", "path"),
        (deep.as_str(), "path"),
        ("/dir/", "path"),
    ] {
        let reply = api.post(&base, json!({"path": path, "content": "x"})).await;
        assert_eq!(reply.status, 400, "{path}");
        assert!(
            reply.error_message().contains(field),
            "{path}: {}",
            reply.text
        );
    }
    let big = "x".repeat(102_401);
    let reply = api
        .post(&base, json!({"path": "/big.md", "content": big}))
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.error_message().contains("content"), "{}", reply.text);
    let missing = api.post(&base, json!({"path": "/a.md"})).await;
    assert_eq!(missing.status, 400);
    assert!(missing.error_message().contains("content"));

    assert_eq!(api.get(&base).await.expect(200)["data"], json!([]));
    let versions = api
        .get(&format!("/v1/memory_stores/{store_id}/memory_versions"))
        .await
        .expect(200);
    assert_eq!(versions["data"], json!([]), "nothing was recorded");

    let ok = memory(&api, &store_id, "/ok.md", "x").await;
    let rename = api
        .post(
            &format!("{base}/{}", ok["id"].as_str().unwrap()),
            json!({"path": "/../x"}),
        )
        .await;
    assert_eq!(rename.status, 400);
    assert!(rename.error_message().contains("path"));
}

async fn depth_rolls_up_deeper_paths(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "notes").await;
    let base = format!("/v1/memory_stores/{store_id}/memories");
    for path in [
        "/a/b/c.md",
        "/a/b/d.md",
        "/a/e.md",
        "/a/f/g/h.md",
        "/top.md",
        "/z/y.md",
    ] {
        memory(&api, &store_id, path, "x").await;
    }
    let all = api.get(&base).await.expect(200);
    assert_eq!(all["data"].as_array().unwrap().len(), 6);

    let root = api.get(&format!("{base}?depth=1")).await.expect(200);
    assert_eq!(paths(&root), ["/a/", "/top.md", "/z/"]);
    assert_eq!(root["data"][0]["type"], "memory_prefix");
    assert_eq!(root["data"][1]["type"], "memory");

    let under_a = api
        .get(&format!("{base}?path_prefix=/a/&depth=1"))
        .await
        .expect(200);
    assert_eq!(paths(&under_a), ["/a/b/", "/a/e.md", "/a/f/"]);
    let two = api
        .get(&format!("{base}?path_prefix=/a/&depth=2"))
        .await
        .expect(200);
    assert_eq!(
        paths(&two),
        ["/a/b/c.md", "/a/b/d.md", "/a/e.md", "/a/f/g/"]
    );
    let prefix_only = api
        .get(&format!("{base}?path_prefix=/a/b/"))
        .await
        .expect(200);
    assert_eq!(paths(&prefix_only), ["/a/b/c.md", "/a/b/d.md"]);

    // A roll-up never splits across pages: the next page starts after all of it.
    let first = api
        .get(&format!("{base}?depth=1&limit=1"))
        .await
        .expect(200);
    assert_eq!(paths(&first), ["/a/"]);
    assert_eq!(first["has_more"], true);
    let cursor = first["next_page"].as_str().unwrap();
    let second = api
        .get(&format!("{base}?depth=1&limit=1&page={cursor}"))
        .await
        .expect(200);
    assert_eq!(paths(&second), ["/top.md"]);
    let cursor = second["next_page"].as_str().unwrap();
    let third = api
        .get(&format!("{base}?depth=1&limit=1&page={cursor}"))
        .await
        .expect(200);
    assert_eq!(paths(&third), ["/z/"]);
    assert_eq!(third["has_more"], false);
    let everything = api.get(&format!("{base}?depth=0")).await.expect(200);
    assert!(
        everything["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["type"] == "memory"),
        "depth 0 lists every memory: {everything}"
    );
    assert_eq!(api.get(&format!("{base}?depth=21")).await.status, 400);
    assert_eq!(api.get(&format!("{base}?path_prefix=/a")).await.status, 400);
}

async fn memory_stores_are_private_to_their_tenant(server: &TestServer) {
    let api = server.api();
    let other_key = api
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200)["api_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let other = server.api_with_key(&other_key);
    let store_id = store(&api, "mine").await;
    let created = memory(&api, &store_id, "/secret.md", "s3cret").await;
    let id = created["id"].as_str().unwrap();
    let version = created["memory_version_id"].as_str().unwrap();
    let base = format!("/v1/memory_stores/{store_id}");

    assert_eq!(other.get(&base).await.status, 404);
    assert_eq!(
        other.get("/v1/memory_stores").await.expect(200)["data"],
        json!([])
    );
    assert_eq!(other.get(&format!("{base}/memories")).await.status, 404);
    assert_eq!(
        other.get(&format!("{base}/memories/{id}")).await.status,
        404
    );
    assert_eq!(
        other.get(&format!("{base}/memory_versions")).await.status,
        404
    );
    assert_eq!(
        other
            .get(&format!("{base}/memory_versions/{version}"))
            .await
            .status,
        404
    );
    assert_eq!(other.get(&format!("{base}/entries")).await.status, 404);
    assert_eq!(
        other
            .post(
                &format!("{base}/memories"),
                json!({"path": "/x.md", "content": "x"})
            )
            .await
            .status,
        404
    );
    assert_eq!(
        other
            .post(&format!("{base}/memories/{id}"), json!({"content": "x"}))
            .await
            .status,
        404
    );
    assert_eq!(
        other.delete(&format!("{base}/memories/{id}")).await.status,
        404
    );
    assert_eq!(other.delete(&base).await.status, 404);
    let mine = api.get(&format!("{base}/memories/{id}")).await.expect(200);
    assert_eq!(mine["content"], "s3cret");
}

async fn entries_lists_recent_memories(server: &TestServer) {
    let api = server.api();
    let store_id = store(&api, "notes").await;
    for (path, content) in [("/1.md", "one"), ("/2.md", "two"), ("/3.md", "three")] {
        memory(&api, &store_id, path, content).await;
    }
    let entries = api
        .get(&format!("/v1/memory_stores/{store_id}/entries?limit=2"))
        .await
        .expect(200);
    assert_eq!(paths(&entries), ["/3.md", "/2.md"]);
    assert_eq!(entries["data"][0]["content"], "three");
}
