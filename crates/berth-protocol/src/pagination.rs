//! Page cursors and list parameters shared by every list endpoint (contract §2).
//!
//! Cursors are opaque strings (`page_…`) wrapping a direction and the sort key of the last item
//! returned; the server pages with `WHERE key < cursor` (or `>` for ascending lists), so a page is
//! stable under concurrent inserts. An undecodable cursor is a 400, never a silent restart.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::validation::ValidationError;

const CURSOR_PREFIX: &str = "page_";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Items after the key in the list's order.
    Next,
    /// Items before the key in the list's order (sessions' `prev_page`).
    Prev,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageCursor {
    pub direction: Direction,
    /// The sort key of the boundary item (an id, or a sequence number as text).
    pub key: String,
}

impl PageCursor {
    pub fn next(key: impl Into<String>) -> Self {
        Self {
            direction: Direction::Next,
            key: key.into(),
        }
    }

    pub fn prev(key: impl Into<String>) -> Self {
        Self {
            direction: Direction::Prev,
            key: key.into(),
        }
    }

    pub fn encode(&self) -> String {
        let tag = match self.direction {
            Direction::Next => 'n',
            Direction::Prev => 'p',
        };
        let raw = format!("{tag}:{}", self.key);
        format!("{CURSOR_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw.as_bytes()))
    }

    pub fn decode(field: &str, cursor: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new(field, "is not a cursor this server issued");
        let body = cursor.strip_prefix(CURSOR_PREFIX).ok_or_else(invalid)?;
        let bytes = URL_SAFE_NO_PAD.decode(body).map_err(|_| invalid())?;
        let raw = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (tag, key) = raw.split_once(':').ok_or_else(invalid)?;
        let direction = match tag {
            "n" => Direction::Next,
            "p" => Direction::Prev,
            _ => return Err(invalid()),
        };
        if key.is_empty() || key.len() > 256 {
            return Err(invalid());
        }
        Ok(Self {
            direction,
            key: key.to_owned(),
        })
    }
}

/// Sort order for lists that accept `order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

impl Order {
    pub fn parse(field: &str, value: &str) -> Result<Self, ValidationError> {
        match value {
            "asc" => Ok(Order::Asc),
            "desc" => Ok(Order::Desc),
            other => Err(ValidationError::new(
                field,
                format!("must be \"asc\" or \"desc\", not \"{other}\""),
            )),
        }
    }
}

/// `created_at[gt|gte|lt|lte]` bounds, as microseconds since the epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeRange {
    pub gt: Option<i64>,
    pub gte: Option<i64>,
    pub lt: Option<i64>,
    pub lte: Option<i64>,
}

impl TimeRange {
    pub fn is_empty(&self) -> bool {
        self.gt.is_none() && self.gte.is_none() && self.lt.is_none() && self.lte.is_none()
    }

    /// The tightest inclusive lower bound and exclusive upper bound, for simple SQL.
    pub fn bounds(&self) -> (Option<i64>, Option<i64>) {
        let lower = match (self.gt.map(|v| v.saturating_add(1)), self.gte) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let upper = match (self.lt, self.lte.map(|v| v.saturating_add(1))) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        (lower, upper)
    }

    pub fn contains(&self, micros: i64) -> bool {
        let (lower, upper) = self.bounds();
        lower.is_none_or(|l| micros >= l) && upper.is_none_or(|u| micros < u)
    }
}

/// Parses a timestamp the way the SDKs send them: RFC 3339, or a naive ISO date-time (taken as
/// UTC, which is what Python's `isoformat()` of a naive value means in practice), or a date.
pub fn parse_timestamp(field: &str, value: &str) -> Result<DateTime<Utc>, ValidationError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Ok(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc());
    }
    Err(ValidationError::new(
        field,
        format!("\"{value}\" is not an RFC 3339 timestamp"),
    ))
}

/// A page of results as every list endpoint returns it. `has_more` and the `next_cursor` mirror
/// are the seed's additions; the SDKs read only `data` and `next_page`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_page: Option<String>,
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let c = PageCursor::next("agent_01abc");
        let encoded = c.encode();
        assert!(encoded.starts_with("page_"));
        assert_eq!(PageCursor::decode("page", &encoded).unwrap(), c);
    }

    #[test]
    fn garbage_cursor_is_rejected() {
        assert!(PageCursor::decode("page", "page_!!!").is_err());
        assert!(PageCursor::decode("page", "nope").is_err());
    }

    #[test]
    fn timestamps_in_sdk_formats() {
        for v in [
            "2026-01-01T00:00:00+00:00",
            "2026-01-01T00:00:00Z",
            "2026-01-01T00:00:00",
            "2026-01-01",
        ] {
            let t = parse_timestamp("created_at[gte]", v).unwrap();
            assert_eq!(t.timestamp(), 1_767_225_600, "{v}");
        }
        assert!(parse_timestamp("x", "yesterday").is_err());
    }

    #[test]
    fn time_range_bounds() {
        let r = TimeRange {
            gt: Some(10),
            lte: Some(20),
            ..Default::default()
        };
        assert!(!r.contains(10));
        assert!(r.contains(11));
        assert!(r.contains(20));
        assert!(!r.contains(21));
    }
}
