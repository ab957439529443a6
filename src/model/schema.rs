//! The runtime table schema: what a target table looks like — its columns
//! in order, each with its SQL type, nullability, whether the database
//! fills it (default, identity, serial), header aliases and value rules —
//! and its keys. It is carried from the job through header mapping,
//! validation, the batcher and every sink. It comes from one of three
//! places: introspection of an existing table (`--table`), inference from
//! the file (`--create`), or a declaration (`--schema FILE.toml`, and the
//! built-in `businesses` preset, [`TableSchema::businesses`]).

use std::fmt;
use std::sync::LazyLock;

use super::Value;

/// A column type sheetpipe can convert cells into and write.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SqlType {
    /// 16-bit integer (`smallint`, `int2`).
    SmallInt,
    /// 32-bit integer (`integer`, `int4`).
    Integer,
    /// 64-bit integer (`bigint`, `int8`).
    BigInt,
    /// Exact decimal, `numeric(precision, scale)`; `None` = unconstrained.
    Numeric {
        /// Total significant digits allowed.
        precision: Option<u16>,
        /// Digits after the decimal point.
        scale: Option<u16>,
    },
    /// 32-bit float (`real`, `float4`).
    Real,
    /// 64-bit float (`double precision`, `float8`).
    Double,
    /// `boolean`.
    Boolean,
    /// Calendar date.
    Date,
    /// Date and time without a zone.
    Timestamp,
    /// Date and time with a zone (stored as UTC).
    TimestampTz,
    /// Time of day without a zone.
    Time,
    /// `uuid`.
    Uuid,
    /// `json` (validated, stored as text).
    Json,
    /// `jsonb` (validated).
    Jsonb,
    /// Unbounded text.
    Text,
    /// `varchar(n)` / `character varying(n)`: at most n characters.
    Varchar(Option<u32>),
    /// `char(n)` / `character(n)`: at most n characters (padded by the
    /// database).
    Char(Option<u32>),
}

impl SqlType {
    /// The most characters a text type holds, if bounded.
    pub fn max_chars(&self) -> Option<u32> {
        match self {
            SqlType::Varchar(n) | SqlType::Char(n) => *n,
            _ => None,
        }
    }

    /// True for the text types (text, varchar, char).
    pub fn is_text(&self) -> bool {
        matches!(self, SqlType::Text | SqlType::Varchar(_) | SqlType::Char(_))
    }

    /// The PostgreSQL spelling, as used in DDL and in messages:
    /// `integer`, `numeric(12,2)`, `varchar(40)`, `timestamptz`.
    pub fn postgres_name(&self) -> String {
        match self {
            SqlType::SmallInt => "smallint".into(),
            SqlType::Integer => "integer".into(),
            SqlType::BigInt => "bigint".into(),
            SqlType::Numeric {
                precision: Some(p),
                scale: Some(s),
            } => format!("numeric({p},{s})"),
            SqlType::Numeric {
                precision: Some(p),
                scale: None,
            } => format!("numeric({p})"),
            SqlType::Numeric { .. } => "numeric".into(),
            SqlType::Real => "real".into(),
            SqlType::Double => "double precision".into(),
            SqlType::Boolean => "boolean".into(),
            SqlType::Date => "date".into(),
            SqlType::Timestamp => "timestamp".into(),
            SqlType::TimestampTz => "timestamptz".into(),
            SqlType::Time => "time".into(),
            SqlType::Uuid => "uuid".into(),
            SqlType::Json => "json".into(),
            SqlType::Jsonb => "jsonb".into(),
            SqlType::Text => "text".into(),
            SqlType::Varchar(Some(n)) => format!("varchar({n})"),
            SqlType::Varchar(None) => "varchar".into(),
            SqlType::Char(Some(n)) => format!("char({n})"),
            SqlType::Char(None) => "char".into(),
        }
    }
}

impl fmt::Display for SqlType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.postgres_name())
    }
}

/// A check on a column's values beyond its type (declared in a schema
/// file, or part of a preset).
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// The cell may not be empty (also implied by NOT NULL without a
    /// default).
    Required,
    /// No two rows of the file may hold the same value.
    Unique,
    /// The value (number or date, compared in the column's type) is at
    /// least this.
    Min(String),
    /// The value is at most this.
    Max(String),
    /// At least this many characters.
    MinLength(usize),
    /// At most this many characters.
    MaxLength(usize),
    /// The text matches this regular expression (whole value).
    Regex(String),
    /// The text is one of these (exactly, after trimming).
    OneOf(Vec<String>),
    /// A plausible e-mail address.
    Email,
    /// A web address; stored normalized (`https://` added when missing).
    Url,
    /// The column's type was inferred from the first this many data rows
    /// (`--create --infer-rows N`): a later value must survive the type
    /// unchanged as inference judges it (`01234` is not an integer: the
    /// zero would be lost), or its row is rejected naming the cell. Set by
    /// `--create` for the import that made the table; never read from a
    /// schema file nor stored in the database.
    InferredFrom(u64),
}

/// One column of a target table.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name in the database, exactly (no quoting).
    pub name: String,
    /// Its type.
    pub sql_type: SqlType,
    /// Whether it accepts NULL.
    pub nullable: bool,
    /// Whether the database fills it when omitted (a default, identity,
    /// serial or generated column): such a column may be absent from the
    /// file.
    pub has_default: bool,
    /// The constant a declared schema gives as the column's default
    /// (`default = 0` in a schema file), already a value of its type: the
    /// DDL writes it. `None` with `has_default` means the database's own
    /// way of filling the column (identity, time of insert), or a default
    /// introspection does not read back.
    pub default_value: Option<Value>,
    /// Other header texts that mean this column (matched normalized).
    pub aliases: Vec<String>,
    /// Checks beyond the type.
    pub rules: Vec<Rule>,
}

impl Column {
    /// A nullable column without default, aliases or rules.
    pub fn new(name: impl Into<String>, sql_type: SqlType) -> Column {
        Column {
            name: name.into(),
            sql_type,
            nullable: true,
            has_default: false,
            default_value: None,
            aliases: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// True when a row must give this column a value: NOT NULL without a
    /// default, or a `required` rule.
    pub fn required(&self) -> bool {
        (!self.nullable && !self.has_default) || self.rules.contains(&Rule::Required)
    }

    /// `qty integer`: the column as messages name it.
    pub fn describe(&self) -> String {
        format!("{} {}", self.name, self.sql_type)
    }
}

/// A target table: name, columns in order, keys.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// The table's name (PostgreSQL: optionally `schema.table`), exactly.
    pub name: String,
    /// Columns in table order.
    pub columns: Vec<Column>,
    /// Primary key columns, in key order (empty when none).
    pub primary_key: Vec<String>,
    /// Unique constraints (and unique indexes), each its columns.
    pub unique: Vec<Vec<String>>,
}

impl TableSchema {
    /// The index of the column named `name` (exact match).
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The tutorial's `businesses` table as a file fills it: the nine text
    /// fields (name required, at most 500 characters; email and website
    /// checked). Its id, created_at, updated_at and deleted_at columns are
    /// the database's (`sink::schema` creates them) and are never matched
    /// to a header, as in the tutorial. The default target, so the
    /// tutorial's contract holds unchanged. Declared in
    /// `src/model/businesses.toml` (the `--schema` format, docs/SCHEMA.md),
    /// shipped in the binary and parsed once.
    pub fn businesses() -> TableSchema {
        BUSINESSES_PRESET.clone()
    }

    /// True for the built-in `businesses` preset (the sinks create its
    /// table and indexes when missing).
    pub fn is_businesses_preset(&self) -> bool {
        *self == *BUSINESSES_PRESET
    }
}

/// What the rows of one import are written into: the table and the
/// columns the file fills, in the order of every [`Record`]'s values
/// (columns the file does not map are left to the database's default or
/// NULL).
///
/// [`Record`]: super::Record
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The table's name, exactly.
    pub table: String,
    /// The written columns, in value order.
    pub columns: Vec<Column>,
}

/// The preset table's name.
pub const BUSINESSES: &str = "businesses";

/// The `businesses` preset, parsed once from the file shipped in the
/// binary (a test parses it too, so a broken file fails the build's tests).
static BUSINESSES_PRESET: LazyLock<TableSchema> = LazyLock::new(|| {
    TableSchema::from_toml_str(include_str!("businesses.toml"), "businesses.toml")
        .expect("the businesses preset (src/model/businesses.toml) is a valid schema")
});

#[cfg(test)]
mod tests {
    use super::*;

    /// The preset as it was written in code before it became a TOML file.
    fn businesses_as_it_was() -> TableSchema {
        let text = |name: &str, aliases: &[&str], rules: Vec<Rule>| Column {
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
            rules,
            ..Column::new(name, SqlType::Text)
        };
        TableSchema {
            name: "businesses".into(),
            columns: vec![
                Column {
                    nullable: false,
                    ..text(
                        "name",
                        &["business name", "company", "company name"],
                        vec![Rule::MaxLength(500)],
                    )
                },
                text("category", &["type", "industry"], vec![]),
                text(
                    "phone",
                    &["phone number", "tel", "telephone", "mobile"],
                    vec![],
                ),
                text(
                    "email",
                    &["e-mail", "email address", "e-mail address", "mail"],
                    vec![Rule::Email],
                ),
                text(
                    "address",
                    &["street", "street address", "address line 1"],
                    vec![],
                ),
                text("city", &["town"], vec![]),
                text("country", &["nation", "country code"], vec![]),
                text(
                    "website",
                    &["web", "url", "site", "homepage", "web site"],
                    vec![Rule::Url],
                ),
                text("description", &["notes", "about", "details"], vec![]),
            ],
            primary_key: Vec::new(),
            unique: Vec::new(),
        }
    }

    #[test]
    fn the_businesses_preset_from_its_toml_file_is_the_one_written_in_code() {
        assert_eq!(TableSchema::businesses(), businesses_as_it_was());
    }

    #[test]
    fn the_businesses_preset_requires_only_name() {
        let t = TableSchema::businesses();
        let required: Vec<&str> = t
            .columns
            .iter()
            .filter(|c| c.required())
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(required, ["name"]);
        assert!(t.is_businesses_preset());
    }

    #[test]
    fn types_are_named_as_postgres_spells_them() {
        let n = SqlType::Numeric {
            precision: Some(12),
            scale: Some(2),
        };
        assert_eq!(n.to_string(), "numeric(12,2)");
        assert_eq!(SqlType::Varchar(Some(40)).to_string(), "varchar(40)");
        let c = Column::new("qty", SqlType::Integer);
        assert_eq!(c.describe(), "qty integer");
    }
}
