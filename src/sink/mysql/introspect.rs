//! A MySQL/MariaDB table as a [`TableSchema`], from `information_schema`:
//! columns in order (generated columns left out: they cannot be written),
//! `COLUMN_TYPE` → [`SqlType`], nullability, a default or `auto_increment`
//! as `has_default`, the primary key and unique indexes. `tinyint(1)` is a
//! boolean; BLOB, BINARY, ENUM, SET, BIT, YEAR and spatial types are
//! refused ([`IntrospectError::Unsupported`]), every such column named.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::fatal;
use crate::model::{Column, SqlType, TableSchema};
use crate::sink::introspect::{is_internal_table, IntrospectError};
use crate::sink::DbError;

/// The MySQL spelling of a type; `introspect` reads it back as `ty`.
pub fn type_name(ty: &SqlType) -> String {
    match ty {
        SqlType::SmallInt => "SMALLINT".into(),
        SqlType::Integer => "INT".into(),
        SqlType::BigInt => "BIGINT".into(),
        SqlType::Numeric { precision, scale } => {
            // MySQL has no unconstrained DECIMAL: its widest is (65,30).
            format!(
                "DECIMAL({},{})",
                precision.unwrap_or(65),
                scale.unwrap_or(30)
            )
        }
        SqlType::Real => "FLOAT".into(),
        SqlType::Double => "DOUBLE".into(),
        SqlType::Boolean => "TINYINT(1)".into(),
        SqlType::Date => "DATE".into(),
        SqlType::Timestamp => "DATETIME(6)".into(),
        SqlType::TimestampTz => "TIMESTAMP(6)".into(),
        SqlType::Time => "TIME(6)".into(),
        SqlType::Uuid => "CHAR(36)".into(),
        SqlType::Json | SqlType::Jsonb => "JSON".into(),
        SqlType::Text => "LONGTEXT".into(),
        SqlType::Varchar(n) => format!("VARCHAR({})", n.unwrap_or(16_383)),
        SqlType::Char(n) => format!("CHAR({})", n.unwrap_or(1)),
    }
}

/// The [`SqlType`] of a column from `DATA_TYPE` and `COLUMN_TYPE`.
/// MariaDB's JSON is LONGTEXT with a JSON_VALID check: `is_json` says so.
pub fn sql_type(data_type: &str, column_type: &str, is_json: bool) -> Option<SqlType> {
    let ct = column_type.to_ascii_lowercase();
    let arg = |i: usize| -> Option<u32> {
        let inner = ct.split_once('(')?.1.split_once(')')?.0;
        inner.split(',').nth(i)?.trim().parse().ok()
    };
    Some(match data_type.to_ascii_lowercase().as_str() {
        "tinyint" if ct.starts_with("tinyint(1)") => SqlType::Boolean,
        "tinyint" | "smallint" => SqlType::SmallInt,
        "mediumint" | "int" | "integer" => SqlType::Integer,
        "bigint" => SqlType::BigInt,
        "decimal" | "numeric" => SqlType::Numeric {
            precision: arg(0).map(|p| p as u16),
            scale: arg(1).map(|s| s as u16),
        },
        "float" => SqlType::Real,
        "double" | "real" => SqlType::Double,
        "date" => SqlType::Date,
        "datetime" => SqlType::Timestamp,
        "timestamp" => SqlType::TimestampTz,
        "time" => SqlType::Time,
        "json" => SqlType::Json,
        "longtext" if is_json => SqlType::Json,
        "char" if arg(0) == Some(36) => SqlType::Uuid,
        "char" => SqlType::Char(arg(0)),
        "varchar" => SqlType::Varchar(arg(0)),
        "tinytext" | "text" | "mediumtext" | "longtext" => SqlType::Text,
        _ => return None,
    })
}

type ColumnRow = (String, String, String, String, Option<String>, String);

/// The CHECK clauses of table `name`, in lower case: MariaDB's JSON column
/// is LONGTEXT with a `json_valid(`col`)` check. Read once per table:
/// asked per column inside the columns query, the server took about 50 ms
/// a table. MySQL 8's `check_constraints` has no `table_name` (its JSON is a
/// type of its own, so it needs none): that error reads as no checks.
async fn json_checks(conn: &mut Conn, name: &str) -> Result<Vec<String>, IntrospectError> {
    let asked: Result<Vec<String>, _> = conn
        .exec(
            "SELECT check_clause FROM information_schema.check_constraints \
             WHERE constraint_schema = DATABASE() AND table_name = ?",
            (name,),
        )
        .await;
    match asked {
        Ok(clauses) => Ok(clauses.into_iter().map(|c| c.to_lowercase()).collect()),
        // ER_BAD_FIELD_ERROR: no `table_name` column (MySQL 8).
        Err(mysql_async::Error::Server(e)) if e.code == 1054 => Ok(Vec::new()),
        Err(e) => Err(IntrospectError::Db(fatal(e))),
    }
}

/// Whether one of `checks` (lower case) is `json_valid(`col`)`.
fn is_json_checked(checks: &[String], col: &str) -> bool {
    let wanted = format!("json_valid(`{}`)", col.to_lowercase());
    checks.iter().any(|c| c.contains(&wanted))
}

/// The table `name` of the connection's database.
pub async fn table_schema(conn: &mut Conn, name: &str) -> Result<TableSchema, IntrospectError> {
    let cols: Vec<ColumnRow> = conn
        .exec(
            "SELECT column_name, data_type, column_type, is_nullable, column_default, extra \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
             AND table_name = ? ORDER BY ordinal_position",
            (name,),
        )
        .await
        .map_err(|e| IntrospectError::Db(fatal(e)))?;
    if cols.is_empty() {
        return Err(IntrospectError::NotFound {
            table: name.to_string(),
            existing: table_names(conn).await?,
        });
    }
    let checks = json_checks(conn, name).await?;
    let (mut columns, mut unsupported) = (Vec::new(), Vec::new());
    for (col, data_type, column_type, nullable, default, extra) in cols {
        let json = is_json_checked(&checks, &col);
        let extra = extra.to_ascii_lowercase();
        if extra.contains("generated") && !extra.contains("default_generated") {
            continue;
        }
        match sql_type(&data_type, &column_type, json) {
            Some(ty) => columns.push(Column {
                nullable: nullable == "YES",
                has_default: extra.contains("auto_increment")
                    || default.as_deref().is_some_and(|d| d != "NULL"),
                ..Column::new(col, ty)
            }),
            None => unsupported.push((col, column_type)),
        }
    }
    if !unsupported.is_empty() {
        return Err(IntrospectError::Unsupported {
            table: name.to_string(),
            columns: unsupported,
        });
    }
    let (primary_key, unique) = keys(conn, name).await?;
    Ok(TableSchema {
        name: name.to_string(),
        columns,
        primary_key,
        unique,
    })
}

/// The primary key and the unique indexes, each its columns in order.
async fn keys(conn: &mut Conn, name: &str) -> Result<(Vec<String>, Vec<Vec<String>>), DbError> {
    let rows: Vec<(String, String)> = conn
        .exec(
            "SELECT index_name, column_name FROM information_schema.statistics \
             WHERE table_schema = DATABASE() AND table_name = ? AND non_unique = 0 \
             ORDER BY index_name = 'PRIMARY' DESC, index_name, seq_in_index",
            (name,),
        )
        .await
        .map_err(fatal)?;
    let (mut pk, mut unique): (Vec<String>, Vec<(String, Vec<String>)>) = (vec![], vec![]);
    for (index, column) in rows {
        if index == "PRIMARY" {
            pk.push(column);
        } else if let Some((_, cols)) = unique.iter_mut().find(|(i, _)| *i == index) {
            cols.push(column);
        } else {
            unique.push((index, vec![column]));
        }
    }
    Ok((pk, unique.into_iter().map(|(_, c)| c).collect()))
}

async fn table_names(conn: &mut Conn) -> Result<Vec<String>, DbError> {
    let names: Vec<String> = conn
        .query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_type = 'BASE TABLE' ORDER BY table_name",
        )
        .await
        .map_err(fatal)?;
    Ok(names
        .into_iter()
        .filter(|n| !is_internal_table(n))
        .collect())
}

/// Every table but sheetpipe's own, by name; a table with unsupported
/// columns is an `Err(Unsupported)` entry naming them.
pub async fn list_tables(
    conn: &mut Conn,
) -> Result<Vec<Result<TableSchema, IntrospectError>>, DbError> {
    let mut out = Vec::new();
    for name in table_names(conn).await? {
        match table_schema(conn, &name).await {
            Err(IntrospectError::Db(e)) => return Err(e),
            other => out.push(other),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_check_names_its_own_column_in_any_case() {
        let checks = vec!["json_valid(`meta`)".to_string(), "`n` > 0".to_string()];
        assert!(is_json_checked(&checks, "meta"));
        assert!(is_json_checked(&checks, "META"));
        assert!(!is_json_checked(&checks, "met"));
        assert!(!is_json_checked(&checks, "n"));
        let other = vec!["json_valid(`meta2`)".to_string()];
        assert!(!is_json_checked(&other, "meta"));
    }
}
