use berth_protocol::event::{Event, EventPrivate};
use pretty_assertions::assert_eq;

use super::*;

fn log(id: &str, body: EventBody) -> LogEvent {
    LogEvent {
        event: Event {
            id: id.to_owned(),
            body,
        },
        private: EventPrivate::default(),
    }
}

#[test]
fn turns_merge_by_role_and_keep_thinking_signatures() {
    let mut thinking = log("e2", EventBody::AgentThinking {});
    thinking.private.thinking = Some("hmm".into());
    thinking.private.signature = Some("sig".into());
    let messages = project(&[
        log(
            "e1",
            EventBody::UserMessage {
                content: vec![ContentBlock::text("hi")],
            },
        ),
        log("s1", EventBody::SessionStatusRunning {}),
        thinking,
        log(
            "e3",
            EventBody::AgentMessage {
                content: vec![ContentBlock::text("hello")],
            },
        ),
        log(
            "e4",
            EventBody::UserMessage {
                content: vec![ContentBlock::text("again")],
            },
        ),
    ]);
    assert_eq!(
        messages,
        vec![
            Message {
                role: Role::User,
                content: vec![Part::Text("hi".into())]
            },
            Message {
                role: Role::Assistant,
                content: vec![
                    Part::Thinking {
                        text: "hmm".into(),
                        signature: "sig".into()
                    },
                    Part::Text("hello".into())
                ]
            },
            Message {
                role: Role::User,
                content: vec![Part::Text("again".into())]
            },
        ]
    );
}

#[test]
fn tool_calls_pair_with_results_and_dangling_calls_get_one() {
    let messages = project(&[
        log(
            "e1",
            EventBody::UserMessage {
                content: vec![ContentBlock::text("go")],
            },
        ),
        log(
            "t1",
            EventBody::AgentToolUse {
                name: "bash".into(),
                input: json!({"command": "ls"}),
                evaluated_permission: None,
                evaluation: None,
            },
        ),
        log(
            "t2",
            EventBody::AgentCustomToolUse {
                name: "lookup".into(),
                input: json!({}),
            },
        ),
        log(
            "r1",
            EventBody::AgentToolResult {
                tool_use_id: "t1".into(),
                content: Some(vec![ContentBlock::text("a b")]),
                is_error: None,
            },
        ),
        log(
            "e2",
            EventBody::UserMessage {
                content: vec![ContentBlock::text("next")],
            },
        ),
    ]);
    assert_eq!(messages.len(), 3);
    assert_eq!(
        messages[2].content,
        vec![
            Part::ToolResult {
                tool_use_id: "t1".into(),
                content: vec![Part::Text("a b".into())],
                is_error: false
            },
            Part::ToolResult {
                tool_use_id: "t2".into(),
                content: vec![Part::Text(MISSING_RESULT.into())],
                is_error: true
            },
            Part::Text("next".into()),
        ]
    );
}
