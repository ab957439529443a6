//! Inferring a table from the file (`--create`): the column names
//! ([`column_names`]) and, from every data row the caller passes, each
//! column's type ([`Inferrer`]).
//!
//! Each column keeps a set of candidate types. Every value removes the
//! candidates it would not survive unchanged (`classify.rs`: `007` keeps
//! only text, `12.50` only numeric, an Excel date cell date and
//! timestamp), and [`Inferrer::finish`] picks the narrowest candidate left,
//! in the fixed order boolean, integer, bigint, numeric, date, timestamp,
//! timestamptz, time, uuid, text. So the last row counts as much as the
//! first, and for the chosen type `record::convert` accepts every value the
//! column held: the classifier claims a type for a value only where
//! `convert` reads it for that type exactly (it is stricter: `convert`
//! reads `007` as 7). It is a mirror rather than calls to `convert`
//! because it runs over every cell of a million-row file: a scan of the
//! cell's bytes, no allocation, and nothing at all once a column is down
//! to text. Debug builds check each claim of the first rows against
//! `convert` itself, and the tests check every cell they infer.

mod classify;
mod names;

pub use names::{column_names, MAX_NAME_BYTES};

/// Whether inference would have kept `ty` for a column holding `cell`:
/// the cell says nothing about the type (empty, an error), or its value
/// survives `ty` unchanged as the classifier judges it (`007` does not
/// survive integer; `12.50` survives numeric). Text keeps everything. A
/// column typed from the first `--infer-rows` rows checks each later
/// value with this, so a value the sample did not foresee is rejected
/// naming its cell instead of losing a leading zero.
pub fn keeps_type(cell: &crate::model::Cell, ty: &SqlType) -> bool {
    let bit = match ty {
        SqlType::Boolean => classify::BOOLEAN,
        SqlType::Integer | SqlType::SmallInt => classify::INTEGER | classify::BIGINT,
        SqlType::BigInt => classify::BIGINT,
        SqlType::Numeric { .. } => classify::NUMERIC,
        SqlType::Date => classify::DATE,
        SqlType::Timestamp => classify::TIMESTAMP,
        SqlType::TimestampTz => classify::TIMESTAMPTZ,
        SqlType::Time => classify::TIME,
        SqlType::Uuid => classify::UUID,
        _ => return true,
    };
    match classify::classify(cell) {
        Claim::Nothing => true,
        Claim::Types(types) | Claim::Number { types, .. } => types & bit != 0,
    }
}

use crate::model::{Column, RawRow, SqlType};
use classify::{Claim, ALL, MAX_NUMERIC_DIGITS};

/// Numeric columns get at least this precision, so a later import with
/// larger amounts still fits (`numeric(18,2)` for amounts seen up to
/// 12345.67): PostgreSQL stores a numeric by its value, not its declared
/// precision, so the headroom costs nothing.
pub const MIN_NUMERIC_PRECISION: u16 = 18;

/// What has been seen in one column so far.
#[derive(Debug, Clone, Copy)]
struct Seen {
    /// The candidate types still possible (bits of `classify`).
    types: u16,
    /// Whether any value (not empty, not an error) was seen.
    any: bool,
    /// Most digits before the point among numbers.
    int_digits: u16,
    /// Most digits after the point among numbers.
    scale: u16,
    /// Whether some number is one SQLite cannot keep exactly.
    sqlite_inexact: bool,
}

impl Default for Seen {
    fn default() -> Self {
        Seen {
            types: ALL,
            any: false,
            int_digits: 0,
            scale: 0,
            sqlite_inexact: false,
        }
    }
}

impl Seen {
    fn add(&mut self, claim: Claim) {
        match claim {
            Claim::Nothing => {}
            Claim::Types(types) => {
                self.any = true;
                self.types &= types;
            }
            Claim::Number {
                types,
                int_digits,
                scale,
                sqlite_exact,
            } => {
                self.any = true;
                self.types &= types;
                self.int_digits = self.int_digits.max(int_digits);
                self.scale = self.scale.max(scale);
                self.sqlite_inexact |= !sqlite_exact;
            }
        }
    }

    /// The narrowest type left.
    fn sql_type(&self) -> SqlType {
        let first = self.types & self.types.wrapping_neg();
        let digits = self.int_digits + self.scale;
        if !self.any || (first == classify::NUMERIC && digits > MAX_NUMERIC_DIGITS) {
            return SqlType::Text;
        }
        // numeric(p,s): s the most decimals seen, p the most integer
        // digits plus s, at least MIN_NUMERIC_PRECISION.
        let precision = digits.clamp(MIN_NUMERIC_PRECISION, MAX_NUMERIC_DIGITS);
        classify::type_of(first, precision, self.scale)
    }
}

/// Infers each column's type from the data rows it is fed.
#[derive(Debug, Clone, Default)]
pub struct Inferrer {
    columns: Vec<Seen>,
    rows: u64,
}

impl Inferrer {
    /// An inferrer that has seen nothing.
    pub fn new() -> Inferrer {
        Inferrer::default()
    }

    /// Takes one data row (cells from column A) into account.
    pub fn push(&mut self, row: &RawRow) {
        if self.columns.len() < row.cells.len() {
            self.columns.resize(row.cells.len(), Seen::default());
        }
        for (seen, cell) in self.columns.iter_mut().zip(&row.cells) {
            // A column already down to text learns nothing more.
            if !(seen.any && seen.types == 0) {
                let claim = classify::classify(cell);
                #[cfg(debug_assertions)]
                if self.rows < classify::CHECKED_ROWS {
                    classify::check(cell, claim);
                }
                seen.add(claim);
            }
        }
        self.rows += 1;
    }

    /// How many rows were pushed.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether column `index` (0 = A) held any value (not empty, not an
    /// error): lets the caller drop a trailing column with neither header
    /// nor data.
    pub fn has_values(&self, index: usize) -> bool {
        self.columns.get(index).is_some_and(|s| s.any)
    }

    /// One column per name, in order (name `i` is column `i`), with the
    /// narrowest type every value of that column survives in PostgreSQL;
    /// text for a column with no values. Every column is nullable and has
    /// no default; no key is made up.
    pub fn finish(self, names: &[String]) -> Vec<Column> {
        self.columns_for(names, false)
    }

    /// [`finish`](Self::finish) for a SQLite table: SQLite has no exact
    /// decimal (it keeps 15 significant digits of a numeric), so a
    /// numeric column holding a decimal with more is text instead.
    pub fn finish_for_sqlite(self, names: &[String]) -> Vec<Column> {
        self.columns_for(names, true)
    }

    fn columns_for(&self, names: &[String], sqlite: bool) -> Vec<Column> {
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let seen = self.columns.get(i).copied().unwrap_or_default();
                let ty = match seen.sql_type() {
                    SqlType::Numeric { .. } if sqlite && seen.sqlite_inexact => SqlType::Text,
                    ty => ty,
                };
                Column::new(name.clone(), ty)
            })
            .collect()
    }
}

#[cfg(test)]
mod file_tests;
#[cfg(test)]
mod property_tests;
#[cfg(test)]
mod tests;
