//! `web_fetch`: fetches a URL from the server and returns it as markdown. The host must pass
//! the environment's networking rules and the tool's `allowed_domains`/`blocked_domains`, and
//! every address it resolves to must pass the egress policy (no private, loopback or link-local
//! address unless the operator allows it); redirects are followed by hand so each hop is
//! checked the same way.

use std::time::Duration;

use berth_llm::ToolSpec;
use berth_protocol::agent_tools::ToolConfig;
use berth_sandbox::hosts::normalize_host;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::output::{ToolError, ToolOutput};
use crate::{ToolContext, parse_input};

pub const DEFAULT_MAX_LENGTH: usize = 50_000;
const MAX_REDIRECTS: usize = 5;
const TIMEOUT: Duration = Duration::from_secs(20);
/// Largest body downloaded.
const MAX_BODY_BYTES: usize = 10 << 20;

#[derive(Deserialize)]
struct Input {
    url: String,
    #[serde(default)]
    max_length: Option<usize>,
}

pub fn spec() -> ToolSpec {
    ToolSpec {
        name: "web_fetch".into(),
        description: "Fetch a web page (http or https) and return its content as markdown, cut \
            to `max_length` characters (default 50000)."
            .into(),
        input_schema: json!({
            "type": "object",
            "properties": {
                "url": {"type": "string", "description": "The URL to fetch."},
                "max_length": {"type": "integer", "description": "Characters returned at most (default 50000)."}
            },
            "required": ["url"]
        }),
    }
}

fn matches_domain(host: &str, domain: &str) -> bool {
    let domain = normalize_host(domain);
    host == domain || host.ends_with(&format!(".{domain}"))
}

/// Whether the tool's own domain lists let `host` through.
pub(crate) fn domain_allowed(config: Option<&ToolConfig>, host: &str) -> bool {
    let host = normalize_host(host);
    let Some(config) = config else {
        return true;
    };
    if config
        .blocked_domains
        .iter()
        .flatten()
        .any(|d| matches_domain(&host, d))
    {
        return false;
    }
    match &config.allowed_domains {
        Some(allowed) if !allowed.is_empty() => allowed.iter().any(|d| matches_domain(&host, d)),
        _ => true,
    }
}

fn check_host(
    ctx: &ToolContext,
    config: Option<&ToolConfig>,
    url: &reqwest::Url,
) -> Result<(), ToolError> {
    let host = url.host_str().unwrap_or_default();
    if !ctx.network.allows(host) {
        return Err(ToolError::new(format!(
            "Host \"{host}\" is not allowed by this environment's networking. Allowed hosts: {}",
            ctx.network.describe()
        )));
    }
    if !domain_allowed(config, host) {
        return Err(ToolError::new(format!(
            "Host \"{host}\" is not allowed by this agent's web_fetch domain settings"
        )));
    }
    Ok(())
}

fn describe(e: &reqwest::Error) -> String {
    let mut message = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    message
}

/// Turns a body into text the model can read.
fn to_text(content_type: &str, body: &[u8]) -> Result<String, ToolError> {
    let text = String::from_utf8_lossy(body);
    let kind = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let looks_html =
        kind.contains("html") || (kind.is_empty() && text.trim_start().starts_with('<'));
    if looks_html {
        return htmd::convert(&text)
            .map_err(|e| ToolError::new(format!("cannot convert the page to markdown: {e}")));
    }
    let textual = kind.is_empty()
        || kind.starts_with("text/")
        || kind.contains("json")
        || kind.contains("xml")
        || kind.contains("javascript")
        || kind.contains("yaml");
    if textual {
        Ok(text.into_owned())
    } else {
        Err(ToolError::new(format!(
            "the response is {kind}, which web_fetch cannot turn into text; download it with \
             bash (curl) if the environment's networking allows the host"
        )))
    }
}

pub(crate) async fn run(
    ctx: &ToolContext,
    config: Option<&ToolConfig>,
    input: &Value,
    cancel: &CancellationToken,
) -> Result<ToolOutput, ToolError> {
    let input: Input = parse_input(input)?;
    let mut url = reqwest::Url::parse(input.url.trim())
        .map_err(|e| ToolError::new(format!("{} is not a valid URL: {e}", input.url)))?;
    let max_length = input
        .max_length
        .unwrap_or(DEFAULT_MAX_LENGTH)
        .clamp(1, 200_000);
    let fetch = async {
        let mut hops = 0;
        loop {
            if !matches!(url.scheme(), "http" | "https") {
                return Err(ToolError::new(format!(
                    "only http and https URLs can be fetched, not {url}"
                )));
            }
            check_host(ctx, config, &url)?;
            let response = ctx
                .web
                .fetch
                .request(reqwest::Method::GET, url.as_str())
                .map_err(|e| ToolError::new(e.to_string()))?
                .timeout(TIMEOUT)
                .send()
                .await
                .map_err(|e| ToolError::new(format!("cannot fetch {url}: {}", describe(&e))))?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .ok_or_else(|| {
                        ToolError::new(format!("{url} redirected without a location"))
                    })?;
                hops += 1;
                if hops > MAX_REDIRECTS {
                    return Err(ToolError::new(format!(
                        "{} redirected too many times",
                        input.url
                    )));
                }
                url = url
                    .join(location)
                    .map_err(|e| ToolError::new(format!("bad redirect from {url}: {e}")))?;
                continue;
            }
            if !status.is_success() {
                return Err(ToolError::new(format!(
                    "{url} answered HTTP {}",
                    status.as_u16()
                )));
            }
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let mut body = Vec::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk
                    .map_err(|e| ToolError::new(format!("reading {url}: {}", describe(&e))))?;
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY_BYTES {
                    body.truncate(MAX_BODY_BYTES);
                    break;
                }
            }
            return Ok((content_type, body));
        }
    };
    let (content_type, body) = tokio::select! {
        () = cancel.cancelled() => return Err(ToolError::new("the fetch was interrupted")),
        fetched = fetch => fetched?,
    };
    let text = to_text(&content_type, &body)?;
    let total = text.chars().count();
    let text = if total > max_length {
        let kept: String = text.chars().take(max_length).collect();
        format!("{kept}\n\n…[truncated to {max_length} chars]")
    } else {
        text
    };
    Ok(ToolOutput::text(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_markdown_and_binaries_are_refused() {
        let md = to_text(
            "text/html; charset=utf-8",
            b"<h1>Title</h1><p>Hello <b>world</b></p>",
        )
        .unwrap();
        assert!(md.contains("# Title") && md.contains("**world**"), "{md}");
        assert_eq!(
            to_text("application/json", b"{\"a\":1}").unwrap(),
            "{\"a\":1}"
        );
        assert!(to_text("image/png", b"\x89PNG").is_err());
    }
}
