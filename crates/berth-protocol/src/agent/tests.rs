use super::*;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn now() -> Timestamp {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn create(body: Value) -> Validated<Agent> {
    let req: AgentCreateRequest = serde_json::from_value(body).unwrap();
    create_agent(req, "agent_x".to_owned(), now(), &HashMap::new())
}

fn update(agent: &Agent, body: Value) -> Validated<Option<Agent>> {
    let req: AgentUpdateRequest = serde_json::from_value(body).unwrap();
    update_agent(agent, req, now(), &HashMap::new())
}

#[test]
fn model_string_becomes_object() {
    let agent = create(json!({"name":"a","model":"claude-sonnet-4-6"})).unwrap();
    let v = serde_json::to_value(&agent).unwrap();
    assert_eq!(v["model"], json!({"id":"claude-sonnet-4-6"}));
    assert_eq!(v["type"], "agent");
    assert_eq!(v["version"], 1);
    assert_eq!(v["execution_identity"], json!({"type":"service_account"}));
}

#[test]
fn effort_string_becomes_object() {
    let agent =
        create(json!({"name":"a","model":{"id":"m","effort":"high","speed":"fast"}})).unwrap();
    let v = serde_json::to_value(&agent.model).unwrap();
    assert_eq!(v, json!({"id":"m","effort":{"type":"high"},"speed":"fast"}));
}

#[test]
fn no_op_update_keeps_version() {
    let agent = create(json!({"name":"a","model":"m","system":"s"})).unwrap();
    assert_eq!(
        update(&agent, json!({"system":"s","name":"a"})).unwrap(),
        None
    );
    let next = update(&agent, json!({"system":"t"})).unwrap().unwrap();
    assert_eq!(next.version, 2);
    assert_eq!(next.system.as_deref(), Some("t"));
}

#[test]
fn null_clears_but_not_name_or_model() {
    let agent = create(json!({"name":"a","model":"m","system":"s","description":"d"})).unwrap();
    let next = update(&agent, json!({"system":null,"description":""}))
        .unwrap()
        .unwrap();
    assert_eq!(next.system, None);
    assert_eq!(next.description, None);
    assert_eq!(
        update(&agent, json!({"name":null})).unwrap_err().field,
        "name"
    );
    assert_eq!(
        update(&agent, json!({"model":null})).unwrap_err().field,
        "model"
    );
}

#[test]
fn metadata_is_patched() {
    let agent = create(json!({"name":"a","model":"m","metadata":{"a":"1","b":"2"}})).unwrap();
    let next = update(&agent, json!({"metadata":{"a":null,"c":"3"}}))
        .unwrap()
        .unwrap();
    assert_eq!(
        serde_json::to_value(&next.metadata).unwrap(),
        json!({"b":"2","c":"3"})
    );
}

#[test]
fn removing_a_server_needs_its_toolset_removed_too() {
    let agent = create(json!({"name":"a","model":"m",
        "mcp_servers":[{"type":"url","name":"gh","url":"https://example.com/mcp"}],
        "tools":[{"type":"mcp_toolset","mcp_server_name":"gh"}]}))
    .unwrap();
    let err = update(&agent, json!({"mcp_servers":[]})).unwrap_err();
    assert_eq!(err.field, "mcp_servers");
    let next = update(&agent, json!({"mcp_servers":null,"tools":null}))
        .unwrap()
        .unwrap();
    assert!(next.tools.is_empty() && next.mcp_servers.is_empty());
}

#[test]
fn limits_are_enforced() {
    let long = "x".repeat(MAX_SYSTEM_CHARS + 1);
    assert_eq!(
        create(json!({"name":"a","model":"m","system":long}))
            .unwrap_err()
            .field,
        "system"
    );
    assert_eq!(
        create(json!({"name":"","model":"m"})).unwrap_err().field,
        "name"
    );
    assert_eq!(
        create(json!({"name":"a","model":"m","skills":[{"type":"custom","skill_id":"nope"}]}))
            .unwrap_err()
            .field,
        "skills[0].skill_id"
    );
}
