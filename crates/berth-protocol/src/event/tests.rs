use super::*;
use serde_json::json;

#[test]
fn stored_event_round_trips() {
    let event = Event {
        id: "sevt_1".into(),
        body: EventBody::AgentMessage {
            content: vec![ContentBlock::text("hi")],
        },
    };
    let text = serde_json::to_string(&event).unwrap();
    assert_eq!(
        text,
        r#"{"id":"sevt_1","type":"agent.message","content":[{"type":"text","text":"hi"}]}"#
    );
    let back: Event = serde_json::from_str(&text).unwrap();
    assert_eq!(back, event);
}

#[test]
fn unknown_stored_types_survive() {
    let back: Event =
        serde_json::from_value(json!({"id":"sevt_2","type":"workflow_run.created","name":"x"}))
            .unwrap();
    assert_eq!(back.body.type_name(), "workflow_run.created");
}

#[test]
fn inputs_validate() {
    let bad: EventParam =
        serde_json::from_value(json!({"type":"user.message","content":[]})).unwrap();
    assert_eq!(bad.validate().unwrap_err().field, "content");
    let deny: EventParam = serde_json::from_value(json!({
        "type":"user.tool_confirmation","tool_use_id":"sevt_x","result":"allow","deny_message":"no"
    }))
    .unwrap();
    assert_eq!(deny.validate().unwrap_err().field, "deny_message");
    let image: EventParam = serde_json::from_value(json!({
        "type":"user.message","content":[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"AAAA"}}]
    }))
    .unwrap();
    assert_eq!(
        image.validate().unwrap_err().field,
        "content[0].source.media_type"
    );
}
