//! List responses: query parsing shared by list endpoints and page rendering.
//!
//! Pages are rendered by splicing the stored JSON bodies into the envelope, so a list of 100
//! agents costs 100 string copies rather than 100 decode/encode round trips.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use berth_protocol::pagination::{Direction, Order, PageCursor};
use berth_store::{DocumentQuery, SortOrder};

use crate::error::ApiError;
use crate::extract::QueryParams;

/// Reads `limit`, `page` (or the seed's `cursor`), `order`, `include_archived` and
/// `created_at[…]` into a query that fetches one row more than the page to detect `has_more`.
pub fn document_query(
    params: &QueryParams,
    default_limit: u32,
    max_limit: u32,
    default_order: Order,
) -> Result<(DocumentQuery, u32), ApiError> {
    let limit = params.limit(default_limit, max_limit)?;
    let order = match params.get("order") {
        Some(value) => Order::parse("order", value)?,
        None => default_order,
    };
    let after = cursor(params)?.map(|c| {
        if c.direction == Direction::Prev {
            // Only sessions page backwards; elsewhere a prev cursor reads as a start point.
            tracing::debug!("prev cursor on a forward-only list");
        }
        c.key
    });
    let range = params.time_range("created_at")?;
    let (created_from, created_until) = range.bounds();
    let include_archived = params.bool("include_archived")?.unwrap_or(false);
    Ok((
        DocumentQuery {
            limit: limit + 1,
            order: match order {
                Order::Asc => SortOrder::Asc,
                Order::Desc => SortOrder::Desc,
            },
            after,
            include_archived,
            only_archived: false,
            created_from,
            created_until,
        },
        limit,
    ))
}

/// The page cursor from `page` or the seed's `cursor` alias.
pub fn cursor(params: &QueryParams) -> Result<Option<PageCursor>, ApiError> {
    let (field, value) = match (params.get("page"), params.get("cursor")) {
        (Some(v), _) => ("page", v),
        (None, Some(v)) => ("cursor", v),
        (None, None) => return Ok(None),
    };
    if value.is_empty() {
        return Ok(None);
    }
    Ok(Some(PageCursor::decode(field, value)?))
}

/// Renders `{"data":[…],"next_page":…,"has_more":…}` from pre-rendered items. `rows` may hold
/// one item beyond `limit`; its presence means there is another page, whose cursor is the key of
/// the last item shown.
pub fn page_response<T>(
    rows: Vec<T>,
    limit: u32,
    body: impl Fn(&T) -> &str,
    key: impl Fn(&T) -> String,
) -> Response {
    let has_more = rows.len() > limit as usize;
    let shown = &rows[..rows.len().min(limit as usize)];
    let next_page = if has_more {
        shown
            .last()
            .map(|last| PageCursor::next(key(last)).encode())
    } else {
        None
    };
    let capacity = shown.iter().map(|r| body(r).len() + 1).sum::<usize>() + 96;
    let mut out = String::with_capacity(capacity);
    out.push_str("{\"data\":[");
    for (i, row) in shown.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(body(row));
    }
    out.push_str("],\"next_page\":");
    push_json_string_or_null(&mut out, next_page.as_deref());
    out.push_str(",\"has_more\":");
    out.push_str(if has_more { "true" } else { "false" });
    out.push('}');
    json_response(StatusCode::OK, out)
}

pub fn push_json_string_or_null(out: &mut String, value: Option<&str>) {
    match value {
        // Cursors are base64url and ids are [a-z0-9_], so no escaping is ever needed; serde
        // handles anything else.
        Some(v) => out.push_str(&serde_json::Value::from(v).to_string()),
        None => out.push_str("null"),
    }
}

/// A JSON response from an already-rendered body.
pub fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
