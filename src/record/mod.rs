//! From raw rows to records of the target table: find what each column
//! means (header mapping onto the runtime schema), turn each cell into the
//! typed value its column stores (`convert.rs`, with a spreadsheet's
//! semantics), and apply the column's rules. Pure functions: no I/O, no
//! async, unit tested.
//!
//! `header.rs` finds the header row and maps columns to table columns; this
//! module turns each data row into a [`Record`] or a [`Rejection`] that
//! names the cell (`Sheet1!D214 (Email)`), its original value and the
//! reason.

pub mod convert;
mod header;
mod header_search;
pub mod infer;
mod preview;
pub mod rules;
mod web;

pub use convert::{convert, ConvertOptions};
pub(crate) use header::{edit_distance, match_key};
pub use header::{
    normalize_header, HeaderError, HeaderMap, HeaderOptions, HEADER_SEARCH_ROWS, IGNORE,
};
pub use header_search::HeaderFinder;
pub use preview::suggest_fields;
pub use web::{check_email, normalize_website};

use crate::model::{column_letter, Cell, Column, RawRow, Record, Rejection, Value};
use header::describe_column;

/// Characters trimmed from both ends of every value: Unicode white space
/// (tabs, NBSP, the en/em spaces…) plus zero-width space and BOM.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}')
}

/// How values are validated.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Longest value accepted in any cell, in characters; longer → rejected.
    pub max_cell_chars: usize,
    /// How text becomes typed values (`--date-format`).
    pub convert: ConvertOptions,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_cell_chars: 32 * 1024,
            convert: ConvertOptions::default(),
        }
    }
}

impl HeaderMap {
    /// Turns one data row into a record, or the reason it is rejected.
    /// Cells beyond the header's width are ignored. (A rejection is large,
    /// but rejections are the rare path and are moved on, never copied.)
    #[allow(clippy::result_large_err)]
    pub fn record(&self, row: &RawRow, rules: &Rules) -> Result<Record, Rejection> {
        self.take_record(row.clone(), rules)
    }

    /// [`record`](Self::record) of a row the caller gives up (the import
    /// loop): a text cell stored exactly as read — nothing to trim, within
    /// the limits, no rule that rewrites it — moves its text into the
    /// record instead of copying it. Every other cell is converted as
    /// `record` does, and a rejection still shows every cell as read:
    /// moved texts are put back before it is made.
    #[allow(clippy::result_large_err)]
    pub fn take_record(&self, mut row: RawRow, rules: &Rules) -> Result<Record, Rejection> {
        let mut values = vec![Value::Null; self.target.columns.len()];
        // Sheet columns (of the first 128) whose text moved into `values`.
        let mut moved: u128 = 0;
        for (col, slot) in self.slot_of_column.iter().enumerate() {
            let (Some(slot), Some(cell)) = (*slot, row.cells.get_mut(col)) else {
                continue;
            };
            let taken = if col < 128 {
                self.take_text(slot, cell, rules)
            } else {
                None
            };
            let got = match taken {
                Some(v) => {
                    moved |= 1 << col;
                    Ok(v)
                }
                None => self.cell_value(slot, cell, rules),
            };
            match got {
                Ok(v) => values[slot] = v,
                Err(why) => {
                    self.put_back(&mut row, &mut values, moved);
                    let column = &self.target.columns[slot];
                    return Err(self.reject_value(&row, col, column, &row.cells[col], why));
                }
            }
        }
        for (slot, checks) in self.rules.refusing_null() {
            if values[slot].is_null() {
                if let Err(why) = checks.check(Value::Null) {
                    self.put_back(&mut row, &mut values, moved);
                    return Err(self.reject(&row, self.column_of_slot(slot), why));
                }
            }
        }
        if let Err((slot, why)) = self.rules.check_unique(row.number, &values) {
            self.put_back(&mut row, &mut values, moved);
            let col = self.column_of_slot(slot);
            let column = &self.target.columns[slot];
            let cell = row.cells.get(col).cloned().unwrap_or_default();
            return Err(self.reject_value(&row, col, column, &cell, why));
        }
        Ok(Record {
            row: row.number,
            values,
        })
    }

    /// The value of a text cell that is stored exactly as read, its text
    /// moved out of the cell; `None` (the cell untouched) for any other
    /// cell, or one that needs trimming, is too long or fails a rule —
    /// [`cell_value`](Self::cell_value) then says what it is, exactly as
    /// for a cell that cannot be moved.
    fn take_text(&self, slot: usize, cell: &mut Cell, rules: &Rules) -> Option<Value> {
        let Cell::Text(s) = cell else { return None };
        let ty = &self.target.columns[slot].sql_type;
        let checks = self.rules.column(slot);
        if !ty.is_text()
            || s.is_empty()
            || s.len() > rules.max_cell_chars
            || s.starts_with(is_space)
            || s.ends_with(is_space)
            || convert::text_fits(s, ty).is_err()
            || checks.is_some_and(|c| !c.keeps_values())
        {
            return None;
        }
        let value = Value::Text(std::mem::take(s));
        match checks.map(|c| c.check_ref(&value)) {
            None | Some(Ok(None)) => Some(value),
            Some(_) => {
                if let Value::Text(s) = value {
                    *cell = Cell::Text(s);
                }
                None
            }
        }
    }

    /// Puts the texts [`take_text`](Self::take_text) moved (the sheet
    /// columns in `moved`) back into `row`, for a rejection to show them.
    fn put_back(&self, row: &mut RawRow, values: &mut [Value], moved: u128) {
        for (col, slot) in self.slot_of_column.iter().enumerate().take(128) {
            if moved & (1 << col) == 0 {
                continue;
            }
            if let (Some(slot), Some(cell)) = (slot, row.cells.get_mut(col)) {
                if let Value::Text(s) = std::mem::replace(&mut values[*slot], Value::Null) {
                    *cell = Cell::Text(s);
                }
            }
        }
    }

    /// The typed value `cell` stores in written column `slot`, or why it
    /// cannot: its length, its type, then the column's rules (an empty
    /// cell is judged by the caller, with missing ones).
    fn cell_value(&self, slot: usize, cell: &Cell, rules: &Rules) -> Result<Value, String> {
        let column = &self.target.columns[slot];
        let checks = self.rules.column(slot);
        check_length(cell, rules)
            .and_then(|()| checks.map_or(Ok(()), |c| c.check_inferred(cell)))
            .and_then(|()| convert(cell, &column.sql_type, &rules.convert))
            .and_then(|v| match checks {
                Some(checks) if !v.is_null() => checks.check(v),
                _ => Ok(v),
            })
    }

    /// The rejection for a cell whose value does not fit its column. Text
    /// columns name the cell as before (`the cell Sheet1!C7 holds …`);
    /// typed columns name the column and its type too.
    fn reject_value(
        &self,
        row: &RawRow,
        col: usize,
        column: &Column,
        cell: &Cell,
        why: String,
    ) -> Rejection {
        let at = self.cell_ref(row.number, col);
        let reason = match cell {
            Cell::Error(_) | Cell::FormulaWithoutValue(_) => format!("the cell {at} {why}"),
            _ if column.sql_type.is_text() => why,
            _ => format!("{at} ({}): {why}", column.describe()),
        };
        self.reject(row, col, reason)
    }

    /// The sheet column that fills written column `slot`.
    fn column_of_slot(&self, slot: usize) -> usize {
        self.slot_of_column
            .iter()
            .position(|s| *s == Some(slot))
            .unwrap_or(0)
    }

    /// `Sheet1!D214` (or `D214` for CSV): a cell as a spreadsheet names it.
    pub fn cell_ref(&self, row: u32, col: usize) -> String {
        if self.sheet.is_empty() {
            format!("{}{row}", column_letter(col))
        } else {
            format!("{}!{}{row}", self.sheet, column_letter(col))
        }
    }

    /// A rejection of `row` for the value in column `col`.
    pub fn reject(&self, row: &RawRow, col: usize, reason: String) -> Rejection {
        Rejection {
            sheet: self.sheet.clone(),
            row: row.number,
            column: describe_column(col, self.headers.get(col).map_or("", |h| h.as_str())),
            value: row.cells.get(col).map(cell_display).unwrap_or_default(),
            reason,
            original: row.cells.iter().map(cell_display).collect(),
        }
    }

    /// A rejection of a whole stored record (database refusals). The
    /// original values are laid out in header order from the stored values
    /// (columns mapped to no table column are not kept on the fast path, so
    /// they are empty here).
    pub fn reject_record(&self, record: &Record, reason: String) -> Rejection {
        let original: Vec<String> = self
            .slot_of_column
            .iter()
            .map(|s| s.map(|s| record.values[s].display()).unwrap_or_default())
            .collect();
        let value = record
            .values
            .first()
            .map(Value::display)
            .unwrap_or_default();
        Rejection {
            sheet: self.sheet.clone(),
            row: record.row,
            column: String::new(),
            value,
            reason,
            original,
        }
    }
}

/// A text longer than `--max-cell-chars` is rejected, never cut.
fn check_length(cell: &Cell, rules: &Rules) -> Result<(), String> {
    let Cell::Text(v) = cell else { return Ok(()) };
    // Bytes bound chars from above: count only when it matters.
    if v.len() <= rules.max_cell_chars {
        return Ok(());
    }
    let chars = v.trim_matches(is_space).chars().count();
    if chars > rules.max_cell_chars {
        return Err(format!(
            "the value is {chars} characters long; the limit is {} (--max-cell-chars)",
            rules.max_cell_chars
        ));
    }
    Ok(())
}

/// The text to store for a cell: `Ok(None)` for empty, `Err(reason)` for a
/// cell that cannot be stored (error values, formulas without a value).
pub fn cell_text(cell: &Cell) -> Result<Option<String>, String> {
    let text = match cell {
        Cell::Empty => return Ok(None),
        Cell::Text(s) => s.trim_matches(is_space).to_string(),
        Cell::Int(i) => i.to_string(),
        Cell::Float(f) => format_number(*f),
        Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Cell::DateTime(s) => s.clone(),
        Cell::Error(_) | Cell::FormulaWithoutValue(_) => {
            return Err(unusable(cell).unwrap_or_default())
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

/// Why a cell holds nothing that can be stored (an error value, a formula
/// without a cached value), or `None` for every other cell.
pub(crate) fn unusable(cell: &Cell) -> Option<String> {
    match cell {
        Cell::Error(e) => Some(format!("holds the error value {e}")),
        Cell::FormulaWithoutValue(f) => {
            let what = if f.is_empty() {
                "a formula".to_string()
            } else {
                format!("the formula ={f}")
            };
            Some(format!(
                "holds {what} with no cached value (open the file in a spreadsheet program, recalculate and save it)"
            ))
        }
        _ => None,
    }
}

/// A cell as a person sees it, untrimmed, for reports.
pub fn cell_display(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Error(e) => e.clone(),
        Cell::FormulaWithoutValue(f) if f.is_empty() => String::new(),
        Cell::FormulaWithoutValue(f) => format!("={f}"),
        other => cell_text(other).ok().flatten().unwrap_or_default(),
    }
}

/// A number as Excel's General format shows it: integers without `.0`, at
/// most 15 significant digits, never exponent notation, no float artefacts
/// (5551234567.0 → `5551234567`, 0.1+0.2 → `0.3`).
pub fn format_number(f: f64) -> String {
    if !f.is_finite() {
        return f.to_string();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return (f as i64).to_string();
    }
    // The shortest form that round-trips (Rust's Display, never exponent
    // notation). When it has at most 15 significant digits it is already
    // the 15-digit rounding: it lies within half an ulp of `f`, and 15-digit
    // decimals are spaced wider than an ulp (10^15 < 2^53), so no other
    // 15-digit decimal is nearer. (Saves a format and a parse per cell.)
    let shortest = f.to_string();
    if significant_digits(&shortest) <= 15 {
        return shortest;
    }
    // Round to 15 significant digits, then print the shortest form that
    // round-trips.
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    let s = format!("{rounded}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// Digits of a plain decimal (`-0.00120`) from its first non-zero one on,
/// trailing zeros counted (an over-count only sends the caller the slow
/// way).
fn significant_digits(plain: &str) -> usize {
    plain
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&b| b == b'0')
        .count()
}

#[cfg(test)]
mod declared_tests;
#[cfg(test)]
mod tests;
