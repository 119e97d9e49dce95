//! Files, session resources, outputs and skills: the API and what a session's sandbox and
//! model see of them.

mod skills;

use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply, Part, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    files_upload_list_download_and_delete,
    sessions_read_files_and_their_outputs_become_files,
);

const SECS: u64 = 20;

pub(super) fn blob_objects(server: &TestServer) -> usize {
    let root = server.data_dir.path().join("blobs");
    let mut count = 0;
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                stack.push(entry.path());
            } else {
                count += 1;
            }
        }
    }
    count
}

async fn upload(api: &Api, name: &str, bytes: &[u8], extra: Vec<Part>) -> Value {
    let mut parts = vec![Part::file("file", name, bytes.to_vec())];
    parts.extend(extra);
    api.multipart("/v1/files", parts).await.expect(200)
}

async fn files_upload_list_download_and_delete(server: &TestServer, _model: &FakeModel) {
    let api = server.api();
    let bytes: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let file = upload(&api, "../../etc/data.bin", &bytes, vec![]).await;
    assert!(file["id"].as_str().unwrap().starts_with("file_"));
    assert_eq!(file["type"], "file");
    assert_eq!(
        file["filename"], "data.bin",
        "only the last path component is kept"
    );
    assert_eq!(file["mime_type"], "application/octet-stream");
    assert_eq!(file["size_bytes"], 100_000);
    assert_eq!(file["downloadable"], true);
    assert_eq!(file["expires_at"], Value::Null);
    let id = file["id"].as_str().unwrap();

    let (status, headers, body) = api
        .get_bytes(&format!("/v1/files/{id}/content"), "application/binary")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, bytes, "bytes come back identical");
    assert_eq!(headers["content-length"], "100000");
    // The seed's rule: GET /v1/files/{id} is metadata for JSON (or no preference), bytes otherwise.
    let (_, _, meta) = api
        .get_bytes(&format!("/v1/files/{id}"), "application/json")
        .await;
    assert_eq!(
        serde_json::from_slice::<Value>(&meta).unwrap()["id"],
        file["id"]
    );
    assert_eq!(
        api.get(&format!("/v1/files/{id}")).await.expect(200)["filename"],
        "data.bin"
    );
    let (_, headers, raw) = api
        .get_bytes(&format!("/v1/files/{id}"), "application/octet-stream")
        .await;
    assert_eq!(raw, bytes);
    assert_eq!(headers["content-type"], "application/octet-stream");

    let typed = upload(
        &api,
        "notes.md",
        b"# hi",
        vec![Part::text("expires_in_seconds", "3600")],
    )
    .await;
    assert_eq!(typed["mime_type"], "text/markdown");
    assert!(typed["expires_at"].is_string());
    let given = api
        .multipart(
            "/v1/files",
            vec![Part::file("file", "x.dat", b"1,2".to_vec()).with_type("text/csv")],
        )
        .await
        .expect(200);
    assert_eq!(
        given["mime_type"], "text/csv",
        "the part's content type is kept"
    );

    // Lists page, filter by ids and by scope.
    let page = api.get("/v1/files?limit=2").await.expect(200);
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let next = page["next_page"].as_str().unwrap();
    let rest = api
        .get(&format!("/v1/files?limit=2&page={next}"))
        .await
        .expect(200);
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    let picked = api
        .get(&format!("/v1/files?ids[]={id}&ids[]=file_nope"))
        .await
        .expect(200);
    assert_eq!(picked["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.get(&format!("/v1/files?ids[]={id}&limit=5"))
            .await
            .status,
        400
    );

    // Seed: `session_id` scopes the upload to a session.
    let session = berth_test_support::sessions::new_session(&api, json!({})).await;
    let sid = session["id"].as_str().unwrap();
    let scoped = upload(
        &api,
        "scoped.txt",
        b"s",
        vec![Part::text("session_id", sid)],
    )
    .await;
    assert_eq!(scoped["scope"], json!({"type": "session", "id": sid}));
    let in_scope = api
        .get(&format!("/v1/files?scope_id={sid}"))
        .await
        .expect(200);
    assert_eq!(in_scope["data"].as_array().unwrap().len(), 1);
    let before = blob_objects(server);
    let refused = api
        .multipart(
            "/v1/files",
            vec![
                Part::file("file", "a.txt", b"a".to_vec()),
                Part::text("session_id", "sesn_missing"),
            ],
        )
        .await;
    assert_eq!(refused.status, 404);
    assert_eq!(
        blob_objects(server),
        before,
        "nothing of a refused upload is kept"
    );

    for bad in [
        vec![
            Part::text("expires_in_seconds", "10"),
            Part::file("file", "a.txt", b"a".to_vec()),
        ],
        vec![Part::text("nothing", "here")],
    ] {
        assert_eq!(api.multipart("/v1/files", bad).await.status, 400);
    }
    assert_eq!(blob_objects(server), before);

    // Another tenant sees nothing.
    let other = server
        .api()
        .post("/v1/tenants", json!({"name": "other"}))
        .await
        .expect(200);
    let other = server.api_with_key(other["api_key"].as_str().unwrap());
    assert_eq!(other.get(&format!("/v1/files/{id}")).await.status, 404);

    let deleted = api.delete(&format!("/v1/files/{id}")).await.expect(200);
    assert_eq!(deleted, json!({"id": id, "type": "file_deleted"}));
    assert_eq!(api.get(&format!("/v1/files/{id}")).await.status, 404);
    assert_eq!(
        api.get(&format!("/v1/files/{id}/content")).await.status,
        404
    );
    assert_eq!(blob_objects(server), before - 1, "its bytes are gone too");
}

/// A server whose upload limit is small, to see 413 with nothing stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_uploads_are_refused_and_leave_nothing() {
    let server = berth_test_support::spawn_server_with(|c| c.max_upload_bytes = 64 * 1024).await;
    let api = server.api();
    let reply = api
        .multipart(
            "/v1/files",
            vec![Part::file("file", "big.bin", vec![7u8; 200 * 1024])],
        )
        .await;
    assert_eq!(reply.status, 413);
    assert_eq!(api.get("/v1/files").await.expect(200)["data"], json!([]));
    assert_eq!(blob_objects(&server), 0);
    upload(&api, "small.bin", &[1u8; 1024], vec![]).await;
    server.stop().await;
}

pub(super) async fn tool_session(api: &Api, resources: Value, skills: Value) -> String {
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "files agent", "model": "claude-sonnet-4-6", "system": "Be useful.",
                   "tools": [{"type": "agent_toolset_20260401"}], "skills": skills}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "files env"}))
        .await
        .expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"], "resources": resources}),
        )
        .await
        .expect(200);
    session["id"].as_str().unwrap().to_owned()
}

fn last_result(events: &[Value]) -> String {
    events
        .iter()
        .rfind(|e| e["type"] == "agent.tool_result")
        .map(|e| {
            e["content"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|b| b["text"].as_str())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) async fn bash(
    api: &Api,
    model: &FakeModel,
    session: &str,
    turn: usize,
    command: &str,
) -> String {
    model.push(ModelReply::tool_use(
        &format!("toolu_f{turn}"),
        "bash",
        json!({"command": command}),
    ));
    model.push(ModelReply::text("done"));
    say(api, session, "go").await;
    wait_for_turns(api, session, turn, SECS).await;
    last_result(&all_events(api, session).await)
}

async fn sessions_read_files_and_their_outputs_become_files(
    server: &TestServer,
    model: &FakeModel,
) {
    let api = server.api();
    let data = upload(&api, "data.csv", b"a,b\n1,2\n3,4\n", vec![]).await;
    let data_id = data["id"].as_str().unwrap();
    let session = tool_session(
        &api,
        json!([{"type": "file", "file_id": data_id}]),
        json!([]),
    )
    .await;
    let resources = api
        .get(&format!("/v1/sessions/{session}/resources"))
        .await
        .expect(200);
    let mount = resources["data"][0]["mount_path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(mount, format!("/mnt/session/uploads/{data_id}/data.csv"));

    let out = bash(&api, model, &session, 1, &format!(
        "wc -l < {mount} && mkdir -p /mnt/session/outputs/reports && cut -d, -f2 {mount} > /mnt/session/outputs/reports/col.csv && echo x > {mount}"
    ))
    .await;
    assert!(out.starts_with("exit=") && out.contains("\n3\n"), "{out}");
    assert!(
        out.contains("Read-only file system") || out.contains("Permission denied"),
        "uploads are read-only: {out}"
    );

    // The output is a file scoped to the session, as soon as the turn ends.
    let listed = api
        .get(&format!("/v1/files?scope_id={session}"))
        .await
        .expect(200);
    let outputs: Vec<&Value> = listed["data"].as_array().unwrap().iter().collect();
    assert_eq!(outputs.len(), 1, "{listed}");
    assert_eq!(outputs[0]["filename"], "reports/col.csv");
    assert_eq!(outputs[0]["mime_type"], "text/csv");
    assert_eq!(outputs[0]["size_bytes"], 6);
    assert_eq!(
        outputs[0]["scope"],
        json!({"type": "session", "id": session})
    );
    let out_id = outputs[0]["id"].as_str().unwrap();
    let (_, _, bytes) = api
        .get_bytes(&format!("/v1/files/{out_id}/content"), "*/*")
        .await;
    assert_eq!(bytes, b"b\n2\n4\n");
    let oma = api
        .get(&format!("/v1/sessions/{session}/outputs"))
        .await
        .expect(200);
    assert_eq!(oma["data"][0]["filename"], "reports/col.csv");
    let (status, _, bytes) = api
        .get_bytes(
            &format!("/v1/sessions/{session}/outputs/reports/col.csv"),
            "*/*",
        )
        .await;
    assert_eq!(
        (status.as_u16(), bytes.as_slice()),
        (200, b"b\n2\n4\n".as_slice())
    );
    assert_eq!(
        api.get(&format!("/v1/sessions/{session}/outputs/..%2Fx"))
            .await
            .status,
        400
    );

    // A changed output is updated in place; a removed one disappears.
    bash(
        &api,
        model,
        &session,
        2,
        "echo more >> /mnt/session/outputs/reports/col.csv && echo t > /mnt/session/outputs/t.txt",
    )
    .await;
    let listed = api
        .get(&format!("/v1/files?scope_id={session}"))
        .await
        .expect(200);
    let col = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["filename"] == "reports/col.csv")
        .unwrap()
        .clone();
    assert_eq!(col["id"], out_id, "the same file, updated");
    assert_eq!(col["size_bytes"], 11);
    bash(&api, model, &session, 3, "rm /mnt/session/outputs/t.txt").await;
    let listed = api
        .get(&format!("/v1/files?scope_id={session}"))
        .await
        .expect(200);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // Resources added later, with their own mount paths; removal.
    let extra = upload(&api, "extra.txt", b"extra bytes", vec![]).await;
    let added = api
        .post(
            &format!("/v1/sessions/{session}/resources"),
            json!({"type": "file", "file_id": extra["id"], "mount_path": "/mnt/data/extra.txt"}),
        )
        .await
        .expect(200);
    assert_eq!(added["type"], "file");
    let copied = api
        .post(
            &format!("/v1/sessions/{session}/resources"),
            json!({"type": "file", "file_id": extra["id"], "mount_path": "/workspace/copy.txt"}),
        )
        .await
        .expect(200);
    let out = bash(
        &api,
        model,
        &session,
        4,
        "cat /mnt/data/extra.txt; echo; cat /workspace/copy.txt",
    )
    .await;
    assert_eq!(out, "exit=0\nextra bytes\nextra bytes");
    assert_eq!(
        api.post(
            &format!("/v1/sessions/{session}/resources"),
            json!({"type": "file", "file_id": "file_missing"})
        )
        .await
        .status,
        404
    );
    assert_eq!(
        api.post(
            &format!("/v1/sessions/{session}/resources"),
            json!({"type": "file", "file_id": extra["id"], "mount_path": "/etc/x"})
        )
        .await
        .status,
        400
    );
    let rid = added["id"].as_str().unwrap();
    assert_eq!(
        api.get(&format!("/v1/sessions/{session}/resources/{rid}"))
            .await
            .expect(200)["file_id"],
        extra["id"]
    );
    let gone = api
        .delete(&format!("/v1/sessions/{session}/resources/{rid}"))
        .await
        .expect(200);
    assert_eq!(gone, json!({"id": rid, "type": "session_resource_deleted"}));
    assert_eq!(
        api.get(&format!("/v1/sessions/{session}/resources"))
            .await
            .expect(200)["data"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let _ = copied;

    // Image blocks naming a file reach the model inline.
    let png = upload(&api, "dot.png", &[0x89, b'P', b'N', b'G', 1, 2, 3], vec![]).await;
    model.clear_records();
    api.post(
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.message", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image", "source": {"type": "file", "file_id": png["id"]}}]}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, &session, 5, SECS).await;
    let sent = model.turn_requests().pop().unwrap().body["messages"].to_string();
    assert!(
        sent.contains("\"media_type\":\"image/png\"") && sent.contains("iVBORwECAw=="),
        "{sent}"
    );

    // Deleting the session deletes its files.
    api.delete(&format!("/v1/sessions/{session}"))
        .await
        .expect(200);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while api.get(&format!("/v1/files/{out_id}")).await.status != 404 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the session's outputs outlived it"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        api.get(&format!("/v1/files/{data_id}")).await.status,
        200,
        "uploads are the user's, not the session's"
    );
}
