//! The forms a secret takes once a program has encoded it, so that redaction catches more than
//! the plain value: base64 (standard and URL-safe, at each of the three alignments a value can
//! have inside a longer encoded text), hexadecimal (both cases) and percent-encoding (both
//! cases).
//!
//! No redaction catches every transformation: a value reversed, split, compressed or encrypted
//! passes. These are the encodings a reflected value meets most often (headers echoed as JSON,
//! `base64`, `xxd -p`, URL query strings).

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};

/// Encoded fragments shorter than this are not looked for: they would match ordinary text.
pub const MIN_FORM_CHARS: usize = 8;

/// The plain value and its encoded forms, longest first, without duplicates or fragments too
/// short to look for.
pub fn encoded_forms(secret: &[u8]) -> Vec<Vec<u8>> {
    let mut forms: Vec<Vec<u8>> = vec![secret.to_vec()];
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3usize {
            forms.extend(aligned_base64(engine, secret, offset));
        }
    }
    forms.push(hex::encode(secret).into_bytes());
    forms.push(hex::encode_upper(secret).into_bytes());
    for upper in [true, false] {
        forms.push(percent_encoded(secret, upper));
    }
    forms.retain(|f| f.len() >= MIN_FORM_CHARS || f == secret);
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();
    forms
}

/// The characters of the secret's base64 that are the same whatever precedes it, when it
/// starts `offset` bytes into a 3-byte group (only whole groups: the last, partial one depends
/// on what follows).
fn aligned_base64(
    engine: &base64::engine::GeneralPurpose,
    secret: &[u8],
    offset: usize,
) -> Option<Vec<u8>> {
    let mut padded = vec![0u8; offset];
    padded.extend_from_slice(secret);
    let whole = padded.len() / 3 * 3;
    let encoded = engine.encode(padded.get(..whole)?);
    // Characters that mix in bits of the preceding bytes: none, two or three.
    let skip = match offset {
        0 => 0,
        1 => 2,
        _ => 3,
    };
    let stable = encoded.as_bytes().get(skip..)?.to_vec();
    (!stable.is_empty()).then_some(stable)
}

/// Every byte outside the unreserved set as `%XX`; `None`-like (the plain value) when nothing
/// needs escaping.
fn percent_encoded(secret: &[u8], upper: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(secret.len() * 3);
    for &b in secret {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else if upper {
            out.extend_from_slice(format!("%{b:02X}").as_bytes());
        } else {
            out.extend_from_slice(format!("%{b:02x}").as_bytes());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found_in(haystack: &str, forms: &[Vec<u8>]) -> bool {
        forms.iter().any(|f| {
            haystack
                .as_bytes()
                .windows(f.len())
                .any(|w| w == f.as_slice())
        })
    }

    #[test]
    fn base64_is_caught_at_every_alignment_and_inside_longer_text() {
        let secret = b"sk-live-0123456789abcdef";
        let forms = encoded_forms(secret);
        for prefix in ["", "a", "ab", "Authorization: Bearer ", "x:"] {
            let mut text = prefix.as_bytes().to_vec();
            text.extend_from_slice(secret);
            text.extend_from_slice(b"\n(trailing)");
            for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                let encoded = engine.encode(&text);
                assert!(found_in(&encoded, &forms), "{prefix:?}: {encoded}");
            }
            let padded = base64::engine::general_purpose::STANDARD.encode(&text);
            assert!(found_in(&padded, &forms), "{padded}");
        }
    }

    #[test]
    fn hex_and_percent_encodings_are_caught() {
        let secret = b"p@ss/word+with=signs";
        let forms = encoded_forms(secret);
        assert!(found_in(&format!("id={}", hex::encode(secret)), &forms));
        assert!(found_in(&hex::encode_upper(secret), &forms));
        assert!(found_in("q=p%40ss%2Fword%2Bwith%3Dsigns&x=1", &forms));
        assert!(found_in("q=p%40ss%2fword%2bwith%3dsigns", &forms));
        assert!(!found_in("an unrelated text of some length", &forms));
    }

    #[test]
    fn short_fragments_are_left_out() {
        for form in encoded_forms(b"abcdef") {
            assert!(form.len() >= MIN_FORM_CHARS || form == b"abcdef");
        }
    }
}
