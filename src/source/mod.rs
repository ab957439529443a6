//! Readers: turn a file into a stream of [`RawRow`]s, one sheet, in order.
//! xlsx (our own streaming reader, `xlsx/`), xlsb (on calamine's xlsb cells
//! reader) and CSV stream (memory holds one row); xls and ods are parsed
//! whole by calamine, which has no streaming reader for them, and their
//! extent is checked against [`Limits`] before it is walked.
//!
//! A reader is *push* based: [`RowReader::read`] calls `emit` for each row and
//! stops early when `emit` answers [`ControlFlow::Break`] (cancellation, or
//! the consumer is gone). This keeps borrowing readers such as calamine's
//! streaming xlsb cells reader simple: the reader owns the workbook and the
//! borrow lives only inside `read`, which runs on one blocking thread.
//!
//! The format is judged by the file's content (magic bytes), never by its
//! name. Every reader enforces [`Limits`] before the work they protect.

mod cells;
mod csv;
mod detect;
pub mod digest;
pub mod isolate;
mod limits;
mod ods;
pub mod progress;
mod range;
mod xlsb;
mod xlsx;
#[doc(hidden)]
pub use xlsx::read_both_ways as xlsx_read_both_ways;
mod xml;
pub mod zipguard;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::Arc;

pub use self::csv::{sniff_delimiter, Utf16Reader};
pub use detect::{detect, Format};
pub use isolate::{Abandon, Isolation, ReaderFailure, ReaderFailures};
pub use limits::{LimitExceeded, Limits, DEFAULT_MAX_READER_MEMORY};
pub use progress::{ProgressUnit, ReadPosition, ReadProgress};

use crate::model::RawRow;

/// Why a file could not be read (or could not be read to the end).
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("cannot read the file: {source}")]
    Io {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is empty.
    #[error("the file is empty")]
    Empty,
    /// The content is of a kind we do not read (or is no spreadsheet).
    #[error("{0}")]
    Unsupported(String),
    /// The content claims a format but is broken.
    #[error("{format} file is invalid: {message}")]
    Corrupt {
        /// The format detected.
        format: &'static str,
        /// What the parser said.
        message: String,
    },
    /// The requested sheet does not exist.
    #[error("no sheet named {wanted:?}; sheets in this workbook: {}", available.join(", "))]
    SheetNotFound {
        /// What was asked for.
        wanted: String,
        /// What exists.
        available: Vec<String>,
    },
    /// A configured limit was reached.
    #[error(transparent)]
    Limit(#[from] LimitExceeded),
}

/// Checks a sheet name or position given by a user (`--sheet`, `sheet=`)
/// before any reader sees it: a NUL cannot be in any workbook's sheet name
/// (nor in a process argument), so it is refused here with a clear reason.
pub fn check_sheet_choice(sheet: &str) -> Result<(), String> {
    if sheet.contains('\0') {
        return Err(format!(
            "the sheet {:?} contains a NUL character, which no sheet name can hold",
            sheet.replace('\0', "\\0")
        ));
    }
    Ok(())
}

/// What a reader needs besides the file.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Sheet to read, by name or 1-based position; the first visible
    /// worksheet when `None`. Ignored for CSV.
    pub sheet: Option<String>,
    /// Hard limits on what the file may make us do.
    pub limits: Limits,
    /// How far the reader is through the sheet, for progress reporting
    /// (never used for accounting; see [`progress`]).
    pub progress: Arc<ReadProgress>,
    /// Parse in a separate `sheetpipe __read` process (see [`isolate`]);
    /// `None` parses in this process.
    pub isolation: Option<Isolation>,
    /// Where failures of the isolated reader process are counted, by kind
    /// (shared by every import of a service: its `/metrics`).
    pub reader_failures: Arc<isolate::ReaderFailures>,
}

/// A streaming reader of one sheet.
pub trait RowReader: Send {
    /// The detected format.
    fn format(&self) -> Format;
    /// Name of the sheet being read (empty for CSV).
    fn sheet_name(&self) -> &str;
    /// Calls `emit` for each row in order (blank rows included; the record
    /// layer decides what to skip). Returns early, without error, when
    /// `emit` answers `Break`.
    fn read(&mut self, emit: &mut dyn FnMut(RawRow) -> ControlFlow<()>) -> Result<(), SourceError>;
    /// What the reader did that the user should know (e.g. text decoded as
    /// Windows-1252); asked once, after `read`.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Opens `path` with the reader its content calls for — in an isolated
/// process when `opts.isolation` says so — under the wall-time limit.
pub fn open(path: &Path, opts: &SourceOptions) -> Result<Box<dyn RowReader>, SourceError> {
    open_abandonable(path, opts, &Abandon::default())
}

/// [`open`], on a thread that `abandon` can give up on: an isolated
/// reader's process is then killed and its open fails (an in-process
/// reader opens to its end regardless).
pub fn open_abandonable(
    path: &Path,
    opts: &SourceOptions,
    abandon: &Abandon,
) -> Result<Box<dyn RowReader>, SourceError> {
    let started = std::time::Instant::now();
    let inner = match &opts.isolation {
        Some(iso) => {
            check(path, opts)?;
            Box::new(isolate::ChildReader::open(iso, path, opts, abandon)?)
        }
        None => open_here(path, opts)?,
    };
    Ok(Box::new(isolate::Timed {
        inner,
        started,
        limits: opts.limits.clone(),
    }))
}

/// The checks that need no parsing, cheap enough to run before anything
/// else (the CLI runs them before it connects to a database): the file
/// exists and can be opened, is not empty, is within the size limit, and its
/// content is of a format sheetpipe reads. Returns that format.
pub fn check(path: &Path, opts: &SourceOptions) -> Result<Format, SourceError> {
    let io = |source| SourceError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "it is a directory",
        )));
    }
    opts.limits.check_file_bytes(meta.len())?;
    if meta.len() == 0 {
        return Err(SourceError::Empty);
    }
    let format = detect(path).map_err(io)?;
    match format {
        Format::Xlsx | Format::Xlsb | Format::Xls | Format::Ods | Format::Csv => Ok(format),
        other => Err(SourceError::Unsupported(other.unsupported_message())),
    }
}

/// Opens `path` in this process.
fn open_here(path: &Path, opts: &SourceOptions) -> Result<Box<dyn RowReader>, SourceError> {
    let format = check(path, opts)?;
    // The .xlsx reader runs the guard itself (it reads some parts once,
    // under the guard's limits, instead of having them inflated twice).
    if matches!(format, Format::Xlsb | Format::Ods) {
        zipguard::check(path, format, &opts.limits)?;
    }
    isolate::catch_parser_panic(format, || open_reader(path, format, opts))
}

/// The reader for `format` (the file already checked).
fn open_reader(
    path: &Path,
    format: Format,
    opts: &SourceOptions,
) -> Result<Box<dyn RowReader>, SourceError> {
    match format {
        Format::Xlsx => Ok(Box::new(xlsx::XlsxReader::open(path, opts)?)),
        Format::Xlsb => Ok(Box::new(xlsb::XlsbReader::open(path, opts)?)),
        Format::Xls | Format::Ods => Ok(Box::new(range::RangeReader::open(path, format, opts)?)),
        Format::Csv => Ok(Box::new(csv::CsvReader::open(path, opts)?)),
        other => Err(SourceError::Unsupported(other.unsupported_message())),
    }
}
