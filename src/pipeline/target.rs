//! Which table an import writes to, settled before any row is written:
//! the `businesses` preset (the default), an existing table of the user's
//! (`--table NAME`: introspected), a table inferred from the file and
//! created when missing (`--create`), or a declared one (`--schema
//! FILE.toml`, created when missing). See docs/TYPES.md, "Choosing the
//! table".

use std::sync::Arc;

use super::coltypes::{check_existing, check_once, mark_sampled, retype_inferred, ColumnTypes};
use super::inferred::{infer_table, rename_inferred};
use super::{ImportError, ImportJob};
use crate::model::{Column, TableSchema};
use crate::sink::introspect::IntrospectError;
use crate::sink::Sink;

/// Where an import's table comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TableSpec {
    /// The job's `table` as it is (the `businesses` preset by default,
    /// created with its indexes when missing).
    #[default]
    Preset,
    /// An existing table, introspected (`--table NAME`).
    Existing(String),
    /// `--create --table NAME`: the existing table if there is one, else
    /// a table inferred from the file, created before the first row.
    Create {
        /// The table's name.
        name: String,
        /// Infer from at most this many data rows (`--infer-rows`); `None`:
        /// every row, so no row is lost to a type guessed too early.
        infer_rows: Option<u64>,
        /// Declared types of some columns (`--type`), over the inferred
        /// ones ([`super::coltypes`]).
        types: ColumnTypes,
    },
    /// A declared table (`--schema FILE.toml`), created when missing.
    Declared(Arc<TableSchema>),
}

impl TableSpec {
    /// The spec of the CLI's and the service's words: `table` (`--table`,
    /// `table=`), `create` (`--create`, `create=true`), `infer_rows`.
    pub fn from_words(
        table: Option<&str>,
        create: bool,
        infer_rows: Option<u64>,
    ) -> Result<TableSpec, String> {
        match (table.map(str::trim), create) {
            (Some(""), _) => Err("the table name is empty".into()),
            (Some(name), false) => Ok(TableSpec::Existing(name.to_string())),
            (Some(name), true) => Ok(TableSpec::Create {
                name: name.to_string(),
                infer_rows,
                types: Vec::new(),
            }),
            (None, true) => Err("--create needs --table NAME: the table to create".into()),
            (None, false) if infer_rows.is_some() => {
                Err("--infer-rows applies to --create only".into())
            }
            (None, false) => Ok(TableSpec::Preset),
        }
    }

    /// The spec with declared column types (`--type`, `types=`), which
    /// need `--create`.
    pub fn with_types(self, declared: ColumnTypes) -> Result<TableSpec, String> {
        if declared.is_empty() {
            return Ok(self);
        }
        check_once(&declared)?;
        match self {
            TableSpec::Create {
                name, infer_rows, ..
            } => Ok(TableSpec::Create {
                name,
                infer_rows,
                types: declared,
            }),
            _ => Err("--type applies to --create only: it types the table --create makes".into()),
        }
    }

    /// The table's name as given (`--table`, a declared table's), or
    /// `None` for the preset (the job's own table).
    pub fn name(&self) -> Option<&str> {
        match self {
            TableSpec::Preset => None,
            TableSpec::Existing(name) | TableSpec::Create { name, .. } => Some(name),
            TableSpec::Declared(t) => Some(&t.name),
        }
    }

    /// True when the table is the job's own (no database needed to know it).
    pub fn is_preset(&self) -> bool {
        matches!(self, TableSpec::Preset)
    }
}

/// What settling the table did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Settled {
    /// The CREATE TABLE run (or, in a dry run, that would run).
    pub ddl: Option<String>,
}

/// Settles `job.table` from `job.spec`. With a sink, existing tables are
/// introspected and missing ones created (not in a dry run: the DDL is
/// returned instead); without one (a dry run with no database) an
/// inferred or declared table is taken as it would be created.
pub async fn settle(job: &mut ImportJob, sink: Option<&Sink>) -> Result<Settled, ImportError> {
    settle_for(job, sink, "postgres").await
}

/// [`settle`], writing the DDL of a table to create for `backend`
/// ("postgres", "sqlite", "mysql") when there is no sink to say.
pub async fn settle_for(
    job: &mut ImportJob,
    sink: Option<&Sink>,
    backend: &'static str,
) -> Result<Settled, ImportError> {
    let spec = std::mem::take(&mut job.spec);
    let name = match &spec {
        TableSpec::Preset => return Ok(Settled::default()),
        TableSpec::Existing(name) | TableSpec::Create { name, .. } => name.clone(),
        TableSpec::Declared(t) => t.name.clone(),
    };
    let existing = match sink {
        Some(sink) => match sink.table_schema(&name).await {
            Ok(t) => Some(t),
            Err(IntrospectError::NotFound { .. }) if !matches!(spec, TableSpec::Existing(_)) => {
                None
            }
            Err(IntrospectError::Db(e)) => return Err(ImportError::Database(e)),
            Err(e) => return Err(ImportError::Table(e.to_string())),
        },
        None if matches!(spec, TableSpec::Existing(_)) => {
            return Err(ImportError::Table(format!(
                "--table {name} needs a database to read the table from"
            )))
        }
        None => None,
    };
    if let Some(found) = existing {
        job.table = Arc::new(match &spec {
            TableSpec::Declared(declared) => with_declared(found, declared)?,
            _ if TableSchema::businesses().name == found.name => {
                with_preset(found).unwrap_or_else(|| job.table.as_ref().clone())
            }
            _ => found,
        });
        if let TableSpec::Create { types, .. } = &spec {
            check_existing(&job.table, types)?;
        }
        return Ok(Settled::default());
    }
    let backend = sink.map_or(backend, Sink::backend);
    let table = match spec {
        TableSpec::Declared(declared) => declared.as_ref().clone(),
        TableSpec::Create {
            name,
            infer_rows,
            types,
        } => {
            let map = job.header.map.clone();
            let path = job.path.clone();
            let (source, header) = (job.source.clone(), job.header.clone());
            let sqlite = backend == "sqlite";
            let inferred = tokio::task::spawn_blocking(move || {
                infer_table(&path, &source, &header, &name, infer_rows, sqlite)
            })
            .await
            .map_err(|e| ImportError::Internal(format!("inference panicked: {e}")))??;
            let mut inferred = inferred;
            rename_inferred(&mut inferred, &map)?;
            retype_inferred(&mut inferred, &types)?;
            mark_sampled(&mut inferred, &types, infer_rows);
            job.header = inferred.header;
            inferred.table
        }
        TableSpec::Preset | TableSpec::Existing(_) => unreachable!("handled above"),
    };
    let ddl = match sink {
        Some(sink) if !job.dry_run => sink.create_table(&table).await?,
        _ => crate::sink::tables::create_table_sql(backend, &table),
    };
    job.table = Arc::new(table);
    Ok(Settled { ddl: Some(ddl) })
}

/// The existing `businesses` table with the preset's header aliases and
/// value rules, or `None` when it lacks one of the preset's columns.
pub fn with_preset(found: TableSchema) -> Option<TableSchema> {
    with_declared(found, &TableSchema::businesses())
        .map_err(|e| tracing::debug!(error = %e, "businesses is not the preset's table"))
        .ok()
}

/// The existing table `found` with what a declaration adds: the header
/// aliases and value rules of each declared column. A declared column the
/// table lacks is an error naming it.
fn with_declared(
    mut found: TableSchema,
    declared: &TableSchema,
) -> Result<TableSchema, ImportError> {
    let missing: Vec<&str> = declared
        .columns
        .iter()
        .filter(|d| found.column_index(&d.name).is_none())
        .map(|d| d.name.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ImportError::Table(format!(
            "table {} exists but has no column {}: the declared schema does not match it",
            found.name,
            missing.join(", ")
        )));
    }
    for d in &declared.columns {
        if let Some(i) = found.column_index(&d.name) {
            let column: &mut Column = &mut found.columns[i];
            column.aliases.clone_from(&d.aliases);
            column.rules.clone_from(&d.rules);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_become_a_spec() {
        assert_eq!(
            TableSpec::from_words(None, false, None),
            Ok(TableSpec::Preset)
        );
        assert_eq!(
            TableSpec::from_words(Some("orders"), false, None),
            Ok(TableSpec::Existing("orders".into()))
        );
        assert_eq!(
            TableSpec::from_words(Some("orders"), true, Some(10)),
            Ok(TableSpec::Create {
                name: "orders".into(),
                infer_rows: Some(10),
                types: Vec::new(),
            })
        );
        assert!(TableSpec::from_words(None, true, None).is_err());
        assert!(TableSpec::from_words(Some(" "), false, None).is_err());
        assert!(TableSpec::from_words(None, false, Some(5)).is_err());
    }
}
