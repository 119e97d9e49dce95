//! Vaults (contract §8.1): named containers of credentials that sessions reference through
//! `vault_ids`, and the pure rules for creating and updating one. Credentials are in
//! [`credential`].

pub mod credential;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::metadata::{self, EmptyValue};
use crate::nullable::Nullable;
use crate::validation::{Validated, ValidationError, check_len, check_name_text};
use crate::{Metadata, Timestamp};

pub const MAX_DISPLAY_NAME_CHARS: usize = 255;
/// Credentials a vault may hold, archived ones included.
pub const MAX_CREDENTIALS_PER_VAULT: u32 = 20;

crate::wire_tag!(
    /// The literal `"vault"`.
    VaultTag = "vault"
);

#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct VaultCreateRequest {
    #[serde(default)]
    pub display_name: Option<String>,
    /// Open Managed Agents' name for `display_name`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub metadata: Option<Metadata>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct VaultUpdateRequest {
    #[serde(default)]
    pub display_name: Nullable<String>,
    #[serde(default)]
    pub name: Nullable<String>,
    #[serde(default)]
    pub metadata: Nullable<BTreeMap<String, Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Vault {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: VaultTag,
    pub display_name: String,
    pub metadata: Metadata,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub archived_at: Option<DateTime<Utc>>,
}

pub fn create_vault(request: VaultCreateRequest, id: String, now: Timestamp) -> Validated<Vault> {
    let display_name = request
        .display_name
        .or(request.name)
        .ok_or_else(|| ValidationError::new("display_name", "is required"))?;
    check_display_name(&display_name)?;
    let metadata = request.metadata.unwrap_or_default();
    metadata::validate(&metadata)?;
    Ok(Vault {
        id,
        kind: VaultTag,
        display_name,
        metadata,
        created_at: now,
        updated_at: now,
        archived_at: None,
    })
}

/// Applies an update; `None` when nothing changes.
pub fn update_vault(
    current: &Vault,
    request: VaultUpdateRequest,
    now: Timestamp,
) -> Validated<Option<Vault>> {
    let mut next = current.clone();
    let display_name = match request.display_name {
        Nullable::Absent => request.name,
        given => given,
    };
    match display_name {
        Nullable::Absent => {}
        Nullable::Null => return Err(ValidationError::new("display_name", "cannot be cleared")),
        Nullable::Value(name) => {
            check_display_name(&name)?;
            next.display_name = name;
        }
    }
    if !request.metadata.is_absent() {
        let patch = match &request.metadata {
            Nullable::Value(p) => Some(p),
            _ => None,
        };
        next.metadata = metadata::apply_patch(&next.metadata, patch, EmptyValue::Keep)?;
    }
    if next == *current {
        return Ok(None);
    }
    next.updated_at = now;
    Ok(Some(next))
}

pub(crate) fn check_display_name(name: &str) -> Validated {
    check_len("display_name", name, 1, MAX_DISPLAY_NAME_CHARS)?;
    check_name_text("display_name", name)
}
