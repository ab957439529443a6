//! Hard limits on what an input file may make us do. Each is checked before
//! the work it protects, and a breach stops the import with an error naming
//! the limit and the flag (or environment variable) that raises it.

use serde::{Deserialize, Serialize};

/// Configurable ceilings; the defaults are safe for an upload service.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// Largest inflate ratio (inflated / compressed) for one zip entry,
    /// enforced once the entry has inflated past [`RATIO_FLOOR`] bytes.
    pub max_inflate_ratio: u64,
    /// Most bytes one zip entry may inflate to.
    pub max_entry_bytes: u64,
    /// Most strings in a workbook's shared-strings table (declared or real).
    pub max_shared_strings: u64,
    /// Most bytes the shared-strings part may inflate to.
    pub max_shared_strings_bytes: u64,
    /// Longest wall time of one import's reading, in seconds.
    pub max_seconds: u64,
    /// Address-space ceiling of an isolated reader process, in bytes.
    pub max_reader_memory: u64,
    /// Largest single row, all its cells' text together, in bytes.
    pub max_row_bytes: u64,
}

/// Default [`Limits::max_reader_memory`]: 256 MiB of address space, so the
/// reader child and the import around it stay under 512 MB together
/// (docs/ROBUSTNESS.md, "Memory").
pub const DEFAULT_MAX_READER_MEMORY: u64 = 256 << 20;

/// Below this many inflated bytes an entry's inflate ratio is not judged:
/// tiny XML parts legitimately compress 100× and more.
pub const RATIO_FLOOR: u64 = 1 << 20;

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
            max_entry_bytes: 2 << 30,
            max_shared_strings: 10_000_000,
            // Below the reader's ceiling, so a big table is reported as such.
            max_shared_strings_bytes: 160 << 20,
            max_seconds: 3_600,
            max_reader_memory: DEFAULT_MAX_READER_MEMORY,
            max_row_bytes: 16 << 20,
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

    /// Checks the size of a whole row (the text of all its cells).
    pub fn check_row_bytes(&self, row: u32, bytes: u64) -> Result<(), LimitExceeded> {
        check(
            bytes,
            self.max_row_bytes,
            || format!("row {row}, {bytes} bytes of cells,"),
            "--max-row-bytes / SHEETPIPE_MAX_ROW_BYTES",
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

impl Limits {
    /// Checks the number of entries in a zip container.
    pub fn check_zip_entries(&self, entries: u64) -> Result<(), LimitExceeded> {
        check(
            entries,
            self.max_zip_entries as u64,
            || format!("the zip container's entry count ({entries})"),
            "--max-zip-entries / SHEETPIPE_MAX_ZIP_ENTRIES",
        )
    }

    /// Checks the bytes one zip entry has inflated to so far.
    pub fn check_entry_bytes(&self, entry: &str, bytes: u64) -> Result<(), LimitExceeded> {
        check(
            bytes,
            self.max_entry_bytes,
            || {
                format!(
                    "zip entry {entry} inflating to more than {} bytes",
                    bytes - 1
                )
            },
            "--max-entry-bytes / SHEETPIPE_MAX_ENTRY_BYTES",
        )
    }

    /// Checks the bytes all zip entries have inflated to so far.
    pub fn check_inflated_bytes(&self, bytes: u64) -> Result<(), LimitExceeded> {
        check(
            bytes,
            self.max_inflated_bytes,
            || {
                format!(
                    "the zip container inflating to more than {} bytes",
                    bytes - 1
                )
            },
            "--max-inflated-bytes / SHEETPIPE_MAX_INFLATED_BYTES",
        )
    }

    /// Checks one entry's inflate ratio once it is past [`RATIO_FLOOR`].
    pub fn check_inflate_ratio(
        &self,
        entry: &str,
        inflated: u64,
        compressed: u64,
    ) -> Result<(), LimitExceeded> {
        if inflated <= RATIO_FLOOR {
            return Ok(());
        }
        let ratio = inflated / compressed.max(1);
        check(
            ratio,
            self.max_inflate_ratio,
            || {
                format!("zip entry {entry} inflating {compressed} bytes to {inflated}, a ratio ({ratio}:1) that")
            },
            "--max-inflate-ratio / SHEETPIPE_MAX_INFLATE_RATIO",
        )
    }

    /// Checks the number of shared strings (declared or counted).
    pub fn check_shared_strings(&self, what: &str, count: u64) -> Result<(), LimitExceeded> {
        check(
            count,
            self.max_shared_strings,
            || format!("the shared-strings table's {what} ({count})"),
            "--max-shared-strings / SHEETPIPE_MAX_SHARED_STRINGS",
        )
    }

    /// Checks the inflated size of the shared-strings part so far.
    pub fn check_shared_strings_bytes(&self, bytes: u64) -> Result<(), LimitExceeded> {
        check(
            bytes,
            self.max_shared_strings_bytes,
            || {
                format!(
                    "the shared-strings part inflating to more than {} bytes",
                    bytes - 1
                )
            },
            "--max-shared-strings-bytes / SHEETPIPE_MAX_SHARED_STRINGS_BYTES",
        )
    }

    /// Checks the wall time spent reading so far.
    pub fn check_seconds(&self, elapsed: std::time::Duration) -> Result<(), LimitExceeded> {
        let secs = elapsed.as_secs();
        if elapsed.as_nanos() <= u128::from(self.max_seconds) * 1_000_000_000 {
            return Ok(());
        }
        check(
            secs.max(self.max_seconds + 1),
            self.max_seconds,
            || format!("the import's reading time ({secs} s)"),
            "--max-seconds / SHEETPIPE_MAX_SECONDS",
        )
    }

    /// The error for an isolated reader that ran out of its memory ceiling.
    pub fn reader_memory_exceeded(&self) -> LimitExceeded {
        LimitExceeded {
            what: "the reader's memory use".into(),
            limit: self.max_reader_memory,
            flag: "--max-reader-memory / SHEETPIPE_MAX_READER_MEMORY",
        }
    }
}

/// Every flag a [`LimitExceeded`] can name.
const FLAGS: [&str; 14] = [
    "--max-file-bytes / SHEETPIPE_MAX_FILE_BYTES",
    "--max-rows / SHEETPIPE_MAX_ROWS",
    "--max-columns / SHEETPIPE_MAX_COLUMNS",
    "--max-cell-bytes / SHEETPIPE_MAX_CELL_BYTES",
    "--max-zip-entries / SHEETPIPE_MAX_ZIP_ENTRIES",
    "--max-entry-bytes / SHEETPIPE_MAX_ENTRY_BYTES",
    "--max-inflated-bytes / SHEETPIPE_MAX_INFLATED_BYTES",
    "--max-inflate-ratio / SHEETPIPE_MAX_INFLATE_RATIO",
    "--max-shared-strings / SHEETPIPE_MAX_SHARED_STRINGS",
    "--max-shared-strings-bytes / SHEETPIPE_MAX_SHARED_STRINGS_BYTES",
    "--max-seconds / SHEETPIPE_MAX_SECONDS",
    "--max-reader-memory / SHEETPIPE_MAX_READER_MEMORY",
    "--max-row-bytes / SHEETPIPE_MAX_ROW_BYTES",
    "the limit's flag",
];

/// The static flag text matching `flag` (as sent by an isolated reader).
pub(crate) fn static_flag(flag: &str) -> &'static str {
    FLAGS
        .iter()
        .find(|f| **f == flag)
        .copied()
        .unwrap_or(FLAGS[FLAGS.len() - 1])
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
