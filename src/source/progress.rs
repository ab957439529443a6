//! How far a reader is through its sheet, as `done` of `total` in a unit
//! that suits the format — for progress display only, never accounting:
//!
//! * csv: bytes of the file consumed;
//! * xlsx: bytes of the sheet's XML inflated, of its uncompressed size (the
//!   compressed file is read up front, so its bytes say nothing);
//! * xlsb: rows reached, of the sheet's declared dimension;
//! * xls, ods (parsed whole by calamine): rows reached, of the range's height.
//!
//! The isolated reader passes the same three numbers back over its pipe.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;

use serde::Serialize;

use crate::model::RawRow;

/// What `done` and `total` count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProgressUnit {
    /// Bytes (of the file for csv, of the inflated sheet for xlsx).
    #[default]
    Bytes,
    /// Sheet rows.
    Rows,
}

impl ProgressUnit {
    /// Its wire code.
    pub fn code(self) -> u8 {
        match self {
            ProgressUnit::Bytes => 0,
            ProgressUnit::Rows => 1,
        }
    }

    /// The unit of a wire code (unknown codes read as bytes).
    pub fn from_code(code: u8) -> ProgressUnit {
        match code {
            1 => ProgressUnit::Rows,
            _ => ProgressUnit::Bytes,
        }
    }
}

/// The reader's position, shared with whoever displays it.
#[derive(Debug, Default)]
pub struct ReadProgress {
    done: AtomicU64,
    total: AtomicU64,
    unit: AtomicU8,
}

/// A copy of [`ReadProgress`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadPosition {
    /// How far the reader is.
    pub done: u64,
    /// How far it will go (0: not known yet).
    pub total: u64,
    /// What both count.
    pub unit: ProgressUnit,
}

impl ReadPosition {
    /// `done / total` in [0, 1]; `None` while the total is unknown.
    pub fn fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| self.done.min(self.total) as f64 / self.total as f64)
    }
}

impl ReadProgress {
    /// Starts counting `total` of `unit` from zero.
    pub fn start(&self, unit: ProgressUnit, total: u64) {
        self.unit.store(unit.code(), Relaxed);
        self.done.store(0, Relaxed);
        self.total.store(total, Relaxed);
    }

    /// The reader has reached `done` (never moves back).
    pub fn advance_to(&self, done: u64) {
        self.done.fetch_max(done, Relaxed);
    }

    /// The reader reached the end of its sheet.
    pub fn finish(&self) {
        let total = self.total.load(Relaxed);
        self.done.fetch_max(total, Relaxed);
    }

    /// Sets all three at once (the isolated reader's report).
    pub fn set(&self, p: ReadPosition) {
        self.unit.store(p.unit.code(), Relaxed);
        self.total.store(p.total, Relaxed);
        self.done.store(p.done, Relaxed);
    }

    /// Where the reader is.
    pub fn position(&self) -> ReadPosition {
        ReadPosition {
            done: self.done.load(Relaxed),
            total: self.total.load(Relaxed),
            unit: ProgressUnit::from_code(self.unit.load(Relaxed)),
        }
    }
}

/// `emit`, counting the rows it is given against `total` sheet rows (for
/// readers that know their sheet's extent).
pub fn counting_rows<'a>(
    progress: &'a ReadProgress,
    total: u64,
    emit: &'a mut dyn FnMut(RawRow) -> ControlFlow<()>,
) -> impl FnMut(RawRow) -> ControlFlow<()> + 'a {
    progress.start(ProgressUnit::Rows, total);
    move |row| {
        progress.advance_to(u64::from(row.number));
        emit(row)
    }
}

/// A reader that counts the bytes read through it into `progress`
/// (starting from `read`).
pub struct CountingRead<R> {
    /// The source.
    pub inner: R,
    /// Where the count goes.
    pub progress: Arc<ReadProgress>,
    /// Bytes read so far.
    pub read: u64,
}

impl<R: std::io::Read> std::io::Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        self.progress.advance_to(self.read);
        Ok(n)
    }
}

impl<R: std::io::BufRead> std::io::BufRead for CountingRead<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.read += n as u64;
        self.progress.advance_to(self.read);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fraction_is_unknown_without_a_total_and_never_above_one() {
        let p = ReadProgress::default();
        assert_eq!(p.position().fraction(), None);
        p.start(ProgressUnit::Rows, 200);
        p.advance_to(50);
        p.advance_to(10);
        assert_eq!(p.position().fraction(), Some(0.25));
        p.advance_to(500);
        assert_eq!(p.position().fraction(), Some(1.0));
        p.start(ProgressUnit::Bytes, 10);
        p.finish();
        assert_eq!(p.position().done, 10);
        assert_eq!(p.position().unit, ProgressUnit::Bytes);
    }
}
