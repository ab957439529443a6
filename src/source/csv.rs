//! Streaming CSV reader on the `csv` crate: one reused `ByteRecord`, so
//! memory holds one record. UTF-8 with or without BOM.

use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Format, Limits, RowReader, SourceError, SourceOptions};
use crate::model::{Cell, RawRow};

/// Reads a delimited text file.
pub struct CsvReader {
    reader: csv::Reader<BufReader<File>>,
    limits: Limits,
    bytes_read: Arc<AtomicU64>,
}

impl CsvReader {
    /// Opens the file; a UTF-8 BOM is skipped.
    pub fn open(path: &Path, opts: &SourceOptions) -> Result<Self, SourceError> {
        let io = |source| SourceError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io)?);
        let mut bom = [0u8; 3];
        let n = file.get_mut().read(&mut bom).map_err(io)?;
        if !(n == 3 && bom == [0xEF, 0xBB, 0xBF]) {
            file = BufReader::with_capacity(256 * 1024, File::open(path).map_err(io)?);
        }
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(file);
        Ok(CsvReader {
            reader,
            limits: opts.limits.clone(),
            bytes_read: opts.bytes_read.clone(),
        })
    }
}

impl RowReader for CsvReader {
    fn format(&self) -> Format {
        Format::Csv
    }

    fn sheet_name(&self) -> &str {
        ""
    }

    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError> {
        let mut record = csv::ByteRecord::new();
        let mut number: u32 = 0;
        loop {
            match self.reader.read_byte_record(&mut record) {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                Err(e) => {
                    return Err(SourceError::Corrupt {
                        format: "csv",
                        message: e.to_string(),
                    })
                }
            }
            number = number.saturating_add(1);
            self.limits.check_rows(number as u64)?;
            self.limits.check_columns(number, record.len() as u64)?;
            let mut cells = Vec::with_capacity(record.len());
            for (col, field) in record.iter().enumerate() {
                self.limits.check_cell_bytes(number, field.len())?;
                let text = match std::str::from_utf8(field) {
                    Ok(s) => s.to_string(),
                    Err(_) => {
                        return Err(SourceError::Corrupt {
                            format: "csv",
                            message: format!(
                                "row {number}, column {}: the text is not valid UTF-8",
                                crate::model::column_letter(col)
                            ),
                        })
                    }
                };
                cells.push(if text.is_empty() {
                    Cell::Empty
                } else {
                    Cell::Text(text)
                });
            }
            self.bytes_read
                .store(self.reader.position().byte(), Ordering::Relaxed);
            if emit(RawRow { number, cells }).is_break() {
                return Ok(());
            }
        }
    }
}
