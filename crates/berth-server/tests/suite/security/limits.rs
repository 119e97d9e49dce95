//! Finding 4: a session's processes together used 8.2 GB (the limit was per process), and one
//! session wrote 4 GB of files (only a per-file limit). Memory, CPU and processes are limited
//! per session, and disk per session and per tenant, with clear tool errors.

use berth_server::ServerConfig;
use berth_server::config::SessionResources;
use berth_test_support::{FakeModel, TestServer};
use serde_json::json;

use super::{call_tool, tool_session};

on_both_backends_configured!(small_limits; session_limits_hold_with_clear_errors);

const SESSION_MEMORY: u64 = 96 << 20;

fn small_limits(config: &mut ServerConfig) {
    config.sandbox_limits.session = SessionResources {
        memory_bytes: SESSION_MEMORY,
        cpu_millis: 500,
        processes: 40,
    };
    config.sandbox_disk_bytes = 8 << 20;
    config.tenant_disk_bytes = 12 << 20;
}

async fn session_limits_hold_with_clear_errors(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(&api, json!({"name": "cloud"})).await;
    if nix_is_root() {
        // Four processes of 40 MiB: each far under the per-process limit, together over the
        // session's 96 MiB.
        let (out, _) = call_tool(
            &api,
            model,
            &session,
            1,
            "bash",
            json!({"command": "for i in 1 2 3 4; do python3 -c 'import time; a = b\"x\" * (40 << 20); time.sleep(2)' & done; wait"}),
        )
        .await;
        assert!(out.contains("memory limit of 96 MiB"), "{out}");
    } else {
        eprintln!("SKIPPED the memory part: control groups need root");
        call_tool(&api, model, &session, 1, "bash", json!({"command": "true"})).await;
    }

    // One file past the session's 8 MiB quota.
    let (out, is_error) = call_tool(
        &api,
        model,
        &session,
        2,
        "bash",
        json!({"command": "head -c 20M /dev/zero > big; ls -s --block-size=M big"}),
    )
    .await;
    assert!(out.contains("disk quota of 8 MiB"), "{out}");
    let big = server
        .data_dir
        .path()
        .join("sandboxes")
        .join(&session)
        .join("workspace/big");
    assert!(std::fs::metadata(&big).map_or(0, |m| m.len()) <= 8 << 20);
    assert!(
        is_error || out.contains("File size limit exceeded"),
        "{out}"
    );
    // `write` refuses what would not fit, and says why.
    let (text, is_error) = call_tool(
        &api,
        model,
        &session,
        3,
        "write",
        json!({"file_path": "/workspace/more.txt", "content": "x".repeat(200_000)}),
    )
    .await;
    assert!(is_error && text.contains("disk quota"), "{text}");
    // Deleting works over the quota, and makes room for the next command.
    let (out, _) = call_tool(
        &api,
        model,
        &session,
        4,
        "bash",
        json!({"command": "rm big && echo removed"}),
    )
    .await;
    assert!(out.ends_with("removed\n"), "{out}");
    let (out, _) = call_tool(
        &api,
        model,
        &session,
        5,
        "bash",
        json!({"command": "head -c 6M /dev/zero > six && echo ok"}),
    )
    .await;
    assert!(out.ends_with("ok\n"), "{out}");

    // The tenant's 12 MiB hold across its sessions: 6 MiB are taken by the first.
    let second = tool_session(&api, json!({"name": "cloud 2"})).await;
    let (out, _) = call_tool(
        &api,
        model,
        &second,
        1,
        "bash",
        json!({"command": "head -c 7M /dev/zero > seven; echo done"}),
    )
    .await;
    assert!(
        out.contains("disk quota"),
        "the tenant's quota holds: {out}"
    );
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
}
