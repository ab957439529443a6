//! Live progress: atomics written by the stages, read by whoever displays
//! them (CLI bar, job status, SSE). Never used for the final report, whose
//! counts come from the collector alone.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::Serialize;

/// Counters shared between the pipeline and its observers.
#[derive(Debug, Default)]
pub struct Progress {
    /// Data rows read so far (blank rows and the header not counted).
    pub rows_read: AtomicU64,
    /// Rows committed so far.
    pub inserted: AtomicU64,
    /// Rows rejected so far.
    pub rejected: AtomicU64,
    /// Bytes of the input consumed (approximate for zip formats).
    pub bytes_read: Arc<AtomicU64>,
    /// Size of the input in bytes.
    pub bytes_total: AtomicU64,
}

/// A point-in-time copy of [`Progress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProgressSnapshot {
    /// Data rows read.
    pub rows_read: u64,
    /// Rows committed.
    pub inserted: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Bytes consumed.
    pub bytes_read: u64,
    /// Input size.
    pub bytes_total: u64,
}

impl Progress {
    /// Reads every counter (each individually consistent).
    pub fn snapshot(&self) -> ProgressSnapshot {
        ProgressSnapshot {
            rows_read: self.rows_read.load(Relaxed),
            inserted: self.inserted.load(Relaxed),
            rejected: self.rejected.load(Relaxed),
            bytes_read: self.bytes_read.load(Relaxed),
            bytes_total: self.bytes_total.load(Relaxed),
        }
    }
}
