//! Every built-in tool's success and error paths, run for real: a bubblewrap sandbox, files on
//! disk, and loopback HTTP servers for the web tools.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod suite;

use std::sync::Arc;

use berth_agent::tools::{ToolCall, ToolOutcome, ToolRouter};
use berth_net::EgressPolicy;
use berth_protocol::agent_tools::Tool;
use berth_sandbox::{HostRules, Isolation, SandboxSettings, Sandboxes, find_bubblewrap};
use berth_tools::{AgentTools, Searxng, ToolContext, WebTools};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

struct Fixture {
    tools: AgentTools,
    sandboxes: Arc<Sandboxes>,
    _root: tempfile::TempDir,
}

fn toolset(extra: Value) -> Vec<Tool> {
    let mut set = json!({"type": "agent_toolset_20260401", "default_config": {"enabled": true, "permission_policy": {"type": "always_allow"}}, "configs": []});
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            set[k] = v.clone();
        }
    }
    let params: Vec<berth_protocol::agent_tools::ToolParam> =
        serde_json::from_value(json!([set])).unwrap();
    berth_protocol::agent_tools::resolve_tools(params, &[]).unwrap()
}

/// A sandbox user of its own for each fixture: test processes run side by side, so the start
/// depends on the process.
fn fresh_uid() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let uids = berth_sandbox::SANDBOX_UIDS;
    let span = uids.end - uids.start;
    let offset = span / 2 + std::process::id().wrapping_mul(7919) % (span / 4);
    uids.start + offset + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn fixture_with(
    tools: Vec<Tool>,
    network: HostRules,
    egress: EgressPolicy,
    search: Option<&str>,
) -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let mut settings = SandboxSettings::new(
        root.path().join("sandboxes"),
        Isolation::Bubblewrap(find_bubblewrap().expect("bubblewrap")),
    );
    settings.egress = egress.clone();
    let sandboxes = Arc::new(Sandboxes::new(settings));
    let search = search
        .map(|url| Arc::new(Searxng::new(url).unwrap()) as Arc<dyn berth_tools::SearchBackend>);
    let context = ToolContext {
        sandboxes: Arc::clone(&sandboxes),
        session_id: "sesn_tools".into(),
        sandbox_uid: Some(fresh_uid()),
        network,
        web: Arc::new(WebTools::new(egress, search).unwrap()),
        client_executes: false,
        extra_mounts: Vec::new(),
        secrets: Vec::new(),
        disk_budget: None,
    };
    Fixture {
        tools: AgentTools::new(&tools, Arc::new(context)),
        sandboxes,
        _root: root,
    }
}

fn fixture() -> Fixture {
    fixture_with(
        toolset(json!({})),
        HostRules::Any,
        EgressPolicy::default(),
        None,
    )
}

async fn call(f: &Fixture, name: &str, input: Value) -> (String, bool) {
    let call = ToolCall {
        event_id: "sevt_1".into(),
        name: name.into(),
        input,
    };
    match f.tools.execute(&call, &CancellationToken::new()).await {
        ToolOutcome::Done { content, is_error } => {
            let text = content
                .iter()
                .filter_map(|b| b.as_text())
                .collect::<Vec<_>>()
                .join("");
            (text, is_error)
        }
        ToolOutcome::Pending => panic!("{name} did not run"),
    }
}
