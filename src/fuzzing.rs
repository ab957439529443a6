//! Entry points shared by the cargo-fuzz targets (`fuzz/`) and the stable
//! smoke harness (`tests/it/fuzz_smoke.rs`): each takes arbitrary bytes and
//! drives one path of sheetpipe the way an import would. They must return
//! for every input — an error is fine, a panic, abort or hang is a bug.
//! Not part of the supported API.

use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::{Cell, RawRow};
use crate::record::{HeaderMap, Rules};
use crate::source::{self, Isolation, Limits, SourceError, SourceOptions};

/// Limits small enough that a fuzzer spends its time on parsing, not on
/// legitimately huge inputs.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_file_bytes: 16 << 20,
        max_rows: 100_000,
        max_cell_bytes: 1 << 20,
        max_entry_bytes: 64 << 20,
        max_inflated_bytes: 128 << 20,
        max_shared_strings: 1_000_000,
        max_shared_strings_bytes: 64 << 20,
        max_seconds: 20,
        max_reader_memory: 1 << 30,
        ..Limits::default()
    }
}

/// A file in the temp directory holding `data`, removed when dropped.
struct TempInput(PathBuf);

impl TempInput {
    fn new(data: &[u8], ext: &str) -> std::io::Result<TempInput> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("sheetpipe-fuzz-{}-{n}.{ext}", std::process::id()));
        std::fs::write(&path, data)?;
        Ok(TempInput(path))
    }
}

impl Drop for TempInput {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Reads `data` as a file named `*.ext` (the content decides the reader),
/// and maps and validates every row like an import. Returns the rows read.
pub fn read_bytes(
    data: &[u8],
    ext: &str,
    isolation: Option<Isolation>,
) -> Result<u64, SourceError> {
    if !belongs_to(ext, data) {
        return Ok(0);
    }
    let input = TempInput::new(data, ext).map_err(|source| SourceError::Io {
        path: "fuzz input".into(),
        source,
    })?;
    let opts = SourceOptions {
        limits: fuzz_limits(),
        isolation,
        ..SourceOptions::default()
    };
    let mut reader = source::open(&input.0, &opts)?;
    let sheet = reader.sheet_name().to_string();
    let rules = Rules::default();
    let mut header: Option<HeaderMap> = None;
    let mut rows = 0u64;
    reader.read(&mut |row| {
        rows += 1;
        check_row(&sheet, &row, &mut header, &rules);
        ControlFlow::Continue(())
    })?;
    Ok(rows)
}

/// Keeps each target on its own reader (the content picks the reader, so
/// an OLE2 mutant in the csv target would fuzz xls instead): zip for
/// xlsx/xlsb/ods, OLE2 for xls, neither for csv.
fn belongs_to(ext: &str, data: &[u8]) -> bool {
    let zip = data.starts_with(b"PK\x03\x04");
    let ole2 = data.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    match ext {
        "xlsx" | "xlsb" | "ods" => zip,
        "xls" => ole2,
        _ => !zip && !ole2,
    }
}

/// Header mapping and row validation on rows decoded from `data`: the
/// first row is the header candidate, the rest are data rows.
pub fn header_and_rows(data: &[u8]) {
    let rules = Rules {
        max_cell_chars: 64,
        ..Rules::default()
    };
    let mut header = None;
    for row in decode_rows(data) {
        check_row("Fuzz", &row, &mut header, &rules);
    }
}

fn check_row(sheet: &str, row: &RawRow, header: &mut Option<HeaderMap>, rules: &Rules) {
    if row.is_blank() {
        return;
    }
    match header {
        None => {
            if let Ok(map) = HeaderMap::from_row(sheet, row) {
                *header = Some(map);
            }
        }
        Some(map) => match map.record(row, rules) {
            Ok(record) => {
                assert_eq!(record.row, row.number);
                let name = map.target.columns.iter().position(|c| c.name == "name");
                let value = name.map(|i| &record.values[i]);
                assert!(
                    value.is_some_and(|v| !v.display().is_empty()),
                    "a record without a name"
                );
            }
            Err(rejection) => assert_eq!(rejection.row, row.number),
        },
    }
}

/// Rows from bytes: `\n` ends a row, `\t` a cell; a cell's first byte picks
/// its kind (text, int, float, bool, date, error, empty).
pub fn decode_rows(data: &[u8]) -> Vec<RawRow> {
    data.split(|b| *b == b'\n')
        .take(1000)
        .enumerate()
        .map(|(i, line)| RawRow {
            number: i as u32 + 1,
            cells: line
                .split(|b| *b == b'\t')
                .take(64)
                .map(decode_cell)
                .collect(),
        })
        .collect()
}

fn decode_cell(bytes: &[u8]) -> Cell {
    let Some((&kind, rest)) = bytes.split_first() else {
        return Cell::Empty;
    };
    let text = String::from_utf8_lossy(rest).into_owned();
    let number = |n: usize| {
        let mut b = [0u8; 8];
        for (i, x) in rest.iter().take(n).enumerate() {
            b[i] = *x;
        }
        b
    };
    match kind % 8 {
        0 => Cell::Text(text),
        1 => Cell::Int(i64::from_le_bytes(number(8))),
        2 => Cell::Float(f64::from_le_bytes(number(8))),
        3 => Cell::Bool(rest.first().is_some_and(|b| b & 1 == 1)),
        4 => Cell::DateTime(text),
        5 => Cell::Error(text),
        6 => Cell::FormulaWithoutValue(text),
        _ => Cell::Empty,
    }
}
