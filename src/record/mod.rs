//! From raw rows to businesses: find what each column means (header
//! mapping), turn each cell into the text a person reading the sheet would
//! expect, and validate. Pure functions: no I/O, no async, unit tested.

use crate::model::{column_letter, Business, Cell, RawRow, Record, Rejection, EMAIL, FIELDS, NAME};

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

/// Why a header row cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// No column maps to `name`.
    #[error("no column matches 'name' in the header row {row}: found [{}]; expected some of [{}]", found.join(", "), FIELDS.join(", "))]
    MissingName {
        /// Header row number.
        row: u32,
        /// The headers present.
        found: Vec<String>,
    },
    /// Two columns map to the same field.
    #[error(
        "columns {first} and {second} both map to '{field}'; keep one or map one of them elsewhere"
    )]
    Duplicate {
        /// The field.
        field: &'static str,
        /// First column, e.g. `A (Name)`.
        first: String,
        /// Second column.
        second: String,
    },
    /// The sheet has no rows at all.
    #[error("the sheet is empty: no header row")]
    NoHeader,
}

/// What each column of the sheet means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    /// Sheet name, for rejections (empty for CSV).
    pub sheet: String,
    /// Row number of the header row.
    pub row: u32,
    /// The header text of each column, trimmed.
    pub headers: Vec<String>,
    /// For each column, the field index it fills.
    pub field_of_column: Vec<Option<usize>>,
    /// Headers present but not mapped to any field (ignored).
    pub ignored: Vec<String>,
}

/// Normalizes a header for matching: case, BOM and surrounding spaces go.
pub fn normalize_header(text: &str) -> String {
    text.trim_matches(is_space).to_lowercase()
}

impl HeaderMap {
    /// Builds the mapping from a header row: columns match the nine fields
    /// by name, ignoring case and surrounding spaces, in any order.
    pub fn from_row(sheet: &str, row: &RawRow) -> Result<HeaderMap, HeaderError> {
        let headers: Vec<String> = row
            .cells
            .iter()
            .map(|c| cell_display(c).trim_matches(is_space).to_string())
            .collect();
        let mut field_of_column = Vec::with_capacity(headers.len());
        let mut column_of_field: [Option<usize>; 9] = [None; 9];
        let mut ignored = Vec::new();
        for (col, header) in headers.iter().enumerate() {
            let wanted = normalize_header(header);
            let field = FIELDS.iter().position(|f| *f == wanted);
            if let Some(field) = field {
                if let Some(first) = column_of_field[field] {
                    return Err(HeaderError::Duplicate {
                        field: FIELDS[field],
                        first: describe_column(first, &headers[first]),
                        second: describe_column(col, header),
                    });
                }
                column_of_field[field] = Some(col);
            } else if !header.is_empty() {
                ignored.push(header.clone());
            }
            field_of_column.push(field);
        }
        if column_of_field[NAME].is_none() {
            return Err(HeaderError::MissingName {
                row: row.number,
                found: headers.into_iter().filter(|h| !h.is_empty()).collect(),
            });
        }
        Ok(HeaderMap {
            sheet: sheet.to_string(),
            row: row.number,
            headers,
            field_of_column,
            ignored,
        })
    }

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
            let value = cell_text(cell).map_err(|reason| self.reject(row, col, reason))?;
            if let Some(v) = &value {
                let chars = v.chars().count();
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
        Ok(Record {
            row: row.number,
            business: Business { fields },
        })
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

/// `D (Email)`: the column letter and its header.
fn describe_column(col: usize, header: &str) -> String {
    if header.is_empty() {
        column_letter(col)
    } else {
        format!("{} ({header})", column_letter(col))
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
        Cell::Error(e) => return Err(format!("the cell holds the error value {e}")),
        Cell::FormulaWithoutValue(f) => {
            return Err(format!(
                "the formula ={f} has no cached value (recalculate and save the file)"
            ))
        }
    };
    Ok((!text.is_empty()).then_some(text))
}

/// A cell as a person sees it, untrimmed, for reports.
pub fn cell_display(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => s.clone(),
        Cell::Error(e) => e.clone(),
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

/// `local@domain.tld`: one `@`, no spaces, a dotted domain whose labels are
/// non-empty and whose last label has at least two letters.
pub fn check_email(email: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid email address: {why}"));
    if email.chars().any(char::is_whitespace) {
        return bad("it contains spaces");
    }
    let Some((local, domain)) = email.split_once('@') else {
        return bad("it has no '@'");
    };
    if local.is_empty() {
        return bad("nothing before '@'");
    }
    if domain.contains('@') {
        return bad("more than one '@'");
    }
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return bad("the domain must look like example.com");
    }
    let tld = labels[labels.len() - 1];
    if tld.len() < 2 || !tld.chars().all(|c| c.is_alphabetic()) {
        return bad("the domain must end in a top-level domain such as .com");
    }
    if !labels
        .iter()
        .all(|l| l.chars().all(|c| c.is_alphanumeric() || c == '-'))
    {
        return bad("the domain has characters a domain cannot have");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
