//! `/v1/sessions`: create, retrieve, update, list (bidirectional pages), archive, delete,
//! cancel.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::agent::check_toolsets_match;
use berth_protocol::agent_tools::resolve_tools;
use berth_protocol::event::{EventBody, EventParam, MAX_EVENTS_PER_REQUEST};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::metadata::{self, EmptyValue};
use berth_protocol::nullable::Nullable;
use berth_protocol::pagination::{Direction, Order, PageCursor};
use berth_protocol::session::{
    AgentRefParam, MAX_INITIAL_EVENTS, Session, SessionCreateRequest, SessionStatic, SessionStatus,
    SessionTag, SessionUpdateRequest, validate_budget, validate_title, validate_vault_ids,
};
use berth_store::{
    AppendOutcome, Attempt, ChangeOutcome, DeleteSessionOutcome, SessionChange, SessionQuery,
    SessionRow, SortOrder, UsageTotals,
};
use serde_json::json;

use crate::auth::Caller;
use crate::documents::optimistic;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{cursor, json_response, push_json_string_or_null};
use crate::sessions::{build_resources, check_environment, check_resources, resolve_agent};
use crate::state::AppState;
use berth_protocol::time::{micros, now};
use berth_runtime::log::{client_event, server_event};
use berth_runtime::render::session_json;
use berth_runtime::session_private::SessionPrivate;

type AppStateRef = State<Arc<AppState>>;

const SESSION: &str = "session";

/// An error about an agent's field, as a field of the session's `agent`.
fn within_agent(mut error: ApiError) -> ApiError {
    error.message = format!("agent.{}", error.message);
    error
}

pub async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<SessionRow> {
    state
        .store
        .get_session(&caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(SESSION, id))
}

fn render(row: &SessionRow) -> ApiResult<Response> {
    let body = session_json(row, micros(now())).map_err(ApiError::internal)?;
    Ok(json_response(StatusCode::OK, body))
}

#[utoipa::path(post, path = "/sessions", tag = "sessions", request_body = SessionCreateRequest,
    responses((status = 200, body = Session), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<SessionCreateRequest>,
) -> ApiResult<Response> {
    if let Some(title) = &request.title {
        validate_title(title)?;
    }
    let metadata = request.metadata.unwrap_or_default();
    metadata::validate(&metadata)?;
    let vault_ids = request.vault_ids.unwrap_or_default();
    validate_vault_ids(&vault_ids)?;
    check_vaults(&state, &caller, &vault_ids).await?;
    if let Some(budget) = &request.budget {
        validate_budget(budget)?;
    }
    let initial = request.initial_events.unwrap_or_default();
    if initial.len() > MAX_INITIAL_EVENTS {
        return Err(ApiError::bad_request(format!(
            "initial_events: at most {MAX_INITIAL_EVENTS} events are allowed"
        )));
    }
    for (i, event) in initial.iter().enumerate() {
        if !matches!(
            event,
            EventParam::UserMessage { .. } | EventParam::UserDefineOutcome { .. }
        ) {
            return Err(ApiError::bad_request(format!(
                "initial_events[{i}].type: only user.message and user.define_outcome are allowed"
            )));
        }
        event
            .validate()
            .map_err(|e| ApiError::from(e.within(&format!("initial_events[{i}]"))))?;
    }
    // What a session overrides is checked as an agent's own would be.
    let (overrides_skills, overrides_servers) = match &request.agent {
        AgentRefParam::WithOverrides(o) => (o.skills.is_some(), o.mcp_servers.is_some()),
        _ => (false, false),
    };
    let agent = resolve_agent(&state, &caller, request.agent).await?;
    if overrides_skills {
        super::skills::check_references(&state, &caller, &agent.skills)
            .await
            .map_err(within_agent)?;
    }
    if overrides_servers {
        super::agents::check_mcp_urls(&state, &agent.mcp_servers).map_err(within_agent)?;
    }
    check_environment(&state, &caller, &request.environment_id).await?;
    let (resource_params, stores) =
        check_resources(&state, &caller, request.resources.unwrap_or_default()).await?;
    let created = now();
    let id = new_id(prefix::SESSION);
    let (resources, tokens) =
        build_resources(&state, &caller, &id, resource_params, &stores, created)?;
    let snapshot = SessionStatic {
        id: id.clone(),
        kind: SessionTag,
        environment_id: request.environment_id.clone(),
        title: request.title,
        metadata,
        agent,
        resources,
        vault_ids,
        budget: request.budget,
        deployment_id: None,
        outcome_evaluations: Vec::new(),
        created_at: created,
    };
    let row = SessionRow {
        id: id.clone(),
        tenant_id: caller.tenant_id.clone(),
        agent_id: snapshot.agent.id.clone(),
        agent_version: snapshot.agent.version,
        environment_id: request.environment_id,
        status: SessionStatus::Idle,
        version: 1,
        body: serde_json::to_string(&snapshot).map_err(ApiError::internal)?,
        private: SessionPrivate {
            resource_tokens: tokens,
        }
        .encode()
        .map_err(ApiError::internal)?,
        created_at: micros(created),
        updated_at: micros(created),
        archived_at: None,
        last_seq: 0,
        pending_inputs: 0,
        usage: UsageTotals::default(),
        active_micros: 0,
        turn_started_at: None,
    };
    let events = initial
        .into_iter()
        .map(|param| client_event(param.into_body()))
        .collect::<Result<Vec<_>, _>>()?;
    state
        .runtime
        .create_session(&row, &snapshot.memory_store_ids(), &events)
        .await?;
    let stored = load(&state, &caller, &id).await?;
    render(&stored)
}

#[utoipa::path(get, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path)),
    responses((status = 200, body = Session), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    render(&load(&state, &caller, &id).await?)
}

#[utoipa::path(post, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path)), request_body = SessionUpdateRequest,
    responses((status = 200, body = Session)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<SessionUpdateRequest>,
) -> ApiResult<Response> {
    if request.vault_ids.is_some() {
        return Err(ApiError::bad_request(
            "vault_ids: cannot be changed after a session is created",
        ));
    }
    let (state, caller, id, request) = (&state, &caller, &id, &request);
    optimistic(SESSION, id, || async move {
        let row = load(state, caller, id).await?;
        let mut snapshot: SessionStatic = crate::documents::decode(&row.body)?;
        let mut changed = serde_json::Map::new();
        let mut require_idle = false;
        if let Some(title) = request.title.clone().into_change() {
            if let Some(t) = &title {
                validate_title(t)?;
            }
            if snapshot.title != title {
                changed.insert("title".into(), json!(title));
                snapshot.title = title;
            }
        }
        if !request.metadata.is_absent() {
            let patch = match &request.metadata {
                Nullable::Value(p) => Some(p),
                _ => None,
            };
            let next = metadata::apply_patch(&snapshot.metadata, patch, EmptyValue::Keep)?;
            if next != snapshot.metadata {
                changed.insert("metadata".into(), json!(next));
                snapshot.metadata = next;
            }
        }
        match request.budget.clone() {
            Nullable::Absent => {}
            Nullable::Null => {
                if snapshot.budget.take().is_some() {
                    changed.insert("budget".into(), serde_json::Value::Null);
                }
            }
            Nullable::Value(budget) => {
                validate_budget(&budget)?;
                if snapshot.budget.is_none() {
                    return Err(ApiError::bad_request(
                        "budget: a budget can only be changed on a session created with one",
                    )
                    .with_code("budget_create_only"));
                }
                if snapshot.budget.as_ref() != Some(&budget) {
                    changed.insert("budget".into(), budget.clone());
                    snapshot.budget = Some(budget);
                }
            }
        }
        if let Some(agent) = request.agent.clone() {
            let mut next = snapshot.agent.clone();
            if let Some(servers) = agent.mcp_servers {
                super::agents::check_mcp_urls(state, &servers).map_err(within_agent)?;
                next.mcp_servers = servers;
            }
            let names: Vec<String> = next.mcp_servers.iter().map(|s| s.name.clone()).collect();
            if let Some(tools) = agent.tools {
                next.tools =
                    resolve_tools(tools, &names).map_err(|e| ApiError::from(e.within("agent")))?;
            }
            check_toolsets_match(&next.tools, &names)
                .map_err(|e| ApiError::from(e.within("agent")))?;
            if next != snapshot.agent {
                require_idle = true;
                snapshot.agent = next;
                changed.insert("agent".into(), json!(snapshot.agent));
            }
        }
        if changed.is_empty() {
            return Ok(Attempt::Done(render(&row)?));
        }
        let updated = server_event(EventBody::SessionUpdated {
            agent: changed.remove("agent"),
            budget: changed.remove("budget"),
            // Metadata appears when set to something; emptied, it is left out.
            metadata: changed
                .remove("metadata")
                .filter(|m| m.as_object().is_some_and(|fields| !fields.is_empty())),
            title: changed.remove("title"),
        })?;
        let change = SessionChange {
            tenant_id: caller.tenant_id.clone(),
            id: id.clone(),
            expected_version: row.version,
            body: serde_json::to_string(&snapshot).map_err(ApiError::internal)?,
            now: micros(now()),
            require_idle,
            events: vec![updated],
            private: None,
            memory_store_ids: None,
        };
        match state.runtime.change_session(&change).await? {
            ChangeOutcome::Applied(_) => {
                Ok(Attempt::Done(render(&load(state, caller, id).await?)?))
            }
            ChangeOutcome::NotFound => Err(ApiError::not_found(SESSION, id)),
            ChangeOutcome::Running => Err(ApiError::bad_request(
                "agent: tools and MCP servers can only change while the session is idle",
            )),
            ChangeOutcome::Stale => Ok(Attempt::Lost),
        }
    })
    .await
}

#[utoipa::path(get, path = "/sessions", tag = "sessions",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query), ("agent_id" = Option<String>, Query),
           ("agent_version" = Option<i64>, Query), ("statuses[]" = Option<Vec<String>>, Query),
           ("memory_store_id" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query), ("order" = Option<String>, Query)),
    responses((status = 200, description = "`{data, next_page, prev_page, has_more}`")))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let limit = params.limit(20, 100)?;
    let order = match params.get("order") {
        Some(v) => Order::parse("order", v)?,
        None => Order::Desc,
    };
    let page = cursor(&params)?;
    let mut asked = params.get_all("statuses");
    if let Some(status) = params.get("status") {
        asked.push(status.to_owned());
    }
    let statuses = asked
        .iter()
        .map(|status| {
            SessionStatus::parse(status).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "statuses: \"{status}\" is not one of idle, running, rescheduling, terminated"
                ))
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    if params.get("deployment_id").is_some() {
        // Accepting the filter and ignoring it would list every session as if it matched.
        return Err(ApiError::bad_request(
            "deployment_id: this server runs no deployments yet, so it cannot filter by one",
        )
        .with_code("unsupported_filter"));
    }
    let agent_version = params.int("agent_version")?;
    let agent_id = params.get("agent_id").map(str::to_owned);
    if agent_version.is_some() && agent_id.is_none() {
        return Err(ApiError::bad_request(
            "agent_version: can only be used together with agent_id",
        ));
    }
    let (created_from, created_until) = params.time_range("created_at")?.bounds();
    let (after, before) = match &page {
        Some(c) if c.direction == Direction::Prev => (None, Some(c.key.clone())),
        Some(c) => (Some(c.key.clone()), None),
        None => (None, None),
    };
    let query = SessionQuery {
        limit: limit + 1,
        order: if order == Order::Asc {
            SortOrder::Asc
        } else {
            SortOrder::Desc
        },
        after,
        before: before.clone(),
        include_archived: params.bool("include_archived")?.unwrap_or(false),
        created_from,
        created_until,
        agent_id,
        agent_version,
        statuses,
        environment_id: params.get("environment_id").map(str::to_owned),
        memory_store_id: params.get("memory_store_id").map(str::to_owned),
    };
    let mut rows = state.store.list_sessions(&caller.tenant_id, &query).await?;
    let more_in_scan = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let backwards = before.is_some();
    if backwards {
        rows.reverse();
    }
    // Going forwards, more rows in the scan means a next page and a cursor means a previous one;
    // going backwards it is the other way round.
    let (has_next, has_prev) = if backwards {
        (true, more_in_scan)
    } else {
        (more_in_scan, page.is_some())
    };
    let next_page = if has_next {
        rows.last().map(|r| PageCursor::next(r.id.clone()).encode())
    } else {
        None
    };
    let prev_page = if has_prev {
        rows.first()
            .map(|r| PageCursor::prev(r.id.clone()).encode())
    } else {
        None
    };
    let now_micros = micros(now());
    let mut out = String::from("{\"data\":[");
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&session_json(row, now_micros).map_err(ApiError::internal)?);
    }
    out.push_str("],\"next_page\":");
    push_json_string_or_null(&mut out, next_page.as_deref());
    out.push_str(",\"prev_page\":");
    push_json_string_or_null(&mut out, prev_page.as_deref());
    out.push_str(",\"has_more\":");
    out.push_str(if next_page.is_some() { "true" } else { "false" });
    out.push('}');
    Ok(json_response(StatusCode::OK, out))
}

#[utoipa::path(post, path = "/sessions/{session_id}/archive", tag = "sessions",
    params(("session_id" = String, Path)), responses((status = 200, body = Session)))]
pub async fn archive(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    if state
        .runtime
        .archive_session(&caller.tenant_id, &id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(SESSION, &id));
    }
    render(&load(&state, &caller, &id).await?)
}

#[utoipa::path(delete, path = "/sessions/{session_id}", tag = "sessions",
    params(("session_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    // One closing event: streams end on it, and nothing can read the session afterwards.
    match state.runtime.delete_session(&caller.tenant_id, &id).await? {
        DeleteSessionOutcome::Deleted(_) => Ok(axum::Json(Deleted::new(id, "session_deleted"))),
        DeleteSessionOutcome::NotFound => Err(ApiError::not_found(SESSION, &id)),
        DeleteSessionOutcome::Running => Err(ApiError::bad_request(format!(
            "session {id} is running; interrupt it (user.interrupt or POST /v1/sessions/{id}/cancel) before deleting it"
        ))),
    }
}

/// `POST /v1/sessions/{id}/cancel`: stops the turn in progress, like `user.interrupt`.
#[utoipa::path(post, path = "/sessions/{session_id}/cancel", tag = "sessions",
    params(("session_id" = String, Path)), responses((status = 200, body = Session)))]
pub async fn cancel(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let interrupt = server_event(EventBody::UserInterrupt {
        session_thread_id: None,
    })?;
    match state
        .runtime
        .append_client_events(&caller.tenant_id, &id, &[interrupt])
        .await?
    {
        AppendOutcome::Appended { .. } => {}
        AppendOutcome::NotFound => return Err(ApiError::not_found(SESSION, &id)),
        // Nothing can be running on an archived or terminated session worth cancelling twice.
        AppendOutcome::Archived | AppendOutcome::Terminated => {}
    }
    render(&load(&state, &caller, &id).await?)
}

/// The most events one `POST …/events` may carry (also used by the events routes).
pub const EVENTS_PER_REQUEST: usize = MAX_EVENTS_PER_REQUEST;

/// Every vault a session names must be one of the tenant's, and not archived.
async fn check_vaults(state: &AppState, caller: &Caller, vault_ids: &[String]) -> ApiResult<()> {
    for id in vault_ids {
        let vault = state
            .store
            .get_document(berth_store::Collection::Vaults, &caller.tenant_id, id)
            .await?
            .ok_or_else(|| ApiError::not_found("vault", id))?;
        if vault.archived_at.is_some() {
            return Err(ApiError::bad_request(format!(
                "vault {id} is archived; its credentials can no longer be used"
            )));
        }
    }
    Ok(())
}
