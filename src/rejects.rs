//! The reject report: every rejected row as CSV — sheet, row, column,
//! reason, the offending value, then the row's original values under the
//! file's own headers. Safe to open in a spreadsheet program: any cell that
//! starts with `=`, `+`, `-`, `@`, tab or CR is prefixed with `'` so it is
//! never evaluated as a formula. Only the report is escaped; stored data
//! is never altered.
//!
//! How the guard reads back: the `'` is part of the CSV text. A spreadsheet
//! program opening the file shows `'=1+1` as the text `=1+1` (the quote is
//! its own "this is text" mark), but a program reading the CSV — sheetpipe
//! included — gets `'=1+1`, so a fixed CSV imported again stores the quote.
//! For a report to fix and import again, use the .xlsx report
//! ([`crate::rejects_xlsx`]): it needs no guard, its cells are text.
//!
//! [`RejectFile`] picks the format by the file's extension.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

use crate::model::Rejection;
use crate::rejects_xlsx::RejectXlsx;

/// A reject report file: .xlsx when its name ends in `.xlsx` (any case),
/// else CSV.
#[allow(clippy::large_enum_variant)] // a handful per import, never in bulk
pub enum RejectFile {
    /// The CSV report.
    Csv(RejectCsv),
    /// The .xlsx report.
    Xlsx(RejectXlsx),
}

impl RejectFile {
    /// Creates the file, in the format its extension names, with `headers`.
    pub fn create(path: &Path, headers: &[String]) -> std::io::Result<RejectFile> {
        let xlsx = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        Ok(if xlsx {
            RejectFile::Xlsx(RejectXlsx::create(path, headers)?)
        } else {
            RejectFile::Csv(RejectCsv::create(path, headers)?)
        })
    }

    /// Appends one rejected row.
    pub fn write(&mut self, r: &Rejection) -> std::io::Result<()> {
        match self {
            RejectFile::Csv(f) => f.write(r),
            RejectFile::Xlsx(f) => f.write(r),
        }
    }

    /// Flushes (CSV) or saves (.xlsx) the file.
    pub fn finish(self) -> std::io::Result<()> {
        match self {
            RejectFile::Csv(f) => f.finish(),
            RejectFile::Xlsx(f) => f.finish(),
        }
    }
}

/// Writes rejected rows to a CSV file as they arrive.
pub struct RejectCsv {
    out: csv::Writer<BufWriter<File>>,
    /// Number of header columns: every line carries exactly that many
    /// original values (short rows padded, cells beyond the header dropped).
    width: usize,
}

impl RejectCsv {
    /// Creates the file (mode 0600 on Unix: it holds row data) and writes
    /// the header line.
    pub fn create(path: &Path, headers: &[String]) -> std::io::Result<RejectCsv> {
        let mut out = csv::Writer::from_writer(BufWriter::new(private_file(path)?));
        let mut line = vec!["sheet", "row", "column", "reason", "value"];
        line.extend(headers.iter().map(String::as_str));
        out.write_record(line.iter().map(|s| escape(s).into_owned().into_bytes()))?;
        Ok(RejectCsv {
            out,
            width: headers.len(),
        })
    }

    /// Appends one rejected row.
    pub fn write(&mut self, r: &Rejection) -> std::io::Result<()> {
        let row = r.row.to_string();
        let mut line: Vec<&str> = vec![&r.sheet, &row, &r.column, &r.reason, &r.value];
        line.extend(r.original.iter().map(String::as_str).take(self.width));
        line.resize(5 + self.width, "");
        self.out
            .write_record(line.iter().map(|s| escape(s).into_owned().into_bytes()))?;
        Ok(())
    }

    /// Flushes the file.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Creates (or truncates) `path` for writing, mode 0600 on Unix: a reject
/// report holds row data.
pub(crate) fn private_file(path: &Path) -> std::io::Result<File> {
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
    open.open(path)
}

/// Prefixes `'` to text a spreadsheet program would treat as a formula.
pub fn escape(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_like_cells_are_neutralised_in_the_report() {
        assert_eq!(escape("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(escape("+1 555"), "'+1 555");
        assert_eq!(escape("@SUM"), "'@SUM");
        assert_eq!(escape("\tx"), "'\tx");
        assert_eq!(escape("Acme"), "Acme");
    }

    #[test]
    fn the_report_lists_position_reason_and_original_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut w = RejectCsv::create(&path, &["Name".into(), "Email".into()]).unwrap();
        w.write(&Rejection {
            sheet: "Sheet1".into(),
            row: 4,
            column: "B (Email)".into(),
            value: "=1+1".into(),
            reason: "invalid email address".into(),
            original: vec!["Acme".into(), "=1+1".into()],
        })
        .unwrap();
        w.finish().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "sheet,row,column,reason,value,Name,Email\nSheet1,4,B (Email),invalid email address,'=1+1,Acme,'=1+1\n"
        );
    }
}
