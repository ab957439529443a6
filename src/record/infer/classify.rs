//! One cell → the inferable types its value survives unchanged (a
//! [`Claim`]): a cheap, allocation-free mirror of `record::convert` that is
//! stricter than it, never looser. `convert` accepts `007` as the integer
//! 7; inference must not, because the zeros would be lost.

use crate::model::{Cell, SqlType};
use crate::record::is_space;

/// The candidate types, one bit each, in preference order (narrowest
/// first). Text is not a bit: every value survives text.
pub const BOOLEAN: u16 = 1 << 0;
pub const INTEGER: u16 = 1 << 1;
pub const BIGINT: u16 = 1 << 2;
pub const NUMERIC: u16 = 1 << 3;
pub const DATE: u16 = 1 << 4;
pub const TIMESTAMP: u16 = 1 << 5;
pub const TIMESTAMPTZ: u16 = 1 << 6;
pub const TIME: u16 = 1 << 7;
pub const UUID: u16 = 1 << 8;
/// Every candidate: where a column starts before its first value.
pub const ALL: u16 = (1 << 9) - 1;

/// The largest precision PostgreSQL's numeric declares.
pub const MAX_NUMERIC_DIGITS: u16 = 1000;

/// What one cell allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The cell says nothing about the type: empty, white space only, an
    /// error value or a formula without a cached value (its row is
    /// rejected whatever the type).
    Nothing,
    /// The value survives exactly these types (0: only text).
    Types(u16),
    /// A number: these types, and as a decimal this many integer digits
    /// and decimals (`12.50` → 2, 2).
    Number {
        /// The candidate bits (always including [`NUMERIC`]).
        types: u16,
        /// Digits before the point (none for `0.5`).
        int_digits: u16,
        /// Digits after the point, as written (text) or as Excel shows
        /// the number (15 significant digits).
        scale: u16,
        /// Whether SQLite keeps the value exactly in a numeric column (an
        /// integer within 64 bits, or at most 15 significant digits:
        /// `sink::sqlite::values::check_exact`).
        sqlite_exact: bool,
    },
}

/// The type a candidate bit stands for (text for none); numeric with the
/// given precision and scale.
pub fn type_of(bit: u16, precision: u16, scale: u16) -> SqlType {
    match bit {
        BOOLEAN => SqlType::Boolean,
        INTEGER => SqlType::Integer,
        BIGINT => SqlType::BigInt,
        NUMERIC => SqlType::Numeric {
            precision: Some(precision),
            scale: Some(scale),
        },
        DATE => SqlType::Date,
        TIMESTAMP => SqlType::Timestamp,
        TIMESTAMPTZ => SqlType::TimestampTz,
        TIME => SqlType::Time,
        UUID => SqlType::Uuid,
        _ => SqlType::Text,
    }
}

/// In debug builds, the cells of the first this many rows are also
/// checked against `convert` itself, claim by claim, so every test that
/// infers (the corpus included) checks the classifier.
#[cfg(debug_assertions)]
pub const CHECKED_ROWS: u64 = 2_000;

/// Panics unless `convert` accepts `cell` for every type `claim` names
/// (numbers: for the smallest numeric(p,s) the claim's digits give, and
/// SQLite keeps the value exactly when the claim says so).
#[cfg(debug_assertions)]
pub fn check(cell: &Cell, claim: Claim) {
    use crate::record::convert::{convert, ConvertOptions};
    use crate::sink::sqlite::values::check_exact;
    let (types, precision, scale, sqlite_exact) = match claim {
        Claim::Nothing => return,
        Claim::Types(types) => (types, 1, 0, false),
        Claim::Number {
            types,
            int_digits,
            scale,
            sqlite_exact,
        } => (types, (int_digits + scale).max(1), scale, sqlite_exact),
    };
    for bit in (0..16).map(|i| 1u16 << i).filter(|b| types & b != 0) {
        let ty = type_of(bit, precision, scale);
        let value = convert(cell, &ty, &ConvertOptions::default()).unwrap_or_else(|why| {
            panic!("inference claimed {ty} for {cell:?}, which convert refuses: {why}")
        });
        if bit == NUMERIC && sqlite_exact {
            if let Err(why) = check_exact(&value, &ty) {
                panic!("inference claimed SQLite keeps {cell:?} exactly: {why}");
            }
        }
    }
}

/// Classifies one cell.
pub fn classify(cell: &Cell) -> Claim {
    match cell {
        Cell::Empty | Cell::Error(_) | Cell::FormulaWithoutValue(_) => Claim::Nothing,
        Cell::Bool(_) => Claim::Types(BOOLEAN),
        Cell::Int(i) => integer(*i),
        Cell::Float(f) => float(*f),
        Cell::Text(s) => text(s.trim_matches(is_space)),
        Cell::DateTime(s) => match s.is_empty() {
            true => Claim::Nothing,
            false => Claim::Types(temporal(s.as_bytes())),
        },
    }
}

fn integer(i: i64) -> Claim {
    let types = if i32::try_from(i).is_ok() {
        INTEGER | BIGINT | NUMERIC
    } else {
        BIGINT | NUMERIC
    };
    let digits = if i == 0 {
        0
    } else {
        i.unsigned_abs().ilog10() + 1
    };
    Claim::Number {
        types,
        int_digits: digits as u16,
        scale: 0,
        sqlite_exact: true,
    }
}

/// A number cell. Whole numbers below 10^15 are exact integers; anything
/// else is a decimal as Excel shows it (15 significant digits, so
/// 0.1+0.2 is 0.3), measured on the text `format_number` writes.
fn float(f: f64) -> Claim {
    if !f.is_finite() {
        return Claim::Types(0);
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return integer(f as i64);
    }
    // `record::format_number`'s text, without its allocations. When the
    // shortest text that reads back as `f` has at most 15 significant
    // digits, rounding to 15 digits gives that same text: skip it.
    use std::fmt::Write;
    let mut buf = StackText::default();
    if write!(buf, "{f}").is_err() {
        return Claim::Types(0);
    }
    if significant_digits(buf.as_str()) > 15 {
        buf.len = 0;
        if write!(buf, "{f:.14e}").is_err() {
            return Claim::Types(0);
        }
        let rounded: f64 = buf.as_str().parse().unwrap_or(f);
        buf.len = 0;
        if write!(buf, "{rounded}").is_err() {
            return Claim::Types(0);
        }
    }
    match decimal(buf.as_str().trim_start_matches('-').as_bytes()) {
        Some(d) => number(d),
        None => Claim::Types(0),
    }
}

/// Significant digits of a plain decimal text (`-0.00120` → 2).
fn significant_digits(s: &str) -> usize {
    let digits = s.trim_start_matches(['-', '0', '.']).as_bytes();
    let last = digits.iter().rposition(|c| matches!(c, b'1'..=b'9'));
    let digits = &digits[..last.map_or(0, |i| i + 1)];
    digits.iter().filter(|c| c.is_ascii_digit()).count()
}

/// A decimal's claim: numeric only.
fn number(d: Decimal) -> Claim {
    if d.int_digits + d.scale > MAX_NUMERIC_DIGITS as usize {
        return Claim::Types(0);
    }
    Claim::Number {
        types: NUMERIC,
        int_digits: d.int_digits as u16,
        scale: d.scale as u16,
        sqlite_exact: d.sqlite_exact,
    }
}

/// A text cell, trimmed as `cell_text` trims it.
fn text(t: &str) -> Claim {
    if t.is_empty() {
        return Claim::Nothing;
    }
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return Claim::Types(BOOLEAN);
    }
    let b = t.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.first().is_some_and(u8::is_ascii_digit) {
        if let Some(d) = decimal(digits) {
            if d.scale > 0 {
                return number(d);
            }
            // Beyond i64 a digit string is an identifier, not a quantity.
            return match t.parse::<i64>() {
                Ok(i) => integer(i),
                Err(_) => Claim::Types(0),
            };
        }
    }
    if is_uuid(b) {
        return Claim::Types(UUID);
    }
    Claim::Types(temporal(b))
}

/// A plain decimal's shape.
#[derive(Debug, Clone, Copy)]
struct Decimal {
    /// Digits before the point, not counting a lone `0`.
    int_digits: usize,
    /// Digits after the point.
    scale: usize,
    /// SQLite keeps it exactly (see [`Claim::Number`]).
    sqlite_exact: bool,
}

/// `123`, `0`, `12.50`, `0.5` (no sign, no exponent, no separators, no
/// leading zero before another digit, at least one digit either side of a
/// point).
fn decimal(b: &[u8]) -> Option<Decimal> {
    let (int, frac) = match b.iter().position(|&c| c == b'.') {
        Some(dot) => (&b[..dot], Some(&b[dot + 1..])),
        None => (b, None),
    };
    let all_digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !all_digits(int) || (int.len() > 1 && int[0] == b'0') {
        return None;
    }
    let frac = match frac {
        Some(f) if all_digits(f) => f,
        Some(_) => return None,
        None => &b""[..],
    };
    Some(Decimal {
        int_digits: if int == b"0" { 0 } else { int.len() },
        scale: frac.len(),
        sqlite_exact: sqlite_exact(int, frac),
    })
}

/// Mirrors `sink::sqlite::values`' numeric storage for digits `int.frac`
/// (no leading zeros but a lone `0`): an integer within 64 bits (the
/// fraction zeros), or a REAL of at most 15 significant digits and a
/// decimal exponent from -307 to 308. (A 19-digit integer is counted
/// inexact even when it fits 64 bits: stricter, never looser.)
fn sqlite_exact(int: &[u8], frac: &[u8]) -> bool {
    if frac.iter().all(|&c| c == b'0') && int.len() <= 18 {
        return true;
    }
    let total = int.len() + frac.len();
    let digits = || int.iter().chain(frac);
    let lead = digits().take_while(|&&c| c == b'0').count();
    if lead == total {
        return true; // zero
    }
    let trail = digits().rev().take_while(|&&c| c == b'0').count();
    let exponent = int.len() as i64 - 1 - lead as i64;
    total - lead - trail <= 15 && (-307..=308).contains(&exponent)
}

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits, either case.
fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// ISO 8601: `YYYY-MM-DD` → date (or timestamp at midnight);
/// `YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]` → timestamp, and with `Z` or
/// `±HH:MM` after the seconds → timestamptz; `HH:MM[:SS[.ffffff]]` → time;
/// a duration under a day (`PT10H30M0S`: ODS time cells, Excel `[h]:mm`
/// cells) → time. Nothing else (no other layouts, no more than
/// microseconds).
fn temporal(b: &[u8]) -> u16 {
    if b.len() >= 10 && date(&b[..10]) {
        let rest = &b[10..];
        if rest.is_empty() {
            return DATE | TIMESTAMP;
        }
        if !matches!(rest[0], b'T' | b' ') {
            return 0;
        }
        return match time_of_day(&rest[1..]) {
            Some(([], _)) => TIMESTAMP,
            Some((zone, true)) if offset(zone) => TIMESTAMPTZ,
            _ => 0,
        };
    }
    match time_of_day(b) {
        Some(([], _)) => TIME,
        _ if under_a_day(b) => TIME,
        _ => 0,
    }
}

/// `PT[nH][nM][n[.ffffff]S]` of less than 24 hours (each unit at most
/// once, in that order; a fraction on the seconds only, at most
/// microseconds), as `convert` reads a duration for a time column.
fn under_a_day(b: &[u8]) -> bool {
    let Some(mut rest) = b.strip_prefix(b"PT") else {
        return false;
    };
    if rest.is_empty() {
        return false;
    }
    let mut micros: u64 = 0;
    for (unit, scale) in [(b'H', 3_600_000_000), (b'M', 60_000_000), (b'S', 1_000_000)] {
        let Some(i) = rest.iter().position(|&c| c == unit) else {
            continue;
        };
        let (whole, frac) = match rest[..i].iter().position(|&c| c == b'.') {
            Some(dot) if unit == b'S' => (&rest[..dot], &rest[dot + 1..i]),
            Some(_) => return false,
            None => (&rest[..i], &b""[..]),
        };
        let digits = |d: &[u8]| d.iter().all(u8::is_ascii_digit);
        if whole.is_empty() || whole.len() > 5 || !digits(whole) || frac.len() > 6 || !digits(frac)
        {
            return false;
        }
        let frac_micros = frac.iter().fold(0, |n, c| n * 10 + u64::from(c - b'0'))
            * 10u64.pow(6 - frac.len() as u32);
        let whole = whole.iter().fold(0, |n, c| n * 10 + u64::from(c - b'0'));
        micros += whole * scale + frac_micros;
        rest = &rest[i + 1..];
    }
    rest.is_empty() && micros < 86_400_000_000
}

/// `YYYY-MM-DD`, a real day of a year from 1 to 9999.
fn date(b: &[u8]) -> bool {
    if b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    match (num(&b[..4]), num(&b[5..7]), num(&b[8..10])) {
        (Some(y), Some(m), Some(d)) if y >= 1 => {
            chrono::NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
        }
        _ => false,
    }
}

/// `HH:MM[:SS[.ffffff]]` at the start of `b` → the rest, and whether
/// the seconds were written.
fn time_of_day(b: &[u8]) -> Option<(&[u8], bool)> {
    if b.len() < 5 || b[2] != b':' || num(&b[..2])? > 23 || num(&b[3..5])? > 59 {
        return None;
    }
    if b.get(5) != Some(&b':') {
        return Some((&b[5..], false));
    }
    if b.len() < 8 || num(&b[6..8])? > 59 {
        return None;
    }
    let rest = &b[8..];
    let Some(frac) = rest.strip_prefix(b".") else {
        return Some((rest, true));
    };
    let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
    (1..=6).contains(&n).then_some((&frac[n..], true))
}

/// `Z` or `±HH:MM`.
fn offset(b: &[u8]) -> bool {
    match b {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            matches!(num(&[*h1, *h2]), Some(h) if h <= 15)
                && matches!(num(&[*m1, *m2]), Some(m) if m <= 59)
        }
        _ => false,
    }
}

/// ASCII digits (up to 4) as a number.
fn num(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |n, c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// A fixed buffer for formatting one float without allocating (an f64
/// prints in at most ~330 bytes; longer writes fail, and the value is then
/// classified as text).
struct StackText {
    bytes: [u8; 400],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            bytes: [0; 400],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..self.len]).unwrap_or_default()
    }
}

impl std::fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
