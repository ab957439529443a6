//! Streaming .xlsb reader on calamine's xlsb cells reader: binary records
//! in row order, grouped into rows like the xlsx reader, so memory holds
//! one row plus the shared-strings table. Formula cells contribute their
//! cached value: BrtFmlaString, BrtFmlaNum, BrtFmlaBool and BrtFmlaError
//! ([MS-XLSB] 2.4) each hold their value field unconditionally, so a
//! formula without a cached value cannot be written in this format.
//! Merged ranges come from a walk of the sheet's records before the cells
//! stream (`xlsb_merges`).

pub(super) mod merges;

use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::Path;

use calamine::{Reader, Xlsb};

use super::cells::{convert, open_buffered, password_protected, pick_sheet, RowAssembler};
use super::progress::{counting_rows, ReadProgress};
use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::RawRow;

/// Reads one worksheet of an .xlsb workbook.
pub struct XlsbReader {
    workbook: Xlsb<BufReader<std::fs::File>>,
    sheet: String,
    limits: Limits,
    progress: std::sync::Arc<ReadProgress>,
    path: std::path::PathBuf,
}

impl XlsbReader {
    /// Opens the workbook and resolves the sheet.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let workbook = Xlsb::new(open_buffered(path)?).map_err(corrupt)?;
        let sheet = pick_sheet(workbook.sheets_metadata(), opts.sheet.as_deref())?;
        Ok(XlsbReader {
            workbook,
            sheet,
            limits: opts.limits.clone(),
            progress: opts.progress.clone(),
            path: path.to_path_buf(),
        })
    }
}

fn corrupt(e: calamine::XlsbError) -> SourceError {
    if matches!(e, calamine::XlsbError::Password) {
        return password_protected();
    }
    SourceError::Corrupt {
        format: "xlsb",
        message: e.to_string(),
    }
}

impl RowReader for XlsbReader {
    fn format(&self) -> Format {
        Format::Xlsb
    }

    fn sheet_name(&self) -> &str {
        &self.sheet
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        let limits = self.limits.clone();
        // Merged ranges first: their records come after the cells.
        let merges = self::merges::merged_ranges(&self.path, &self.sheet)?;
        let mut cells = self
            .workbook
            .worksheet_cells_reader(&self.sheet)
            .map_err(corrupt)?;
        // Progress: rows reached of the sheet's declared dimension (none
        // declared, or a single cell: unknown).
        let dim = cells.dimensions();
        let last_row = match dim.start == dim.end {
            true => 0,
            false => u64::from(dim.end.0) + 1,
        };
        let emit = &mut counting_rows(&self.progress, last_row, emit);
        let mut rows = RowAssembler::new(&limits, merges);
        while let Some(cell) = cells.next_cell().map_err(corrupt)? {
            let (r, c) = cell.get_position();
            if rows.push(r, c, convert(cell.get_value()), emit)?.is_break() {
                return Ok(());
            }
        }
        rows.finish(emit);
        Ok(())
    }
}
