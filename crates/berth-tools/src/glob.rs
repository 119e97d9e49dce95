//! `glob`: files whose path matches a pattern (`*` within a directory, `**` across them),
//! newest first.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use berth_llm::ToolSpec;
use berth_sandbox::Access;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::files::{on_files, resolve};
use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

/// Paths returned at most.
pub const MAX_RESULTS: usize = 250;
/// Entries looked at before the search gives up.
pub(crate) const MAX_SCANNED: usize = 200_000;

#[derive(Deserialize)]
struct Input {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "glob".into(),
        description: "Find files by name pattern, e.g. `**/*.rs` or `src/*.ts`; `*` stays within \
            a directory and `**` crosses directories. Searches `path` (default /workspace) and \
            returns at most 250 paths, most recently modified first."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "The glob pattern."},
                "path": {"type": "string", "description": "Directory to search (default /workspace)."}
            },
            "required": ["pattern"]
        }),
    }
}

/// Splits an absolute pattern into its literal directory prefix and the rest.
fn split_absolute(pattern: &str) -> (String, String) {
    let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let literal = parts
        .iter()
        .take(parts.len().saturating_sub(1))
        .take_while(|p| !p.contains(['*', '?', '[', '{']))
        .count();
    let (base, rest) = parts.split_at(literal);
    (format!("/{}", base.join("/")), rest.join("/"))
}

/// Walks `root` (not following links, skipping `.git`); calls `visit` for each entry.
pub(crate) fn walk(
    root: &Path,
    respect_ignores: bool,
    cancel: &CancellationToken,
    mut visit: impl FnMut(&ignore::DirEntry),
) -> Result<bool, ToolError> {
    let walker = ignore::WalkBuilder::new(root)
        .standard_filters(respect_ignores)
        .hidden(false)
        .follow_links(false)
        .filter_entry(|e| e.file_name() != ".git")
        .build();
    for (scanned, entry) in walker.enumerate() {
        if cancel.is_cancelled() {
            return Err(ToolError::new("the search was interrupted"));
        }
        if scanned >= MAX_SCANNED {
            return Ok(false);
        }
        if let Ok(entry) = entry {
            visit(&entry);
        }
    }
    Ok(true)
}

pub(crate) async fn run(
    ctx: &ToolContext,
    input: &Value,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    if input.pattern.trim().is_empty() {
        return Err(ToolError::new("pattern must not be empty"));
    }
    let (base, pattern) = match (&input.path, input.pattern.starts_with('/')) {
        (None, true) => split_absolute(&input.pattern),
        (path, _) => (
            path.clone()
                .unwrap_or_else(|| berth_sandbox::paths::WORKSPACE.to_owned()),
            input.pattern.clone(),
        ),
    };
    let sandbox = ctx.sandbox()?;
    let matcher = globset::GlobBuilder::new(&pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| ToolError::new(format!("invalid pattern: {e}")))?
        .compile_matcher();
    let cancel = cancel.clone();
    on_files(&sandbox, move |view| {
        let root = resolve(view, &base, Access::Read)?;
        if !root.host.is_dir() {
            return Err(ToolError::new(format!(
                "{} is not a directory",
                root.sandbox
            )));
        }
        let mut found: Vec<(SystemTime, PathBuf)> = Vec::new();
        let complete = walk(&root.host, false, &cancel, |entry| {
            if entry.file_type().is_some_and(|t| t.is_dir()) {
                return;
            }
            let Ok(relative) = entry.path().strip_prefix(&root.host) else {
                return;
            };
            if matcher.is_match(relative) {
                let modified = entry
                    .metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .unwrap_or(SystemTime::UNIX_EPOCH);
                found.push((modified, entry.path().to_owned()));
            }
        })?;
        if found.is_empty() {
            return Ok(ToolOutput::text("No files matched the pattern"));
        }
        found.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let total = found.len();
        let mut out = format!("Found {total} file(s)");
        for (_, path) in found.iter().take(MAX_RESULTS) {
            out.push('\n');
            out.push_str(&view.shown(path));
        }
        if total > MAX_RESULTS {
            out.push_str(&format!(
                "\n(showing the {MAX_RESULTS} most recently modified)"
            ));
        }
        if !complete {
            out.push_str(&format!(
                "\n(the search stopped after {MAX_SCANNED} entries; narrow the path)"
            ));
        }
        Ok(ToolOutput::text(out))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_patterns_split_at_the_first_wildcard() {
        assert_eq!(
            split_absolute("/workspace/src/**/*.rs"),
            ("/workspace/src".into(), "**/*.rs".into())
        );
        assert_eq!(
            split_absolute("/workspace/*.md"),
            ("/workspace".into(), "*.md".into())
        );
        assert_eq!(
            split_absolute("/workspace/a.txt"),
            ("/workspace".into(), "a.txt".into())
        );
    }
}
