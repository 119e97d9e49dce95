//! Built-in tools through whole turns: events and their links, permission policies and
//! confirmations, interrupts during a command, self-hosted environments, and what a command
//! in the sandbox can and cannot reach.

use std::time::{Duration, Instant};

use berth_test_support::sessions::{all_events, say, wait_for_turns};
use berth_test_support::{Api, FakeModel, ModelReply, TestServer};
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

on_both_backends_with_model!(
    tools_run_in_the_sandbox_within_a_turn,
    always_ask_waits_for_a_confirmation,
    an_interrupt_kills_the_running_command,
    self_hosted_environments_hand_tools_to_the_client,
);

const SECS: u64 = 20;

async fn tool_session(api: &Api, toolset: Value, environment: Value) -> String {
    let agent = api
        .post(
            "/v1/agents",
            json!({"name": "tool agent", "model": "claude-sonnet-4-6", "tools": [toolset]}),
        )
        .await
        .expect(200);
    let env = api.post("/v1/environments", environment).await.expect(200);
    let session = api
        .post(
            "/v1/sessions",
            json!({"agent": agent["id"], "environment_id": env["id"]}),
        )
        .await
        .expect(200);
    session["id"].as_str().unwrap().to_owned()
}

fn toolset() -> Value {
    json!({"type": "agent_toolset_20260401"})
}

fn cloud() -> Value {
    json!({"name": "cloud env"})
}

fn by_type<'a>(events: &'a [Value], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == kind).collect()
}

fn result_text(event: &Value) -> String {
    event["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|b| b["text"].as_str())
        .collect()
}

/// Runs one bash command through a fresh turn and returns its result text.
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
    result_text(by_type(&events, "agent.tool_result").last().unwrap())
}

async fn tools_run_in_the_sandbox_within_a_turn(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(&api, toolset(), cloud()).await;
    model.push(ModelReply::tool_use(
        "toolu_a",
        "bash",
        json!({"command": "echo hi > note.txt && cat note.txt && pwd"}),
    ));
    model.push(ModelReply::tool_use(
        "toolu_b",
        "read",
        json!({"file_path": "/workspace/note.txt"}),
    ));
    model.push(ModelReply::text("All done."));
    say(&api, &session, "make a note").await;
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    let uses = by_type(&events, "agent.tool_use");
    let results = by_type(&events, "agent.tool_result");
    assert_eq!(uses.len(), 2);
    assert_eq!(uses[0]["name"], "bash");
    assert_eq!(uses[0]["evaluated_permission"], "allow");
    assert_eq!(uses[0]["evaluation"], json!({"type": "always_allow"}));
    assert_eq!(results[0]["tool_use_id"], uses[0]["id"]);
    assert_eq!(result_text(results[0]), "exit=0\nhi\n/workspace\n");
    assert!(results[0].get("is_error").is_none());
    assert_eq!(results[1]["tool_use_id"], uses[1]["id"]);
    assert_eq!(result_text(results[1]), "1\thi\n");
    assert_eq!(
        by_type(&events, "agent.message")[0]["content"][0]["text"],
        "All done."
    );
    // The model saw each result, keyed by the call's id.
    let requests = model.turn_requests();
    let last = requests.last().unwrap().body["messages"].to_string();
    assert!(
        last.contains("exit=0\\nhi\\n/workspace") && last.contains("1\\thi"),
        "{last}"
    );
    // The file is in the session's workspace on disk.
    let on_disk = server
        .data_dir
        .path()
        .join("sandboxes")
        .join(&session)
        .join("workspace/note.txt");
    assert_eq!(std::fs::read_to_string(on_disk).unwrap(), "hi\n");
    // Deleting the session deletes its sandbox's files.
    api.delete(&format!("/v1/sessions/{session}"))
        .await
        .expect(200);
    let sandbox_dir = server.data_dir.path().join("sandboxes").join(&session);
    let deadline = Instant::now() + Duration::from_secs(5);
    while sandbox_dir.exists() {
        assert!(
            Instant::now() < deadline,
            "the sandbox outlived its session"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Tools the toolset leaves out are refused as unknown.
    let limited = tool_session(
        &api,
        json!({"type": "agent_toolset_20260401", "default_config": {"enabled": false}, "configs": [{"name": "read", "enabled": true}]}),
        cloud(),
    )
    .await;
    model.clear_records();
    model.push(ModelReply::tool_use(
        "toolu_x",
        "bash",
        json!({"command": "id"}),
    ));
    model.push(ModelReply::text("fine"));
    say(&api, &limited, "try bash").await;
    wait_for_turns(&api, &limited, 1, SECS).await;
    let events = all_events(&api, &limited).await;
    assert_eq!(
        by_type(&events, "agent.tool_use")[0]["evaluated_permission"],
        "deny"
    );
    let result = by_type(&events, "agent.tool_result")[0];
    assert_eq!(result["is_error"], true);
    let offered: Vec<String> = model.turn_requests()[0].body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(offered, ["read"]);
}

async fn always_ask_waits_for_a_confirmation(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(
        &api,
        json!({"type": "agent_toolset_20260401", "configs": [{"name": "bash", "permission_policy": {"type": "always_ask"}}]}),
        cloud(),
    )
    .await;
    let workspace = server
        .data_dir
        .path()
        .join("sandboxes")
        .join(&session)
        .join("workspace");

    // Denied: the command never runs, and the model hears why.
    model.push(ModelReply::tool_use(
        "toolu_d",
        "bash",
        json!({"command": "touch denied.txt"}),
    ));
    say(&api, &session, "please touch").await;
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    let call = by_type(&events, "agent.tool_use")[0].clone();
    assert_eq!(call["evaluated_permission"], "ask");
    assert_eq!(call["evaluation"], json!({"type": "always_ask"}));
    let idle = by_type(&events, "session.status_idle")[0].clone();
    assert_eq!(
        idle["stop_reason"],
        json!({"type": "requires_action", "event_ids": [call["id"]]})
    );
    assert!(by_type(&events, "agent.tool_result").is_empty());
    model.push(ModelReply::text("Understood, I will not."));
    api.post(
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": call["id"], "result": "deny", "deny_message": "not in this repo"}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, &session, 2, SECS).await;
    let events = all_events(&api, &session).await;
    let result = by_type(&events, "agent.tool_result")[0].clone();
    assert_eq!(result["tool_use_id"], call["id"]);
    assert_eq!(result["is_error"], true);
    assert_eq!(result_text(&result), "Denied: not in this repo");
    assert!(
        !workspace.join("denied.txt").exists(),
        "a denied command never ran"
    );
    assert!(
        by_type(&events, "user.tool_confirmation")[0]["processed_at"].is_string(),
        "the confirmation is echoed in history"
    );

    // Allowed: it runs, then the model continues.
    model.push(ModelReply::tool_use(
        "toolu_o",
        "bash",
        json!({"command": "touch allowed.txt && echo made"}),
    ));
    say(&api, &session, "now this one").await;
    wait_for_turns(&api, &session, 3, SECS).await;
    let events = all_events(&api, &session).await;
    let call = by_type(&events, "agent.tool_use")[1].clone();
    model.push(ModelReply::text("Made it."));
    api.post(
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.tool_confirmation", "tool_use_id": call["id"], "result": "allow"}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, &session, 4, SECS).await;
    let events = all_events(&api, &session).await;
    let result = by_type(&events, "agent.tool_result")[1].clone();
    assert_eq!(result["tool_use_id"], call["id"]);
    assert_eq!(result_text(&result), "exit=0\nmade\n");
    assert!(workspace.join("allowed.txt").exists());
    assert_eq!(
        by_type(&events, "agent.message").last().unwrap()["content"][0]["text"],
        "Made it."
    );
}

async fn an_interrupt_kills_the_running_command(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(&api, toolset(), cloud()).await;
    model.push(ModelReply::tool_use(
        "toolu_s",
        "bash",
        json!({"command": "echo started; touch running; sleep 30; echo never"}),
    ));
    say(&api, &session, "wait a while").await;
    // The command leaves a mark in the workspace once it runs.
    let mark = server
        .data_dir
        .path()
        .join("sandboxes")
        .join(&session)
        .join("workspace/running");
    let deadline = Instant::now() + Duration::from_secs(SECS);
    while !mark.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    api.post(
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.interrupt"}]}),
    )
    .await
    .expect(202);
    // The command would run for 30 s, longer than this wait: only the interrupt ends the turn.
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    let result = by_type(&events, "agent.tool_result")[0].clone();
    assert_eq!(result["is_error"], true);
    let text = result_text(&result);
    assert!(
        text.contains("interrupted") && text.contains("started") && !text.contains("never"),
        "{text}"
    );
    // The session keeps working.
    assert_eq!(
        bash(&api, model, &session, 2, "echo again").await,
        "exit=0\nagain\n"
    );
}

async fn self_hosted_environments_hand_tools_to_the_client(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(
        &api,
        toolset(),
        json!({"name": "self hosted", "config": {"type": "self_hosted"}}),
    )
    .await;
    model.push(ModelReply::tool_use(
        "toolu_h",
        "bash",
        json!({"command": "uname"}),
    ));
    say(&api, &session, "run on your machine").await;
    wait_for_turns(&api, &session, 1, SECS).await;
    let events = all_events(&api, &session).await;
    let call = by_type(&events, "agent.tool_use")[0].clone();
    assert_eq!(
        by_type(&events, "session.status_idle")[0]["stop_reason"],
        json!({"type": "requires_action", "event_ids": [call["id"]]})
    );
    assert!(
        !server
            .data_dir
            .path()
            .join("sandboxes")
            .join(&session)
            .exists(),
        "nothing ran here"
    );
    model.push(ModelReply::text("It is Linux."));
    api.post(
        &format!("/v1/sessions/{session}/events"),
        json!({"events": [{"type": "user.tool_result", "tool_use_id": call["id"], "content": [{"type": "text", "text": "Linux"}]}]}),
    )
    .await
    .expect(202);
    wait_for_turns(&api, &session, 2, SECS).await;
    let last = model.turn_requests().pop().unwrap().body["messages"].to_string();
    assert!(last.contains("Linux"), "{last}");
}

/// From inside `bash`, nothing of the server is reachable: its data directory, database, root
/// secret, environment, own HTTP port, or another session's files; runaway commands leave it
/// healthy and the session usable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_cannot_reach_the_server_and_survives_abuse() {
    let model = FakeModel::start().await;
    let base = model.base_url.clone();
    let server =
        berth_test_support::spawn_server_with(|c| berth_test_support::with_model(c, &base)).await;
    let api = server.api();
    let unrestricted = json!({"name": "open", "config": {"type": "cloud", "networking": {"type": "unrestricted"}}});
    let other = tool_session(&api, toolset(), unrestricted.clone()).await;
    bash(&api, &model, &other, 1, "echo private-notes > secret.txt").await;
    let session = tool_session(&api, toolset(), unrestricted).await;
    let data_dir = server.data_dir.path().display().to_string();
    let port = server.base_url.rsplit(':').next().unwrap().to_owned();
    let probes = [
        format!("cat {data_dir}/berth.db > /dev/null"),
        format!("ls {data_dir}"),
        format!("cat {data_dir}/root.key"),
        format!("cat {data_dir}/sandboxes/{other}/workspace/secret.txt"),
        "cat /workspace/../*/workspace/secret.txt".to_owned(),
        format!("curl -s -m 3 --noproxy '*' http://127.0.0.1:{port}/healthz"),
        format!("curl -s -m 3 http://127.0.0.1:{port}/healthz"),
        format!("curl -s -m 3 http://localhost:{port}/healthz"),
    ];
    let mut turn = 0;
    for probe in probes {
        turn += 1;
        let text = bash(
            &api,
            &model,
            &session,
            turn,
            &format!("{probe}; echo rc=$?"),
        )
        .await;
        assert!(
            !text.contains("rc=0\n") || text.contains("Berth egress proxy"),
            "{probe}: {text}"
        );
        assert!(
            !text.contains("SQLite") && !text.contains("private-notes") && !text.contains("\"ok\""),
            "{probe}: {text}"
        );
    }
    turn += 1;
    let env = bash(&api, &model, &session, turn, "env").await;
    assert!(
        !env.contains("BERTH") && !env.contains("ANTHROPIC") && !env.contains("sk-ant"),
        "{env}"
    );

    for abuse in [
        json!({"command": ":(){ :|:& };:", "timeout_ms": 3000}),
        json!({"command": "yes", "timeout_ms": 60000}),
        json!({"command": "sleep infinity", "timeout_ms": 1000}),
        json!({"command": "head -c 2000000000 /dev/zero > big.bin", "timeout_ms": 20000}),
    ] {
        turn += 1;
        model.push(ModelReply::tool_use(
            &format!("toolu_abuse{turn}"),
            "bash",
            abuse.clone(),
        ));
        model.push(ModelReply::text("ok"));
        say(&api, &session, "abuse").await;
        wait_for_turns(&api, &session, turn, 60).await;
        let healthy = api.get("/healthz").await;
        assert_eq!(healthy.status, 200, "after {abuse}");
    }
    let events = all_events(&api, &session).await;
    let results: Vec<String> = by_type(&events, "agent.tool_result")
        .iter()
        .map(|r| result_text(r))
        .collect();
    let n = results.len();
    assert!(
        results[n - 3].contains("more than 64 MiB"),
        "{}",
        results[n - 3]
    );
    assert!(results[n - 2].contains("timed out"), "{}", results[n - 2]);
    let big = server
        .data_dir
        .path()
        .join("sandboxes")
        .join(&session)
        .join("workspace/big.bin");
    assert!(
        std::fs::metadata(&big).map(|m| m.len()).unwrap_or(0) <= 1 << 30,
        "the file size limit holds"
    );
    turn += 1;
    assert_eq!(
        bash(&api, &model, &session, turn, "rm -f big.bin; echo fine").await,
        "exit=0\nfine\n"
    );
    server.stop().await;
}
