//! From raw rows to businesses: find what each column means (header
//! mapping), turn each cell into the text a person reading the sheet would
//! expect, and validate. Pure functions: no I/O, no async, unit tested.
//!
//! `header.rs` finds the header row and maps columns to fields; this module
//! turns each data row into a [`Record`] or a [`Rejection`] that names the
//! cell (`Sheet1!D214 (Email)`), its original value and the reason.

pub mod convert;
mod header;
pub mod infer;
pub mod rules;
mod web;

pub use header::{
    normalize_header, HeaderError, HeaderFinder, HeaderMap, HeaderOptions, ALIASES,
    HEADER_SEARCH_ROWS,
};
pub use web::{check_email, normalize_website};

use crate::model::{
    column_letter, Business, Cell, RawRow, Record, Rejection, EMAIL, NAME, WEBSITE,
};
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
    /// Longest `name` accepted, in characters.
    pub max_name_chars: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_cell_chars: 32 * 1024,
            max_name_chars: 500,
        }
    }
}

impl HeaderMap {
    /// Turns one data row into a record, or the reason it is rejected.
    /// Cells beyond the header's width are ignored. (A rejection is large,
    /// but rejections are the rare path and are moved on, never copied.)
    #[allow(clippy::result_large_err)]
    pub fn record(&self, row: &RawRow, rules: &Rules) -> Result<Record, Rejection> {
        let mut fields: [Option<String>; 9] = Default::default();
        for (col, field) in self.field_of_column.iter().enumerate() {
            let (Some(field), Some(cell)) = (field, row.cells.get(col)) else {
                continue;
            };
            let value = cell_text(cell).map_err(|reason| {
                let at = self.cell_ref(row.number, col);
                self.reject(row, col, format!("the cell {at} {reason}"))
            })?;
            if let Some(v) = &value {
                // Bytes bound chars from above: count only when it matters.
                let chars = if v.len() > rules.max_cell_chars {
                    v.chars().count()
                } else {
                    0
                };
                if chars > rules.max_cell_chars {
                    return Err(self.reject(
                        row,
                        col,
                        format!(
                            "the value is {chars} characters long; the limit is {} (--max-cell-chars)",
                            rules.max_cell_chars
                        ),
                    ));
                }
            }
            fields[*field] = value;
        }
        let name_col = self.column_of(NAME);
        match &fields[NAME] {
            None => return Err(self.reject(row, name_col, "name is required".into())),
            Some(name) if name.chars().count() > rules.max_name_chars => {
                return Err(self.reject(
                    row,
                    name_col,
                    format!("name is longer than {} characters", rules.max_name_chars),
                ))
            }
            Some(_) => {}
        }
        if let Some(email) = &fields[EMAIL] {
            if let Err(why) = check_email(email) {
                return Err(self.reject(row, self.column_of(EMAIL), why));
            }
        }
        if let Some(site) = &fields[WEBSITE] {
            match normalize_website(site) {
                Ok(None) => {}
                Ok(Some(url)) => fields[WEBSITE] = Some(url),
                Err(why) => return Err(self.reject(row, self.column_of(WEBSITE), why)),
            }
        }
        Ok(Record {
            row: row.number,
            business: Business { fields },
        })
    }

    /// `Sheet1!D214` (or `D214` for CSV): a cell as a spreadsheet names it.
    pub fn cell_ref(&self, row: u32, col: usize) -> String {
        if self.sheet.is_empty() {
            format!("{}{row}", column_letter(col))
        } else {
            format!("{}!{}{row}", self.sheet, column_letter(col))
        }
    }

    /// The column holding `field` (callers only ask for mapped fields).
    fn column_of(&self, field: usize) -> usize {
        self.field_of_column
            .iter()
            .position(|f| *f == Some(field))
            .unwrap_or(0)
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
    /// original values are laid out in header order from the stored fields
    /// (columns mapped to no field are not kept on the fast path, so they
    /// are empty here).
    pub fn reject_record(&self, record: &Record, reason: String) -> Rejection {
        Rejection {
            sheet: self.sheet.clone(),
            row: record.row,
            column: String::new(),
            value: record.business.name().to_string(),
            reason,
            original: self
                .field_of_column
                .iter()
                .map(|f| {
                    f.and_then(|f| record.business.fields[f].clone())
                        .unwrap_or_default()
                })
                .collect(),
        }
    }
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
        return format!("{}", f as i64);
    }
    // Round to 15 significant digits, then print the shortest form that
    // round-trips; Rust's Display never uses exponent notation.
    let rounded: f64 = format!("{f:.14e}").parse().unwrap_or(f);
    let s = format!("{rounded}");
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

#[cfg(test)]
mod tests;
