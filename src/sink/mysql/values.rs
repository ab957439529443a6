//! Typed values as MySQL/MariaDB receive them: as statement parameters
//! (integers and doubles binary, everything else as text the server parses
//! under the strict `sql_mode`), and as the tab-separated text of
//! `LOAD DATA LOCAL INFILE` (`\N` for NULL; `\\`, tab, newline, carriage
//! return and NUL escaped with a backslash).
//!
//! Text forms: dates `2024-01-31`, datetimes `2024-01-31 10:30:00.000000`
//! (a timestamptz in UTC: the session's `time_zone` is `+00:00`), times
//! `10:30:00.000000`, booleans `1`/`0`, uuids hyphenated, decimals as
//! their canonical digits.

use mysql_async::Value as My;

use crate::model::Value;

/// The value as a statement parameter.
pub fn param(value: &Value) -> My {
    match value {
        Value::Null => My::NULL,
        Value::Int(i) => My::Int(*i),
        Value::Float(f) => My::Double(*f),
        Value::Bool(b) => My::Int(i64::from(*b)),
        Value::Text(s) | Value::Numeric(s) | Value::Json(s) => My::Bytes(s.as_bytes().to_vec()),
        other => My::Bytes(text(other).into_bytes()),
    }
}

/// The value as MySQL parses it from text (not for NULL).
fn text(value: &Value) -> String {
    match value {
        Value::Date(d) => d.format("%Y-%m-%d").to_string(),
        Value::Timestamp(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Value::TimestampTz(t) => t.naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
        Value::Time(t) => t.format("%H:%M:%S%.6f").to_string(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Float(f) => format!("{f:?}"),
        other => other.display(),
    }
}

/// Appends one row of `LOAD DATA` text (fields tab-separated, the line
/// ended by `\n`) to `out`.
pub fn push_tsv_row(out: &mut Vec<u8>, values: &[Value]) {
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            out.push(b'\t');
        }
        match v {
            Value::Null => out.extend_from_slice(b"\\N"),
            Value::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Value::Text(s) | Value::Numeric(s) | Value::Json(s) => escape_into(out, s),
            other => escape_into(out, &text(other)),
        }
    }
    out.push(b'\n');
}

/// `s` with the LOAD DATA escapes (ESCAPED BY '\\').
fn escape_into(out: &mut Vec<u8>, s: &str) {
    for &b in s.as_bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0 => out.extend_from_slice(b"\\0"),
            _ => out.push(b),
        }
    }
}

/// Roughly how many bytes `value` takes in an execute packet.
pub fn wire_size(value: &Value) -> usize {
    match value {
        Value::Text(s) | Value::Numeric(s) | Value::Json(s) => s.len() + 9,
        _ => 32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tsv_escapes_what_load_data_would_split_on_and_writes_null_as_backslash_n() {
        let mut out = Vec::new();
        push_tsv_row(
            &mut out,
            &[
                Value::Text("a\tb\nc\\d\r".into()),
                Value::Null,
                Value::Text("\\N".into()),
                Value::Bool(true),
                Value::Int(-7),
            ],
        );
        assert_eq!(out, b"a\\tb\\nc\\\\d\\r\t\\N\t\\\\N\t1\t-7\n");
    }

    #[test]
    fn dates_and_times_are_sent_as_mysql_parses_them() {
        let ts = chrono::NaiveDate::from_ymd_opt(2024, 1, 31)
            .unwrap()
            .and_hms_micro_opt(10, 30, 0, 5)
            .unwrap();
        assert_eq!(text(&Value::Timestamp(ts)), "2024-01-31 10:30:00.000005");
        assert_eq!(
            text(&Value::TimestampTz(ts.and_utc())),
            "2024-01-31 10:30:00.000005"
        );
        assert_eq!(text(&Value::Date(ts.date())), "2024-01-31");
    }
}
