//! `--dry-run` (HTTP `dry_run=true`): the same reader stage, header mapping
//! and validation as a real import, with the writers replaced by one task
//! that counts the units it receives. No database is connected; the report's
//! `inserted` counts the rows that passed validation (the database's own
//! constraints are not checked). Rejections flow to the same collector, so
//! the reject report is written as for a real import.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use tokio::sync::mpsc;

use super::inflight::{Budget, Unit};
use super::{assemble, collect, collect_options, read_stage, Control, Event};
use super::{ImportError, ImportJob, ImportReport, Plan, ReadOutputs, ReadSummary};
use crate::record::HeaderMap;

/// Runs `job` without writing anything and without a database: a table
/// to infer (`--create`) or a declared one is taken as it would be created
/// (PostgreSQL's DDL in the report); `--table` needs a database, so use
/// [`super::run`] with a sink and `dry_run` set for that.
pub async fn dry_run(job: ImportJob, plan: &Plan, ctl: &Control) -> ImportReport {
    dry_run_for(job, plan, ctl, "postgres").await
}

/// [`dry_run`] showing the DDL of a table to create in the dialect of
/// `backend` ("postgres", "sqlite", "mysql").
pub async fn dry_run_for(
    job: ImportJob,
    plan: &Plan,
    ctl: &Control,
    backend: &'static str,
) -> ImportReport {
    let mut job = job;
    let settled = match super::target::settle_for(&mut job, None, backend).await {
        Ok(s) => s,
        Err(e) => return super::not_settled(&job, plan, ctl, e, None),
    };
    let mut report = dry_run_settled(job, plan, ctl).await;
    report.ddl = settled.ddl;
    report
}

/// [`dry_run`] once the table is known.
pub(super) async fn dry_run_settled(job: ImportJob, plan: &Plan, ctl: &Control) -> ImportReport {
    let started = Instant::now();
    let stop = ctl.cancel.child_token();
    let progress = ctl.progress.clone();
    if let Ok(meta) = std::fs::metadata(&job.path) {
        progress.bytes_total.store(meta.len(), Relaxed);
    }
    let header: Arc<OnceLock<HeaderMap>> = Arc::default();
    // Units are only counted: a small bound keeps memory flat.
    let (unit_tx, unit_rx) = async_channel::bounded::<Unit>(2);
    let (event_tx, event_rx) = mpsc::channel::<Event>(1024);
    let mut job = job;
    job.source.progress = progress.source.clone();
    let table = job.table.name.clone();
    let collect_opts = collect_options(&job, &header, &stop);
    let reader = {
        let (event_tx, header, progress) = (event_tx.clone(), header.clone(), progress.clone());
        let out = ReadOutputs {
            units: unit_tx,
            events: event_tx,
            budget: Budget::new(plan.bytes_in_flight),
            batch_rows: plan.batch_size,
            first_rows: plan.batch_size,
            unit_bytes: plan.unit_bytes,
            keys: super::keyed::KeyCheck::new(&job.mode, job.table.clone(), None),
        };
        tokio::task::spawn_blocking(move || read_stage(job, out, &stop, &header, &progress, None))
    };
    let counter = tokio::spawn(async move {
        while let Ok(unit) = unit_rx.recv().await {
            let n = unit.rows.len();
            progress.inserted.fetch_add(n as u64, Relaxed);
            let written = Event::Written {
                unit: unit.rows.first().map_or(0, |r| r.row),
                inserted: n,
                updated: 0,
                skipped: 0,
                unwritten: None,
            };
            let _ = event_tx.send(written).await;
            // Counted: its share of the bytes in flight goes back.
            let _ = event_tx.send(Event::Release(unit.release())).await;
        }
    });
    let collected = collect(event_rx, collect_opts);
    let stages = async {
        let read = reader.await.unwrap_or_else(|e| {
            let e = ImportError::Internal(format!("reader panicked: {e}"));
            (ReadSummary::default(), Some(e))
        });
        let _ = counter.await;
        read
    };
    let (collected, read) = tokio::join!(collected, stages);
    ImportReport {
        table,
        ..assemble(plan, ctl, started, &header, read, collected, true)
    }
}
