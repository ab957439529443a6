//! Which table an import writes to, settled before any row is written:
//! the `businesses` preset (the default), an existing table of the user's
//! (`--table NAME`: introspected), a table inferred from the file and
//! created when missing (`--create`), or a declared one (`--schema
//! FILE.toml`, created when missing). See docs/TYPES.md, "Choosing the
//! table".

use std::path::Path;
use std::sync::Arc;

use super::coltypes::{check_existing, check_once, mark_sampled, retype_inferred, ColumnTypes};
use super::{ImportError, ImportJob};
use crate::model::{Cell, Column, RawRow, TableSchema};
use crate::record::infer::{column_names, Inferrer};
use crate::record::{match_key, HeaderError, HeaderOptions, HEADER_SEARCH_ROWS, IGNORE};
use crate::sink::introspect::IntrospectError;
use crate::sink::Sink;
use crate::source::{self, SourceOptions};

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
            job.header.created_names = true;
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

/// A table inferred from a file and how to map the file onto it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    /// The table: one column per sheet column with a header or data, in
    /// the file's order.
    pub table: TableSchema,
    /// The header row and the positional mapping onto `table`.
    pub header: HeaderOptions,
    /// Data rows looked at.
    pub rows: u64,
    /// The header text of each sheet column (as wide as the widest row).
    pub headers: Vec<String>,
}

/// `--map` for the table `--create` makes from the file: `Header=name`
/// names that header's column `name` instead of the name made of the
/// header, `Header=-` leaves the column out of the table (and the import).
pub fn rename_inferred(
    inferred: &mut Inferred,
    map: &[(String, String)],
) -> Result<(), ImportError> {
    let table = inferred.table.name.clone();
    for (header, target) in map {
        let Some(col) = inferred
            .headers
            .iter()
            .position(|h| match_key(h) == match_key(header))
        else {
            return Err(HeaderError::MapHeaderMissing {
                wanted: header.clone(),
                row: inferred.header.header_row.unwrap_or(1),
                found: inferred
                    .headers
                    .iter()
                    .filter(|h| !h.is_empty())
                    .cloned()
                    .collect(),
            }
            .into());
        };
        let Some(positions) = inferred.header.positions.as_mut() else {
            break;
        };
        let Some(slot) = positions.get(col).copied().flatten() else {
            continue;
        };
        if target == IGNORE {
            inferred.table.columns.remove(slot);
            for p in positions.iter_mut() {
                match p {
                    Some(s) if *s == slot => *p = None,
                    Some(s) if *s > slot => *s -= 1,
                    _ => {}
                }
            }
        } else {
            inferred.table.columns[slot].name = target.clone();
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = inferred
        .table
        .columns
        .iter()
        .find(|c| !seen.insert(c.name.to_lowercase()))
    {
        return Err(ImportError::Table(format!(
            "two columns of the new table {table} would be named {}: --map names each column once",
            twice.name
        )));
    }
    if inferred.table.columns.is_empty() {
        return Err(ImportError::Table(format!(
            "--map leaves the new table {table} no column"
        )));
    }
    Ok(())
}

/// Reads the file once and infers the table `name` from it: the header row
/// (`--header-row`, else [`find_header`]), column names from the headers
/// ([`column_names`]), and each column's narrowest type that every value
/// looked at survives ([`Inferrer`]; SQLite's variant when `sqlite`).
pub fn infer_table(
    path: &Path,
    source: &SourceOptions,
    header: &HeaderOptions,
    name: &str,
    infer_rows: Option<u64>,
    sqlite: bool,
) -> Result<Inferred, ImportError> {
    let mut reader = source::open(path, source)?;
    let mut above: Vec<RawRow> = Vec::new();
    let mut head: Option<RawRow> = None;
    let mut seen = Seen {
        inferrer: Inferrer::new(),
        width: 0,
        limit: infer_rows.unwrap_or(u64::MAX),
    };
    let mut error: Option<ImportError> = None;
    reader.read(&mut |row| {
        use std::ops::ControlFlow::{Break, Continue};
        let more = |more: bool| if more { Continue(()) } else { Break(()) };
        if row.is_blank() {
            return Continue(());
        }
        if head.is_some() {
            return more(seen.take(&row));
        }
        if let Some(n) = header.header_row {
            match row.number.cmp(&n) {
                std::cmp::Ordering::Less => return Continue(()),
                std::cmp::Ordering::Equal => {
                    head = Some(row);
                    return Continue(());
                }
                std::cmp::Ordering::Greater => {
                    error = Some(HeaderError::BlankHeaderRow(n).into());
                    return Break(());
                }
            }
        }
        if row.number <= HEADER_SEARCH_ROWS {
            above.push(row);
            return Continue(());
        }
        // Past the search window: decide on what was seen, then go on.
        match seen.header_of(&mut above) {
            Ok(h) => {
                head = Some(h);
                more(seen.take(&row))
            }
            Err(e) => {
                error = Some(e);
                Break(())
            }
        }
    })?;
    if let Some(e) = error {
        return Err(e);
    }
    if head.is_none() && header.header_row.is_none() {
        if above.is_empty() {
            return Err(HeaderError::NoHeader.into());
        }
        head = Some(seen.header_of(&mut above)?);
    }
    let Seen {
        inferrer,
        mut width,
        ..
    } = seen;
    let Some(head) = head else {
        return Err(HeaderError::BlankHeaderRow(header.header_row.unwrap_or(1)).into());
    };
    let texts: Vec<String> = head
        .cells
        .iter()
        .map(|c| crate::record::cell_display(c).trim().to_string())
        .collect();
    width = width.max(texts.len());
    // A sheet column becomes a table column when it has a header or data;
    // one with neither (an empty column between others) is left out.
    let kept: Vec<usize> = (0..width)
        .filter(|&i| texts.get(i).is_some_and(|t| !t.is_empty()) || inferrer.has_values(i))
        .collect();
    if kept.is_empty() {
        return Err(HeaderError::NoHeader.into());
    }
    let all_names = column_names(
        &(0..width)
            .map(|i| texts.get(i).cloned().unwrap_or_default())
            .collect::<Vec<_>>(),
    );
    let rows = inferrer.rows();
    let all_columns = if sqlite {
        inferrer.finish_for_sqlite(&all_names)
    } else {
        inferrer.finish(&all_names)
    };
    let mut positions = vec![None; width];
    let mut columns = Vec::with_capacity(kept.len());
    for (slot, &i) in kept.iter().enumerate() {
        positions[i] = Some(slot);
        columns.push(all_columns[i].clone());
    }
    Ok(Inferred {
        table: TableSchema {
            name: name.to_string(),
            columns,
            primary_key: Vec::new(),
            unique: Vec::new(),
        },
        header: HeaderOptions {
            header_row: Some(head.number),
            map: Vec::new(),
            positions: Some(positions),
            created_names: false,
        },
        rows,
        headers: (0..width)
            .map(|i| texts.get(i).cloned().unwrap_or_default())
            .collect(),
    })
}

/// What inference has seen of the data rows.
struct Seen {
    inferrer: Inferrer,
    /// The widest data row.
    width: usize,
    /// Rows to look at (`--infer-rows`).
    limit: u64,
}

impl Seen {
    /// Looks at one data row while the limit allows; false once it is
    /// reached (no more rows are needed).
    fn take(&mut self, row: &RawRow) -> bool {
        if self.inferrer.rows() >= self.limit {
            return false;
        }
        self.width = self.width.max(row.cells.len());
        self.inferrer.push(row);
        self.inferrer.rows() < self.limit
    }

    /// The header among the rows held back (the first ones of the sheet),
    /// the rows below it taken as data; or why there is none.
    fn header_of(&mut self, rows: &mut Vec<RawRow>) -> Result<RawRow, ImportError> {
        let head = pick_header(rows).ok_or_else(|| ImportError::Table(not_found(rows)))?;
        for r in std::mem::take(rows) {
            self.take(&r);
        }
        Ok(head)
    }
}

/// The header among the non-blank rows of the first [`HEADER_SEARCH_ROWS`]
/// rows, removing it and the rows above it from `rows` (the rest are data):
/// the first row whose cells with a value are all text and number at
/// least half of the widest row's (and at least two when any row has
/// two), so a title row above the header ("Sales 2024") is skipped and a
/// row of numbers or dates is never taken for one.
pub fn pick_header(rows: &mut Vec<RawRow>) -> Option<RawRow> {
    let filled = |r: &RawRow| r.cells.iter().filter(|c| !matches!(c, Cell::Empty)).count();
    let widest = rows.iter().map(filled).max()?;
    let needed = widest.div_ceil(2).max(2.min(widest));
    let at = rows.iter().position(|r| {
        let all_text = r
            .cells
            .iter()
            .all(|c| matches!(c, Cell::Empty | Cell::Text(_)));
        all_text && filled(r) >= needed
    })?;
    let head = rows.remove(at);
    rows.drain(..at);
    Some(head)
}

/// Why no header was found, naming the first row seen.
fn not_found(rows: &[RawRow]) -> String {
    let first = rows.first().map_or(String::new(), |r| {
        let cells: Vec<String> = r
            .cells
            .iter()
            .map(crate::record::cell_display)
            .filter(|s| !s.is_empty())
            .collect();
        format!("; row {} has [{}]", r.number, cells.join(", "))
    });
    format!(
        "no header row found in rows 1-{HEADER_SEARCH_ROWS} to name the new table's columns: \
         no row of text cells spans most of the columns{first} (use --header-row N)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn row(number: u32, cells: Vec<Cell>) -> RawRow {
        RawRow { number, cells }
    }

    #[test]
    fn the_header_is_the_first_wide_row_of_text_under_a_title() {
        let mut rows = vec![
            row(1, vec![text("Sales report 2024")]),
            row(3, vec![text("order_id"), text("date"), text("amount")]),
            row(
                4,
                vec![
                    Cell::Int(1),
                    Cell::DateTime("2024-01-02".into()),
                    Cell::Float(2.5),
                ],
            ),
        ];
        let head = pick_header(&mut rows).unwrap();
        assert_eq!(head.number, 3);
        assert_eq!(rows.len(), 1, "the title is dropped, the data row stays");
        assert_eq!(rows[0].number, 4);
    }

    #[test]
    fn a_row_of_numbers_is_never_a_header() {
        let mut rows = vec![row(1, vec![Cell::Int(1), Cell::Int(2)])];
        assert_eq!(pick_header(&mut rows), None);
    }

    #[test]
    fn a_one_column_sheet_has_a_one_cell_header() {
        let mut rows = vec![row(1, vec![text("email")]), row(2, vec![text("a@b.c")])];
        assert_eq!(pick_header(&mut rows).unwrap().number, 1);
    }

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
