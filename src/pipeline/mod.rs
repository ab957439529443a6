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
mod collect;
mod coltypes;
mod dry;
mod inferred;
mod inflight;
mod isolate;
mod keyed;
mod modes;
mod opening;
mod plan;
mod progress;
mod report;
mod report_json;
mod target;
mod unheaded;
mod write;

use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use futures::FutureExt;
use tokio::sync::mpsc;

use inflight::{record_bytes, rejection_bytes, Budget, Unit};
use opening::Opening;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use write::{first_writer, other_writer, WriteStage};

pub use batcher::Batcher;
pub use budget::{ErrorBudget, MIN_JUDGED};
pub use coltypes::{
    check_existing, parse_column_type, parse_types_list, retype_inferred, ColumnTypes,
    NEW_COLUMN_TYPES,
};
pub use dry::{dry_run, dry_run_for};
pub use inferred::{infer_table, pick_header, rename_inferred, Inferred};
pub use inflight::SHOWN_VALUE_CHARS;
pub use isolate::{write_unit, UnitOutcome};
pub use plan::{
    cores, Method, Plan, BYTES_IN_FLIGHT, COPY_CHUNK, MAX_BATCH, MYSQL_COPY_CHUNK, UNIT_BYTES,
};
pub use progress::{Progress, ProgressSnapshot};
pub use report::EXIT_TOO_MANY_REJECTED;
pub use report::{go_duration, human_duration, ImportError, ImportReport, Stats, Status};
pub use target::{settle, settle_for, with_preset, Settled, TableSpec};

use collect::{collect, CollectOptions, Collected, Event};

use crate::model::{Record, Rejection, TableSchema};
use crate::record::{HeaderFinder, HeaderMap, HeaderOptions, Rules};
use crate::sink::merge::ModeOptions;
use crate::sink::queue::Committed;
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
    /// Where to write every rejected row: each file as CSV, or as .xlsx
    /// when its name ends in `.xlsx` (see [`crate::rejects`]).
    pub rejects_files: Vec<PathBuf>,
    /// Where the header is and how its columns map (`--header-row`, `--map`).
    pub header: HeaderOptions,
    /// Read and validate everything, write nothing: the sink is never
    /// touched and `inserted` counts the rows that passed validation.
    pub dry_run: bool,
    /// The target table (default: the `businesses` preset, whose table
    /// `run` creates when missing).
    pub table: Arc<TableSchema>,
    /// When to stop because too many rows are rejected.
    pub budget: ErrorBudget,
    /// Where `table` comes from (`--table`, `--create`, `--schema`): settled
    /// by [`run`] / [`dry_run`] before any row is read for writing.
    pub spec: TableSpec,
    /// Rows already committed by an earlier run of this import (a resumed
    /// one, see [`crate::sink::queue`]): valid rows inside them are read
    /// and counted in `rows_read` but not written again.
    pub skip: Arc<Committed>,
    /// How rows whose key exists are treated (`--mode`, `--key`,
    /// `--duplicates`, `--empty-cells`; docs/MODES.md).
    pub mode: ModeOptions,
}

impl ImportJob {
    /// A job with default options for `path`.
    pub fn new(path: impl Into<PathBuf>) -> ImportJob {
        ImportJob {
            path: path.into(),
            source: SourceOptions::default(),
            rules: Rules::default(),
            max_reported: 100,
            rejects_files: Vec::new(),
            header: HeaderOptions::default(),
            dry_run: false,
            table: Arc::new(TableSchema::businesses()),
            budget: ErrorBudget::default(),
            spec: TableSpec::Preset,
            skip: Arc::default(),
            mode: ModeOptions::default(),
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

/// Runs one import to its end and reports exactly what happened.
/// The table is settled first ([`settle`]): introspected, inferred and
/// created, or declared and created; the report carries the DDL run.
pub async fn run(job: ImportJob, plan: &Plan, sink: &Sink, ctl: &Control) -> ImportReport {
    let mut job = job;
    job.source.progress = ctl.progress.source.clone();
    let opening = Opening::start(&job);
    let settled = match settle(&mut job, Some(sink)).await {
        Ok(s) => s,
        Err(e) => return not_settled(&job, plan, ctl, e, Some(sink)),
    };
    let mut report = if job.dry_run {
        dry::dry_run_settled(job, plan, ctl).await
    } else {
        run_settled(job, plan, sink, ctl, opening).await
    };
    report.ddl = settled.ddl;
    report
}

/// The report of an import stopped before any row was read: its table
/// could not be settled or created.
fn not_settled(
    job: &ImportJob,
    plan: &Plan,
    ctl: &Control,
    e: ImportError,
    sink: Option<&Sink>,
) -> ImportReport {
    let header = OnceLock::new();
    let read = (ReadSummary::default(), Some(e));
    ImportReport {
        database: sink.map(Sink::location),
        table: job.table_name(),
        ..assemble(
            plan,
            ctl,
            Instant::now(),
            &header,
            read,
            Collected::default(),
            job.dry_run,
        )
    }
}

impl ImportJob {
    /// The target table's name, as settled or as asked for.
    pub fn table_name(&self) -> String {
        match &self.spec {
            TableSpec::Preset => self.table.name.clone(),
            TableSpec::Existing(name) | TableSpec::Create { name, .. } => name.clone(),
            TableSpec::Declared(t) => t.name.clone(),
        }
    }
}

/// [`run`] once the table is known.
async fn run_settled(
    job: ImportJob,
    plan: &Plan,
    sink: &Sink,
    ctl: &Control,
    opening: Option<Opening>,
) -> ImportReport {
    let started = Instant::now();
    if job.table.is_businesses_preset() {
        if let Err(e) = sink.ensure_businesses().await {
            return not_settled(&job, plan, ctl, ImportError::from(e), Some(sink));
        }
    }
    let prepared = match modes::prepare(&job, sink).await {
        Ok(p) => p,
        Err(e) => return not_settled(&job, plan, ctl, e, Some(sink)),
    };
    let (mode, staging) = (job.mode.mode, prepared.staging.clone());
    let sink_in = sink;
    let sink = &prepared.sink;
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
        .min(sink.max_writers(plan.kind).unwrap_or(usize::MAX))
        .min(if prepared.one_writer { 1 } else { usize::MAX });
    let (unit_tx, unit_rx) = async_channel::bounded::<Unit>(workers * 2);
    let budget = Budget::new(plan.bytes_in_flight);
    let (event_tx, event_rx) = mpsc::channel::<Event>(1024);

    // `run` gave `job.source` the progress handle before opening it.
    let table = job.table.name.clone();
    let collect_opts = collect_options(&job, &header, &stop);
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
            batch_rows: plan.unit_rows(sink, mode),
            first_rows: plan.first_unit_rows(sink, mode),
            unit_bytes: plan.unit_bytes,
            keys: prepared.keys,
        };
        // Stages log inside the caller's span (e.g. the server's import id).
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            read_stage(job, out, &stop, &header, &progress, opening)
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
            table: staging.clone(),
        };
        let task = if i == 0 {
            first_writer(sink.clone(), stage, first_done.clone()).boxed()
        } else {
            other_writer(sink.clone(), stage, first_done.clone()).boxed()
        };
        writers.spawn(task.in_current_span());
    }
    drop((unit_rx, event_tx));

    let collect = collect(event_rx, collect_opts);
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
    let (mut collected, ((summary, read_error), write_error)) = tokio::join!(collect, stages);
    let mut stage_error = write_error.or(read_error);
    let ok = stage_error.is_none() && collected.error.is_none() && !ctl.cancel.is_cancelled();
    let target = header.get().map(|h| &h.target);
    if let Some(e) = modes::finish(staging, sink_in, target, &mut collected, ok).await {
        stage_error = Some(e);
    }
    let read = (summary, stage_error);
    ImportReport {
        database: Some(sink.location()),
        table,
        mode,
        ..assemble(plan, ctl, started, &header, read, collected, false)
    }
}

/// The collector's orders for `job`.
fn collect_options(
    job: &ImportJob,
    header: &Arc<OnceLock<HeaderMap>>,
    stop: &CancellationToken,
) -> CollectOptions {
    CollectOptions {
        max_reported: job.max_reported,
        rejects_files: job.rejects_files.clone(),
        header: header.clone(),
        budget: job.budget,
        stop: stop.clone(),
    }
}

/// The report of a finished run (real or dry): the first error wins, then
/// the caller's cancellation, else completed.
fn assemble(
    plan: &Plan,
    ctl: &Control,
    started: Instant,
    header: &OnceLock<HeaderMap>,
    (summary, stage_error): (ReadSummary, Option<ImportError>),
    collected: Collected,
    dry_run: bool,
) -> ImportReport {
    // Over budget, the collector stopped the stages: that is the cause.
    let error = match collected.error {
        Some(e @ ImportError::TooManyRejected(_)) => Some(e),
        report_error => stage_error.or(report_error),
    };
    let status = match (&error, ctl.cancel.is_cancelled()) {
        (Some(_), _) => Status::Failed,
        (None, true) => Status::Cancelled,
        (None, false) => Status::Completed,
    };
    let resume_from_row = match status {
        Status::Completed => None,
        _ => summary.resume_from(collected.unwritten),
    };
    ImportReport {
        method: plan.method,
        status,
        error,
        sheet: summary.sheet,
        rows_read: summary.rows_read,
        inserted: collected.inserted,
        updated: collected.updated,
        skipped: collected.skipped,
        mode: Default::default(),
        rejected: collected.rejected,
        duration: started.elapsed(),
        rejected_rows: collected.first,
        ignored_columns: header.get().map(|h| h.ignored.clone()).unwrap_or_default(),
        header: header.get().cloned(),
        warnings: summary.warnings,
        dry_run,
        database: None,
        table: String::new(),
        resume_from_row,
        ddl: None,
    }
}

#[derive(Debug, Default)]
struct ReadSummary {
    sheet: String,
    rows_read: u64,
    /// What the reader did that the user should know (e.g. an encoding guess).
    warnings: Vec<String>,
    /// The last row the reader was given (blank or not), if any.
    last_row: Option<u32>,
    /// The reader reached the end of the sheet.
    at_end: bool,
    /// The first row of a unit never handed to the writers (stopped while
    /// it was being filled).
    unqueued: Option<u32>,
}

impl ReadSummary {
    /// The first row not committed (neither inserted nor rejected): the
    /// smallest of the first row of any unit not wholly written, the first
    /// row of a unit never queued, and the row after the last one read when
    /// the reader stopped before the end. `None`: nothing is left.
    fn resume_from(&self, unwritten: Option<u32>) -> Option<u32> {
        let unread = match (self.at_end, self.last_row) {
            (false, Some(last)) => Some(last + 1),
            _ => None,
        };
        [unwritten, self.unqueued, unread]
            .into_iter()
            .flatten()
            .min()
    }
}

/// Where the reader stage sends what it reads, and how it cuts units.
struct ReadOutputs {
    units: async_channel::Sender<Unit>,
    events: mpsc::Sender<Event>,
    /// The import's bytes in flight: every unit and rejection holds a share.
    budget: Budget,
    /// Rows per unit.
    batch_rows: usize,
    /// Rows of the first unit, each next one twice as many up to
    /// `batch_rows` ([`Plan::first_unit_rows`]).
    first_rows: usize,
    /// Bytes at which a unit is sent before it has its rows.
    unit_bytes: usize,
    /// The key check of a mode other than append.
    keys: Option<keyed::KeyCheck>,
}

impl ReadOutputs {
    /// Sends a unit once the budget has room for it; false when the import
    /// stopped or every writer is gone.
    /// The collector hears of the unit first, so it knows the unit before
    /// any writer can report it written.
    fn send_unit(&self, (rows, bytes): (Vec<Record>, usize), stop: &CancellationToken) -> bool {
        let Some(first) = rows.first().map(|r| r.row) else {
            return true;
        };
        if self.events.blocking_send(Event::Queued(first)).is_err() {
            return false;
        }
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

/// Past half of the source (by what its reader has read), the rows still
/// to come estimated from the `read` so far: the batcher cuts the last
/// units smaller ([`Batcher::taper`]).
fn taper(batcher: &mut Batcher<Record>, source: &SourceOptions, read: u64) {
    let Some(f) = source.progress.position().fraction() else {
        return;
    };
    if f >= 0.5 {
        let left = read as f64 * (1.0 - f.min(1.0)) / f;
        batcher.taper(left as usize);
    }
}

/// The reader stage: open, find the header, validate each row, send full
/// units to the writers and rejections to the collector. Runs on a
/// blocking thread; returns what it read even when it fails midway.
fn read_stage(
    job: ImportJob,
    mut out: ReadOutputs,
    stop: &CancellationToken,
    header: &OnceLock<HeaderMap>,
    progress: &Progress,
    opening: Option<Opening>,
) -> (ReadSummary, Option<ImportError>) {
    let mut summary = ReadSummary::default();
    let opened = match opening {
        Some(o) => o.finish(&job),
        None => source::open(&job.path, &job.source),
    };
    let mut reader = match opened {
        Ok(r) => r,
        Err(e) => return (summary, Some(e.into())),
    };
    summary.sheet = reader.sheet_name().to_string();
    let mut finder = HeaderFinder::for_table(&summary.sheet, &job.header, job.table.clone());
    let mut batcher = Batcher::ramped(out.batch_rows, out.first_rows, out.unit_bytes);
    let mut error: Option<ImportError> = None;
    let mut broke = false;
    let mut unheaded = unheaded::Unheaded::default();
    let result = reader.read(&mut |row| {
        use std::ops::ControlFlow::{Break, Continue};
        if stop.is_cancelled() {
            broke = true;
            return Break(());
        }
        summary.last_row = Some(row.number);
        if row.is_blank() {
            return Continue(());
        }
        let Some(map) = header.get() else {
            // Rows above the header are not data: dropped, not counted.
            match finder.push(&row) {
                Ok(Some(map)) => {
                    if let Some(Err(e)) = out.keys.as_mut().map(|k| k.on_header(&map)) {
                        error = Some(e);
                        broke = true;
                        return Break(());
                    }
                    let _ = header.set(map);
                    return Continue(());
                }
                Ok(None) => return Continue(()),
                Err(e) => {
                    error = Some(e.into());
                    broke = true;
                    return Break(());
                }
            }
        };
        summary.rows_read += 1;
        progress.rows_read.fetch_add(1, Relaxed);
        unheaded.see(map, &row);
        let checked = match map.take_record(row, &job.rules) {
            Ok(record) => match out.keys.as_mut().map(|k| k.check(&record)) {
                Some(Err(why)) => Err(map.reject_record(&record, why)),
                // Committed by an earlier run of this import (its key was
                // checked above, so later duplicates of it are still caught).
                _ if job.skip.covers(record.row) => Ok(None),
                _ => Ok(Some(record)),
            },
            Err(rejection) => Err(rejection),
        };
        let sent = match checked {
            Ok(None) => true,
            Ok(Some(record)) => {
                if summary.rows_read % 512 == 0 {
                    taper(&mut batcher, &job.source, summary.rows_read);
                }
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
            broke = true;
            Break(())
        }
    });
    summary.warnings = reader.warnings();
    summary.warnings.extend(unheaded.warnings());
    summary.at_end = result.is_ok() && !broke;
    if summary.at_end {
        job.source.progress.finish();
    }
    if let Err(e) = result {
        error.get_or_insert(e.into());
    }
    if error.is_none() && header.get().is_none() && !stop.is_cancelled() {
        error = Some(finder.finish().into());
    }
    // Rows read before a source error are still written: they were valid.
    if let Some(unit) = batcher.finish() {
        if stop.is_cancelled() {
            summary.unqueued = unit.0.first().map(|r| r.row);
        } else {
            // If every writer is gone, the rows stay unprocessed and the
            // writers' error explains why.
            let _ = out.send_unit(unit, stop);
        }
    }
    (summary, error)
}
