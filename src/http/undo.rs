//! `POST /imports/{id}/undo`: returns the import's table to its state
//! before the import (docs/UNDO.md). The guard has already checked the key's
//! role (importer) and that the import is the key's own.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use super::errors::ApiError;
use super::imports::valid_id;
use super::openapi::ErrorBody;
use super::AppState;
use crate::sink::undo::{UndoError, UndoOutcome};

/// The query of an undo.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UndoQuery {
    /// `true`: undo the rows still as the import left them even when others
    /// were changed since (those are left as they are now); default false:
    /// refuse, changing nothing (409).
    pub force: Option<String>,
}

/// The HTTP answer of an undo error.
pub fn undo_error(id: &str, e: UndoError) -> ApiError {
    match e {
        UndoError::NoImport(_) => ApiError::no_import(id),
        UndoError::Refused(m) => ApiError::new(StatusCode::CONFLICT, m),
        UndoError::Changed { rows, message } => ApiError::new(StatusCode::CONFLICT, message)
            .with_field("changed_rows", serde_json::json!(rows)),
        UndoError::Unsupported(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        UndoError::Db(e) => ApiError::database(e),
    }
}

/// `POST /imports/{id}/undo`.
#[utoipa::path(
    post,
    path = "/imports/{id}/undo",
    tag = "imports",
    summary = "Undo an import: delete the rows it inserted, restore the rows it updated or replaced",
    params(("id" = uuid::Uuid, Path, description = "The import's id (a UUID)"), UndoQuery),
    responses(
        (status = 200, description = "Undone: the counts of rows deleted, restored and kept", body = UndoOutcome),
        (status = 400, description = "A bad `force` value", body = ErrorBody),
        (status = 404, description = "No import with this id", body = ErrorBody),
        (status = 409, description = "Already undone, still running, or rows it wrote were changed since (`changed_rows`; force=true undoes the others)", body = ErrorBody),
        (status = 422, description = "No undo data: an import recorded without it (by an older sheetpipe, into a table whose rows cannot be found again), or too old", body = ErrorBody),
        (status = 503, description = "The database failed", body = ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn undo(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<UndoQuery>,
) -> Result<Json<UndoOutcome>, ApiError> {
    let id = valid_id(&id)?;
    let force = match q.force.as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => false,
        Some("true" | "1") => true,
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("force must be true or false, not {other:?}"),
            ))
        }
    };
    if state
        .registry
        .get(&id)
        .is_some_and(|job| job.state().finished_at.is_none())
    {
        return Err(undo_error(
            &id,
            UndoError::Refused(format!(
                "import {id} is still running: cancel it or wait for it to end, then undo it"
            )),
        ));
    }
    let outcome = state
        .sink
        .undo_import(&id, force)
        .await
        .map_err(|e| undo_error(&id, e))?;
    // Its status now comes from the history (`undone`), not from memory.
    state.registry.remove(&id);
    Ok(Json(outcome))
}
