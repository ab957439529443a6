//! A PostgreSQL table's [`TableSchema`] from the catalog: columns in
//! attnum order with their types (domains resolved to their base type),
//! nullability and defaults, the primary key and the unique constraints
//! and indexes. Used by `--table NAME` and `GET /tables`.
//!
//! What is left out of `columns`, because no import may write it: dropped
//! columns, generated columns (`GENERATED ALWAYS AS (…) STORED`) and
//! `GENERATED ALWAYS AS IDENTITY` columns (the database always fills
//! them; `BY DEFAULT` identities and serials are kept with `has_default`).
//! The key lists still name such columns: they describe the table.
//!
//! An enum column is `text` with a `OneOf` rule of its labels (binary COPY
//! sends an enum's label as text). Every other type outside
//! [`SqlType`] — arrays, composites, ranges, bytea, interval, money,
//! inet, numeric with a negative scale, … — makes the table
//! [`IntrospectError::Unsupported`], naming every such column.

use tokio_postgres::Client;

use crate::model::{Column, Rule, SqlType, TableSchema};
use crate::sink::introspect::{is_internal_table, IntrospectError};
use crate::sink::DbError;

/// Relations rows can be copied into: tables, partitioned tables, foreign
/// tables.
const COPYABLE_KINDS: &str = "'r', 'p', 'f'";

/// The schema of table `name`: `schema.table`, or a table found through
/// `search_path`. The name is matched exactly first, then as PostgreSQL
/// reads an unquoted name (folded to lower case); a name containing `"` is
/// read as SQL (`"My Table"`).
pub async fn table_schema(client: &Client, name: &str) -> Result<TableSchema, IntrospectError> {
    let Some((oid, resolved)) = resolve(client, name).await? else {
        return Err(IntrospectError::NotFound {
            table: name.to_string(),
            existing: table_names(client).await?,
        });
    };
    schema_of(client, oid, resolved).await
}

/// Every importable table visible through `search_path` (sheetpipe's own
/// tables excepted), by name; a table with columns of unsupported types is
/// an `Err(Unsupported)` entry naming them, so a listing can show why it
/// cannot be chosen.
pub async fn list_tables(
    client: &Client,
) -> Result<Vec<Result<TableSchema, IntrospectError>>, DbError> {
    let mut out = Vec::new();
    for (oid, name) in visible_tables(client).await? {
        match schema_of(client, oid, name).await {
            Err(IntrospectError::Db(e)) => return Err(e),
            other => out.push(other),
        }
    }
    Ok(out)
}

fn db(e: tokio_postgres::Error) -> DbError {
    DbError::new(match e.as_db_error() {
        Some(d) => d.message().to_string(),
        None => e.to_string(),
    })
}

/// The table's oid and the name to write it by (qualified when asked so).
async fn resolve(client: &Client, name: &str) -> Result<Option<(u32, String)>, DbError> {
    let mut candidates = Vec::new();
    if !name.contains('"') {
        candidates.push(super::super::ddl::quote_table_postgres(name));
    }
    candidates.push(name.to_string());
    let sql = format!(
        "SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.oid = to_regclass($1) AND c.relkind IN ({COPYABLE_KINDS})"
    );
    for candidate in candidates {
        // to_regclass refuses malformed names with an error: not found.
        let Ok(rows) = client.query(&sql, &[&candidate]).await else {
            continue;
        };
        if let Some(r) = rows.first() {
            let (schema, table): (String, String) = (r.get(1), r.get(2));
            let qualified = name.contains('.');
            let resolved = if qualified {
                format!("{schema}.{table}")
            } else {
                table
            };
            return Ok(Some((r.get(0), resolved)));
        }
    }
    Ok(None)
}

/// User tables visible through `search_path`, not partitions, not ours.
async fn visible_tables(client: &Client) -> Result<Vec<(u32, String)>, DbError> {
    let sql = format!(
        "SELECT c.oid, c.relname::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind IN ({COPYABLE_KINDS}) AND NOT c.relispartition \
           AND pg_table_is_visible(c.oid) \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
         ORDER BY c.relname"
    );
    let rows = client.query(&sql, &[]).await.map_err(db)?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, u32>(0), r.get::<_, String>(1)))
        .filter(|(_, n)| !is_internal_table(n))
        .collect())
}

async fn table_names(client: &Client) -> Result<Vec<String>, DbError> {
    Ok(visible_tables(client)
        .await?
        .into_iter()
        .map(|(_, n)| n)
        .collect())
}

/// Columns with their domains followed down to the base type: per column
/// the base type's name, namespace, kind and typmod, whether a domain on
/// the way adds NOT NULL or a default, identity and generation.
const COLUMNS_SQL: &str = "
WITH RECURSIVE chain(attnum, typid, typmod, dom_notnull, dom_default) AS (
    SELECT a.attnum, a.atttypid, a.atttypmod, false, false
    FROM pg_attribute a
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT c.attnum, t.typbasetype, t.typtypmod,
           c.dom_notnull OR t.typnotnull, c.dom_default OR t.typdefault IS NOT NULL
    FROM chain c JOIN pg_type t ON t.oid = c.typid
    WHERE t.typtype = 'd'
)
SELECT a.attname::text,
       a.attnotnull OR ch.dom_notnull,
       a.atthasdef OR a.attidentity <> '' OR ch.dom_default,
       a.attidentity::text,
       a.attgenerated::text,
       bt.typname::text,
       bt.typnamespace = 'pg_catalog'::regnamespace,
       bt.typtype::text,
       bt.typcategory::text,
       ch.typmod,
       bt.oid,
       format_type(a.atttypid, a.atttypmod)
FROM chain ch
JOIN pg_attribute a ON a.attrelid = $1 AND a.attnum = ch.attnum
JOIN pg_type bt ON bt.oid = ch.typid AND bt.typtype <> 'd'
ORDER BY a.attnum";

/// Primary key and unique indexes (hence unique constraints), key columns
/// in order, oldest first; partial and expression indexes are no
/// uniqueness of columns and are left out.
const KEYS_SQL: &str = "
SELECT i.indisprimary,
       ARRAY(SELECT a.attname::text
             FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             WHERE k.ord <= i.indnkeyatts
             ORDER BY k.ord)
FROM pg_index i
WHERE i.indrelid = $1 AND (i.indisprimary OR i.indisunique)
  AND i.indpred IS NULL AND i.indexprs IS NULL
ORDER BY i.indexrelid";

async fn schema_of(
    client: &Client,
    oid: u32,
    name: String,
) -> Result<TableSchema, IntrospectError> {
    let rows = client.query(COLUMNS_SQL, &[&oid]).await.map_err(db)?;
    let mut columns = Vec::new();
    let mut unsupported = Vec::new();
    for r in &rows {
        let (identity, generated): (String, String) = (r.get(3), r.get(4));
        if !generated.is_empty() || identity == "a" {
            continue;
        }
        let column_name: String = r.get(0);
        let base = BaseType {
            name: r.get(5),
            in_catalog: r.get(6),
            kind: r.get(7),
            category: r.get(8),
            typmod: r.get(9),
        };
        let mut rules = Vec::new();
        let sql_type = if base.kind == "e" {
            rules.push(Rule::OneOf(enum_labels(client, r.get(10)).await?));
            Some(SqlType::Text)
        } else {
            base.sql_type()
        };
        let Some(sql_type) = sql_type else {
            unsupported.push((column_name, r.get::<_, String>(11)));
            continue;
        };
        columns.push(Column {
            nullable: !r.get::<_, bool>(1),
            has_default: r.get(2),
            rules,
            ..Column::new(column_name, sql_type)
        });
    }
    if !unsupported.is_empty() {
        return Err(IntrospectError::Unsupported {
            table: name,
            columns: unsupported,
        });
    }
    let (primary_key, unique) = keys(client, oid).await?;
    Ok(TableSchema {
        name,
        columns,
        primary_key,
        unique,
    })
}

async fn keys(client: &Client, oid: u32) -> Result<(Vec<String>, Vec<Vec<String>>), DbError> {
    let mut primary_key = Vec::new();
    let mut unique = Vec::new();
    for r in client.query(KEYS_SQL, &[&oid]).await.map_err(db)? {
        let cols: Vec<String> = r.get(1);
        if r.get(0) {
            primary_key = cols;
        } else {
            unique.push(cols);
        }
    }
    Ok((primary_key, unique))
}

async fn enum_labels(client: &Client, type_oid: u32) -> Result<Vec<String>, DbError> {
    let rows = client
        .query(
            "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1 ORDER BY enumsortorder",
            &[&type_oid],
        )
        .await
        .map_err(db)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A column's base type as the catalog describes it.
struct BaseType {
    name: String,
    in_catalog: bool,
    kind: String,
    category: String,
    typmod: i32,
}

/// PostgreSQL's VARHDRSZ, by which character and numeric typmods are offset.
const VARHDRSZ: i32 = 4;

impl BaseType {
    /// The [`SqlType`] of a built-in base type, `None` when unsupported.
    fn sql_type(&self) -> Option<SqlType> {
        if !self.in_catalog || self.kind != "b" || self.category == "A" {
            return None;
        }
        let length = (self.typmod >= VARHDRSZ).then(|| (self.typmod - VARHDRSZ) as u32);
        Some(match self.name.as_str() {
            "int2" => SqlType::SmallInt,
            "int4" => SqlType::Integer,
            "int8" => SqlType::BigInt,
            "float4" => SqlType::Real,
            "float8" => SqlType::Double,
            "numeric" => self.numeric()?,
            "bool" => SqlType::Boolean,
            "date" => SqlType::Date,
            "timestamp" => SqlType::Timestamp,
            "timestamptz" => SqlType::TimestampTz,
            "time" => SqlType::Time,
            "uuid" => SqlType::Uuid,
            "json" => SqlType::Json,
            "jsonb" => SqlType::Jsonb,
            "text" => SqlType::Text,
            "varchar" => SqlType::Varchar(length),
            "bpchar" => SqlType::Char(length),
            _ => return None,
        })
    }

    /// `numeric(p,s)` from the typmod; a negative scale is unsupported.
    fn numeric(&self) -> Option<SqlType> {
        if self.typmod < VARHDRSZ {
            return Some(SqlType::Numeric {
                precision: None,
                scale: None,
            });
        }
        let m = self.typmod - VARHDRSZ;
        let precision = (m >> 16) & 0xffff;
        let scale = ((m & 0x7ff) ^ 1024) - 1024;
        Some(SqlType::Numeric {
            precision: Some(u16::try_from(precision).ok()?),
            scale: Some(u16::try_from(scale).ok()?),
        })
    }
}
