//! Value rules beyond the type, applied to a converted [`Value`]: the
//! [`Rule`]s a schema file or a preset declares for a column (required,
//! min/max, length, regex, one-of, email, url) and uniqueness within the
//! file ([`UniqueTracker`]). A column's rules are compiled once
//! ([`ColumnRules::new`]: bounds parsed in the column's type, regexes
//! built) and then checked for every row. A reason names what is wrong
//! (`13 is above the maximum 12`); the caller names the cell and column.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::sync::Mutex;

use super::convert::{convert, ConvertOptions};
use super::{check_email, normalize_website};
use crate::model::{Cell, Column, Rule, SqlType, Value};

/// One compiled check.
#[derive(Debug)]
enum Check {
    Min(Value, String),
    Max(Value, String),
    MinLength(usize),
    MaxLength(usize),
    Regex(regex::Regex, String),
    OneOf(Vec<Value>, String),
    Email,
    Url,
}

/// A column's rules, compiled once.
#[derive(Debug)]
pub struct ColumnRules {
    /// The column's name, as the required and length messages say it
    /// (`name is required`, the tutorial's wording).
    name: String,
    /// NULL is refused with "is required".
    required: bool,
    /// NULL is refused because the column is NOT NULL (it has a default,
    /// which the database applies only when the column is left out).
    not_null: bool,
    /// The column's type was inferred from the first this many rows, and
    /// the type (`Rule::InferredFrom`): each cell is checked before it
    /// is converted ([`ColumnRules::check_inferred`]).
    inferred: Option<(u64, SqlType)>,
    checks: Vec<Check>,
}

impl ColumnRules {
    /// Compiles `column`'s rules: min/max and one-of values are read in
    /// the column's type, regexes built. `Err` names the column and the
    /// rule that cannot apply (`min 'abc' for qty integer: 'abc' is not a
    /// number`, an invalid regex, email on a number column).
    pub fn new(column: &Column) -> Result<ColumnRules, String> {
        let ty = &column.sql_type;
        let bad = |rule: &str, why: String| format!("{rule} for {}: {why}", column.describe());
        let bound = |rule: &str, b: &str| -> Result<Value, String> {
            if !orderable(ty) {
                return Err(bad(rule, format!("{ty} values have no order")));
            }
            match parse_in(ty, b).map_err(|why| bad(&format!("{rule} '{b}'"), why))? {
                Value::Null => Err(bad(rule, "the bound is empty".into())),
                v => Ok(v),
            }
        };
        let mut checks = Vec::new();
        let mut inferred = None;
        for rule in &column.rules {
            checks.push(match rule {
                Rule::Required | Rule::Unique => continue,
                Rule::InferredFrom(rows) => {
                    inferred = Some((*rows, ty.clone()));
                    continue;
                }
                Rule::Min(b) => Check::Min(bound("min", b)?, b.clone()),
                Rule::Max(b) => Check::Max(bound("max", b)?, b.clone()),
                Rule::MinLength(n) => Check::MinLength(*n),
                Rule::MaxLength(n) => Check::MaxLength(*n),
                Rule::Regex(re) => Check::Regex(
                    regex::Regex::new(&format!("^(?:{re})$"))
                        .map_err(|e| bad(&format!("regex '{re}'"), e.to_string()))?,
                    re.clone(),
                ),
                Rule::OneOf(options) => {
                    let values = options
                        .iter()
                        .map(|o| parse_in(ty, o).map_err(|why| bad(&format!("one-of '{o}'"), why)))
                        .collect::<Result<Vec<_>, _>>()?;
                    Check::OneOf(values, options.join(", "))
                }
                Rule::Email | Rule::Url if !ty.is_text() => {
                    let name = if *rule == Rule::Email { "email" } else { "url" };
                    return Err(bad(name, "it applies to text columns only".into()));
                }
                Rule::Email => Check::Email,
                Rule::Url => Check::Url,
            });
        }
        Ok(ColumnRules {
            name: column.name.clone(),
            required: column.required(),
            not_null: !column.nullable,
            inferred,
            checks,
        })
    }

    /// For a column typed from the first `--infer-rows` rows: refuses a
    /// cell inference would not have typed so (`01234` in an integer
    /// column), before `convert` reads it more leniently (as 1234).
    pub fn check_inferred(&self, cell: &Cell) -> Result<(), String> {
        match &self.inferred {
            Some((rows, ty)) if !crate::record::infer::keeps_type(cell, ty) => Err(format!(
                "{} would not be stored as written in {ty}, which was inferred from the first \
                 {rows} rows (--infer-rows {rows}); --type {}=text keeps it as written",
                cell_shown(cell),
                self.name
            )),
            _ => Ok(()),
        }
    }

    /// Applies the rules to one value: the value to store (a url is
    /// normalized) or the reason it is refused. NULL passes every rule
    /// but `required` and NOT NULL.
    pub fn check(&self, value: Value) -> Result<Value, String> {
        if value.is_null() {
            return if self.required {
                Err(format!("{} is required", self.name))
            } else if self.not_null {
                Err(format!(
                    "{0} is empty, and the column is NOT NULL: its default applies only when the file has no {0} column",
                    self.name
                ))
            } else {
                Ok(value)
            };
        }
        match self.check_ref(&value)? {
            Some(replaced) => Ok(replaced),
            None => Ok(value),
        }
    }

    /// [`check`](Self::check) of a value that is not NULL, looked at in
    /// place: `Ok(None)` when it is stored as it is, `Ok(Some(v))` when a
    /// rule replaces it (a url is normalized), or the reason it is
    /// refused. The caller keeps the value either way, so a refused
    /// cell's text is still there to report.
    pub fn check_ref(&self, value: &Value) -> Result<Option<Value>, String> {
        let mut replaced: Option<Value> = None;
        for check in &self.checks {
            if let Some(v) = apply(check, replaced.as_ref().unwrap_or(value), &self.name)? {
                replaced = Some(v);
            }
        }
        Ok(replaced)
    }

    /// True when no rule of this column can replace a value (only a url
    /// rule does): a value that passes is stored as converted.
    pub fn keeps_values(&self) -> bool {
        !self.checks.iter().any(|c| matches!(c, Check::Url))
    }
}

impl ColumnRules {
    /// True when nothing is checked: a nullable column without rules
    /// (the row loop then skips the column).
    pub fn is_noop(&self) -> bool {
        !self.required && !self.not_null && self.inferred.is_none() && self.checks.is_empty()
    }
}

/// The rules of every written column of one import, compiled once when
/// the header is mapped ([`RowRules::new`], in [`Target`] order), and the
/// within-file uniqueness of its unique columns. A column without rules
/// costs one `None` test per cell.
///
/// [`Target`]: crate::model::Target
#[derive(Debug)]
pub struct RowRules {
    columns: Vec<Option<ColumnRules>>,
    unique: Option<Mutex<UniqueTracker>>,
}

impl RowRules {
    /// Compiles the rules of `columns` (the written columns, in value
    /// order). `Err` names the column and the rule that cannot apply.
    pub fn new(columns: &[Column]) -> Result<RowRules, String> {
        let compiled = columns
            .iter()
            .map(|c| ColumnRules::new(c).map(|r| (!r.is_noop()).then_some(r)))
            .collect::<Result<Vec<_>, _>>()?;
        let unique = UniqueTracker::new(columns);
        Ok(RowRules {
            columns: compiled,
            unique: (!unique.is_empty()).then(|| Mutex::new(unique)),
        })
    }

    /// The compiled rules of written column `slot`, if it has any.
    pub fn column(&self, slot: usize) -> Option<&ColumnRules> {
        self.columns.get(slot).and_then(Option::as_ref)
    }

    /// The columns whose rules may refuse an empty value, with their slot.
    pub fn refusing_null(&self) -> impl Iterator<Item = (usize, &ColumnRules)> {
        self.columns.iter().enumerate().filter_map(|(i, r)| {
            r.as_ref()
                .filter(|r| r.required || r.not_null)
                .map(|r| (i, r))
        })
    }

    /// Uniqueness within the file of one row that passed every other
    /// check ([`UniqueTracker::check_row`]); `Ok` when no column is unique.
    pub fn check_unique(&self, row: u32, values: &[Value]) -> Result<(), (usize, String)> {
        match &self.unique {
            None => Ok(()),
            // A panic elsewhere while holding the lock leaves the seen
            // values intact: keep using them.
            Some(m) => m
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .check_row(row, values),
        }
    }
}

/// Compiled rules are a function of the target columns, which the
/// [`HeaderMap`](super::HeaderMap) holding them compares.
impl PartialEq for RowRules {
    fn eq(&self, _: &RowRules) -> bool {
        true
    }
}

/// [`ColumnRules::new`] and [`ColumnRules::check`] in one call, for a
/// single value (a hot loop compiles the rules once instead).
pub fn check(value: Value, column: &Column) -> Result<Value, String> {
    ColumnRules::new(column)?.check(value)
}

/// Types whose values min/max can compare.
fn orderable(ty: &SqlType) -> bool {
    !matches!(
        ty,
        SqlType::Boolean | SqlType::Uuid | SqlType::Json | SqlType::Jsonb
    )
}

/// A rule's operand read as a value of the column's type (as a text cell
/// would be).
fn parse_in(ty: &SqlType, text: &str) -> Result<Value, String> {
    convert(
        &Cell::Text(text.to_string()),
        ty,
        &ConvertOptions::default(),
    )
}

fn apply(check: &Check, value: &Value, name: &str) -> Result<Option<Value>, String> {
    // Text is looked at in place; other values are shown as text only by
    // the checks that read text.
    let shown = || match value {
        Value::Text(s) => Cow::Borrowed(s.as_str()),
        v => Cow::Owned(v.display()),
    };
    match check {
        Check::Min(bound, written) if compare(value, bound) == Some(Ordering::Less) => {
            Err(format!("{} is below the minimum {written}", shown()))
        }
        Check::Max(bound, written) if compare(value, bound) == Some(Ordering::Greater) => {
            Err(format!("{} is above the maximum {written}", shown()))
        }
        // Bytes bound characters from above: count only when it matters.
        Check::MaxLength(n) if matches!(value, Value::Text(s) if s.len() <= *n) => Ok(None),
        Check::MinLength(n) | Check::MaxLength(n) => {
            let chars = shown().chars().count();
            match check {
                Check::MinLength(_) if chars < *n => {
                    Err(format!("{name} is shorter than {n} characters"))
                }
                Check::MaxLength(_) if chars > *n => {
                    Err(format!("{name} is longer than {n} characters"))
                }
                _ => Ok(None),
            }
        }
        Check::Regex(re, written) if !re.is_match(&shown()) => Err(format!(
            "'{}' does not match the pattern {written}",
            shown()
        )),
        Check::OneOf(options, written) if !options.contains(value) => {
            Err(format!("'{}' is not one of: {written}", shown()))
        }
        Check::Email => match value {
            Value::Text(s) => check_email(s).map(|()| None),
            _ => Ok(None),
        },
        Check::Url => match value {
            Value::Text(s) => Ok(normalize_website(s)?.map(Value::Text)),
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

/// Orders two values of one column type: numbers numerically (numeric
/// exactly), dates and times chronologically, text by Unicode code point.
/// `None` for values that have no order between them.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        (Value::Numeric(x), Value::Numeric(y)) => Some(compare_decimal(x, y)),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(y)),
        (Value::Date(x), Value::Date(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        (Value::TimestampTz(x), Value::TimestampTz(y)) => Some(x.cmp(y)),
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Orders two canonical decimals (`Value::Numeric` text) exactly.
fn compare_decimal(a: &str, b: &str) -> Ordering {
    let (an, ai, af) = split_decimal(a);
    let (bn, bi, bf) = split_decimal(b);
    let magnitude = ai.len().cmp(&bi.len()).then(ai.cmp(bi)).then(af.cmp(bf));
    match (an, bn) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
    }
}

/// A decimal's sign (false for zero), integer digits without leading
/// zeros and fraction digits without trailing zeros.
fn split_decimal(s: &str) -> (bool, &str, &str) {
    let (negative, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    (negative && !(int.is_empty() && frac.is_empty()), int, frac)
}

/// Uniqueness within one file: for every column with a `unique` rule, a
/// 64-bit hash of each value seen and the row that had it first. Memory:
/// a hash table entry of 16 bytes (hash and row) plus one control byte
/// per distinct value and unique column — about 20 bytes at the table's
/// load, up to twice that just after it grows (20–40 MB per million rows
/// per unique column). Two different values share a hash with odds of
/// about n² / 2^65 (3 in 100 million for a million rows); such a row would
/// be refused as a repeat.
#[derive(Debug, Default)]
pub struct UniqueTracker {
    /// (index into the row's values, hash → first row number).
    columns: Vec<(usize, FirstRows)>,
}

impl UniqueTracker {
    /// Tracks the columns of `columns` (in the order of a row's values)
    /// that have a [`Rule::Unique`].
    pub fn new(columns: &[Column]) -> UniqueTracker {
        UniqueTracker {
            columns: columns
                .iter()
                .enumerate()
                .filter(|(_, c)| c.rules.contains(&Rule::Unique))
                .map(|(i, _)| (i, HashMap::default()))
                .collect(),
        }
    }

    /// True when no column is unique (nothing to check).
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Checks one row's values (call it once the row passed every other
    /// check, so a refused row claims no value): `Err((index, reason))`
    /// for the first unique column whose value an earlier row had — then
    /// nothing of this row is remembered; otherwise all its values are.
    /// NULLs never repeat (as in SQL).
    pub fn check_row(&mut self, row: u32, values: &[Value]) -> Result<(), (usize, String)> {
        let mut hashes = Vec::with_capacity(self.columns.len());
        for (index, seen) in &self.columns {
            let Some(value) = values.get(*index).filter(|v| !v.is_null()) else {
                hashes.push(None);
                continue;
            };
            let hash = hash_value(value);
            if let Some(first) = seen.get(&hash) {
                let reason = format!(
                    "the value '{}' is already in row {first} (unique)",
                    value.display()
                );
                return Err((*index, reason));
            }
            hashes.push(Some(hash));
        }
        for ((_, seen), hash) in self.columns.iter_mut().zip(hashes) {
            if let Some(hash) = hash {
                seen.insert(hash, row);
            }
        }
        Ok(())
    }
}

/// A value's 64-bit hash under the database's equality: -0.0 is 0.0, and
/// numeric trailing zeros do not count (1.5 = 1.50).
fn hash_value(value: &Value) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    std::mem::discriminant(value).hash(&mut h);
    match value {
        Value::Null => {}
        Value::Text(s) | Value::Json(s) => s.hash(&mut h),
        Value::Numeric(s) => {
            let s = if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.')
            } else {
                s
            };
            s.hash(&mut h)
        }
        Value::Int(i) => i.hash(&mut h),
        Value::Float(f) => (if *f == 0.0 { 0.0_f64 } else { *f })
            .to_bits()
            .hash(&mut h),
        Value::Bool(b) => b.hash(&mut h),
        Value::Date(d) => d.hash(&mut h),
        Value::Timestamp(t) => t.hash(&mut h),
        Value::TimestampTz(t) => t.hash(&mut h),
        Value::Time(t) => t.hash(&mut h),
        Value::Uuid(u) => u.hash(&mut h),
    }
    h.finish()
}

/// Value hash → the row that had the value first.
type FirstRows = HashMap<u64, u32, BuildHasherDefault<Prehashed>>;

/// The hasher of a table whose keys are already hashes.
#[derive(Debug, Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests;

/// A cell's value as a rejection quotes it: text in quotes, trimmed;
/// numbers as the spreadsheet shows them.
fn cell_shown(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => format!("'{}'", s.trim_matches(super::is_space)),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => super::format_number(*f),
        Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Cell::DateTime(s) | Cell::Error(s) | Cell::FormulaWithoutValue(s) => s.clone(),
        Cell::Empty => String::new(),
    }
}
