//! MCP tool results as Anthropic content blocks.
//!
//! Text and images map one to one. Embedded text resources become text; what the model cannot
//! take (audio, binary resources, links, images in formats the API refuses) becomes a short text
//! block saying what was there, so the model knows something was returned.

use rmcp::model::{CallToolResult, ContentBlock, ResourceContents};
use serde_json::{Value, json};

/// Image types the Anthropic API accepts in an image block.
const IMAGE_MEDIA_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

/// The content blocks of a tool result. A result with structured content but no content blocks
/// (which the spec discourages but servers send) gets the structured content as JSON text.
pub(crate) fn result_blocks(result: CallToolResult) -> Vec<Value> {
    let mut blocks: Vec<Value> = result.content.into_iter().map(block).collect();
    if blocks.is_empty()
        && let Some(structured) = result.structured_content
    {
        blocks.push(text(structured.to_string()));
    }
    blocks
}

fn block(content: ContentBlock) -> Value {
    match content {
        ContentBlock::Text(t) => text(t.text),
        ContentBlock::Image(image) if IMAGE_MEDIA_TYPES.contains(&image.mime_type.as_str()) => {
            json!({
                "type": "image",
                "source": {"type": "base64", "media_type": image.mime_type, "data": image.data},
            })
        }
        ContentBlock::Image(image) => text(format!("[image: {}]", image.mime_type)),
        ContentBlock::Audio(audio) => text(format!("[audio: {}]", audio.mime_type)),
        ContentBlock::Resource(embedded) => match embedded.resource {
            ResourceContents::TextResourceContents { text: body, .. } => text(body),
            ResourceContents::BlobResourceContents { uri, mime_type, .. } => match mime_type {
                Some(mime_type) => text(format!("[resource: {uri} ({mime_type})]")),
                None => text(format!("[resource: {uri}]")),
            },
            _ => text("[resource]".to_owned()),
        },
        ContentBlock::ResourceLink(link) => text(format!("[resource: {}]", link.uri)),
        _ => text("[unsupported content]".to_owned()),
    }
}

fn text(text: String) -> Value {
    json!({"type": "text", "text": text})
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use rmcp::model::{EmbeddedResource, Resource};

    use super::*;

    #[test]
    fn maps_each_kind_of_content() {
        let result = CallToolResult::error(vec![
            ContentBlock::text("hello"),
            ContentBlock::image("aGk=", "image/png"),
            ContentBlock::image("aGk=", "image/tiff"),
            ContentBlock::audio("aGk=", "audio/wav"),
            ContentBlock::Resource(EmbeddedResource::new(ResourceContents::text(
                "file body",
                "file:///a.txt",
            ))),
            ContentBlock::Resource(EmbeddedResource::new(ResourceContents::blob(
                "aGk=",
                "file:///a.bin",
            ))),
            ContentBlock::ResourceLink(Resource::new("file:///b.txt", "b")),
        ]);
        assert_eq!(
            result_blocks(result),
            vec![
                json!({"type": "text", "text": "hello"}),
                json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "aGk="}}),
                json!({"type": "text", "text": "[image: image/tiff]"}),
                json!({"type": "text", "text": "[audio: audio/wav]"}),
                json!({"type": "text", "text": "file body"}),
                json!({"type": "text", "text": "[resource: file:///a.bin]"}),
                json!({"type": "text", "text": "[resource: file:///b.txt]"}),
            ]
        );
    }

    #[test]
    fn structured_content_alone_becomes_text() {
        let result = CallToolResult::structured(json!({"sum": 3}));
        let mut result = result;
        result.content.clear();
        assert_eq!(
            result_blocks(result),
            vec![json!({"type": "text", "text": "{\"sum\":3}"})]
        );
    }
}
