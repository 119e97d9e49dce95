//! One turn: resolve the model, run the loop, write how it ended.

use std::sync::Arc;

use berth_agent::{MAX_STEPS, TurnConfig, TurnEnd, exhausted_error, run_turn};
use berth_protocol::event::{Event, EventBody, RetryStatus, SessionErrorObject, StopReason};
use berth_protocol::session::SessionStatic;
use berth_store::{Lease, SessionStatus, TurnEffects};
use tokio_util::sync::CancellationToken;

use super::Runner;
use super::host::{ContextCache, RunnerHost};
use crate::log::{server_rows, server_side};
use crate::models::SessionModel;
use berth_protocol::time::{micros, now};

pub fn idle(stop_reason: StopReason) -> Event {
    server_side(EventBody::SessionStatusIdle {
        stop_reason,
        stop_details: None,
    })
}

pub fn session_error(kind: &str, message: impl Into<String>) -> Event {
    server_side(EventBody::SessionError {
        error: SessionErrorObject {
            kind: kind.to_owned(),
            message: message.into(),
            retry_status: RetryStatus::Terminal,
            mcp_server_name: None,
        },
    })
}

pub(super) async fn run(
    runner: &Arc<Runner>,
    lease: &Lease,
    context: &Arc<tokio::sync::Mutex<ContextCache>>,
    cancel: &CancellationToken,
) {
    let host = RunnerHost {
        store: Arc::clone(&runner.store),
        bus: Arc::clone(&runner.bus),
        lease: lease.clone(),
        context: Arc::clone(context),
        blobs: runner.tools.blobs.clone(),
        files: Default::default(),
        redactor: Default::default(),
        metrics: Arc::clone(&runner.metrics),
        model_started: Default::default(),
    };
    let started = std::time::Instant::now();
    let session = match runner
        .store
        .get_session(&lease.tenant_id, &lease.session_id)
        .await
    {
        Ok(Some(session)) => session,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(session_id = %lease.session_id, error = %e, "cannot load the session");
            return;
        }
    };
    let snapshot: SessionStatic = match serde_json::from_str(&session.body) {
        Ok(s) => s,
        Err(e) => {
            finish(
                runner,
                lease,
                vec![
                    session_error(
                        "unknown_error",
                        format!("the session's stored definition is unreadable: {e}"),
                    ),
                    idle(StopReason::EndTurn),
                ],
            )
            .await;
            return;
        }
    };
    let model = Arc::new(SessionModel {
        resolver: Arc::clone(&runner.models),
        tenant_id: lease.tenant_id.clone(),
        handle: snapshot.agent.model.id.clone(),
    });
    let turn_tools = runner
        .tools
        .router(&runner.store, &lease.tenant_id, &snapshot)
        .await;
    host.set_redactor(Arc::clone(&turn_tools.redactor));
    let at_start = mcp_errors(&turn_tools.mcp_failures);
    if !at_start.is_empty()
        && let Err(e) = host.append_events(&at_start).await
    {
        tracing::warn!(session_id = %lease.session_id, error = %e, "cannot record MCP failures");
    }
    let mcp_failures = Arc::clone(&turn_tools.mcp_failures);
    let tools = turn_tools.router;
    // The agent's own prompt, then what the sandbox holds for it: skills, memory stores.
    let sections: Vec<String> = [
        snapshot.agent.system.clone(),
        turn_tools.skills_prompt,
        turn_tools.memory_prompt,
    ]
    .into_iter()
    .flatten()
    .collect();
    let system_prompt = (!sections.is_empty()).then(|| sections.join("\n\n"));
    let config = TurnConfig {
        system_prompt,
        tools,
        agent: snapshot.agent,
        model,
        max_steps: MAX_STEPS,
        compaction_threshold: runner.compaction_threshold,
        retry: runner.retry,
    };
    let end = run_turn(&host, &config, cancel).await;
    // Credentials refused during the turn are reported before it ends.
    let mut finals = mcp_errors(&mcp_failures);
    finals.extend(match end {
        TurnEnd::Idle(reason) => vec![idle(reason)],
        TurnEnd::Interrupted => vec![idle(StopReason::EndTurn)],
        TurnEnd::ModelFailed(e) => {
            tracing::info!(session_id = %lease.session_id, error = %e, "model request failed");
            vec![
                session_error(e.session_error_type(), e.message.clone()),
                idle(StopReason::EndTurn),
            ]
        }
        TurnEnd::RetriesExhausted(e) => {
            tracing::info!(session_id = %lease.session_id, error = %e, "model request retries exhausted");
            vec![
                exhausted_error(&e).event,
                idle(StopReason::RetriesExhausted),
            ]
        }
        TurnEnd::OutputLimit => vec![
            session_error(
                "model_request_failed_error",
                "the model's answer was cut off at its output token limit (max_tokens); nothing \
                 in the cut-off answer was run. Ask for a shorter answer or raise the limit",
            ),
            idle(StopReason::EndTurn),
        ],
        TurnEnd::CompactionLimit(message) => vec![
            session_error("compaction_limit_reached_error", message),
            idle(StopReason::EndTurn),
        ],
        TurnEnd::StepLimit => vec![
            session_error(
                "tool_use_limit_reached_error",
                format!(
                    "the turn made {MAX_STEPS} model requests without finishing and was stopped"
                ),
            ),
            idle(StopReason::EndTurn),
        ],
        TurnEnd::Host(berth_agent::HostError::LeaseLost) => return,
        TurnEnd::Host(e) => {
            tracing::warn!(session_id = %lease.session_id, error = %e, "turn stopped by a storage failure");
            vec![
                session_error(
                    "unknown_error",
                    "the turn stopped because the server could not write to its database",
                ),
                idle(StopReason::EndTurn),
            ]
        }
    });
    // Outputs become files before the session says it is idle, so a client that downloads
    // on `session.status_idle` finds them.
    runner
        .tools
        .sync_outputs(
            Arc::clone(&runner.store),
            &lease.tenant_id,
            &lease.session_id,
        )
        .await;
    finish(runner, lease, finals).await;
    runner.metrics.turn(started.elapsed());
}

/// Writes the turn's last events and marks the session idle.
/// The recorded MCP failures as `session.error` events (taking them).
fn mcp_errors(failures: &crate::mcp::McpFailures) -> Vec<Event> {
    let Ok(mut failures) = failures.lock() else {
        return Vec::new();
    };
    failures
        .drain(..)
        .map(|f| {
            server_side(EventBody::SessionError {
                error: SessionErrorObject {
                    kind: f.kind.to_owned(),
                    message: f.message,
                    retry_status: RetryStatus::Terminal,
                    mcp_server_name: Some(f.server),
                },
            })
        })
        .collect()
}

pub(super) async fn finish(runner: &Runner, lease: &Lease, events: Vec<Event>) {
    let events = match server_rows(&events) {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(session_id = %lease.session_id, error = %e, "cannot finish the turn");
            return;
        }
    };
    let effects = TurnEffects {
        usage: None,
        status: Some(SessionStatus::Idle),
        end_turn: true,
        clear_stream_buffers: true,
    };
    match runner
        .store
        .append_turn_events(lease, &events, &effects, micros(now()))
        .await
    {
        Ok(Some(stored)) => runner.bus.publish_events(&lease.session_id, &stored),
        Ok(None) => {
            tracing::info!(session_id = %lease.session_id, "lease lost before the turn could finish")
        }
        Err(e) => {
            tracing::warn!(session_id = %lease.session_id, error = %e, "cannot finish the turn")
        }
    }
}
