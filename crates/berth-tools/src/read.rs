//! `read`: a file's lines, numbered, or an image or PDF as a content block.

use base64::Engine;
use berth_llm::ToolSpec;
use berth_protocol::content::{ContentBlock, Source};
use berth_sandbox::Access;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::files::{io_error, on_files, resolve};
use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

/// Lines shown when no `limit` is given.
pub const DEFAULT_LINES: usize = 2000;
/// Longer lines are cut.
pub const MAX_LINE_CHARS: usize = 2000;
/// Largest text file read whole.
const MAX_TEXT_BYTES: u64 = 32 << 20;
const MAX_IMAGE_BYTES: u64 = 5 << 20;
const MAX_PDF_BYTES: u64 = 20 << 20;

/// The hosted toolset's input (`file_path`, `view_range`), plus `offset`/`limit` as the Open
/// Managed Agents reference names them.
#[derive(Deserialize)]
struct Input {
    file_path: String,
    #[serde(default)]
    view_range: Option<Vec<i64>>,
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

impl Input {
    /// The first line (1-based) and how many lines to show, if limited.
    fn window(&self) -> Result<(usize, Option<usize>), ToolError> {
        match self.view_range.as_deref() {
            Some([start, end]) => {
                let start = (*start).max(1) as usize;
                let count = (*end > 0).then(|| (*end as usize + 1).saturating_sub(start).max(1));
                Ok((start, count))
            }
            Some(_) => Err(ToolError::new("view_range must be [start_line, end_line]")),
            None => Ok((self.offset.unwrap_or(1), self.limit)),
        }
    }
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "read".into(),
        description: "Read a file from the sandbox. Text comes back as numbered lines \
            (`<n>\\t<line>`): the first 2000, or those of `view_range` ([start_line, \
            end_line], 1-based and inclusive; an end of 0 means the end of the file). Images \
            (png, jpg, gif, webp) and PDFs come back as content the model can see."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Absolute path, e.g. /workspace/src/main.rs."},
                "view_range": {"type": "array", "items": {"type": "integer"}, "description": "[start_line, end_line], 1-based, inclusive."}
            },
            "required": ["file_path"]
        }),
    }
}

fn media_type(path: &str) -> Option<&'static str> {
    let lower = path.to_ascii_lowercase();
    let ext = lower.rsplit('.').next()?;
    Some(match ext {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

/// Numbered lines `offset..offset+limit` of `text`, with a note when more remain.
pub(crate) fn number_lines(text: &str, offset: usize, limit: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let total = lines.len();
    if total == 0 {
        return "(the file is empty)".to_owned();
    }
    let start = offset.max(1);
    if start > total {
        return format!("(the file has only {total} lines)");
    }
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate().skip(start - 1).take(limit) {
        let shown: String = line.chars().take(MAX_LINE_CHARS).collect();
        out.push_str(&format!("{}\t{shown}", i + 1));
        if line.chars().count() > MAX_LINE_CHARS {
            out.push_str(" … (line truncated)");
        }
        out.push('\n');
    }
    if start - 1 + limit < total {
        out.push_str(&format!("\n...(file has {total} total lines)"));
    }
    out
}

pub(crate) async fn run(ctx: &ToolContext, input: &Value) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    let (start, count) = input.window()?;
    let sandbox = ctx.sandbox()?;
    on_files(&sandbox, move |view| {
        let resolved = resolve(view, &input.file_path, Access::Read)?;
        let shown = resolved.sandbox.clone();
        let meta = std::fs::metadata(&resolved.host).map_err(|e| io_error(&shown, &e))?;
        if meta.is_dir() {
            return Err(ToolError::new(format!(
                "{shown} is a directory; use glob, or bash with ls, to list it"
            )));
        }
        if let Some(media) = media_type(&shown) {
            let cap = if media == "application/pdf" {
                MAX_PDF_BYTES
            } else {
                MAX_IMAGE_BYTES
            };
            if meta.len() > cap {
                return Err(ToolError::new(format!(
                    "{shown} is {} bytes; files of this type can be read up to {cap} bytes",
                    meta.len()
                )));
            }
            let bytes = std::fs::read(&resolved.host).map_err(|e| io_error(&shown, &e))?;
            let source = Source::Base64 {
                data: base64::engine::general_purpose::STANDARD.encode(bytes),
                media_type: media.to_owned(),
            };
            let block = if media == "application/pdf" {
                ContentBlock::Document {
                    source,
                    title: Some(shown.clone()),
                    context: None,
                }
            } else {
                ContentBlock::Image { source }
            };
            return Ok(ToolOutput {
                content: vec![block],
                is_error: false,
            });
        }
        if meta.len() > MAX_TEXT_BYTES && count.is_none() {
            return Err(ToolError::new(format!(
                "{shown} is {} bytes; read part of it with view_range, or use grep",
                meta.len()
            )));
        }
        let bytes = std::fs::read(&resolved.host).map_err(|e| io_error(&shown, &e))?;
        let sniff = bytes.get(..8192.min(bytes.len())).unwrap_or_default();
        if sniff.contains(&0) {
            return Err(ToolError::new(format!(
                "{shown} is a binary file ({} bytes); inspect it with bash (file, xxd, strings)",
                bytes.len()
            )));
        }
        let text = String::from_utf8_lossy(&bytes);
        Ok(ToolOutput::text(number_lines(
            &text,
            start,
            count.unwrap_or(DEFAULT_LINES).max(1),
        )))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_numbered_and_say_what_remains() {
        let text = "a\nb\nc\nd\n";
        assert_eq!(number_lines(text, 1, 2000), "1\ta\n2\tb\n3\tc\n4\td\n");
        assert_eq!(
            number_lines(text, 2, 2),
            "2\tb\n3\tc\n\n...(file has 4 total lines)"
        );
        assert_eq!(number_lines(text, 9, 2), "(the file has only 4 lines)");
        assert_eq!(number_lines("", 1, 10), "(the file is empty)");
        let long = "x".repeat(MAX_LINE_CHARS + 5);
        assert!(number_lines(&long, 1, 1).contains("(line truncated)"));
    }
}
