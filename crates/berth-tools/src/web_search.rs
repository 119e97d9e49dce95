//! `web_search`: asks the operator's search backend; without one, says so.

use berth_llm::ToolSpec;
use berth_protocol::agent_tools::ToolConfig;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::output::{ToolError, ToolOutput};
use crate::web_fetch::domain_allowed;
use crate::{ToolContext, parse_input};

pub const DEFAULT_RESULTS: usize = 5;
pub const MAX_RESULTS: usize = 20;

#[derive(Deserialize)]
struct Input {
    query: String,
    #[serde(default)]
    max_results: Option<usize>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "web_search".into(),
        description: "Search the web. Returns a JSON list of results with title, url and \
            description (5 by default, at most 20)."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What to search for."},
                "max_results": {"type": "integer", "description": "Results wanted (default 5, max 20)."}
            },
            "required": ["query"]
        }),
    }
}

pub(crate) async fn run(
    ctx: &ToolContext,
    config: Option<&ToolConfig>,
    input: &Value,
) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    if input.query.trim().is_empty() {
        return Err(ToolError::new("query must not be empty"));
    }
    let Some(backend) = &ctx.web.search else {
        return Err(ToolError::new(
            "web_search has no search backend on this server; the operator can configure one \
             with BERTH_SEARXNG_URL",
        ));
    };
    let max = input
        .max_results
        .unwrap_or(DEFAULT_RESULTS)
        .clamp(1, MAX_RESULTS);
    let hits = backend
        .search(&input.query, MAX_RESULTS)
        .await
        .map_err(ToolError::new)?;
    let hits: Vec<_> = hits
        .into_iter()
        .filter(|h| {
            let host = reqwest::Url::parse(&h.url)
                .ok()
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default();
            domain_allowed(config, &host)
        })
        .take(max)
        .collect();
    if hits.is_empty() {
        return Ok(ToolOutput::text(format!(
            "No results for \"{}\"",
            input.query
        )));
    }
    Ok(ToolOutput::text(
        serde_json::to_string_pretty(&hits).map_err(|e| ToolError::new(e.to_string()))?,
    ))
}
