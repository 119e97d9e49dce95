//! Request extractors with the contract's error behaviour.
//!
//! [`JsonBody`] reads at most the configured number of bytes (413 beyond it), accepts only a
//! JSON object (or no body at all), and reports a malformed body or a wrong type as a 400
//! naming the field; unknown fields are ignored.
//! [`QueryParams`] understands the SDKs' bracketed arrays (`statuses[]=a&statuses[]=b`) and
//! literal filter keys (`created_at[gte]=…`), which a plain `serde_urlencoded` struct cannot.
//! [`Caller`] and [`Admin`] authenticate the request's API key (see [`crate::auth`]).

use std::sync::Arc;

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use berth_protocol::pagination::{TimeRange, parse_timestamp};
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use serde::de::DeserializeOwned;

use crate::auth::{Caller, presented_key};
use crate::error::ApiError;
use crate::state::AppState;

/// A JSON request body deserialized into `T`.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let bytes = read_body(request, state.config.max_body_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads a whole body, refusing one over `limit` bytes without reading it all.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::too_large(limit));
    }
    let body = Limited::new(request.into_body(), limit);
    match body.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(ApiError::too_large(limit))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "could not read the request body: {e}"
        ))),
    }
}

/// Parses a JSON object, naming the offending field on a type error. An empty body is `{}`
/// (the official SDKs send one, with a JSON content type, for calls without parameters); any
/// other body must be an object: `[]`, `null` or a bare value is refused, so it can never pass
/// for a request whose every field is optional.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => b"{}",
        Some(b'{') => bytes,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid request body: must be a JSON object",
            ));
        }
    };
    crate::nul::check_json(bytes)?;
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut deserializer) {
        Ok(value) => {
            deserializer
                .end()
                .map_err(|e| ApiError::bad_request(format!("malformed JSON body: {e}")))?;
            Ok(value)
        }
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = clean_serde_message(&inner);
            let at_root = path == "." || path.is_empty();
            // "missing field `x`" names a field one level below where serde stopped.
            if let Some(field) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.strip_suffix('`'))
            {
                let full = if at_root {
                    field.to_owned()
                } else {
                    format!("{path}.{field}")
                };
                return Err(ApiError::bad_request(format!("{full}: is required")));
            }
            Err(if inner.is_syntax() || inner.is_eof() {
                ApiError::bad_request(format!("malformed JSON body: {inner}"))
            } else if at_root {
                ApiError::bad_request(format!("invalid request body: {message}"))
            } else {
                ApiError::bad_request(format!("{path}: {message}"))
            })
        }
    }
}

/// serde's messages end with " at line 1 column 42", which means nothing to an API caller who
/// already has the field path.
fn clean_serde_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(&text).to_owned(),
        None => text,
    }
}

/// The decoded query string as ordered key/value pairs.
#[derive(Debug, Default, Clone)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        Ok(Self::parse(parts.uri.query().unwrap_or("")))
    }
}

impl QueryParams {
    pub fn parse(query: &str) -> Self {
        Self {
            pairs: form_urlencoded::parse(query.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        }
    }

    /// The last value given for `key` (the SDKs never repeat scalar keys).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of an array parameter, sent as `key[]=…` (or `key=…`, possibly repeated, or
    /// comma-separated for curl users).
    pub fn get_all(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        self.pairs
            .iter()
            .filter(|(k, _)| *k == bracketed || k == key)
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .collect()
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.get(key) {
            None => Ok(None),
            Some("true" | "1" | "True") => Ok(Some(true)),
            Some("false" | "0" | "False") => Ok(Some(false)),
            Some(other) => Err(ApiError::bad_request(format!(
                "{key}: must be true or false, not \"{other}\""
            ))),
        }
    }

    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        self.get(key)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("{key}: must be an integer, not \"{v}\""))
                })
            })
            .transpose()
    }

    /// `limit`, checked against inclusive bounds.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        match self.int("limit")? {
            None => Ok(default),
            Some(n) if n >= 1 && n <= i64::from(max) => Ok(n as u32),
            Some(n) => Err(ApiError::bad_request(format!(
                "limit: must be between 1 and {max}, not {n}"
            ))),
        }
    }

    /// `field[gt]`, `field[gte]`, `field[lt]`, `field[lte]` as a microsecond range.
    pub fn time_range(&self, field: &str) -> Result<TimeRange, ApiError> {
        let bound = |op: &str| -> Result<Option<i64>, ApiError> {
            let key = format!("{field}[{op}]");
            self.get(&key)
                .map(|v| parse_timestamp(&key, v).map(|t| t.timestamp_micros()))
                .transpose()
                .map_err(ApiError::from)
        };
        Ok(TimeRange {
            gt: bound("gt")?,
            gte: bound("gte")?,
            lt: bound("lt")?,
            lte: bound("lte")?,
        })
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        // The rate limiter has authenticated the request already, when it ran.
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(caller.clone());
        }
        let raw = presented_key(&parts.headers)?;
        state.keys.authenticate(&state.store, raw).await
    }
}

/// An authenticated caller holding an admin key.
pub struct Admin(pub Caller);

impl FromRequestParts<Arc<AppState>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.is_admin {
            return Err(ApiError::forbidden("this endpoint needs an admin API key"));
        }
        Ok(Admin(caller))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bracketed_arrays_and_filters() {
        let q = QueryParams::parse(
            "statuses%5B%5D=idle&statuses%5B%5D=running&created_at%5Bgte%5D=2026-01-01T00%3A00%3A00Z&limit=5",
        );
        assert_eq!(q.get_all("statuses"), vec!["idle", "running"]);
        assert_eq!(q.limit(20, 100).unwrap(), 5);
        let range = q.time_range("created_at").unwrap();
        assert_eq!(range.gte, Some(1_767_225_600_000_000));
        assert!(QueryParams::parse("limit=0").limit(20, 100).is_err());
        assert!(QueryParams::parse("limit=abc").limit(20, 100).is_err());
    }

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        count: Option<u32>,
    }

    #[test]
    fn json_errors_name_the_field() {
        let e = parse_json::<Body>(br#"{"name":"x","count":"three"}"#).unwrap_err();
        assert!(
            e.message.starts_with("count: invalid type"),
            "{}",
            e.message
        );
        let e = parse_json::<Body>(br#"{"name":"x","#).unwrap_err();
        assert!(
            e.message.starts_with("malformed JSON body"),
            "{}",
            e.message
        );
        let e = parse_json::<Body>(br#"{}"#).unwrap_err();
        assert_eq!(e.message, "name: is required");
        assert!(parse_json::<Body>(br#"{"name":"x","extra":[1,2]}"#).is_ok());
    }
}
