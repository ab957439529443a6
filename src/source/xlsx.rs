//! Streaming .xlsx reader on calamine's `worksheet_cells_reader`: cells
//! arrive in XML order and are grouped into rows here, so memory holds one
//! row (plus the workbook's shared-strings table), never the sheet. Whole
//! sheet loading (`worksheet_range`) is never used: a one-cell file whose
//! dimension claims XFD1048576 would make it allocate ~550 GB.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use calamine::{DataRef, Reader, Xlsx};

use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::{Cell, RawRow};

/// Reads one worksheet of an .xlsx/.xlsm workbook.
pub struct XlsxReader {
    workbook: Xlsx<BufReader<CountingFile>>,
    sheet: String,
    limits: Limits,
}

impl XlsxReader {
    /// Opens the workbook and resolves the sheet (first sheet by default).
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let file = File::open(path).map_err(|source| SourceError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let file = CountingFile {
            inner: file,
            pos: 0,
            seen: opts.bytes_read.clone(),
        };
        let workbook = Xlsx::new(BufReader::with_capacity(64 * 1024, file)).map_err(corrupt)?;
        let names = workbook.sheet_names();
        let sheet = match &opts.sheet {
            None => names.first().cloned().ok_or_else(|| SourceError::Corrupt {
                format: "xlsx",
                message: "the workbook has no worksheets".into(),
            })?,
            Some(wanted) => names
                .iter()
                .find(|n| *n == wanted)
                .cloned()
                .ok_or_else(|| SourceError::SheetNotFound {
                    wanted: wanted.clone(),
                    available: names.clone(),
                })?,
        };
        Ok(XlsxReader {
            workbook,
            sheet,
            limits: opts.limits.clone(),
        })
    }
}

fn corrupt(e: calamine::XlsxError) -> SourceError {
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
        let mut cells = self
            .workbook
            .worksheet_cells_reader(&self.sheet)
            .map_err(corrupt)?;
        let mut current: Option<RawRow> = None;
        let mut rows = 0u64;
        while let Some(cell) = cells.next_cell().map_err(corrupt)? {
            let (r, c) = cell.get_position();
            let number = r.saturating_add(1);
            limits.check_columns(number, c as u64 + 1)?;
            if current.as_ref().is_some_and(|row| row.number != number)
                && emit(current.take().expect("checked")).is_break()
            {
                return Ok(());
            }
            let row = current.get_or_insert_with(|| {
                rows += 1;
                RawRow {
                    number,
                    cells: Vec::new(),
                }
            });
            limits.check_rows(rows)?;
            let value = convert(cell.get_value());
            if let Cell::Text(s) = &value {
                limits.check_cell_bytes(number, s.len())?;
            }
            if value == Cell::Empty {
                continue;
            }
            let c = c as usize;
            if row.cells.len() <= c {
                row.cells.resize(c + 1, Cell::Empty);
            }
            row.cells[c] = value;
        }
        if let Some(row) = current {
            let _ = emit(row);
        }
        Ok(())
    }
}

/// Maps calamine's cell value to ours; dates become ISO-8601 text here,
/// while the workbook's 1900/1904 date system is known.
pub(crate) fn convert(value: &DataRef<'_>) -> Cell {
    match value {
        DataRef::Empty => Cell::Empty,
        DataRef::Int(i) => Cell::Int(*i),
        DataRef::Float(f) => Cell::Float(*f),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_string()),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => match dt.as_datetime() {
            Some(ndt) if !dt.is_duration() => Cell::DateTime(iso_datetime(ndt)),
            _ => Cell::Float(dt.as_f64()),
        },
        DataRef::DateTimeIso(s) => Cell::DateTime(s.clone()),
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
    }
}

/// ISO-8601 for a spreadsheet date/time: a date alone when there is no time
/// of day, a time alone for Excel's day-zero times, both otherwise.
pub(crate) fn iso_datetime(dt: chrono::NaiveDateTime) -> String {
    use chrono::Timelike;
    let time_zero = dt.time().num_seconds_from_midnight() == 0 && dt.nanosecond() == 0;
    let day_zero = dt.date() == chrono::NaiveDate::from_ymd_opt(1899, 12, 31).expect("valid")
        || dt.date() == chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid");
    if time_zero {
        dt.format("%Y-%m-%d").to_string()
    } else if day_zero {
        dt.format("%H:%M:%S").to_string()
    } else {
        dt.format("%Y-%m-%dT%H:%M:%S").to_string()
    }
}

/// A file that records the furthest byte read, for progress reporting.
struct CountingFile {
    inner: File,
    pos: u64,
    seen: Arc<AtomicU64>,
}

impl Read for CountingFile {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        self.seen.fetch_max(self.pos, Ordering::Relaxed);
        Ok(n)
    }
}

impl Seek for CountingFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.pos = self.inner.seek(pos)?;
        Ok(self.pos)
    }
}
