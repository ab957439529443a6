//! The data that flows through the pipeline: raw cells as a reader saw
//! them, the target table's runtime schema (`schema.rs`; declared in a
//! TOML file by `declared.rs`), the typed values
//! and records we store (`value.rs`, [`Record`]), and the [`Rejection`]
//! that explains a row we did not store.

mod declared;
mod schema;
mod value;

pub use declared::{load_schema_file, parse_type};
pub use schema::{Column, Rule, SqlType, TableSchema, Target, BUSINESSES};
pub use value::Value;

use serde::Serialize;

/// One cell as a reader produced it, before any of our value rules apply.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    /// No value (missing or empty cell).
    #[default]
    Empty,
    /// Text, exactly as stored (not yet trimmed).
    Text(String),
    /// A whole number stored as an integer.
    Int(i64),
    /// A number stored as a float (Excel stores all numbers this way).
    Float(f64),
    /// A boolean cell.
    Bool(bool),
    /// A date/time already rendered as ISO-8601 text by the reader.
    DateTime(String),
    /// An error value such as `#REF!` or `#N/A`.
    Error(String),
    /// A formula cell whose file carries no cached value.
    FormulaWithoutValue(String),
}

/// One data row as read: its number as the spreadsheet shows it (1-based)
/// and its cells from column A on (a short row simply has fewer cells).
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    /// Row number as shown by a spreadsheet program (1-based).
    pub number: u32,
    /// Cells from column A; missing trailing cells are absent.
    pub cells: Vec<Cell>,
}

impl RawRow {
    /// True when every cell is empty or whitespace: such rows are skipped.
    pub fn is_blank(&self) -> bool {
        self.cells.iter().all(|c| match c {
            Cell::Empty => true,
            Cell::Text(s) => s.chars().all(crate::record::is_space),
            _ => false,
        })
    }
}

/// A validated row ready to be written, with where it came from so that a
/// database rejection can still name the row.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Row number as the spreadsheet shows it.
    pub row: u32,
    /// One value per written column, in [`Target`] order.
    pub values: Vec<Value>,
}

impl Record {
    /// Bytes the record holds, roughly (the batcher bounds units by it).
    pub fn size_bytes(&self) -> usize {
        std::mem::size_of::<Record>() + self.values.iter().map(Value::size_bytes).sum::<usize>()
    }
}

/// Why one row was not stored: where, which column, the value, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    /// Sheet name (empty for CSV).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sheet: String,
    /// Row number as the spreadsheet shows it.
    pub row: u32,
    /// Column letter and header, e.g. `D (Email)`; empty when the whole row
    /// was refused (for example by a database constraint spanning columns).
    pub column: String,
    /// The offending value as read.
    pub value: String,
    /// Why the row was rejected.
    pub reason: String,
    /// The row's original values in header order, for the reject report.
    #[serde(skip)]
    pub original: Vec<String>,
}

impl Rejection {
    /// Where the rejected value is, as a spreadsheet names it:
    /// `Sheet1!D214 (Email)`, `D214 (Email)` for CSV, `Sheet1!row 214` when
    /// the whole row was refused.
    pub fn place(&self) -> String {
        let sheet = if self.sheet.is_empty() {
            String::new()
        } else {
            format!("{}!", self.sheet)
        };
        match self.column.split_once(' ') {
            _ if self.column.is_empty() => format!("{sheet}row {}", self.row),
            Some((letter, header)) => format!("{sheet}{letter}{} {header}", self.row),
            None => format!("{sheet}{}{}", self.column, self.row),
        }
    }
}

/// Spreadsheet column letters for a 0-based column index: 0 → A, 27 → AB.
pub fn column_letter(mut index: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'A' + (index % 26) as u8);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// The 0-based index of a column by its spreadsheet letters, either case:
/// `A` → 0, `ab` → 27, `XFD` → 16383 (the last column a sheet has); `None`
/// for anything else (no letters, other characters, past `XFD`). The
/// inverse of [`column_letter`].
pub fn column_of_letters(letters: &str) -> Option<usize> {
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let n = letters.bytes().try_fold(0usize, |n, b| {
        b.is_ascii_alphabetic()
            .then(|| n * 26 + usize::from(b.to_ascii_uppercase() - b'A') + 1)
    })?;
    (n <= 16_384).then(|| n - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejection_names_its_cell_like_a_spreadsheet() {
        let mut r = Rejection {
            sheet: "Sheet1".into(),
            row: 214,
            column: "D (Email)".into(),
            value: String::new(),
            reason: String::new(),
            original: vec![],
        };
        assert_eq!(r.place(), "Sheet1!D214 (Email)");
        r.column = "D".into();
        assert_eq!(r.place(), "Sheet1!D214");
        r.sheet.clear();
        r.column.clear();
        assert_eq!(r.place(), "row 214");
    }

    #[test]
    fn column_letters_follow_spreadsheet_naming() {
        for i in [0, 1, 25, 26, 27, 701, 702, 16_383] {
            assert_eq!(column_of_letters(&column_letter(i)), Some(i));
            assert_eq!(column_of_letters(&column_letter(i).to_lowercase()), Some(i));
        }
        for bad in ["", "A1", "XFE", "AAAA", "é"] {
            assert_eq!(column_of_letters(bad), None, "{bad}");
        }
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(25), "Z");
        assert_eq!(column_letter(26), "AA");
        assert_eq!(column_letter(27), "AB");
        assert_eq!(column_letter(701), "ZZ");
        assert_eq!(column_letter(702), "AAA");
        assert_eq!(column_letter(16383), "XFD");
    }

    #[test]
    fn a_row_of_spaces_and_empty_cells_is_blank() {
        let row = RawRow {
            number: 3,
            cells: vec![Cell::Empty, Cell::Text(" \u{a0}\t".into())],
        };
        assert!(row.is_blank());
        let row = RawRow {
            number: 3,
            cells: vec![Cell::Empty, Cell::Int(0)],
        };
        assert!(!row.is_blank());
    }
}
