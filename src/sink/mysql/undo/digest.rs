//! The digests of an append's rows computed by sheetpipe from the values
//! it sent, instead of by the server re-reading the rows it just stored.
//!
//! The digest ([`super::TableInfo::digest`]) is the SHA-1 of one
//! `CONCAT_WS(0x1f, …)` of the written columns as the server renders them
//! as text. For the column types whose rendering sheetpipe knows exactly
//! (integers and booleans, `DECIMAL`, `DOUBLE`, `DATE`, `DATETIME`,
//! `TIMESTAMP` and `TIME` at their declared fraction, and UTF-8 text:
//! `CHAR`, `VARCHAR`, the `TEXT`s, MariaDB's `JSON`), it writes the same
//! text from the value it loaded and hashes that; undo computes the
//! server's digest of the row as it is then and compares, as before. A
//! value whose stored form sheetpipe cannot be sure of (a fraction finer
//! than the column keeps, a year outside 0–9999, `-0` as a decimal, …)
//! makes its part go back to the server's digest ([`ClientDigest::row`]
//! answers `None`); a table with any other written type (`FLOAT`, `ENUM`,
//! binary, another character set, MySQL 8's binary `JSON`) or a locator
//! other than integers never uses it. The import's first part (the first
//! of each writer, when they start together) is also digested by the
//! server and compared (`pack.rs`): a difference (a trigger that changes
//! rows, say) turns the client digests off for the rest of the import.
//! Measured in docs/BENCHMARKS.md ("Client digests").

use sha1::{Digest, Sha1};

use super::table::TableInfo;
use crate::model::{Target, Value};

/// How the server renders one written column as text.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Render {
    /// `TINYINT` … `BIGINT` (and `YEAR`-less integers): decimal digits.
    Int,
    /// `DECIMAL(p, s)`: exactly `s` fraction digits.
    Decimal(u32),
    /// `DOUBLE`: MariaDB's shortest form ([`push_double`]).
    Double,
    Date,
    /// `DATETIME(fsp)` / `TIMESTAMP(fsp)` (the session is in UTC).
    DateTime(u32),
    /// `TIME(fsp)`.
    Time(u32),
    /// UTF-8 text; `CHAR` drops trailing spaces when read.
    Text {
        char_pad: bool,
    },
}

/// The client digest of one plan's rows (see the module docs).
#[derive(Debug, Clone)]
pub(crate) struct ClientDigest {
    /// Per written column: its slot in the target and how it renders.
    cols: Vec<(usize, Render)>,
    /// The locator's slots (integer columns), unless it is the id range.
    locator: Vec<usize>,
}

impl ClientDigest {
    /// The client digest of writing `columns` (and finding rows by
    /// `locator`, or by the id range) into `info`'s table from `target`'s
    /// values, or `None` when some column or the locator does not allow it.
    pub fn plan(
        info: &TableInfo,
        target: &Target,
        columns: &[String],
        locator: &[String],
        range: bool,
    ) -> Option<ClientDigest> {
        let slot = |name: &String| target.columns.iter().position(|c| &c.name == name);
        let cols = columns
            .iter()
            .map(|c| Some((slot(c)?, render(info, c)?)))
            .collect::<Option<Vec<_>>>()?;
        let locator = match range {
            true => Vec::new(),
            false => locator
                .iter()
                .map(|k| slot(k).filter(|_| info.integer(k)))
                .collect::<Option<Vec<_>>>()?,
        };
        Some(ClientDigest { cols, locator })
    }

    /// Appends `[locator values…, "digest"]` of one row to `out` (`id`:
    /// its AUTO_INCREMENT id when rows are found by their range), or
    /// answers `None` when a value's stored text is not certain.
    pub fn row(
        &self,
        values: &[Value],
        id: Option<u64>,
        out: &mut String,
        scratch: &mut Scratch,
    ) -> Option<()> {
        out.push('[');
        match id {
            Some(id) => out.push_str(itoa::Buffer::new().format(id)),
            None => {
                for (i, &s) in self.locator.iter().enumerate() {
                    let Value::Int(v) = values[s] else {
                        return None;
                    };
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(itoa::Buffer::new().format(v));
                }
            }
        }
        out.push_str(",\"");
        self.digest(values, out, scratch)?;
        out.push_str("\"]");
        Some(())
    }

    /// Appends the 32 hex digits [`TableInfo::digest`] computes for
    /// `values` to `out`. Text is hashed from the values themselves, the
    /// rest rendered into `scratch`, whose buffers serve every row.
    fn digest(&self, values: &[Value], out: &mut String, scratch: &mut Scratch) -> Option<()> {
        let Scratch { text, spans } = scratch;
        text.clear();
        spans.clear();
        for &(slot, render) in &self.cols {
            spans.push(match &values[slot] {
                Value::Null => Span::Null,
                v if own_text(v, render).is_some() => Span::Value,
                v => {
                    let start = text.len();
                    rendered(text, v, render)?;
                    Span::Own(start, text.len())
                }
            });
        }
        let piece = |i: usize| -> Option<&[u8]> {
            let (slot, render) = self.cols[i];
            match spans[i] {
                Span::Null => None,
                Span::Own(a, b) => Some(&text[a..b]),
                Span::Value => own_text(&values[slot], render),
            }
        };
        // CONCAT_WS(0x1f, lengths…, values…, flags): NULLs (a NULL value
        // and its NULL length) are skipped, and the flags say which were.
        let mut sha = Sha1::new();
        let mut first = true;
        let mut part = |bytes: &[u8]| {
            if !first {
                sha.update([0x1f]);
            }
            first = false;
            sha.update(bytes);
        };
        let mut digits = itoa::Buffer::new();
        for (i, (_, render)) in self.cols.iter().enumerate() {
            if let (Render::Text { .. }, Some(bytes)) = (render, piece(i)) {
                part(digits.format(bytes.len()).as_bytes());
            }
        }
        for i in 0..self.cols.len() {
            if let Some(bytes) = piece(i) {
                part(bytes);
            }
        }
        let start = text.len();
        text.extend(spans.iter().map(|s| match s {
            Span::Null => b'1',
            _ => b'0',
        }));
        part(&text[start..]);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in &sha.finalize()[..16] {
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        Some(())
    }
}

/// Buffers [`ClientDigest::row`] reuses from row to row.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// The rendered text of the values that are not text already.
    text: Vec<u8>,
    /// Per written column, where its text is.
    spans: Vec<Span>,
}

/// Where one column's text is, for [`ClientDigest::digest`].
#[derive(Debug, Clone, Copy)]
enum Span {
    Null,
    /// In [`Scratch::text`].
    Own(usize, usize),
    /// The value's own text.
    Value,
}

/// How `name` renders, if sheetpipe knows it exactly.
fn render(info: &TableInfo, name: &str) -> Option<Render> {
    let c = info.columns.iter().find(|c| c.name == name)?;
    let fsp = || {
        u32::try_from(c.datetime_precision.unwrap_or(0))
            .ok()
            .filter(|&p| p <= 6)
    };
    let utf8 = || {
        c.charset
            .as_deref()
            .is_some_and(|s| matches!(s, "utf8mb4" | "utf8mb3" | "utf8"))
    };
    Some(match c.data_type.as_str() {
        "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" => Render::Int,
        "decimal" | "numeric" => Render::Decimal(u32::try_from(c.scale?).ok()?),
        "double" | "real" => Render::Double,
        "date" => Render::Date,
        "datetime" | "timestamp" => Render::DateTime(fsp()?),
        "time" => Render::Time(fsp()?),
        "char" if utf8() => Render::Text { char_pad: true },
        "varchar" | "tinytext" | "text" | "mediumtext" | "longtext" if utf8() => {
            Render::Text { char_pad: false }
        }
        _ => return None,
    })
}

/// The stored text of a text `value` in a column rendering as `render`,
/// hashed from the value itself (`CHAR` drops trailing spaces when read);
/// `None` for a value that must be rendered first.
fn own_text(value: &Value, render: Render) -> Option<&[u8]> {
    match (value, render) {
        (Value::Text(s) | Value::Json(s), Render::Text { char_pad }) => {
            Some(if char_pad { s.trim_end_matches(' ') } else { s }.as_bytes())
        }
        _ => None,
    }
}

/// The server's text of a non-NULL `value` in a column rendering as
/// `render`, or `None` when it is not certain.
fn rendered(out: &mut Vec<u8>, value: &Value, render: Render) -> Option<()> {
    match (render, value) {
        (Render::Int, Value::Int(i)) => {
            out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes())
        }
        (Render::Int, Value::Bool(b)) => out.push(if *b { b'1' } else { b'0' }),
        (Render::Decimal(scale), Value::Numeric(s)) => {
            if !canonical_decimal(s, scale) {
                return None;
            }
            out.extend_from_slice(s.as_bytes());
        }
        (Render::Double, Value::Float(f)) => push_double(out, *f)?,
        (Render::Date, Value::Date(d)) => push_date(out, *d)?,
        (Render::DateTime(fsp), Value::Timestamp(t)) => push_datetime(out, *t, fsp)?,
        (Render::DateTime(fsp), Value::TimestampTz(t)) => push_datetime(out, t.naive_utc(), fsp)?,
        (Render::Time(fsp), Value::Time(t)) => push_time(out, *t, fsp)?,
        (Render::Text { .. }, Value::Text(_) | Value::Json(_)) => {
            out.extend_from_slice(own_text(value, render)?)
        }
        (Render::Text { .. }, Value::Uuid(u)) => out.extend_from_slice(
            u.hyphenated()
                .encode_lower(&mut uuid::Uuid::encode_buffer())
                .as_bytes(),
        ),
        _ => return None,
    }
    Some(())
}

/// `-`? digits (no leading zero but one before the point), then `.` and
/// exactly `scale` digits when `scale` > 0; not a negative zero.
fn canonical_decimal(s: &str, scale: u32) -> bool {
    let body = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let frac_ok = match frac {
        Some(f) => scale > 0 && f.len() == scale as usize && digits(f),
        None => scale == 0,
    };
    let int_ok = digits(int) && (int == "0" || !int.starts_with('0'));
    let zero = body.bytes().all(|b| b == b'0' || b == b'.');
    int_ok && frac_ok && !(zero && s.starts_with('-'))
}

/// A double as MariaDB writes it in a string context: the shortest digits
/// that read back as the same double, positional unless the point lies
/// more than 15 places left of the first digit, or the number is an
/// integer of more than 15 digits; else `d.ddde±x` (`1e15`, `1e-16`,
/// `1.5e17`); zero (either sign) as `0`.
pub(super) fn push_double(out: &mut Vec<u8>, f: f64) -> Option<()> {
    if !f.is_finite() {
        return None;
    }
    if f == 0.0 {
        out.push(b'0');
        return Some(());
    }
    if f < 0.0 {
        out.push(b'-');
    }
    // Ryu: the shortest digits that read back as `f`, the closest of them
    // when several are, a tie to the even digit, as MariaDB's dtoa (Rust's
    // own formatting breaks a tie upwards: 943238624648691.25 → …691.3).
    let mut buf = ryu::Buffer::new();
    let (digits, decpt) = decimal(buf.format_finite(f.abs()))?;
    let len = digits.len() as i32;
    if decpt < -14 || (decpt > 15 && decpt >= len) {
        out.push(digits[0]);
        if len > 1 {
            out.push(b'.');
            out.extend_from_slice(&digits[1..]);
        }
        out.push(b'e');
        out.extend_from_slice((decpt - 1).to_string().as_bytes());
    } else if decpt <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-decpt) as usize));
        out.extend_from_slice(&digits);
    } else if decpt < len {
        out.extend_from_slice(&digits[..decpt as usize]);
        out.push(b'.');
        out.extend_from_slice(&digits[decpt as usize..]);
    } else {
        out.extend_from_slice(&digits);
        out.extend(std::iter::repeat_n(b'0', (decpt - len) as usize));
    }
    Some(())
}

/// The significant digits of a positive decimal number's text (`123.4`,
/// `1e15`, `1.5E-7`, `0.001`) and the place of its point: the number is
/// 0.DIGITS × 10^place.
fn decimal(text: &str) -> Option<(Digits, i32)> {
    let (mantissa, exp) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut digits = Digits::default();
    let mut lead = 0;
    for b in int.bytes().chain(frac.bytes()) {
        if !b.is_ascii_digit() {
            return None;
        }
        if b == b'0' && digits.len == 0 {
            lead += 1;
        } else {
            *digits.buf.get_mut(digits.len)? = b;
            digits.len += 1;
        }
    }
    while digits.len > 0 && digits.buf[digits.len - 1] == b'0' {
        digits.len -= 1;
    }
    if digits.len == 0 {
        return None;
    }
    Some((digits, int.len() as i32 - lead + exp))
}

/// Up to 32 significant digits, on the stack (a double has at most 17).
#[derive(Default)]
struct Digits {
    buf: [u8; 32],
    len: usize,
}

impl std::ops::Deref for Digits {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `n` as `width` digits, zero-padded (`n` < 10^width).
fn push_digits(out: &mut Vec<u8>, n: u32, width: usize) {
    for place in (0..width as u32).rev() {
        out.push(b'0' + (n / 10u32.pow(place) % 10) as u8);
    }
}

fn push_date(out: &mut Vec<u8>, d: chrono::NaiveDate) -> Option<()> {
    use chrono::Datelike;
    let year = u32::try_from(d.year()).ok().filter(|&y| y <= 9999)?;
    push_digits(out, year, 4);
    out.push(b'-');
    push_digits(out, d.month(), 2);
    out.push(b'-');
    push_digits(out, d.day(), 2);
    Some(())
}

fn push_datetime(out: &mut Vec<u8>, t: chrono::NaiveDateTime, fsp: u32) -> Option<()> {
    push_date(out, t.date())?;
    out.push(b' ');
    push_time(out, t.time(), fsp)
}

/// `hh:mm:ss` and `fsp` fraction digits, if the value has no finer ones
/// (the server would round them) and is no leap second.
fn push_time(out: &mut Vec<u8>, t: chrono::NaiveTime, fsp: u32) -> Option<()> {
    use chrono::Timelike;
    let nanos = t.nanosecond();
    let unit = 10u32.pow(9 - fsp);
    if nanos >= 1_000_000_000 || !nanos.is_multiple_of(unit) {
        return None;
    }
    push_digits(out, t.hour(), 2);
    out.push(b':');
    push_digits(out, t.minute(), 2);
    out.push(b':');
    push_digits(out, t.second(), 2);
    if fsp > 0 {
        out.push(b'.');
        push_digits(out, nanos / unit, fsp as usize);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(f: f64) -> String {
        let mut out = Vec::new();
        push_double(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// Pairs read off MariaDB 10.11 (`SELECT CONCAT(x)` of a DOUBLE
    /// column); tests/it/mysql_digest.rs compares many more against the
    /// running server.
    #[test]
    fn doubles_are_written_as_mariadb_writes_them() {
        for (f, text) in [
            (0.1, "0.1"),
            (1e20, "1e20"),
            (1e15, "1e15"),
            (9.999e14, "999900000000000"),
            (1.2345678901234567e15, "1234567890123456.8"),
            (1.2345678901234567e16, "1.2345678901234568e16"),
            (1e-7, "0.0000001"),
            (1e-15, "0.000000000000001"),
            (1.5e-15, "0.0000000000000015"),
            (1e-16, "1e-16"),
            (-2.5, "-2.5"),
            (100.0, "100"),
            (1.5e17, "1.5e17"),
            (5e-324, "5e-324"),
            (-0.0, "0"),
            (0.30000000000000004, "0.30000000000000004"),
            // A tie between two shortest forms goes to the even digit.
            (943_238_624_648_691.0 + 0.25, "943238624648691.2"),
        ] {
            assert_eq!(double(f), text, "{f:e}");
        }
    }

    #[test]
    fn a_numbers_text_splits_into_its_significant_digits_and_point() {
        let split = |t: &str| decimal(t).map(|(d, p)| (String::from_utf8(d.to_vec()).unwrap(), p));
        assert_eq!(split("123.4"), Some(("1234".into(), 3)));
        assert_eq!(split("0.001"), Some(("1".into(), -2)));
        assert_eq!(split("1e15"), Some(("1".into(), 16)));
        assert_eq!(split("1.5E-7"), Some(("15".into(), -6)));
        assert_eq!(split("100"), Some(("1".into(), 3)));
        assert_eq!(
            split("0.0000123456789012345678"),
            Some(("123456789012345678".into(), -4))
        );
        assert_eq!(split("0"), None);
        assert_eq!(split("1x"), None);
        assert_eq!(split(&"9".repeat(33)), None);
    }

    #[test]
    fn only_canonical_decimals_of_the_columns_scale_are_taken() {
        assert!(canonical_decimal("12.30", 2));
        assert!(canonical_decimal("-0.50", 2));
        assert!(canonical_decimal("0", 0));
        assert!(!canonical_decimal("12.3", 2));
        assert!(!canonical_decimal("012.30", 2));
        assert!(!canonical_decimal("-0.00", 2));
        assert!(!canonical_decimal("1e3", 0));
    }

    #[test]
    fn times_finer_than_the_column_are_left_to_the_server() {
        let tenth = chrono::NaiveTime::from_hms_micro_opt(10, 30, 0, 100_000).unwrap();
        let mut out = Vec::new();
        assert!(push_time(&mut out, tenth, 1).is_some());
        assert_eq!(out, b"10:30:00.1");
        let t = chrono::NaiveTime::from_hms_micro_opt(10, 30, 0, 120_000).unwrap();
        assert!(push_time(&mut Vec::new(), t, 1).is_none());
        assert!(push_time(&mut Vec::new(), t, 0).is_none());
        let mut out = Vec::new();
        assert!(push_time(&mut out, t, 6).is_some());
        assert_eq!(out, b"10:30:00.120000");
    }
}
