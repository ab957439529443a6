//! Live progress: atomics written by the stages, read by whoever displays
//! them (CLI bar, job status, SSE). Never used for the final report, whose
//! counts come from the collector alone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::Serialize;

use crate::source::{ProgressUnit, ReadProgress};

/// Counters shared between the pipeline and its observers.
#[derive(Debug, Default)]
pub struct Progress {
    /// Data rows read so far (blank rows and the header not counted).
    pub rows_read: AtomicU64,
    /// Rows committed so far (in a dry run: found valid).
    pub inserted: AtomicU64,
    /// Rows that updated a stored row so far (upsert).
    pub updated: AtomicU64,
    /// Rows skipped because their key exists so far (skip-existing).
    pub skipped: AtomicU64,
    /// Rows rejected so far.
    pub rejected: AtomicU64,
    /// How far the reader is through the sheet (see `source::progress`).
    pub source: Arc<ReadProgress>,
    /// Size of the input file in bytes.
    pub bytes_total: AtomicU64,
}

/// A point-in-time copy of [`Progress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProgressSnapshot {
    /// Data rows read.
    pub rows_read: u64,
    /// Rows committed.
    pub inserted: u64,
    /// Rows that updated a stored row (upsert).
    pub updated: u64,
    /// Rows skipped because their key exists (skip-existing).
    pub skipped: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Input file size.
    pub bytes_total: u64,
    /// How far the reader is, in `unit`.
    pub done: u64,
    /// Where the reader will end, in `unit` (0 while unknown).
    pub total: u64,
    /// What `done` and `total` count: `bytes` (csv: of the file; xlsx: of
    /// the sheet's inflated XML) or `rows` (xlsb, xls, ods: sheet rows).
    pub unit: ProgressUnit,
    /// `done / total` in [0, 1]; `null` while the total is unknown.
    pub fraction: Option<f64>,
}

impl Progress {
    /// Reads every counter (each individually consistent).
    pub fn snapshot(&self) -> ProgressSnapshot {
        let at = self.source.position();
        ProgressSnapshot {
            rows_read: self.rows_read.load(Relaxed),
            inserted: self.inserted.load(Relaxed),
            updated: self.updated.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            bytes_total: self.bytes_total.load(Relaxed),
            done: at.done,
            total: at.total,
            unit: at.unit,
            fraction: at.fraction().map(|f| (f * 10_000.0).round() / 10_000.0),
        }
    }
}
