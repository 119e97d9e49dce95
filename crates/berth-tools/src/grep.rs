//! `grep`: regular-expression search over files, on ripgrep's own libraries: `.gitignore` is
//! respected, binary files are skipped, and results come as matching files, matching lines
//! (with context) or counts.

use std::path::{Path, PathBuf};

use berth_llm::ToolSpec;
use berth_sandbox::{Access, FileView};
use grep_regex::RegexMatcherBuilder;
use grep_searcher::{BinaryDetection, Searcher, SearcherBuilder, Sink, SinkContext, SinkMatch};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::files::{on_files, resolve};
use crate::glob::walk;
use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

pub const DEFAULT_HEAD_LIMIT: usize = 250;

#[derive(Deserialize)]
struct Input {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    output_mode: Option<Mode>,
    #[serde(default)]
    glob: Option<String>,
    #[serde(default, rename = "type")]
    file_type: Option<String>,
    #[serde(default, rename = "-i")]
    case_insensitive: Option<bool>,
    #[serde(default, rename = "-n")]
    line_numbers: Option<bool>,
    #[serde(default, rename = "-A")]
    after: Option<usize>,
    #[serde(default, rename = "-B")]
    before: Option<usize>,
    #[serde(default, rename = "-C")]
    context: Option<usize>,
    #[serde(default)]
    multiline: Option<bool>,
    #[serde(default)]
    head_limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Mode {
    FilesWithMatches,
    Content,
    Count,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "grep".into(),
        description: "Search file contents with a regular expression (ripgrep syntax) under \
            `path` (default /workspace; a file or a directory). `output_mode` is \
            `files_with_matches` (default), `content` (matching lines, with -A/-B/-C context and \
            -n line numbers) or `count`. Filter files with `glob` (e.g. `*.rs`) or `type` (e.g. \
            `rust`, `py`). `.gitignore` is respected and binary files are skipped. `head_limit` \
            caps the entries returned (default 250, 0 for no limit)."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "pattern": {"type": "string", "description": "The regular expression."},
                "path": {"type": "string", "description": "File or directory to search (default /workspace)."},
                "output_mode": {"type": "string", "enum": ["files_with_matches", "content", "count"]},
                "glob": {"type": "string", "description": "Only files matching this glob."},
                "type": {"type": "string", "description": "Only files of this type (rust, py, js, …)."},
                "-i": {"type": "boolean", "description": "Case insensitive."},
                "-n": {"type": "boolean", "description": "Line numbers in content mode (default true)."},
                "-A": {"type": "integer", "description": "Lines of context after each match."},
                "-B": {"type": "integer", "description": "Lines of context before each match."},
                "-C": {"type": "integer", "description": "Lines of context around each match."},
                "multiline": {"type": "boolean", "description": "Let patterns span lines (`.` matches newlines)."},
                "head_limit": {"type": "integer", "description": "Entries returned at most (default 250, 0 = all)."}
            },
            "required": ["pattern"]
        }),
    }
}

/// One line of output for a file: (line number, text, whether it matched); `None` is a break
/// between context groups.
type Line = Option<(u64, String, bool)>;

struct Collect {
    lines: Vec<Line>,
    matched_lines: u64,
    stop_at_first: bool,
}

impl Sink for Collect {
    type Error = std::io::Error;

    fn matched(&mut self, _: &Searcher, m: &SinkMatch<'_>) -> Result<bool, Self::Error> {
        let first = m.line_number().unwrap_or(0);
        for (i, line) in m.lines().enumerate() {
            let text = String::from_utf8_lossy(line)
                .trim_end_matches(['\n', '\r'])
                .to_owned();
            self.lines.push(Some((first + i as u64, text, true)));
            self.matched_lines += 1;
        }
        Ok(!self.stop_at_first)
    }

    fn context(&mut self, _: &Searcher, c: &SinkContext<'_>) -> Result<bool, Self::Error> {
        let text = String::from_utf8_lossy(c.bytes())
            .trim_end_matches(['\n', '\r'])
            .to_owned();
        self.lines
            .push(Some((c.line_number().unwrap_or(0), text, false)));
        Ok(true)
    }

    fn context_break(&mut self, _: &Searcher) -> Result<bool, Self::Error> {
        self.lines.push(None);
        Ok(true)
    }
}

struct Found {
    path: PathBuf,
    lines: Vec<Line>,
    matched_lines: u64,
}

fn format(
    mode: Mode,
    found: &[Found],
    view: &FileView,
    numbers: bool,
    head_limit: usize,
) -> String {
    if found.is_empty() {
        return "No matches found".to_owned();
    }
    let limit = if head_limit == 0 {
        usize::MAX
    } else {
        head_limit
    };
    let mut entries: Vec<String> = Vec::new();
    match mode {
        Mode::FilesWithMatches => {
            entries.extend(found.iter().map(|f| view.shown(&f.path)));
        }
        Mode::Count => {
            entries.extend(
                found
                    .iter()
                    .map(|f| format!("{}:{}", view.shown(&f.path), f.matched_lines)),
            );
        }
        Mode::Content => {
            for f in found {
                let name = view.shown(&f.path);
                for line in &f.lines {
                    entries.push(match line {
                        None => "--".to_owned(),
                        Some((n, text, true)) if numbers => format!("{name}:{n}:{text}"),
                        Some((n, text, false)) if numbers => format!("{name}-{n}-{text}"),
                        Some((_, text, true)) => format!("{name}:{text}"),
                        Some((_, text, false)) => format!("{name}-{text}"),
                    });
                }
            }
        }
    }
    let total = entries.len();
    let mut out = match mode {
        Mode::FilesWithMatches => format!("Found {} file(s)\n", found.len()),
        _ => String::new(),
    };
    out.push_str(
        &entries
            .iter()
            .take(limit)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n"),
    );
    if total > limit {
        out.push_str(&format!(
            "\n...(showing the first {limit} of {total}; raise head_limit for more)"
        ));
    }
    if mode == Mode::Count {
        let occurrences: u64 = found.iter().map(|f| f.matched_lines).sum();
        out.push_str(&format!(
            "\n\nFound {occurrences} total occurrences across {} file(s).",
            found.len()
        ));
    }
    out
}

pub(crate) async fn run(
    ctx: &ToolContext,
    input: &Value,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    let mode = input.output_mode.unwrap_or(Mode::FilesWithMatches);
    let multiline = input.multiline.unwrap_or(false);
    let matcher = RegexMatcherBuilder::new()
        .case_insensitive(input.case_insensitive.unwrap_or(false))
        .multi_line(true)
        .dot_matches_new_line(multiline)
        .build(&input.pattern)
        .map_err(|e| ToolError::new(format!("invalid regular expression: {e}")))?;
    let context = input.context.unwrap_or(0);
    let (before, after) = if mode == Mode::Content {
        (
            input.before.unwrap_or(context),
            input.after.unwrap_or(context),
        )
    } else {
        (0, 0)
    };
    let sandbox = ctx.sandbox()?;
    let base = input
        .path
        .clone()
        .unwrap_or_else(|| berth_sandbox::paths::WORKSPACE.to_owned());
    let cancel = cancel.clone();
    on_files(&sandbox, move |view| {
        let root = resolve(view, &base, Access::Read)?;
        let filter = file_filter(
            &root.host,
            input.glob.as_deref(),
            input.file_type.as_deref(),
        )?;
        let mut searcher = SearcherBuilder::new()
            .binary_detection(BinaryDetection::quit(0))
            .line_number(true)
            .multi_line(multiline)
            .before_context(before)
            .after_context(after)
            .build();
        let mut found = Vec::new();
        let mut search = |path: &Path| {
            let mut sink = Collect {
                lines: Vec::new(),
                matched_lines: 0,
                stop_at_first: mode == Mode::FilesWithMatches,
            };
            if searcher.search_path(&matcher, path, &mut sink).is_ok() && sink.matched_lines > 0 {
                found.push(Found {
                    path: path.to_owned(),
                    lines: sink.lines,
                    matched_lines: sink.matched_lines,
                });
            }
        };
        let complete = if root.host.is_file() {
            search(&root.host);
            true
        } else {
            walk(&root.host, true, &cancel, |entry| {
                if entry.file_type().is_some_and(|t| t.is_file()) && filter(entry.path()) {
                    search(entry.path());
                }
            })?
        };
        found.sort_by(|a, b| a.path.cmp(&b.path));
        let mut out = format(
            mode,
            &found,
            view,
            input.line_numbers.unwrap_or(true),
            input.head_limit.unwrap_or(DEFAULT_HEAD_LIMIT),
        );
        if !complete {
            out.push_str("\n(the search stopped early; narrow the path)");
        }
        Ok(ToolOutput::text(out))
    })
    .await
}

/// Which files to search: `glob` and `type` filters, as ripgrep applies them.
fn file_filter(
    root: &Path,
    glob: Option<&str>,
    file_type: Option<&str>,
) -> Result<impl Fn(&Path) -> bool, ToolError> {
    let globs = match glob {
        Some(pattern) => {
            let mut builder = ignore::overrides::OverrideBuilder::new(root);
            builder
                .add(pattern)
                .map_err(|e| ToolError::new(format!("invalid glob: {e}")))?;
            Some(
                builder
                    .build()
                    .map_err(|e| ToolError::new(format!("invalid glob: {e}")))?,
            )
        }
        None => None,
    };
    let types = match file_type {
        Some(name) => {
            let mut builder = ignore::types::TypesBuilder::new();
            builder.add_defaults();
            builder.select(name);
            let types = builder
                .build()
                .map_err(|e| ToolError::new(format!("unknown file type \"{name}\": {e}")))?;
            Some(types)
        }
        None => None,
    };
    Ok(move |path: &Path| {
        let by_glob = globs
            .as_ref()
            .is_none_or(|g| g.matched(path, false).is_whitelist());
        let by_type = types
            .as_ref()
            .is_none_or(|t| t.matched(path, false).is_whitelist());
        by_glob && by_type
    })
}
