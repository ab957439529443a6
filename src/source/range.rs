//! .xls (BIFF8) and .ods readers. calamine parses these formats whole when
//! the workbook is opened (there is no streaming reader for them), so the
//! sheet's extent is checked against [`Limits`] before we walk it, and the
//! file-size limit bounds the rest. Hostile legacy files are the reason the
//! service parses in an isolated child process (see docs/ARCHITECTURE.md).
//! Merged ranges come from the workbook for xls, and are filled like
//! everywhere else. For ods, one scan of `content.xml` (`ods_scan`) finds
//! what calamine does not expose: merged ranges, booleans stored as numbers,
//! and formulas saved without a cached value (cells calamine reads as
//! empty, merged into the walk here as `extras`). An xls FORMULA record
//! always carries its value ([MS-XLS] 2.4.127), so xls needs no such pass.

use std::ops::ControlFlow;
use std::path::Path;

use calamine::{Data, Dimensions, Ods, Range, Reader, Xls};

use super::cells::{convert_owned, open_buffered, password_protected, pick_sheet, RowAssembler};
use super::ods::cells::Extras;
use super::progress::{counting_rows, ReadProgress};
use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::RawRow;

/// Reads one sheet of an .xls or .ods workbook.
pub struct RangeReader {
    format: Format,
    sheet: String,
    range: Range<Data>,
    merges: Vec<Dimensions>,
    /// Cells calamine reads as empty (ods formulas without a cached value,
    /// or with cached text but no value type), by row.
    extras: Extras,
    limits: Limits,
    progress: std::sync::Arc<ReadProgress>,
}

impl RangeReader {
    /// Opens an .xls or .ods workbook and takes the sheet's cells.
    pub fn open(path: &Path, format: Format, opts: &SourceOptions) -> Result<Self, SourceError> {
        let file = open_buffered(path)?;
        let corrupt = |message: String| SourceError::Corrupt {
            format: format.name(),
            message,
        };
        let (sheet, range, merges, extras) = if format == Format::Xls {
            let mut wb = Xls::new(file).map_err(|e| match e {
                calamine::XlsError::Password => password_protected(),
                e => corrupt(e.to_string()),
            })?;
            let sheet = pick_sheet(wb.sheets_metadata(), opts.sheet.as_deref())?;
            let merges = wb.merge_cells_by_sheet_name(&sheet).unwrap_or_default();
            let range = wb
                .worksheet_range(&sheet)
                .map_err(|e| corrupt(e.to_string()))?;
            check_extent(&range, &opts.limits)?;
            (sheet, range, merges, Extras::default())
        } else {
            let mut wb: Ods<_> = Ods::new(file).map_err(|e| match e {
                calamine::OdsError::Password => password_protected(),
                e => corrupt(e.to_string()),
            })?;
            let sheet = pick_sheet(wb.sheets_metadata(), opts.sheet.as_deref())?;
            let mut range = wb
                .worksheet_range(&sheet)
                .map_err(|e| corrupt(e.to_string()))?;
            check_extent(&range, &opts.limits)?;
            if let Ok(formulas) = wb.worksheet_formula(&sheet) {
                mark_ods_errors(&mut range, &formulas);
            }
            let found =
                super::ods::scan::scan(path, &sheet, &mut range, opts.limits.max_cell_bytes);
            (sheet, range, found.merges, found.extras)
        };
        Ok(RangeReader {
            format,
            sheet,
            range,
            merges,
            extras,
            limits: opts.limits.clone(),
            progress: opts.progress.clone(),
        })
    }
}

/// The sheet's extent against the row and column limits, before its cells
/// are walked.
fn check_extent(range: &Range<Data>, limits: &Limits) -> Result<(), SourceError> {
    if let Some((last_row, last_col)) = range.end() {
        limits.check_rows(range.height() as u64)?;
        limits.check_columns(last_row + 1, last_col as u64 + 1)?;
    }
    Ok(())
}

/// Error values Excel and LibreOffice show.
const ERROR_TEXTS: &[&str] = &[
    "#DIV/0!",
    "#N/A",
    "#NAME?",
    "#NULL!",
    "#NUM!",
    "#REF!",
    "#VALUE!",
    "#GETTING_DATA",
];

/// ODS stores a formula's error result as its text (`#DIV/0!`, or
/// LibreOffice's `Err:502`), which calamine reads as a string: a formula
/// cell whose value is such a text is an error cell.
fn mark_ods_errors(range: &mut Range<Data>, formulas: &Range<String>) {
    let start = range.start().unwrap_or((0, 0));
    let mut errors = Vec::new();
    for (r, c, value) in range.used_cells() {
        let Data::String(s) = value else { continue };
        let pos = (start.0 + r as u32, start.1 + c as u32);
        let is_error = ERROR_TEXTS.contains(&s.as_str()) || s.starts_with("Err:");
        if is_error && formulas.get_value(pos).is_some_and(|f| !f.is_empty()) {
            errors.push((pos, s.clone()));
        }
    }
    for (pos, text) in errors {
        range.set_value(pos, Data::Error(error_type(&text)));
    }
}

fn error_type(text: &str) -> calamine::CellErrorType {
    use calamine::CellErrorType as E;
    match text {
        "#DIV/0!" => E::Div0,
        "#N/A" => E::NA,
        "#NAME?" => E::Name,
        "#NULL!" => E::Null,
        "#NUM!" => E::Num,
        "#REF!" => E::Ref,
        "#GETTING_DATA" => E::GettingData,
        _ => E::Value,
    }
}

impl RowReader for RangeReader {
    fn format(&self) -> Format {
        self.format
    }

    fn sheet_name(&self) -> &str {
        &self.sheet
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        // Progress: rows reached of the range's height (it is all in memory).
        let height = self.range.end().map_or(0, |(r, _)| u64::from(r) + 1);
        let emit = &mut counting_rows(&self.progress, height, emit);
        let mut rows = RowAssembler::new(&self.limits, std::mem::take(&mut self.merges));
        let mut extras = std::mem::take(&mut self.extras);
        let (r0, c0) = self.range.start().unwrap_or((0, 0));
        let mut cells = self
            .range
            .used_cells()
            .map(|(r, c, v)| (r0 + r as u32, c0 + c as u32, v))
            .peekable();
        // Row by row, the range's cells then the scan's: the assembler
        // only needs rows in order, not columns.
        loop {
            let row = match (cells.peek().map(|c| c.0), extras.next_row()) {
                (Some(a), Some(b)) => a.min(b),
                (Some(r), None) | (None, Some(r)) => r,
                (None, None) => break,
            };
            while let Some((r, c, value)) = cells.next_if(|c| c.0 == row) {
                if rows.push(r, c, convert_owned(value), emit)?.is_break() {
                    return Ok(());
                }
            }
            for (c, cell) in extras.take_row(row) {
                if rows.push(row, c, cell, emit)?.is_break() {
                    return Ok(());
                }
            }
        }
        rows.finish(emit);
        Ok(())
    }
}
