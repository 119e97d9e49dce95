use super::*;
use serde_json::json;

fn parse(v: Value) -> Vec<ToolParam> {
    serde_json::from_value(v).unwrap()
}

#[test]
fn toolset_resolves_defaults() {
    let tools = resolve_tools(
        parse(json!([{"type":"agent_toolset_20260401","configs":[{"name":"bash","permission_policy":{"type":"always_ask"}}]}])),
        &[],
    )
    .unwrap();
    let Tool::AgentToolset(t) = &tools[0] else {
        panic!("wrong tool")
    };
    assert!(t.default_config.enabled);
    assert_eq!(
        t.policy_for(BuiltinTool::Bash),
        Some(PermissionPolicy::AlwaysAsk)
    );
    assert_eq!(
        t.policy_for(BuiltinTool::Read),
        Some(PermissionPolicy::AlwaysAllow)
    );
    let rendered = serde_json::to_value(&tools).unwrap();
    assert_eq!(rendered[0]["configs"][0]["type"], "bash");
}

#[test]
fn mcp_toolset_must_name_declared_server() {
    let err = resolve_tools(
        parse(json!([{"type":"mcp_toolset","mcp_server_name":"gh"}])),
        &[],
    )
    .unwrap_err();
    assert_eq!(err.field, "tools[0].mcp_server_name");
}

#[test]
fn every_server_needs_a_toolset() {
    let err = resolve_tools(vec![], &["gh".to_owned()]).unwrap_err();
    assert_eq!(err.field, "mcp_servers");
}

#[test]
fn custom_tool_schema_is_checked() {
    let err = resolve_tools(
        parse(json!([{"type":"custom","name":"x","description":"d","input_schema":{"type":"object","required":["a"]}}])),
        &[],
    )
    .unwrap_err();
    assert_eq!(err.field, "tools[0].input_schema.required[0]");
    let bad_name = resolve_tools(
        parse(json!([{"type":"custom","name":"has space","description":"d","input_schema":{"type":"object"}}])),
        &[],
    )
    .unwrap_err();
    assert_eq!(bad_name.field, "tools[0].name");
}

#[test]
fn web_fields_only_on_web_tools() {
    let err = resolve_tools(
        parse(json!([{"type":"agent_toolset_20260401","configs":[{"name":"bash","allowed_domains":["a.com"]}]}])),
        &[],
    )
    .unwrap_err();
    assert_eq!(err.field, "tools[0].configs[0].allowed_domains");
}

#[test]
fn mcp_tool_names_are_clean_capped_and_unique() {
    assert_eq!(
        mcp_tool_name("github", "create_issue"),
        "mcp__github__create_issue"
    );
    assert_eq!(mcp_tool_name("my server", "a.b/c"), "mcp__my_server__a_b_c");
    let long = "x".repeat(80);
    let a = mcp_tool_name("srv", &long);
    let b = mcp_tool_name("srv", &format!("{long}y"));
    assert_eq!(a.len(), MAX_MODEL_TOOL_NAME);
    assert_eq!(b.len(), MAX_MODEL_TOOL_NAME);
    assert_ne!(a, b);
    assert_eq!(a, mcp_tool_name("srv", &long));
    assert!(a.starts_with("mcp__srv__xxx"));
}
