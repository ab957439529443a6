//! Typed values as SQLite stores them: numbers and booleans as INTEGER or
//! REAL, dates and times as ISO 8601 TEXT, uuids as hyphenated TEXT, json
//! as its TEXT.
//!
//! SQLite has no exact decimal: a [`Value::Numeric`] is stored as INTEGER
//! when it is integral and fits 64 bits, as REAL when its digits survive a
//! double (at most 15 significant digits, within a double's normal range),
//! and otherwise as TEXT. A column declared NUMERIC/DECIMAL has NUMERIC
//! affinity, and SQLite itself turns number-like TEXT in such a column
//! into REAL, losing the digits beyond the 15th; [`check_exact`] says when
//! that would happen, so the caller can reject the row instead.

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

use crate::model::{SqlType, Value};

/// Most significant digits every decimal keeps through a double (DBL_DIG).
const EXACT_DIGITS: usize = 15;

/// The value in its SQLite storage class (owned).
pub fn to_sqlite(value: &Value) -> rusqlite::types::Value {
    match SqliteValue(value).output() {
        ToSqlOutput::Borrowed(v) => v.into(),
        ToSqlOutput::Owned(v) => v,
        _ => unreachable!("output() makes only borrowed or owned values"),
    }
}

/// A [`Value`] bound as a statement parameter without copying its text.
#[derive(Debug, Clone, Copy)]
pub struct SqliteValue<'a>(pub &'a Value);

impl SqliteValue<'_> {
    fn output(&self) -> ToSqlOutput<'_> {
        use rusqlite::types::Value as S;
        match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Text(s) | Value::Json(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Int(i) => ToSqlOutput::Owned(S::Integer(*i)),
            Value::Bool(b) => ToSqlOutput::Owned(S::Integer(i64::from(*b))),
            Value::Float(f) => ToSqlOutput::Owned(S::Real(*f)),
            Value::Numeric(s) => match numeric_storage(s) {
                Stored::Integer(i) => ToSqlOutput::Owned(S::Integer(i)),
                Stored::Real(f) => ToSqlOutput::Owned(S::Real(f)),
                Stored::Text => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            },
            // ISO 8601, as `Value::display` writes them: `2024-01-31`,
            // `2024-01-31T10:30:00`, `…Z` for timestamptz, `10:30:00`.
            Value::Date(_)
            | Value::Timestamp(_)
            | Value::TimestampTz(_)
            | Value::Time(_)
            | Value::Uuid(_) => ToSqlOutput::Owned(S::Text(self.0.display())),
        }
    }
}

impl ToSql for SqliteValue<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(self.output())
    }
}

/// `Err` when SQLite would not keep `value` exactly in a column of type
/// `ty`: a numeric with more significant digits than a double holds, which
/// NUMERIC affinity would round to a REAL.
pub fn check_exact(value: &Value, ty: &SqlType) -> Result<(), String> {
    match (value, ty) {
        (Value::Numeric(s), SqlType::Numeric { .. })
            if matches!(numeric_storage(s), Stored::Text) =>
        {
            Err(format!(
                "{s} has more significant digits than SQLite keeps in a numeric column \
                 ({EXACT_DIGITS}); declare the column TEXT to keep them all"
            ))
        }
        _ => Ok(()),
    }
}

/// Which storage class a canonical decimal text gets.
enum Stored {
    Integer(i64),
    Real(f64),
    Text,
}

fn numeric_storage(text: &str) -> Stored {
    let signed_int = text.split_once('.').map_or(text, |(i, _)| i);
    let unsigned = text.trim_start_matches(['-', '+']);
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if frac.bytes().all(|c| c == b'0') {
        if let Ok(i) = signed_int.parse::<i64>() {
            return Stored::Integer(i);
        }
    }
    let digits = || int.bytes().chain(frac.bytes());
    let lead = digits().take_while(|&c| c == b'0').count();
    let total = int.len() + frac.len();
    if lead == total {
        return Stored::Text; // not a decimal at all: leave it to SQLite
    }
    let trail = digits().rev().take_while(|&c| c == b'0').count();
    let significant = total - lead - trail;
    // The decimal exponent of the first significant digit.
    let exponent = int.len() as i64 - 1 - lead as i64;
    if significant <= EXACT_DIGITS && (-307..=308).contains(&exponent) {
        if let Ok(f) = text.parse::<f64>() {
            return Stored::Real(f);
        }
    }
    Stored::Text
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::types::Value as S;

    fn num(s: &str) -> S {
        to_sqlite(&Value::Numeric(s.into()))
    }

    #[test]
    fn numerics_are_integer_when_integral_real_when_exact_and_text_otherwise() {
        assert_eq!(num("12"), S::Integer(12));
        assert_eq!(num("-12.00"), S::Integer(-12));
        assert_eq!(num("-9223372036854775808"), S::Integer(i64::MIN));
        assert_eq!(num("12.30"), S::Real(12.3));
        assert_eq!(num("-0.0001"), S::Real(-0.0001));
        assert_eq!(num("123456789012.345"), S::Real(123_456_789_012.345));
        assert_eq!(num("100000000000000000000000"), S::Real(1e23), "beyond i64");
        let over = "9223372036854775808";
        assert_eq!(num(over), S::Text(over.into()), "19 digits");
        let big = "123456789012345678901234567890.12345";
        assert_eq!(num(big), S::Text(big.into()));
        assert_eq!(
            num("1234567890.123456"),
            S::Text("1234567890.123456".into())
        );
        let tiny = format!("0.{}1", "0".repeat(400));
        assert_eq!(num(&tiny), S::Text(tiny.clone()));
    }

    #[test]
    fn only_numerics_beyond_a_double_are_inexact_in_sqlite() {
        let ty = SqlType::Numeric {
            precision: None,
            scale: None,
        };
        assert!(check_exact(&Value::Numeric("12.30".into()), &ty).is_ok());
        let e = check_exact(&Value::Numeric("1234567890.123456".into()), &ty).unwrap_err();
        assert!(
            e.contains("more significant digits than SQLite keeps"),
            "{e}"
        );
        assert!(check_exact(&Value::Text("1234567890.123456".into()), &SqlType::Text).is_ok());
    }

    #[test]
    fn booleans_are_integers_and_dates_iso_text() {
        assert_eq!(to_sqlite(&Value::Bool(true)), S::Integer(1));
        assert_eq!(to_sqlite(&Value::Bool(false)), S::Integer(0));
        let d = chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap();
        assert_eq!(to_sqlite(&Value::Date(d)), S::Text("2024-01-31".into()));
        let t = d.and_hms_opt(10, 30, 0).unwrap();
        assert_eq!(
            to_sqlite(&Value::Timestamp(t)),
            S::Text("2024-01-31T10:30:00".into())
        );
        assert_eq!(
            to_sqlite(&Value::TimestampTz(t.and_utc())),
            S::Text("2024-01-31T10:30:00Z".into())
        );
        assert_eq!(to_sqlite(&Value::Null), S::Null);
    }
}
