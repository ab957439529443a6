//! The upload endpoints' query (`method=`, `sheet=`, `map=`, `table=`, …):
//! every value checked before the body is read, a bad one a 400 naming it.

use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;

use super::errors::ApiError;
use super::openapi::MethodName;
use super::runner::Request;
use crate::model::TableSchema;
use crate::pipeline::{parse_types_list, ErrorBudget, Method, TableSpec};
use crate::record::{ConvertOptions, HeaderOptions};
use crate::sink::merge::ModeOptions;

/// Query of the upload endpoints. Every value is checked before the body
/// is read; a bad one is a 400 naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// sequential, concurrent, batch (default) or copy.
    #[param(value_type = Option<MethodName>)]
    pub method: Option<String>,
    /// Sheet to read, by name or 1-based position (default: the first
    /// visible worksheet).
    pub sheet: Option<String>,
    /// Explicit header mapping, `Header=field,…` (as `--map`).
    pub map: Option<String>,
    /// The header's row number, from 1 (default: found among the first 20
    /// rows).
    #[param(schema_with = super::openapi::row_param)]
    pub header_row: Option<String>,
    /// `true`: read and validate everything, write nothing.
    #[param(value_type = Option<bool>)]
    pub dry_run: Option<String>,
    /// Stop after more than this many rejected rows (as `--max-errors`).
    #[param(schema_with = super::openapi::count_param)]
    pub max_errors: Option<String>,
    /// Stop when more than this share of rows is rejected (as
    /// `--max-error-rate`): `0.05` or `5%`.
    #[param(example = "0.05")]
    pub max_error_rate: Option<String>,
    /// The existing table to import into (as `--table`; default: the
    /// `businesses` preset).
    pub table: Option<String>,
    /// `true`: create `table` when missing, inferred from the file (as
    /// `--create`).
    #[param(value_type = Option<bool>)]
    pub create: Option<String>,
    /// Infer from the first N data rows only (as `--infer-rows`).
    #[param(schema_with = super::openapi::count_param)]
    pub infer_rows: Option<String>,
    /// With `create=true`: declared types of the new table's columns,
    /// `column:type,…` (as `--type column=type`), applied over the
    /// inferred ones before the table is created.
    #[param(example = "qty:integer,zip:text")]
    pub types: Option<String>,
    /// Layout of dates written as text (as `--date-format`).
    pub date_format: Option<String>,
    /// `true`: import a file already imported completely into the same
    /// table (as `--allow-reimport`; otherwise 409).
    #[param(value_type = Option<bool>)]
    pub allow_reimport: Option<String>,
    /// How rows whose key already exists are treated (as `--mode`):
    /// `append` (default), `upsert`, `skip-existing` or `replace`.
    #[param(example = "upsert")]
    pub mode: Option<String>,
    /// The key rows are matched on, `col[,col]` (as `--key`; default: the
    /// primary key, or the one unique constraint the file maps).
    pub key: Option<String>,
    /// The same key twice in the file (as `--duplicates`): `reject`
    /// (default) or `last`.
    #[param(example = "reject")]
    pub duplicates: Option<String>,
    /// In an upsert, what an empty cell does to a stored row (as
    /// `--empty-cells`): `null` (default) or `keep`.
    #[param(example = "null")]
    pub empty_cells: Option<String>,
}

/// A `true`/`false` query value (`1`/`0`; empty or absent is false), or a
/// 400 naming the parameter.
fn flag(name: &str, value: Option<&str>) -> Result<bool, ApiError> {
    match value.map(str::trim) {
        None | Some("") | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("{name} must be true or false, got {other:?}"),
        )),
    }
}

impl UploadQuery {
    /// Every option of the import, or a 400 naming the bad value.
    pub fn request(self, owner: Option<String>) -> Result<Request, ApiError> {
        let method = match self.method.as_deref().map(str::trim) {
            None | Some("") => Method::Batch,
            Some(m) => Method::parse(m).ok_or_else(ApiError::invalid_method)?,
        };
        let (header, dry_run) = self.options()?;
        let budget = self.budget()?;
        let allow_reimport = self.allow_reimport()?;
        let mode = self.mode()?;
        let (spec, convert) = self.target()?;
        let sheet = self.sheet.filter(|s| !s.trim().is_empty());
        Ok(Request {
            method,
            sheet,
            header,
            dry_run,
            budget,
            allow_reimport,
            mode,
            owner,
            spec,
            convert,
        })
    }

    /// [`UploadQuery::request`] of a query string kept with a stored upload.
    pub fn parse_request(query: &str, owner: Option<String>) -> Result<Request, ApiError> {
        let uri: axum::http::Uri = format!("/imports?{query}")
            .parse()
            .map_err(|e| ApiError::internal(format!("stored query: {e}")))?;
        let q = axum::extract::Query::<UploadQuery>::try_from_uri(&uri)
            .map_err(|e| ApiError::internal(format!("stored query: {e}")))?;
        q.0.request(owner)
    }

    /// The error budget, or a 400 naming the bad value.
    pub(super) fn budget(&self) -> Result<ErrorBudget, ApiError> {
        let bad = |e: String| ApiError::new(StatusCode::BAD_REQUEST, e);
        let max_errors = match self.max_errors.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(
                n.parse::<u64>()
                    .map_err(|_| bad(format!("max_errors must be a number of rows, got {n:?}")))?,
            ),
        };
        let max_rate = match self.max_error_rate.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(r) => {
                Some(ErrorBudget::parse_rate(r).map_err(|e| bad(format!("max_error_rate: {e}")))?)
            }
        };
        ErrorBudget::new(max_errors, max_rate).map_err(bad)
    }

    /// The header options and dry-run flag, or a 400 naming the bad value.
    pub(super) fn options(&self) -> Result<(HeaderOptions, bool), ApiError> {
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
        if self.table().is_none() {
            header.check(&TableSchema::businesses()).map_err(bad)?;
        }
        let dry_run = flag("dry_run", self.dry_run.as_deref())?;
        Ok((header, dry_run))
    }

    /// The `table=` asked for, if any.
    pub(super) fn table(&self) -> Option<&str> {
        self.table.as_deref().filter(|t| !t.trim().is_empty())
    }

    /// Where the table comes from and how text becomes typed values, or a
    /// 400 naming the bad value.
    pub(super) fn target(&self) -> Result<(TableSpec, ConvertOptions), ApiError> {
        let bad = |e: String| ApiError::new(StatusCode::BAD_REQUEST, e);
        let create = flag("create", self.create.as_deref())?;
        let infer_rows = match self.infer_rows.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(n) => Some(
                n.parse::<u64>()
                    .map_err(|_| bad(format!("infer_rows must be a number of rows, got {n:?}")))?,
            ),
        };
        let http_words = |e: String| {
            bad(e
                .replace("--table NAME", "table=NAME")
                .replace("--type", "types=")
                .replace("--", ""))
        };
        let types = match self.types.as_deref().filter(|t| !t.trim().is_empty()) {
            Some(t) => parse_types_list(t).map_err(|e| bad(format!("types: {e}")))?,
            None => Vec::new(),
        };
        let spec = TableSpec::from_words(self.table(), create, infer_rows)
            .and_then(|s| s.with_types(types))
            .map_err(http_words)?;
        let convert = match self.date_format.as_deref().filter(|f| !f.trim().is_empty()) {
            Some(f) => {
                ConvertOptions::with_date_format(f).map_err(|e| bad(format!("date_format: {e}")))?
            }
            None => ConvertOptions::default(),
        };
        Ok((spec, convert))
    }

    /// `mode=`, `key=`, `duplicates=`, `empty_cells=` (as `--mode` …), or
    /// a 400 naming the bad value.
    pub(super) fn mode(&self) -> Result<ModeOptions, ApiError> {
        ModeOptions::from_words(
            self.mode.as_deref(),
            self.key.as_deref(),
            self.duplicates.as_deref(),
            self.empty_cells.as_deref(),
        )
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.replace("--", "")))
    }

    /// `allow_reimport=` (as `--allow-reimport`), or a 400 naming the bad value.
    pub(super) fn allow_reimport(&self) -> Result<bool, ApiError> {
        flag("allow_reimport", self.allow_reimport.as_deref())
    }
}
