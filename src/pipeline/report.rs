//! The result of an import: exact counts, the first rejected rows, and the
//! tutorial's `stats` object.

use std::time::Duration;

use serde::Serialize;

use super::Method;
use crate::model::Rejection;
use crate::record::{HeaderError, HeaderMap};
use crate::sink::merge::Mode;
use crate::sink::DbError;
use crate::source::SourceError;

/// How an import ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every row read was inserted or rejected (the default: an empty report).
    #[default]
    Completed,
    /// Stopped on request; counts are exact for what was committed.
    Cancelled,
    /// Stopped by an error; counts are exact for what was committed.
    Failed,
}

/// Exit code of an import stopped by its error budget (`--max-errors`,
/// `--max-error-rate`).
pub const EXIT_TOO_MANY_REJECTED: u8 = 6;

/// Why an import could not run (or could not run to the end).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The target table cannot be used: it does not exist (naming those
    /// that do), has columns of types sheetpipe cannot write, or does not
    /// match its declaration.
    #[error("{0}")]
    Table(String),
    /// The header row is unusable.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// The database failed (not a row's fault).
    #[error(transparent)]
    Database(#[from] DbError),
    /// More rows were rejected than `--max-errors` / `--max-error-rate`
    /// allow: the import was stopped (what was committed stays).
    #[error("{0}")]
    TooManyRejected(String),
    /// A bug: a stage panicked. The import fails; the process lives.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ImportError {
    /// The CLI exit code for this error (documented in the README).
    pub fn exit_code(&self) -> u8 {
        match self {
            ImportError::Source(SourceError::Limit(_)) => 4,
            ImportError::Source(_) | ImportError::Header(_) | ImportError::Table(_) => 3,
            ImportError::Database(_) => 5,
            ImportError::TooManyRejected(_) => EXIT_TOO_MANY_REJECTED,
            ImportError::Internal(_) => 1,
        }
    }
}

/// Everything known about one finished import. `Default` is an empty
/// report (nothing read), for callers that build one without running.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// The strategy used.
    pub method: Method,
    /// How it ended.
    pub status: Status,
    /// Why it failed, when it did.
    pub error: Option<ImportError>,
    /// Sheet read (empty for CSV).
    pub sheet: String,
    /// Data rows read (blank rows and the header not counted).
    pub rows_read: u64,
    /// Rows inserted (for a replace: the rows the table now holds).
    pub inserted: u64,
    /// Rows that updated a stored row (upsert).
    pub updated: u64,
    /// Rows left alone because their key exists (skip-existing).
    pub skipped: u64,
    /// How rows whose key exists were treated.
    pub mode: Mode,
    /// Rows rejected (validation or database).
    pub rejected: u64,
    /// Wall time from start to the last commit.
    pub duration: Duration,
    /// The first rejected rows, in row order.
    pub rejected_rows: Vec<Rejection>,
    /// Headers present in the file but mapped to no field.
    pub ignored_columns: Vec<String>,
    /// The header row found and how its columns map (None if none found).
    pub header: Option<HeaderMap>,
    /// What the reader did that the user should know, e.g. text decoded as
    /// Windows-1252 because it was not UTF-8.
    pub warnings: Vec<String>,
    /// True when nothing was written (`--dry-run`): `inserted` then counts
    /// the rows that passed validation.
    pub dry_run: bool,
    /// Where the rows went: the database without its password
    /// (`postgres://user@host:port/db`, `sqlite://PATH`); `None` when no
    /// database was connected (a dry run, or an import that never started).
    pub database: Option<String>,
    /// The table the rows went (or, in a dry run, would go) to.
    pub table: String,
    /// For an import that stopped early: the first row not committed — the
    /// smallest row number that is neither inserted nor rejected (writers
    /// commit out of order, so rows after it may be committed). A re-run of
    /// the rows from here on misses nothing; `None` when nothing is left.
    pub resume_from_row: Option<u32>,
    /// The CREATE TABLE run for this import (`--create`, `--schema` on a
    /// missing table), or in a dry run the one that would run.
    pub ddl: Option<String>,
}

/// The tutorial's `stats` object, plus `duration_ms`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stats {
    /// Data rows read.
    pub total_records: u64,
    /// Rows stored: inserted + updated.
    pub success_count: u64,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows that updated a stored row (upsert).
    pub updated: u64,
    /// Rows left alone because their key exists (skip-existing).
    pub skipped: u64,
    /// Rows rejected (validation or database).
    pub error_count: u64,
    /// Rows read but neither stored, skipped nor rejected (a cancelled or
    /// failed import: rows in flight when it stopped). `success_count +
    /// skipped + error_count + unprocessed == total_records`.
    pub unprocessed: u64,
    /// Go-style duration text, e.g. `1.234s`.
    pub duration: String,
    /// Duration in milliseconds.
    pub duration_ms: u64,
    /// Rows read per second.
    pub records_per_second: f64,
}

impl ImportReport {
    /// Rows read but neither inserted nor rejected: non-zero only for a
    /// cancelled or failed import (rows queued when it stopped).
    pub fn unprocessed(&self) -> u64 {
        self.rows_read
            .saturating_sub(self.inserted + self.updated + self.skipped + self.rejected)
    }

    /// The tutorial's stats.
    pub fn stats(&self) -> Stats {
        let secs = self.duration.as_secs_f64();
        Stats {
            total_records: self.rows_read,
            success_count: self.inserted + self.updated,
            inserted: self.inserted,
            updated: self.updated,
            skipped: self.skipped,
            error_count: self.rejected,
            unprocessed: self.unprocessed(),
            duration: go_duration(self.duration),
            duration_ms: self.duration.as_millis() as u64,
            records_per_second: if secs > 0.0 {
                (self.rows_read as f64 / secs * 100.0).round() / 100.0
            } else {
                0.0
            },
        }
    }
}

/// Formats like Go's `time.Duration.String()`: `850ms`, `1.5s`, `1m2.5s`.
pub fn go_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let trim = |v: f64, unit: &str| {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        format!("{s}{unit}")
    };
    if ns == 0 {
        "0s".into()
    } else if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        trim(ns as f64 / 1e3, "µs")
    } else if ns < 1_000_000_000 {
        trim(ns as f64 / 1e6, "ms")
    } else if ns < 60_000_000_000 {
        trim(ns as f64 / 1e9, "s")
    } else {
        let mins = ns / 60_000_000_000;
        let rest = (ns % 60_000_000_000) as f64 / 1e9;
        if mins < 60 {
            format!("{mins}m{}", trim(rest, "s"))
        } else {
            format!("{}h{}m{}", mins / 60, mins % 60, trim(rest, "s"))
        }
    }
}

/// A duration for people (text output; JSON keeps [`go_duration`]): `850 µs`,
/// `94.6 ms`, `1.24 s`, `2 min 5 s`, `1 h 2 min`.
pub fn human_duration(d: Duration) -> String {
    let secs = d.as_secs_f64();
    if secs < 1e-3 {
        format!("{} µs", d.as_micros())
    } else if secs < 1.0 {
        format!("{:.1} ms", secs * 1e3)
    } else if secs < 60.0 {
        format!("{secs:.2} s")
    } else if secs < 3600.0 {
        let s = d.as_secs();
        format!("{} min {} s", s / 60, s % 60)
    } else {
        let m = d.as_secs() / 60;
        format!("{} h {} min", m / 60, m % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_for_people_have_a_unit_and_few_digits() {
        let cases = [
            (Duration::from_nanos(94_605_426), "94.6 ms"),
            (Duration::from_micros(1_240_300), "1.24 s"),
            (Duration::from_micros(850), "850 µs"),
            (Duration::ZERO, "0 µs"),
            (Duration::from_millis(999), "999.0 ms"),
            (Duration::from_secs(125), "2 min 5 s"),
            (Duration::from_secs(3720), "1 h 2 min"),
        ];
        for (d, text) in cases {
            assert_eq!(human_duration(d), text, "{d:?}");
        }
    }

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(Duration::from_millis(3100)), "3.1s");
        assert_eq!(go_duration(Duration::from_micros(850_500)), "850.5ms");
        assert_eq!(go_duration(Duration::from_secs(62)), "1m2s");
        assert_eq!(go_duration(Duration::ZERO), "0s");
    }
}
