//! Metadata rules shared by every resource: at most 16 keys, keys up to 64 characters, values
//! up to 512, and updates that patch key by key (a `null` value deletes the key).

use std::collections::BTreeMap;

use crate::Metadata;
use crate::validation::{Validated, ValidationError};

pub const MAX_METADATA_KEYS: usize = 16;
pub const MAX_METADATA_KEY_CHARS: usize = 64;
pub const MAX_METADATA_VALUE_CHARS: usize = 512;

/// Error code the SDK documents for metadata that breaks the limits.
const INVALID_METADATA: &str = "invalid_metadata";

pub fn validate(metadata: &Metadata) -> Validated {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ValidationError::new(
            "metadata",
            format!(
                "has {} keys; at most {MAX_METADATA_KEYS} are allowed",
                metadata.len()
            ),
        )
        .with_code(INVALID_METADATA));
    }
    for (key, value) in metadata {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_METADATA_KEY_CHARS {
            return Err(ValidationError::new(
                "metadata",
                format!("key \"{key}\" must be 1 to {MAX_METADATA_KEY_CHARS} characters"),
            )
            .with_code(INVALID_METADATA));
        }
        if value.chars().count() > MAX_METADATA_VALUE_CHARS {
            return Err(ValidationError::new(
                format!("metadata.{key}"),
                format!("value must be at most {MAX_METADATA_VALUE_CHARS} characters"),
            )
            .with_code(INVALID_METADATA));
        }
    }
    Ok(())
}

/// How an update treats an empty-string value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmptyValue {
    /// `""` is stored as an empty value (agents, sessions).
    Keep,
    /// `""` deletes the key, like `null` (environments, contract §5.1).
    Deletes,
}

/// Applies a metadata patch: string values upsert, `null` deletes. A `null` patch clears all keys.
pub fn apply_patch(
    current: &Metadata,
    patch: Option<&BTreeMap<String, Option<String>>>,
    empty: EmptyValue,
) -> Validated<Metadata> {
    let Some(patch) = patch else {
        return Ok(Metadata::new());
    };
    let mut next = current.clone();
    for (key, value) in patch {
        match value {
            Some(v) if !(v.is_empty() && empty == EmptyValue::Deletes) => {
                next.insert(key.clone(), v.clone());
            }
            _ => {
                next.remove(key);
            }
        }
    }
    validate(&next)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn patch_upserts_and_deletes() {
        let current = map(&[("a", "1"), ("b", "2")]);
        let patch: BTreeMap<String, Option<String>> = [
            ("a".to_owned(), None),
            ("c".to_owned(), Some("3".to_owned())),
        ]
        .into_iter()
        .collect();
        let next = apply_patch(&current, Some(&patch), EmptyValue::Keep).unwrap();
        assert_eq!(next, map(&[("b", "2"), ("c", "3")]));
    }

    #[test]
    fn empty_string_deletes_only_when_asked() {
        let current = map(&[("a", "1")]);
        let patch: BTreeMap<String, Option<String>> = [("a".to_owned(), Some(String::new()))]
            .into_iter()
            .collect();
        assert!(
            apply_patch(&current, Some(&patch), EmptyValue::Deletes)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            apply_patch(&current, Some(&patch), EmptyValue::Keep).unwrap(),
            map(&[("a", "")])
        );
    }

    #[test]
    fn rejects_too_many_keys() {
        let big: Metadata = (0..17).map(|i| (format!("k{i}"), "v".to_owned())).collect();
        let err = validate(&big).unwrap_err();
        assert_eq!(err.error_code, Some("invalid_metadata"));
    }
}
