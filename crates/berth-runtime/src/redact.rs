//! The redaction pass: every live secret value a session's credentials hold is replaced by
//! [`MASK`] in what the session persists (events and their private parts), whatever put it
//! there — tool output, an MCP server's answer, an error message — in plain form and in the
//! encoded forms programs turn it into (base64, hex, percent-encoding; see
//! [`berth_vault::encoded_forms`]).

use berth_store::NewEvent;

/// What a secret becomes.
pub const MASK: &str = "[redacted]";
/// Shorter values are not masked: they would match ordinary text.
const MIN_SECRET_CHARS: usize = 6;

#[derive(Debug, Default, Clone)]
pub struct Redactor {
    /// Each secret as it appears inside a JSON string (escaped), longest first.
    needles: Vec<String>,
}

impl Redactor {
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(secrets: I) -> Self {
        let mut redactor = Self::default();
        for secret in secrets {
            redactor.add(secret.as_ref());
        }
        redactor
    }

    /// Adds a secret (a refreshed token, say).
    pub fn add(&mut self, secret: &str) {
        if secret.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        let quoted = serde_json::Value::from(secret).to_string();
        let escaped = quoted
            .strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(secret)
            .to_owned();
        let encoded = berth_vault::encoded_forms(secret.as_bytes())
            .into_iter()
            .filter_map(|form| String::from_utf8(form).ok());
        for needle in std::iter::once(escaped).chain(encoded) {
            if !self.needles.contains(&needle) {
                self.needles.push(needle);
            }
        }
        self.needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret masked.
    pub fn apply(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in &self.needles {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }

    /// Masks the secrets in events about to be stored.
    pub fn events(&self, events: &mut [NewEvent]) {
        if self.is_empty() {
            return;
        }
        for event in events {
            event.body = self.apply(&event.body);
            if let Some(private) = &event.private {
                event.private = Some(self.apply(private));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_plain_and_json_escaped_secrets() {
        let r = Redactor::new(["tok-123456", "pa\"ss\\word", "abc"]);
        assert_eq!(r.apply("Bearer tok-123456!"), "Bearer [redacted]!");
        let json = serde_json::to_string("x pa\"ss\\word y").unwrap();
        assert_eq!(r.apply(&json), "\"x [redacted] y\"");
        assert_eq!(r.apply("abc"), "abc", "short values are left alone");
    }

    #[test]
    fn encoded_secrets_are_masked_too() {
        use base64::Engine;
        let secret = "ghp_reflected0123456789";
        let r = Redactor::new([secret]);
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("X-Token: {secret}\n"));
        assert!(!r.apply(&b64).contains(&b64), "{}", r.apply(&b64));
        let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
        assert_eq!(r.apply(&hex), "[redacted]");
        assert!(r.apply(&format!("token={secret}&x")).contains("[redacted]"));
    }

    #[test]
    fn longer_secrets_win_over_their_prefixes() {
        let r = Redactor::new(["secret-1", "secret-1-longer"]);
        assert_eq!(r.apply("secret-1-longer"), "[redacted]");
    }
}
