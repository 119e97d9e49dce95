//! What a session keeps that the API never shows: the sealed tokens of its repository
//! resources. Stored as JSON beside the session's public body and decoded only here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A session's private part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPrivate {
    /// Sealed authorization tokens (base64) by resource id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub resource_tokens: BTreeMap<String, String>,
}

impl SessionPrivate {
    /// Reads the stored form; a session without one has nothing private. Stored text that
    /// does not decode is an error, so a write never replaces what it could not read.
    pub fn decode(stored: Option<&str>) -> Result<Self, serde_json::Error> {
        stored.map_or_else(|| Ok(Self::default()), serde_json::from_str)
    }

    /// The stored form, or `None` when there is nothing to keep.
    pub fn encode(&self) -> Result<Option<String>, serde_json::Error> {
        if self.resource_tokens.is_empty() {
            return Ok(None);
        }
        serde_json::to_string(self).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_what_it_cannot_read() {
        let mut private = SessionPrivate::default();
        assert_eq!(private.encode().unwrap(), None);
        private
            .resource_tokens
            .insert("sesrsc_1".into(), "c2VhbGVk".into());
        let stored = private.encode().unwrap().unwrap();
        assert_eq!(stored, r#"{"resource_tokens":{"sesrsc_1":"c2VhbGVk"}}"#);
        assert_eq!(SessionPrivate::decode(Some(&stored)).unwrap(), private);
        assert_eq!(
            SessionPrivate::decode(None).unwrap(),
            SessionPrivate::default()
        );
        assert!(SessionPrivate::decode(Some("{\"resource_tokens\":")).is_err());
    }
}
