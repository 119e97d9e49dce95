//! `/v1/agents`: create, retrieve (optionally a past version), update by POST or PATCH with an
//! optional version guard, list, versions, archive (`POST …/archive` and `DELETE`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_protocol::Deleted;
use berth_protocol::agent::{
    Agent, AgentCreateRequest, AgentUpdateRequest, create_agent, update_agent,
};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::multiagent::MultiagentParam;
use berth_protocol::pagination::Order;
use berth_store::{AgentHistory, Attempt, Collection};

use crate::auth::Caller;
use crate::documents::{Row, load, optimistic, to_document};
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::now;

type AppStateRef = State<Arc<AppState>>;

const AGENT: &str = "agent";

#[utoipa::path(post, path = "/agents", tag = "agents",
    request_body = AgentCreateRequest,
    responses((status = 200, body = Agent), (status = 400, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<AgentCreateRequest>,
) -> ApiResult<Response> {
    let versions = roster_versions(&*state.store, &caller, request.multiagent.as_ref()).await?;
    let id = new_id(prefix::AGENT);
    let agent = create_agent(request, id, now(), &versions)?;
    super::skills::check_references(&state, &caller, &agent.skills).await?;
    check_mcp_urls(&state, &agent.mcp_servers)?;
    let doc = to_document(row(&caller, &agent), &agent)?;
    state
        .store
        .insert_document(Collection::Agents, &doc)
        .await?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(get, path = "/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path), ("version" = Option<i64>, Query)),
    responses((status = 200, body = Agent), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    let doc = match params.int("version")? {
        Some(version) => state
            .store
            .get_agent_version(&caller.tenant_id, &id, version)
            .await?
            .ok_or_else(|| {
                ApiError::not_found("agent version", &format!("{id} version {version}"))
            })?,
        None => state
            .store
            .get_document(Collection::Agents, &caller.tenant_id, &id)
            .await?
            .ok_or_else(|| ApiError::not_found(AGENT, &id))?,
    };
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(post, path = "/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path)), request_body = AgentUpdateRequest,
    responses((status = 200, body = Agent), (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<AgentUpdateRequest>,
) -> ApiResult<Response> {
    let versions = roster_versions(&*state.store, &caller, request.multiagent_param()).await?;
    let (state, caller, id, request, versions) = (&state, &caller, &id, &request, &versions);
    optimistic(AGENT, id, || async move {
        let (doc, current) = load::<Agent>(
            &*state.store,
            Collection::Agents,
            &caller.tenant_id,
            id,
            AGENT,
        )
        .await?;
        if current.archived_at.is_some() {
            return Err(ApiError::bad_request(format!(
                "agent {id} is archived and cannot be updated"
            )));
        }
        if let Some(expected) = request.version
            && expected != current.version
        {
            return Err(ApiError::conflict(format!(
                "agent {id} is at version {}, not {expected}; fetch it again and retry",
                current.version
            )));
        }
        let Some(next) = update_agent(&current, request.clone(), now(), versions)? else {
            return Ok(Attempt::Done(json_response(StatusCode::OK, doc.body)));
        };
        if next.skills != current.skills {
            super::skills::check_references(state, caller, &next.skills).await?;
        }
        if next.mcp_servers != current.mcp_servers {
            check_mcp_urls(state, &next.mcp_servers)?;
        }
        let next_doc = to_document(row(caller, &next), &next)?;
        let written = state
            .store
            .replace_document(Collection::Agents, &next_doc, current.version)
            .await?;
        Ok(Attempt::won_if(written, || {
            json_response(StatusCode::OK, next_doc.body)
        }))
    })
    .await
}

#[utoipa::path(get, path = "/agents", tag = "agents",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("include_archived" = Option<bool>, Query), ("archived" = Option<bool>, Query),
           ("created_at[gte]" = Option<String>, Query), ("created_at[lte]" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Agent>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let (mut query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    // The seed's `archived`: only archived agents, or only active ones.
    match params.bool("archived")? {
        Some(true) => query.only_archived = true,
        Some(false) => query.include_archived = false,
        None => {}
    }
    let rows = state
        .store
        .list_documents(Collection::Agents, &caller.tenant_id, &query)
        .await?;
    Ok(page_response(rows, limit, |d| &d.body, |d| d.id.clone()))
}

#[utoipa::path(get, path = "/agents/{agent_id}/versions", tag = "agents",
    params(("agent_id" = String, Path), ("limit" = Option<u32>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<Agent>)))]
pub async fn list_versions(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    params: QueryParams,
) -> ApiResult<Response> {
    let (mut query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    if let Some(after) = &query.after
        && after.parse::<i64>().is_err()
    {
        return Err(ApiError::bad_request("page: is not a cursor for this list"));
    }
    query.include_archived = true;
    let exists = state
        .store
        .get_document(Collection::Agents, &caller.tenant_id, &id)
        .await?;
    if exists.is_none() {
        return Err(ApiError::not_found(AGENT, &id));
    }
    let rows = state
        .store
        .list_agent_versions(&caller.tenant_id, &id, &query)
        .await?;
    Ok(page_response(
        rows,
        limit,
        |d| &d.body,
        |d| d.version.to_string(),
    ))
}

#[utoipa::path(get, path = "/agents/{agent_id}/versions/{version}", tag = "agents",
    params(("agent_id" = String, Path), ("version" = i64, Path)),
    responses((status = 200, body = Agent), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve_version(
    State(state): AppStateRef,
    caller: Caller,
    Path((id, version)): Path<(String, String)>,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("agent version", &format!("{id} version {version}"));
    let number = version.parse::<i64>().map_err(|_| not_found())?;
    let doc = state
        .store
        .get_agent_version(&caller.tenant_id, &id, number)
        .await?
        .ok_or_else(not_found)?;
    Ok(json_response(StatusCode::OK, doc.body))
}

#[utoipa::path(post, path = "/agents/{agent_id}/archive", tag = "agents",
    params(("agent_id" = String, Path)), responses((status = 200, body = Agent)))]
pub async fn archive(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let agent = archive_agent(&state, &caller, &id).await?;
    Ok(json_response(StatusCode::OK, agent))
}

/// The seed's `DELETE /v1/agents/{id}`: archives (agents are never hard-deleted, so sessions
/// pinned to a version keep working) and answers with the delete shape.
#[utoipa::path(delete, path = "/agents/{agent_id}", tag = "agents",
    params(("agent_id" = String, Path)), responses((status = 200, body = Deleted)))]
pub async fn delete(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    archive_agent(&state, &caller, &id).await?;
    Ok(axum::Json(Deleted::new(id, "agent_deleted")))
}

async fn archive_agent(state: &AppState, caller: &Caller, id: &str) -> ApiResult<String> {
    optimistic(AGENT, id, || async move {
        let (doc, mut agent) = load::<Agent>(
            &*state.store,
            Collection::Agents,
            &caller.tenant_id,
            id,
            AGENT,
        )
        .await?;
        if agent.archived_at.is_some() {
            return Ok(Attempt::Done(doc.body));
        }
        let at = now();
        agent.archived_at = Some(at);
        agent.updated_at = at;
        let next = to_document(row(caller, &agent), &agent)?;
        let written = state
            .store
            .replace_document(Collection::Agents, &next, agent.version)
            .await?;
        Ok(Attempt::won_if(written, || next.body))
    })
    .await
}

fn row<'a>(caller: &'a Caller, agent: &'a Agent) -> Row<'a> {
    Row {
        tenant_id: &caller.tenant_id,
        id: &agent.id,
        version: agent.version,
        created_at: agent.created_at,
        updated_at: agent.updated_at,
        archived_at: agent.archived_at,
    }
}

/// Current versions of the agents a `multiagent` roster names.
async fn roster_versions(
    store: &dyn AgentHistory,
    caller: &Caller,
    roster: Option<&MultiagentParam>,
) -> ApiResult<HashMap<String, i64>> {
    let Some(roster) = roster else {
        return Ok(HashMap::new());
    };
    let ids = roster.referenced_agent_ids();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(store
        .current_agent_versions(&caller.tenant_id, &ids)
        .await?
        .into_iter()
        .collect())
}

/// MCP servers are outbound connections a tenant chooses: a URL whose host is a loopback,
/// private or link-local address is refused unless the operator allows it. Names are checked
/// again when they are resolved, at connection time.
pub(crate) fn check_mcp_urls(
    state: &AppState,
    servers: &[berth_protocol::agent::McpServer],
) -> ApiResult<()> {
    for (i, server) in servers.iter().enumerate() {
        if let Err(e) = state.runtime.models.egress().check_url(&server.url) {
            return Err(ApiError::bad_request(format!("mcp_servers[{i}].url: {e}")));
        }
    }
    Ok(())
}
