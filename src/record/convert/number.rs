//! Numbers: smallint/integer/bigint, numeric(p,s), real and double
//! precision. Text is read as a plain decimal (`-12.50`, `+7`, `007`); a
//! value is accepted only when the column stores it exactly — never
//! rounded, never truncated.

use super::{not_a, Input};
use crate::model::{SqlType, Value};
use crate::record::format_number;

/// A decimal number as written: sign, integer digits, fraction digits and
/// an optional exponent. Digits are ASCII and may have leading or trailing
/// zeros.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decimal<'a> {
    pub(crate) negative: bool,
    pub(crate) int: &'a str,
    pub(crate) frac: &'a str,
    pub(crate) exp: Option<i32>,
}

impl<'a> Decimal<'a> {
    /// Reads `[+-]digits[.digits][e[+-]digits]` (at least one digit before
    /// the exponent); anything else is the reason it is not a number.
    pub(crate) fn parse(s: &'a str) -> Result<Decimal<'a>, String> {
        let (negative, body) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => (&body[..i], Some(&body[i + 1..])),
            None => (body, None),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
            return Err(not_a_number(s));
        }
        let exp = match exp {
            None => None,
            Some(e) if !e.is_empty() && digits(e.trim_start_matches(['+', '-'])) => Some(
                e.parse::<i32>()
                    .map_err(|_| format!("{s} is out of range"))?,
            ),
            Some(_) => return Err(not_a_number(s)),
        };
        Ok(Decimal {
            negative,
            int,
            frac,
            exp,
        })
    }

    /// How many significant digits the number has (`-0.0120` has 2).
    fn significant(&self) -> usize {
        let (mut count, mut started, mut zeros) = (0, false, 0);
        for b in self.int.bytes().chain(self.frac.bytes()) {
            if b != b'0' {
                count += zeros + 1;
                zeros = 0;
                started = true;
            } else if started {
                zeros += 1;
            }
        }
        count
    }

    /// The value as (negative, significant digits, position of the point
    /// after the first digit's place): `-0.0120` → (true, "12", -1);
    /// zero → (false, "", 0). Two decimals are equal when these are.
    fn normalized(&self) -> (bool, String, i64) {
        let all = format!("{}{}", self.int, self.frac);
        let mut point = self.int.len() as i64 + i64::from(self.exp.unwrap_or(0));
        let trimmed = all.trim_start_matches('0');
        point -= (all.len() - trimmed.len()) as i64;
        let digits = trimmed.trim_end_matches('0');
        if digits.is_empty() {
            return (false, String::new(), 0);
        }
        (self.negative, digits.to_string(), point)
    }
}

/// Why `s` is not a number, with a hint for the common lookalikes.
fn not_a_number(s: &str) -> String {
    if s.contains(',') && s.chars().all(|c| c.is_ascii_digit() || ",.+- ".contains(c)) {
        format!("'{s}' is not a number: write it without thousands separators and with '.' for decimals (1234.5)")
    } else {
        format!("'{s}' is not a number")
    }
}

/// Why exponent notation is refused where values are exact.
fn exponent(s: &str, ty: &SqlType) -> String {
    format!("{s} is in exponent notation, which {ty} does not read (it often means digits were already lost): write the number out in full")
}

/// The text a number cell is read as: integers as is, floats through the
/// 15-significant-digit rule (what the spreadsheet shows).
fn number_text(input: Input<'_>) -> Option<std::borrow::Cow<'_, str>> {
    match input {
        Input::Text(s) => Some(s.into()),
        Input::Int(i) => Some(i.to_string().into()),
        Input::Float(f) => Some(format_number(f).into()),
        Input::Bool(_) | Input::DateTime(_) => None,
    }
}

/// smallint, integer, bigint: a whole number within the type's range.
/// A float cell or a decimal text counts when its fraction is zeros
/// (`3.0`, `"42.00"`); leading zeros are fine (`"007"` is 7).
pub(super) fn integer(input: Input<'_>, ty: &SqlType) -> Result<Value, String> {
    let (min, max) = match ty {
        SqlType::SmallInt => (i64::from(i16::MIN), i64::from(i16::MAX)),
        SqlType::Integer => (i64::from(i32::MIN), i64::from(i32::MAX)),
        _ => (i64::MIN, i64::MAX),
    };
    // A whole float below 10^15 is that integer exactly (format_number
    // would print it so); no text round trip.
    let whole = match input {
        Input::Int(i) => Some(i),
        Input::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(f as i64),
        _ => None,
    };
    if let Some(i) = whole {
        return if (min..=max).contains(&i) {
            Ok(Value::Int(i))
        } else {
            Err(format!("{i} is out of range for {ty}"))
        };
    }
    let text = number_text(input).ok_or_else(|| not_a(input, "a number"))?;
    let d = Decimal::parse(&text)?;
    if d.exp.is_some() {
        return Err(exponent(&text, ty));
    }
    if d.frac.bytes().any(|b| b != b'0') {
        return Err(format!(
            "{text} is not a whole number; {ty} holds whole numbers only"
        ));
    }
    let digits = d.int.trim_start_matches('0');
    let out_of_range = || format!("{text} is out of range for {ty}");
    if digits.len() > 19 {
        return Err(out_of_range());
    }
    let magnitude: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| out_of_range())?
    };
    let n = if d.negative { -magnitude } else { magnitude };
    if n < i128::from(min) || n > i128::from(max) {
        return Err(out_of_range());
    }
    Ok(Value::Int(n as i64))
}

/// PostgreSQL's own limits on an unconstrained numeric.
const NUMERIC_MAX_INT_DIGITS: usize = 131_072;
const NUMERIC_MAX_FRAC_DIGITS: usize = 16_383;

/// numeric(p,s): exact. More decimals than the scale are refused unless
/// the extra ones are zeros (sheetpipe never rounds); more significant
/// digits than the precision allows are refused. Unconstrained numeric
/// keeps every digit as written. Output is canonical (`Value::Numeric`).
pub(super) fn numeric(
    input: Input<'_>,
    precision: Option<u16>,
    scale: Option<u16>,
    ty: &SqlType,
) -> Result<Value, String> {
    let text = number_text(input).ok_or_else(|| not_a(input, "a number"))?;
    let d = Decimal::parse(&text)?;
    if d.exp.is_some() {
        return Err(exponent(&text, ty));
    }
    let int = d.int.trim_start_matches('0');
    let frac = match precision {
        None => {
            if int.len() > NUMERIC_MAX_INT_DIGITS || d.frac.len() > NUMERIC_MAX_FRAC_DIGITS {
                return Err(format!(
                    "the number has more digits than PostgreSQL's numeric holds ({NUMERIC_MAX_INT_DIGITS} before the point, {NUMERIC_MAX_FRAC_DIGITS} after)"
                ));
            }
            d.frac.to_string()
        }
        Some(p) => scaled(&text, int, d.frac, p, scale.unwrap_or(0), ty)?,
    };
    let zero = int.is_empty() && frac.bytes().all(|b| b == b'0');
    let mut out = String::with_capacity(int.len() + frac.len() + 3);
    if d.negative && !zero {
        out.push('-');
    }
    out.push_str(if int.is_empty() { "0" } else { int });
    if !frac.is_empty() {
        out.push('.');
        out.push_str(&frac);
    }
    Ok(Value::Numeric(out))
}

/// The fraction padded or cut (zeros only) to `scale` digits, once the
/// value is known to fit `numeric(precision, scale)`.
fn scaled(
    text: &str,
    int: &str,
    frac: &str,
    precision: u16,
    scale: u16,
    ty: &SqlType,
) -> Result<String, String> {
    let (p, s) = (usize::from(precision), usize::from(scale));
    let significant = frac.trim_end_matches('0');
    if significant.len() > s {
        return Err(format!(
            "{text} has {} decimal places; {ty} holds {s} (sheetpipe does not round)",
            significant.len()
        ));
    }
    let mut frac = significant.to_string();
    frac.extend(std::iter::repeat_n('0', s - frac.len()));
    let digits = format!("{int}{frac}");
    if digits.trim_start_matches('0').len() > p {
        return Err(if s <= p {
            format!(
                "{text} has {} digits before the decimal point; {ty} holds at most {}",
                int.len(),
                p - s
            )
        } else {
            format!(
                "{text} is too large for {ty}: its absolute value must be below 1e-{}",
                s - p
            )
        });
    }
    Ok(frac)
}

/// real and double precision. A float cell goes into double as is; every
/// other number must come back from the float type as the same number
/// (the shortest text of the stored float equals the value written), so
/// 9007199254740993 (2^53 + 1) or a 20-digit code is refused rather than
/// stored as a neighbour. real: at most about 7 significant digits.
pub(super) fn float(input: Input<'_>, ty: &SqlType) -> Result<Value, String> {
    let single = *ty == SqlType::Real;
    match input {
        Input::Float(f) if !f.is_finite() => {
            return Err(format!("{f} is not a number {ty} can store"))
        }
        Input::Float(f) if !single => return Ok(Value::Float(f)),
        // Integers the float type holds exactly: nothing to check.
        Input::Int(i) if i.unsigned_abs() <= 1 << if single { 24 } else { 53 } => {
            return Ok(Value::Float(i as f64))
        }
        _ => {}
    }
    let text = number_text(input).ok_or_else(|| not_a(input, "a number"))?;
    let d = Decimal::parse(&text)?;
    let parsed: f64 = text.parse().map_err(|_| not_a_number(&text))?;
    // Up to 15 (double) or 6 (real) significant digits always come back
    // from a normal (not subnormal) float unchanged.
    let (safe_digits, smallest, largest) = if single {
        (6, f64::from(f32::MIN_POSITIVE), f64::from(f32::MAX))
    } else {
        (15, f64::MIN_POSITIVE, f64::MAX)
    };
    let digits = d.significant();
    let normal = (smallest..=largest).contains(&parsed.abs());
    if !(digits <= safe_digits && (digits == 0 || normal)) {
        check_round_trip(&text, &d, parsed, ty)?;
    }
    Ok(Value::Float(match input {
        Input::Float(f) => f,
        _ => parsed,
    }))
}

/// Refuses `text` unless the float nearest it prints back as the same
/// number.
fn check_round_trip(text: &str, d: &Decimal<'_>, parsed: f64, ty: &SqlType) -> Result<(), String> {
    let single = *ty == SqlType::Real;
    let shortest = if single {
        let g: f32 = text.parse().map_err(|_| not_a_number(text))?;
        g.is_finite().then(|| format!("{g}"))
    } else {
        parsed.is_finite().then(|| format!("{parsed}"))
    };
    let Some(shortest) = shortest else {
        return Err(format!("{text} is out of range for {ty}"));
    };
    let back = Decimal::parse(&shortest).expect("a float prints as a decimal");
    if back.normalized() != d.normalized() {
        return Err(format!(
            "{text} would be stored as {shortest} in {ty}, losing digits; use numeric{}",
            if single { " or double precision" } else { "" }
        ));
    }
    Ok(())
}
