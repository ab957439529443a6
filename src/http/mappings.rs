//! `PUT /mappings`: saves the column matching chosen on the importer page
//! for a table and a set of headers, so that `POST /preview` offers it the
//! next time a file with the same headers goes into the same table (see
//! `sink::mappings`).

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::errors::ApiError;
use super::preview::existing_table;
use super::AppState;
use crate::record::{normalize_header, IGNORE};
use crate::sink::mappings::headers_key;

/// The body of `PUT /mappings`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MappingBody {
    /// The target table (it must exist).
    pub table: String,
    /// The file's headers, in any order.
    pub headers: Vec<String>,
    /// For each header, the table column it fills, or `-` to ignore it.
    pub mapping: BTreeMap<String, String>,
}

/// `PUT /mappings`.
#[utoipa::path(
    put,
    path = "/mappings",
    tag = "page",
    summary = "Save the column matching used for a table and a set of headers",
    request_body(content = MappingBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Saved; POST /preview offers it for the same table and headers", body = super::openapi::page::SavedMapping),
        (status = 400, description = "Not a JSON body of this shape", body = super::openapi::ErrorBody),
        (status = 404, description = "No such table", body = super::openapi::ErrorBody),
        (status = 422, description = "A header not among `headers`, a column not of the table, or a table sheetpipe cannot write", body = super::openapi::ErrorBody),
        (status = 503, description = "The database failed", body = super::openapi::ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn save(
    State(state): State<AppState>,
    body: Result<Json<MappingBody>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(body) = body.map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "Invalid mapping body").with_detail(e.body_text())
    })?;
    let unprocessable = |e: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e);
    let Some(table) = existing_table(&state, body.table.trim()).await? else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("No table {:?}", body.table),
        ));
    };
    let known: Vec<String> = body.headers.iter().map(|h| normalize_header(h)).collect();
    for (header, column) in &body.mapping {
        if !known.contains(&normalize_header(header)) {
            return Err(unprocessable(format!(
                "the mapping names the header {header:?}, which is not among the headers"
            )));
        }
        if column != IGNORE && table.column_index(column).is_none() {
            return Err(unprocessable(format!(
                "{header:?} maps to {column:?}, which is not a column of {} (or - to ignore it)",
                table.name
            )));
        }
    }
    let key = headers_key(&body.headers);
    let text = serde_json::to_string(&body.mapping).map_err(ApiError::internal)?;
    let at = crate::sink::imports::now();
    state
        .sink
        .save_mapping(&table.name, &key, &text, &at)
        .await
        .map_err(ApiError::database)?;
    Ok(Json(json!({
        "table": table.name,
        "headers_key": key,
        "mapping": body.mapping,
    })))
}
