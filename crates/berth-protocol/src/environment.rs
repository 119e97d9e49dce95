//! Environments (contract §5.1): the sandbox template a session runs in — its packages and its
//! network policy — and the pure rules for creating and updating one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::metadata::{self, EmptyValue};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_name_text};
use crate::{Metadata, Timestamp};

pub const MAX_NAME_CHARS: usize = 256;
pub const MAX_DESCRIPTION_CHARS: usize = 2048;
pub const MAX_PACKAGES_PER_MANAGER: usize = 100;
pub const MAX_PACKAGE_SPEC_CHARS: usize = 214;
pub const MAX_ALLOWED_HOSTS: usize = 100;

/// Error code the SDK documents for switching between `cloud` and `self_hosted`.
const CONFIG_TYPE_CHANGE: &str = "invalid_config_type_change";

crate::wire_tag!(
    /// The literal `"environment"`.
    EnvironmentTag = "environment"
);
crate::wire_tag!(
    /// The literal `"packages"`.
    PackagesTag = "packages"
);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Organization,
    Account,
}

// ---------------------------------------------------------------- requests

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct EnvironmentCreateRequest {
    pub name: String,
    #[serde(default)]
    pub config: Option<EnvironmentConfigParam>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
    #[serde(default)]
    pub scope: Option<Scope>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EnvironmentUpdateRequest {
    #[serde(default)]
    pub name: Nullable<String>,
    #[serde(default)]
    pub config: Nullable<EnvironmentConfigParam>,
    #[serde(default)]
    pub description: Nullable<String>,
    #[serde(default)]
    pub metadata: Nullable<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub scope: Nullable<Scope>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum EnvironmentConfigParam {
    /// A sandbox Berth runs.
    #[serde(rename = "cloud")]
    Cloud(CloudConfigParam),
    /// A sandbox the customer runs through the work queue.
    #[serde(rename = "self_hosted")]
    SelfHosted(EmptyParam),
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct EmptyParam {}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct CloudConfigParam {
    #[serde(default)]
    pub networking: Option<NetworkingParam>,
    #[serde(default)]
    pub packages: Option<PackagesParam>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NetworkingParam {
    Unrestricted,
    Limited {
        #[serde(default)]
        allowed_hosts: Option<Vec<String>>,
        #[serde(default)]
        allow_mcp_servers: Option<bool>,
        #[serde(default)]
        allow_package_managers: Option<bool>,
    },
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct PackagesParam {
    #[serde(rename = "type", default)]
    pub kind: Option<PackagesTag>,
    #[serde(default)]
    pub apt: Option<Vec<String>>,
    #[serde(default)]
    pub cargo: Option<Vec<String>>,
    #[serde(default)]
    pub gem: Option<Vec<String>>,
    #[serde(default)]
    pub go: Option<Vec<String>>,
    #[serde(default)]
    pub npm: Option<Vec<String>>,
    #[serde(default)]
    pub pip: Option<Vec<String>>,
}

// --------------------------------------------------------------- responses

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Environment {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EnvironmentTag,
    pub name: String,
    pub description: Option<String>,
    pub metadata: Metadata,
    pub scope: Option<Scope>,
    pub config: EnvironmentConfig,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type")]
pub enum EnvironmentConfig {
    #[serde(rename = "cloud")]
    Cloud(CloudConfig),
    #[serde(rename = "self_hosted")]
    SelfHosted(Empty),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CloudConfig {
    pub networking: Networking,
    pub packages: Packages,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Networking {
    /// Outbound HTTP(S) to any public host.
    Unrestricted,
    /// Outbound HTTP(S) only to `allowed_hosts` (plus MCP hosts and package registries when the
    /// flags say so).
    Limited {
        allowed_hosts: Vec<String>,
        allow_mcp_servers: bool,
        allow_package_managers: bool,
    },
}

impl Networking {
    /// Environments are closed to the network unless their config opens them.
    pub fn closed() -> Self {
        Networking::Limited {
            allowed_hosts: Vec::new(),
            allow_mcp_servers: false,
            allow_package_managers: false,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Packages {
    #[serde(rename = "type")]
    pub kind: PackagesTag,
    pub apt: Vec<String>,
    pub cargo: Vec<String>,
    pub gem: Vec<String>,
    pub go: Vec<String>,
    pub npm: Vec<String>,
    pub pip: Vec<String>,
}

impl EnvironmentConfig {
    pub fn default_cloud() -> Self {
        EnvironmentConfig::Cloud(CloudConfig {
            networking: Networking::closed(),
            packages: Packages::default(),
        })
    }

    fn type_name(&self) -> &'static str {
        match self {
            EnvironmentConfig::Cloud(_) => "cloud",
            EnvironmentConfig::SelfHosted(_) => "self_hosted",
        }
    }
}

// -------------------------------------------------------------- resolution

pub fn create_environment(
    request: EnvironmentCreateRequest,
    id: String,
    now: Timestamp,
) -> Validated<Environment> {
    check_name(&request.name)?;
    let metadata = request.metadata.unwrap_or_default();
    metadata::validate(&metadata)?;
    let config = match request.config {
        None => EnvironmentConfig::default_cloud(),
        Some(param) => resolve_config(param, None)?,
    };
    Ok(Environment {
        id,
        kind: EnvironmentTag,
        name: request.name,
        description: check_description(request.description)?,
        metadata,
        scope: request.scope,
        config,
        created_at: now,
        updated_at: now,
        archived_at: None,
    })
}

/// Applies an update; `None` when nothing changes.
pub fn update_environment(
    current: &Environment,
    request: EnvironmentUpdateRequest,
    now: Timestamp,
) -> Validated<Option<Environment>> {
    let mut next = current.clone();
    match request.name {
        Nullable::Absent => {}
        Nullable::Null => return Err(ValidationError::new("name", "cannot be cleared")),
        Nullable::Value(name) => {
            check_name(&name)?;
            next.name = name;
        }
    }
    if let Some(description) = request.description.into_change() {
        // Unlike agents, `""` is stored as given (contract §5.1).
        next.description = check_description(description)?;
    }
    if !request.metadata.is_absent() {
        let patch = match &request.metadata {
            Nullable::Value(p) => Some(p),
            _ => None,
        };
        next.metadata = metadata::apply_patch(&next.metadata, patch, EmptyValue::Deletes)?;
    }
    if let Some(scope) = request.scope.into_change() {
        next.scope = scope;
    }
    match request.config {
        Nullable::Absent => {}
        Nullable::Null => {
            next.config = match current.config {
                EnvironmentConfig::Cloud(_) => EnvironmentConfig::default_cloud(),
                EnvironmentConfig::SelfHosted(_) => EnvironmentConfig::SelfHosted(Empty {}),
            };
        }
        Nullable::Value(param) => next.config = resolve_config(param, Some(&current.config))?,
    }
    if next == *current {
        return Ok(None);
    }
    next.updated_at = now;
    Ok(Some(next))
}

fn check_name(name: &str) -> Validated {
    check_len("name", name, 1, MAX_NAME_CHARS)?;
    check_name_text("name", name)
}

fn check_description(description: Option<String>) -> Validated<Option<String>> {
    if let Some(d) = &description {
        check_len("description", d, 0, MAX_DESCRIPTION_CHARS)?;
    }
    Ok(description)
}

/// Resolves a config request; on update `current` supplies the parts the request leaves out.
fn resolve_config(
    param: EnvironmentConfigParam,
    current: Option<&EnvironmentConfig>,
) -> Validated<EnvironmentConfig> {
    let resolved = match param {
        EnvironmentConfigParam::SelfHosted(_) => EnvironmentConfig::SelfHosted(Empty {}),
        EnvironmentConfigParam::Cloud(cloud) => {
            let base = match current {
                Some(EnvironmentConfig::Cloud(c)) => c.clone(),
                _ => CloudConfig {
                    networking: Networking::closed(),
                    packages: Packages::default(),
                },
            };
            let networking = match cloud.networking {
                None => base.networking,
                Some(n) => resolve_networking(n).map_err(|e| e.within("config.networking"))?,
            };
            let packages = match cloud.packages {
                None => base.packages,
                Some(p) => resolve_packages(p).map_err(|e| e.within("config.packages"))?,
            };
            EnvironmentConfig::Cloud(CloudConfig {
                networking,
                packages,
            })
        }
    };
    if let Some(current) = current
        && current.type_name() != resolved.type_name()
    {
        return Err(ValidationError::new(
            "config.type",
            format!(
                "cannot change an environment from \"{}\" to \"{}\"",
                current.type_name(),
                resolved.type_name()
            ),
        )
        .with_code(CONFIG_TYPE_CHANGE));
    }
    Ok(resolved)
}

fn resolve_networking(param: NetworkingParam) -> Validated<Networking> {
    Ok(match param {
        NetworkingParam::Unrestricted => Networking::Unrestricted,
        NetworkingParam::Limited {
            allowed_hosts,
            allow_mcp_servers,
            allow_package_managers,
        } => {
            let hosts = allowed_hosts.unwrap_or_default();
            if hosts.len() > MAX_ALLOWED_HOSTS {
                return Err(ValidationError::new(
                    "allowed_hosts",
                    format!("at most {MAX_ALLOWED_HOSTS} hosts are allowed"),
                ));
            }
            // Kept as written; a host already listed in another case is listed once.
            let mut kept: Vec<String> = Vec::with_capacity(hosts.len());
            for (i, host) in hosts.into_iter().enumerate() {
                validate_host(&host).map_err(|e| e.within(&format!("allowed_hosts[{i}]")))?;
                if !kept.iter().any(|k| k.eq_ignore_ascii_case(&host)) {
                    kept.push(host);
                }
            }
            Networking::Limited {
                allowed_hosts: kept,
                allow_mcp_servers: allow_mcp_servers.unwrap_or(false),
                allow_package_managers: allow_package_managers.unwrap_or(false),
            }
        }
    })
}

fn resolve_packages(param: PackagesParam) -> Validated<Packages> {
    let check = |field: &str, list: Option<Vec<String>>| -> Validated<Vec<String>> {
        let list = list.unwrap_or_default();
        if list.len() > MAX_PACKAGES_PER_MANAGER {
            return Err(ValidationError::new(
                field,
                format!("at most {MAX_PACKAGES_PER_MANAGER} packages are allowed"),
            ));
        }
        for (i, spec) in list.iter().enumerate() {
            validate_package_spec(spec).map_err(|e| e.within(&format!("{field}[{i}]")))?;
        }
        Ok(list)
    };
    Ok(Packages {
        kind: PackagesTag,
        apt: check("apt", param.apt)?,
        cargo: check("cargo", param.cargo)?,
        gem: check("gem", param.gem)?,
        go: check("go", param.go)?,
        npm: check("npm", param.npm)?,
        pip: check("pip", param.pip)?,
    })
}

/// A package spec such as `requests==2.31`, `left-pad@1.3.0` or `github.com/x/y@v1`. Specs are
/// passed to package managers as single arguments, so whitespace, shell metacharacters and a
/// leading `-` (which a manager would read as an option) are refused.
fn validate_package_spec(spec: &str) -> Validated {
    check_len("", spec, 1, MAX_PACKAGE_SPEC_CHARS)?;
    if spec.starts_with('-') {
        return Err(ValidationError::new("", "must not start with '-'"));
    }
    let ok = spec.chars().all(|c| {
        c.is_ascii_alphanumeric()
            || matches!(
                c,
                '.' | '_'
                    | '-'
                    | '='
                    | '<'
                    | '>'
                    | '~'
                    | '^'
                    | '@'
                    | '/'
                    | ':'
                    | '+'
                    | '['
                    | ']'
                    | ','
                    | '*'
                    | '!'
            )
    });
    if !ok {
        return Err(ValidationError::new(
            "",
            format!("\"{spec}\" is not a package name with an optional version"),
        ));
    }
    Ok(())
}

/// A host name or IP address, optionally with a leading `*.` wildcard and a `:port`.
pub fn validate_host(host: &str) -> Validated {
    let invalid = || {
        ValidationError::new(
            "",
            format!(
                "\"{host}\" is not a host name (e.g. \"api.example.com\" or \"*.example.com\")"
            ),
        )
    };
    if host.is_empty() || host.len() > 261 {
        return Err(invalid());
    }
    let without_wildcard = host.strip_prefix("*.").unwrap_or(host);
    let name = match without_wildcard.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') => {
            port.parse::<u16>().map_err(|_| invalid())?;
            name
        }
        _ => without_wildcard,
    };
    if name.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let labels_ok = name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if labels_ok { Ok(()) } else { Err(invalid()) }
}

#[cfg(test)]
mod tests;
