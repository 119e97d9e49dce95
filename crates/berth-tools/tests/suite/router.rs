//! The tool router: which tools it offers, and with which permission policies.

use berth_agent::tools::{ToolKind, ToolRouter};
use berth_net::EgressPolicy;
use berth_protocol::agent_tools::{PermissionPolicy, Tool};
use berth_sandbox::HostRules;
use serde_json::json;

use crate::{fixture_with, toolset};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_offers_enabled_tools_with_their_policies() {
    let tools = toolset(json!({"configs": [
        {"name": "web_search", "enabled": false},
        {"name": "bash", "permission_policy": {"type": "always_ask"}}
    ]}));
    let mut all = tools;
    all.push(Tool::Custom(
        serde_json::from_value(
            json!({"name": "lookup", "description": "d", "input_schema": {"type": "object"}}),
        )
        .unwrap(),
    ));
    let f = fixture_with(all, HostRules::Any, EgressPolicy::default(), None);
    let names: Vec<String> = f.tools.specs().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "bash",
            "edit",
            "read",
            "write",
            "glob",
            "grep",
            "web_fetch",
            "lookup"
        ]
    );
    assert_eq!(f.tools.kind("bash"), ToolKind::Server);
    assert_eq!(f.tools.kind("lookup"), ToolKind::Custom);
    assert_eq!(f.tools.kind("web_search"), ToolKind::Unknown);
    assert_eq!(f.tools.permission("bash"), PermissionPolicy::AlwaysAsk);
    assert_eq!(f.tools.permission("read"), PermissionPolicy::AlwaysAllow);
    let none = fixture_with(Vec::new(), HostRules::Any, EgressPolicy::default(), None);
    assert!(
        none.tools.specs().is_empty(),
        "built-ins need the toolset entry"
    );
}
