//! This instance's claimer on the shared import queue
//! ([`crate::sink::queue`], PostgreSQL): every [`CLAIM_PERIOD`], while it
//! has a free running slot and a ticket and is not shutting down, it claims
//! the oldest queued import another instance accepted (one busy, one that
//! gave its queue back at shutdown, or one that died), copies its stored
//! upload to its own private directory and runs it, resuming after the
//! rows its ledger records as committed.

use std::time::Duration;

use tracing::Instrument;

use super::jobs::{JobMeta, Ticket};
use super::query::UploadQuery;
use super::runner::{self, Run};
use super::upload::Upload;
use super::AppState;
use crate::pipeline::{ImportReport, Progress};
use crate::sink::imports::now;
use crate::sink::merge::Mode;
use crate::sink::queue::{Claimed, Committed};
use std::sync::atomic::Ordering::Relaxed;
use tokio::sync::OwnedSemaphorePermit;

/// How often the queue is looked at.
pub const CLAIM_PERIOD: Duration = Duration::from_millis(500);

/// Claims and runs queued imports until the server starts shutting down.
pub async fn claim_loop(state: AppState) {
    while !state.registry.is_draining() {
        tokio::time::sleep(CLAIM_PERIOD).await;
        while let Some((permit, ticket)) = state.registry.try_slot() {
            match state.sink.claim_queued(&state.instance_id, &now()).await {
                Ok(Some(claimed)) => take(&state, claimed, permit, ticket),
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read the import queue");
                    break;
                }
            }
        }
    }
}

/// Registers a claimed import here and runs it in its own task.
fn take(state: &AppState, c: Claimed, permit: OwnedSemaphorePermit, ticket: Ticket) {
    let row = c.row.clone();
    let req = match UploadQuery::parse_request(&c.query, row.owner.clone()) {
        Ok(r) => r,
        // Checked when it was accepted: only a corrupted row gets here.
        Err(e) => {
            return tracing::error!(import_id = %row.id, error = ?e, "unreadable queued import")
        }
    };
    let meta = JobMeta {
        filename: row.filename.clone(),
        sha256: row.sha256.clone(),
        method: req.method,
        bytes: u64::try_from(row.bytes).unwrap_or_default(),
        table_name: row.table_name.clone().unwrap_or_default(),
        owner: row.owner.clone(),
        mode: req.mode.mode,
    };
    let job = state
        .registry
        .register_as(row.id.clone(), row.created_at.clone(), meta);
    if c.cancel_requested {
        job.ctl.cancel.cancel();
    }
    let span = runner::import_span(&job.id, row.owner.as_deref());
    let state2 = state.clone();
    let task = async move {
        let state = state2;
        tracing::info!(
            from = row.instance_id.as_deref().unwrap_or("-"),
            "import claimed"
        );
        let sink = state.sink.clone();
        let id = job.id.clone();
        let fetched = Upload::from_queue(
            state.uploads_dir(),
            &c.ext,
            row.filename.clone(),
            row.sha256.clone(),
            |path| async move { sink.fetch_upload(&id, &path).await },
        )
        .await;
        let done = state.sink.committed(&job.id).await;
        let (upload, done) = match (fetched, done) {
            (Ok(u), Ok(d)) => (u, d),
            (Err(e), _) => return runner::failed_before_start(&state, &job, e.error).await,
            (_, Err(e)) => return runner::failed_before_start(&state, &job, e.to_string()).await,
        };
        let run = Run {
            upload,
            req,
            ticket,
            permit,
            stored: true,
            at: now(),
            // The queue is PostgreSQL's, where the claim marks the owner.
            hold: None,
        };
        runner::run_now(state, job, run, done).await;
    };
    state.registry.spawn(task.instrument(span));
}

/// What a resumed import had committed before (added to its progress
/// now, to its report at the end). A replace's ledger holds the swap's
/// count only (its staging writes record nothing): a resumed replace
/// starts over and counts afresh.
pub(super) fn resumed_base(done: &Committed, mode: Mode, progress: &Progress) -> Committed {
    let base = match mode {
        Mode::Replace => Committed::default(),
        _ => done.clone(),
    };
    progress.inserted.fetch_add(base.inserted, Relaxed);
    progress.updated.fetch_add(base.updated, Relaxed);
    progress.skipped.fetch_add(base.skipped, Relaxed);
    base
}

/// `report` with the counts committed before it was resumed.
pub(super) fn add_base(base: &Committed, mut report: ImportReport) -> ImportReport {
    report.inserted += base.inserted;
    report.updated += base.updated;
    report.skipped += base.skipped;
    let stored = report.inserted + report.updated + report.skipped;
    report.rows_read = report.rows_read.max(stored + report.rejected);
    report
}
