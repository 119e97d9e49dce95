//! Secrets reflected back: a destination that echoes what it received (headers, a body) would
//! hand the real value of a secret to the sandbox, which put only its placeholder in the
//! request. So every response from a host a secret applies to has the secret's value — plain
//! or in the encoded forms of [`berth_vault::encoded_forms`] — replaced by the secret's
//! placeholder, in its headers and in its body, as the body streams.
//!
//! The body is passed on in chunks, so a replacement may change its length. A compressed body
//! cannot be searched: requests to these hosts ask for none, and a compressed answer is
//! refused.

use crate::secrets::InjectedSecret;

/// What to look for in responses from one host, and what to put instead.
pub(crate) struct Reflection {
    /// (form of a value, the placeholder that replaces it), longest forms first.
    needles: Vec<(Vec<u8>, Vec<u8>)>,
    /// Whether some needle starts with this byte (a quick test before comparing).
    starts: [bool; 256],
}

impl Reflection {
    /// The reflection guard for `secrets`, or `None` when there are none.
    pub fn for_secrets<'a>(secrets: impl IntoIterator<Item = &'a InjectedSecret>) -> Option<Self> {
        let mut needles: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for secret in secrets {
            if secret.value.is_empty() {
                continue;
            }
            for form in berth_vault::encoded_forms(secret.value.as_bytes()) {
                needles.push((form, secret.placeholder.as_bytes().to_vec()));
            }
        }
        if needles.is_empty() {
            return None;
        }
        needles.sort_by_key(|(form, _)| std::cmp::Reverse(form.len()));
        let mut starts = [false; 256];
        for (form, _) in &needles {
            if let Some(first) = form.first() {
                starts[usize::from(*first)] = true;
            }
        }
        Some(Self { needles, starts })
    }

    /// A header value with the secrets replaced.
    pub fn header_value(&self, value: &str) -> String {
        let mut stream = self.stream();
        let mut out = stream.push(value.as_bytes());
        out.extend(stream.finish());
        String::from_utf8(out).unwrap_or_else(|_| value.to_owned())
    }

    pub fn stream(&self) -> StreamRedaction<&Self> {
        StreamRedaction {
            guard: self,
            pending: Vec::new(),
        }
    }

    /// A redaction that owns the guard, for a body that outlives the request.
    pub fn into_stream(self) -> StreamRedaction<Box<Self>> {
        StreamRedaction {
            guard: Box::new(self),
            pending: Vec::new(),
        }
    }

    /// The needle that matches `bytes` at its start, if any.
    fn match_at(&self, bytes: &[u8]) -> Option<&(Vec<u8>, Vec<u8>)> {
        let first = *bytes.first()?;
        if !self.starts[usize::from(first)] {
            return None;
        }
        self.needles
            .iter()
            .find(|(form, _)| bytes.starts_with(form))
    }

    /// Whether `tail` (the end of what has arrived) could be the start of a needle.
    fn could_start(&self, tail: &[u8]) -> bool {
        self.needles
            .iter()
            .any(|(form, _)| form.len() > tail.len() && form.starts_with(tail))
    }
}

/// Redaction of one body as it streams: bytes are passed on as soon as they cannot be part of
/// a secret; only the end of a chunk that could begin one waits for the next chunk.
pub(crate) struct StreamRedaction<G> {
    guard: G,
    pending: Vec<u8>,
}

impl<G: std::ops::Deref<Target = Reflection>> StreamRedaction<G> {
    /// The next piece of the body; returns what can be passed on now.
    pub fn push(&mut self, input: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(input);
        self.drain(false)
    }

    /// The end of the body: whatever was held back.
    pub fn finish(&mut self) -> Vec<u8> {
        self.drain(true)
    }

    fn drain(&mut self, at_end: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pending.len());
        let mut i = 0;
        while let Some(rest) = self.pending.get(i..).filter(|r| !r.is_empty()) {
            if let Some((form, placeholder)) = self.guard.match_at(rest) {
                out.extend_from_slice(placeholder);
                i += form.len();
                continue;
            }
            if !at_end && self.guard.could_start(rest) {
                break;
            }
            out.push(rest[0]);
            i += 1;
        }
        self.pending.drain(..i);
        out
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn guard() -> (Reflection, String) {
        let secret = InjectedSecret::new("API_KEY", "sk-reflected-0123456789");
        let placeholder = secret.placeholder.clone();
        (Reflection::for_secrets([&secret]).unwrap(), placeholder)
    }

    fn through(guard: &Reflection, pieces: &[&[u8]]) -> Vec<u8> {
        let mut stream = guard.stream();
        let mut out = Vec::new();
        for piece in pieces {
            out.extend(stream.push(piece));
        }
        out.extend(stream.finish());
        out
    }

    #[test]
    fn values_split_across_pieces_are_replaced() {
        let (guard, placeholder) = guard();
        let out = through(
            &guard,
            &[b"{\"auth\": \"Bearer sk-refl", b"ected-0123", b"456789\"}"],
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!("{{\"auth\": \"Bearer {placeholder}\"}}")
        );
    }

    #[test]
    fn encoded_values_are_replaced_and_other_bytes_pass_unchanged() {
        let (guard, placeholder) = guard();
        let encoded = base64::engine::general_purpose::STANDARD
            .encode("authorization: Bearer sk-reflected-0123456789\r\n");
        let out = String::from_utf8(through(&guard, &[encoded.as_bytes()])).unwrap();
        assert!(out.contains(&placeholder), "{out}");
        let plain: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        assert_eq!(through(&guard, &[&plain[..2000], &plain[2000..]]), plain);
    }

    #[test]
    fn only_a_possible_start_is_held_back() {
        let (guard, _) = guard();
        let mut stream = guard.stream();
        assert_eq!(stream.push(b"data: hello\n\n"), b"data: hello\n\n");
        assert_eq!(stream.push(b"data: sk-re"), b"data: ");
        assert_eq!(stream.push(b"ad\n"), b"sk-read\n");
        assert_eq!(
            guard.header_value("x sk-reflected-0123456789 y"),
            format!(
                "x {} y",
                guard.needles[0]
                    .1
                    .iter()
                    .map(|b| *b as char)
                    .collect::<String>()
            )
        );
    }
}
