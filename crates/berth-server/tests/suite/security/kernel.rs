//! Finding 5: `unshare -Ur` and a tmpfs mount worked inside the sandbox, which ran with no
//! system-call filter. Nested user namespaces, mounts and the filter's other calls are refused.

use berth_test_support::{FakeModel, TestServer};
use serde_json::json;

use super::{call_tool, tool_session};

on_both_backends_with_model!(nested_namespaces_and_mounts_are_refused);

async fn nested_namespaces_and_mounts_are_refused(server: &TestServer, model: &FakeModel) {
    let api = server.api();
    let session = tool_session(&api, json!({"name": "cloud"})).await;
    let script = "grep '^Seccomp:' /proc/self/status; \
                  unshare -Ur sh -c 'echo inside-userns'; echo unshare=$?; \
                  mkdir -p /tmp/m; unshare -Urm sh -c 'mount -t tmpfs none /tmp/m && echo mounted'; \
                  mount -t tmpfs none /tmp/m; echo mount=$?";
    let (out, _) = call_tool(&api, model, &session, 1, "bash", json!({"command": script})).await;
    assert!(out.contains("Seccomp:\t2"), "{out}");
    assert!(
        !out.contains("inside-userns") && !out.contains("mounted"),
        "{out}"
    );
    assert!(
        !out.contains("unshare=0") && !out.contains("mount=0"),
        "{out}"
    );
}
