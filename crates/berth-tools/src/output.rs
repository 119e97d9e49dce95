//! What every tool's result goes through: errors become `Error: …` results marked `is_error`,
//! empty output says so, and long text is cut (on a character boundary) with a note.

use berth_agent::tools::ToolOutcome;
use berth_protocol::content::ContentBlock;

/// Longest text result sent back to the model, in characters.
pub const MAX_RESULT_CHARS: usize = 50_000;

/// A tool failure, shown to the model as its result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ToolError(pub String);

impl ToolError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// A successful result: content blocks, and whether it still reports a failure (a command
/// that timed out, say).
pub(crate) struct ToolOutput {
    pub content: Vec<ContentBlock>,
    pub is_error: bool,
}

impl ToolOutput {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![ContentBlock::text(text)],
            is_error: false,
        }
    }

    pub fn failed_text(text: impl Into<String>) -> Self {
        Self {
            content: vec![ContentBlock::text(text)],
            is_error: true,
        }
    }
}

/// Cuts text to `max` characters, noting the original length.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let total = text.chars().count();
    if total <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max).collect();
    format!("{kept}\n...(truncated, total {total} chars)")
}

pub(crate) fn outcome(result: Result<ToolOutput, ToolError>) -> ToolOutcome {
    match result {
        Ok(output) => {
            let content = output
                .content
                .into_iter()
                .map(|block| match block {
                    ContentBlock::Text { text } if text.is_empty() => {
                        ContentBlock::text("(completed with no output)")
                    }
                    ContentBlock::Text { text } => {
                        ContentBlock::text(truncate(&text, MAX_RESULT_CHARS))
                    }
                    other => other,
                })
                .collect();
            ToolOutcome::Done {
                content,
                is_error: output.is_error,
            }
        }
        Err(e) => ToolOutcome::Done {
            content: vec![ContentBlock::text(truncate(
                &format!("Error: {e}"),
                MAX_RESULT_CHARS,
            ))],
            is_error: true,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        let text = "ü".repeat(MAX_RESULT_CHARS + 10);
        let cut = truncate(&text, MAX_RESULT_CHARS);
        assert!(cut.ends_with(&format!(
            "(truncated, total {} chars)",
            MAX_RESULT_CHARS + 10
        )));
        assert_eq!(cut.chars().filter(|c| *c == 'ü').count(), MAX_RESULT_CHARS);
    }
}
