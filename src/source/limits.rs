//! Hard limits on what an input file may make us do. Each is checked before
//! the work it protects, and a breach stops the import with an error naming
//! the limit and the flag (or environment variable) that raises it.

use serde::Serialize;

/// Configurable ceilings; the defaults are safe for an upload service.
#[derive(Debug, Clone, Serialize)]
pub struct Limits {
    /// Largest input file accepted, in bytes.
    pub max_file_bytes: u64,
    /// Most data rows read from one sheet.
    pub max_rows: u64,
    /// Most columns in one row.
    pub max_columns: u32,
    /// Largest single cell, in bytes, that a reader will hold. Cells longer
    /// than the (smaller) validation limit are rejected row by row; this one
    /// stops the import because the reader itself must not hold more.
    pub max_cell_bytes: usize,
    /// Most entries in a zip container (xlsx, xlsb, ods).
    pub max_zip_entries: usize,
    /// Most bytes a zip container may inflate to, all entries together.
    pub max_inflated_bytes: u64,
    /// Largest inflate ratio (inflated / compressed) for one zip entry.
    pub max_inflate_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 1 << 30,
            max_rows: 10_000_000,
            max_columns: 16_384,
            max_cell_bytes: 1 << 20,
            max_zip_entries: 10_000,
            max_inflated_bytes: 4 << 30,
            max_inflate_ratio: 1_000,
        }
    }
}

/// A limit that an input reached.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{what} exceeds the limit of {limit} (raise it with {flag})")]
pub struct LimitExceeded {
    /// What was measured, e.g. "row 12 has 20000 columns, which".
    pub what: String,
    /// The configured ceiling.
    pub limit: u64,
    /// The CLI flag / environment variable that raises it.
    pub flag: &'static str,
}

impl Limits {
    /// Checks the input file's size.
    pub fn check_file_bytes(&self, bytes: u64) -> Result<(), LimitExceeded> {
        check(
            bytes,
            self.max_file_bytes,
            || format!("the file's size ({bytes} bytes)"),
            "--max-file-bytes / SHEETPIPE_MAX_FILE_BYTES",
        )
    }

    /// Checks the count of data rows read so far.
    pub fn check_rows(&self, rows: u64) -> Result<(), LimitExceeded> {
        check(
            rows,
            self.max_rows,
            || format!("the number of rows ({rows})"),
            "--max-rows / SHEETPIPE_MAX_ROWS",
        )
    }

    /// Checks a row's column count (`columns` is 1-based: the highest column).
    pub fn check_columns(&self, row: u32, columns: u64) -> Result<(), LimitExceeded> {
        check(
            columns,
            self.max_columns as u64,
            || format!("row {row} reaching column {columns}"),
            "--max-columns / SHEETPIPE_MAX_COLUMNS",
        )
    }

    /// Checks the size of one cell.
    pub fn check_cell_bytes(&self, row: u32, bytes: usize) -> Result<(), LimitExceeded> {
        check(
            bytes as u64,
            self.max_cell_bytes as u64,
            || format!("a cell of {bytes} bytes in row {row}"),
            "--max-cell-bytes / SHEETPIPE_MAX_CELL_BYTES",
        )
    }
}

fn check(
    value: u64,
    limit: u64,
    what: impl FnOnce() -> String,
    flag: &'static str,
) -> Result<(), LimitExceeded> {
    if value > limit {
        Err(LimitExceeded {
            what: what(),
            limit,
            flag,
        })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_breach_names_the_limit_and_how_to_raise_it() {
        let limits = Limits {
            max_rows: 10,
            ..Limits::default()
        };
        assert!(limits.check_rows(10).is_ok());
        let err = limits.check_rows(11).unwrap_err().to_string();
        assert!(err.contains("limit of 10"), "{err}");
        assert!(err.contains("--max-rows"), "{err}");
    }
}
