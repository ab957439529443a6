//! The collector: the sole owner of an import's counts. It receives every
//! outcome from the reader and the writers, keeps the first rejected rows,
//! streams every rejection to the reject report, tracks exactly which units
//! are not yet written (for `resume_from_row`), and stops the import when
//! the error budget (`--max-errors`, `--max-error-rate`) is exceeded.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::budget::ErrorBudget;
use super::inflight::{shrink_for_report, Held};
use super::ImportError;
use crate::model::Rejection;
use crate::record::HeaderMap;
use crate::rejects::RejectFile;

/// What flows from the reader and writers to the collector.
pub(super) enum Event {
    /// The reader is about to hand the writers a unit whose first row is
    /// this one (sent before the unit, so it always arrives first).
    Queued(u32),
    /// A writer is done with the unit that starts at `unit`: `inserted`
    /// rows committed, and, when it stopped midway (a fatal error), the
    /// first row of the unit it did not write.
    Written {
        /// The unit's first row (its key).
        unit: u32,
        /// Rows committed (stored: inserted, updated or skipped).
        inserted: usize,
        /// Of those, rows that updated a stored row (upsert).
        updated: u64,
        /// Of those, rows left alone because their key exists (skip-existing).
        skipped: u64,
        /// The first row left unwritten, if the unit was not finished.
        unwritten: Option<u32>,
    },
    /// A row rejected by validation or by the database, with its share of
    /// the bytes in flight (none when it was sent after the import stopped).
    Rejected(Rejection, Option<Held>),
    /// A written unit's share of the bytes in flight, given back once the
    /// rejections made from its rows (sent before it) have been collected.
    Release(Held),
}

/// What the collector returns.
#[derive(Debug, Default)]
pub(super) struct Collected {
    /// Rows inserted.
    pub inserted: u64,
    /// Rows that updated a stored row (upsert).
    pub updated: u64,
    /// Rows skipped because their key exists (skip-existing).
    pub skipped: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// The first rejected rows, by row number.
    pub first: Vec<Rejection>,
    /// The error budget was exceeded, or the reject report failed.
    pub error: Option<ImportError>,
    /// The smallest row of a unit that was queued but not (wholly) written.
    pub unwritten: Option<u32>,
}

/// What the collector is told to do besides counting.
pub(super) struct CollectOptions {
    /// How many rejections the report keeps in memory.
    pub max_reported: usize,
    /// Where every rejection goes, if anywhere.
    pub rejects_files: Vec<PathBuf>,
    /// The header (for the reject report's columns).
    pub header: Arc<OnceLock<HeaderMap>>,
    /// When to give up on a file.
    pub budget: ErrorBudget,
    /// Cancelled when the budget is exceeded, so every stage stops.
    pub stop: CancellationToken,
}

/// Runs the collector until every sender is gone.
pub(super) async fn collect(mut events: mpsc::Receiver<Event>, opts: CollectOptions) -> Collected {
    let mut out = Collected::default();
    let mut report = ReportFile::new(opts.rejects_files.clone());
    // Units queued and not yet written: first row → first row unwritten.
    let mut pending: BTreeMap<u32, u32> = BTreeMap::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::Queued(row) => {
                pending.insert(row, row);
            }
            Event::Written {
                unit,
                inserted,
                updated,
                skipped,
                unwritten,
            } => {
                out.inserted += inserted as u64 - updated - skipped;
                out.updated += updated;
                out.skipped += skipped;
                match unwritten {
                    Some(row) => pending.insert(unit, row),
                    None => pending.remove(&unit),
                };
            }
            Event::Release(held) => drop(held),
            Event::Rejected(mut r, held) => {
                out.rejected += 1;
                report.write(&opts.header, &r);
                // Written whole; kept (if among the first) cut short, and
                // its share of the bytes in flight given back.
                shrink_for_report(&mut r);
                drop(held);
                out.first.push(r);
                if out.first.len() >= opts.max_reported.saturating_mul(2).max(64) {
                    keep_first(&mut out.first, opts.max_reported);
                }
            }
        }
        if out.error.is_none() {
            if let Some(why) = opts.budget.exceeded(out.stored(), out.rejected, false) {
                out.error = Some(ImportError::TooManyRejected(why));
                opts.stop.cancel();
            }
        }
    }
    keep_first(&mut out.first, opts.max_reported);
    if out.error.is_none() && !opts.stop.is_cancelled() {
        if let Some(why) = opts.budget.exceeded(out.stored(), out.rejected, true) {
            out.error = Some(ImportError::TooManyRejected(why));
        }
    }
    if let Some(e) = report.finish(&opts.header) {
        out.error.get_or_insert(e);
    }
    out.unwritten = pending.values().min().copied();
    out
}

impl Collected {
    /// Rows stored one way or another (inserted, updated or skipped).
    fn stored(&self) -> u64 {
        self.inserted + self.updated + self.skipped
    }
}

fn keep_first(first: &mut Vec<Rejection>, n: usize) {
    first.sort_by_key(|r| r.row);
    first.truncate(n);
}

/// The reject report, created on the first rejection (or at the end, empty,
/// once the header is known).
/// The reject reports (CSV and/or .xlsx, by extension), opened at the
/// first rejection (or at the end, empty, once a header was found).
struct ReportFile {
    paths: Vec<PathBuf>,
    files: Option<Vec<RejectFile>>,
    error: Option<String>,
}

impl ReportFile {
    fn new(paths: Vec<PathBuf>) -> ReportFile {
        ReportFile {
            paths,
            files: None,
            error: None,
        }
    }

    fn open(&mut self, header: &OnceLock<HeaderMap>) {
        if self.files.is_some() || self.error.is_some() || self.paths.is_empty() {
            return;
        }
        let headers = header.get().map(|h| h.headers.clone()).unwrap_or_default();
        let files = self.paths.iter().map(|p| RejectFile::create(p, &headers));
        match files.collect::<std::io::Result<Vec<_>>>() {
            Ok(f) => self.files = Some(f),
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    fn write(&mut self, header: &OnceLock<HeaderMap>, r: &Rejection) {
        self.open(header);
        for f in self.files.iter_mut().flatten() {
            if let Err(e) = f.write(r) {
                self.error.get_or_insert(e.to_string());
            }
        }
    }

    fn finish(mut self, header: &OnceLock<HeaderMap>) -> Option<ImportError> {
        // A header but no rejection: an empty report (its header line) still
        // says "nothing was rejected". No header: no report at all.
        if header.get().is_some() {
            self.open(header);
        }
        for f in self.files.take().into_iter().flatten() {
            if let Err(e) = f.finish() {
                self.error.get_or_insert(e.to_string());
            }
        }
        self.error
            .map(|e| ImportError::Internal(format!("cannot write the reject report: {e}")))
    }
}
