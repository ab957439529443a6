//! Streaming .xlsx/.xlsm reader on calamine's `worksheet_cells_reader`:
//! cells arrive in XML order and are grouped into rows, so memory holds one
//! row (plus the workbook's shared-strings table), never the sheet. Whole
//! sheet loading (`worksheet_range`) is never used: a one-cell file whose
//! dimension claims XFD1048576 would make it allocate ~550 GB.
//!
//! Cells are read with their formula metadata, so a formula saved without
//! a cached value (files written by libraries that do not calculate) is
//! seen as such and its row rejected, instead of reading as an empty cell.
//! Derived shared formulas carry no text, so the metadata variant costs no
//! allocation per cell on the common path.

use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::Path;

use calamine::{DataRef, Reader, Xlsx, XlsxFormulaMetadata};

use super::cells::{convert, password_protected, pick_sheet, CountingFile, RowAssembler};
use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::{Cell, RawRow};

/// Reads one worksheet of an .xlsx/.xlsm workbook.
pub struct XlsxReader {
    workbook: Xlsx<BufReader<CountingFile>>,
    sheet: String,
    limits: Limits,
    path: std::path::PathBuf,
}

impl XlsxReader {
    /// Opens the workbook and resolves the sheet (first visible worksheet
    /// by default).
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let workbook = Xlsx::new(CountingFile::open(path, opts)?).map_err(corrupt)?;
        let sheet = pick_sheet(workbook.sheets_metadata(), opts.sheet.as_deref())?;
        Ok(XlsxReader {
            workbook,
            sheet,
            limits: opts.limits.clone(),
            path: path.to_path_buf(),
        })
    }
}

fn corrupt(e: calamine::XlsxError) -> SourceError {
    if matches!(e, calamine::XlsxError::Password) {
        return password_protected();
    }
    SourceError::Corrupt {
        format: "xlsx",
        message: e.to_string(),
    }
}

impl RowReader for XlsxReader {
    fn format(&self) -> Format {
        Format::Xlsx
    }

    fn sheet_name(&self) -> &str {
        &self.sheet
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        let limits = self.limits.clone();
        // Merged ranges first: their XML comes after the rows (measured:
        // ~9% of the reader's CPU time, docs/FORMATS.md).
        let merges = super::xlsx_merges::merged_ranges(&self.path, &self.sheet);
        let mut cells = self
            .workbook
            .worksheet_cells_reader(&self.sheet)
            .map_err(corrupt)?;
        let mut rows = RowAssembler::new(&limits, merges);
        while let Some(cell) = cells.next_cell_with_formula_metadata().map_err(corrupt)? {
            let (r, c) = cell.pos;
            let value = match (&cell.value, cell.formula) {
                (DataRef::Empty, Some(f)) => Cell::FormulaWithoutValue(formula_text(f)),
                (value, _) => convert(value),
            };
            if rows.push(r, c, value, emit)?.is_break() {
                return Ok(());
            }
        }
        rows.finish(emit);
        Ok(())
    }
}

/// The text of a formula for messages.
fn formula_text(f: XlsxFormulaMetadata) -> String {
    match f {
        XlsxFormulaMetadata::Normal { formula } | XlsxFormulaMetadata::Shared { formula, .. } => {
            formula
        }
        // A derived shared formula carries no text (expanding it would cost
        // an allocation per cell); the reason then says "a formula".
        _ => String::new(),
    }
}
