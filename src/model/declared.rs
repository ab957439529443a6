//! Declared tables: a [`TableSchema`] written by hand in a TOML file
//! (`--schema FILE.toml`; the built-in `businesses` preset is one, see
//! `businesses.toml`). The format is documented in docs/SCHEMA.md:
//!
//! ```toml
//! table = "orders"
//!
//! [[columns]]
//! name = "order_id"
//! type = "bigint"
//! primary_key = true
//!
//! [[columns]]
//! name = "qty"
//! type = "integer"
//! nullable = false
//! min = 1
//! aliases = ["quantity"]
//! ```
//!
//! Every mistake is an error naming the file, the line and the key:
//! `orders.toml:7: unknown type "integr" for column qty (did you mean
//! integer?)`. Rules are checked here as they will be applied (a bound is
//! read in the column's type, a regex is compiled), so a schema that loads
//! is one every row can be checked against.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::{Cell, Column, Rule, SqlType, TableSchema};
use crate::record::rules::ColumnRules;
use crate::record::{convert, ConvertOptions};

mod types;
pub use types::parse_type;
use types::{closest, parse_type_for};

/// Keys of one TOML table, each with its value, both with their place in
/// the text.
type Entries = BTreeMap<Spanned<String>, Spanned<toml::Value>>;

/// The `[[columns]]` array, read apart from the other top-level keys so
/// that each column's keys keep their places.
#[derive(Deserialize)]
struct ColumnTables {
    #[serde(default)]
    columns: Option<Spanned<Vec<Spanned<Entries>>>>,
}

/// Top-level keys of a schema file.
const TOP_KEYS: &[&str] = &["table", "primary_key", "unique", "columns"];

/// Keys of a column that describe the column in the database.
const COLUMN_KEYS: &[&str] = &[
    "name",
    "type",
    "nullable",
    "default",
    "identity",
    "primary_key",
    "unique",
    "aliases",
];

/// Keys of a column that are rules on its values.
const RULE_KEYS: &[&str] = &[
    "required",
    "unique_in_file",
    "min",
    "max",
    "min_length",
    "max_length",
    "regex",
    "one_of",
    "email",
    "url",
];

/// Reads the schema file at `path` ([`TableSchema::from_toml_str`], its
/// file name in messages).
pub fn load_schema_file(path: &Path) -> Result<TableSchema, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the schema file {}: {e}", path.display()))?;
    let origin = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string());
    TableSchema::from_toml_str(&text, &origin)
}

impl TableSchema {
    /// The table a schema file declares (docs/SCHEMA.md). `origin` names
    /// the file in messages: `orders.toml:7: unknown type "integr" for
    /// column qty (did you mean integer?)`.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<TableSchema, String> {
        Parser { text, origin }.schema()
    }
}

/// One parse: the text (for line numbers) and its name.
struct Parser<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Parser<'_> {
    /// `orders.toml:7: why` for the byte range `span`.
    fn at(&self, span: Range<usize>, why: impl std::fmt::Display) -> String {
        let line = self.text[..span.start.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1;
        format!("{}:{line}: {why}", self.origin)
    }

    /// A TOML syntax or shape error, with its line when the parser gave one.
    fn toml_error(&self, e: toml::de::Error) -> String {
        let why = e.message().trim_end().to_string();
        match e.span() {
            Some(span) => self.at(span, why),
            None => format!("{}: {why}", self.origin),
        }
    }

    fn schema(&self) -> Result<TableSchema, String> {
        let top: Entries = toml::from_str(self.text).map_err(|e| self.toml_error(e))?;
        let tables: ColumnTables = toml::from_str(self.text).map_err(|e| self.toml_error(e))?;
        let mut name = None;
        let (mut primary_key, mut unique) = (None, Vec::new());
        for (key, value) in in_file_order(&top) {
            match key.get_ref().as_str() {
                "table" => name = Some(self.name(value, "table")?),
                "primary_key" => primary_key = Some((self.names(value, "primary_key")?, value)),
                "unique" => {
                    let Some(keys) = value.get_ref().as_array() else {
                        return Err(self.at(value.span(), "unique must be a list of column lists, as in unique = [[\"customer\", \"day\"]]"));
                    };
                    for k in keys {
                        let cols = k.as_array().filter(|a| !a.is_empty()).and_then(|a| {
                            a.iter()
                                .map(|c| c.as_str().map(str::to_string))
                                .collect::<Option<Vec<_>>>()
                        });
                        match cols {
                            Some(cols) => unique.push((cols, value.span())),
                            None => return Err(self.at(value.span(), "unique must be a list of column lists, as in unique = [[\"customer\", \"day\"]]")),
                        }
                    }
                }
                "columns" => {}
                other => return Err(self.at(key.span(), unknown("key", other, TOP_KEYS))),
            }
        }
        let Some(name) = name else {
            return Err(format!(
                "{}: no table name: add table = \"NAME\" at the top",
                self.origin
            ));
        };
        let Some(columns) = tables.columns.filter(|c| !c.get_ref().is_empty()) else {
            return Err(format!(
                "{}: table {name} declares no columns: add a [[columns]] table for each",
                self.origin
            ));
        };
        let mut table = TableSchema {
            name,
            columns: Vec::new(),
            primary_key: Vec::new(),
            unique: Vec::new(),
        };
        let mut column_keys = Vec::new();
        for (i, entries) in columns.get_ref().iter().enumerate() {
            let declared = self.column(i + 1, entries)?;
            if table.column_index(&declared.column.name).is_some() {
                return Err(self.at(
                    declared.name_span,
                    format!("column {} is declared twice", declared.column.name),
                ));
            }
            if declared.primary_key {
                column_keys.push((declared.column.name.clone(), declared.name_span.clone()));
            }
            if declared.unique {
                table.unique.push(vec![declared.column.name.clone()]);
            }
            table.columns.push(declared.column);
        }
        match (primary_key, column_keys.is_empty()) {
            (Some((_, value)), false) => {
                return Err(self.at(
                    value.span(),
                    "the primary key is given twice: either primary_key = [...] at the top or primary_key = true on columns",
                ))
            }
            (Some((cols, value)), true) => {
                for c in &cols {
                    let Some(i) = table.column_index(c) else {
                        return Err(self.at(value.span(), not_a_column(&table, c, "primary_key")));
                    };
                    // A primary key is NOT NULL, as the database makes it.
                    table.columns[i].nullable = false;
                }
                table.primary_key = cols;
            }
            (None, _) => table.primary_key = column_keys.into_iter().map(|(c, _)| c).collect(),
        }
        for (cols, span) in unique {
            if let Some(c) = cols.iter().find(|c| table.column_index(c).is_none()) {
                return Err(self.at(span, not_a_column(&table, c, "unique")));
            }
            table.unique.push(cols);
        }
        Ok(table)
    }

    /// One `[[columns]]` table (the `n`th).
    fn column(&self, n: usize, entries: &Spanned<Entries>) -> Result<Declared, String> {
        let map = entries.get_ref();
        let find = |k: &str| map.iter().find(|(key, _)| key.get_ref() == k);
        let Some((name_key, name_value)) = find("name") else {
            return Err(self.at(
                entries.span(),
                format!("column {n} has no name: add name = \"...\""),
            ));
        };
        let name = self.name(name_value, "name")?;
        let Some((_, type_value)) = find("type") else {
            return Err(self.at(
                name_key.span(),
                format!("column {name} has no type: add type = \"text\" (or integer, numeric(12,2), date, …)"),
            ));
        };
        let Some(type_text) = type_value.get_ref().as_str() else {
            return Err(self.at(
                type_value.span(),
                format!("type of column {name} must be text, as in type = \"integer\""),
            ));
        };
        let sql_type = parse_type_for(type_text, &format!(" for column {name}"))
            .map_err(|why| self.at(type_value.span(), why))?;
        let mut d = Declared {
            column: Column::new(name.clone(), sql_type),
            name_span: name_key.span(),
            primary_key: false,
            unique: false,
        };
        let mut nullable = None;
        let mut default = None;
        let mut identity = None;
        for (key, value) in in_file_order(map) {
            let k = key.get_ref().as_str();
            let flag = || self.flag(value, k, &name);
            let rule = match k {
                "name" | "type" => continue,
                "nullable" => {
                    nullable = Some((flag()?, value.span()));
                    continue;
                }
                "identity" => {
                    identity = Some((flag()?, value.span()));
                    continue;
                }
                "default" => {
                    default = Some(value);
                    continue;
                }
                "primary_key" => {
                    d.primary_key = flag()?;
                    if !d.primary_key {
                        continue;
                    }
                    Rule::Unique
                }
                "unique" => {
                    d.unique = flag()?;
                    if !d.unique {
                        continue;
                    }
                    Rule::Unique
                }
                "aliases" => {
                    d.column.aliases = self.names(value, &format!("aliases of column {name}"))?;
                    continue;
                }
                "required" | "unique_in_file" | "email" | "url" => {
                    if !flag()? {
                        continue;
                    }
                    match k {
                        "required" => Rule::Required,
                        "unique_in_file" => Rule::Unique,
                        "email" => Rule::Email,
                        _ => Rule::Url,
                    }
                }
                "min" => Rule::Min(self.scalar(value, k, &name)?),
                "max" => Rule::Max(self.scalar(value, k, &name)?),
                "min_length" => Rule::MinLength(self.count(value, k, &name)?),
                "max_length" => Rule::MaxLength(self.count(value, k, &name)?),
                "regex" => match value.get_ref().as_str() {
                    Some(re) => Rule::Regex(re.to_string()),
                    None => {
                        return Err(
                            self.at(value.span(), format!("regex of column {name} must be text"))
                        )
                    }
                },
                "one_of" => {
                    let options = value
                        .get_ref()
                        .as_array()
                        .filter(|a| !a.is_empty())
                        .and_then(|a| a.iter().map(scalar_text).collect::<Option<Vec<_>>>());
                    match options {
                        Some(o) => Rule::OneOf(o),
                        None => {
                            return Err(self.at(
                                value.span(),
                                format!("one_of of column {name} must be a list of values, as in one_of = [\"new\", \"paid\"]"),
                            ))
                        }
                    }
                }
                other => {
                    let mut keys = COLUMN_KEYS.to_vec();
                    keys.extend(RULE_KEYS);
                    let what = format!("rule or setting {other:?} for column {name}");
                    return Err(self.at(key.span(), unknown_named(&what, other, &keys)));
                }
            };
            // Unique (from primary_key, unique or unique_in_file) once.
            if rule == Rule::Unique && d.column.rules.contains(&Rule::Unique) {
                continue;
            }
            // The rule must apply to the column's type: check it as every
            // row will be checked.
            let probe = Column {
                rules: vec![rule.clone()],
                ..d.column.clone()
            };
            ColumnRules::new(&probe).map_err(|why| self.at(value.span(), why))?;
            d.column.rules.push(rule);
        }
        let ty = d.column.sql_type.clone();
        if let Some((true, span)) = &identity {
            if !matches!(ty, SqlType::SmallInt | SqlType::Integer | SqlType::BigInt) {
                return Err(self.at(
                    span.clone(),
                    format!("identity is for integer columns; {} is {ty}", name),
                ));
            }
            if default.is_some() {
                return Err(self.at(
                    span.clone(),
                    format!("column {name} has both identity and a default: keep one"),
                ));
            }
            d.column.has_default = true;
        }
        if let Some(value) = default {
            let now = value.get_ref().as_str() == Some("now")
                && matches!(
                    ty,
                    SqlType::Date | SqlType::Timestamp | SqlType::TimestampTz | SqlType::Time
                );
            if !now {
                d.column.default_value = Some(self.default(value, &d.column)?);
            }
            d.column.has_default = true;
        }
        // Identity and primary key columns are NOT NULL, as the database
        // makes them; saying otherwise is a mistake.
        let implied_not_null = identity.as_ref().is_some_and(|(on, _)| *on) || d.primary_key;
        match nullable {
            Some((true, span)) if implied_not_null => {
                let what = if d.primary_key {
                    "a primary key"
                } else {
                    "an identity"
                };
                return Err(self.at(
                    span,
                    format!("column {name} is {what} and cannot be nullable"),
                ));
            }
            Some((n, _)) => d.column.nullable = n && !implied_not_null,
            None => d.column.nullable = !implied_not_null,
        }
        Ok(d)
    }

    /// A non-empty text value.
    fn name(&self, value: &Spanned<toml::Value>, key: &str) -> Result<String, String> {
        match value.get_ref().as_str().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s.to_string()),
            _ => Err(self.at(
                value.span(),
                format!("{key} must be a non-empty text, as in {key} = \"orders\""),
            )),
        }
    }

    /// A list of texts.
    fn names(&self, value: &Spanned<toml::Value>, what: &str) -> Result<Vec<String>, String> {
        value
            .get_ref()
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| {
                self.at(
                    value.span(),
                    format!("{what} must be a list of texts, as in [\"a\", \"b\"]"),
                )
            })
    }

    /// `true` or `false`.
    fn flag(&self, value: &Spanned<toml::Value>, key: &str, column: &str) -> Result<bool, String> {
        value.get_ref().as_bool().ok_or_else(|| {
            self.at(
                value.span(),
                format!(
                    "{key} of column {column} must be true or false, not {}",
                    value.get_ref()
                ),
            )
        })
    }

    /// A number, text, boolean or date, as text.
    fn scalar(
        &self,
        value: &Spanned<toml::Value>,
        key: &str,
        column: &str,
    ) -> Result<String, String> {
        scalar_text(value.get_ref()).ok_or_else(|| {
            self.at(
                value.span(),
                format!("{key} of column {column} must be a single value"),
            )
        })
    }

    /// A count of characters.
    fn count(
        &self,
        value: &Spanned<toml::Value>,
        key: &str,
        column: &str,
    ) -> Result<usize, String> {
        value
            .get_ref()
            .as_integer()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                self.at(
                    value.span(),
                    format!(
                        "{key} of column {column} must be a whole number of characters, 0 or more"
                    ),
                )
            })
    }

    /// A default, read as a cell of its kind would be for the column's
    /// type (so `default = 1.5` on an integer column is refused).
    fn default(
        &self,
        value: &Spanned<toml::Value>,
        column: &Column,
    ) -> Result<super::Value, String> {
        let cell = match value.get_ref() {
            toml::Value::String(s) => Cell::Text(s.clone()),
            toml::Value::Integer(i) => Cell::Int(*i),
            toml::Value::Float(f) => Cell::Float(*f),
            toml::Value::Boolean(b) => Cell::Bool(*b),
            toml::Value::Datetime(d) => Cell::Text(d.to_string()),
            _ => {
                return Err(self.at(
                    value.span(),
                    format!("default of column {} must be a single value", column.name),
                ))
            }
        };
        match convert(&cell, &column.sql_type, &ConvertOptions::default()) {
            Ok(super::Value::Null) => Err(self.at(
                value.span(),
                format!(
                    "default of column {} is empty: leave it out for no default",
                    column.name
                ),
            )),
            Ok(v) => Ok(v),
            Err(why) => Err(self.at(
                value.span(),
                format!("default for {}: {why}", column.describe()),
            )),
        }
    }
}

/// What one `[[columns]]` table declares.
struct Declared {
    column: Column,
    name_span: Range<usize>,
    primary_key: bool,
    unique: bool,
}

/// A table's entries in the order the file writes them.
fn in_file_order(map: &Entries) -> Vec<(&Spanned<String>, &Spanned<toml::Value>)> {
    let mut entries: Vec<_> = map.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

/// A single TOML value as text (numbers as written, dates in ISO 8601).
fn scalar_text(value: &toml::Value) -> Option<String> {
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        _ => return None,
    })
}

fn unknown(what: &str, key: &str, keys: &[&str]) -> String {
    unknown_named(&format!("{what} {key:?}"), key, keys)
}

fn unknown_named(what: &str, key: &str, keys: &[&str]) -> String {
    match closest(key, keys) {
        Some(k) => format!("unknown {what} (did you mean {k}?)"),
        None => format!("unknown {what}; known: {}", keys.join(", ")),
    }
}

fn not_a_column(table: &TableSchema, name: &str, key: &str) -> String {
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    format!(
        "{key} names {name:?}, which is not a column of {}; columns are {}",
        table.name,
        names.join(", ")
    )
}

#[cfg(test)]
mod tests;
