//! Typed conversion with a spreadsheet's semantics: one cell becomes the
//! [`Value`] its target column's [`SqlType`] stores, or a reason a person
//! accepts for why it cannot (`3000000000 is out of range for integer`).
//! The caller names the cell and column around the reason. Nothing is
//! ever rounded, truncated or guessed: a value that does not fit exactly
//! is refused. One function per target type; numbers live in `number.rs`,
//! dates and times in `datetime.rs`. docs/FORMATS.md has the whole table.

mod datetime;
mod number;

use super::{format_number, is_space, unusable};
use crate::model::{Cell, SqlType, Value};

/// Options that change how text is read as a typed value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConvertOptions {
    /// A chrono format (`%d/%m/%Y`) for dates written as text in another
    /// layout than ISO 8601 (`--date-format`); never guessed.
    pub date_format: Option<String>,
}

impl ConvertOptions {
    /// Options with a `--date-format`, checked once: a format chrono
    /// cannot read, or one that cannot name a whole date, date and time,
    /// or time of day (`%d/%m`: no year), is an error naming it.
    pub fn with_date_format(fmt: &str) -> Result<ConvertOptions, String> {
        datetime::check_format(fmt)?;
        Ok(ConvertOptions {
            date_format: Some(fmt.to_string()),
        })
    }
}

/// A cell with a value, borrowed and trimmed: what every per-type
/// function reads.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Input<'a> {
    /// Text, trimmed, not empty.
    Text(&'a str),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// ISO 8601 text made by the reader from a date cell.
    DateTime(&'a str),
}

impl Input<'_> {
    /// The value as the spreadsheet shows it (numbers by the
    /// 15-significant-digit rule, booleans as TRUE/FALSE).
    fn display(&self) -> String {
        match self {
            Input::Text(s) | Input::DateTime(s) => s.to_string(),
            Input::Int(i) => i.to_string(),
            Input::Float(f) => format_number(*f),
            Input::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        }
    }
}

/// Why `input` is not `wanted` (`TRUE is a boolean, not a number`).
fn not_a(input: Input<'_>, wanted: &str) -> String {
    let shown = input.display();
    match input {
        Input::Text(_) => format!("'{shown}' is not {wanted}"),
        Input::Int(_) | Input::Float(_) => format!("{shown} is a number, not {wanted}"),
        Input::Bool(_) => format!("{shown} is a boolean, not {wanted}"),
        Input::DateTime(_) => format!("{shown} is a date, not {wanted}"),
    }
}

/// Converts `cell` for a column of type `ty`: `Ok(Value::Null)` for an
/// empty cell or one of only white space (the caller decides whether NULL
/// is allowed), `Err(reason)` when the value does not fit the type, or
/// for an error cell or a formula without a cached value.
pub fn convert(cell: &Cell, ty: &SqlType, opts: &ConvertOptions) -> Result<Value, String> {
    let input = match cell {
        Cell::Empty => return Ok(Value::Null),
        Cell::Text(s) => match s.trim_matches(is_space) {
            "" => return Ok(Value::Null),
            t => Input::Text(t),
        },
        Cell::DateTime(s) if s.is_empty() => return Ok(Value::Null),
        Cell::DateTime(s) => Input::DateTime(s),
        Cell::Int(i) => Input::Int(*i),
        Cell::Float(f) => Input::Float(*f),
        Cell::Bool(b) => Input::Bool(*b),
        Cell::Error(_) | Cell::FormulaWithoutValue(_) => {
            return Err(unusable(cell).unwrap_or_default())
        }
    };
    match ty {
        SqlType::SmallInt | SqlType::Integer | SqlType::BigInt => number::integer(input, ty),
        SqlType::Numeric { precision, scale } => number::numeric(input, *precision, *scale, ty),
        SqlType::Real | SqlType::Double => number::float(input, ty),
        SqlType::Boolean => boolean(input),
        SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz | SqlType::Time => {
            datetime::convert(input, ty, opts)
        }
        SqlType::Uuid => uuid(input),
        SqlType::Json | SqlType::Jsonb => json(input, ty),
        SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_) => text(input, ty),
    }
}

/// text, varchar(n), char(n): the text the cell shows (numbers by the
/// 15-significant-digit rule, booleans TRUE/FALSE, dates ISO 8601), at
/// most n characters. `char` without a length is `char(1)`, as in
/// PostgreSQL.
fn text(input: Input<'_>, ty: &SqlType) -> Result<Value, String> {
    let s = input.display();
    text_fits(&s, ty)?;
    Ok(Value::Text(s))
}

/// Whether text `s` fits text column type `ty`: at most n characters for
/// varchar(n) and char(n) (`char` without a length is `char(1)`, as in
/// PostgreSQL), anything for text.
pub(super) fn text_fits(s: &str, ty: &SqlType) -> Result<(), String> {
    let limit = match ty {
        SqlType::Char(None) => Some(1),
        other => other.max_chars(),
    };
    if let Some(n) = limit {
        // Bytes bound characters from above: count only when it matters.
        if s.len() > n as usize {
            let chars = s.chars().count();
            if chars > n as usize {
                return Err(format!(
                    "the text is {chars} characters long; {ty} holds {n}"
                ));
            }
        }
    }
    Ok(())
}

/// boolean: a TRUE/FALSE cell; the numbers 1 and 0; the text true/false,
/// yes/no, y/n, t/f or 1/0 in any case.
fn boolean(input: Input<'_>) -> Result<Value, String> {
    let expected = "expected TRUE/FALSE, yes/no, y/n, t/f or 1/0";
    match input {
        Input::Bool(b) => Ok(Value::Bool(b)),
        Input::Int(1) => Ok(Value::Bool(true)),
        Input::Int(0) => Ok(Value::Bool(false)),
        Input::Float(1.0) => Ok(Value::Bool(true)),
        Input::Float(0.0) => Ok(Value::Bool(false)),
        Input::Text(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "t" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "f" | "0" => Ok(Value::Bool(false)),
            _ => Err(format!("'{s}' is not a boolean ({expected})")),
        },
        Input::Int(_) | Input::Float(_) => {
            Err(format!("{} is not a boolean ({expected})", input.display()))
        }
        Input::DateTime(_) => Err(not_a(input, "a boolean")),
    }
}

/// uuid: 32 hex digits in any case, with or without hyphens, braces or a
/// `urn:uuid:` prefix; stored canonically.
fn uuid(input: Input<'_>) -> Result<Value, String> {
    let Input::Text(s) = input else {
        return Err(not_a(input, "a UUID"));
    };
    uuid::Uuid::try_parse(s).map(Value::Uuid).map_err(|_| {
        format!("'{s}' is not a UUID (expected 32 hex digits such as 123e4567-e89b-12d3-a456-426614174000)")
    })
}

/// json, jsonb: text that parses as JSON, stored as written (trimmed). A
/// number cell is a JSON number, a boolean cell `true`/`false`. jsonb
/// cannot hold the character U+0000, so `\u0000` is refused there.
fn json(input: Input<'_>, ty: &SqlType) -> Result<Value, String> {
    let s = match input {
        Input::Text(s) => s.to_string(),
        Input::Int(i) => i.to_string(),
        Input::Float(f) if f.is_finite() => format_number(f),
        Input::Bool(b) => b.to_string(),
        Input::Float(_) | Input::DateTime(_) => return Err(not_a(input, "JSON")),
    };
    if let Err(e) = serde_json::from_str::<serde::de::IgnoredAny>(&s) {
        return Err(format!("'{s}' is not valid JSON: {e}"));
    }
    if *ty == SqlType::Jsonb && s.contains("\\u0000") && holds_nul(&s) {
        return Err(format!(
            "'{s}' holds the character U+0000, which jsonb cannot store"
        ));
    }
    Ok(Value::Json(s))
}

/// True when valid JSON `s` has a string containing U+0000.
fn holds_nul(s: &str) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::String(s) => s.contains('\0'),
            serde_json::Value::Array(a) => a.iter().any(walk),
            serde_json::Value::Object(o) => o.iter().any(|(k, v)| k.contains('\0') || walk(v)),
            _ => false,
        }
    }
    serde_json::from_str(s).is_ok_and(|v| walk(&v))
}

#[cfg(test)]
mod datetime_tests;
#[cfg(test)]
mod number_tests;
#[cfg(test)]
mod tests;
