//! Keeping any one piece of the context from filling the model's window: a text, a tool
//! input or a tool result larger than a quarter of the window is cut (its start and end kept,
//! with a note of what was left out) in what the model sees. The log keeps everything.
//!
//! Without this, one oversized piece (a huge pasted message from before send-time checks
//! existed, a tool input the model itself wrote) would make every later turn fail: the piece
//! is in the most recent exchange, which compaction never summarises. Cut, it fits, the turn
//! runs, and later compactions fold it away like anything else.

use berth_llm::{Message, Part};
use serde_json::json;

use crate::LogEvent;
use crate::context::project;

/// Rough characters per token, as the compaction estimate counts them.
const CHARS_PER_TOKEN: usize = 4;
/// The share of the window one piece may take.
const PART_WINDOW_FRACTION: usize = 4;

/// The most tokens one piece may take in a window of `window` tokens.
pub fn max_part_tokens(window: usize) -> usize {
    (window / PART_WINDOW_FRACTION).max(1024)
}

/// The log as the model sees it in a window of `window` tokens: projected, every piece fitted.
pub fn project_fitted(log: &[LogEvent], window: usize) -> Vec<Message> {
    let mut messages = project(log);
    fit_parts(&mut messages, max_part_tokens(window));
    messages
}

/// Cuts every piece of `messages` over `max_tokens` (see the module's documentation).
pub fn fit_parts(messages: &mut [Message], max_tokens: usize) {
    let max_bytes = max_tokens.saturating_mul(CHARS_PER_TOKEN);
    for message in messages {
        for part in &mut message.content {
            fit_part(part, max_bytes);
        }
    }
}

fn fit_part(part: &mut Part, max_bytes: usize) {
    match part {
        Part::Text(text) if text.len() > max_bytes => *text = cut(text, max_bytes),
        Part::ToolUse { input, .. } => {
            let size = input.to_string().len();
            if size > max_bytes {
                *input = json!({
                    "omitted": format!(
                        "this input (about {} tokens) was too large to keep in the context",
                        size / CHARS_PER_TOKEN
                    )
                });
            }
        }
        Part::ToolResult { content, .. } => {
            for inner in content {
                fit_part(inner, max_bytes);
            }
        }
        _ => {}
    }
}

/// The start and end of `text`, about `max_bytes` in all, cut on character boundaries, with a
/// note.
fn cut(text: &str, max_bytes: usize) -> String {
    let keep = max_bytes / 2;
    let head_end = (0..=keep.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let tail_start = (text.len().saturating_sub(keep)..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len())
        .max(head_end);
    let head = text.get(..head_end).unwrap_or_default();
    let tail = text.get(tail_start..).unwrap_or_default();
    let omitted = tail_start - head_end;
    format!(
        "{head}\n\n[... about {} tokens left out here: this part is too large for the model's \
         context ...]\n\n{tail}",
        omitted / CHARS_PER_TOKEN
    )
}

#[cfg(test)]
mod tests {
    use berth_llm::Role;

    use super::*;

    #[test]
    fn only_oversized_pieces_are_cut() {
        let big = "é".repeat(20_000);
        let mut messages = vec![
            Message {
                role: Role::User,
                content: vec![Part::Text("short".into()), Part::Text(big.clone())],
            },
            Message {
                role: Role::Assistant,
                content: vec![Part::ToolUse {
                    id: "t".into(),
                    name: "write".into(),
                    input: json!({"content": big}),
                }],
            },
        ];
        fit_parts(&mut messages, 1024);
        let Part::Text(first) = &messages[0].content[0] else {
            panic!()
        };
        assert_eq!(first, "short");
        let Part::Text(cut) = &messages[0].content[1] else {
            panic!()
        };
        assert!(
            cut.len() < 4096 + 200 && cut.contains("left out"),
            "{}",
            cut.len()
        );
        assert!(cut.starts_with('é') && cut.ends_with('é'));
        let Part::ToolUse { input, .. } = &messages[1].content[0] else {
            panic!()
        };
        assert!(input["omitted"].as_str().unwrap().contains("too large"));
    }
}
