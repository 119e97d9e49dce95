//! Content blocks carried by messages and tool results (contract §7.1): text, images, documents,
//! search results and redactions.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::validation::{Validated, ValidationError};

/// Most blocks one message may carry.
pub const MAX_BLOCKS: usize = 100;
/// Largest base64 payload accepted inline (about 7.5 MB decoded).
pub const MAX_INLINE_BASE64_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentBlock {
    Text {
        text: String,
    },
    Image {
        source: Source,
    },
    Document {
        source: Source,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
    },
    SearchResult {
        source: String,
        title: String,
        content: Vec<TextOnly>,
        #[serde(default)]
        #[schema(value_type = Object)]
        citations: Value,
    },
    /// Content withheld from this view.
    Redacted {},
}

/// Where image or document bytes come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Source {
    Base64 {
        data: String,
        media_type: String,
    },
    Url {
        url: String,
    },
    File {
        file_id: String,
    },
    /// Documents only: inline plain text.
    Text {
        data: String,
        media_type: String,
    },
}

/// A `{type: "text", text}` block, the only kind some places allow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TextOnly {
    #[serde(rename = "type")]
    pub kind: TextTag,
    pub text: String,
}

crate::wire_tag!(
    /// The literal `"text"`.
    TextTag = "text"
);

impl ContentBlock {
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text { text: text.into() }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text { text } => Some(text),
            _ => None,
        }
    }
}

/// What a block list may contain where it appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allowed {
    /// `user.message`: text, image, document, redacted.
    Message,
    /// Tool results: text, image, document, search_result.
    ToolResult,
}

pub fn validate_blocks(blocks: &[ContentBlock], allowed: Allowed, required: bool) -> Validated {
    if required && blocks.is_empty() {
        return Err(ValidationError::new(
            "content",
            "must hold at least one block",
        ));
    }
    if blocks.len() > MAX_BLOCKS {
        return Err(ValidationError::new(
            "content",
            format!("at most {MAX_BLOCKS} blocks are allowed"),
        ));
    }
    for (i, block) in blocks.iter().enumerate() {
        let at = format!("content[{i}]");
        match (block, allowed) {
            (ContentBlock::SearchResult { .. }, Allowed::Message) => {
                return Err(ValidationError::new(
                    format!("{at}.type"),
                    "search_result blocks are only allowed in tool results",
                ));
            }
            (ContentBlock::Redacted {}, Allowed::ToolResult) => {
                return Err(ValidationError::new(
                    format!("{at}.type"),
                    "redacted blocks are not allowed in tool results",
                ));
            }
            _ => {}
        }
        validate_block(block).map_err(|e| e.within(&at))?;
    }
    Ok(())
}

fn validate_block(block: &ContentBlock) -> Validated {
    match block {
        ContentBlock::Image { source } => {
            if matches!(source, Source::Text { .. }) {
                return Err(ValidationError::new(
                    "source.type",
                    "images take base64, url or file sources",
                ));
            }
            validate_source(
                source,
                &["image/jpeg", "image/png", "image/gif", "image/webp"],
            )
        }
        ContentBlock::Document { source, .. } => {
            validate_source(source, &["application/pdf", "text/plain"])
        }
        ContentBlock::Text { .. } | ContentBlock::Redacted {} => Ok(()),
        ContentBlock::SearchResult { content, .. } => {
            if content.is_empty() {
                return Err(ValidationError::new(
                    "content",
                    "must hold at least one block",
                ));
            }
            Ok(())
        }
    }
}

fn validate_source(source: &Source, media_types: &[&str]) -> Validated {
    match source {
        Source::Base64 { data, media_type } => {
            if !media_types.contains(&media_type.as_str()) {
                return Err(ValidationError::new(
                    "source.media_type",
                    format!("must be one of {}", media_types.join(", ")),
                ));
            }
            if data.len() > MAX_INLINE_BASE64_BYTES {
                return Err(ValidationError::new(
                    "source.data",
                    format!(
                        "inline data is limited to {MAX_INLINE_BASE64_BYTES} bytes; upload a file instead"
                    ),
                ));
            }
            let ok = data.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'\n' | b'\r')
            });
            if !ok {
                return Err(ValidationError::new("source.data", "must be base64"));
            }
            Ok(())
        }
        Source::Url { url } => {
            crate::agent::validate_http_url(url).map_err(|e| e.within("source.url"))
        }
        Source::File { file_id } => {
            if crate::ids::has_prefix(file_id, crate::ids::prefix::FILE) {
                Ok(())
            } else {
                Err(ValidationError::new(
                    "source.file_id",
                    "must be a file id (file_…)",
                ))
            }
        }
        Source::Text { media_type, .. } => {
            if media_type != "text/plain" {
                return Err(ValidationError::new(
                    "source.media_type",
                    "text sources must be text/plain",
                ));
            }
            Ok(())
        }
    }
}
