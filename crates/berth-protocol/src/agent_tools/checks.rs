//! Checks on the parts of `tools[]` that carry free-form input: web tool fields and custom tool
//! input schemas.

use serde_json::Value;

use super::{
    BuiltinTool, CustomTool, MAX_DOMAINS, MAX_INPUT_SCHEMA_BYTES, MAX_TOOL_DESCRIPTION_CHARS,
    ToolConfigParam,
};
use crate::validation::{Validated, ValidationError, check_len};

pub(super) fn validate_web_fields(c: &ToolConfigParam) -> Validated {
    let web_only: [(&str, bool); 3] = [
        ("allowed_domains", c.allowed_domains.is_some()),
        ("blocked_domains", c.blocked_domains.is_some()),
        ("user_location", c.user_location.is_some()),
    ];
    for (field, present) in web_only {
        if present && !c.name.is_web() {
            return Err(ValidationError::new(
                field,
                "is only valid for web_fetch and web_search",
            ));
        }
    }
    let fetch_only = [
        ("max_content_tokens", c.max_content_tokens.is_some()),
        ("url_sources", c.url_sources.is_some()),
    ];
    for (field, present) in fetch_only {
        if present && c.name != BuiltinTool::WebFetch {
            return Err(ValidationError::new(field, "is only valid for web_fetch"));
        }
    }
    if c.user_location.is_some() && c.name != BuiltinTool::WebSearch {
        return Err(ValidationError::new(
            "user_location",
            "is only valid for web_search",
        ));
    }
    for (field, list) in [
        ("allowed_domains", &c.allowed_domains),
        ("blocked_domains", &c.blocked_domains),
    ] {
        if let Some(domains) = list {
            if domains.len() > MAX_DOMAINS {
                return Err(ValidationError::new(
                    field,
                    format!("at most {MAX_DOMAINS} domains are allowed"),
                ));
            }
            for (i, d) in domains.iter().enumerate() {
                crate::environment::validate_host(d)
                    .map_err(|e| e.within(&format!("{field}[{i}]")))?;
            }
        }
    }
    if let Some(location) = &c.user_location {
        let is_approximate = location.get("type").and_then(Value::as_str) == Some("approximate");
        if !is_approximate {
            return Err(ValidationError::new(
                "user_location.type",
                "must be \"approximate\"",
            ));
        }
    }
    if let Some(sources) = &c.url_sources {
        validate_url_sources(sources)?;
    }
    Ok(())
}

fn validate_url_sources(sources: &Value) -> Validated {
    let Some(map) = sources.as_object() else {
        return Err(ValidationError::new("url_sources", "must be an object"));
    };
    for (key, value) in map {
        if !matches!(
            key.as_str(),
            "user_input" | "client_tool_results" | "server_tool_results"
        ) {
            continue;
        }
        let kind = match value {
            Value::Null => continue,
            Value::String(s) => s.as_str(),
            Value::Object(o) => o.get("type").and_then(Value::as_str).unwrap_or(""),
            _ => "",
        };
        let allowed: &[&str] = if key == "user_input" {
            &["all", "none"]
        } else {
            &["all", "none", "only", "except"]
        };
        if !allowed.contains(&kind) {
            return Err(ValidationError::new(
                format!("url_sources.{key}"),
                format!("type must be one of {}", allowed.join(", ")),
            ));
        }
    }
    Ok(())
}

/// `"all"` and `"none"` shorthands become `{type:"all"}` / `{type:"none"}` in responses.
pub(super) fn normalize_url_sources(mut sources: Value) -> Value {
    if let Some(map) = sources.as_object_mut() {
        for value in map.values_mut() {
            if let Value::String(s) = value {
                *value = serde_json::json!({ "type": s.clone() });
            }
        }
    }
    sources
}

/// Custom tool names: 1–128 characters of `[A-Za-z0-9_-]`.
pub fn validate_custom_tool(tool: &CustomTool) -> Validated {
    let name_ok = !tool.name.is_empty()
        && tool.name.len() <= 128
        && tool
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !name_ok {
        return Err(ValidationError::new(
            "name",
            "must be 1 to 128 characters of letters, digits, '_' or '-'",
        ));
    }
    check_len(
        "description",
        &tool.description,
        1,
        MAX_TOOL_DESCRIPTION_CHARS,
    )?;
    validate_input_schema(&tool.input_schema).map_err(|e| e.within("input_schema"))
}

/// A JSON Schema for an object: `type: "object"`, `properties` an object of schemas, and
/// `required` a list of property names.
fn validate_input_schema(schema: &Value) -> Validated {
    let Some(map) = schema.as_object() else {
        return Err(ValidationError::new("", "must be a JSON Schema object"));
    };
    if map.get("type").and_then(Value::as_str) != Some("object") {
        return Err(ValidationError::new("type", "must be \"object\""));
    }
    if serde_json::to_vec(schema).map_or(0, |v| v.len()) > MAX_INPUT_SCHEMA_BYTES {
        return Err(ValidationError::new(
            "",
            format!("must be at most {MAX_INPUT_SCHEMA_BYTES} bytes"),
        ));
    }
    let properties = match map.get("properties") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => {
            for (name, prop) in p {
                if !prop.is_object() && !prop.is_boolean() {
                    return Err(ValidationError::new(
                        format!("properties.{name}"),
                        "must be a JSON Schema",
                    ));
                }
            }
            Some(p)
        }
        Some(_) => return Err(ValidationError::new("properties", "must be an object")),
    };
    match map.get("required") {
        None | Some(Value::Null) => {}
        Some(Value::Array(required)) => {
            for (i, r) in required.iter().enumerate() {
                let Some(name) = r.as_str() else {
                    return Err(ValidationError::new(
                        format!("required[{i}]"),
                        "must be a string",
                    ));
                };
                if !properties.is_some_and(|p| p.contains_key(name)) {
                    return Err(ValidationError::new(
                        format!("required[{i}]"),
                        format!("\"{name}\" is not in properties"),
                    ));
                }
            }
        }
        Some(_) => return Err(ValidationError::new("required", "must be an array")),
    }
    Ok(())
}
