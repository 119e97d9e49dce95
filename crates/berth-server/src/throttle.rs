//! Rate limits over HTTP: the middleware that counts every authenticated `/v1` request against
//! its tenant's window ([`crate::rate_limit`]), and what clients see. Every limited response
//! carries `anthropic-ratelimit-requests-{limit,remaining,reset}`; a refusal is a `429`
//! `rate_limit_error` with `retry-after`, which the official SDKs honour.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use berth_protocol::time::{micros, now};

use crate::auth::{Caller, presented_key};
use crate::error::ApiError;
use crate::rate_limit::{Kind, Verdict};
use crate::state::AppState;

/// Limits every authenticated request of `/v1` per tenant. Requests without a valid key pass
/// on to be refused by authentication; the caller found here is handed to the handler, so a
/// key is looked up once per request.
pub async fn middleware(
    State(state): State<Arc<AppState>>,
    mut request: Request,
    next: Next,
) -> Response {
    let limits = state.config.rate_limits;
    let (kind, limit) = if matches!(*request.method(), Method::GET | Method::HEAD) {
        (Kind::Reads, limits.reads_per_minute)
    } else {
        (Kind::Writes, limits.writes_per_minute)
    };
    if limit == 0 {
        return next.run(request).await;
    }
    let Some(caller) = caller_of(&state, request.headers()).await else {
        return next.run(request).await;
    };
    let now = micros(now());
    let verdict = state
        .rate_limiter
        .check(kind, &caller.tenant_id, limit, 1, now)
        .await;
    let mut response = if verdict.allowed {
        request.extensions_mut().insert(caller);
        next.run(request).await
    } else {
        let noun = if kind == Kind::Reads { "read" } else { "write" };
        refusal(
            format!(
                "this tenant sent more than {limit} {noun}s in a minute; retry after the time in retry-after"
            ),
            &verdict,
            now,
        )
    };
    set_headers(response.headers_mut(), &verdict);
    response
}

/// A `429` for a spent window.
pub fn refusal(message: String, verdict: &Verdict, now: i64) -> Response {
    let mut response = ApiError::rate_limited(message).into_response();
    response.headers_mut().insert(
        "retry-after",
        HeaderValue::from(verdict.retry_after_secs(now)),
    );
    response
}

fn set_headers(headers: &mut HeaderMap, verdict: &Verdict) {
    headers.insert(
        "anthropic-ratelimit-requests-limit",
        HeaderValue::from(verdict.limit),
    );
    headers.insert(
        "anthropic-ratelimit-requests-remaining",
        HeaderValue::from(verdict.remaining),
    );
    headers.insert(
        "anthropic-ratelimit-requests-reset",
        verdict.reset_header.clone(),
    );
}

/// The caller of the request's API key, if it has a valid one.
async fn caller_of(state: &AppState, headers: &HeaderMap) -> Option<Caller> {
    let raw = presented_key(headers).ok()?;
    state.keys.authenticate(&state.store, raw).await.ok()
}
