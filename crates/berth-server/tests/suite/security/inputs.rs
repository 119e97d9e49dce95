//! The smaller findings: file resources mounted over the sandbox's own mount points, blob
//! bytes orphaned by a crash mid-upload, JSON bodies that are not objects, downloads a browser
//! could sniff into another type, and names made of bidirectional-control characters.

use std::time::{Duration, SystemTime};

use berth_server::ServerConfig;
use berth_test_support::sessions::new_session;
use berth_test_support::{FakeModel, Part, TestServer};
use serde_json::json;

mod requests {
    on_both_backends_with_model!(
        reserved_mount_paths_are_refused_at_attach_time,
        bodies_must_be_objects,
        downloads_are_never_sniffed,
        names_must_show_what_they_are,
    );
    use super::*;
}
mod sweeps {
    on_both_backends_configured!(quick_sweeps; orphaned_upload_bytes_are_swept);
    use super::*;
}

async fn upload(server: &TestServer, name: &str, bytes: &[u8]) -> serde_json::Value {
    server
        .api()
        .multipart("/v1/files", vec![Part::file("file", name, bytes.to_vec())])
        .await
        .expect(200)
}

async fn reserved_mount_paths_are_refused_at_attach_time(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let file = upload(server, "data.csv", b"a,b\n").await;
    let file_id = file["id"].as_str().unwrap();
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "a", "model": "claude-sonnet-4-6"}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "e"}))
        .await
        .expect(200);
    for path in [
        "/mnt/session",
        "/mnt/session/outputs/x",
        "/mnt/skills/s/SKILL.md",
        "/mnt/memory",
    ] {
        let refused = api
            .post(
                "/v1/sessions",
                json!({"agent": agent["id"], "environment_id": env["id"],
                       "resources": [{"type": "file", "file_id": file_id, "mount_path": path}]}),
            )
            .await;
        assert_eq!(refused.status.as_u16(), 400, "{path}: {}", refused.text);
        assert!(
            refused.error_message().contains("reserved"),
            "{}",
            refused.text
        );
    }
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    let id = session["id"].as_str().unwrap();
    let refused = api
        .post(
            &format!("/v1/sessions/{id}/resources"),
            json!({"type": "file", "file_id": file_id, "mount_path": "/mnt/session"}),
        )
        .await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    let listed = api
        .get(&format!("/v1/sessions/{id}/resources"))
        .await
        .expect(200);
    assert!(
        listed["data"].as_array().unwrap().is_empty(),
        "nothing was attached"
    );
    api.post(
        &format!("/v1/sessions/{id}/resources"),
        json!({"type": "file", "file_id": file_id, "mount_path": "/mnt/data/input.csv"}),
    )
    .await
    .expect(200);
}

async fn bodies_must_be_objects(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let keys_before = api.get("/v1/api_keys").await.expect(200)["data"]
        .as_array()
        .unwrap()
        .len();
    for body in ["[]", "null", "\"x\"", "1"] {
        let refused = api.post_raw("/v1/api_keys", body).await;
        assert_eq!(refused.status.as_u16(), 400, "{body}: {}", refused.text);
        assert!(
            refused.error_message().contains("JSON object"),
            "{}",
            refused.text
        );
    }
    let keys_after = api.get("/v1/api_keys").await.expect(200)["data"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(keys_after, keys_before, "no key was created");
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "kept", "model": "claude-sonnet-4-6"}),
        )
        .await
        .expect(200);
    let id = agent["id"].as_str().unwrap();
    let refused = api.post_raw(&format!("/v1/agents/{id}"), "[]").await;
    assert_eq!(refused.status.as_u16(), 400, "{}", refused.text);
    let now = api.get(&format!("/v1/agents/{id}")).await.expect(200);
    assert_eq!(now["version"], agent["version"], "the agent is unchanged");
    // An empty body with a JSON content type is no body, as the SDKs send it.
    let session = new_session(&api, json!({})).await;
    let archived = api
        .post_raw(
            &format!("/v1/sessions/{}/archive", session["id"].as_str().unwrap()),
            "",
        )
        .await;
    assert_eq!(archived.status.as_u16(), 200, "{}", archived.text);
}

async fn downloads_are_never_sniffed(server: &TestServer, _model: &FakeModel) {
    let file = upload(server, "page.html", b"<script>alert(1)</script>").await;
    let (status, headers, _) = server
        .api()
        .get_bytes(
            &format!("/v1/files/{}/content", file["id"].as_str().unwrap()),
            "*/*",
        )
        .await;
    assert_eq!(status.as_u16(), 200);
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"),
        "downloads are attachments"
    );
}

async fn names_must_show_what_they_are(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let cases = [
        (
            "/v1/agents",
            json!({"name": "\u{202E}", "model": "claude-sonnet-4-6"}),
        ),
        (
            "/v1/agents",
            json!({"name": "report\u{202E}fdp.exe", "model": "claude-sonnet-4-6"}),
        ),
        ("/v1/environments", json!({"name": "\u{202E}\u{202E}"})),
        ("/v1/vaults", json!({"display_name": "\u{2067}"})),
        ("/v1/memory_stores", json!({"name": "\u{202D}"})),
        ("/v1/api_keys", json!({"name": "\u{202E}"})),
        (
            "/v1/agents",
            json!({"name": "\u{200B} ", "model": "claude-sonnet-4-6"}),
        ),
    ];
    for (path, body) in cases {
        let refused = api.post(path, body.clone()).await;
        assert_eq!(
            refused.status.as_u16(),
            400,
            "{path} {body}: {}",
            refused.text
        );
    }
    let file = upload(server, "\u{202E}txt.exe", b"x").await;
    assert!(
        !file["filename"].as_str().unwrap().contains('\u{202E}'),
        "{file}"
    );
}

fn quick_sweeps(config: &mut ServerConfig) {
    config.blob_sweep_interval = Duration::from_millis(100);
}

async fn orphaned_upload_bytes_are_swept(server: &TestServer, _model: &FakeModel) {
    let kept = upload(server, "kept.txt", b"keep me").await;
    let files = server
        .data_dir
        .path()
        .join("blobs/t")
        .join(&server.default_tenant_id)
        .join("files");
    // What a `kill -9` mid-upload leaves: a staged part (local storage), and an object whose
    // row never committed. Both are older than the sweep's grace period.
    let staged = files.join("file_interrupted#1");
    let orphan = files.join("file_orphan");
    std::fs::write(&staged, vec![0u8; 1 << 20]).unwrap();
    std::fs::write(&orphan, vec![0u8; 1 << 20]).unwrap();
    let long_ago = SystemTime::now() - Duration::from_secs(2 * 3600);
    for path in [&staged, &orphan] {
        std::fs::File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(long_ago)
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while staged.exists() || orphan.exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the orphans were never swept"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let content = server
        .api()
        .get_bytes(
            &format!("/v1/files/{}/content", kept["id"].as_str().unwrap()),
            "*/*",
        )
        .await;
    assert_eq!(content.2, b"keep me", "a file with a row keeps its bytes");
}
