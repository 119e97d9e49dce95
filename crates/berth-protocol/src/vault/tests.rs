use chrono::TimeZone;
use pretty_assertions::assert_eq;
use serde_json::json;

use super::credential::*;
use super::*;

fn at(s: i64) -> Timestamp {
    Utc.timestamp_opt(1_800_000_000 + s, 0)
        .single()
        .unwrap_or_default()
}

fn create(auth: serde_json::Value) -> Validated<(Credential, CredentialSecrets)> {
    let request: CredentialCreateRequest =
        serde_json::from_value(json!({ "auth": auth, "display_name": "c" })).unwrap();
    create_credential(request, "vcrd_1".into(), "vlt_1".into(), at(0))
}

fn update(
    current: &(Credential, CredentialSecrets),
    body: serde_json::Value,
) -> Validated<Option<(Credential, CredentialSecrets)>> {
    let request: CredentialUpdateRequest = serde_json::from_value(body).unwrap();
    update_credential(&current.0, &current.1, request, at(5))
}

#[test]
fn vault_needs_a_display_name_and_accepts_the_oma_alias() {
    let err = create_vault(
        serde_json::from_value(json!({})).unwrap(),
        "vlt_1".into(),
        at(0),
    )
    .unwrap_err();
    assert_eq!(err.field, "display_name");
    let vault = create_vault(
        serde_json::from_value(json!({"name": "ops"})).unwrap(),
        "vlt_1".into(),
        at(0),
    )
    .unwrap();
    assert_eq!(vault.display_name, "ops");
    let next = update_vault(
        &vault,
        serde_json::from_value(json!({"display_name": "prod", "metadata": {"a": "1"}})).unwrap(),
        at(1),
    )
    .unwrap()
    .unwrap();
    assert_eq!(next.display_name, "prod");
    assert_eq!(next.metadata.get("a").map(String::as_str), Some("1"));
    assert!(
        update_vault(&next, VaultUpdateRequest::default(), at(2))
            .unwrap()
            .is_none()
    );
}

#[test]
fn responses_never_carry_secrets() {
    let (credential, secrets) = create(json!({
        "type": "mcp_oauth",
        "mcp_server_url": "https://mcp.example.com/mcp/",
        "access_token": "at-secret",
        "expires_at": "2030-01-01T00:00:00Z",
        "refresh": {
            "client_id": "cid", "refresh_token": "rt-secret",
            "token_endpoint": "https://auth.example.com/token",
            "token_endpoint_auth": {"type": "client_secret_post", "client_secret": "cs-secret"}
        }
    }))
    .unwrap();
    let text = serde_json::to_string(&credential).unwrap();
    for secret in ["at-secret", "rt-secret", "cs-secret"] {
        assert!(!text.contains(secret), "{secret} leaked into {text}");
    }
    // Kept as sent; compared without the trailing slash.
    assert_eq!(
        credential.auth.mcp_server_url(),
        Some("https://mcp.example.com/mcp/")
    );
    assert_eq!(
        comparable_url("https://MCP.example.com/mcp/").as_deref(),
        Some("https://mcp.example.com/mcp")
    );
    assert_eq!(
        secrets.values().collect::<Vec<_>>(),
        ["at-secret", "rt-secret", "cs-secret"]
    );
    assert_eq!(
        serde_json::to_value(&credential.auth).unwrap()["refresh"]["token_endpoint_auth"],
        json!({"type": "client_secret_post"})
    );
    assert_eq!(format!("{secrets:?}"), "CredentialSecrets(<redacted>)");
}

#[test]
fn updates_rotate_one_field_and_keep_the_type() {
    let current = create(json!({
        "type": "static_bearer", "mcp_server_url": "https://h/mcp", "token": "one"
    }))
    .unwrap();
    let (next, secrets) = update(
        &current,
        json!({"auth": {"type": "static_bearer", "token": "two"}}),
    )
    .unwrap()
    .unwrap();
    assert_eq!(secrets.bearer(), Some("two"));
    assert_eq!(next.auth, current.0.auth);
    assert_eq!(next.updated_at, at(5));
    let err = update(
        &current,
        json!({"auth": {"type": "mcp_oauth", "access_token": "x"}}),
    )
    .unwrap_err();
    assert_eq!(err.field, "auth.type");
    assert!(update(&current, json!({})).unwrap().is_none());
}

#[test]
fn oauth_refresh_settings_can_be_added_and_removed() {
    let current = create(json!({
        "type": "mcp_oauth", "mcp_server_url": "https://h/mcp", "access_token": "a"
    }))
    .unwrap();
    let err = update(
        &current,
        json!({"auth": {"type": "mcp_oauth", "refresh": {"refresh_token": "r"}}}),
    )
    .unwrap_err();
    assert_eq!(err.field, "auth.refresh.client_id");
    let with = update(
        &current,
        json!({"auth": {"type": "mcp_oauth", "refresh": {
            "refresh_token": "r", "client_id": "c", "token_endpoint": "https://h/token"
        }}}),
    )
    .unwrap()
    .unwrap();
    assert_eq!(with.1.refresh_token.as_deref(), Some("r"));
    let without = update(
        &with,
        json!({"auth": {"type": "mcp_oauth", "refresh": null}}),
    )
    .unwrap()
    .unwrap();
    assert_eq!(without.1.refresh_token, None);
    assert!(matches!(
        without.0.auth,
        AuthView::McpOauth { refresh: None, .. }
    ));
}

#[test]
fn environment_variables_are_checked() {
    let err = create(json!({
        "type": "environment_variable", "secret_name": "1BAD", "secret_value": "v",
        "networking": {"type": "unrestricted"}
    }))
    .unwrap_err();
    assert_eq!(err.field, "auth.secret_name");
    let err = create(json!({
        "type": "environment_variable", "secret_name": "API_KEY", "secret_value": "v",
        "networking": {"type": "limited", "allowed_hosts": []}
    }))
    .unwrap_err();
    assert_eq!(err.field, "auth.networking.allowed_hosts");
    let (credential, _) = create(json!({
        "type": "environment_variable", "secret_name": "API_KEY", "secret_value": "v",
        "networking": {"type": "limited", "allowed_hosts": ["API.example.com."]},
        "injection_location": {"body": true}
    }))
    .unwrap();
    let AuthView::EnvironmentVariable {
        networking,
        injection_location,
        ..
    } = credential.auth
    else {
        panic!("wrong kind");
    };
    assert!(networking.allows("api.example.com"));
    assert!(!networking.allows("evil.example.com"));
    assert_eq!(
        injection_location,
        InjectionLocation {
            header: true,
            body: true
        }
    );
}

#[test]
fn urls_must_be_http_without_userinfo() {
    for bad in [
        "ftp://h/x",
        "https://u:p@h/x",
        "not a url",
        "https://h/x#frag",
    ] {
        assert!(
            create(json!({"type": "static_bearer", "mcp_server_url": bad, "token": "t"})).is_err(),
            "{bad} accepted"
        );
    }
}
