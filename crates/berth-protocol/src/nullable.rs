//! A field that distinguishes "omitted" from an explicit `null`.
//!
//! The SDKs send `null` to mean "clear this" and leave a key out to mean "keep it" (contract §0.8),
//! so every update body uses `Nullable<T>` with `#[serde(default)]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Nullable<T> {
    /// The key was not in the body: keep the stored value.
    #[default]
    Absent,
    /// The key was present with `null`: clear the stored value.
    Null,
    /// The key carried a value: replace the stored value.
    Value(T),
}

impl<T> Nullable<T> {
    pub fn is_absent(&self) -> bool {
        matches!(self, Nullable::Absent)
    }

    /// `None` when omitted, `Some(None)` for null, `Some(Some(v))` for a value.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Nullable::Absent => None,
            Nullable::Null => Some(None),
            Nullable::Value(v) => Some(Some(v)),
        }
    }

    pub fn as_ref(&self) -> Nullable<&T> {
        match self {
            Nullable::Absent => Nullable::Absent,
            Nullable::Null => Nullable::Null,
            Nullable::Value(v) => Nullable::Value(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Only called when the key is present; `#[serde(default)]` covers the absent case.
        Ok(match Option::<T>::deserialize(deserializer)? {
            None => Nullable::Null,
            Some(v) => Nullable::Value(v),
        })
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Absent | Nullable::Null => serializer.serialize_none(),
            Nullable::Value(v) => v.serialize(serializer),
        }
    }
}

// The schema of a `Nullable<T>` is that of `Option<T>`: the value or `null`. utoipa composes
// generic field types through this (doc-hidden but public) trait.
impl<T: utoipa::__dev::ComposeSchema> utoipa::__dev::ComposeSchema for Nullable<T> {
    fn compose(
        generics: Vec<utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <Option<T> as utoipa::__dev::ComposeSchema>::compose(generics)
    }
}

impl<T: utoipa::ToSchema + utoipa::__dev::ComposeSchema> utoipa::ToSchema for Nullable<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Body {
        #[serde(default)]
        title: Nullable<String>,
    }

    #[test]
    fn distinguishes_absent_null_and_value() {
        let absent: Body = serde_json::from_str("{}").unwrap();
        let null: Body = serde_json::from_str(r#"{"title":null}"#).unwrap();
        let value: Body = serde_json::from_str(r#"{"title":"x"}"#).unwrap();
        assert_eq!(absent.title, Nullable::Absent);
        assert_eq!(null.title, Nullable::Null);
        assert_eq!(value.title, Nullable::Value("x".to_owned()));
    }
}
