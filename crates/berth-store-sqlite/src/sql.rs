//! A tiny builder for queries whose conditions depend on the request: fixed SQL fragments, with
//! every value bound as a numbered parameter.

use berth_store::{EventKind, SessionStatus, stored_status};
use rusqlite::Row;
use rusqlite::types::{Type, Value};

/// Column `idx` of `row` as a session status; text no status has fails the read as corrupt.
/// An event's `type` column as a kind, read without copying the text.
pub fn kind_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<EventKind> {
    let text = row
        .get_ref(idx)?
        .as_str()
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))?;
    Ok(EventKind::parse(text))
}

pub fn status_at(row: &Row<'_>, idx: usize) -> rusqlite::Result<SessionStatus> {
    let text: String = row.get(idx)?;
    stored_status(&text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(e)))
}

pub struct Sql {
    pub text: String,
    pub values: Vec<Value>,
}

impl Sql {
    pub fn new(text: impl Into<String>, values: Vec<Value>) -> Self {
        Self {
            text: text.into(),
            values,
        }
    }

    /// Appends fixed SQL.
    pub fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Appends `fragment` followed by a placeholder bound to `value`.
    pub fn bind(&mut self, fragment: &str, value: Value) -> &mut Self {
        self.values.push(value);
        self.text.push_str(fragment);
        self.text.push_str(&format!("?{}", self.values.len()));
        self
    }

    /// Appends `fragment (?, ?, …)` bound to `items`.
    pub fn bind_list(&mut self, fragment: &str, items: &[String]) -> &mut Self {
        self.text.push_str(fragment);
        self.text.push('(');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.values.push(Value::Text(item.clone()));
            self.text.push_str(&format!("?{}", self.values.len()));
        }
        self.text.push(')');
        self
    }
}
