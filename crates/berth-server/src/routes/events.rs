//! `/v1/sessions/{id}/events` (send, list, stream), `/log` and the seed's one-shot `/messages`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use berth_protocol::content::ContentBlock;
use berth_protocol::event::{
    EventKind, EventParam, SendEventsRequest, SendEventsResponse, SessionEvent,
};
use berth_protocol::pagination::{Order, PageCursor};
use berth_store::{AppendOutcome, EVENT_PAGE_BYTES, EventQuery, NewEvent, SortOrder, StoredEvent};
use bytes::Bytes;
use serde::Deserialize;

use crate::admission;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{cursor, json_response, push_json_string_or_null};
use crate::routes::sessions::{EVENTS_PER_REQUEST, load};
use crate::sse::{self, StreamRequest};
use crate::state::AppState;

use berth_runtime::log::client_event;
use berth_runtime::render::event_json;

type AppStateRef = State<Arc<AppState>>;

/// Largest page of events.
const MAX_EVENTS_PAGE: u32 = 1000;
/// Most events `GET …/log` returns in one array.
const MAX_LOG_EVENTS: usize = 100_000;

#[utoipa::path(post, path = "/sessions/{session_id}/events", tag = "events",
    params(("session_id" = String, Path)), request_body = SendEventsRequest,
    responses((status = 202, description = "The stored events", body = SendEventsResponse)))]
pub async fn send(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<SendEventsRequest>,
) -> ApiResult<Response> {
    if request.events.is_empty() {
        return Err(ApiError::bad_request(
            "events: must hold at least one event",
        ));
    }
    if request.events.len() > EVENTS_PER_REQUEST {
        return Err(ApiError::bad_request(format!(
            "events: at most {EVENTS_PER_REQUEST} events per request"
        )));
    }
    for (i, event) in request.events.iter().enumerate() {
        event
            .validate()
            .map_err(|e| ApiError::from(e.within(&format!("events[{i}]"))))?;
    }
    let session = load(&state, &caller, &id).await?;
    for (i, event) in request.events.iter().enumerate() {
        check_answer(&state, &id, event)
            .await
            .map_err(|message| ApiError::bad_request(format!("events[{i}]: {message}")))?;
    }
    admission::check_context(&state, &session, &request.events).await?;
    let rows = request
        .events
        .into_iter()
        .map(|param| client_event(param.into_body()))
        .collect::<Result<Vec<NewEvent>, _>>()?;
    admission::check_sizes(&state, &rows)?;
    if let Err(refused) = admission::check_input_rate(&state, &id, &rows).await {
        return Ok(refused);
    }
    let stored = append(&state, &caller, &id, &rows).await?;
    let mut out = String::from("{\"data\":[");
    for (i, event) in stored.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&event_json(event));
    }
    out.push_str("]}");
    Ok(json_response(StatusCode::ACCEPTED, out))
}

/// Hands client events to the runtime, which stores and acts on them.
async fn append(
    state: &AppState,
    caller: &Caller,
    id: &str,
    rows: &[NewEvent],
) -> ApiResult<Vec<StoredEvent>> {
    let stored = match state
        .runtime
        .append_client_events(&caller.tenant_id, id, rows)
        .await?
    {
        AppendOutcome::Appended { stored, .. } => stored,
        AppendOutcome::NotFound => return Err(ApiError::not_found("session", id)),
        AppendOutcome::Archived => {
            return Err(ApiError::conflict(format!(
                "session {id} is archived and cannot receive new events"
            )));
        }
        AppendOutcome::Terminated => {
            return Err(ApiError::conflict(format!(
                "session {id} is terminated and cannot receive new events"
            )));
        }
    };
    Ok(stored)
}

/// Tool answers must name a tool use of this session that is waiting for exactly that answer.
async fn check_answer(
    state: &AppState,
    session_id: &str,
    event: &EventParam,
) -> Result<(), String> {
    let (target, expected): (&str, &[EventKind]) = match event {
        EventParam::UserToolConfirmation { tool_use_id, .. } => (
            tool_use_id,
            &[EventKind::AgentToolUse, EventKind::AgentMcpToolUse],
        ),
        EventParam::UserCustomToolResult {
            custom_tool_use_id, ..
        } => (custom_tool_use_id, &[EventKind::AgentCustomToolUse]),
        EventParam::UserToolResult { tool_use_id, .. } => (tool_use_id, &[EventKind::AgentToolUse]),
        _ => return Ok(()),
    };
    let found = state
        .store
        .get_event(session_id, target)
        .await
        .map_err(|e| format!("could not check the tool use: {e}"))?;
    match found {
        Some(e) if expected.contains(&e.kind) => Ok(()),
        Some(e) => Err(format!(
            "{target} is a {} event, not one this answers",
            e.kind
        )),
        None => Err(format!("no tool use {target} in this session")),
    }
}

#[utoipa::path(get, path = "/sessions/{session_id}/events", tag = "events",
    params(("session_id" = String, Path), ("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("order" = Option<String>, Query), ("types[]" = Option<Vec<String>>, Query), ("after_seq" = Option<i64>, Query)),
    responses((status = 200, description = "A page of events; with `Accept: text/event-stream`, the stream",
        body = berth_protocol::pagination::Page<SessionEvent>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    params: QueryParams,
) -> ApiResult<Response> {
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if wants_stream {
        return stream(State(state), caller, Path(id), headers, params).await;
    }
    load(&state, &caller, &id).await?;
    let limit = params.limit(100, MAX_EVENTS_PAGE)?;
    let order = match params.get("order") {
        Some(v) => Order::parse("order", v)?,
        None => Order::Asc,
    };
    let after_seq = match cursor(&params)? {
        Some(c) => Some(
            c.key
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("page: is not a cursor for this list"))?,
        ),
        None => params.int("after_seq")?,
    };
    let (processed_from, processed_until) = params.time_range("created_at")?.bounds();
    let query = EventQuery {
        limit: limit + 1,
        order: if order == Order::Asc {
            SortOrder::Asc
        } else {
            SortOrder::Desc
        },
        after_seq,
        types: params.get_all("types"),
        // Extension events (`session.warning`) are for clients that opt in, as on streams.
        hide_extensions: !params.get_all("include").iter().any(|i| i == "chunks"),
        processed_from,
        processed_until,
        max_bytes: Some(EVENT_PAGE_BYTES),
    };
    let mut rows = state
        .store
        .list_events(&caller.tenant_id, &id, &query)
        .await?;
    // A page ends at `limit` events or at its byte budget, whichever comes first.
    let bytes: u64 = rows.iter().map(|r| r.body.len() as u64).sum();
    let has_more = rows.len() > limit as usize || bytes >= EVENT_PAGE_BYTES;
    rows.truncate(limit as usize);
    let next_page = if has_more {
        rows.last()
            .map(|r| PageCursor::next(r.seq.to_string()).encode())
    } else {
        None
    };
    let mut out = String::with_capacity(rows.iter().map(|r| r.body.len() + 64).sum::<usize>() + 64);
    out.push_str("{\"data\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&event_json(row));
    }
    out.push_str("],\"next_page\":");
    push_json_string_or_null(&mut out, next_page.as_deref());
    out.push_str(",\"has_more\":");
    out.push_str(if has_more { "true" } else { "false" });
    out.push('}');
    Ok(json_response(StatusCode::OK, out))
}

#[utoipa::path(get, path = "/sessions/{session_id}/events/stream", tag = "events",
    params(("session_id" = String, Path), ("event_deltas[]" = Option<Vec<String>>, Query),
           ("include" = Option<String>, Query), ("replay" = Option<bool>, Query)),
    responses((status = 200, description = "Server-sent events, each frame's data one event",
        content_type = "text/event-stream", body = SessionEvent)))]
pub async fn stream(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    params: QueryParams,
) -> ApiResult<Response> {
    let session = load(&state, &caller, &id).await?;
    let deltas = params.get_all("event_deltas");
    for kind in &deltas {
        if kind != "agent.message" && kind != "agent.thinking" {
            return Err(ApiError::bad_request(format!(
                "event_deltas: \"{kind}\" is not agent.message or agent.thinking"
            )));
        }
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request("Last-Event-ID: must be a sequence number"))
        })
        .transpose()?;
    let replay = params.bool("replay")?.unwrap_or(false);
    let request = StreamRequest {
        session_id: id,
        replay_after: last_event_id.or(replay.then_some(0)),
        message_previews: deltas.iter().any(|d| d == "agent.message"),
        thinking_previews: deltas.iter().any(|d| d == "agent.thinking"),
        chunks: params.get_all("include").iter().any(|i| i == "chunks"),
        turn_of: None,
    };
    Ok(sse::response(Arc::clone(&state), request, session.last_seq))
}

#[utoipa::path(get, path = "/sessions/{session_id}/log", tag = "events",
    params(("session_id" = String, Path)), responses((status = 200, description = "Every event, as a JSON array", body = Vec<SessionEvent>)))]
pub async fn full_log(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    load(&state, &caller, &id).await?;
    let store = Arc::clone(&state.store);
    // Streamed page by page, so the response never sits whole in memory.
    let pages = futures::stream::unfold(LogCursor::default(), move |cursor| {
        let store = Arc::clone(&store);
        let id = id.clone();
        async move { cursor.next(store.as_ref(), &id).await }
    });
    let mut response = Response::new(Body::from_stream(pages));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Where a streamed `GET …/log` is.
#[derive(Debug, Default)]
struct LogCursor {
    after: i64,
    count: usize,
    done: bool,
}

impl LogCursor {
    /// The next piece of the JSON array and the cursor after it; `None` once it is closed.
    async fn next(
        mut self,
        store: &dyn berth_store::Store,
        id: &str,
    ) -> Option<(Result<Bytes, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        let mut out = String::new();
        if self.count == 0 && self.after == 0 {
            out.push('[');
        }
        let page = if self.count >= MAX_LOG_EVENTS {
            Vec::new()
        } else {
            match store
                .read_events(id, self.after, 1000, EVENT_PAGE_BYTES)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    // The status is sent already: end the body early (invalid JSON tells).
                    tracing::warn!(session_id = id, error = %e, "cannot read the log");
                    self.done = true;
                    return Some((Err(std::io::Error::other(e.to_string())), self));
                }
            }
        };
        if page.is_empty() {
            out.push(']');
            self.done = true;
        }
        for event in page
            .iter()
            .take(MAX_LOG_EVENTS - self.count.min(MAX_LOG_EVENTS))
        {
            if self.count > 0 {
                out.push(',');
            }
            out.push_str(&event_json(event));
            self.after = event.seq;
            self.count += 1;
        }
        Some((Ok(Bytes::from(out)), self))
    }
}

/// The seed's one-shot chat body: a string or content blocks.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct MessageRequest {
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
}

#[utoipa::path(post, path = "/sessions/{session_id}/messages", tag = "events",
    params(("session_id" = String, Path)), request_body = MessageRequest,
    responses((status = 200, description = "Server-sent events of this turn, ending after session.status_idle",
        content_type = "text/event-stream", body = SessionEvent)))]
pub async fn message(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<MessageRequest>,
) -> ApiResult<Response> {
    let content: Vec<ContentBlock> = match request.content {
        serde_json::Value::String(text) if !text.is_empty() => vec![ContentBlock::text(text)],
        value @ serde_json::Value::Array(_) => serde_json::from_value(value)
            .map_err(|e| ApiError::bad_request(format!("content: {e}")))?,
        _ => {
            return Err(ApiError::bad_request(
                "content: must be a non-empty string or content blocks",
            ));
        }
    };
    let param = EventParam::UserMessage { content };
    param.validate()?;
    let session = load(&state, &caller, &id).await?;
    admission::check_context(&state, &session, std::slice::from_ref(&param)).await?;
    let row = client_event(param.into_body())?;
    admission::check_sizes(&state, std::slice::from_ref(&row))?;
    if let Err(refused) = admission::check_input_rate(&state, &id, std::slice::from_ref(&row)).await
    {
        return Ok(refused);
    }
    let request = StreamRequest {
        session_id: id.clone(),
        replay_after: None,
        message_previews: true,
        thinking_previews: true,
        chunks: true,
        turn_of: Some(row.id.clone()),
    };
    // Subscribe before appending so nothing of the turn can be missed.
    let response = sse::response(Arc::clone(&state), request, session.last_seq);
    append(&state, &caller, &id, &[row]).await?;
    Ok(response)
}
