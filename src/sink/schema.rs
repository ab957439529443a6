//! The tutorial's `businesses` table, per backend: id, the nine text
//! columns (name NOT NULL), created_at, updated_at, deleted_at (soft
//! delete), and indexes on name, category, email, city, country and
//! deleted_at — named as GORM names them, so the tutorial's own code can
//! share the table. Timestamps default to the time of insert.
//!
//! And the SQL every writer builds for any target table: quoted names,
//! column lists, placeholders.

use crate::model::{SqlType, Target};

/// PostgreSQL DDL, idempotent.
pub const POSTGRES: &str = "
CREATE TABLE IF NOT EXISTS businesses (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL,
    category    TEXT,
    phone       TEXT,
    email       TEXT,
    address     TEXT,
    city        TEXT,
    country     TEXT,
    website     TEXT,
    description TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    deleted_at  TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS idx_businesses_name ON businesses (name);
CREATE INDEX IF NOT EXISTS idx_businesses_category ON businesses (category);
CREATE INDEX IF NOT EXISTS idx_businesses_email ON businesses (email);
CREATE INDEX IF NOT EXISTS idx_businesses_city ON businesses (city);
CREATE INDEX IF NOT EXISTS idx_businesses_country ON businesses (country);
CREATE INDEX IF NOT EXISTS idx_businesses_deleted_at ON businesses (deleted_at);
";

/// SQLite DDL, idempotent.
pub const SQLITE: &str = "
CREATE TABLE IF NOT EXISTS businesses (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL,
    category    TEXT,
    phone       TEXT,
    email       TEXT,
    address     TEXT,
    city        TEXT,
    country     TEXT,
    website     TEXT,
    description TEXT,
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deleted_at  TEXT
);
CREATE INDEX IF NOT EXISTS idx_businesses_name ON businesses (name);
CREATE INDEX IF NOT EXISTS idx_businesses_category ON businesses (category);
CREATE INDEX IF NOT EXISTS idx_businesses_email ON businesses (email);
CREATE INDEX IF NOT EXISTS idx_businesses_city ON businesses (city);
CREATE INDEX IF NOT EXISTS idx_businesses_country ON businesses (country);
CREATE INDEX IF NOT EXISTS idx_businesses_deleted_at ON businesses (deleted_at);
";

pub use super::ddl::{quote_ident, quote_table_postgres as quote_table};

/// `"a", "b"`: the target's column list.
pub fn column_list(target: &Target) -> String {
    let names: Vec<String> = target
        .columns
        .iter()
        .map(|c| quote_ident(&c.name))
        .collect();
    names.join(", ")
}

/// The placeholder for one value of a column. PostgreSQL parameters are
/// sent as text and cast to the column's base type (`$3::integer`;
/// without its modifier, so a `varchar(n)` is never silently cut by an
/// explicit cast — the assignment checks the length); SQLite binds typed
/// values directly.
fn placeholder(sql: &mut String, n: usize, ty: &SqlType, numbered: bool) {
    if !numbered {
        sql.push('?');
        return;
    }
    sql.push('$');
    sql.push_str(&n.to_string());
    if !ty.is_text() {
        sql.push_str("::");
        sql.push_str(base_type(ty));
    }
}

/// The PostgreSQL type without modifiers, for casts.
pub(crate) fn base_type(ty: &SqlType) -> &'static str {
    match ty {
        SqlType::SmallInt => "smallint",
        SqlType::Integer => "integer",
        SqlType::BigInt => "bigint",
        SqlType::Numeric { .. } => "numeric",
        SqlType::Real => "real",
        SqlType::Double => "double precision",
        SqlType::Boolean => "boolean",
        SqlType::Date => "date",
        SqlType::Timestamp => "timestamp",
        SqlType::TimestampTz => "timestamptz",
        SqlType::Time => "time",
        SqlType::Uuid => "uuid",
        SqlType::Json => "json",
        SqlType::Jsonb => "jsonb",
        SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_) => "text",
    }
}

/// `($1, …, $n), ($n+1, …)` placeholders for `rows` rows (PostgreSQL), or
/// `(?, …), (…)` when `numbered` is false (SQLite).
pub fn values_placeholders(target: &Target, rows: usize, numbered: bool) -> String {
    let width = target.columns.len();
    let mut sql = String::with_capacity(rows * (width * 6 + 4));
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for (c, column) in target.columns.iter().enumerate() {
            if c > 0 {
                sql.push_str(", ");
            }
            placeholder(&mut sql, r * width + c + 1, &column.sql_type, numbered);
        }
        sql.push(')');
    }
    sql
}

/// `INSERT INTO "t" (…) VALUES …` for `rows` rows.
pub fn insert_sql(target: &Target, rows: usize, numbered: bool) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES {}",
        quote_table(&target.table),
        column_list(target),
        values_placeholders(target, rows, numbered)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, TableSchema};

    fn businesses() -> Target {
        Target {
            table: "businesses".into(),
            columns: TableSchema::businesses().columns,
        }
    }

    #[test]
    fn placeholders_number_every_value_of_every_row() {
        assert_eq!(
            values_placeholders(&businesses(), 2, true),
            "($1, $2, $3, $4, $5, $6, $7, $8, $9), ($10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        assert!(insert_sql(&businesses(), 1, false).ends_with("VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    }

    #[test]
    fn typed_parameters_are_cast_from_text_without_their_modifier() {
        let t = Target {
            table: "sales.Orders".into(),
            columns: vec![
                Column::new("qty", SqlType::Integer),
                Column::new("code", SqlType::Varchar(Some(3))),
                Column::new(
                    "Amount \"EUR\"",
                    SqlType::Numeric {
                        precision: Some(12),
                        scale: Some(2),
                    },
                ),
            ],
        };
        assert_eq!(
            insert_sql(&t, 1, true),
            "INSERT INTO \"sales\".\"Orders\" (\"qty\", \"code\", \"Amount \"\"EUR\"\"\") VALUES ($1::integer, $2, $3::numeric)"
        );
    }
}
