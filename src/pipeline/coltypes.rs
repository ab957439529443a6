//! Declared types for the columns of a table `--create` makes
//! (`--type COL=TYPE`, HTTP `types=COL:TYPE,…`): each named column gets
//! that type instead of the inferred one, before the table is created.
//! A value that does not fit the declared type is rejected naming its
//! cell, as for any typed column; nothing becomes NULL silently.
//!
//! `COL` is the new table's column name (as `--dry-run --create` prints
//! it, after `--map` renames), compared without case; `TYPE` is spelled as
//! in a schema file (`integer`, `numeric(12,2)`, `text`, …,
//! [`parse_type`]). When the table exists already, each declared type must
//! be the type its column has: a different one is an error naming both
//! (the table is not altered).

use super::{ImportError, Inferred};
use crate::model::{parse_type, Rule, SqlType, TableSchema};

/// The types the importer page offers for a new table's column: every
/// type sheetpipe creates on each backend, spelled as `types=` takes them
/// (`numeric` and `varchar` unconstrained; `char` is left out, as it
/// would be `char(1)`).
pub const NEW_COLUMN_TYPES: &[&str] = &[
    "text",
    "varchar",
    "smallint",
    "integer",
    "bigint",
    "numeric",
    "real",
    "double precision",
    "boolean",
    "date",
    "timestamp",
    "timestamptz",
    "time",
    "uuid",
    "json",
    "jsonb",
];

/// Declared column types, in the order given.
pub type ColumnTypes = Vec<(String, SqlType)>;

/// One `COL=TYPE` (`sep` `=`) or `COL:TYPE` (`sep` `:`): split at the last
/// `sep`, as no type name holds one.
pub fn parse_column_type(item: &str, sep: char) -> Result<(String, SqlType), String> {
    let Some((col, ty)) = item.rsplit_once(sep) else {
        return Err(format!("{item:?} is not COLUMN{sep}TYPE"));
    };
    let col = col.trim();
    if col.is_empty() {
        return Err(format!("{item:?} names no column"));
    }
    let ty = parse_type(ty.trim()).map_err(|e| format!("{e} (in {item:?})"))?;
    Ok((col.to_string(), ty))
}

/// `COL:TYPE,COL:TYPE` (HTTP `types=`): items split at the commas outside
/// parentheses, so `amount:numeric(12,2)` is one item.
pub fn parse_types_list(text: &str) -> Result<ColumnTypes, String> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0u32, 0);
    for (i, ch) in text.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&text[start..]);
    let types = items
        .into_iter()
        .filter(|s| !s.trim().is_empty())
        .map(|s| parse_column_type(s, ':'))
        .collect::<Result<ColumnTypes, _>>()?;
    check_once(&types)?;
    Ok(types)
}

/// Each column named once.
pub fn check_once(types: &ColumnTypes) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    match types.iter().find(|(c, _)| !seen.insert(c.to_lowercase())) {
        Some((c, _)) => Err(format!("the type of column {c} is given twice")),
        None => Ok(()),
    }
}

/// The column of `table` named `name` (without case).
fn position(table: &TableSchema, name: &str) -> Option<usize> {
    table
        .columns
        .iter()
        .position(|c| c.name == name)
        .or_else(|| {
            let lower = name.to_lowercase();
            table
                .columns
                .iter()
                .position(|c| c.name.to_lowercase() == lower)
        })
}

/// The error for a declared column the table lacks.
fn no_column(table: &TableSchema, name: &str) -> ImportError {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    ImportError::Table(format!(
        "--type {name}: the table {} has no column {name}; its columns are {}",
        table.name,
        names.join(", ")
    ))
}

/// Gives the inferred table's columns their declared types.
pub fn retype_inferred(inferred: &mut Inferred, types: &ColumnTypes) -> Result<(), ImportError> {
    for (name, ty) in types {
        let Some(i) = position(&inferred.table, name) else {
            return Err(no_column(&inferred.table, name));
        };
        inferred.table.columns[i].sql_type = ty.clone();
    }
    Ok(())
}

/// After inference from a sample (`--infer-rows N`, and the file had at
/// least N data rows): every inferred column that is not text gets
/// [`Rule::InferredFrom`], so a later value the sample did not foresee
/// (`01234` in a column the first rows made integer) is rejected naming
/// its cell instead of being read leniently. A column `--type` typed
/// keeps the user's choice unmarked.
pub fn mark_sampled(inferred: &mut Inferred, types: &ColumnTypes, infer_rows: Option<u64>) {
    let Some(limit) = infer_rows.filter(|&n| inferred.rows >= n) else {
        return;
    };
    let declared: Vec<usize> = types
        .iter()
        .filter_map(|(name, _)| position(&inferred.table, name))
        .collect();
    for (i, column) in inferred.table.columns.iter_mut().enumerate() {
        if !declared.contains(&i) && !column.sql_type.is_text() {
            column.rules.push(Rule::InferredFrom(limit));
        }
    }
}

/// An existing table and declared types: each must be its column's type.
pub fn check_existing(table: &TableSchema, types: &ColumnTypes) -> Result<(), ImportError> {
    for (name, ty) in types {
        let Some(i) = position(table, name) else {
            return Err(no_column(table, name));
        };
        let has = &table.columns[i].sql_type;
        if has != ty {
            return Err(ImportError::Table(format!(
                "--type {name}={ty}: the table {} exists and its column {} is {has} \
                 (a declared type only shapes a table --create makes; it does not alter one)",
                table.name, table.columns[i].name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_splits_at_commas_outside_parentheses() {
        let got = parse_types_list("qty:integer, amount:numeric(12,2),zip : text").unwrap();
        assert_eq!(
            got,
            vec![
                ("qty".to_string(), SqlType::Integer),
                (
                    "amount".to_string(),
                    SqlType::Numeric {
                        precision: Some(12),
                        scale: Some(2)
                    }
                ),
                ("zip".to_string(), SqlType::Text),
            ]
        );
    }

    #[test]
    fn a_bad_item_is_named() {
        let e = parse_types_list("qty:integr").unwrap_err();
        assert!(e.contains("did you mean integer?"), "{e}");
        assert!(parse_types_list("qty").unwrap_err().contains("COLUMN:TYPE"));
        assert!(parse_types_list(":text").unwrap_err().contains("no column"));
        let twice = parse_types_list("a:text,A:integer").unwrap_err();
        assert!(twice.contains("given twice"), "{twice}");
        assert_eq!(
            parse_column_type("a:b=integer", '='),
            Ok(("a:b".into(), SqlType::Integer))
        );
    }

    #[test]
    fn every_offered_type_parses() {
        for t in NEW_COLUMN_TYPES {
            let ty = parse_type(t).unwrap();
            assert_eq!(&ty.postgres_name(), t, "offered as it is shown");
        }
    }
}
