//! The rules for a memory's path and content, and the content's SHA-256.
//!
//! Paths are compared byte for byte after Unicode NFC normalisation, so `"/café"` typed with a
//! precomposed `é` and with `e` + a combining accent name the same memory, while `"/Notes"` and
//! `"/notes"` are two memories (paths are case-sensitive, contract §8.2). A path is a file's
//! place under the store's mount directory, which is why `.` and `..` segments are refused and
//! why a path never ends with `/`: a trailing slash names a directory (the `memory_prefix`
//! roll-ups of a list), never a memory.

use sha2::{Digest, Sha256};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

use crate::validation::{Validated, ValidationError};

/// Longest path, in UTF-8 bytes after normalisation.
pub const MAX_PATH_BYTES: usize = 1_024;
/// Most `/`-separated segments in a path.
pub const MAX_PATH_SEGMENTS: usize = 20;
/// Largest content, in UTF-8 bytes ("100 kB (102,400 bytes)" in the SDK's documentation).
pub const MAX_CONTENT_BYTES: usize = 102_400;
/// Unicode's format characters (general category Cf, as of Unicode 15) and the line and
/// paragraph separators: invisible in a path, or able to make it display as another.
pub fn is_format_or_separator(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x2028..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// A SHA-256 digest in hex.
const SHA256_HEX_LEN: usize = 64;

/// Normalises a path to NFC and checks it: it starts with `/`, has 1 to
/// [`MAX_PATH_SEGMENTS`] segments, none of them empty, `.` or `..`, holds no control
/// characters or backslashes, does not end with `/`, and is at most [`MAX_PATH_BYTES`] long.
/// Returns the normalised path, which is the one to store and compare.
pub fn normalize_path(path: &str) -> Validated<String> {
    let invalid = |message: &str| Err(ValidationError::new("path", message));
    let path: String = match is_nfc_quick(path.chars()) {
        IsNormalized::Yes => path.to_owned(),
        IsNormalized::No | IsNormalized::Maybe => path.nfc().collect(),
    };
    if path.is_empty() {
        return invalid("must not be empty");
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(ValidationError::new(
            "path",
            format!(
                "must be at most {MAX_PATH_BYTES} bytes in UTF-8 (got {})",
                path.len()
            ),
        ));
    }
    if path.chars().any(char::is_control) {
        return invalid("must not contain control characters");
    }
    if path.chars().any(is_format_or_separator) {
        return invalid(
            "must not contain format characters (such as U+200B or U+202E) or the line and \
             paragraph separators U+2028 and U+2029",
        );
    }
    // OMA refuses backslashes too: a path becomes a file name under the mount directory, and a
    // `\` there reads as a separator to anything Windows-minded.
    if path.contains('\\') {
        return invalid("must not contain '\\'");
    }
    let Some(rest) = path.strip_prefix('/') else {
        return invalid("must start with '/'");
    };
    if rest.is_empty() {
        return invalid("must name a memory below '/', such as \"/notes.md\"");
    }
    if rest.ends_with('/') {
        return invalid("must not end with '/' (that names a directory, not a memory)");
    }
    let mut segments = 0;
    for segment in rest.split('/') {
        segments += 1;
        match segment {
            "" => return invalid("must not contain empty segments (\"//\")"),
            "." | ".." => return invalid("must not contain '.' or '..' segments"),
            _ => {}
        }
    }
    if segments > MAX_PATH_SEGMENTS {
        return Err(ValidationError::new(
            "path",
            format!("must have at most {MAX_PATH_SEGMENTS} segments (got {segments})"),
        ));
    }
    Ok(path)
}

/// Checks a memory's content: at most [`MAX_CONTENT_BYTES`] bytes of UTF-8 (a `String` is
/// always valid UTF-8, so only the size is left to check).
pub fn check_content(content: &str) -> Validated {
    if content.len() > MAX_CONTENT_BYTES {
        return Err(ValidationError::new(
            "content",
            format!(
                "must be at most {MAX_CONTENT_BYTES} bytes in UTF-8 (got {})",
                content.len()
            ),
        ));
    }
    Ok(())
}

/// The SHA-256 of the content's UTF-8 bytes, in lowercase hex: a memory's `content_sha256`.
pub fn content_sha256(content: &str) -> String {
    hex::encode(Sha256::digest(content.as_bytes()))
}

/// Reads a client's expected `content_sha256` (a precondition or `?expected_content_sha256=`):
/// 64 hex digits, returned in lowercase so it compares equal to what Berth computes.
pub fn parse_sha256(field: &str, value: &str) -> Validated<String> {
    if value.len() != SHA256_HEX_LEN || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ValidationError::new(
            field,
            "must be a SHA-256 digest in hex (64 characters)",
        ));
    }
    Ok(value.to_ascii_lowercase())
}
