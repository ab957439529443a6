//! What both backends' introspection shares: its error (a missing table
//! listing those that exist, columns of types sheetpipe cannot write), and
//! which tables are sheetpipe's own and never offered as targets.
//!
//! The catalog readers are `postgres::introspect` and `sqlite::introspect`.

use std::fmt;

use super::DbError;

/// Why a table cannot be used as an import target.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntrospectError {
    /// No table of that name (a view or sequence of that name counts as
    /// missing: rows cannot be copied into it).
    #[error("table {table} does not exist; {}", TableList(existing))]
    NotFound {
        /// The name as asked for.
        table: String,
        /// The importable tables that do exist.
        existing: Vec<String>,
    },
    /// Columns whose types sheetpipe cannot write (arrays, composites,
    /// bytea, interval, …), every one of them named.
    #[error(
        "table {table} has columns of types sheetpipe cannot write: {}",
        ColumnList(columns)
    )]
    Unsupported {
        /// The table.
        table: String,
        /// Each unsupported column and its type as the database names it.
        columns: Vec<(String, String)>,
    },
    /// The catalog could not be read.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// `tables: a, b` or `the database has no tables`.
struct TableList<'a>(&'a [String]);

impl fmt::Display for TableList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            [] => f.write_str("the database has no tables"),
            names => write!(f, "tables: {}", names.join(", ")),
        }
    }
}

/// `tags (text[]), photo (bytea)`.
struct ColumnList<'a>(&'a [(String, String)]);

impl fmt::Display for ColumnList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, ty)) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{name} ({ty})")?;
        }
        Ok(())
    }
}

/// True for sheetpipe's own tables (`imports`, `import_ledger`, and every
/// `sheetpipe_*` table), which are never import targets.
pub fn is_internal_table(name: &str) -> bool {
    matches!(name, "imports" | "import_ledger" | "api_keys") || name.starts_with("sheetpipe_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_table_lists_the_tables_that_exist() {
        let e = IntrospectError::NotFound {
            table: "orders".into(),
            existing: vec!["businesses".into(), "customers".into()],
        };
        assert_eq!(
            e.to_string(),
            "table orders does not exist; tables: businesses, customers"
        );
        let e = IntrospectError::NotFound {
            table: "orders".into(),
            existing: vec![],
        };
        assert_eq!(
            e.to_string(),
            "table orders does not exist; the database has no tables"
        );
    }

    #[test]
    fn unsupported_columns_are_all_named_with_their_types() {
        let e = IntrospectError::Unsupported {
            table: "t".into(),
            columns: vec![
                ("tags".into(), "text[]".into()),
                ("b".into(), "bytea".into()),
            ],
        };
        assert_eq!(
            e.to_string(),
            "table t has columns of types sheetpipe cannot write: tags (text[]), b (bytea)"
        );
    }

    #[test]
    fn sheetpipes_own_tables_are_internal() {
        assert!(is_internal_table("imports"));
        assert!(is_internal_table("import_ledger"));
        assert!(is_internal_table("sheetpipe_reimport"));
        assert!(!is_internal_table("businesses"));
        assert!(!is_internal_table("my_imports"));
    }
}
