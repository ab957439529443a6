//! Dates and times: date, timestamp, timestamptz and time. A date cell
//! arrives as the ISO 8601 text its reader made (the workbook's 1900/1904
//! date system already applied): `2024-01-02`, `2024-01-02T10:30:00`,
//! `10:30:00` (a time without a date) or `PT36H0M0S` (a duration). Text
//! cells are read as ISO 8601 always, and in another layout only with an
//! explicit `--date-format`: day-first and month-first are never guessed.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};

use super::{not_a, ConvertOptions, Input};
use crate::model::{SqlType, Value};

/// What a date/time text says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum When {
    Date(NaiveDate),
    /// A date and time, with the UTC offset when one was written.
    DateTime(NaiveDateTime, Option<FixedOffset>),
    Time(NaiveTime),
    /// An ISO 8601 duration (`PT12H30M0S`), in nanoseconds.
    Duration(i64),
}

/// Converts a date or text cell for the date/time type `ty`.
pub(super) fn convert(
    input: Input<'_>,
    ty: &SqlType,
    opts: &ConvertOptions,
) -> Result<Value, String> {
    let when = match input {
        Input::DateTime(s) => parse_iso(s)?.ok_or_else(|| {
            format!("the date cell holds '{s}', which is not ISO 8601 date/time text")
        })?,
        Input::Text(s) => match parse_iso(s)? {
            Some(when) => when,
            None => with_format(s, ty, opts)?,
        },
        Input::Int(_) | Input::Float(_) => {
            let what = if *ty == SqlType::Time { "time" } else { "date" };
            return Err(format!(
                "{} is a number, not a {what}; format the cell as a {what}",
                input.display()
            ));
        }
        Input::Bool(_) => return Err(not_a(input, "a date or time")),
    };
    // The value as written, for messages only (no allocation on success).
    let shown = Shown(input);
    match ty {
        SqlType::Date => to_date(when, shown).map(Value::Date),
        SqlType::Timestamp => match to_timestamp(when, shown)? {
            (t, None) => Ok(Value::Timestamp(t)),
            (_, Some(offset)) => Err(format!(
                "{shown} has a UTC offset ({offset}); a timestamp column stores no zone: use timestamptz, or write the time without an offset"
            )),
        },
        SqlType::TimestampTz => {
            let (t, offset) = to_timestamp(when, shown)?;
            let utc = t - offset.map_or(Duration::zero(), |o| Duration::seconds(o.local_minus_utc().into()));
            Ok(Value::TimestampTz(DateTime::<Utc>::from_naive_utc_and_offset(utc, Utc)))
        }
        _ => to_time(when, shown).map(Value::Time),
    }
}

/// A cell's value displayed as written, for messages.
#[derive(Clone, Copy)]
struct Shown<'a>(Input<'a>);

impl std::fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Input::Text(s) | Input::DateTime(s) => f.write_str(s),
            other => f.write_str(&other.display()),
        }
    }
}

/// A date column takes a date, or a date and time whose time is midnight.
fn to_date(when: When, shown: Shown<'_>) -> Result<NaiveDate, String> {
    match when {
        When::Date(d) => Ok(d),
        When::DateTime(t, _) if t.time() == NaiveTime::MIN => Ok(t.date()),
        When::DateTime(t, _) => Err(format!(
            "{shown} has a time of day ({}); a date column would lose it",
            t.time().format("%H:%M:%S%.f")
        )),
        When::Time(_) => Err(format!("{shown} is a time of day, not a date")),
        When::Duration(_) => Err(format!("{shown} is a duration, not a date")),
    }
}

/// A timestamp takes a date and time (a date alone is midnight).
fn to_timestamp(
    when: When,
    shown: Shown<'_>,
) -> Result<(NaiveDateTime, Option<FixedOffset>), String> {
    match when {
        When::Date(d) => Ok((d.and_time(NaiveTime::MIN), None)),
        When::DateTime(t, offset) => Ok((t, offset)),
        When::Time(_) => Err(format!("{shown} is a time of day without a date")),
        When::Duration(_) => Err(format!("{shown} is a duration, not a date and time")),
    }
}

const NANOS_PER_DAY: i64 = 86_400 * 1_000_000_000;

/// Dates a spreadsheet gives a time of day that has no date: Excel's day
/// zero in the 1900 system (shown as 1900-01-00, i.e. 1899-12-31, or
/// 1899-12-30 by other readers).
fn is_day_zero(d: NaiveDate) -> bool {
    d == NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid")
        || d == NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid")
}

/// A time column takes a time of day, a date-time on day zero, or a
/// duration under 24 hours (ODS stores time cells as durations).
fn to_time(when: When, shown: Shown<'_>) -> Result<NaiveTime, String> {
    match when {
        When::Time(t) => Ok(t),
        When::DateTime(t, None) if is_day_zero(t.date()) => Ok(t.time()),
        When::DateTime(_, Some(offset)) => Err(format!(
            "{shown} has a UTC offset ({offset}); a time column stores no zone"
        )),
        When::DateTime(t, None) => Err(format!(
            "{shown} has a date ({}); a time column would lose it",
            t.date()
        )),
        When::Date(_) => Err(format!("{shown} is a date, not a time of day")),
        When::Duration(n) if (0..NANOS_PER_DAY).contains(&n) && n % 1000 != 0 => Err(format!(
            "{shown} has more than 6 decimal places of seconds; the database keeps microseconds"
        )),
        When::Duration(n) if (0..NANOS_PER_DAY).contains(&n) => {
            Ok(NaiveTime::MIN + Duration::nanoseconds(n))
        }
        When::Duration(_) => Err(format!(
            "{shown} is a duration outside 0 to 24 hours, not a time of day"
        )),
    }
}

/// Text in the layout `--date-format` gives, or the reason it is not a
/// date (naming `--date-format` when none was given).
fn with_format(s: &str, ty: &SqlType, opts: &ConvertOptions) -> Result<When, String> {
    let Some(fmt) = opts.date_format.as_deref() else {
        let (what, layout) = match ty {
            SqlType::Time => ("time", "HH:MM:SS"),
            SqlType::Date => ("date", "YYYY-MM-DD"),
            _ => ("date and time", "YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS"),
        };
        return Err(format!(
            "'{s}' is not an ISO 8601 {what} ({layout}); for another layout pass --date-format (for example %d/%m/%Y or %m/%d/%Y: day-first and month-first are never guessed)"
        ));
    };
    if let Ok(t) = DateTime::parse_from_str(s, fmt) {
        return Ok(When::DateTime(t.naive_local(), Some(*t.offset())));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
        return Ok(When::DateTime(t, None));
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
        return Ok(When::Date(d));
    }
    if let Ok(t) = NaiveTime::parse_from_str(s, fmt) {
        return Ok(When::Time(t));
    }
    Err(format!(
        "'{s}' is neither ISO 8601 nor in the layout of --date-format {fmt}"
    ))
}

/// Why `fmt` cannot serve as `--date-format`: chrono cannot read it, or a
/// date-time written in it does not read back as a date, a date and time,
/// or a time of day.
pub(super) fn check_format(fmt: &str) -> Result<(), String> {
    use chrono::format::{Item, StrftimeItems};
    if StrftimeItems::new(fmt).any(|item| matches!(item, Item::Error)) {
        return Err(format!(
            "--date-format {fmt} is not a valid format (chrono strftime syntax, e.g. %d/%m/%Y)"
        ));
    }
    let sample = NaiveDate::from_ymd_opt(2024, 3, 15)
        .and_then(|d| d.and_hms_opt(13, 45, 30))
        .expect("valid");
    let mut written = String::new();
    let zoned = sample.and_utc().fixed_offset();
    if std::fmt::Write::write_fmt(&mut written, format_args!("{}", zoned.format(fmt))).is_err() {
        return Err(format!("--date-format {fmt} cannot be written out"));
    }
    let opts = ConvertOptions {
        date_format: Some(fmt.to_string()),
    };
    match with_format(&written, &SqlType::Timestamp, &opts) {
        Ok(_) => Ok(()),
        Err(_) => Err(format!(
            "--date-format {fmt} does not name a whole date, date and time, or time of day (it writes 2024-03-15 13:45:30 as '{written}', which does not read back)"
        )),
    }
}

/// Reads ISO 8601: `YYYY-MM-DD`, then optionally `T` or a space and
/// `HH:MM[:SS[.fraction]]` and `Z` or `±HH[:MM]`; `HH:MM[:SS[.f]]` alone;
/// or a duration `[-]P[nD]T[nH][nM][n[.f]S]`. `Ok(None)` when the text
/// is not shaped like any of these; `Err` when it is but names no real
/// date or time (`2024-13-01`).
fn parse_iso(s: &str) -> Result<Option<When>, String> {
    let b = s.as_bytes();
    if b.first().is_some_and(|&c| c == b'P' || c == b'-') && s.contains('T') {
        return Ok(parse_duration(s).map(When::Duration));
    }
    if b.len() >= 5 && b[2] == b':' {
        return match parse_time(s, s)? {
            Some((t, "")) => Ok(Some(When::Time(t))),
            _ => Ok(None),
        };
    }
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Ok(None);
    }
    let (Some(y), Some(m), Some(d)) = (digits_at(s, 0..4), digits_at(s, 5..7), digits_at(s, 8..10))
    else {
        return Ok(None);
    };
    let date = ymd(s, y as i32, m, d)?;
    let rest = &s[10..];
    if rest.is_empty() {
        return Ok(Some(When::Date(date)));
    }
    let Some(rest) = rest.strip_prefix(['T', ' ']) else {
        return Ok(None);
    };
    let Some((time, zone)) = parse_time(s, rest)? else {
        return Ok(None);
    };
    let offset = match zone {
        "" => None,
        zone => match parse_offset(zone) {
            Some(o) => Some(o),
            None => return Ok(None),
        },
    };
    Ok(Some(When::DateTime(date.and_time(time), offset)))
}

/// The digits at byte `range` of `s` as a number (`None` when the range
/// is not digits, or does not fall on character boundaries).
fn digits_at(s: &str, range: std::ops::Range<usize>) -> Option<u32> {
    s.get(range).and_then(num)
}

/// Digits only, as a number (`None` for anything else).
fn num(s: &str) -> Option<u32> {
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// The date, or why `s` names none (`there is no month 13`).
fn ymd(s: &str, y: i32, m: u32, d: u32) -> Result<NaiveDate, String> {
    if !(1..=12).contains(&m) {
        return Err(format!("{s} is not a valid date: there is no month {m}"));
    }
    NaiveDate::from_ymd_opt(y, m, d).ok_or_else(|| {
        let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let days = NaiveDate::from_ymd_opt(next.0, next.1, 1)
            .and_then(|n| n.pred_opt())
            .map_or(31, |last| chrono::Datelike::day(&last));
        format!(
            "{s} is not a valid date: {} {y} has {days} days",
            MONTHS[m as usize - 1]
        )
    })
}

/// `HH:MM[:SS[.f]]` at the start of `t`, and what follows it. `Ok(None)`
/// when `t` does not start like a time; `Err` for an impossible one.
/// Fractions finer than microseconds must be zeros (PostgreSQL keeps
/// microseconds, so more would be lost).
fn parse_time<'a>(s: &str, t: &'a str) -> Result<Option<(NaiveTime, &'a str)>, String> {
    let b = t.as_bytes();
    if b.len() < 5 || b[2] != b':' {
        return Ok(None);
    }
    let (Some(h), Some(m)) = (digits_at(t, 0..2), digits_at(t, 3..5)) else {
        return Ok(None);
    };
    let (mut sec, mut nanos, mut rest) = (0, 0, &t[5..]);
    if let Some(r) = rest.strip_prefix(':') {
        let Some(v) = r.get(0..2).and_then(num) else {
            return Ok(None);
        };
        sec = v;
        rest = &r[2..];
        if let Some(f) = rest.strip_prefix(['.', ',']) {
            let digits = f.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return Ok(None);
            }
            if f[6.min(digits)..digits].bytes().any(|b| b != b'0') {
                return Err(format!(
                    "{s} has more than 6 decimal places of seconds; the database keeps microseconds"
                ));
            }
            let padded = format!("{:0<9}", &f[..digits]);
            nanos = padded.parse().expect("nine digits");
            rest = &f[digits..];
        }
    }
    match NaiveTime::from_hms_nano_opt(h, m, sec, nanos) {
        Some(time) if sec < 60 => Ok(Some((time, rest))),
        _ => Err(format!("{s} is not a valid time of day")),
    }
}

/// `Z`, `±HH`, `±HHMM` or `±HH:MM`.
fn parse_offset(z: &str) -> Option<FixedOffset> {
    if z == "Z" || z == "z" {
        return FixedOffset::east_opt(0);
    }
    let sign = match z.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = z[1..].chars().filter(|&c| c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (num(&digits)?, 0),
        4 => (digits_at(&digits, 0..2)?, digits_at(&digits, 2..4)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60) as i32)
}

/// `[-]P[nD]T[nH][nM][n[.f]S]` in nanoseconds (exactly: `10.123456S`
/// keeps its microseconds).
fn parse_duration(s: &str) -> Option<i64> {
    let (negative, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (days, time) = body.strip_prefix('P')?.split_once('T')?;
    let mut nanos: i64 = match days {
        "" => 0,
        d => i64::from(num(d.strip_suffix('D')?)?).checked_mul(NANOS_PER_DAY)?,
    };
    let mut rest = time;
    for (unit, scale) in [('H', 3_600), ('M', 60), ('S', 1)] {
        if let Some(i) = rest.find(unit) {
            let (whole, frac) = rest[..i].split_once('.').unwrap_or((&rest[..i], ""));
            let frac_ok = frac.len() <= 9 && frac.bytes().all(|b| b.is_ascii_digit());
            if !frac_ok || (unit != 'S' && !frac.is_empty()) {
                return None;
            }
            let part = i64::from(num(whole)?) * scale * 1_000_000_000
                + format!("{frac:0<9}").parse::<i64>().ok()?;
            nanos = nanos.checked_add(part)?;
            rest = &rest[i + 1..];
        }
    }
    if !rest.is_empty() || time.is_empty() {
        return None;
    }
    Some(if negative { -nanos } else { nanos })
}
