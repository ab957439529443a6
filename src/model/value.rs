//! Typed values: what one cell becomes once converted for its target
//! column's [`SqlType`](super::SqlType) (`record::convert`), and what every
//! sink encodes (PostgreSQL binary COPY and parameters, SQLite storage
//! classes).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};

/// One converted value, ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL (an empty cell in a nullable column).
    Null,
    /// Text (text, varchar, char), trimmed as the rules say.
    Text(String),
    /// An integer for smallint, integer or bigint (range already checked).
    Int(i64),
    /// A float for real or double precision.
    Float(f64),
    /// An exact decimal as canonical text: an optional `-`, digits, and
    /// optionally `.` and digits — no exponent, no leading zeros (but one
    /// `0` before the point), scale already applied (`"12.30"`, `"-0.5"`).
    Numeric(String),
    /// A boolean.
    Bool(bool),
    /// A calendar date.
    Date(NaiveDate),
    /// A date and time without a zone.
    Timestamp(NaiveDateTime),
    /// An instant (timestamptz).
    TimestampTz(DateTime<Utc>),
    /// A time of day.
    Time(NaiveTime),
    /// A UUID.
    Uuid(uuid::Uuid),
    /// Validated JSON text (json and jsonb).
    Json(String),
}

impl Value {
    /// Bytes this value holds on the heap and inline, roughly: what the
    /// batcher counts to bound the memory of units in flight.
    pub fn size_bytes(&self) -> usize {
        std::mem::size_of::<Value>()
            + match self {
                Value::Text(s) | Value::Numeric(s) | Value::Json(s) => s.len(),
                _ => 0,
            }
    }

    /// The value as text, as messages and reject reports show it (dates
    /// in ISO 8601; NULL as the empty string).
    pub fn display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) | Value::Numeric(s) | Value::Json(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => crate::record::format_number(*f),
            Value::Bool(b) => b.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::Timestamp(t) => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            Value::TimestampTz(t) => t.format("%Y-%m-%dT%H:%M:%S%.fZ").to_string(),
            Value::Time(t) => t.format("%H:%M:%S%.f").to_string(),
            Value::Uuid(u) => u.to_string(),
        }
    }

    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}
