//! A session's sandbox files follow it to another replica: what `bash` made on one replica
//! (files, an executable script, a symlink, outputs) is there for the next turn on another,
//! `/tmp` is not; an unchanged sandbox is not uploaded again; a changed one replaces its
//! snapshot; deleting the session deletes its snapshots.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use berth_test_support::replicas::spawn_replicas;
use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

const SECS: u64 = 30;

async fn tool_session(api: &Api) -> String {
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "tool agent", "model": "claude-sonnet-4-6", "tools": [{"type": "agent_toolset_20260401"}]}),
        )
        .await
        .expect(200);
    let env = api
        .post("/v1/environments", json!({"name": "cloud env"}))
        .await
        .expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    session["id"].as_str().unwrap().to_owned()
}

/// Runs one bash command as turn `turn` through `api`'s replica; returns the result text.
async fn bash(api: &Api, model: &FakeModel, session: &str, turn: usize, command: &str) -> String {
    model.push(ModelReply::tool_use(
        &format!("toolu_{turn}"),
        "bash",
        json!({"command": command}),
    ));
    model.push(ModelReply::text("ok"));
    say(api, session, "run it").await;
    wait_for_turns(api, session, turn, SECS).await;
    let events = all_events(api, session).await;
    let result: &Value = events
        .iter()
        .rfind(|e| e["type"] == "agent.tool_result")
        .unwrap();
    result["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect()
}

/// The snapshot objects of a session in the shared blob directory: (file name, path).
fn snapshot_objects(blobs: &Path, tenant: &str, session: &str) -> Vec<(String, PathBuf)> {
    let dir = blobs
        .join("t")
        .join(tenant)
        .join("sessions")
        .join(session)
        .join("workspace");
    let mut found: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

fn sandbox_dir(server: &TestServer, session: &str) -> PathBuf {
    server.data_dir.path().join("sandboxes").join(session)
}

fn latest_id(blobs: &Path, tenant: &str, session: &str) -> String {
    let (_, path) = snapshot_objects(blobs, tenant, session)
        .into_iter()
        .find(|(name, _)| name == "latest.json")
        .expect("a latest.json");
    let latest: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    latest["id"].as_str().unwrap().to_owned()
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_files_follow_the_session_to_another_replica() {
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let blobs = tempfile::tempdir().unwrap();
    let blob_url = format!("file://{}", blobs.path().display());
    let Some(mut replicas) = spawn_replicas(2, |c| {
        berth_test_support::with_model(c, &base);
        c.blob_url = Some(blob_url.clone());
    })
    .await
    else {
        return;
    };
    let tenant = replicas[0].default_tenant_id.clone();
    let session = tool_session(&replicas[0].api()).await;

    let made = bash(
        &replicas[0].api(),
        &model,
        &session,
        1,
        "mkdir -p src && echo hello > src/a.txt && ln -s src/a.txt link.txt \
         && printf '#!/bin/sh\\necho ran-the-script\\n' > run.sh && chmod 755 run.sh \
         && echo findings > /mnt/session/outputs/report.txt && echo scratch > /tmp/scratch.txt \
         && echo made",
    )
    .await;
    assert_eq!(made, "exit=0\nmade\n");
    let objects: Vec<String> = snapshot_objects(blobs.path(), &tenant, &session)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(objects.len(), 2, "{objects:?}");
    assert!(objects.contains(&"latest.json".to_owned()));
    let first = latest_id(blobs.path(), &tenant, &session);
    assert!(objects.contains(&format!("{first}.tar.gz")), "{objects:?}");
    // Any replica may have claimed the turn (all hear of new input): stop the one that ran it.
    let ran_it = replicas
        .iter()
        .position(|r| sandbox_dir(r, &session).exists())
        .unwrap();
    let a = replicas.remove(ran_it);
    let b = replicas.remove(0);
    assert!(!sandbox_dir(&b, &session).exists());
    a.stop().await;

    // The next turn runs on B, which has never seen the session.
    let seen = bash(
        &b.api(),
        &model,
        &session,
        2,
        "cat src/a.txt link.txt && ./run.sh && stat -c %A run.sh && readlink link.txt \
         && cat /mnt/session/outputs/report.txt && ls -A /tmp | wc -l",
    )
    .await;
    assert_eq!(
        seen,
        "exit=0\nhello\nhello\nran-the-script\n-rwxr-xr-x\nsrc/a.txt\nfindings\n0\n"
    );
    let on_b = sandbox_dir(&b, &session).join("workspace/src/a.txt");
    assert_eq!(std::fs::read_to_string(on_b).unwrap(), "hello\n");
    assert_eq!(
        latest_id(blobs.path(), &tenant, &session),
        first,
        "reading the files changed nothing, so nothing was uploaded"
    );

    // A change is snapshotted under a new id, and the old archive goes.
    bash(&b.api(), &model, &session, 3, "echo more >> src/a.txt").await;
    let second = latest_id(blobs.path(), &tenant, &session);
    assert_ne!(second, first);
    let objects: Vec<String> = snapshot_objects(blobs.path(), &tenant, &session)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        objects,
        ["latest.json".to_owned(), format!("{second}.tar.gz")]
    );

    b.api()
        .delete(&format!("/v1/sessions/{session}"))
        .await
        .expect(200);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !snapshot_objects(blobs.path(), &tenant, &session).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the snapshots outlived their session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.stop().await;
}

/// With both replicas up and turns posted to each in turn, every turn sees every earlier
/// turn's work, whichever replica claims it: a replica whose files are behind (still there
/// from an earlier turn) restores before the turn instead of running on, or uploading, stale
/// files.
#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alternating_replicas_see_each_others_work() {
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let blobs = tempfile::tempdir().unwrap();
    let blob_url = format!("file://{}", blobs.path().display());
    let Some(replicas) = spawn_replicas(2, |c| {
        berth_test_support::with_model(c, &base);
        c.blob_url = Some(blob_url.clone());
    })
    .await
    else {
        return;
    };
    let session = tool_session(&replicas[0].api()).await;
    let mut expected = String::new();
    for turn in 1..=4 {
        let replica = &replicas[turn % 2];
        expected.push_str(&format!("turn {turn}\n"));
        let seen = bash(
            &replica.api(),
            &model,
            &session,
            turn,
            &format!("echo 'turn {turn}' >> log.txt && cat log.txt"),
        )
        .await;
        assert_eq!(seen, format!("exit=0\n{expected}"), "turn {turn}");
    }
    for replica in replicas {
        replica.stop().await;
    }
}
