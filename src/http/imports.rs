//! The import endpoints: the tutorial's synchronous `POST /upload`, and the
//! background `POST /imports`, `GET /imports[/{id}]`, `DELETE /imports/{id}`
//! and `GET /imports/{id}/rejects.csv`. Handlers only translate: HTTP in,
//! [`runner`](super::runner) calls, JSON out.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::errors::{ApiError, JsonQuery};
use super::jobs::{Job, JobStatus};
use super::openapi::{
    Accepted, Cancelling, ErrorBody, ImportList, ImportReport, ImportStatus, UploadFailure,
    UploadForm,
};
use super::query::UploadQuery;
use super::runner;
use super::{upload, AppState};
use crate::pipeline::TableSpec;
use crate::sink::imports::ImportRow;
use crate::sink::introspect::IntrospectError;
use utoipa::IntoParams;

/// `POST /upload`: import now, answer with the report (the tutorial's call).
#[utoipa::path(
    post,
    path = "/upload",
    tag = "imports",
    summary = "Import a spreadsheet and answer with its report",
    params(UploadQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "The import ran to its end (rejected rows included)", body = ImportReport),
        (status = 400, description = "No file uploaded, not a spreadsheet, an invalid method or query value", body = ErrorBody),
        (status = 408, description = "The body sent nothing for --upload-idle-timeout", body = ErrorBody),
        (status = 409, description = "The same file was already imported into this table (the error names the import; allow_reimport=true sends it anyway), or the import was cancelled (DELETE /imports/{id})", body = UploadFailure),
        (status = 413, description = "Over --max-upload-bytes", body = ErrorBody),
        (status = 422, description = "No table `table=` (the error names those that exist), the file could not be read, has no usable header, or too many rows were rejected", body = UploadFailure),
        (status = 500, description = "Internal error", body = UploadFailure),
        (status = 503, description = "Busy, shutting down, the spool is full, or the database failed",
         headers(("Retry-After" = u64, description = "Seconds to wait (load refusals)")), body = UploadFailure),
    )
)]
pub async fn upload_sync(
    State(state): State<AppState>,
    caller: Caller,
    JsonQuery(query): JsonQuery<UploadQuery>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    // The client waits on this server: not queued for the others.
    let job = accept(&state, &caller, query, &headers, multipart, None).await?;
    let outcome = job.finished().await;
    Ok((outcome.http_status, Json(outcome.body.clone())).into_response())
}

/// `POST /imports`: accept and answer 202 at once; the import runs behind.
#[utoipa::path(
    post,
    path = "/imports",
    tag = "imports",
    summary = "Start a background import",
    params(UploadQuery),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Accepted: queued", body = Accepted,
         headers(("Location" = String, description = "The import's status URL"))),
        (status = 400, description = "No file uploaded, not a spreadsheet, an invalid method or query value", body = ErrorBody),
        (status = 408, description = "The body sent nothing for --upload-idle-timeout", body = ErrorBody),
        (status = 409, description = "The same file was already imported into this table (the error names the import; allow_reimport=true sends it anyway)", body = ErrorBody),
        (status = 413, description = "Over --max-upload-bytes", body = ErrorBody),
        (status = 422, description = "No table `table=` (the error names those that exist), or one sheetpipe cannot write", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "Busy, shutting down, the spool is full, or the database failed",
         headers(("Retry-After" = u64, description = "Seconds to wait")), body = ErrorBody),
    )
)]
pub async fn upload_async(
    State(state): State<AppState>,
    caller: Caller,
    JsonQuery(query): JsonQuery<UploadQuery>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    // Its query is kept with the stored upload, for whichever server runs it.
    let queue = Some(uri.query().unwrap_or_default());
    let job = accept(&state, &caller, query, &headers, multipart, queue).await?;
    let url = status_url(&job.id);
    let body = json!({ "id": job.id, "status_url": url, "status": "queued" });
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, url)], Json(body)).into_response())
}

/// Checks the method and the load, receives the file, takes a load ticket,
/// starts the import. The cheap refusals come first, before the body is
/// read; the ticket is taken only once the body is complete, so slow or
/// stalled bodies never hold a running or queued slot.
async fn accept(
    state: &AppState,
    caller: &Caller,
    query: UploadQuery,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
    queue: Option<&str>,
) -> Result<Arc<Job>, ApiError> {
    let req = query.request(caller.owner())?;
    // A mode the database cannot run: 422 at once (none today).
    state
        .sink
        .supports_mode(req.mode.mode)
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e))?;
    // A table that is not there is refused before the body is read.
    if let TableSpec::Existing(name) = &req.spec {
        match state.sink.table_schema(name).await {
            Ok(_) => {}
            Err(IntrospectError::Db(e)) => return Err(ApiError::database(e)),
            Err(e) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    e.to_string(),
                ))
            }
        }
    }
    let max = state.config.max_upload_bytes;
    upload::check_content_length(headers, max)?;
    let multipart = multipart.map_err(|e| ApiError::no_file().with_detail(e.body_text()))?;
    state.registry.has_room()?;
    let upload = upload::receive(multipart, state.uploads_dir(), max, &state.spool).await?;
    let ticket = state.registry.admit()?;
    runner::start(state, upload, req, ticket, queue).await
}

/// `GET /imports/{id}`: live state when the import is known in memory,
/// otherwise its row in the `imports` table.
#[utoipa::path(
    get,
    path = "/imports/{id}",
    tag = "imports",
    summary = "An import's status, progress and (once ended) report",
    params(("id" = uuid::Uuid, Path, description = "The import's id (a UUID)")),
    responses(
        (status = 200, description = "The import", body = ImportStatus),
        (status = 404, description = "No import with this id", body = ErrorBody),
        (status = 503, description = "The database failed", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn status(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = valid_id(&id)?;
    if let Some(job) = state.registry.get(&id) {
        return Ok(Json(job_json(&job)));
    }
    match state.sink.get_import(&id).await {
        Ok(Some(row)) => Ok(Json(row_json(&row))),
        Ok(None) => Err(ApiError::no_import(&id)),
        Err(e) => Err(ApiError::database(e)),
    }
}

/// `DELETE /imports/{id}`: cancels a queued or running import. Answers 202
/// at once; the import stops at its next unit boundary.
#[utoipa::path(
    delete,
    path = "/imports/{id}",
    tag = "imports",
    summary = "Cancel a queued or running import",
    params(("id" = uuid::Uuid, Path, description = "The import's id (a UUID)")),
    responses(
        (status = 202, description = "Cancelling: it stops at its next unit", body = Cancelling),
        (status = 404, description = "No import with this id", body = ErrorBody),
        (status = 409, description = "The import has already ended", body = ErrorBody),
        (status = 503, description = "The database failed", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = valid_id(&id)?;
    let Some(job) = state.registry.get(&id) else {
        // Another instance may run it: leave the request for its heartbeat.
        if state
            .sink
            .request_cancel(&id)
            .await
            .map_err(ApiError::database)?
        {
            tracing::info!(import_id = %id, "cancel requested of the server running it");
            let body = json!({ "id": id, "status": "cancelling", "status_url": status_url(&id) });
            return Ok((StatusCode::ACCEPTED, Json(body)).into_response());
        }
        return match state.sink.get_import(&id).await {
            Ok(Some(row)) => Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Import is {} and not running on this server", row.status),
            )),
            Ok(None) => Err(ApiError::no_import(&id)),
            Err(e) => Err(ApiError::database(e)),
        };
    };
    let status = job.state().status;
    if status.is_final() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("Import already {}", status.as_str()),
        ));
    }
    job.ctl.cancel.cancel();
    tracing::debug!(import_id = %id, "cancel requested");
    let body = json!({ "id": id, "status": "cancelling", "status_url": status_url(&id) });
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

/// Pagination of `GET /imports`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Rows per page (default 20; taken into 1–100).
    pub limit: Option<i64>,
    /// Rows to skip (default 0; a negative one is 0).
    pub offset: Option<i64>,
}

/// `GET /imports`: newest first, from the table, with live state overlaid
/// for imports running on this server.
#[utoipa::path(
    get,
    path = "/imports",
    tag = "imports",
    summary = "The import history, newest first",
    params(ListQuery),
    responses(
        (status = 200, description = "One page", body = ImportList),
        (status = 400, description = "A query value that is not a number", body = ErrorBody),
        (status = 503, description = "The database failed", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    JsonQuery(q): JsonQuery<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = q.offset.unwrap_or(0).max(0);
    let (rows, total) = state
        .sink
        .list_imports_of(caller.sees_only(), limit, offset)
        .await
        .map_err(ApiError::database)?;
    let imports: Vec<Value> = rows
        .iter()
        .map(|row| match state.registry.get(&row.id) {
            Some(job) => job_json(&job),
            None => row_json(row),
        })
        .collect();
    // Checked: `offset` may be as large as i64::MAX.
    let next = offset
        .checked_add(limit)
        .filter(|&end| end < total)
        .map(|end| format!("/imports?limit={limit}&offset={end}"));
    Ok(Json(json!({
        "imports": imports,
        "limit": limit,
        "offset": offset,
        "total": total,
        "next": next,
    })))
}

/// `GET /imports/{id}/rejects.csv`: every rejected row — sheet, row,
/// column, reason, value, then the row's original values — streamed.
#[utoipa::path(
    get,
    path = "/imports/{id}/rejects.csv",
    tag = "imports",
    summary = "Every rejected row as CSV",
    params(("id" = uuid::Uuid, Path, description = "The import's id (a UUID)")),
    responses(
        (status = 200, description = "sheet, row, column, reason, value, then the original values",
         content_type = "text/csv", body = String),
        (status = 404, description = "No import with this id, or it has no report", body = ErrorBody),
        (status = 409, description = "The import has not ended yet", body = ErrorBody),
        (status = 410, description = "Removed after the retention period", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn rejects(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = valid_id(&id)?;
    let path = state.rejects_path(&id);
    serve_report(&state, &id, path, "csv", "text/csv; charset=utf-8").await
}

/// `GET /imports/{id}/rejects.xlsx`: the rejected rows under their own
/// headers as text cells, the refused cell highlighted with its reason as
/// a note, the reason in the last column (fix and import again).
#[utoipa::path(
    get,
    path = "/imports/{id}/rejects.xlsx",
    tag = "imports",
    summary = "The rejected rows as an .xlsx to fix and import again",
    params(("id" = uuid::Uuid, Path, description = "The import's id (a UUID)")),
    responses(
        (status = 200, description = "The workbook",
         content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         body = Vec<u8>),
        (status = 404, description = "No import with this id, or it has no report", body = ErrorBody),
        (status = 409, description = "The import has not ended yet", body = ErrorBody),
        (status = 410, description = "Removed after the retention period", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
    )
)]
pub async fn rejects_xlsx(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = valid_id(&id)?;
    let path = state.rejects_xlsx_path(&id);
    let kind = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    serve_report(&state, &id, path, "xlsx", kind).await
}

/// Streams one reject report of an import that has ended.
async fn serve_report(
    state: &AppState,
    id: &str,
    path: std::path::PathBuf,
    ext: &str,
    content_type: &str,
) -> Result<Response, ApiError> {
    if let Some(job) = state.registry.get(id) {
        let status = job.state().status;
        if !status.is_final() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "Import is {}: the report is complete when it ends",
                    status.as_str()
                ),
            ));
        }
    } else if matches!(state.sink.get_import(id).await, Ok(None)) {
        return Err(ApiError::no_import(id));
    }
    let file = match tokio::fs::File::open(path).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Ok(Some(ImportRow {
                rejects_removed_at: Some(at),
                ..
            })) = state.sink.get_import(id).await
            {
                return Err(ApiError::new(
                    StatusCode::GONE,
                    "The rejects report was removed after the retention period",
                )
                .with_detail(format!("removed at {at} (--keep-rejects-days)")));
            }
            return Err(
                ApiError::new(StatusCode::NOT_FOUND, "No rejects report for this import")
                    .with_detail("the import ended before its header row was read"),
            );
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!("attachment; filename=\"{id}-rejects.{ext}\"");
    Ok((
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    )
        .into_response())
}

/// Ids are UUIDs; anything else is unknown (and never reaches a path).
pub(super) fn valid_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| ApiError::no_import(id))
}

/// Where an import's status is.
pub fn status_url(id: &str) -> String {
    format!("/imports/{id}")
}

/// The status of an import known in memory.
pub fn job_json(job: &Job) -> Value {
    let s = job.state();
    let id = &job.id;
    let mut v = json!({
        "id": id,
        "filename": job.meta.filename,
        "sha256": job.meta.sha256,
        "method": job.meta.method,
        "mode": job.meta.mode,
        "bytes": job.meta.bytes,
        "table_name": job.meta.table_name,
        "owner": job.meta.owner,
        "status": s.status,
        "created_at": job.created_at,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "progress": job.ctl.progress.snapshot(),
        "status_url": status_url(id),
        "events_url": format!("/imports/{id}/events"),
        "rejects_url": format!("/imports/{id}/rejects.csv"),
    });
    if let Some(o) = &s.outcome {
        for key in [
            "message",
            "stats",
            "rejected",
            "rejected_truncated",
            "sheet",
            "ignored_columns",
            "header",
            "warnings",
            "dry_run",
            "database",
            "table",
            "ddl",
            "resume_from_row",
        ] {
            if let Some(x) = o.body.get(key) {
                v[key] = x.clone();
            }
        }
        v["error"] = json!(o.error);
    }
    v
}

/// The status of an import known only from the table (after a restart, or
/// evicted from memory): no live progress, no first rejected rows.
pub fn row_json(row: &ImportRow) -> Value {
    let id = &row.id;
    let mut v = json!({
        "id": id,
        "filename": row.filename,
        "sha256": row.sha256,
        "method": row.method,
        "mode": row.mode,
        "bytes": row.bytes,
        "owner": row.owner,
        "status": row.status,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "progress": {
            "rows_read": rows_read(row),
            "inserted": row.inserted,
            "updated": row.updated,
            "skipped": row.skipped,
            "rejected": row.rejected,
        },
        "error": row.error,
        "rejects_removed_at": row.rejects_removed_at,
        "instance_id": row.instance_id,
        // Rows recorded before the column existed all went to `businesses`.
        "table_name": row.table_name.as_deref().unwrap_or("businesses"),
        "status_url": status_url(id),
        "events_url": format!("/imports/{id}/events"),
        "rejects_url": format!("/imports/{id}/rejects.csv"),
    });
    let finished = [
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ]
    .iter()
    .any(|s| s.as_str() == row.status);
    if finished {
        v["stats"] = stats_of(row);
    }
    v
}

/// Rows an import stored one way or another: inserted, updated or skipped.
pub fn stored(row: &ImportRow) -> i64 {
    row.inserted
        .saturating_add(row.updated)
        .saturating_add(row.skipped)
}

/// The rows an import read. A row written by a killed process may lag its
/// ledgered counts: the rows read are at least those stored or rejected.
pub fn rows_read(row: &ImportRow) -> i64 {
    row.rows_read.max(stored(row).saturating_add(row.rejected))
}

/// The tutorial's stats rebuilt from a table row.
fn stats_of(row: &ImportRow) -> Value {
    let parse = |t: &Option<String>| {
        t.as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
    };
    let duration = match (parse(&row.started_at), parse(&row.finished_at)) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or_default(),
        _ => std::time::Duration::ZERO,
    };
    let secs = duration.as_secs_f64();
    let total = rows_read(row);
    json!({
        "total_records": total,
        "success_count": row.inserted + row.updated,
        "error_count": row.rejected,
        "unprocessed": total - stored(row) - row.rejected,
        "inserted": row.inserted,
        "updated": row.updated,
        "skipped": row.skipped,
        "duration": crate::pipeline::go_duration(duration),
        "duration_ms": duration.as_millis() as u64,
        "records_per_second": if secs > 0.0 {
            (total as f64 / secs * 100.0).round() / 100.0
        } else {
            0.0
        },
    })
}
