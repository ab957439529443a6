//! `POST /preview`: what the importer page shows before anything is
//! written. The file is received exactly as an upload is (same size limit,
//! spool, magic bytes) and read by the same reader (in the isolated reader
//! process when the service uses one, under the same limits), but only its
//! first rows: the header search window ([`HEADER_SEARCH_ROWS`]) and
//! [`PREVIEW_ROWS`] data rows below the header.
//!
//! The answer: the workbook's sheets, the header row, each file column
//! with the target column our header matching proposes (`map=` first, as
//! an upload would use it), the target table's columns (for a table that
//! does not exist yet, the ones `create=true` would infer from the first
//! [`INFER_ROWS`] rows, with the `types=` declared over them, and the types
//! a column may be given), the matching saved for this table and these
//! headers (`PUT /mappings`), and the first data rows with every invalid
//! cell's reason. A header that does not map (a required column missing,
//! two headers for one column, …) is not an error here: its message is
//! in `error` and the page lets the user fix the matching.

use std::ops::ControlFlow::{Break, Continue};
use std::path::Path;
use std::sync::Arc;

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::State;
use axum::http::{HeaderMap as Headers, StatusCode};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::errors::{ApiError, JsonQuery};
use super::{tables, upload, AppState};
use crate::model::{column_letter, RawRow, TableSchema};
use crate::pipeline::{
    check_existing, infer_table, parse_types_list, pick_header, rename_inferred, retype_inferred,
    with_preset, ColumnTypes, NEW_COLUMN_TYPES,
};
use crate::record::{
    cell_display, suggest_fields, HeaderError, HeaderFinder, HeaderOptions, Rules,
    HEADER_SEARCH_ROWS,
};
use crate::sink::introspect::IntrospectError;
use crate::sink::mappings::headers_key;
use crate::source::{self, SourceError, SourceOptions};

/// Data rows shown below the header.
pub const PREVIEW_ROWS: usize = 20;

/// Rows a new table's columns are inferred from for the preview (the
/// import itself infers from every row, so a type may widen there).
pub const INFER_ROWS: u64 = 1000;

/// A sheet name no workbook has (`[` and `]` are not allowed in sheet
/// names): asking for it makes the reader answer with the list of sheets.
const NO_SUCH_SHEET: &str = "[sheetpipe: list the sheets]";

/// Query of `POST /preview`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// Sheet to read, by name or 1-based position (default: the first
    /// visible worksheet).
    pub sheet: Option<String>,
    /// The target table; one that does not exist is shown as `create=true`
    /// would make it (default: the `businesses` preset).
    pub table: Option<String>,
    /// Header mapping to judge, `Header=column,Other=-` (as `map=` of the
    /// upload; `-` ignores a header).
    pub map: Option<String>,
    /// The header's row number, from 1 (default: found among the first 20
    /// rows).
    #[param(schema_with = super::openapi::row_param)]
    pub header_row: Option<String>,
    /// For a table to create: declared types of its columns,
    /// `column:type,…` (as `types=` of the upload with `create=true`).
    #[param(example = "qty:integer,zip:text")]
    pub types: Option<String>,
}

/// The table to preview against.
enum Target {
    /// An existing table (or the preset).
    Known(Arc<TableSchema>),
    /// A table to create: its name, and whether SQLite types are inferred.
    New(String, bool),
}

/// `POST /preview`.
#[utoipa::path(
    post,
    path = "/preview",
    tag = "page",
    summary = "The sheets, header matching and first rows of a file, nothing written",
    params(PreviewQuery),
    request_body(content = super::openapi::UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 200, description = "What an import of this file would do with its first rows", body = super::openapi::page::Preview),
        (status = 400, description = "No file uploaded, not a spreadsheet, an invalid query value", body = super::openapi::ErrorBody),
        (status = 408, description = "The body sent nothing for --upload-idle-timeout", body = super::openapi::ErrorBody),
        (status = 413, description = "Over --max-upload-bytes", body = super::openapi::ErrorBody),
        (status = 422, description = "The file could not be read, or the table is one sheetpipe cannot write", body = super::openapi::ErrorBody),
        (status = 503, description = "The spool is full or the database failed", body = super::openapi::ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    JsonQuery(q): JsonQuery<PreviewQuery>,
    headers: Headers,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let bad = |e: String| ApiError::new(StatusCode::BAD_REQUEST, e);
    let sheet = q.sheet.filter(|s| !s.trim().is_empty());
    if let Some(s) = &sheet {
        source::check_sheet_choice(s).map_err(bad)?;
    }
    let header_row = match q.header_row.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(n) => Some(
            n.parse::<u32>()
                .map_err(|_| bad(format!("header_row must be a row number, got {n:?}")))?,
        ),
    };
    let map = q.map.as_deref().filter(|m| !m.trim().is_empty());
    let opts = HeaderOptions::new(header_row, map).map_err(bad)?;
    let types = match q.types.as_deref().filter(|t| !t.trim().is_empty()) {
        Some(t) => parse_types_list(t).map_err(|e| bad(format!("types: {e}")))?,
        None => Vec::new(),
    };
    let name = q.table.as_deref().map(str::trim).filter(|t| !t.is_empty());
    let target = match name {
        None => Target::Known(Arc::new(TableSchema::businesses())),
        Some(name) => match existing_table(&state, name).await? {
            Some(t) => Target::Known(Arc::new(t)),
            None => Target::New(name.to_string(), state.sink.backend() == "sqlite"),
        },
    };
    let max = state.config.max_upload_bytes;
    upload::check_content_length(&headers, max)?;
    let multipart = multipart.map_err(|e| ApiError::no_file().with_detail(e.body_text()))?;
    let file = upload::receive(multipart, state.uploads_dir(), max, &state.spool).await?;
    let source = SourceOptions {
        sheet,
        progress: Default::default(),
        ..state.config.source.clone()
    };
    let rules = state.config.rules.clone();
    let filename = file.filename.clone();
    let mut out = tokio::task::spawn_blocking(move || {
        let seen = look(&file.path, &source, &rules, opts, target, &types);
        drop(file);
        seen
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("{filename}: {e}")))?;
    let table = out["table"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let key = out["headers_key"].as_str().unwrap_or_default().to_string();
    let saved = state
        .sink
        .saved_mapping(&table, &key)
        .await
        .map_err(ApiError::database)?;
    out["saved_mapping"] = saved
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    out["filename"] = json!(filename);
    Ok(Json(out))
}

/// The table `name` when it exists; `None` when it does not; a 422 for one
/// sheetpipe cannot write, a 503 when the database fails.
pub(super) async fn existing_table(
    state: &AppState,
    name: &str,
) -> Result<Option<TableSchema>, ApiError> {
    match state.sink.table_schema(name).await {
        // As an import sees it: `businesses` with the preset's aliases.
        Ok(t) if t.name == TableSchema::businesses().name => {
            Ok(Some(with_preset(t).unwrap_or_else(TableSchema::businesses)))
        }
        Ok(t) => Ok(Some(t)),
        Err(IntrospectError::NotFound { .. }) => Ok(None),
        Err(IntrospectError::Db(e)) => Err(ApiError::database(e)),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        )),
    }
}

/// Reads the file's first rows and judges them against the table.
fn look(
    path: &Path,
    source: &SourceOptions,
    rules: &Rules,
    opts: HeaderOptions,
    target: Target,
    types: &ColumnTypes,
) -> Result<Value, String> {
    let sheets = sheet_names(path, source);
    let (sheet, rows) = first_rows(path, source).map_err(|e| e.to_string())?;
    let (table, opts, exists) = match target {
        Target::Known(t) => {
            check_existing(&t, types).map_err(|e| e.to_string())?;
            (t, opts, true)
        }
        Target::New(name, sqlite) => {
            let mut inferred = infer_table(path, source, &opts, &name, Some(INFER_ROWS), sqlite)
                .map_err(|e| e.to_string())?;
            rename_inferred(&mut inferred, &opts.map).map_err(|e| e.to_string())?;
            retype_inferred(&mut inferred, types).map_err(|e| e.to_string())?;
            (Arc::new(inferred.table), inferred.header, false)
        }
    };
    let mut finder = HeaderFinder::for_table(&sheet, &opts, table.clone());
    let (mut found, mut error) = (None, None);
    for (i, row) in rows.iter().enumerate() {
        match finder.push(row) {
            Ok(Some(map)) => {
                found = Some((i, map));
                break;
            }
            Ok(None) => {}
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if found.is_none() && error.is_none() {
        error = Some(finder.finish());
    }
    let at = match (&found, &error) {
        (Some((i, _)), _) => Some(*i),
        (None, Some(HeaderError::MissingRequired { row, .. }))
        | (None, Some(HeaderError::MapHeaderMissing { row, .. })) => {
            rows.iter().position(|r| r.number == *row)
        }
        _ => None,
    }
    .or_else(|| {
        let head = pick_header(&mut rows.clone())?;
        rows.iter().position(|r| r.number == head.number)
    });
    let Some(at) = at else {
        return Ok(json!({
            "sheets": sheets, "sheet": sheet, "table": tables::table_json(&table),
            "table_exists": exists, "column_types": column_types(exists),
            "header_row": null, "headers": [], "columns": [],
            "headers_key": headers_key(&[]), "rows": [],
            "error": error.map(|e| e.to_string()),
        }));
    };
    let headers: Vec<String> = rows[at]
        .cells
        .iter()
        .map(|c| cell_display(c).trim().to_string())
        .collect();
    let fields = match &found {
        Some((_, map)) => map.field_of_column.clone(),
        None => suggest_fields(&opts, &table, &headers),
    };
    let columns: Vec<Value> = headers
        .iter()
        .enumerate()
        .map(|(col, h)| {
            let field = fields.get(col).copied().flatten();
            json!({
                "letter": column_letter(col),
                "header": h,
                "suggested": field.map(|f| table.columns[f].name.clone()),
            })
        })
        .collect();
    let data: Vec<Value> = rows[at + 1..]
        .iter()
        .take(PREVIEW_ROWS)
        .map(|row| {
            let mut cells: Vec<String> = row.cells.iter().map(cell_display).collect();
            cells.resize(cells.len().max(headers.len()), String::new());
            let errors = match &found {
                Some((_, map)) => map.cell_errors(row, rules),
                None => vec![None; cells.len()],
            };
            json!({ "row": row.number, "cells": cells, "errors": errors })
        })
        .collect();
    Ok(json!({
        "sheets": sheets,
        "sheet": sheet,
        "table": tables::table_json(&table),
        "table_exists": exists,
        "column_types": column_types(exists),
        "header_row": rows[at].number,
        "headers": headers,
        "columns": columns,
        "headers_key": headers_key(&headers),
        "rows": data,
        "error": error.map(|e| e.to_string()),
    }))
}

/// The types a new table's column may be given (`types=`); none for a
/// table that exists.
fn column_types(exists: bool) -> &'static [&'static str] {
    if exists {
        &[]
    } else {
        NEW_COLUMN_TYPES
    }
}

/// The workbook's sheets, as its reader lists them when asked for one it
/// does not have; empty for CSV (no sheets) and when the file cannot say.
fn sheet_names(path: &Path, source: &SourceOptions) -> Vec<String> {
    let opts = SourceOptions {
        sheet: Some(NO_SUCH_SHEET.into()),
        progress: Default::default(),
        ..source.clone()
    };
    let err = match source::open(path, &opts) {
        Err(e) => e,
        Ok(mut reader) => match reader.read(&mut |_| Break(())) {
            Err(e) => e,
            Ok(()) => return Vec::new(),
        },
    };
    match err {
        SourceError::SheetNotFound { available, .. } => available,
        _ => Vec::new(),
    }
}

/// The sheet's name and its first non-blank rows: enough for the header
/// search and [`PREVIEW_ROWS`] rows below it.
fn first_rows(path: &Path, source: &SourceOptions) -> Result<(String, Vec<RawRow>), SourceError> {
    let mut reader = source::open(path, source)?;
    let most = HEADER_SEARCH_ROWS as usize + PREVIEW_ROWS;
    let mut rows = Vec::new();
    reader.read(&mut |row| {
        if !row.is_blank() {
            rows.push(row);
        }
        if rows.len() >= most {
            Break(())
        } else {
            Continue(())
        }
    })?;
    Ok((reader.sheet_name().to_string(), rows))
}
