//! The capability probe run when a model card is created or rotated: one tiny request that
//! tells a bad key, an unreachable URL, a server speaking another protocol and an unknown model
//! apart, so the card is refused with a message that says which.

use std::time::Duration;

use berth_net::{EgressError, PolicedClient};
use serde_json::{Value, json};

use crate::anthropic::{API_VERSION, messages_endpoint};
use crate::openai::{Dialect, completions_endpoint};
use crate::transport::redact;

/// The probe gives up after this long (a card create should answer promptly).
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(6);
const MAX_MESSAGE_CHARS: usize = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Anthropic,
    OpenAi(Dialect),
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Anthropic => "Anthropic Messages",
            Protocol::OpenAi(_) => "OpenAI Chat Completions",
        }
    }
}

pub struct ProbeTarget<'a> {
    pub protocol: Protocol,
    pub base_url: &'a str,
    pub api_key: &'a str,
    pub custom_headers: &'a [(String, String)],
    pub model: &'a str,
}

/// Why a card was refused. Messages carry the provider's words, never the key.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    #[error("the provider rejected the API key ({0})")]
    BadKey(String),
    #[error("cannot reach {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url} does not answer like the {protocol} API ({message})")]
    WrongProtocol {
        url: String,
        protocol: &'static str,
        message: String,
    },
    #[error("the provider does not know the model \"{model}\" ({message})")]
    UnknownModel { model: String, message: String },
    #[error("the provider refused the probe request ({0})")]
    Refused(String),
    #[error(transparent)]
    Egress(EgressError),
}

/// Removes the key and header values (and masked forms of them) from a message.
fn scrub(text: &str, target: &ProbeTarget<'_>) -> String {
    let mut out = redact(text, target.api_key);
    for (_, value) in target.custom_headers {
        out = redact(&out, value);
    }
    out
}

fn clip(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_MESSAGE_CHARS {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(MAX_MESSAGE_CHARS).collect();
    out.push('…');
    out
}

pub async fn probe(http: &PolicedClient, target: &ProbeTarget<'_>) -> Result<(), ProbeError> {
    let (url, body) = match target.protocol {
        Protocol::Anthropic => (
            messages_endpoint(target.base_url),
            json!({"model": target.model, "max_tokens": 1, "messages": [{"role": "user", "content": "ping"}]}),
        ),
        Protocol::OpenAi(dialect) => {
            let limit = match dialect {
                Dialect::OpenAi => "max_completion_tokens",
                Dialect::Compatible => "max_tokens",
            };
            let mut body =
                json!({"model": target.model, "messages": [{"role": "user", "content": "ping"}]});
            body[limit] = json!(1);
            (completions_endpoint(target.base_url), body)
        }
    };
    let mut request = http
        .request(reqwest::Method::POST, &url)
        .map_err(ProbeError::Egress)?
        .json(&body);
    request = match target.protocol {
        Protocol::Anthropic => request
            .header("x-api-key", target.api_key)
            .header("anthropic-version", API_VERSION),
        Protocol::OpenAi(_) => request.bearer_auth(target.api_key),
    };
    for (name, value) in target.custom_headers {
        request = request.header(name, value);
    }
    let response = match tokio::time::timeout(PROBE_TIMEOUT, request.send()).await {
        Err(_) => {
            return Err(ProbeError::Unreachable {
                url,
                message: format!("no answer within {} s", PROBE_TIMEOUT.as_secs()),
            });
        }
        Ok(Err(e)) => {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(cause) = source {
                message.push_str(&format!(": {cause}"));
                source = cause.source();
            }
            let message = clip(&scrub(&message, target));
            if message.contains("BERTH_ALLOW_PRIVATE_EGRESS") {
                return Err(ProbeError::Refused(message));
            }
            return Err(ProbeError::Unreachable { url, message });
        }
        Ok(Ok(response)) => response,
    };
    let status = response.status().as_u16();
    let text = tokio::time::timeout(PROBE_TIMEOUT, response.text())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let json: Option<Value> = serde_json::from_str(&text).ok();
    let provider_message = json
        .as_ref()
        .and_then(|v| v.pointer("/error/message").and_then(Value::as_str))
        .map(|m| clip(&scrub(m, target)))
        .unwrap_or_else(|| format!("HTTP {status}"));
    let wrong_protocol = |message: String| ProbeError::WrongProtocol {
        url: url.clone(),
        protocol: target.protocol.name(),
        message,
    };
    match status {
        200..=299 => {
            let shaped = json.as_ref().is_some_and(|v| match target.protocol {
                Protocol::Anthropic => v.get("type").and_then(Value::as_str) == Some("message"),
                Protocol::OpenAi(_) => v.get("choices").is_some_and(Value::is_array),
            });
            if shaped {
                Ok(())
            } else {
                Err(wrong_protocol(format!(
                    "HTTP {status} with an unexpected body"
                )))
            }
        }
        // Rate limited or overloaded: the key and URL were accepted.
        429 | 529 => Ok(()),
        401 | 403 => Err(ProbeError::BadKey(format!(
            "HTTP {status}: {provider_message}"
        ))),
        _ if json.as_ref().and_then(|v| v.get("error")).is_none() => Err(wrong_protocol(format!(
            "HTTP {status} without an API error body"
        ))),
        404 | 400 | 422 if mentions_model(json.as_ref(), target.model) => {
            Err(ProbeError::UnknownModel {
                model: target.model.to_owned(),
                message: format!("HTTP {status}: {provider_message}"),
            })
        }
        404 => Err(wrong_protocol(format!("HTTP 404: {provider_message}"))),
        _ => Err(ProbeError::Refused(format!(
            "HTTP {status}: {provider_message}"
        ))),
    }
}

/// Whether an error body is about the model (`model_not_found`, "model: x", …).
fn mentions_model(json: Option<&Value>, model: &str) -> bool {
    let Some(error) = json.and_then(|v| v.get("error")) else {
        return false;
    };
    let code = error.get("code").and_then(Value::as_str).unwrap_or("");
    let message = error
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_lowercase();
    code.contains("model")
        || message.contains("model")
        || (!model.is_empty() && message.contains(&model.to_ascii_lowercase()))
}
