//! A SQLite table's [`TableSchema`] from its declared column types
//! (`pragma_table_xinfo`), primary key and unique indexes
//! (`pragma_index_list` / `pragma_index_info`). Used by `--table NAME` and
//! `GET /tables`.
//!
//! Declared types map by name first (the names `ddl::create_table_sqlite`
//! writes, and common ones), then by SQLite's affinity rules, so every
//! column SQLite accepts gets the type SQLite would give its values:
//!
//! | declared | SqlType |
//! |---|---|
//! | SMALLINT, INT2 | smallint |
//! | INT4 | integer |
//! | anything else containing INT (INTEGER, BIGINT, INT8, …) | bigint |
//! | FLOAT4 | real |
//! | containing REAL, FLOA, DOUB | double precision |
//! | NUMERIC(p,s), DECIMAL(p,s) (and without (p,s)) | numeric(p,s) |
//! | BOOL, BOOLEAN | boolean |
//! | DATE / DATETIME, TIMESTAMP / TIMESTAMPTZ / TIME | date / timestamp / timestamptz / time |
//! | UUID, JSON, JSONB | uuid, json, jsonb |
//! | VARCHAR(n), CHARACTER VARYING(n), NVARCHAR(n) / CHAR(n), CHARACTER(n), NCHAR(n) | varchar(n) / char(n) |
//! | TEXT, CLOB, other names containing CHAR/CLOB/TEXT, no type at all | text |
//! | containing BLOB | unsupported |
//! | any other name (NUMERIC affinity: STRING, MONEY, …) | numeric |
//!
//! An `INTEGER PRIMARY KEY` is the rowid: `has_default` (SQLite assigns
//! it) and not nullable. Hidden columns of virtual tables and generated
//! columns are left out of `columns`.

use rusqlite::{Connection, OptionalExtension};

use crate::model::{Column, SqlType, TableSchema};
use crate::sink::introspect::{is_internal_table, IntrospectError};
use crate::sink::DbError;

/// The schema of table `name`, matched exactly, else without regard to
/// case (as SQLite matches names).
pub fn table_schema(conn: &Connection, name: &str) -> Result<TableSchema, IntrospectError> {
    let found: Option<String> = conn
        .query_row(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE \
             ORDER BY name = ?1 DESC LIMIT 1",
            [name],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)?;
    match found {
        Some(table) if !table.starts_with("sqlite_") => schema_of(conn, table),
        _ => Err(IntrospectError::NotFound {
            table: name.to_string(),
            existing: table_names(conn)?,
        }),
    }
}

/// Every table but SQLite's and sheetpipe's own, by name; a table with
/// columns of unsupported types is an `Err(Unsupported)` entry naming them.
pub fn list_tables(
    conn: &Connection,
) -> Result<Vec<Result<TableSchema, IntrospectError>>, DbError> {
    let mut out = Vec::new();
    for name in table_names(conn)? {
        match schema_of(conn, name) {
            Err(IntrospectError::Db(e)) => return Err(e),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn db(e: rusqlite::Error) -> DbError {
    DbError::new(e.to_string())
}

fn table_names(conn: &Connection) -> Result<Vec<String>, DbError> {
    let mut stmt = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
        )
        .map_err(db)?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    Ok(names
        .into_iter()
        .filter(|n| !is_internal_table(n))
        .collect())
}

/// One row of `pragma_table_xinfo`.
struct Info {
    name: String,
    declared: String,
    notnull: bool,
    has_default: bool,
    pk: i64,
}

fn schema_of(conn: &Connection, table: String) -> Result<TableSchema, IntrospectError> {
    let infos = column_infos(conn, &table)?;
    let mut pk: Vec<(i64, String)> = infos
        .iter()
        .filter(|i| i.pk > 0)
        .map(|i| (i.pk, i.name.clone()))
        .collect();
    pk.sort();
    let primary_key: Vec<String> = pk.into_iter().map(|(_, n)| n).collect();
    let rowid = match primary_key.as_slice() {
        [one] if !without_rowid(conn, &table)? => infos
            .iter()
            .find(|i| i.name == *one && i.declared.eq_ignore_ascii_case("INTEGER"))
            .map(|i| i.name.clone()),
        _ => None,
    };
    let mut columns = Vec::new();
    let mut unsupported = Vec::new();
    for info in infos {
        let Some(sql_type) = sql_type(&info.declared) else {
            unsupported.push((info.name, info.declared));
            continue;
        };
        let is_rowid = rowid.as_deref() == Some(info.name.as_str());
        columns.push(Column {
            nullable: !info.notnull && !is_rowid,
            has_default: info.has_default || is_rowid,
            ..Column::new(info.name, sql_type)
        });
    }
    if !unsupported.is_empty() {
        return Err(IntrospectError::Unsupported {
            table,
            columns: unsupported,
        });
    }
    let unique = unique_indexes(conn, &table)?;
    Ok(TableSchema {
        name: table,
        columns,
        primary_key,
        unique,
    })
}

/// Visible, non-generated columns in order.
fn column_infos(conn: &Connection, table: &str) -> Result<Vec<Info>, DbError> {
    let mut stmt = conn
        .prepare(
            "SELECT name, type, \"notnull\", dflt_value IS NOT NULL, pk FROM pragma_table_xinfo(?1) \
             WHERE hidden = 0 ORDER BY cid",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map([table], |r| {
            Ok(Info {
                name: r.get(0)?,
                declared: r.get(1)?,
                notnull: r.get(2)?,
                has_default: r.get(3)?,
                pk: r.get(4)?,
            })
        })
        .map_err(db)?;
    rows.collect::<Result<_, _>>().map_err(db)
}

fn without_rowid(conn: &Connection, table: &str) -> Result<bool, DbError> {
    conn.query_row(
        "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
        [table],
        |r| r.get(0),
    )
    .map_err(db)
}

/// Unique constraints and unique indexes over plain columns (not partial,
/// not on expressions), each its columns in order, oldest first.
fn unique_indexes(conn: &Connection, table: &str) -> Result<Vec<Vec<String>>, DbError> {
    let mut stmt = conn
        .prepare(
            "SELECT l.name FROM pragma_index_list(?1) l \
             JOIN sqlite_schema s ON s.type = 'index' AND s.name = l.name \
             WHERE l.\"unique\" = 1 AND l.origin <> 'pk' AND l.partial = 0 \
             ORDER BY s.rowid",
        )
        .map_err(db)?;
    let names = stmt
        .query_map([table], |r| r.get::<_, String>(0))
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    let mut info = conn
        .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")
        .map_err(db)?;
    let mut unique = Vec::new();
    for index in names {
        let cols = info
            .query_map([&index], |r| r.get::<_, Option<String>>(0))
            .map_err(db)?
            .collect::<Result<Option<Vec<String>>, _>>()
            .map_err(db)?;
        // A NULL name is an expression: no uniqueness of columns.
        if let Some(cols) = cols {
            unique.push(cols);
        }
    }
    Ok(unique)
}

/// The [`SqlType`] of a declared type (see the module's table); `None`
/// for BLOB.
pub fn sql_type(declared: &str) -> Option<SqlType> {
    let upper = declared.trim().to_ascii_uppercase();
    let (base, args) = match upper.split_once('(') {
        Some((b, rest)) => (b, rest.trim_end().strip_suffix(')').unwrap_or(rest)),
        None => (upper.as_str(), ""),
    };
    let base = base.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut nums = args.split(',').map(|a| a.trim().parse::<u32>().ok());
    let (first, second) = (nums.next().flatten(), nums.next().flatten());
    let named = match base.as_str() {
        "SMALLINT" | "INT2" => SqlType::SmallInt,
        "INT4" => SqlType::Integer,
        "FLOAT4" => SqlType::Real,
        "NUMERIC" | "DECIMAL" => SqlType::Numeric {
            precision: first.map(|p| p.min(u32::from(u16::MAX)) as u16),
            scale: first.map(|_| second.unwrap_or(0).min(u32::from(u16::MAX)) as u16),
        },
        "BOOL" | "BOOLEAN" => SqlType::Boolean,
        "DATE" => SqlType::Date,
        "DATETIME" | "TIMESTAMP" | "TIMESTAMP WITHOUT TIME ZONE" => SqlType::Timestamp,
        "TIMESTAMPTZ" | "TIMESTAMP WITH TIME ZONE" => SqlType::TimestampTz,
        "TIME" | "TIME WITHOUT TIME ZONE" => SqlType::Time,
        "UUID" => SqlType::Uuid,
        "JSON" => SqlType::Json,
        "JSONB" => SqlType::Jsonb,
        "VARCHAR" | "CHARACTER VARYING" | "VARYING CHARACTER" | "NVARCHAR" => {
            SqlType::Varchar(first)
        }
        "CHAR" | "CHARACTER" | "NCHAR" | "NATIVE CHARACTER" => SqlType::Char(first),
        "TEXT" | "CLOB" | "" => SqlType::Text,
        _ => return affinity(&base),
    };
    Some(named)
}

/// SQLite's affinity rules (datatype3.html, 3.1), in their order.
fn affinity(base: &str) -> Option<SqlType> {
    Some(if base.contains("INT") {
        SqlType::BigInt
    } else if ["CHAR", "CLOB", "TEXT"].iter().any(|s| base.contains(s)) {
        SqlType::Text
    } else if base.contains("BLOB") {
        return None;
    } else if ["REAL", "FLOA", "DOUB"].iter().any(|s| base.contains(s)) {
        SqlType::Double
    } else {
        SqlType::Numeric {
            precision: None,
            scale: None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_by_name_then_by_affinity() {
        let numeric = |p, s| SqlType::Numeric {
            precision: p,
            scale: s,
        };
        for (declared, want) in [
            ("integer", Some(SqlType::BigInt)),
            ("INT", Some(SqlType::BigInt)),
            ("unsigned big int", Some(SqlType::BigInt)),
            ("SMALLINT", Some(SqlType::SmallInt)),
            ("INT4", Some(SqlType::Integer)),
            ("real", Some(SqlType::Double)),
            ("DOUBLE PRECISION", Some(SqlType::Double)),
            ("FLOAT4", Some(SqlType::Real)),
            ("NUMERIC(12, 2)", Some(numeric(Some(12), Some(2)))),
            ("decimal(10)", Some(numeric(Some(10), Some(0)))),
            ("NUMERIC", Some(numeric(None, None))),
            ("STRING", Some(numeric(None, None))),
            ("boolean", Some(SqlType::Boolean)),
            ("DATETIME", Some(SqlType::Timestamp)),
            ("timestamp with time zone", Some(SqlType::TimestampTz)),
            ("VARCHAR(40)", Some(SqlType::Varchar(Some(40)))),
            ("character  varying (5)", Some(SqlType::Varchar(Some(5)))),
            ("NCHAR(2)", Some(SqlType::Char(Some(2)))),
            ("CLOB", Some(SqlType::Text)),
            ("", Some(SqlType::Text)),
            ("uuid", Some(SqlType::Uuid)),
            ("JSONB", Some(SqlType::Jsonb)),
            ("BLOB", None),
        ] {
            assert_eq!(sql_type(declared), want, "{declared:?}");
        }
    }
}
