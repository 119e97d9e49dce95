//! The bash tool: exit codes, output and timeouts in the sandbox.

use serde_json::json;

use crate::{call, fixture};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bash_reports_exit_codes_output_and_timeouts() {
    let f = fixture();
    assert_eq!(
        call(
            &f,
            "bash",
            json!({"command": "echo hi; echo oops >&2; exit 4"})
        )
        .await,
        ("exit=4\nhi\noops\n".into(), false)
    );
    assert_eq!(
        call(&f, "bash", json!({"command": "true"})).await,
        ("exit=0\n".into(), false)
    );
    let (text, is_error) = call(
        &f,
        "bash",
        json!({"command": "echo start; sleep 5", "timeout_ms": 300}),
    )
    .await;
    assert!(
        is_error && text.contains("timed out after 0.3s") && text.contains("start"),
        "{text}"
    );
    let (text, is_error) = call(&f, "bash", json!({"command": ""})).await;
    assert!(is_error && text.starts_with("Error: "), "{text}");
    let (text, is_error) = call(&f, "bash", json!({"cmd": "ls"})).await;
    assert_eq!(
        (text.as_str(), is_error),
        ("Error: command is required", true)
    );
    let (text, is_error) = call(&f, "bash", json!({"command": 5})).await;
    assert!(is_error && text.contains("invalid input"), "{text}");
    assert_eq!(
        call(&f, "bash", json!({"restart": true})).await,
        ("bash session restarted".into(), false)
    );
    let (text, _) = call(
        &f,
        "bash",
        json!({"command": "head -c 200000 /dev/zero | tr '\\0' 'x'"}),
    )
    .await;
    assert!(
        text.contains("(truncated, total") || text.contains("omitted"),
        "long output is cut"
    );
}
