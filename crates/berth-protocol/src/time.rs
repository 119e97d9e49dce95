//! Time as Berth stores and shows it: microseconds since the Unix epoch in the database, RFC
//! 3339 on the wire. Every clock read goes through [`now`], truncated to what the database keeps,
//! so a value read back equals the value written.

use chrono::{DateTime, Utc};

/// Now, truncated to the microsecond precision the database keeps.
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A time as stored: microseconds since the epoch.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// A stored time back as a date (the epoch for a value out of range).
pub fn from_micros(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or_default()
}
