//! Values in PostgreSQL's binary wire format, one encoder per column type
//! (the formats of PostgreSQL's `*_send` functions): what binary COPY sends
//! for each field.
//!
//! | type | bytes |
//! |---|---|
//! | smallint / integer / bigint | 2 / 4 / 8, big-endian two's complement |
//! | real / double precision | IEEE 754, 4 / 8 bytes, big-endian |
//! | numeric | ndigits, weight, sign, dscale (16 bits each), then ndigits base-10000 digits (16 bits each) |
//! | boolean | 1 byte, 0 or 1 |
//! | date | days since 2000-01-01, 32 bits |
//! | timestamp / timestamptz | µs since 2000-01-01 00:00:00 (UTC for timestamptz), 64 bits |
//! | time | µs since midnight, 64 bits |
//! | uuid | its 16 bytes |
//! | json | the UTF-8 text |
//! | jsonb | version byte 1, then the UTF-8 text |
//! | text / varchar / char | the UTF-8 text |
//!
//! This is the COPY hot path: nothing is allocated per field beyond the
//! output buffer (numeric digits are computed straight from the text).

use bytes::{BufMut, BytesMut};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::model::{SqlType, Value};

/// Days from 0001-01-01 (day 1 of the common era) to 2000-01-01,
/// PostgreSQL's epoch.
const PG_EPOCH_DAYS_FROM_CE: i32 = 730_120;
const USECS_PER_DAY: i64 = 86_400_000_000;
/// The first day PostgreSQL's date and timestamp types hold: 4714-11-24 BC
/// (proleptic Gregorian year -4713), as days from the epoch.
const PG_MIN_DAY: i32 = -2_451_545;
/// One past the last µs a timestamp holds (294277-01-01 00:00:00).
const PG_END_TIMESTAMP: i64 = 9_223_371_331_200_000_000;
/// PostgreSQL's largest display scale of a numeric.
const NUMERIC_MAX_DSCALE: usize = 0x3FFF;
const NUMERIC_NEG: u16 = 0x4000;

/// Appends one COPY field: its 32-bit byte length (-1 for NULL) and its
/// bytes in the binary format of `ty`. `Err` names why the value cannot be
/// sent as that type (the caller rejects the row).
pub fn put_field(buf: &mut BytesMut, value: &Value, ty: &SqlType) -> Result<(), String> {
    match (ty, value) {
        (_, Value::Null) => buf.put_i32(-1),
        (SqlType::SmallInt, Value::Int(i)) => {
            let v = i16::try_from(*i).map_err(|_| out_of_range(*i, ty))?;
            buf.put_i32(2);
            buf.put_i16(v);
        }
        (SqlType::Integer, Value::Int(i)) => {
            let v = i32::try_from(*i).map_err(|_| out_of_range(*i, ty))?;
            buf.put_i32(4);
            buf.put_i32(v);
        }
        (SqlType::BigInt, Value::Int(i)) => {
            buf.put_i32(8);
            buf.put_i64(*i);
        }
        (SqlType::Real, Value::Float(f)) => {
            let v = *f as f32;
            if f.is_finite() && !v.is_finite() {
                return Err(out_of_range(f, ty));
            }
            buf.put_i32(4);
            buf.put_f32(v);
        }
        (SqlType::Double, Value::Float(f)) => {
            buf.put_i32(8);
            buf.put_f64(*f);
        }
        (SqlType::Numeric { .. }, Value::Numeric(text)) => put_numeric(buf, text)?,
        (SqlType::Boolean, Value::Bool(b)) => {
            buf.put_i32(1);
            buf.put_u8(u8::from(*b));
        }
        (SqlType::Date, Value::Date(d)) => {
            buf.put_i32(4);
            buf.put_i32(pg_days(*d)?);
        }
        (SqlType::Timestamp, Value::Timestamp(t)) => {
            buf.put_i32(8);
            buf.put_i64(pg_timestamp(t)?);
        }
        (SqlType::TimestampTz, Value::TimestampTz(t)) => {
            buf.put_i32(8);
            buf.put_i64(pg_timestamp(&t.naive_utc())?);
        }
        (SqlType::Time, Value::Time(t)) => {
            buf.put_i32(8);
            buf.put_i64(pg_time(t)?);
        }
        (SqlType::Uuid, Value::Uuid(u)) => {
            buf.put_i32(16);
            buf.put_slice(u.as_bytes());
        }
        (SqlType::Json, Value::Json(s)) => put_bytes(buf, &[], s)?,
        (SqlType::Jsonb, Value::Json(s)) => put_bytes(buf, &[1], s)?,
        (SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_), Value::Text(s)) => {
            put_bytes(buf, &[], s)?
        }
        (ty, other) => {
            return Err(format!(
                "{} cannot be written to a column of type {ty}",
                describe_kind(other)
            ))
        }
    }
    Ok(())
}

/// `3000000000 is out of range for integer`.
fn out_of_range(v: impl std::fmt::Display, ty: &SqlType) -> String {
    format!("{v} is out of range for {ty}")
}

/// What kind of value a mismatched `Value` is, for the message.
fn describe_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "NULL",
        Value::Text(_) => "a text value",
        Value::Int(_) => "an integer value",
        Value::Float(_) => "a floating-point value",
        Value::Numeric(_) => "a numeric value",
        Value::Bool(_) => "a boolean value",
        Value::Date(_) => "a date value",
        Value::Timestamp(_) => "a timestamp value",
        Value::TimestampTz(_) => "a timestamptz value",
        Value::Time(_) => "a time value",
        Value::Uuid(_) => "a uuid value",
        Value::Json(_) => "a json value",
    }
}

/// Length, an optional prefix (jsonb's version byte) and the text's bytes.
fn put_bytes(buf: &mut BytesMut, prefix: &[u8], text: &str) -> Result<(), String> {
    let len = i32::try_from(prefix.len() + text.len())
        .map_err(|_| "the value is over 2 GiB".to_string())?;
    buf.put_i32(len);
    buf.put_slice(prefix);
    buf.put_slice(text.as_bytes());
    Ok(())
}

/// Days since 2000-01-01, refusing days before PostgreSQL's first.
fn pg_days(d: NaiveDate) -> Result<i32, String> {
    let days = d.num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE;
    if days < PG_MIN_DAY {
        return Err(format!(
            "{} is before 4714-11-24 BC, the first date PostgreSQL holds",
            d.format("%Y-%m-%d")
        ));
    }
    Ok(days)
}

/// µs since midnight, nanoseconds rounded to the nearest µs (as PostgreSQL
/// rounds text input); a leap second counts into the next second.
fn micros_of_day(t: &NaiveTime) -> i64 {
    i64::from(t.num_seconds_from_midnight()) * 1_000_000 + (i64::from(t.nanosecond()) + 500) / 1000
}

/// µs since 2000-01-01 00:00:00, within PostgreSQL's timestamp range.
fn pg_timestamp(t: &NaiveDateTime) -> Result<i64, String> {
    let days = t.date().num_days_from_ce() - PG_EPOCH_DAYS_FROM_CE;
    let us = i64::from(days) * USECS_PER_DAY + micros_of_day(&t.time());
    if days < PG_MIN_DAY || us >= PG_END_TIMESTAMP {
        return Err(format!(
            "{} is outside the range of PostgreSQL timestamps (4714-11-24 BC to 294276 AD)",
            t.format("%Y-%m-%dT%H:%M:%S%.f")
        ));
    }
    Ok(us)
}

/// µs since midnight; at most 24:00:00.
fn pg_time(t: &NaiveTime) -> Result<i64, String> {
    let us = micros_of_day(t);
    if us > USECS_PER_DAY {
        return Err(format!(
            "{} is outside the range of PostgreSQL times",
            t.format("%H:%M:%S%.f")
        ));
    }
    Ok(us)
}

/// The parts of a canonical decimal text: sign, integer digits without
/// leading zeros, fraction digits as written (their count is the scale).
struct Decimal<'a> {
    negative: bool,
    int: &'a [u8],
    frac: &'a [u8],
}

/// Splits and checks `-123.4500`-style text (a `+` and leading zeros are
/// tolerated).
fn parse_decimal(text: &str) -> Result<Decimal<'_>, String> {
    let bad = || format!("{text:?} is not a decimal number");
    let b = text.as_bytes();
    let (negative, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    let (int, frac) = match digits.iter().position(|&c| c == b'.') {
        Some(p) => (&digits[..p], &digits[p + 1..]),
        None => (digits, &digits[digits.len()..]),
    };
    if int.is_empty() && frac.is_empty() || !int.iter().chain(frac).all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let lead = int.iter().take_while(|&&c| c == b'0').count();
    Ok(Decimal {
        negative,
        int: &int[lead..],
        frac,
    })
}

/// Appends a numeric in `numeric_send`'s format: ndigits, weight, sign,
/// dscale, then base-10000 digits grouped from the decimal point, with
/// leading and trailing zero groups left out (zero is no digits at all).
fn put_numeric(buf: &mut BytesMut, text: &str) -> Result<(), String> {
    let d = parse_decimal(text)?;
    let dscale = d.frac.len();
    if dscale > NUMERIC_MAX_DSCALE {
        return Err(format!(
            "{text} has more than {NUMERIC_MAX_DSCALE} digits after the point"
        ));
    }
    let frac = &d.frac[..d.frac.len() - d.frac.iter().rev().take_while(|&&c| c == b'0').count()];
    // The digits laid out as groups of four aligned on the decimal point:
    // `pad` zeros, the integer digits, the fraction digits, zeros.
    let pad = (4 - d.int.len() % 4) % 4;
    let int_groups = (pad + d.int.len()) / 4;
    let digit = |i: usize| -> i16 {
        let i = i.wrapping_sub(pad);
        let c = if i < d.int.len() {
            d.int[i]
        } else {
            *frac.get(i.wrapping_sub(d.int.len())).unwrap_or(&b'0')
        };
        i16::from(c - b'0')
    };
    let group = |g: usize| (0..4).fold(0i16, |acc, k| acc * 10 + digit(g * 4 + k));
    let first_nonzero = match d.int.is_empty() {
        false => Some(pad),
        true => frac.iter().position(|&c| c != b'0').map(|z| pad + z),
    };
    let Some(first_nonzero) = first_nonzero else {
        // Zero: no digits, weight 0, positive, the scale as written.
        buf.put_i32(8);
        buf.put_slice(&[0, 0, 0, 0, 0, 0]);
        buf.put_u16(dscale as u16);
        return Ok(());
    };
    let last_nonzero = match frac.is_empty() {
        false => pad + d.int.len() + frac.len() - 1,
        true => pad + d.int.iter().rposition(|&c| c != b'0').unwrap_or(0),
    };
    let (first, last) = (first_nonzero / 4, last_nonzero / 4);
    let ndigits = last - first + 1;
    let weight = int_groups as i64 - 1 - first as i64;
    let (Ok(n), Ok(weight)) = (i16::try_from(ndigits), i16::try_from(weight)) else {
        return Err(format!("{text} has too many digits for numeric"));
    };
    let len = i32::from(n) * 2 + 8;
    buf.reserve(4 + len as usize);
    buf.put_i32(len);
    buf.put_i16(n);
    buf.put_i16(weight);
    buf.put_u16(if d.negative { NUMERIC_NEG } else { 0 });
    buf.put_u16(dscale as u16);
    for g in first..=last {
        buf.put_i16(group(g));
    }
    Ok(())
}

#[cfg(test)]
#[path = "encode_tests.rs"]
mod tests;
