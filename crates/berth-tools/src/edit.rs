//! `edit`: replaces an exact string in a file; it must occur once unless `replace_all`.

use berth_llm::ToolSpec;
use berth_sandbox::Access;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::disk::check_room;
use crate::files::{io_error, on_files, resolve, write_file};
use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

#[derive(Deserialize)]
struct Input {
    file_path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "edit".into(),
        description: "Replace `old_string` with `new_string` in a file. `old_string` must match \
            exactly (whitespace included) and occur exactly once, unless `replace_all` is true."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "file_path": {"type": "string", "description": "Absolute path of the file."},
                "old_string": {"type": "string", "description": "The exact text to replace."},
                "new_string": {"type": "string", "description": "The replacement text."},
                "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."}
            },
            "required": ["file_path", "old_string", "new_string"]
        }),
    }
}

/// The edited text and how many replacements were made.
pub(crate) fn apply(
    text: &str,
    old: &str,
    new: &str,
    replace_all: bool,
) -> Result<(String, usize), ToolError> {
    if old.is_empty() {
        return Err(ToolError::new(
            "old_string must not be empty; use write to create a file",
        ));
    }
    if old == new {
        return Err(ToolError::new("old_string and new_string are identical"));
    }
    let count = text.matches(old).count();
    match count {
        0 => Err(ToolError::new("old_string not found in file")),
        1 => Ok((text.replacen(old, new, 1), 1)),
        n if replace_all => Ok((text.replace(old, new), n)),
        n => Err(ToolError::new(format!(
            "old_string appears {n} times in file. Provide more surrounding context to make it \
             unique, or pass replace_all=true."
        ))),
    }
}

pub(crate) async fn run(ctx: &ToolContext, input: &Value) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    let sandbox = ctx.sandbox()?;
    let allowance = ctx.disk_allowance(&sandbox).await?;
    let edited = on_files(&sandbox, move |view| {
        let resolved = resolve(view, &input.file_path, Access::Write)?;
        let owner = view.owner();
        let shown = resolved.sandbox.as_str();
        let bytes = std::fs::read(&resolved.host).map_err(|e| io_error(shown, &e))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ToolError::new(format!("{shown} is not UTF-8 text; edit it with bash")))?;
        let (edited, count) = apply(
            &text,
            &input.old_string,
            &input.new_string,
            input.replace_all,
        )?;
        check_room(allowance, edited.len().saturating_sub(text.len()) as u64)?;
        write_file(&resolved.host, edited.as_bytes(), owner, shown)?;
        let noun = if count == 1 {
            "occurrence"
        } else {
            "occurrences"
        };
        Ok(ToolOutput::text(format!(
            "Edited {shown}: replaced {count} {noun}"
        )))
    })
    .await?;
    ctx.record_disk_use(&sandbox).await;
    Ok(edited)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_must_be_unique_unless_all_are_replaced() {
        assert_eq!(
            apply("a b a", "b", "c", false).unwrap(),
            ("a c a".into(), 1)
        );
        assert_eq!(apply("a b a", "a", "x", true).unwrap(), ("x b x".into(), 2));
        assert!(
            apply("a b a", "a", "x", false)
                .unwrap_err()
                .0
                .contains("appears 2 times")
        );
        assert_eq!(
            apply("abc", "z", "y", false).unwrap_err().0,
            "old_string not found in file"
        );
        assert!(apply("abc", "a", "a", false).is_err());
    }
}
