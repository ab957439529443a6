//! Running one accepted upload as an import, synchronous or not: record it
//! (`queued`), wait for a running slot, run the pipeline in its own task
//! under an `import` span carrying its id, record the end, publish the
//! outcome, remove the upload. A panic inside the import becomes a failed
//! import (and a 500 for a synchronous upload); the process lives on.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;

use axum::http::StatusCode;
use serde_json::json;
use tracing::Instrument;

use super::errors::ApiError;
use super::jobs::{Job, JobMeta, JobStatus, Outcome, Ticket, SHUT_DOWN_QUEUED, TAKEN};
use super::metrics::Ended;
use super::upload::Upload;
use super::AppState;
use crate::model::TableSchema;
use crate::pipeline::{
    self, ErrorBudget, ImportError, ImportJob, ImportReport, Method, Plan, TableSpec,
};
use crate::pipeline::{Progress, Status};
use crate::record::{ConvertOptions, HeaderOptions, Rules};
use crate::sink::imports::{now, ImportEnd, ImportRow};
use crate::sink::merge::ModeOptions;
use crate::sink::queue::Committed;
use crate::sink::same_file;
use crate::source::{SourceError, SourceOptions};

/// Options of one import beyond the file.
#[derive(Debug, Clone)]
pub struct Request {
    /// The strategy.
    pub method: Method,
    /// Sheet to read (default: the first visible worksheet).
    pub sheet: Option<String>,
    /// Where the header is and how it maps (`header_row=`, `map=`).
    pub header: HeaderOptions,
    /// Read and validate only (`dry_run=true`).
    pub dry_run: bool,
    /// When to stop for too many rejected rows (`max_errors=`, `max_error_rate=`).
    pub budget: ErrorBudget,
    /// The name of the API key making it (`None` without auth).
    pub owner: Option<String>,
    /// The target table (`table=`, `create=`, `infer_rows=`).
    pub spec: TableSpec,
    /// How text becomes typed values (`date_format=`).
    pub convert: ConvertOptions,
    /// Import a file already imported completely into the same table
    /// (`allow_reimport=true`; otherwise 409, see `sink::same_file`).
    pub allow_reimport: bool,
    /// How rows whose key exists are treated (`mode=`, `key=`,
    /// `duplicates=`, `empty_cells=`).
    pub mode: ModeOptions,
}

/// Records the upload as a queued import and starts its task. The ticket
/// is held by the task until the import has ended. With `queue` (a
/// background upload's query string) on a database with a shared queue,
/// the upload is stored there, for any instance to run.
pub async fn start(
    state: &AppState,
    upload: Upload,
    req: Request,
    ticket: Ticket,
    queue: Option<&str>,
) -> Result<Arc<Job>, ApiError> {
    if state.registry.is_draining() {
        return Err(ApiError::busy("Server is shutting down"));
    }
    // The table the import will write to, by the name it was given.
    let table_name = req
        .spec
        .name()
        .map_or_else(|| TableSchema::businesses().name, str::to_string);
    refuse_same_file(state, &upload, &req, &table_name).await?;
    let job = state.registry.register(JobMeta {
        filename: upload.filename.clone(),
        sha256: upload.sha256.clone(),
        method: req.method,
        bytes: upload.bytes,
        table_name,
        owner: req.owner.clone(),
        mode: req.mode.mode,
    });
    let row = ImportRow {
        id: job.id.clone(),
        filename: job.meta.filename.clone(),
        sha256: job.meta.sha256.clone(),
        method: req.method.name().to_string(),
        mode: req.mode.mode.as_str().to_string(),
        status: JobStatus::Queued.as_str().to_string(),
        bytes: job.meta.bytes as i64,
        rows_read: 0,
        inserted: 0,
        updated: 0,
        skipped: 0,
        rejected: 0,
        created_at: job.created_at.clone(),
        started_at: None,
        finished_at: None,
        error: None,
        rejects_removed_at: None,
        instance_id: Some(state.instance_id.clone()),
        table_name: Some(job.meta.table_name.clone()),
        rejects_files: [
            state.rejects_path(&job.id),
            state.rejects_xlsx_path(&job.id),
        ]
        .iter()
        .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()))
        .map(|p| p.display().to_string())
        .collect(),
        owner: req.owner.clone(),
    };
    let queue = queue.filter(|_| state.sink.has_queue());
    let recorded = match queue {
        Some(q) => {
            let ext = upload.ext();
            state.sink.enqueue_import(&row, q, &ext, &upload.path).await
        }
        None => state.sink.insert_import(&row).await,
    };
    if let Err(e) = recorded {
        state.registry.remove(&job.id);
        return Err(ApiError::database(e));
    }
    let span = import_span(&job.id, req.owner.as_deref());
    let task = run(
        state.clone(),
        job.clone(),
        upload,
        req,
        ticket,
        queue.is_some(),
    );
    state.registry.spawn(task.instrument(span));
    Ok(job)
}

/// The span every line of one import is logged in.
pub fn import_span(id: &str, owner: Option<&str>) -> tracing::Span {
    let key = owner.unwrap_or("-");
    tracing::info_span!("import", import_id = %id, key_name = %key)
}

/// 409 when the upload is a file already imported completely into the
/// same table and neither the request nor its mode allows it again. A dry
/// run writes nothing and is never refused.
async fn refuse_same_file(
    state: &AppState,
    upload: &Upload,
    req: &Request,
    table: &str,
) -> Result<(), ApiError> {
    // The re-import modes (`mode=`) allow it; no mode is append.
    if req.dry_run
        || req.allow_reimport
        || same_file::reimport_allowed(Some(req.mode.mode.as_str()))
    {
        return Ok(());
    }
    let Some(earlier) = state
        .sink
        .completed_import_of(&upload.sha256, table)
        .await
        .map_err(ApiError::database)?
    else {
        return Ok(());
    };
    let p = &earlier.previous;
    // Another key's import is not this key's to see (its id would answer
    // 404): the upload is refused all the same, without its particulars.
    let others = state.config.auth.mode == super::auth::AuthMode::Required && p.owner != req.owner;
    if others {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "File already imported: another API key's import imported it into {}",
                earlier.table
            ),
        )
        .with_detail("send allow_reimport=true to import it anyway"));
    }
    Err(ApiError::new(
        StatusCode::CONFLICT,
        format!(
            "File already imported: import {} imported it into {} at {}",
            p.id,
            earlier.table,
            earlier.when()
        ),
    )
    .with_detail(format!(
        "{earlier}; send allow_reimport=true to import it anyway"
    ))
    .with_field(
        "previous_import",
        json!({
            "id": p.id,
            "finished_at": earlier.when(),
            "inserted": p.inserted,
            "filename": p.filename,
            "table": earlier.table,
            "status_url": super::imports::status_url(&p.id),
        }),
    ))
}

/// The task of an import accepted here: wait for a running slot, then run
/// it — unless, `stored` in the shared queue, another instance claimed it
/// meanwhile, or it is given back at shutdown.
async fn run(
    state: AppState,
    job: Arc<Job>,
    upload: Upload,
    req: Request,
    ticket: Ticket,
    stored: bool,
) {
    // An import's own lines are at debug: at the default level the service
    // logs one line per request (the request's own, when it is answered).
    tracing::debug!(
        filename = %job.meta.filename,
        bytes = job.meta.bytes,
        sha256 = %job.meta.sha256,
        format = upload.format.name(),
        method = %req.method,
        "import queued"
    );
    let not_run = |reason: String| (not_started(req.method), Some(reason));
    let (report, reason) = match state.registry.run_slot(&job).await {
        Err(TAKEN) => return handed_over(&state, &job, "claimed by another server"),
        Err(SHUT_DOWN_QUEUED) if stored && requeued(&state, &job).await => {
            return handed_over(&state, &job, "given back to the queue at shutdown");
        }
        Err(reason) => not_run(reason.to_string()),
        Ok(permit) => {
            let at = now();
            match state.sink.claim_own(&job.id, &state.instance_id, &at).await {
                Ok(true) => {
                    // PostgreSQL's claim recorded the start; the others' not.
                    if !state.sink.has_queue() {
                        if let Err(e) = state.sink.start_import(&job.id, &at).await {
                            tracing::warn!(error = %e, "cannot record the start of the import");
                        }
                    }
                    let hold = state.sink.hold_service_import(&job.id).await;
                    let run = Run {
                        upload,
                        req,
                        ticket,
                        permit,
                        stored,
                        at,
                        hold,
                    };
                    return run_now(state, job, run, Committed::default()).await;
                }
                Ok(false) => return handed_over(&state, &job, "claimed by another server"),
                Err(e) => not_run(format!("cannot claim the import: {e}")),
            }
        }
    };
    drop(upload); // the temporary file is removed here, whatever happened
    finish(&state, &job, report, reason, false).await;
    if stored {
        drop_stored(&state, &job.id).await;
    }
    drop(ticket);
}

/// Whether `job`, queued here and stored, went back to the shared queue.
async fn requeued(state: &AppState, job: &Job) -> bool {
    match state.sink.requeue(&job.id, &state.instance_id).await {
        Ok(done) => done,
        Err(e) => {
            tracing::warn!(error = %e, "cannot give the import back to the queue");
            false
        }
    }
}

/// Forgets `job`: another instance runs (or will run) it; its row and
/// events are the table's from now on.
fn handed_over(state: &AppState, job: &Job, why: &str) {
    tracing::info!(reason = why, "import handed over");
    state.registry.remove(&job.id);
}

/// Removes the stored upload of an import that has ended.
async fn drop_stored(state: &AppState, id: &str) {
    if let Err(e) = state.sink.drop_upload(id).await {
        tracing::warn!(error = %e, "cannot remove the stored upload");
    }
}

/// What an import holds while it runs here.
pub struct Run {
    /// The file, on this server's disk.
    pub upload: Upload,
    /// Its options.
    pub req: Request,
    /// Its admission ticket.
    pub ticket: Ticket,
    /// Its running slot.
    pub permit: OwnedSemaphorePermit,
    /// Whether it is stored in the shared queue.
    pub stored: bool,
    /// When it started running.
    pub at: String,
    /// Its hold, where the backend needs one
    /// ([`crate::sink::Sink::hold_service_import`]).
    pub hold: Option<crate::sink::undo::ImportHold>,
}

/// Runs `job` now (its row says `running` already), resuming after the
/// rows `done` records as committed; records its end.
pub async fn run_now(state: AppState, job: Arc<Job>, run: Run, done: Committed) {
    job.set_running(run.at.clone());
    let (upload, req, stored) = (run.upload, run.req, run.stored);
    tracing::debug!(resumed_after = done.inserted, "import running");
    let base = super::queue::resumed_base(&done, req.mode.mode, &job.ctl.progress);
    let work = pipeline_task(&state, &job, upload.path.to_path_buf(), &req, done);
    let work = async move { super::queue::add_base(&base, work.await) };
    let report = execute(work, req.method, &job.ctl.progress).await;
    drop(run.permit);
    let hard_stopped = state.registry.is_hard_stopped();
    if stored && report.status == Status::Cancelled && hard_stopped && requeued(&state, &job).await
    {
        // Resumed by another instance after its last committed unit.
        return handed_over(&state, &job, "given back to the queue: grace period over");
    }
    let reason = (report.status == Status::Cancelled).then(|| {
        if hard_stopped {
            "cancelled by server shutdown (grace period over)".to_string()
        } else {
            "cancelled by request".to_string()
        }
    });
    drop(upload); // the temporary file is removed here, whatever happened
    finish(&state, &job, report, reason, true).await;
    drop(run.hold);
    if stored {
        drop_stored(&state, &job.id).await;
    }
    drop(run.ticket);
}

/// Records `job` (claimed from the queue) failed before it started: its
/// stored upload could not be read.
pub async fn failed_before_start(state: &AppState, job: &Job, why: String) {
    tracing::error!(error = %why, "cannot start a claimed import");
    let report = ImportReport {
        status: Status::Failed,
        error: Some(ImportError::Internal(why)),
        ..not_started(job.meta.method)
    };
    finish(state, job, report, None, false).await;
    drop_stored(state, &job.id).await;
}

/// The pipeline call for this job, owning everything it needs.
fn pipeline_task(
    state: &AppState,
    job: &Job,
    path: PathBuf,
    req: &Request,
    done: Committed,
) -> impl Future<Output = ImportReport> + Send + 'static {
    let cfg = &state.config;
    let import = ImportJob {
        source: SourceOptions {
            sheet: req.sheet.clone(),
            ..cfg.source.clone()
        },
        rules: Rules {
            convert: req.convert.clone(),
            ..cfg.rules.clone()
        },
        spec: req.spec.clone(),
        mode: req.mode.clone(),
        header: req.header.clone(),
        dry_run: req.dry_run,
        budget: req.budget,
        rejects_files: vec![
            state.rejects_path(&job.id),
            state.rejects_xlsx_path(&job.id),
        ],
        skip: Arc::new(done),
        ..ImportJob::new(path)
    };
    let plan = Plan::new(req.method, cfg.workers, cfg.batch_size);
    // The ledger keeps `imports.inserted` exact even if this process dies.
    let sink = state.sink.with_ledger(&job.id);
    (cfg.importer)(import, plan, sink, job.ctl.clone())
}

/// Runs `work` in its own task: a panic becomes a failed report (with the
/// counts committed so far, from the live progress), never a dead process.
pub async fn execute<F>(work: F, method: Method, progress: &Progress) -> ImportReport
where
    F: Future<Output = ImportReport> + Send + 'static,
{
    let started = Instant::now();
    match tokio::spawn(work.in_current_span()).await {
        Ok(report) => report,
        Err(e) => {
            let why = if e.is_panic() {
                let payload = e.into_panic();
                let text = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".into());
                format!("the import panicked: {text}")
            } else {
                "the import task was aborted".to_string()
            };
            tracing::error!(error = %why, "import failed");
            let p = progress.snapshot();
            ImportReport {
                status: Status::Failed,
                rows_read: p.rows_read.max(p.inserted + p.rejected),
                inserted: p.inserted,
                rejected: p.rejected,
                duration: started.elapsed(),
                error: Some(ImportError::Internal(why)),
                ..not_started(method)
            }
        }
    }
}

/// The report of an import that never ran.
fn not_started(method: Method) -> ImportReport {
    ImportReport {
        method,
        status: Status::Cancelled,
        ..ImportReport::default()
    }
}

/// Records the end in the table, then publishes it (so that whoever sees
/// the outcome finds the table already up to date).
async fn finish(
    state: &AppState,
    job: &Job,
    report: ImportReport,
    reason: Option<String>,
    ran: bool,
) {
    let status = match report.status {
        Status::Completed => JobStatus::Completed,
        Status::Failed => JobStatus::Failed,
        Status::Cancelled => JobStatus::Cancelled,
    };
    let error = report.error.as_ref().map(|e| e.to_string()).or(reason);
    let (http_status, mut body) = answer(&report, state.registry.is_draining());
    body["import_id"] = json!(job.id);
    let at = now();
    let end = ImportEnd {
        status: status.as_str(),
        rows_read: report.rows_read as i64,
        // A dry run wrote nothing: its row says so, so that it never
        // counts as the file's import (`refuse_same_file`).
        inserted: if report.dry_run {
            0
        } else {
            report.inserted as i64
        },
        updated: if report.dry_run {
            0
        } else {
            report.updated as i64
        },
        skipped: if report.dry_run {
            0
        } else {
            report.skipped as i64
        },
        rejected: report.rejected as i64,
        finished_at: &at,
        error: error.as_deref(),
    };
    if let Err(e) = state.sink.finish_import(&job.id, &end).await {
        tracing::warn!(error = %e, "cannot record the end of the import");
    }
    state.metrics.import_ended(&Ended {
        status: status.as_str(),
        method: job.meta.method.name(),
        inserted: if report.dry_run { 0 } else { report.inserted },
        rejected: report.rejected,
        bytes: job.meta.bytes,
        duration: ran.then_some(report.duration),
    });
    tracing::debug!(
        status = status.as_str(),
        rows_read = report.rows_read,
        inserted = report.inserted,
        rejected = report.rejected,
        duration = %pipeline::go_duration(report.duration),
        error = error.as_deref().unwrap_or(""),
        "import finished"
    );
    let outcome = Outcome {
        http_status,
        body,
        error,
    };
    job.set_finished(status, at, outcome);
    state.registry.retire(&job.id);
}

/// The status code and body a synchronous upload answers with.
pub fn answer(report: &ImportReport, draining: bool) -> (StatusCode, serde_json::Value) {
    let mut body = report.to_json();
    let code = match (&report.status, &report.error) {
        (Status::Completed, _) => StatusCode::OK,
        (Status::Cancelled, _) if draining => StatusCode::SERVICE_UNAVAILABLE,
        (Status::Cancelled, _) => StatusCode::CONFLICT,
        (_, Some(ImportError::Source(SourceError::Unsupported(why)))) => {
            body["error"] = json!("Only Excel files allowed");
            body["detail"] = json!(why);
            StatusCode::BAD_REQUEST
        }
        (
            _,
            Some(
                ImportError::Source(_)
                | ImportError::Header(_)
                | ImportError::Table(_)
                | ImportError::TooManyRejected(_),
            ),
        ) => StatusCode::UNPROCESSABLE_ENTITY,
        (_, Some(ImportError::Database(_))) => StatusCode::SERVICE_UNAVAILABLE,
        _ => {
            // The cause is in the log and the imports table, not in the answer.
            body["error"] = json!("Internal server error: the import failed unexpectedly");
            StatusCode::INTERNAL_SERVER_ERROR
        }
    };
    (code, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_import_becomes_a_failed_report_and_a_500() {
        let progress = Progress::default();
        progress
            .inserted
            .store(7, std::sync::atomic::Ordering::Relaxed);
        progress
            .rows_read
            .store(9, std::sync::atomic::Ordering::Relaxed);
        let report = execute(
            async { panic!("boom in a stage") },
            Method::Batch,
            &progress,
        )
        .await;
        assert_eq!(report.status, Status::Failed);
        let error = report.error.as_ref().unwrap().to_string();
        assert!(error.contains("boom in a stage"), "{error}");
        assert_eq!((report.rows_read, report.inserted), (9, 7));
        let (code, body) = answer(&report, false);
        assert_eq!(code, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["message"], "Import failed");
        assert!(!body["error"].as_str().unwrap().contains("boom"));
    }

    #[test]
    fn answers_map_each_ending_to_its_status_code() {
        let mut r = not_started(Method::Copy);
        assert_eq!(answer(&r, false).0, StatusCode::CONFLICT);
        assert_eq!(answer(&r, true).0, StatusCode::SERVICE_UNAVAILABLE);
        r.status = Status::Failed;
        r.error = Some(ImportError::Source(SourceError::Unsupported("xls".into())));
        let (code, body) = answer(&r, false);
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"], "Only Excel files allowed");
        r.error = Some(ImportError::Source(SourceError::Empty));
        assert_eq!(answer(&r, false).0, StatusCode::UNPROCESSABLE_ENTITY);
        r.error = Some(ImportError::TooManyRejected("too many".into()));
        let (code, body) = answer(&r, false);
        assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(body["message"], "Import stopped: too many rejected rows");
        r.status = Status::Completed;
        r.error = None;
        assert_eq!(answer(&r, false).0, StatusCode::OK);
    }
}
