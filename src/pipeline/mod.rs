//! The one pipeline every strategy runs on:
//!
//! ```text
//! reader (1 blocking thread) ─units─► writers (N tasks) ─events─► collector
//!   open, header, validate,   bounded     a pooled conn.,   bounded   the only
//!   batch; rejects ─────────────────────────────────────────────────► owner of
//!                                                                     the counts
//! ```
//!
//! * `units`: `async_channel::bounded(2 × writers)` — backpressure: the
//!   reader blocks when writers fall behind, so memory holds at most
//!   `2 × writers + writers` units whatever the file's size.
//! * `events`: `tokio::mpsc::channel(1024)` — fan-in of outcomes; the
//!   collector alone turns them into the report (no shared counters).
//! * `stop`: a child of the caller's `CancellationToken`. The caller cancels
//!   it (client cancel, shutdown); a writer's fatal error cancels it too.
//!   The reader checks it per row, writers between units (the batch
//!   boundary), so what was committed is always a whole number of units.

mod batcher;
mod budget;
mod dry;
mod isolate;
mod plan;
mod progress;
mod report;
mod report_json;
mod write;

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::mpsc;

use budget::{record_bytes, rejection_bytes, shrink_for_report, Budget, Held, Unit};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use write::{first_writer, other_writer, WriteStage};

pub use batcher::Batcher;
pub use budget::SHOWN_VALUE_CHARS;
pub use dry::dry_run;
pub use isolate::{write_unit, UnitOutcome};
pub use plan::{cores, Method, Plan, BYTES_IN_FLIGHT, COPY_CHUNK, MAX_BATCH, UNIT_BYTES};
pub use progress::{Progress, ProgressSnapshot};
pub use report::{go_duration, human_duration, ImportError, ImportReport, Stats, Status};

use crate::model::{Record, Rejection, TableSchema};
use crate::record::{HeaderFinder, HeaderMap, HeaderOptions, Rules};
use crate::rejects::RejectCsv;
use crate::sink::Sink;
use crate::source::{self, SourceOptions};

/// What to import and how to judge it.
#[derive(Debug, Clone)]
pub struct ImportJob {
    /// The file (its content decides the format).
    pub path: PathBuf,
    /// Sheet, limits, byte counter.
    pub source: SourceOptions,
    /// Validation rules.
    pub rules: Rules,
    /// How many rejected rows the report keeps in memory (first by row).
    pub max_reported: usize,
    /// Where to write every rejected row as CSV, if anywhere.
    pub rejects_file: Option<PathBuf>,
    /// Where the header is and how its columns map (`--header-row`, `--map`).
    pub header: HeaderOptions,
    /// Read and validate everything, write nothing: the sink is never
    /// touched and `inserted` counts the rows that passed validation.
    pub dry_run: bool,
    /// The target table (default: the `businesses` preset, whose table
    /// `run` creates when missing).
    pub table: Arc<TableSchema>,
}

impl ImportJob {
    /// A job with default options for `path`.
    pub fn new(path: impl Into<PathBuf>) -> ImportJob {
        ImportJob {
            path: path.into(),
            source: SourceOptions::default(),
            rules: Rules::default(),
            max_reported: 100,
            rejects_file: None,
            header: HeaderOptions::default(),
            dry_run: false,
            table: Arc::new(TableSchema::businesses()),
        }
    }
}

/// How the caller observes and stops an import.
#[derive(Debug, Clone, Default)]
pub struct Control {
    /// Cancel to stop the import at the next unit boundary.
    pub cancel: CancellationToken,
    /// Live counters.
    pub progress: Arc<Progress>,
}

/// What flows from the reader and writers to the collector.
enum Event {
    /// Rows committed by a writer.
    Inserted(usize),
    /// A row rejected by validation or by the database, with its share of
    /// the bytes in flight (none when it was sent after the import stopped).
    Rejected(Rejection, Option<Held>),
    /// A written unit's share of the bytes in flight, given back once the
    /// rejections made from its rows (sent before it) have been collected.
    Release(Held),
}

/// Runs one import to its end and reports exactly what happened.
pub async fn run(job: ImportJob, plan: &Plan, sink: &Sink, ctl: &Control) -> ImportReport {
    if job.dry_run {
        return dry_run(job, plan, ctl).await;
    }
    let started = Instant::now();
    if job.table.is_businesses_preset() {
        if let Err(e) = sink.ensure_businesses().await {
            let header = OnceLock::new();
            let read = (ReadSummary::default(), Some(ImportError::from(e)));
            return assemble(
                plan,
                ctl,
                started,
                &header,
                read,
                (0, 0, Vec::new(), None),
                false,
            );
        }
    }
    let stop = ctl.cancel.child_token();
    let progress = ctl.progress.clone();
    if let Ok(meta) = std::fs::metadata(&job.path) {
        progress.bytes_total.store(meta.len(), Relaxed);
    }
    let header: Arc<OnceLock<HeaderMap>> = Arc::default();
    // The sink says how many writers it can use (SQLite copy: one; the
    // PostgreSQL pool's writer slots; see `Sink::max_writers`).
    let workers = plan
        .workers
        .min(sink.max_writers(plan.kind).unwrap_or(usize::MAX));
    let (unit_tx, unit_rx) = async_channel::bounded::<Unit>(workers * 2);
    let budget = Budget::new(plan.bytes_in_flight);
    let (event_tx, event_rx) = mpsc::channel::<Event>(1024);

    let mut job = job;
    job.source.bytes_read = progress.bytes_read.clone();
    let rejects_file = job.rejects_file.clone();
    let max_reported = job.max_reported;
    let reader = {
        let (event_tx, stop, header, progress) = (
            event_tx.clone(),
            stop.clone(),
            header.clone(),
            progress.clone(),
        );
        let out = ReadOutputs {
            units: unit_tx,
            events: event_tx,
            budget: budget.clone(),
            batch_rows: plan.batch_size,
            unit_bytes: plan.unit_bytes,
        };
        // Stages log inside the caller's span (e.g. the server's import id).
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            read_stage(job, out, &stop, &header, &progress)
        })
    };
    let mut writers = tokio::task::JoinSet::new();
    let first_done = CancellationToken::new();
    for i in 0..workers {
        let stage = WriteStage {
            units: unit_rx.clone(),
            events: event_tx.clone(),
            kind: plan.kind,
            stop: stop.clone(),
            header: header.clone(),
            progress: progress.clone(),
        };
        let task = if i == 0 {
            first_writer(sink.clone(), stage, first_done.clone()).boxed()
        } else {
            other_writer(sink.clone(), stage, first_done.clone()).boxed()
        };
        writers.spawn(task.in_current_span());
    }
    drop((unit_rx, event_tx));

    let collect = collect(event_rx, max_reported, rejects_file, header.clone());
    let stages = async {
        let read = reader.await.unwrap_or_else(|e| {
            (
                ReadSummary::default(),
                Some(ImportError::Internal(format!("reader panicked: {e}"))),
            )
        });
        let mut write_error = None;
        while let Some(joined) = writers.join_next().await {
            let result = joined
                .unwrap_or_else(|e| Err(ImportError::Internal(format!("writer panicked: {e}"))));
            if let Err(e) = result {
                stop.cancel();
                write_error.get_or_insert(e);
            }
        }
        (read, write_error)
    };
    let (collected, ((summary, read_error), write_error)) = tokio::join!(collect, stages);
    let read = (summary, write_error.or(read_error));
    assemble(plan, ctl, started, &header, read, collected, false)
}

/// What the collector returns: inserted, rejected, first rejections, and
/// an error writing the reject report.
type Collected = (u64, u64, Vec<Rejection>, Option<ImportError>);

/// The report of a finished run (real or dry): the first error wins, then
/// the caller's cancellation, else completed.
fn assemble(
    plan: &Plan,
    ctl: &Control,
    started: Instant,
    header: &OnceLock<HeaderMap>,
    (summary, stage_error): (ReadSummary, Option<ImportError>),
    (inserted, rejected, rejected_rows, report_error): Collected,
    dry_run: bool,
) -> ImportReport {
    let error = stage_error.or(report_error);
    let status = match (&error, ctl.cancel.is_cancelled()) {
        (Some(_), _) => Status::Failed,
        (None, true) => Status::Cancelled,
        (None, false) => Status::Completed,
    };
    ImportReport {
        method: plan.method,
        status,
        error,
        sheet: summary.sheet,
        rows_read: summary.rows_read,
        inserted,
        rejected,
        duration: started.elapsed(),
        rejected_rows,
        ignored_columns: header.get().map(|h| h.ignored.clone()).unwrap_or_default(),
        header: header.get().cloned(),
        warnings: summary.warnings,
        dry_run,
    }
}

#[derive(Debug, Default)]
struct ReadSummary {
    sheet: String,
    rows_read: u64,
    /// What the reader did that the user should know (e.g. an encoding guess).
    warnings: Vec<String>,
}

/// Where the reader stage sends what it reads, and how it cuts units.
struct ReadOutputs {
    units: async_channel::Sender<Unit>,
    events: mpsc::Sender<Event>,
    /// The import's bytes in flight: every unit and rejection holds a share.
    budget: Budget,
    /// Rows per unit.
    batch_rows: usize,
    /// Bytes at which a unit is sent before it has its rows.
    unit_bytes: usize,
}

impl ReadOutputs {
    /// Sends a unit once the budget has room for it; false when the import
    /// stopped or every writer is gone.
    fn send_unit(&self, (rows, bytes): (Vec<Record>, usize), stop: &CancellationToken) -> bool {
        match self.budget.take_blocking(bytes, stop) {
            Some(held) => self.units.send_blocking(Unit::new(rows, held)).is_ok(),
            None => false,
        }
    }

    /// Sends a rejection (counted even when the import stopped meanwhile).
    fn send_rejection(&self, r: Rejection, stop: &CancellationToken) -> bool {
        let held = self.budget.take_blocking(rejection_bytes(&r), stop);
        self.events.blocking_send(Event::Rejected(r, held)).is_ok()
    }
}

/// The reader stage: open, find the header, validate each row, send full
/// units to the writers and rejections to the collector. Runs on a
/// blocking thread; returns what it read even when it fails midway.
fn read_stage(
    job: ImportJob,
    out: ReadOutputs,
    stop: &CancellationToken,
    header: &OnceLock<HeaderMap>,
    progress: &Progress,
) -> (ReadSummary, Option<ImportError>) {
    let mut summary = ReadSummary::default();
    let mut reader = match source::open(&job.path, &job.source) {
        Ok(r) => r,
        Err(e) => return (summary, Some(e.into())),
    };
    summary.sheet = reader.sheet_name().to_string();
    let mut finder = HeaderFinder::for_table(&summary.sheet, &job.header, job.table.clone());
    let mut batcher = Batcher::new(out.batch_rows, out.unit_bytes);
    let mut error: Option<ImportError> = None;
    let result = reader.read(&mut |row| {
        use std::ops::ControlFlow::{Break, Continue};
        if stop.is_cancelled() {
            return Break(());
        }
        if row.is_blank() {
            return Continue(());
        }
        let Some(map) = header.get() else {
            // Rows above the header are not data: dropped, not counted.
            match finder.push(&row) {
                Ok(Some(map)) => {
                    let _ = header.set(map);
                    return Continue(());
                }
                Ok(None) => return Continue(()),
                Err(e) => {
                    error = Some(e.into());
                    return Break(());
                }
            }
        };
        summary.rows_read += 1;
        progress.rows_read.fetch_add(1, Relaxed);
        let sent = match map.record(&row, &job.rules) {
            Ok(record) => {
                let bytes = record_bytes(&record);
                match batcher.push(record, bytes) {
                    Some(unit) => out.send_unit(unit, stop),
                    None => true,
                }
            }
            Err(rejection) => {
                progress.rejected.fetch_add(1, Relaxed);
                out.send_rejection(rejection, stop)
            }
        };
        if sent {
            Continue(())
        } else {
            Break(())
        }
    });
    summary.warnings = reader.warnings();
    if let Err(e) = result {
        error.get_or_insert(e.into());
    }
    if error.is_none() && header.get().is_none() && !stop.is_cancelled() {
        error = Some(finder.finish().into());
    }
    // Rows read before a source error are still written: they were valid.
    if !stop.is_cancelled() {
        if let Some(unit) = batcher.finish() {
            // If every writer is gone, the rows stay unprocessed and the
            // writers' error explains why.
            let _ = out.send_unit(unit, stop);
        }
    }
    (summary, error)
}

/// The collector: sole owner of the counts. Keeps the first rejected rows
/// (lowest row numbers) and streams every rejection to the report file.
async fn collect(
    mut events: mpsc::Receiver<Event>,
    max_reported: usize,
    rejects_file: Option<PathBuf>,
    header: Arc<OnceLock<HeaderMap>>,
) -> (u64, u64, Vec<Rejection>, Option<ImportError>) {
    let (mut inserted, mut rejected) = (0u64, 0u64);
    let mut first: Vec<Rejection> = Vec::new();
    let mut file: Option<RejectCsv> = None;
    let mut file_error: Option<String> = None;
    let open = |header: &OnceLock<HeaderMap>| {
        let path = rejects_file.as_ref()?;
        let headers = header.get().map(|h| h.headers.clone()).unwrap_or_default();
        Some(RejectCsv::create(path, &headers))
    };
    while let Some(event) = events.recv().await {
        match event {
            Event::Inserted(n) => inserted += n as u64,
            Event::Release(held) => drop(held),
            Event::Rejected(mut r, held) => {
                rejected += 1;
                if file.is_none() && file_error.is_none() {
                    match open(&header) {
                        Some(Ok(f)) => file = Some(f),
                        Some(Err(e)) => file_error = Some(e.to_string()),
                        None => {}
                    }
                }
                if let Some(f) = &mut file {
                    if let Err(e) = f.write(&r) {
                        file_error.get_or_insert(e.to_string());
                    }
                }
                // Written whole; kept (if among the first) cut short, and
                // its share of the bytes in flight given back.
                shrink_for_report(&mut r);
                drop(held);
                first.push(r);
                if first.len() >= max_reported.saturating_mul(2).max(64) {
                    first.sort_by_key(|r| r.row);
                    first.truncate(max_reported);
                }
            }
        }
    }
    first.sort_by_key(|r| r.row);
    first.truncate(max_reported);
    if file.is_none() && file_error.is_none() {
        if let Some(Err(e)) = open(&header) {
            file_error = Some(e.to_string());
        }
    }
    if let Some(f) = file {
        if let Err(e) = f.finish() {
            file_error.get_or_insert(e.to_string());
        }
    }
    let error =
        file_error.map(|e| ImportError::Internal(format!("cannot write the reject report: {e}")));
    (inserted, rejected, first, error)
}
