//! NUL characters are refused at the door. Neither backend can store one in text (PostgreSQL
//! refuses it outright, and a C string stops at it), no field of the API has a use for one, and
//! letting one through turned a lookup into a 500. So a NUL anywhere a client can put text — the
//! path, the query, a JSON string or key, a multipart name — is a 400 that names where it was,
//! before anything is read from or written to storage.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::error::ApiError;

/// Refuses a request whose path or query holds an encoded NUL (`%00`).
pub async fn middleware(request: Request, next: Next) -> Response {
    let uri = request.uri();
    if has_encoded_nul(uri.path()) {
        return refusal("the path").into_response();
    }
    if uri.query().is_some_and(has_encoded_nul) {
        return refusal("the query string").into_response();
    }
    next.run(request).await
}

fn has_encoded_nul(text: &str) -> bool {
    text.as_bytes().windows(3).any(|w| w == b"%00") || text.contains('\0')
}

fn refusal(place: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{place} must not contain a NUL character (\\u0000)"
    ))
}

/// Refuses a JSON body with a NUL in any string or key. Raw NULs are not JSON, so only the
/// escape `\u0000` can bring one; bodies without it are not looked at again.
pub fn check_json(bytes: &[u8]) -> Result<(), ApiError> {
    if !bytes.windows(6).any(|w| w == b"\\u0000") {
        return Ok(());
    }
    // The escape may be text (`\\u0000` is a backslash and "u0000"): decide on the values.
    let Ok(value) = serde_json::from_slice::<Value>(bytes) else {
        return Ok(());
    };
    match nul_path(&value, String::new()) {
        Some(path) if path.is_empty() => Err(refusal("the body")),
        Some(path) => Err(refusal(&path)),
        None => Ok(()),
    }
}

/// Where in `value` a NUL is, as a field path (`metadata.key`, `tools[2].name`).
fn nul_path(value: &Value, at: String) -> Option<String> {
    match value {
        Value::String(text) => text.contains('\0').then_some(at),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_path(item, format!("{at}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let path = if at.is_empty() {
                key.clone()
            } else {
                format!("{at}.{key}")
            };
            if key.contains('\0') {
                return Some(path);
            }
            nul_path(item, path)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => None,
    }
}

/// Refuses multipart text (a field's value or a file's name) holding a NUL.
pub fn check_text(place: &str, text: &str) -> Result<(), ApiError> {
    if text.contains('\0') {
        return Err(refusal(place));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nuls_are_found_where_they_are() {
        assert!(check_json(br#"{"name":"a"}"#).is_ok());
        assert!(check_json(br#"{"name":"a\\u0000"}"#).is_ok());
        let refused = check_json(br#"{"metadata":{"k":"a\u0000b"}}"#).unwrap_err();
        assert!(
            refused.message.contains("metadata.k"),
            "{}",
            refused.message
        );
        let refused = check_json(br#"{"tools":[{},{"n\u0000":1}]}"#).unwrap_err();
        assert!(
            refused.message.contains("tools[1].n"),
            "{}",
            refused.message
        );
        assert!(has_encoded_nul("/v1/agents/%00"));
        assert!(!has_encoded_nul("/v1/agents/%0A0"));
        assert!(check_text("file name", "a\0").is_err());
    }
}
