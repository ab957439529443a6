//! `GET /imports/{id}/events`: Server-Sent Events. While the import is
//! queued or running, a `progress` event at least every [`PERIOD`] (and at
//! every status change); then one `done` event carrying the full status
//! (stats, first rejected rows, error), and the stream ends. An import known
//! only from the table gets its `done` event at once when it has ended;
//! one run by another instance is followed in the table (progress every
//! second) until it ends.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::Stream;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::imports::{job_json, row_json, valid_id};
use super::jobs::Job;
use super::AppState;
use crate::sink::imports::ImportRow;

/// Longest gap between two progress events (the issue asks for ≤ 250 ms).
pub const PERIOD: Duration = Duration::from_millis(200);

/// The SSE endpoint.
#[utoipa::path(
    get,
    path = "/imports/{id}/events",
    tag = "imports",
    summary = "Live progress as Server-Sent Events",
    description = "`progress` events (`{id, status, progress}`) at least every 250 ms while \
        the import is queued or running, then one `done` event carrying its full status \
        (an ImportStatus), and the stream ends.",
    params(("id" = uuid::Uuid, Path, description = "The import's id (a UUID)")),
    responses(
        (status = 200, description = "The event stream", content_type = "text/event-stream",
         body = super::openapi::ImportEvent),
        (status = 404, description = "No import with this id", body = super::openapi::ErrorBody),
        (status = 503, description = "The database failed", body = super::openapi::ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = valid_id(&id)?;
    if let Some(job) = state.registry.get(&id) {
        return Ok(Sse::new(job_stream(job))
            .keep_alive(KeepAlive::default())
            .into_response());
    }
    match state.sink.get_import(&id).await {
        Ok(Some(row)) => Ok(Sse::new(row_stream(state, row))
            .keep_alive(KeepAlive::default())
            .into_response()),
        Ok(None) => Err(ApiError::no_import(&id)),
        Err(e) => Err(ApiError::database(e)),
    }
}

fn event(name: &str, data: &Value) -> Event {
    Event::default().event(name).data(data.to_string())
}

/// Where the stream is.
enum Phase {
    First,
    Running,
    Done,
}

/// How often an import run by another instance is read from the table.
pub const TABLE_PERIOD: Duration = Duration::from_secs(1);

/// An import known only from the table — ended, or run by another
/// instance: `progress` from the table every [`TABLE_PERIOD`] until it has
/// ended, then `done`.
fn row_stream(state: AppState, row: ImportRow) -> impl Stream<Item = Result<Event, Infallible>> {
    futures::stream::unfold((Some(row), true), move |(row, fresh)| {
        let state = state.clone();
        async move {
            let mut row = row?;
            if !fresh {
                tokio::time::sleep(TABLE_PERIOD).await;
                if let Ok(Some(r)) = state.sink.get_import(&row.id).await {
                    row = r; // otherwise the database will answer next time
                }
            }
            let v = row_json(&row);
            if row_is_final(&row) {
                return Some((Ok(event("done", &v)), (None, false)));
            }
            let data = json!({ "id": row.id, "status": row.status, "progress": v["progress"] });
            Some((Ok(event("progress", &data)), (Some(row), false)))
        }
    })
}

fn row_is_final(row: &ImportRow) -> bool {
    !matches!(row.status.as_str(), "queued" | "running")
}

fn job_stream(job: Arc<Job>) -> impl Stream<Item = Result<Event, Infallible>> {
    let rx = job.subscribe();
    futures::stream::unfold((job, rx, Phase::First), |(job, mut rx, phase)| async move {
        match phase {
            Phase::Done => return None,
            Phase::Running => {
                // Wakes on a status change or after PERIOD, whichever first.
                // The sender lives in `job`, so `changed` cannot fail here.
                tokio::select! {
                    _ = rx.changed() => {}
                    _ = tokio::time::sleep(PERIOD) => {}
                }
            }
            Phase::First => {}
        }
        let state = rx.borrow_and_update().clone();
        if state.status.is_final() {
            let ev = event("done", &job_json(&job));
            return Some((Ok(ev), (job, rx, Phase::Done)));
        }
        let data = json!({
            "id": job.id,
            "status": state.status,
            "progress": job.ctl.progress.snapshot(),
        });
        Some((Ok(event("progress", &data)), (job, rx, Phase::Running)))
    })
}
