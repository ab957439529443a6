//! The writer stage: each writer task holds one pooled connection for the
//! whole import and writes units from the shared channel, isolating rows
//! the database refuses. The first writer of an import waits for its
//! connection at most the pool timeout; the others only while it runs (see
//! `sink::pool`), so an import never waits on connections it does not need.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, OnceLock};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::inflight::Unit;
use super::{write_unit, Event, ImportError, Progress};
use crate::record::HeaderMap;
use crate::sink::{Sink, Wait, WriteKind, Writer};

/// What every writer of one import shares.
pub(super) struct WriteStage {
    pub units: async_channel::Receiver<Unit>,
    pub events: mpsc::Sender<Event>,
    pub kind: WriteKind,
    pub stop: CancellationToken,
    pub header: Arc<OnceLock<HeaderMap>>,
    pub progress: Arc<Progress>,
    /// Replace: the staging table the rows go to instead of the target.
    pub table: Option<String>,
}

/// The import's first writer: waits for its connection at most the pool
/// timeout (the import cannot go on without one), then writes until the
/// units end. `done` is cancelled when it returns, however it returns.
pub(super) async fn first_writer(
    sink: Sink,
    stage: WriteStage,
    done: CancellationToken,
) -> Result<(), ImportError> {
    let _done = done.drop_guard();
    let writer = tokio::select! {
        biased;
        _ = stage.stop.cancelled() => return Ok(()),
        w = sink.writer(Wait::Bounded) => w?,
    };
    stage.write_all(writer).await
}

/// Another writer: waits for a pooled connection only while the first
/// writer still runs, so an import never waits on connections other
/// imports hold once its own first writer has done the work.
pub(super) async fn other_writer(
    sink: Sink,
    stage: WriteStage,
    first_done: CancellationToken,
) -> Result<(), ImportError> {
    let writer = tokio::select! {
        biased;
        _ = stage.stop.cancelled() => return Ok(()),
        _ = first_done.cancelled() => return Ok(()),
        w = sink.writer(Wait::Unbounded) => w?,
    };
    stage.write_all(writer).await
}

impl WriteStage {
    /// Owns one connection and writes units until the channel closes or the
    /// import stops, isolating rows the database refuses.
    async fn write_all(self, mut writer: Writer) -> Result<(), ImportError> {
        let WriteStage {
            units,
            events,
            kind,
            stop,
            header,
            progress,
            table,
        } = self;
        let mut staged: Option<crate::model::Target> = None;
        loop {
            let unit = tokio::select! {
                biased;
                _ = stop.cancelled() => return Ok(()),
                unit = units.recv() => match unit {
                    Ok(unit) => unit,
                    Err(_) => return Ok(()),
                },
            };
            let Some(map) = header.get() else {
                return Err(ImportError::Internal(
                    "a unit arrived before the header".into(),
                ));
            };
            let target = match &table {
                Some(t) => staged.get_or_insert_with(|| crate::model::Target {
                    table: t.clone(),
                    columns: map.target.columns.clone(),
                }),
                None => &map.target,
            };
            let (outcome, fatal) = match write_unit(&mut writer, &unit.rows, kind, target).await {
                Ok(outcome) => (outcome, None),
                Err((outcome, e)) => (outcome, Some(e)),
            };
            let (updated, skipped) = writer.take_merged();
            progress.inserted.fetch_add(
                (outcome.inserted as u64).saturating_sub(updated + skipped),
                Relaxed,
            );
            progress.updated.fetch_add(updated, Relaxed);
            progress.skipped.fetch_add(skipped, Relaxed);
            progress
                .rejected
                .fetch_add(outcome.rejected.len() as u64, Relaxed);
            let written = Event::Written {
                unit: unit.rows.first().map_or(0, |r| r.row),
                inserted: outcome.inserted,
                updated,
                skipped,
                unwritten: outcome.unwritten.map(|i| unit.rows[i].row),
            };
            let _ = events.send(written).await;
            for (i, reason) in outcome.rejected {
                let r = map.reject_record(&unit.rows[i], reason);
                let _ = events.send(Event::Rejected(r, None)).await;
            }
            // The unit's share of the budget also covers the rejections
            // made from its rows: it is given back once the collector has
            // taken them (the channel keeps one writer's events in order).
            // Writers never wait for the budget, so they cannot deadlock on it.
            let _ = events.send(Event::Release(unit.release())).await;
            if let Some(e) = fatal {
                return Err(e.into());
            }
        }
    }
}
