//! What undo needs to know of a MySQL table (from `information_schema`)
//! and the SQL it writes from it: the JSON array that saves values exactly
//! (binary columns as hex, text as text), the hash of a row, and the
//! conditions that find a row by its saved locator.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use crate::sink::ddl::quote_ident_mysql;
use crate::sink::DbError;

/// One column.
#[derive(Debug, Clone)]
pub(crate) struct ColInfo {
    pub name: String,
    /// `int`, `varchar`, `datetime`, … (lower case).
    pub data_type: String,
    /// `int(11) unsigned`, …
    pub column_type: String,
    pub nullable: bool,
    /// A generated column (never written).
    pub generated: bool,
    pub precision: Option<u64>,
    pub scale: Option<u64>,
    /// Fraction digits of a `DATETIME`, `TIMESTAMP` or `TIME`.
    pub datetime_precision: Option<u64>,
    /// The character set of a text column (`utf8mb4`, …).
    pub charset: Option<String>,
}

/// A table's columns and unique keys.
#[derive(Debug, Clone)]
pub(crate) struct TableInfo {
    pub name: String,
    pub columns: Vec<ColInfo>,
    /// The primary key first, then every unique index, each its columns.
    pub uniques: Vec<Vec<String>>,
    /// The AUTO_INCREMENT column.
    pub autoinc: Option<String>,
}

fn err(e: mysql_async::Error) -> DbError {
    DbError::new(format!(
        "undo: reading the table's columns: {}",
        super::super::fatal(e).message
    ))
}

impl TableInfo {
    /// Reads `table` (`db.table` or a table of the connection's database).
    pub async fn read(conn: &mut Conn, table: &str) -> Result<TableInfo, DbError> {
        let (schema, name) = match table.split_once('.') {
            Some((s, n)) => (Some(s), n),
            None => (None, table),
        };
        type Col = (
            String,
            String,
            String,
            String,
            String,
            Option<u64>,
            Option<u64>,
            Option<u64>,
            Option<String>,
        );
        let cols: Vec<Col> = conn
            .exec(
                "SELECT column_name, LOWER(data_type), LOWER(column_type), is_nullable, \
                 LOWER(extra), numeric_precision, numeric_scale, datetime_precision, \
                 LOWER(character_set_name) FROM information_schema.columns \
                 WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? \
                 ORDER BY ordinal_position",
                (schema, name),
            )
            .await
            .map_err(err)?;
        let keys: Vec<(String, String)> = conn
            .exec(
                "SELECT index_name, column_name FROM information_schema.statistics \
                 WHERE table_schema = COALESCE(?, DATABASE()) AND table_name = ? \
                 AND non_unique = 0 ORDER BY index_name <> 'PRIMARY', index_name, seq_in_index",
                (schema, name),
            )
            .await
            .map_err(err)?;
        let mut uniques: Vec<(String, Vec<String>)> = Vec::new();
        for (index, column) in keys {
            match uniques.last_mut() {
                Some((i, cols)) if *i == index => cols.push(column),
                _ => uniques.push((index, vec![column])),
            }
        }
        let autoinc = cols
            .iter()
            .find(|c| c.4.contains("auto_increment"))
            .map(|c| c.0.clone());
        Ok(TableInfo {
            name: table.to_string(),
            columns: cols
                .into_iter()
                .map(|c| ColInfo {
                    name: c.0,
                    data_type: c.1,
                    column_type: c.2,
                    nullable: c.3.eq_ignore_ascii_case("yes"),
                    generated: c.4.contains("generated"),
                    precision: c.5,
                    scale: c.6,
                    datetime_precision: c.7,
                    charset: c.8,
                })
                .collect(),
            uniques: uniques.into_iter().map(|(_, c)| c).collect(),
            autoinc,
        })
    }

    fn column(&self, name: &str) -> Option<&ColInfo> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Whether `cols` are exactly a unique key's.
    pub fn is_unique(&self, cols: &[String]) -> bool {
        self.uniques
            .iter()
            .any(|u| u.len() == cols.len() && u.iter().all(|c| cols.contains(c)))
    }

    /// The unique keys whose columns are all NOT NULL (they find one row).
    pub fn not_null_uniques(&self) -> impl Iterator<Item = &Vec<String>> {
        self.uniques.iter().filter(|u| {
            u.iter()
                .all(|c| self.column(c).is_some_and(|c| !c.nullable))
        })
    }

    /// Every column a row stores (not generated ones), in table order.
    pub fn stored_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| !c.generated)
            .map(|c| c.name.clone())
            .collect()
    }

    fn binary(&self, name: &str) -> bool {
        self.column(name).is_some_and(|c| {
            c.data_type.contains("binary") || c.data_type.contains("blob") || c.data_type == "bit"
        })
    }

    fn texty(&self, name: &str) -> bool {
        self.column(name).is_some_and(|c| {
            c.data_type.contains("char")
                || c.data_type.contains("text")
                || matches!(c.data_type.as_str(), "json" | "enum" | "set")
        })
    }

    /// One column's value as it is saved: binary as hex, text (and JSON)
    /// as its exact text, the rest as `JSON_ARRAY` writes it (numbers
    /// exactly, doubles in their shortest exact form, dates as text).
    pub fn saved(&self, name: &str, prefix: &str) -> String {
        let col = format!("{prefix}{}", quote_ident_mysql(name));
        if self.binary(name) {
            format!("HEX({col})")
        } else if self.texty(name) {
            format!("CAST({col} AS CHAR)")
        } else {
            col
        }
    }

    /// `JSON_ARRAY(…)` of `cols` as saved.
    pub fn json(&self, cols: &[String], prefix: &str) -> String {
        let parts: Vec<String> = cols.iter().map(|c| self.saved(c, prefix)).collect();
        format!("JSON_ARRAY({})", parts.join(", "))
    }

    /// The 16-byte MD5 of `cols` as saved: the hash of the per-row `w`
    /// entries.
    pub fn hash(&self, cols: &[String], prefix: &str) -> String {
        format!("UNHEX(MD5({}))", self.json(cols, prefix))
    }

    /// The digest (32 lower-case hex digits: the first 128 bits of a
    /// SHA-1) of `cols` as stored: the hash of the packed `W` entries,
    /// about 40% less of the server's work than [`TableInfo::hash`],
    /// whose `JSON_ARRAY` dominates (and MariaDB's SHA1 takes less than its
    /// MD5). Hashed is one `CONCAT_WS` with a 0x1F between its parts: the
    /// byte length of each text and binary column, then every value, then
    /// one NULL flag per column (`CONCAT_WS` skips NULLs). The separator
    /// is a binary string, so the whole is taken as bytes (no collation
    /// can clash); numbers, dates and times cannot hold a 0x1F, and the
    /// lengths say where each text ends, so no value can reach into the
    /// next one: two rows hash alike only if their values are the same.
    pub fn digest(&self, cols: &[String], prefix: &str) -> String {
        let col = |c: &String| format!("{prefix}{}", quote_ident_mysql(c));
        let mut parts: Vec<String> = cols
            .iter()
            .filter(|c| self.binary(c) || self.texty(c))
            .map(|c| format!("LENGTH({})", col(c)))
            .collect();
        parts.extend(cols.iter().map(col));
        let nulls: Vec<String> = cols.iter().map(|c| format!("ISNULL({})", col(c))).collect();
        parts.push(format!("CONCAT({})", nulls.join(", ")));
        format!("LEFT(SHA1(CONCAT_WS(0x1f, {})), 32)", parts.join(", "))
    }

    /// The stored value of element `i` of the JSON array `from`, for column
    /// `name` (JSON null is NULL; hex turned back into bytes).
    pub fn restored(&self, name: &str, from: &str, i: usize) -> String {
        let item = format!("JSON_EXTRACT({from}, '$[{i}]')");
        let value = format!("IF(JSON_TYPE({item}) = 'NULL', NULL, JSON_UNQUOTE({item}))");
        if self.binary(name) {
            format!("UNHEX({value})")
        } else {
            value
        }
    }

    /// Whether `name` is an integer column (compared as its values).
    pub fn integer(&self, name: &str) -> bool {
        self.column(name).is_some_and(|c| {
            matches!(
                c.data_type.as_str(),
                "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint"
            )
        })
    }

    /// `col = ?` for a locator's value given as its saved text, converted
    /// to the column's type on the parameter's side (so the index is used
    /// and integers compare exactly).
    pub fn matches(&self, name: &str) -> String {
        let col = format!("t.{}", quote_ident_mysql(name));
        let Some(c) = self.column(name) else {
            return format!("{col} = ?");
        };
        let unsigned = c.column_type.contains("unsigned");
        let value = match c.data_type.as_str() {
            "tinyint" | "smallint" | "mediumint" | "int" | "integer" | "bigint" | "year" => {
                format!(
                    "CAST(? AS {})",
                    if unsigned { "UNSIGNED" } else { "SIGNED" }
                )
            }
            "decimal" | "numeric" => format!(
                "CAST(? AS DECIMAL({}, {}))",
                c.precision.unwrap_or(65),
                c.scale.unwrap_or(0)
            ),
            "date" => "CAST(? AS DATE)".into(),
            "datetime" | "timestamp" => "CAST(? AS DATETIME(6))".into(),
            "time" => "CAST(? AS TIME(6))".into(),
            "float" | "double" | "real" => "CAST(? AS DOUBLE)".into(),
            _ if self.binary(name) => "UNHEX(?)".into(),
            _ => "?".into(),
        };
        format!("{col} = {value}")
    }
}
