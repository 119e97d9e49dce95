//! Crash safety: `kill -9` in the middle of a turn, restart on the same data, and check that
//! nothing stored was lost or duplicated, the interrupted turn is closed and explained, and the
//! session keeps working.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use berth_test_support::sessions::{all_events, new_session, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply, SseStream};
use serde_json::Value;

const KEY: &str = "berth_sk_recovery_test_key_0123456789abcdefghij";

struct Berth {
    child: Child,
    api: Api,
}

fn start(data_dir: &std::path::Path, model_url: &str, database_url: Option<&str>) -> Berth {
    let mut command = Command::new(env!("CARGO_BIN_EXE_berth"));
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("BERTH_API_KEY", KEY)
        .env("ANTHROPIC_API_KEY", "sk-ant-recovery")
        .env("ANTHROPIC_BASE_URL", model_url)
        .env("BERTH_LEASE_TTL_SECS", "3")
        .env("BERTH_LOG", "info")
        .env_remove("DATABASE_URL")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(url) = database_url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("berth exits before listening").unwrap();
        if let Some(rest) = line.split("addr=").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Berth {
        child,
        api: Api::new(&format!("http://{addr}"), KEY),
    }
}

async fn kill_mid_turn_and_recover(database_url: Option<String>) {
    let model = FakeModel::start().await;
    let dir = tempfile::tempdir().unwrap();
    let first = start(dir.path(), &model.base_url, database_url.as_deref());
    let api = first.api.clone();
    let session = new_session(&api, serde_json::json!({})).await;
    let id = session["id"].as_str().unwrap().to_owned();
    model.push(
        ModelReply::text("This answer is cut short by a crash and never finishes.")
            .with_chunk_chars(3)
            .with_frame_delay(Duration::from_millis(60))
            .hanging_after(10),
    );
    let mut stream = SseStream::open(
        api.raw(
            reqwest::Method::GET,
            &format!("/v1/sessions/{id}/events/stream?include=chunks"),
        )
        .header("x-api-key", KEY),
    )
    .await;
    say(&api, &id, "start a long answer").await;
    // Streamed text is checkpointed at most every 250 ms, and a checkpoint finishes before the
    // next delta is published; the ten deltas span at least 540 ms, so once all ten have
    // streamed at least one checkpoint is stored.
    let mut chunks = 0;
    while chunks < 10 {
        let event = stream
            .next(Duration::from_secs(10))
            .await
            .expect("the answer never streamed");
        if event.event == "agent.message_chunk" {
            chunks += 1;
        }
    }
    say(&api, &id, "queued before the crash").await;
    let before = all_events(&api, &id).await;

    let mut first = first;
    first.child.kill().unwrap();
    first.child.wait().unwrap();

    let second = start(dir.path(), &model.base_url, database_url.as_deref());
    let api = second.api.clone();
    // The interrupted turn is closed, then the queued message runs as its own turn.
    let session = wait_for_turns(&api, &id, 2, 30).await;
    assert_eq!(session["status"], "idle");
    let events = all_events(&api, &id).await;

    // Nothing stored before the crash is lost or changed (except a queued input being processed).
    for old in &before {
        let now = events
            .iter()
            .find(|e| e["id"] == old["id"])
            .expect("every stored event survives");
        assert_eq!(now["type"], old["type"]);
        assert_eq!(now["seq"], old["seq"]);
        assert_eq!(now["content"], old["content"]);
    }
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gapless");
    let ids: HashSet<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), events.len(), "no duplicates");

    let partial = events
        .iter()
        .find(|e| e["type"] == "agent.message")
        .expect("the partial answer is closed as a message");
    let text = partial["content"][0]["text"].as_str().unwrap();
    assert!(
        !text.is_empty()
            && "This answer is cut short by a crash and never finishes.".starts_with(text),
        "the kept text is what streamed: {text:?}"
    );
    let ends: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "span.model_request_end")
        .collect();
    assert_eq!(
        ends[0]["is_error"], true,
        "the open model request is closed as failed"
    );
    let error = events
        .iter()
        .find(|e| e["type"] == "session.error")
        .expect("an event explains the interruption");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("interrupted")
    );
    assert!(events.iter().any(|e| e["type"] == "session.warning"));
    let queued = events
        .iter()
        .find(|e| {
            e["type"] == "user.message" && e["content"][0]["text"] == "queued before the crash"
        })
        .unwrap();
    assert!(
        queued["processed_at"].is_string(),
        "the queued message ran after recovery"
    );
    assert!(events.iter().any(|e| e["type"] == "agent.message"
        && e["content"][0]["text"] == "echo: queued before the crash"));

    // And the next message works.
    say(&api, &id, "still there?").await;
    wait_for_turns(&api, &id, 3, 10).await;
    let events = all_events(&api, &id).await;
    assert!(
        events
            .iter()
            .any(|e| e["content"][0]["text"] == "echo: still there?")
    );
    let mut second = second;
    second.child.kill().unwrap();
    let _ = second.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_turn_on_sqlite_recovers() {
    kill_mid_turn_and_recover(None).await;
}

#[cfg_attr(
    berth_no_postgres,
    ignore = "needs PostgreSQL: set BERTH_TEST_DATABASE_URL"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_turn_on_postgres_recovers() {
    let Some(options) = berth_store_postgres::testing::fresh_schema().await else {
        return;
    };
    let schema = options.schema.unwrap_or_default();
    let url = format!("{}?options=-c%20search_path%3D{schema}", options.url);
    kill_mid_turn_and_recover(Some(url)).await;
}
