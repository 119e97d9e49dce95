//! Image and document blocks that name an uploaded file (`{type: "file", file_id}`) are sent to
//! the model with the file's bytes inline, as every provider expects; a file that cannot be
//! read becomes a note saying so.

use berth_llm::{Message, Part};
use serde_json::Value;

use crate::TurnHost;

fn file_id(source: &Value) -> Option<&str> {
    (source.get("type").and_then(Value::as_str) == Some("file"))
        .then(|| source.get("file_id").and_then(Value::as_str))
        .flatten()
}

async fn resolve_part(host: &dyn TurnHost, part: &mut Part) {
    match part {
        Part::Image(source) => {
            if let Some(id) = file_id(source).map(str::to_owned) {
                *part = match host.file_source(&id).await {
                    Ok(inline) => Part::Image(inline),
                    Err(e) => Part::Text(format!("[image {id} could not be attached: {e}]")),
                };
            }
        }
        Part::Document(document) => {
            let id = document.get("source").and_then(file_id).map(str::to_owned);
            if let Some(id) = id {
                match host.file_source(&id).await {
                    Ok(inline) => document["source"] = inline,
                    Err(e) => {
                        *part = Part::Text(format!("[document {id} could not be attached: {e}]"))
                    }
                }
            }
        }
        Part::ToolResult { content, .. } => {
            for inner in content.iter_mut() {
                Box::pin(resolve_part(host, inner)).await;
            }
        }
        _ => {}
    }
}

pub(crate) async fn resolve(host: &dyn TurnHost, messages: &mut [Message]) {
    for message in messages.iter_mut() {
        for part in message.content.iter_mut() {
            resolve_part(host, part).await;
        }
    }
}
