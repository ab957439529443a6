//! Typed values as MySQL/MariaDB receive them: as statement parameters
//! (integers and doubles binary, everything else as text the server parses
//! under the strict `sql_mode`), and as the tab-separated text of
//! `LOAD DATA LOCAL INFILE` (`\N` for NULL; `\\`, tab, newline, carriage
//! return and NUL escaped with a backslash).
//!
//! Text forms: dates `2024-01-31`, datetimes `2024-01-31 10:30:00.000005`
//! (a timestamptz in UTC: the session's `time_zone` is `+00:00`), times
//! `10:30:00.000005`, the fraction left out when it is zero; booleans
//! `1`/`0`, uuids hyphenated, decimals as their canonical digits.

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
    let mut out = Vec::with_capacity(32);
    push_text(&mut out, value);
    String::from_utf8_lossy(&out).into_owned()
}

/// Appends the value's text form, unescaped (nothing for NULL), written
/// digit by digit: chrono's `format` parses its pattern on every call,
/// which was a tenth of a CSV import's CPU.
fn push_text(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => {}
        Value::Text(s) | Value::Numeric(s) | Value::Json(s) => out.extend_from_slice(s.as_bytes()),
        Value::Int(n) => push_display(out, n),
        Value::Float(f) => push_display(out, format_args!("{f:?}")),
        Value::Bool(b) => out.push(if *b { b'1' } else { b'0' }),
        Value::Date(d) => push_date(out, *d),
        Value::Timestamp(t) => push_datetime(out, *t),
        Value::TimestampTz(t) => push_datetime(out, t.naive_utc()),
        Value::Time(t) => push_time(out, *t),
        Value::Uuid(u) => out.extend_from_slice(
            u.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .as_bytes(),
        ),
    }
}

fn push_display(out: &mut Vec<u8>, v: impl std::fmt::Display) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{v}");
}

/// `n` as `width` digits, zero-padded (`n` < 10^width).
fn push_digits(out: &mut Vec<u8>, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(b'0' + (n / 10u32.pow(place) % 10) as u8);
    }
}

/// `2024-01-31`; years outside 0–9999 as chrono writes them (`+10000`),
/// which the server refuses.
fn push_date(out: &mut Vec<u8>, d: chrono::NaiveDate) {
    use chrono::Datelike;
    match u32::try_from(d.year()) {
        Ok(year) if year <= 9999 => {
            push_digits(out, year, 4);
            out.push(b'-');
            push_digits(out, d.month(), 2);
            out.push(b'-');
            push_digits(out, d.day(), 2);
        }
        _ => push_display(out, d.format("%Y-%m-%d")),
    }
}

fn push_datetime(out: &mut Vec<u8>, t: chrono::NaiveDateTime) {
    push_date(out, t.date());
    out.push(b' ');
    push_time(out, t.time());
}

/// `10:30:00.000005`, or `10:30:00` when the microseconds are zero (the
/// same value to the server, seven bytes fewer to send and parse); the
/// fraction truncated to microseconds as chrono's `%.6f` does; a leap
/// second as chrono writes it.
fn push_time(out: &mut Vec<u8>, t: chrono::NaiveTime) {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    if nanos >= 1_000_000_000 {
        return push_display(out, t.format("%H:%M:%S%.6f"));
    }
    push_digits(out, t.hour(), 2);
    out.push(b':');
    push_digits(out, t.minute(), 2);
    out.push(b':');
    push_digits(out, t.second(), 2);
    if nanos >= 1_000 {
        out.push(b'.');
        push_digits(out, nanos / 1_000, 6);
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
            Value::Text(s) | Value::Json(s) => escape_into(out, s),
            // Digits, signs, points, dashes, colons, spaces, letters: never
            // a byte LOAD DATA splits on or unescapes.
            other => push_text(out, other),
        }
    }
    out.push(b'\n');
}

/// Whether LOAD DATA (ESCAPED BY '\\') needs `b` escaped.
fn special(b: u8) -> bool {
    matches!(b, b'\\' | b'\t' | b'\n' | b'\r' | 0)
}

/// `s` with the LOAD DATA escapes (ESCAPED BY '\\'), copied run by run.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    let mut rest = s.as_bytes();
    while let Some(at) = rest.iter().position(|&b| special(b)) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(match rest[at] {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => b"\\0",
        });
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
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

    #[test]
    fn a_zero_fraction_is_left_out() {
        let ts = chrono::NaiveDate::from_ymd_opt(2024, 1, 31)
            .unwrap()
            .and_hms_opt(10, 30, 0)
            .unwrap();
        assert_eq!(text(&Value::Timestamp(ts)), "2024-01-31 10:30:00");
        assert_eq!(text(&Value::Time(ts.time())), "10:30:00");
    }

    /// The digit-by-digit forms are chrono's `%Y-%m-%d %H:%M:%S%.6f`
    /// (without a zero fraction), over every year and many times.
    #[test]
    fn hand_written_dates_and_times_match_chrono() {
        let chrono_form = |t: chrono::NaiveDateTime| {
            let full = t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            match full.strip_suffix(".000000") {
                Some(short) => short.to_string(),
                None => full,
            }
        };
        for year in (-5..10_005).step_by(7) {
            let Some(day) =
                chrono::NaiveDate::from_ymd_opt(year, 1 + (year.unsigned_abs() % 12), 28)
            else {
                continue;
            };
            let nanos = (u64::from(year.unsigned_abs()) * 7_919_113 % 1_000_000_000) as u32;
            let t = day
                .and_hms_nano_opt(year.unsigned_abs() % 24, 59, 7, nanos)
                .unwrap();
            assert_eq!(text(&Value::Timestamp(t)), chrono_form(t), "{t:?}");
            let whole = day.and_hms_opt(0, 0, 0).unwrap();
            assert_eq!(text(&Value::Timestamp(whole)), chrono_form(whole));
            assert_eq!(text(&Value::Date(day)), day.format("%Y-%m-%d").to_string());
        }
        let leap = chrono::NaiveTime::from_hms_nano_opt(23, 59, 59, 1_500_000_000).unwrap();
        assert_eq!(text(&Value::Time(leap)), "23:59:60.500000");
    }

    #[test]
    fn tsv_text_escapes_every_special_byte_between_plain_runs() {
        let mut out = Vec::new();
        escape_into(&mut out, "\\tx\0\\y\r\n");
        assert_eq!(out, b"\\\\tx\\0\\\\y\\r\\n");
    }
}
