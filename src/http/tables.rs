//! `GET /tables`: the tables a file can be imported into, each with its
//! columns and types (what the importer page offers), and those that
//! cannot be targets with the reason; `GET /tables/{name}`: one of them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::errors::ApiError;
use super::AppState;
use crate::model::{Rule, TableSchema};
use crate::sink::introspect::IntrospectError;

/// One table as JSON: name, columns in order (name, type, nullable,
/// has_default, required, aliases), primary key and unique constraints.
pub fn table_json(t: &TableSchema) -> Value {
    let columns: Vec<Value> = t
        .columns
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "type": c.sql_type.postgres_name(),
                "nullable": c.nullable,
                "has_default": c.has_default,
                "required": c.required(),
                "primary_key": t.primary_key.contains(&c.name),
                "unique": c.rules.contains(&Rule::Unique)
                    || t.unique.iter().any(|u| u.len() == 1 && u[0] == c.name),
                "aliases": c.aliases,
            })
        })
        .collect();
    json!({
        "name": t.name,
        "columns": columns,
        "primary_key": t.primary_key,
        "unique": t.unique,
    })
}

/// `GET /tables`: `{"tables": [...], "unusable": [{"name", "error"}]}`,
/// sheetpipe's own tables left out.
#[utoipa::path(
    get,
    path = "/tables",
    tag = "tables",
    summary = "The tables a file can be imported into",
    responses(
        (status = 200, description = "Every table with its columns; those sheetpipe cannot write, with why",
         body = super::openapi::TableList),
        (status = 503, description = "The database failed", body = super::openapi::ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let found = state.sink.list_tables().await.map_err(ApiError::database)?;
    let (mut tables, mut unusable) = (Vec::new(), Vec::new());
    for t in found {
        match t {
            Ok(t) => tables.push(table_json(&t)),
            Err(e) => {
                let name = match &e {
                    IntrospectError::Unsupported { table, .. } => json!(table),
                    _ => Value::Null,
                };
                unusable.push(json!({ "name": name, "error": e.to_string() }));
            }
        }
    }
    Ok(Json(json!({ "tables": tables, "unusable": unusable })))
}

/// `GET /tables/{name}`: one table, 404 naming the tables that exist, 422
/// for a table with columns sheetpipe cannot write.
#[utoipa::path(
    get,
    path = "/tables/{name}",
    tag = "tables",
    summary = "One table: its columns, types and keys",
    params(("name" = String, Path, description = "The table's name")),
    responses(
        (status = 200, description = "The table", body = super::openapi::Table),
        (status = 404, description = "No such table (the error names those that exist)",
         body = super::openapi::ErrorBody),
        (status = 422, description = "A table with columns sheetpipe cannot write",
         body = super::openapi::ErrorBody),
        (status = 503, description = "The database failed", body = super::openapi::ErrorBody,
         headers(("Retry-After" = u64, description = "Seconds to wait"))),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match state.sink.table_schema(&name).await {
        Ok(t) => Ok(Json(table_json(&t))),
        Err(e @ IntrospectError::NotFound { .. }) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, e.to_string()))
        }
        Err(IntrospectError::Db(e)) => Err(ApiError::database(e)),
        Err(e) => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            e.to_string(),
        )),
    }
}
