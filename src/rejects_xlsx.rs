//! The reject report as .xlsx (`--rejects rejects.xlsx`,
//! `GET /imports/{id}/rejects.xlsx`), made to be fixed and imported again:
//! row 1 holds the file's own headers and then one column,
//! [`REASON_HEADER`]; every rejected row follows with its original values
//! as **text cells** (never a formula, whatever they start with; leading
//! zeros kept), the cell that was refused filled light red with the reason
//! as its note, and the reason in the last column. Fixed in Excel (or by a
//! program) it imports again as it is: the header is found as before, and
//! the reason column is an unknown header, so header matching ignores it.
//!
//! Streamed: the worksheet is in rust_xlsxwriter's constant-memory mode
//! (each row goes to a temporary file as it is written). Notes are kept in
//! memory until the file is saved, so only the first [`MAX_NOTES`] rejected
//! rows get one; every row keeps its highlight and its reason column.

use std::path::Path;

use rust_xlsxwriter::{Color, Format, FormatPattern, Note, Workbook, XlsxError};

use crate::model::Rejection;

/// Header of the column holding each row's reason (ignored on re-import:
/// no table column or alias is named like it).
pub const REASON_HEADER: &str = "sheetpipe: why rejected";

/// Most rejected rows that get a cell note (the rest: highlight and the
/// reason column only).
pub const MAX_NOTES: u32 = 10_000;

/// Writes rejected rows to an .xlsx file as they arrive.
pub struct RejectXlsx {
    file: std::fs::File,
    workbook: Workbook,
    width: usize,
    next_row: u32,
    bad: Format,
}

fn io(e: XlsxError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl RejectXlsx {
    /// Starts the workbook and writes the header row (saved by
    /// [`RejectXlsx::finish`]).
    pub fn create(path: &Path, headers: &[String]) -> std::io::Result<RejectXlsx> {
        // Made now (mode 0600, as the CSV), so a path that cannot be
        // written fails the report at once, not at the end.
        let file = crate::rejects::private_file(path)?;
        let mut workbook = Workbook::new();
        let width = headers.len();
        let sheet = workbook.add_worksheet_with_constant_memory().map_err(io)?;
        sheet.set_name("Rejected rows").map_err(io)?;
        let bold = Format::new().set_bold();
        for (c, h) in headers
            .iter()
            .chain([&REASON_HEADER.to_string()])
            .enumerate()
        {
            sheet
                .write_string_with_format(0, col(c)?, h, &bold)
                .map_err(io)?;
        }
        let bad = Format::new()
            .set_pattern(FormatPattern::Solid)
            .set_background_color(Color::RGB(0xFFC7CE));
        Ok(RejectXlsx {
            file,
            workbook,
            width,
            next_row: 1,
            bad,
        })
    }

    /// Appends one rejected row: original values as text, the refused
    /// cell highlighted with the reason as its note, then the reason.
    pub fn write(&mut self, r: &Rejection) -> std::io::Result<()> {
        let row = self.next_row;
        self.next_row += 1;
        let bad_col = column_index(&r.column).filter(|&c| c < self.width);
        let (bad, width) = (&self.bad, self.width);
        let sheet = self.workbook.worksheet_from_index(0).map_err(io)?;
        for (c, value) in r.original.iter().take(width).enumerate() {
            if Some(c) == bad_col {
                sheet.write_string_with_format(row, col(c)?, value, bad)
            } else if value.is_empty() {
                continue;
            } else {
                sheet.write_string(row, col(c)?, value)
            }
            .map_err(io)?;
        }
        if let Some(c) = bad_col.filter(|&c| c >= r.original.len()) {
            sheet
                .write_string_with_format(row, col(c)?, "", bad)
                .map_err(io)?;
        }
        let reason = if r.column.is_empty() {
            r.reason.clone()
        } else {
            format!("{}: {}", r.column, r.reason)
        };
        sheet.write_string(row, col(width)?, &reason).map_err(io)?;
        if row <= MAX_NOTES {
            let note = Note::new(&r.reason)
                .set_author("sheetpipe")
                .add_author_prefix(false);
            sheet
                .insert_note(row, col(bad_col.unwrap_or(width))?, &note)
                .map_err(io)?;
        }
        Ok(())
    }

    /// Saves the workbook.
    pub fn finish(mut self) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(&mut self.file);
        self.workbook.save_to_writer(&mut out).map_err(io)?;
        std::io::Write::flush(&mut out)
    }
}

/// A 0-based column as rust_xlsxwriter's column number (at most 16,384).
fn col(c: usize) -> std::io::Result<u16> {
    u16::try_from(c)
        .ok()
        .filter(|&c| c < 16_384)
        .ok_or_else(|| std::io::Error::other("more columns than an .xlsx sheet holds"))
}

/// The 0-based index of a rejection's column, from its letters
/// (`"D (E-mail)"` → 3); `None` when the whole row was refused.
fn column_index(column: &str) -> Option<usize> {
    let letters: String = column
        .chars()
        .take_while(char::is_ascii_uppercase)
        .collect();
    crate::model::column_of_letters(&letters)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rejections_column_letters_name_its_index() {
        assert_eq!(column_index("A (name)"), Some(0));
        assert_eq!(column_index("D (E-mail)"), Some(3));
        assert_eq!(column_index("AA (x)"), Some(26));
        assert_eq!(column_index(""), None);
    }
}
