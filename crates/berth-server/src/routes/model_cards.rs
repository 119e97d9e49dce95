//! `/v1/model_cards`: a tenant's own model credentials. Create and rotate run a capability
//! probe first, so a bad key, an unreachable or private URL, a server speaking another protocol
//! or an unknown model is refused with a message that says which. Keys are sealed before they
//! are stored and no route returns them.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use berth_llm::probe::ProbeError;
use berth_net::EgressError;
use berth_protocol::Deleted;
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::model_card::{
    ModelCard, ModelCardCreateRequest, ModelCardParts, ModelCardUpdateRequest, Provider,
    create_model_card, update_model_card,
};
use berth_protocol::pagination::Order;
use berth_store::{Attempt, ModelCardRow, StoreError};

use crate::auth::Caller;
use crate::documents::optimistic;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use crate::listing::{document_query, json_response, page_response};
use crate::state::AppState;
use berth_protocol::time::{from_micros, micros, now};
use berth_runtime::models::{CardConnection, CardSecretError, header_pairs};

const MODEL_CARD: &str = "model card";

type AppStateRef = State<Arc<AppState>>;

fn duplicate(model_id: &str) -> ApiError {
    ApiError::conflict(format!(
        "model_id \"{model_id}\" is already used by another model card"
    ))
    .with_code("duplicate_model_id")
}

fn probe_error(e: ProbeError) -> ApiError {
    let code = match &e {
        ProbeError::BadKey(_) => "invalid_api_key",
        ProbeError::Unreachable { .. } => "provider_unreachable",
        ProbeError::WrongProtocol { .. } => "wrong_protocol",
        ProbeError::UnknownModel { .. } => "unknown_model",
        ProbeError::Refused(_) => "probe_refused",
        ProbeError::Egress(_) => "egress_refused",
    };
    ApiError::bad_request(format!("the model card was not saved: {e}")).with_code(code)
}

fn egress_error(e: EgressError) -> ApiError {
    let code = match e {
        EgressError::Resolve { .. } => "provider_unreachable",
        _ => "egress_refused",
    };
    ApiError::bad_request(format!("base_url is not allowed: {e}")).with_code(code)
}

/// Checks where the card points, then probes it.
async fn verify(state: &AppState, parts: &ModelCardParts) -> ApiResult<()> {
    let card = &parts.card;
    let base_url = card
        .base_url
        .as_deref()
        .or(card.provider.default_base_url())
        .ok_or_else(|| ApiError::bad_request("base_url is required for this provider"))?;
    state
        .runtime
        .models
        .egress()
        .resolve(base_url)
        .await
        .map_err(egress_error)?;
    let connection = CardConnection {
        provider: card.provider,
        base_url,
        api_key: &parts.secrets.api_key,
        custom_headers: header_pairs(&parts.secrets.custom_headers),
        model: &card.model,
    };
    state
        .runtime
        .models
        .probe(&connection)
        .await
        .map_err(probe_error)
}

fn to_row(
    state: &AppState,
    caller: &Caller,
    parts: &ModelCardParts,
    version: i64,
) -> ApiResult<ModelCardRow> {
    let card = &parts.card;
    Ok(ModelCardRow {
        id: card.id.clone(),
        tenant_id: caller.tenant_id.clone(),
        model_id: card.model_id.clone(),
        provider: card.provider.as_str().to_owned(),
        version,
        created_at: micros(card.created_at),
        updated_at: micros(card.updated_at),
        body: serde_json::to_string(card).map_err(ApiError::internal)?,
        sealed: state
            .runtime
            .models
            .seal(&caller.tenant_id, &card.id, &parts.secrets)
            .map_err(ApiError::internal)?,
        is_default: card.is_default,
        archived_at: card.archived_at.map(micros),
    })
}

/// A card of the caller's tenant; another tenant's id answers 404 like a missing one.
async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<ModelCardRow> {
    state
        .store
        .get_model_card(&caller.tenant_id, id)
        .await?
        .ok_or_else(|| ApiError::not_found(MODEL_CARD, id))
}

/// The card as stored, with the live columns a body may be behind on: whether it is the
/// default (another card taking the default clears it without rewriting this body) and when it
/// was archived.
fn card_of(row: &ModelCardRow) -> ApiResult<ModelCard> {
    let mut card: ModelCard = serde_json::from_str(&row.body).map_err(ApiError::internal)?;
    card.is_default = row.is_default;
    card.archived_at = row.archived_at.map(from_micros);
    Ok(card)
}

fn shown(row: &ModelCardRow) -> ApiResult<String> {
    serde_json::to_string(&card_of(row)?).map_err(ApiError::internal)
}

/// The card with the probe's verdict, as create and rotate answer.
fn probed(body: &str) -> ApiResult<Response> {
    let mut value: serde_json::Value = serde_json::from_str(body).map_err(ApiError::internal)?;
    value["probe"] = serde_json::json!({"ok": true});
    Ok(json_response(StatusCode::OK, value.to_string()))
}

#[utoipa::path(post, path = "/model_cards", tag = "model_cards",
    request_body = ModelCardCreateRequest,
    responses((status = 200, body = ModelCard), (status = 400, body = berth_protocol::ErrorBody),
              (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<ModelCardCreateRequest>,
) -> ApiResult<Response> {
    let parts = create_model_card(request, new_id(prefix::MODEL_CARD), now())?;
    if state
        .store
        .find_model_card(&caller.tenant_id, &parts.card.model_id)
        .await?
        .is_some()
    {
        return Err(duplicate(&parts.card.model_id));
    }
    verify(&state, &parts).await?;
    let row = to_row(&state, &caller, &parts, 1)?;
    match state.store.insert_model_card(&row).await {
        Ok(()) => probed(&row.body),
        Err(StoreError::Conflict(_)) => Err(duplicate(&parts.card.model_id)),
        Err(e) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/model_cards/{model_card_id}", tag = "model_cards",
    params(("model_card_id" = String, Path)),
    responses((status = 200, body = ModelCard), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn retrieve(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let row = load(&state, &caller, &id).await?;
    Ok(json_response(StatusCode::OK, shown(&row)?))
}

#[utoipa::path(post, path = "/model_cards/{model_card_id}", tag = "model_cards",
    params(("model_card_id" = String, Path)), request_body = ModelCardUpdateRequest,
    responses((status = 200, body = ModelCard), (status = 400, body = berth_protocol::ErrorBody),
              (status = 404, body = berth_protocol::ErrorBody), (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn update(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(request): JsonBody<ModelCardUpdateRequest>,
) -> ApiResult<Response> {
    let (state, caller, id, request) = (&state, &caller, &id, &request);
    optimistic(MODEL_CARD, id, || async move {
        let row = load(state, caller, id).await?;
        let card = card_of(&row)?;
        if card.archived_at.is_some() {
            return Err(ApiError::bad_request(format!(
                "model card {id} is archived and cannot be updated"
            ))
            .with_code("model_card_archived"));
        }
        let secrets = match state.runtime.models.open(&row) {
            Ok(secrets) => secrets,
            // A card sealed under another root secret can still be repaired with a new key.
            Err(CardSecretError::Open) if request.api_key.is_some() => Default::default(),
            Err(e) => return Err(ApiError::conflict(e.to_string()).with_code("card_unreadable")),
        };
        let current = ModelCardParts { card, secrets };
        let Some(change) = update_model_card(&current, request.clone(), now())? else {
            return Ok(Attempt::Done(json_response(StatusCode::OK, shown(&row)?)));
        };
        let next = change.parts;
        if next.card.model_id != current.card.model_id
            && state
                .store
                .find_model_card(&caller.tenant_id, &next.card.model_id)
                .await?
                .is_some()
        {
            return Err(duplicate(&next.card.model_id));
        }
        if change.connection_changed {
            verify(state, &next).await?;
        }
        let next_row = to_row(state, caller, &next, row.version + 1)?;
        match state.store.replace_model_card(&next_row, row.version).await {
            Ok(true) if change.connection_changed => probed(&next_row.body).map(Attempt::Done),
            Ok(true) => Ok(Attempt::Done(json_response(StatusCode::OK, next_row.body))),
            Ok(false) => Ok(Attempt::Lost),
            Err(StoreError::Conflict(_)) => Err(duplicate(&next.card.model_id)),
            Err(e) => Err(e.into()),
        }
    })
    .await
}

#[utoipa::path(get, path = "/model_cards", tag = "model_cards",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query),
           ("provider" = Option<String>, Query)),
    responses((status = 200, body = berth_protocol::pagination::Page<ModelCard>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Response> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let provider = match params.get("provider") {
        None => None,
        Some(text) => Some(Provider::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "provider must be one of ant, ant-compatible, oai, oai-compatible (got \"{text}\")"
            ))
            .with_code("invalid_provider")
        })?),
    };
    let rows = state
        .store
        .list_model_cards(&caller.tenant_id, provider.map(Provider::as_str), &query)
        .await?;
    let shown = rows
        .iter()
        .map(|row| Ok((shown(row)?, row.id.clone())))
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(page_response(
        shown,
        limit,
        |(body, _)| body,
        |(_, id)| id.clone(),
    ))
}

#[utoipa::path(post, path = "/model_cards/{model_card_id}/archive", tag = "model_cards",
    params(("model_card_id" = String, Path)),
    responses((status = 200, body = ModelCard), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn archive(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (state, caller, id) = (&state, &caller, &id);
    optimistic(MODEL_CARD, id, || async move {
        let row = load(state, caller, id).await?;
        if row.archived_at.is_some() {
            return Ok(Attempt::Done(json_response(StatusCode::OK, shown(&row)?)));
        }
        let at = now();
        let mut card = card_of(&row)?;
        card.archived_at = Some(at);
        card.is_default = false;
        card.updated_at = at;
        let next = ModelCardRow {
            version: row.version + 1,
            updated_at: micros(at),
            body: serde_json::to_string(&card).map_err(ApiError::internal)?,
            is_default: false,
            archived_at: Some(micros(at)),
            ..row.clone()
        };
        if state.store.replace_model_card(&next, row.version).await? {
            Ok(Attempt::Done(json_response(StatusCode::OK, shown(&next)?)))
        } else {
            Ok(Attempt::Lost)
        }
    })
    .await
}

#[utoipa::path(delete, path = "/model_cards/{model_card_id}", tag = "model_cards",
    params(("model_card_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 404, body = berth_protocol::ErrorBody)))]
pub async fn delete(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    if state
        .store
        .delete_model_card(&caller.tenant_id, &id)
        .await?
    {
        Ok(axum::Json(Deleted::new(id, "model_card_deleted")))
    } else {
        Err(ApiError::not_found(MODEL_CARD, &id))
    }
}
