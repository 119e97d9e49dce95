//! Secrets a sandbox sees only as placeholders.
//!
//! A vault credential of type `environment_variable` reaches commands as an environment
//! variable holding a random placeholder (`berth-secret-…`), never the real value. The egress
//! proxy swaps the placeholder for the value in requests to the hosts the credential allows,
//! and only where it allows (headers, body); sent anywhere else the placeholder goes out as it
//! is, so the value never leaves for a host it was not meant for.

use std::fmt;
use std::sync::{Arc, RwLock};

use rand::RngCore;
use zeroize::Zeroize;

use crate::hosts::normalize_host;

/// Every placeholder starts with this, so one is recognisable in logs and outputs.
pub const PLACEHOLDER_PREFIX: &str = "berth-secret-";
/// Random bytes in a placeholder (96 bits, 24 hex characters): unguessable, never a collision.
const PLACEHOLDER_RANDOM_BYTES: usize = 12;
/// Shorter placeholders are refused: substituting a short string would rewrite ordinary text.
const MIN_PLACEHOLDER_CHARS: usize = 16;

/// A fresh placeholder, e.g. `berth-secret-3f9a…` (24 random hex characters).
pub fn new_placeholder() -> String {
    let mut bytes = [0u8; PLACEHOLDER_RANDOM_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{PLACEHOLDER_PREFIX}{}", hex::encode(bytes))
}

/// A secret the sandbox sees only as a placeholder.
#[derive(Clone)]
pub struct InjectedSecret {
    /// Environment variable name the sandbox gets (set to `placeholder`).
    pub env_name: String,
    /// The value commands see, e.g. `berth-secret-<random>`; unguessable, unique per secret
    /// (see [`new_placeholder`]).
    pub placeholder: String,
    /// The real value; wiped from memory on drop and never printed by `Debug`.
    pub value: String,
    /// `None`: any host the environment allows; `Some(hosts)`: only these hosts (exact,
    /// case-insensitive; a scheme, port or path written with a host is ignored).
    pub hosts: Option<Vec<String>>,
    /// Substitute in request header values.
    pub in_headers: bool,
    /// Substitute in request bodies.
    pub in_body: bool,
}

impl InjectedSecret {
    /// A secret with a fresh placeholder, substituted in headers for any allowed host.
    pub fn new(env_name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            env_name: env_name.into(),
            placeholder: new_placeholder(),
            value: value.into(),
            hosts: None,
            in_headers: true,
            in_body: false,
        }
    }

    /// Whether requests to `host` may carry the real value.
    pub fn applies_to(&self, host: &str) -> bool {
        match &self.hosts {
            None => true,
            Some(hosts) => {
                let host = normalize_host(host);
                !host.is_empty() && hosts.iter().any(|h| normalize_host(h) == host)
            }
        }
    }

    /// Whether the value can go into a header without breaking the request apart.
    fn header_safe(&self) -> bool {
        !self.value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0))
    }
}

impl Drop for InjectedSecret {
    fn drop(&mut self) {
        self.value.zeroize();
    }
}

impl fmt::Debug for InjectedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InjectedSecret")
            .field("env_name", &self.env_name)
            .field("placeholder", &self.placeholder)
            .field("value", &"<redacted>")
            .field("hosts", &self.hosts)
            .field("in_headers", &self.in_headers)
            .field("in_body", &self.in_body)
            .finish()
    }
}

/// Why a list of secrets was refused.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("\"{0}\" is not a valid environment variable name")]
    EnvName(String),
    #[error(
        "the placeholder of {0} is shorter than {MIN_PLACEHOLDER_CHARS} characters; use \
         new_placeholder()"
    )]
    ShortPlaceholder(String),
    #[error("{0} and {1} share a placeholder")]
    SharedPlaceholder(String, String),
}

/// Checks a sandbox's new secrets: usable names, long and distinct placeholders.
pub fn validate(secrets: &[InjectedSecret]) -> Result<(), SecretError> {
    for (i, secret) in secrets.iter().enumerate() {
        let name = secret.env_name.as_bytes();
        let valid_name = name
            .first()
            .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_')
            && name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_');
        if !valid_name {
            return Err(SecretError::EnvName(secret.env_name.clone()));
        }
        if secret.placeholder.chars().count() < MIN_PLACEHOLDER_CHARS {
            return Err(SecretError::ShortPlaceholder(secret.env_name.clone()));
        }
        if let Some(other) = secrets
            .iter()
            .skip(i + 1)
            .find(|o| o.placeholder == secret.placeholder)
        {
            return Err(SecretError::SharedPlaceholder(
                secret.env_name.clone(),
                other.env_name.clone(),
            ));
        }
    }
    Ok(())
}

/// A sandbox's current secrets, shared with its proxy, which reads them per request.
#[derive(Clone, Default)]
pub struct SharedSecrets(Arc<RwLock<Arc<[InjectedSecret]>>>);

impl SharedSecrets {
    pub fn current(&self) -> Arc<[InjectedSecret]> {
        match self.0.read() {
            Ok(s) => Arc::clone(&s),
            Err(e) => Arc::clone(&e.into_inner()),
        }
    }

    pub fn replace(&self, secrets: Vec<InjectedSecret>) {
        let secrets: Arc<[InjectedSecret]> = Arc::from(secrets);
        match self.0.write() {
            Ok(mut s) => *s = secrets,
            Err(e) => *e.into_inner() = secrets,
        }
    }
}

/// The secrets that may be substituted in one request.
pub(crate) struct Applicable<'a> {
    secrets: Vec<&'a InjectedSecret>,
}

impl<'a> Applicable<'a> {
    /// The secrets of `all` that requests to `host` may carry.
    pub fn for_host(all: &'a [InjectedSecret], host: &str) -> Self {
        Self {
            secrets: all.iter().filter(|s| s.applies_to(host)).collect(),
        }
    }

    pub fn none() -> Self {
        Self {
            secrets: Vec::new(),
        }
    }

    pub fn in_headers(&self) -> bool {
        self.secrets.iter().any(|s| s.in_headers)
    }

    pub fn in_body(&self) -> bool {
        self.secrets.iter().any(|s| s.in_body)
    }

    /// A header value with the placeholders replaced, if it holds any.
    pub fn header_value(&self, value: &str) -> Option<String> {
        let mut current: Option<String> = None;
        for secret in self
            .secrets
            .iter()
            .filter(|s| s.in_headers && s.header_safe())
        {
            let text = current.as_deref().unwrap_or(value);
            if text.contains(&secret.placeholder) {
                current = Some(text.replace(&secret.placeholder, &secret.value));
            }
        }
        current
    }

    /// A body with the placeholders replaced, if it holds any.
    pub fn body(&self, body: &[u8]) -> Option<Vec<u8>> {
        let mut current: Option<Vec<u8>> = None;
        for secret in self.secrets.iter().filter(|s| s.in_body) {
            let bytes = current.as_deref().unwrap_or(body);
            let replaced = replace_bytes(
                bytes,
                secret.placeholder.as_bytes(),
                secret.value.as_bytes(),
            );
            if let Some(replaced) = replaced
                && let Some(mut old) = current.replace(replaced)
            {
                old.zeroize();
            }
        }
        current
    }
}

/// `haystack` with every `needle` replaced, or `None` when there is none.
fn replace_bytes(haystack: &[u8], needle: &[u8], replacement: &[u8]) -> Option<Vec<u8>> {
    if needle.is_empty() || haystack.len() < needle.len() {
        return None;
    }
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut i = 0;
    while i + needle.len() <= haystack.len() {
        if haystack.get(i..i + needle.len()) == Some(needle) {
            let buffer = out.get_or_insert_with(|| Vec::with_capacity(haystack.len()));
            buffer.extend_from_slice(haystack.get(copied..i).unwrap_or_default());
            buffer.extend_from_slice(replacement);
            i += needle.len();
            copied = i;
        } else {
            i += 1;
        }
    }
    let mut buffer = out?;
    buffer.extend_from_slice(haystack.get(copied..).unwrap_or_default());
    Some(buffer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(hosts: Option<&[&str]>, in_headers: bool, in_body: bool) -> InjectedSecret {
        let mut s = InjectedSecret::new("API_KEY", "real-value");
        s.hosts = hosts.map(|h| h.iter().map(|s| (*s).to_owned()).collect());
        s.in_headers = in_headers;
        s.in_body = in_body;
        s
    }

    #[test]
    fn placeholders_are_random_and_recognisable() {
        let (a, b) = (new_placeholder(), new_placeholder());
        assert_ne!(a, b);
        assert!(a.starts_with(PLACEHOLDER_PREFIX));
        assert_eq!(a.len(), PLACEHOLDER_PREFIX.len() + 24);
    }

    #[test]
    fn debug_never_prints_the_value() {
        let s = secret(None, true, false);
        let printed = format!("{s:?}");
        assert!(!printed.contains("real-value"), "{printed}");
        assert!(printed.contains(&s.placeholder));
    }

    #[test]
    fn hosts_match_exactly_and_case_insensitively() {
        let s = secret(
            Some(&["API.example.com", "https://other.test:8443/x"]),
            true,
            false,
        );
        assert!(s.applies_to("api.example.com"));
        assert!(s.applies_to("Api.Example.Com."));
        assert!(s.applies_to("other.test"));
        assert!(!s.applies_to("eu.api.example.com"));
        assert!(!s.applies_to("example.com"));
        assert!(secret(None, true, false).applies_to("anything.test"));
    }

    #[test]
    fn substitution_respects_headers_and_body_flags() {
        let headers_only = [secret(None, true, false)];
        let p = headers_only[0].placeholder.clone();
        let applicable = Applicable::for_host(&headers_only, "x.test");
        assert_eq!(
            applicable.header_value(&format!("Bearer {p}")).as_deref(),
            Some("Bearer real-value")
        );
        assert_eq!(applicable.header_value("Bearer other"), None);
        assert_eq!(applicable.body(p.as_bytes()), None);

        let body_only = [secret(None, false, true)];
        let p = body_only[0].placeholder.clone();
        let applicable = Applicable::for_host(&body_only, "x.test");
        assert_eq!(applicable.header_value(&p), None);
        assert_eq!(
            applicable.body(format!("{p}&{p}!").as_bytes()),
            Some(b"real-value&real-value!".to_vec())
        );
    }

    #[test]
    fn values_that_would_split_a_header_stay_out_of_headers() {
        let mut one = secret(None, true, true);
        one.value = "a\r\nInjected: yes".into();
        let s = [one];
        let applicable = Applicable::for_host(&s, "x.test");
        assert_eq!(applicable.header_value(&s[0].placeholder), None);
        assert!(applicable.body(s[0].placeholder.as_bytes()).is_some());
    }

    #[test]
    fn invalid_lists_are_refused() {
        assert!(validate(&[secret(None, true, false)]).is_ok());
        let bad_name = InjectedSecret::new("1X", "v");
        assert!(matches!(
            validate(&[bad_name]),
            Err(SecretError::EnvName(_))
        ));
        let mut short = InjectedSecret::new("X", "v");
        short.placeholder = "abc".into();
        assert!(validate(&[short]).is_err());
        let a = InjectedSecret::new("A", "v");
        let mut b = InjectedSecret::new("B", "w");
        b.placeholder = a.placeholder.clone();
        assert!(validate(&[a, b]).is_err());
    }
}
