//! The model's context, rebuilt from the event log at every step.
//!
//! This is the inverse of how the loop writes events: `agent.thinking` (with its private text
//! and signature), `agent.message` and tool-use events become assistant content; user messages
//! and tool results become user content. Tool-use ids in the context are the events' own ids,
//! so a result always pairs with its call. Everything else (status, spans, errors) is not
//! context.

use berth_llm::{Message, Part, Role};
use berth_protocol::agent_tools::mcp_tool_name;
use berth_protocol::content::{ContentBlock, Source};
use berth_protocol::event::EventBody;
use serde_json::{Value, json};

use crate::LogEvent;

/// What the model is told when a tool call has no recorded result (the turn that made it was
/// interrupted before the result was written).
pub const MISSING_RESULT: &str = "The tool call was interrupted before it returned a result.";

#[derive(Default)]
struct Builder {
    messages: Vec<Message>,
    /// Tool calls of the last assistant message still waiting for a result.
    open_calls: Vec<String>,
}

impl Builder {
    fn push(&mut self, role: Role, part: Part) {
        if !self.open_calls.is_empty() {
            let is_result = matches!(part, Part::ToolResult { .. });
            let continues_assistant = role == Role::Assistant
                && self
                    .messages
                    .last()
                    .is_some_and(|m| m.role == Role::Assistant);
            if !is_result && !continues_assistant {
                self.close_open_calls();
            }
        }
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.content.push(part),
            _ => self.messages.push(Message {
                role,
                content: vec![part],
            }),
        }
    }

    /// Gives every unanswered call an error result so the conversation stays well formed.
    fn close_open_calls(&mut self) {
        let open = std::mem::take(&mut self.open_calls);
        for id in open {
            let part = Part::ToolResult {
                tool_use_id: id,
                content: vec![Part::Text(MISSING_RESULT.to_owned())],
                is_error: true,
            };
            match self.messages.last_mut() {
                Some(last) if last.role == Role::User => last.content.push(part),
                _ => self.messages.push(Message {
                    role: Role::User,
                    content: vec![part],
                }),
            }
        }
    }

    fn tool_use(&mut self, id: &str, name: &str, input: &Value) {
        self.push(
            Role::Assistant,
            Part::ToolUse {
                id: id.to_owned(),
                name: name.to_owned(),
                input: input.clone(),
            },
        );
        self.open_calls.push(id.to_owned());
    }

    fn tool_result(&mut self, id: &str, content: Option<&[ContentBlock]>, is_error: bool) {
        self.open_calls.retain(|open| open != id);
        let content = content.map(blocks_to_parts).unwrap_or_default();
        self.push(
            Role::User,
            Part::ToolResult {
                tool_use_id: id.to_owned(),
                content,
                is_error,
            },
        );
    }
}

/// How the summary of compacted context is introduced to the model.
pub fn summary_message(summary: &str) -> String {
    format!(
        "<conversation-summary>\nThe earlier part of this conversation was summarized to fit the \
         context window:\n\n{summary}\n</conversation-summary>"
    )
}

/// Where the model's context starts: after the latest compaction, with its summary first.
pub fn live_window(log: &[LogEvent]) -> (Option<&str>, &[LogEvent]) {
    let compaction = log.iter().rposition(|e| {
        matches!(e.event.body, EventBody::AgentThreadContextCompacted {})
            && e.private.summary.is_some()
    });
    let Some(at) = compaction else {
        return (None, log);
    };
    let entry = &log[at];
    let through = entry.private.compacted_through.as_deref().unwrap_or("");
    let start = log
        .iter()
        .position(|e| e.event.id == through)
        .map_or(at + 1, |i| i + 1);
    (
        entry.private.summary.as_deref(),
        log.get(start..).unwrap_or(&[]),
    )
}

/// Projects the log into provider-neutral messages.
pub fn project(log: &[LogEvent]) -> Vec<Message> {
    let mut b = Builder::default();
    let (summary, log) = live_window(log);
    if let Some(summary) = summary {
        b.push(Role::User, Part::Text(summary_message(summary)));
    }
    for entry in log {
        let id = entry.event.id.as_str();
        match &entry.event.body {
            EventBody::UserMessage { content } => {
                for part in blocks_to_parts(content) {
                    b.push(Role::User, part);
                }
            }
            EventBody::SystemMessage { content } => {
                let text: Vec<&str> = content.iter().map(|t| t.text.as_str()).collect();
                b.push(
                    Role::User,
                    Part::Text(format!(
                        "<system-message>\n{}\n</system-message>",
                        text.join("\n")
                    )),
                );
            }
            EventBody::AgentThinking {} => {
                let private = &entry.private;
                if let Some(data) = &private.redacted_thinking {
                    b.push(Role::Assistant, Part::RedactedThinking(data.clone()));
                } else if let (Some(text), Some(signature)) =
                    (&private.thinking, &private.signature)
                {
                    b.push(
                        Role::Assistant,
                        Part::Thinking {
                            text: text.clone(),
                            signature: signature.clone(),
                        },
                    );
                }
            }
            EventBody::AgentMessage { content } => {
                for block in content {
                    if let Some(text) = block.as_text()
                        && !text.is_empty()
                    {
                        b.push(Role::Assistant, Part::Text(text.to_owned()));
                    }
                }
            }
            EventBody::AgentToolUse { name, input, .. }
            | EventBody::AgentCustomToolUse { name, input } => b.tool_use(id, name, input),
            EventBody::AgentMcpToolUse {
                mcp_server_name,
                name,
                input,
                ..
            } => b.tool_use(id, &mcp_tool_name(mcp_server_name, name), input),
            EventBody::AgentMcpToolResult {
                mcp_tool_use_id,
                content,
                is_error,
            } => b.tool_result(
                mcp_tool_use_id,
                content.as_deref(),
                is_error.unwrap_or(false),
            ),
            EventBody::AgentToolResult {
                tool_use_id,
                content,
                is_error,
            } => b.tool_result(tool_use_id, content.as_deref(), is_error.unwrap_or(false)),
            EventBody::UserCustomToolResult {
                custom_tool_use_id,
                content,
                is_error,
            } => b.tool_result(
                custom_tool_use_id,
                content.as_deref(),
                is_error.unwrap_or(false),
            ),
            EventBody::UserToolResult {
                tool_use_id,
                content,
                is_error,
            } => b.tool_result(tool_use_id, content.as_deref(), is_error.unwrap_or(false)),
            _ => {}
        }
    }
    b.close_open_calls();
    b.messages
}

fn blocks_to_parts(blocks: &[ContentBlock]) -> Vec<Part> {
    blocks.iter().filter_map(block_to_part).collect()
}

fn block_to_part(block: &ContentBlock) -> Option<Part> {
    Some(match block {
        ContentBlock::Text { text } => Part::Text(text.clone()),
        ContentBlock::Image { source } => match source {
            Source::Base64 { data, media_type } => {
                Part::Image(json!({"type": "base64", "media_type": media_type, "data": data}))
            }
            Source::Url { url } => Part::Image(json!({"type": "url", "url": url})),
            // Resolved to the file's bytes before the request is sent (see `attachments`).
            Source::File { file_id } => Part::Image(json!({"type": "file", "file_id": file_id})),
            Source::Text { data, .. } => Part::Text(data.clone()),
        },
        ContentBlock::Document {
            source,
            title,
            context,
        } => {
            let source = match source {
                Source::Base64 { data, media_type } => {
                    json!({"type": "base64", "media_type": media_type, "data": data})
                }
                Source::Url { url } => json!({"type": "url", "url": url}),
                Source::Text { data, media_type } => {
                    json!({"type": "text", "media_type": media_type, "data": data})
                }
                Source::File { file_id } => json!({"type": "file", "file_id": file_id}),
            };
            let mut document = json!({"source": source});
            if let Some(title) = title {
                document["title"] = json!(title);
            }
            if let Some(context) = context {
                document["context"] = json!(context);
            }
            Part::Document(document)
        }
        ContentBlock::SearchResult {
            source,
            title,
            content,
            ..
        } => {
            let text: Vec<&str> = content.iter().map(|t| t.text.as_str()).collect();
            Part::Text(format!("[{title}]({source})\n{}", text.join("\n")))
        }
        ContentBlock::Redacted {} => return None,
    })
}

#[cfg(test)]
mod tests;
