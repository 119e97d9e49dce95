//! `/v1/api_keys` and `/v1/tenants`: key management within a tenant, and tenant creation with an
//! admin key.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use berth_protocol::Deleted;
use berth_protocol::api_key::{
    ApiKey, ApiKeyCreateRequest, ApiKeyTag, CreatedApiKey, CreatedTenant, Tenant,
    TenantCreateRequest, TenantTag,
};
use berth_protocol::ids::{new_id, prefix};
use berth_protocol::pagination::{Order, Page};
use berth_store::{ApiKeyRow, NewApiKey, RevokeOutcome, TenantRow};
use chrono::{DateTime, Utc};

use crate::auth::{Caller, generate_key};
use crate::error::{ApiError, ApiResult};
use crate::extract::Admin;
use crate::extract::{JsonBody, QueryParams};
use crate::listing::document_query;
use crate::state::AppState;
use berth_protocol::time::{micros, now};

type AppStateRef = State<Arc<AppState>>;

fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

fn to_api(row: &ApiKeyRow) -> ApiKey {
    ApiKey {
        id: row.id.clone(),
        kind: ApiKeyTag,
        name: row.name.clone(),
        prefix: row.prefix.clone(),
        created_at: time(row.created_at),
        last_used_at: row.last_used_at.map(time),
    }
}

#[utoipa::path(post, path = "/api_keys", tag = "api_keys", request_body = ApiKeyCreateRequest,
    responses((status = 200, body = CreatedApiKey)))]
pub async fn create(
    State(state): AppStateRef,
    caller: Caller,
    JsonBody(request): JsonBody<ApiKeyCreateRequest>,
) -> ApiResult<Json<CreatedApiKey>> {
    let name = request.validated_name()?;
    let key = generate_key();
    let created_at = now();
    let row = NewApiKey {
        id: new_id(prefix::API_KEY),
        tenant_id: caller.tenant_id.clone(),
        name,
        prefix: key.prefix,
        hash: key.hash,
        is_admin: false,
        source: "api".to_owned(),
        created_at: micros(created_at),
    };
    state.store.upsert_api_key(&row).await?;
    Ok(Json(CreatedApiKey {
        api_key: ApiKey {
            id: row.id,
            kind: ApiKeyTag,
            name: row.name,
            prefix: row.prefix,
            created_at,
            last_used_at: None,
        },
        key: key.raw,
    }))
}

#[utoipa::path(get, path = "/api_keys", tag = "api_keys",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = Page<ApiKey>)))]
pub async fn list(
    State(state): AppStateRef,
    caller: Caller,
    params: QueryParams,
) -> ApiResult<Json<Page<ApiKey>>> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state.store.list_api_keys(&caller.tenant_id, &query).await?;
    Ok(Json(typed_page(rows, limit, to_api, |r| r.id.clone())))
}

#[utoipa::path(delete, path = "/api_keys/{api_key_id}", tag = "api_keys",
    params(("api_key_id" = String, Path)),
    responses((status = 200, body = Deleted), (status = 409, body = berth_protocol::ErrorBody)))]
pub async fn revoke(
    State(state): AppStateRef,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Deleted>> {
    match state
        .store
        .revoke_api_key(&caller.tenant_id, &id, micros(now()))
        .await?
    {
        RevokeOutcome::Revoked => {
            state.keys.evict_key_id(&id);
            Ok(Json(Deleted::new(id, "api_key_deleted")))
        }
        RevokeOutcome::NotFound => Err(ApiError::not_found("API key", &id)),
        RevokeOutcome::LastActiveKey => Err(ApiError::conflict(
            "this is the tenant's last active API key; create another before revoking it",
        )),
    }
}

#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = TenantCreateRequest,
    responses((status = 200, body = CreatedTenant), (status = 403, body = berth_protocol::ErrorBody)))]
pub async fn create_tenant(
    State(state): AppStateRef,
    Admin(_admin): Admin,
    JsonBody(request): JsonBody<TenantCreateRequest>,
) -> ApiResult<Json<CreatedTenant>> {
    request.validate()?;
    let created_at = now();
    let tenant = TenantRow {
        id: new_id(prefix::TENANT),
        name: request.name,
        created_at: micros(created_at),
    };
    let key = generate_key();
    let first_key = NewApiKey {
        id: new_id(prefix::API_KEY),
        tenant_id: tenant.id.clone(),
        name: "first key".to_owned(),
        prefix: key.prefix,
        hash: key.hash,
        is_admin: false,
        source: "tenant".to_owned(),
        created_at: tenant.created_at,
    };
    state.store.create_tenant(&tenant, &first_key).await?;
    Ok(Json(CreatedTenant {
        tenant: Tenant {
            id: tenant.id,
            kind: TenantTag,
            name: tenant.name,
            created_at,
        },
        api_key: key.raw,
        api_key_id: first_key.id,
    }))
}

#[utoipa::path(get, path = "/tenants", tag = "tenants",
    params(("limit" = Option<u32>, Query), ("page" = Option<String>, Query)),
    responses((status = 200, body = Page<Tenant>)))]
pub async fn list_tenants(
    State(state): AppStateRef,
    Admin(_admin): Admin,
    params: QueryParams,
) -> ApiResult<Json<Page<Tenant>>> {
    let (query, limit) = document_query(&params, 20, 100, Order::Desc)?;
    let rows = state.store.list_tenants(&query).await?;
    let to_tenant = |row: &TenantRow| Tenant {
        id: row.id.clone(),
        kind: TenantTag,
        name: row.name.clone(),
        created_at: time(row.created_at),
    };
    Ok(Json(typed_page(rows, limit, to_tenant, |r| r.id.clone())))
}

fn typed_page<R, T>(
    rows: Vec<R>,
    limit: u32,
    convert: impl Fn(&R) -> T,
    key: impl Fn(&R) -> String,
) -> Page<T> {
    let has_more = rows.len() > limit as usize;
    let shown = &rows[..rows.len().min(limit as usize)];
    Page {
        data: shown.iter().map(&convert).collect(),
        next_page: has_more
            .then(|| {
                shown
                    .last()
                    .map(|r| berth_protocol::pagination::PageCursor::next(key(r)).encode())
            })
            .flatten(),
        has_more,
    }
}
