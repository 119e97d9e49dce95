//! Compaction: when the context nears the model's window, the older part of the conversation is
//! summarised by the same model and replaced, in the context only, by that summary. The log
//! keeps everything; an `agent.thread_context_compacted` event records the summary (privately)
//! and where it ends, so every later projection starts from it.

use std::sync::Arc;

use berth_llm::{
    Message, ModelRequest, OutputBlock, Part, ResponseBuilder, Role, StreamEvent, Usage,
};
use berth_protocol::event::{Event, EventBody, EventPrivate, ModelUsage};
use berth_protocol::ids::{new_id, prefix};
use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::context::{live_window, summary_message};
use crate::fitting::project_fitted;
use crate::{Emitted, LogEvent, ResolvedModel, TurnConfig, TurnEnd, TurnHost};

/// Compact once the estimated context passes this fraction of the window.
pub const DEFAULT_COMPACTION_THRESHOLD: f64 = 0.8;
/// The recent part kept verbatim: at least this fraction of the window (or everything since the
/// last user message, whichever is longer).
const KEEP_FRACTION: f64 = 0.25;
/// Output budget for the summary itself.
const SUMMARY_MAX_TOKENS: u32 = 4096;
/// Rough characters per token, for estimates (providers' tokenizers average 3.5–4.5).
const CHARS_PER_TOKEN: usize = 4;
/// What an image costs in the estimate.
const IMAGE_TOKENS: usize = 1600;

const INSTRUCTION: &str = "Summarize the conversation above so that it can continue from the \
summary alone. Keep every decision made, the user's goals and constraints, file paths, \
commands run and their important results, errors and how they were handled, work in progress \
and the next steps. If the conversation starts with an earlier summary, fold it in. Answer with \
the summary only.";

fn part_tokens(part: &Part) -> usize {
    match part {
        Part::Text(t) => t.len() / CHARS_PER_TOKEN,
        Part::Thinking { text, .. } => text.len() / CHARS_PER_TOKEN,
        Part::RedactedThinking(d) => d.len() / CHARS_PER_TOKEN,
        Part::ToolUse { input, name, .. } => {
            (input.to_string().len() + name.len()) / CHARS_PER_TOKEN
        }
        Part::ToolResult { content, .. } => content.iter().map(part_tokens).sum::<usize>() + 4,
        Part::Image(_) => IMAGE_TOKENS,
        Part::Document(d) => d.to_string().len() / CHARS_PER_TOKEN,
    }
}

/// An estimate of the tokens a request would use.
pub fn estimate(
    system: Option<&str>,
    tools: &[berth_llm::ToolSpec],
    messages: &[Message],
) -> usize {
    let system = system.map_or(0, |s| s.len() / CHARS_PER_TOKEN);
    let tools: usize = tools
        .iter()
        .map(|t| {
            (t.name.len() + t.description.len() + t.input_schema.to_string().len())
                / CHARS_PER_TOKEN
        })
        .sum();
    let messages: usize = messages
        .iter()
        .map(|m| m.content.iter().map(part_tokens).sum::<usize>() + 4)
        .sum();
    system + tools + messages
}

/// Compacts the context if it is over the threshold. Returns the new log when it compacted,
/// or the end of the turn when the context cannot fit.
pub(crate) async fn maybe_compact(
    host: &dyn TurnHost,
    config: &TurnConfig,
    model: &ResolvedModel,
    log: &Arc<Vec<LogEvent>>,
    cancel: &CancellationToken,
) -> Result<Option<Arc<Vec<LogEvent>>>, TurnEnd> {
    let tools = config.tools.specs();
    let system = config.system_prompt.as_deref();
    let window = model.context_window as usize;
    let used = estimate(system, &tools, &project_fitted(log, window));
    if (used as f64) < config.compaction_threshold * window as f64 {
        return Ok(None);
    }
    let (previous, live) = live_window(log);
    let Some(split) = split_point(live, system, &tools, window) else {
        return if used > window {
            Err(TurnEnd::CompactionLimit(format!(
                "the context (about {used} tokens) exceeds the model's window of {window} tokens, \
                 and its most recent exchange alone is too large to compact"
            )))
        } else {
            Ok(None)
        };
    };
    let (head, _) = live.split_at(split);
    let Some(last_summarized) = head.last() else {
        return Ok(None);
    };
    let mut messages = Vec::new();
    if let Some(previous) = previous {
        messages.push(Message {
            role: Role::User,
            content: vec![Part::Text(summary_message(previous))],
        });
    }
    let head_messages = project_fitted(head, window);
    messages.extend(head_messages);
    push_user_text(&mut messages, INSTRUCTION);
    crate::attachments::resolve(host, &mut messages).await;
    let summary = summarize(host, config, model, messages, &tools, cancel).await?;
    let compaction = Emitted {
        event: Event {
            id: new_id(prefix::EVENT),
            body: EventBody::AgentThreadContextCompacted {},
        },
        private: EventPrivate {
            summary: Some(summary),
            compacted_through: Some(last_summarized.event.id.clone()),
            ..Default::default()
        },
    };
    host.append(vec![compaction], None)
        .await
        .map_err(TurnEnd::Host)?;
    let log = host.context().await.map_err(TurnEnd::Host)?;
    let after = estimate(system, &tools, &project_fitted(&log, window));
    if after > window {
        return Err(TurnEnd::CompactionLimit(format!(
            "after compaction the context is still about {after} tokens, over the model's window of {window}"
        )));
    }
    Ok(Some(log))
}

fn push_user_text(messages: &mut Vec<Message>, text: &str) {
    match messages.last_mut() {
        Some(last) if last.role == Role::User => last.content.push(Part::Text(text.to_owned())),
        _ => messages.push(Message {
            role: Role::User,
            content: vec![Part::Text(text.to_owned())],
        }),
    }
}

/// Where to cut: the start of the kept tail, always at a user message (so no tool call is
/// separated from its result), keeping at least [`KEEP_FRACTION`] of the window. `None` if no
/// cut leaves anything to summarise.
fn split_point(
    live: &[LogEvent],
    system: Option<&str>,
    tools: &[berth_llm::ToolSpec],
    window: usize,
) -> Option<usize> {
    let keep = (window as f64 * KEEP_FRACTION) as usize;
    let starts: Vec<usize> = live
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e.event.body, EventBody::UserMessage { .. }))
        .map(|(i, _)| i)
        .collect();
    // The latest user message whose tail is at least `keep` tokens, or the last one.
    let mut chosen = None;
    for &start in starts.iter().rev() {
        chosen = Some(start);
        let tail = live.get(start..).unwrap_or(&[]);
        if estimate(system, tools, &project_fitted(tail, window)) >= keep {
            break;
        }
    }
    chosen.filter(|&s| s > 0)
}

async fn summarize(
    host: &dyn TurnHost,
    config: &TurnConfig,
    model: &ResolvedModel,
    messages: Vec<Message>,
    tools: &[berth_llm::ToolSpec],
    cancel: &CancellationToken,
) -> Result<String, TurnEnd> {
    let start = Event {
        id: new_id(prefix::EVENT),
        body: EventBody::SpanModelRequestStart {},
    };
    let start_id = start.id.clone();
    host.append(vec![Emitted::public(start)], None)
        .await
        .map_err(TurnEnd::Host)?;
    let request = ModelRequest {
        model: model.model.clone(),
        system: config.system_prompt.clone(),
        messages,
        tools: tools.to_vec(),
        max_tokens: SUMMARY_MAX_TOKENS,
        thinking: None,
    };
    let mut builder = ResponseBuilder::new();
    let outcome: Result<(), berth_llm::ModelError> = async {
        let mut stream = model.client.stream(&request).await?;
        loop {
            let next = tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                next = stream.next() => next,
            };
            match next {
                Some(Ok(event)) => {
                    let done = matches!(event, StreamEvent::Done { .. });
                    builder.apply(&event);
                    if done {
                        return Ok(());
                    }
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    }
    .await;
    let usage = builder.usage();
    let end = span_end(&start_id, usage, outcome.is_err());
    host.append(vec![end], Some(model_usage(usage)))
        .await
        .map_err(TurnEnd::Host)?;
    if cancel.is_cancelled() {
        return Err(TurnEnd::Interrupted);
    }
    if let Err(e) = outcome {
        return Err(TurnEnd::ModelFailed(e));
    }
    let (blocks, _, _) = builder.finish();
    let text: String = blocks
        .iter()
        .filter_map(|b| match b {
            OutputBlock::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    if text.trim().is_empty() {
        return Err(TurnEnd::CompactionLimit(
            "the model returned an empty summary, so the context could not be compacted".to_owned(),
        ));
    }
    Ok(text)
}

fn model_usage(u: Usage) -> ModelUsage {
    ModelUsage {
        input_tokens: u.input_tokens,
        output_tokens: u.output_tokens,
        cache_read_input_tokens: u.cache_read_input_tokens,
        cache_creation_input_tokens: u.cache_creation_input_tokens,
    }
}

fn span_end(start_id: &str, usage: Usage, is_error: bool) -> Emitted {
    Emitted::public(Event {
        id: new_id(prefix::EVENT),
        body: EventBody::SpanModelRequestEnd {
            model_request_start_id: start_id.to_owned(),
            model_usage: model_usage(usage),
            is_error: is_error.then_some(true),
        },
    })
}
