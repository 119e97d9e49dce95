//! Files (contract §8.3): uploads, their metadata, and session outputs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

crate::wire_tag!(
    /// The literal `"file"`.
    FileTag = "file"
);
crate::wire_tag!(
    /// The literal `"session"`.
    SessionScopeTag = "session"
);

/// `expires_in_seconds` bounds: one hour to ninety days.
pub const MIN_EXPIRES_IN_SECONDS: i64 = 3_600;
pub const MAX_EXPIRES_IN_SECONDS: i64 = 7_776_000;
/// `ids[]` holds at most this many ids.
pub const MAX_LIST_IDS: usize = 100;
/// Longest stored filename, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FileScope {
    #[serde(rename = "type")]
    pub kind: SessionScopeTag,
    pub id: String,
}

/// A file's metadata, as every response shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FileObject {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: FileTag,
    pub filename: String,
    pub mime_type: String,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub downloadable: bool,
    pub expires_at: Option<DateTime<Utc>>,
    pub scope: Option<FileScope>,
}

/// The media type a filename suggests, for parts sent without one and for outputs.
pub fn guess_mime_type(filename: &str) -> &'static str {
    let lower = filename.to_ascii_lowercase();
    let ext = lower.rsplit_once('.').map_or("", |(_, e)| e);
    match ext {
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "txt" | "log" => "text/plain",
        "md" => "text/markdown",
        "csv" => "text/csv",
        "json" => "application/json",
        "html" | "htm" => "text/html",
        "xml" => "application/xml",
        "yaml" | "yml" => "application/yaml",
        "py" => "text/x-python",
        "rs" | "js" | "ts" | "go" | "java" | "c" | "h" | "cpp" | "sh" | "toml" => "text/plain",
        "zip" => "application/zip",
        "tar" => "application/x-tar",
        "gz" => "application/gzip",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

/// A stored filename: only the last path component, without control characters, at most
/// [`MAX_FILENAME_CHARS`]; `unnamed` (plus an extension for the media type) when nothing is
/// left.
pub fn sanitize_filename(raw: &str, mime_type: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !crate::validation::is_bidi_control(*c))
        .collect::<String>()
        .trim()
        .trim_start_matches('.')
        .chars()
        .take(MAX_FILENAME_CHARS)
        .collect();
    if !cleaned.is_empty() {
        return cleaned;
    }
    let ext = match mime_type {
        "application/pdf" => ".pdf",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "text/plain" => ".txt",
        "text/csv" => ".csv",
        "application/json" => ".json",
        _ => "",
    };
    format!("unnamed{ext}")
}

/// A media type as given by a client, if it looks like one (`type/subtype`, no parameters).
pub fn clean_mime_type(given: &str) -> Option<String> {
    let base = given
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (kind, sub) = base.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    (token(kind) && token(sub)).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_keep_only_a_safe_last_component() {
        assert_eq!(
            sanitize_filename("../../etc/passwd", "text/plain"),
            "passwd"
        );
        assert_eq!(
            sanitize_filename("C:\\Users\\me\\report.pdf", "application/pdf"),
            "report.pdf"
        );
        assert_eq!(sanitize_filename("a\u{0}b\nc.txt", "text/plain"), "abc.txt");
        assert_eq!(sanitize_filename("", "application/pdf"), "unnamed.pdf");
        assert_eq!(sanitize_filename("..", "image/png"), "unnamed.png");
        assert_eq!(
            sanitize_filename(&"x".repeat(400), "text/plain").len(),
            MAX_FILENAME_CHARS
        );
    }

    #[test]
    fn media_types_are_cleaned_or_guessed() {
        assert_eq!(
            clean_mime_type("Text/CSV; charset=utf-8").as_deref(),
            Some("text/csv")
        );
        assert_eq!(clean_mime_type("nonsense"), None);
        assert_eq!(guess_mime_type("report.PDF"), "application/pdf");
        assert_eq!(guess_mime_type("noext"), "application/octet-stream");
    }
}
