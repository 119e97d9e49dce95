use super::*;
use pretty_assertions::assert_eq;
use serde_json::{Value, json};

fn now() -> Timestamp {
    chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap()
}

fn create(body: Value) -> Validated<Environment> {
    create_environment(serde_json::from_value(body).unwrap(), "env_x".into(), now())
}

#[test]
fn default_config_is_closed_cloud() {
    let env = create(json!({"name":"e"})).unwrap();
    assert_eq!(
        serde_json::to_value(&env.config).unwrap(),
        json!({"type":"cloud","networking":{"type":"limited","allowed_hosts":[],"allow_mcp_servers":false,"allow_package_managers":false},
               "packages":{"type":"packages","apt":[],"cargo":[],"gem":[],"go":[],"npm":[],"pip":[]}})
    );
}

#[test]
fn partial_config_update_keeps_the_rest() {
    let env = create(json!({"name":"e","config":{"type":"cloud","packages":{"pip":["requests"]},"networking":{"type":"unrestricted"}}})).unwrap();
    let req = serde_json::from_value(json!({"config":{"type":"cloud","networking":{"type":"limited","allowed_hosts":["API.example.com"]}}})).unwrap();
    let next = update_environment(&env, req, now()).unwrap().unwrap();
    let EnvironmentConfig::Cloud(c) = &next.config else {
        panic!()
    };
    assert_eq!(c.packages.pip, vec!["requests".to_owned()]);
    assert_eq!(
        c.networking,
        Networking::Limited {
            allowed_hosts: vec!["API.example.com".into()],
            allow_mcp_servers: false,
            allow_package_managers: false
        }
    );
}

#[test]
fn type_change_is_refused_with_code() {
    let env = create(json!({"name":"e"})).unwrap();
    let req = serde_json::from_value(json!({"config":{"type":"self_hosted"}})).unwrap();
    let err = update_environment(&env, req, now()).unwrap_err();
    assert_eq!(err.error_code, Some("invalid_config_type_change"));
}

#[test]
fn bad_packages_and_hosts_are_refused() {
    let err = create(
        json!({"name":"e","config":{"type":"cloud","packages":{"pip":["--index-url=evil"]}}}),
    )
    .unwrap_err();
    assert_eq!(err.field, "config.packages.pip[0]");
    let err = create(json!({"name":"e","config":{"type":"cloud","networking":{"type":"limited","allowed_hosts":["not a host"]}}})).unwrap_err();
    assert_eq!(err.field, "config.networking.allowed_hosts[0]");
    assert!(validate_host("*.example.com").is_ok());
    assert!(validate_host("10.0.0.1:8080").is_ok());
}

#[test]
fn metadata_empty_string_deletes() {
    let env = create(json!({"name":"e","metadata":{"a":"1"}})).unwrap();
    let req = serde_json::from_value(json!({"metadata":{"a":""}})).unwrap();
    let next = update_environment(&env, req, now()).unwrap().unwrap();
    assert!(next.metadata.is_empty());
}
