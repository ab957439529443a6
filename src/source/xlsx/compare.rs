//! Test support, hidden from the API: the default sheet of an .xlsx read
//! by our reader (`xlsx`) and by calamine's streaming cell reader, with
//! the same conversion, merged ranges and limits, for the differential
//! test (`tests/it/xlsx_reader.rs`).

use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::Path;

use super::book::open_zip;
use super::{read_entry, XlsxReader};
use crate::model::{Cell, RawRow};
use crate::source::cells::{pick_sheet, RowAssembler};
use crate::source::{Format, RowReader, SourceOptions};

/// The rows of the default sheet of the .xlsx at `path` as our reader
/// and as calamine's streaming cell reader (same conversion, same merged
/// ranges, same limits) read them, for the differential test
/// (`tests/it/xlsx_reader.rs`). Each side is a list of rows or its error.
#[doc(hidden)]
pub fn read_both_ways(path: &Path) -> (Result<Vec<RawRow>, String>, Result<Vec<RawRow>, String>) {
    let opts = SourceOptions::default();
    let collect = |reader: &mut dyn RowReader| {
        let mut rows = Vec::new();
        reader
            .read(&mut |row| {
                rows.push(row);
                ControlFlow::Continue(())
            })
            .map(|()| rows)
            .map_err(|e| e.to_string())
    };
    let ours = XlsxReader::open(path, &opts)
        .map_err(|e| e.to_string())
        .and_then(|mut r| collect(&mut r).map(|rows| (rows, r.part.clone())));
    let theirs = (|| -> Result<Vec<RawRow>, String> {
        use calamine::{DataRef, Reader};
        let file = BufReader::new(File::open(path).map_err(|e| e.to_string())?);
        let mut wb = calamine::Xlsx::new(file).map_err(|e| e.to_string())?;
        let sheet = pick_sheet(wb.sheets_metadata(), None).map_err(|e| e.to_string())?;
        let merges = match &ours {
            Ok((_, part)) => {
                let mut zip = open_zip(path, Format::Xlsx).map_err(|e| e.to_string())?;
                read_entry(&mut zip, part, &opts.limits, 0, false, |src| {
                    Ok(super::merges::find_merges(src))
                })
                .map_err(|e| e.to_string())?
                .0
                .unwrap_or_default()
            }
            Err(_) => Vec::new(),
        };
        let mut cells = wb
            .worksheet_cells_reader(&sheet)
            .map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        let mut assembler = RowAssembler::new(&opts.limits, merges);
        let mut emit = |row| {
            rows.push(row);
            ControlFlow::Continue(())
        };
        while let Some(cell) = cells
            .next_cell_with_formula_metadata()
            .map_err(|e| e.to_string())?
        {
            let value = match (&cell.value, cell.formula) {
                (DataRef::Empty, Some(f)) => Cell::FormulaWithoutValue(match f {
                    calamine::XlsxFormulaMetadata::Normal { formula }
                    | calamine::XlsxFormulaMetadata::Shared { formula, .. } => formula,
                    _ => String::new(),
                }),
                (value, _) => crate::source::cells::convert(value),
            };
            let _more = assembler
                .push(cell.pos.0, cell.pos.1, value, &mut emit)
                .map_err(|e| e.to_string())?;
        }
        assembler.finish(&mut emit);
        Ok(rows)
    })();
    (ours.map(|(rows, _)| rows), theirs)
}
