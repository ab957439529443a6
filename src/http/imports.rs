//! The import endpoints: the tutorial's synchronous `POST /upload`, and the
//! background `POST /imports`, `GET /imports[/{id}]`, `DELETE /imports/{id}`
//! and `GET /imports/{id}/rejects.csv`. Handlers only translate: HTTP in,
//! [`runner`](super::runner) calls, JSON out.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::jobs::{Job, JobStatus};
use super::runner::{self, Request};
use super::{upload, AppState};
use crate::model::TableSchema;
use crate::pipeline::Method;
use crate::record::HeaderOptions;
use crate::sink::imports::ImportRow;

/// Query of the upload endpoints.
#[derive(Debug, Deserialize)]
pub struct UploadQuery {
    /// sequential, concurrent, batch (default) or copy.
    pub method: Option<String>,
    /// Sheet to read, by name or 1-based position (default: the first
    /// visible worksheet).
    pub sheet: Option<String>,
    /// Explicit header mapping, `Header=field,…` (as `--map`).
    pub map: Option<String>,
    /// The header's row number (default: found among the first 20 rows).
    pub header_row: Option<String>,
    /// `true`: read and validate everything, write nothing.
    pub dry_run: Option<String>,
}

impl UploadQuery {
    /// The header options and dry-run flag, or a 400 naming the bad value.
    fn options(&self) -> Result<(HeaderOptions, bool), ApiError> {
        let bad = |e: String| ApiError::new(StatusCode::BAD_REQUEST, e);
        let header_row = match self.header_row.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(
                n.parse::<u32>()
                    .map_err(|_| bad(format!("header_row must be a row number, got {n:?}")))?,
            ),
        };
        if let Some(sheet) = &self.sheet {
            crate::source::check_sheet_choice(sheet).map_err(bad)?;
        }
        let map = self.map.as_deref().filter(|m| !m.trim().is_empty());
        let header = HeaderOptions::new(header_row, map).map_err(bad)?;
        header.check(&TableSchema::businesses()).map_err(bad)?;
        let dry_run = match self.dry_run.as_deref().map(str::trim) {
            None | Some("") | Some("false") | Some("0") => false,
            Some("true") | Some("1") => true,
            Some(other) => {
                return Err(bad(format!("dry_run must be true or false, got {other:?}")))
            }
        };
        Ok((header, dry_run))
    }
}

/// `POST /upload`: import now, answer with the report (the tutorial's call).
pub async fn upload_sync(
    State(state): State<AppState>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let job = accept(&state, query, &headers, multipart).await?;
    let outcome = job.finished().await;
    Ok((outcome.http_status, Json(outcome.body.clone())).into_response())
}

/// `POST /imports`: accept and answer 202 at once; the import runs behind.
pub async fn upload_async(
    State(state): State<AppState>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, ApiError> {
    let job = accept(&state, query, &headers, multipart).await?;
    let url = status_url(&job.id);
    let body = json!({ "id": job.id, "status_url": url, "status": "queued" });
    Ok((StatusCode::ACCEPTED, [(header::LOCATION, url)], Json(body)).into_response())
}

/// Checks the method, takes a load ticket, receives the file, starts the
/// import. The cheap refusals come first, before the body is read.
async fn accept(
    state: &AppState,
    query: UploadQuery,
    headers: &HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Arc<Job>, ApiError> {
    let method = match query.method.as_deref().map(str::trim) {
        None | Some("") => Method::Batch,
        Some(m) => Method::parse(m).ok_or_else(ApiError::invalid_method)?,
    };
    let (header, dry_run) = query.options()?;
    let max = state.config.max_upload_bytes;
    upload::check_content_length(headers, max)?;
    let multipart = multipart.map_err(|e| ApiError::no_file().with_detail(e.body_text()))?;
    let ticket = state.registry.admit()?;
    let upload = upload::receive(multipart, state.uploads_dir(), max).await?;
    let sheet = query.sheet.filter(|s| !s.trim().is_empty());
    let req = Request {
        method,
        sheet,
        header,
        dry_run,
    };
    runner::start(state, upload, req, ticket).await
}

/// `GET /imports/{id}`: live state when the import is known in memory,
/// otherwise its row in the `imports` table.
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
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = valid_id(&id)?;
    let Some(job) = state.registry.get(&id) else {
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
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Rows per page (1–100, default 20).
    pub limit: Option<i64>,
    /// Rows to skip (default 0).
    pub offset: Option<i64>,
}

/// `GET /imports`: newest first, from the table, with live state overlaid
/// for imports running on this server.
pub async fn list(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(20).clamp(1, 100);
    let offset = q.offset.unwrap_or(0).max(0);
    let (rows, total) = state
        .sink
        .list_imports(limit, offset)
        .await
        .map_err(ApiError::database)?;
    let imports: Vec<Value> = rows
        .iter()
        .map(|row| match state.registry.get(&row.id) {
            Some(job) => job_json(&job),
            None => row_json(row),
        })
        .collect();
    let next = (offset + limit < total)
        .then(|| format!("/imports?limit={limit}&offset={}", offset + limit));
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
pub async fn rejects(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = valid_id(&id)?;
    if let Some(job) = state.registry.get(&id) {
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
    } else if matches!(state.sink.get_import(&id).await, Ok(None)) {
        return Err(ApiError::no_import(&id));
    }
    let file = match tokio::fs::File::open(state.rejects_path(&id)).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                ApiError::new(StatusCode::NOT_FOUND, "No rejects report for this import")
                    .with_detail("the import ended before its header row was read"),
            );
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    let disposition = format!("attachment; filename=\"{id}-rejects.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
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
        "bytes": job.meta.bytes,
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
        "bytes": row.bytes,
        "status": row.status,
        "created_at": row.created_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "progress": {
            "rows_read": row.rows_read,
            "inserted": row.inserted,
            "rejected": row.rejected,
        },
        "error": row.error,
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
    json!({
        "total_records": row.rows_read,
        "success_count": row.inserted,
        "error_count": row.rows_read - row.inserted,
        "duration": crate::pipeline::go_duration(duration),
        "duration_ms": duration.as_millis() as u64,
        "records_per_second": if secs > 0.0 {
            (row.rows_read as f64 / secs * 100.0).round() / 100.0
        } else {
            0.0
        },
    })
}
