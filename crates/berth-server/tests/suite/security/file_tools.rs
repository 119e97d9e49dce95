//! Finding 1: the file tools ran as the server's user (root) and read root-only host files
//! that the sandbox's own `cat` could not. They must see exactly what the sandbox's user sees.

use berth_test_support::{FakeModel, TestServer};
use serde_json::json;

use super::{call_tool, tool_session};

on_both_backends_with_model!(file_tools_have_the_sandbox_users_permissions);

/// Root-only files every Debian-like host has; those missing here are skipped.
const ROOT_ONLY: &[&str] = &[
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/ssl/private/ssl-cert-snakeoil.key",
];

async fn file_tools_have_the_sandbox_users_permissions(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(&api, json!({"name": "cloud"})).await;
    let mut turn = 0;
    let mut next = || {
        turn += 1;
        turn
    };
    let (out, _) = call_tool(
        &api,
        model,
        &session,
        next(),
        "bash",
        json!({"command": "cat /etc/shadow"}),
    )
    .await;
    assert!(
        out.contains("Permission denied"),
        "the sandbox's user cannot read it: {out}"
    );

    for path in ROOT_ONLY
        .iter()
        .filter(|p| std::path::Path::new(p).exists())
    {
        let secret_line = std::fs::read_to_string(path).unwrap_or_default();
        let (text, is_error) = call_tool(
            &api,
            model,
            &session,
            next(),
            "read",
            json!({"file_path": path}),
        )
        .await;
        assert!(is_error, "read {path} must fail: {text}");
        assert!(text.contains("permission denied"), "{text}");
        if let Some(first) = secret_line.lines().next() {
            assert!(!text.contains(first), "read {path} leaked its content");
        }
        let (text, _) = call_tool(
            &api,
            model,
            &session,
            next(),
            "grep",
            json!({"pattern": ".", "path": path, "output_mode": "content"}),
        )
        .await;
        assert!(
            !text.contains(&format!("{path}:")),
            "grep read {path}: {text}"
        );
    }

    // Listing a directory only root may list fails as it does for `ls`.
    if std::path::Path::new("/etc/ssl/private").exists() {
        let (text, _) = call_tool(
            &api,
            model,
            &session,
            next(),
            "glob",
            json!({"pattern": "/etc/ssl/private/*"}),
        )
        .await;
        assert!(
            !text.contains(".key"),
            "glob listed a root-only directory: {text}"
        );
    }

    // A search of /etc finds only what the sandbox's user can read.
    let (text, _) = call_tool(
        &api,
        model,
        &session,
        next(),
        "grep",
        json!({"pattern": "root", "path": "/etc", "-i": true, "head_limit": 0}),
    )
    .await;
    for path in ROOT_ONLY {
        assert!(!text.contains(path), "grep over /etc read {path}: {text}");
    }
    assert!(
        text.contains("/etc/passwd"),
        "readable files are still searched: {text}"
    );

    // Files the tools write belong to the sandbox's user, and what that user made private
    // stays readable to the tools.
    let (text, is_error) = call_tool(
        &api,
        model,
        &session,
        next(),
        "write",
        json!({"file_path": "/workspace/made.txt", "content": "hello"}),
    )
    .await;
    assert!(!is_error, "{text}");
    let (out, _) = call_tool(
        &api,
        model,
        &session,
        next(),
        "bash",
        json!({"command": "stat -c '%u %a' made.txt; id -u; echo private > mine.txt; chmod 600 mine.txt"}),
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    let owner = lines[1].split(' ').next().unwrap();
    assert_eq!(
        owner, lines[2],
        "the tool wrote as the sandbox's user: {out}"
    );
    assert_eq!(lines[1].split(' ').nth(1), Some("644"), "{out}");
    let (text, is_error) = call_tool(
        &api,
        model,
        &session,
        next(),
        "read",
        json!({"file_path": "mine.txt"}),
    )
    .await;
    assert_eq!((text.as_str(), is_error), ("1\tprivate\n", false));
    let (text, is_error) = call_tool(
        &api,
        model,
        &session,
        next(),
        "write",
        json!({"file_path": "/etc/evil.conf", "content": "x"}),
    )
    .await;
    assert!(is_error && text.contains("read-only"), "{text}");
    assert!(!std::path::Path::new("/etc/evil.conf").exists());
}
