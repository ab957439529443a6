//! Column types as a schema file spells them (PostgreSQL's names, any
//! case), with "did you mean" for a near miss.

use super::super::SqlType;
use crate::record::edit_distance;

/// Names a type as a schema file may write it (PostgreSQL's spellings,
/// any case): `bigint`, `int8`, `numeric(12,2)`, `varchar(40)`,
/// `double precision`, `timestamp with time zone`, `timestamptz`, …
pub fn parse_type(text: &str) -> Result<SqlType, String> {
    parse_type_for(text, "")
}

/// [`parse_type`], its messages saying what the type is `of` (` for
/// column qty`) right after the type's text.
pub(super) fn parse_type_for(text: &str, of: &str) -> Result<SqlType, String> {
    let spaced = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = spaced.to_lowercase();
    let (base, args) = match lower.split_once('(') {
        Some((base, rest)) => {
            let Some(args) = rest.strip_suffix(')') else {
                return Err(format!("unknown type {text:?}{of}: a ( without its )"));
            };
            (base.trim_end(), Some(args))
        }
        None => (lower.as_str(), None),
    };
    let args: Option<Vec<u32>> = match args {
        None => None,
        Some(a) => Some(
            a.split(',')
                .map(|n| n.trim().parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| {
                    format!("type {text:?}{of}: the numbers in ( ) must be whole numbers")
                })?,
        ),
    };
    let plain = |ty: SqlType| match &args {
        None => Ok(ty),
        Some(_) => Err(format!("type {text:?}{of}: {base} takes no ( ) arguments")),
    };
    match base {
        "smallint" | "int2" => plain(SqlType::SmallInt),
        "integer" | "int" | "int4" => plain(SqlType::Integer),
        "bigint" | "int8" => plain(SqlType::BigInt),
        "real" | "float4" => plain(SqlType::Real),
        "double precision" | "double" | "float8" | "float" => plain(SqlType::Double),
        "boolean" | "bool" => plain(SqlType::Boolean),
        "date" => plain(SqlType::Date),
        "timestamp" | "timestamp without time zone" => plain(SqlType::Timestamp),
        "timestamptz" | "timestamp with time zone" => plain(SqlType::TimestampTz),
        "time" | "time without time zone" => plain(SqlType::Time),
        "uuid" => plain(SqlType::Uuid),
        "json" => plain(SqlType::Json),
        "jsonb" => plain(SqlType::Jsonb),
        "text" => plain(SqlType::Text),
        "numeric" | "decimal" => {
            let (precision, scale) = match args.as_deref() {
                None => (None, None),
                Some([p]) => (Some(*p), Some(0)),
                Some([p, s]) => (Some(*p), Some(*s)),
                Some(_) => {
                    return Err(format!(
                        "type {text:?}{of}: numeric takes (precision, scale)"
                    ))
                }
            };
            if let Some(p) = precision {
                if !(1..=1000).contains(&p) {
                    return Err(format!(
                        "type {text:?}{of}: the precision must be between 1 and 1000"
                    ));
                }
                if scale.is_some_and(|s| s > p) {
                    return Err(format!(
                        "type {text:?}{of}: the scale must be between 0 and the precision {p}"
                    ));
                }
            }
            // Both at most 1000: they fit u16.
            Ok(SqlType::Numeric {
                precision: precision.map(|p| p as u16),
                scale: scale.map(|s| s as u16),
            })
        }
        "varchar" | "character varying" | "char" | "character" => {
            let n = match args.as_deref() {
                None => None,
                Some([n]) if (1..=10_485_760).contains(n) => Some(*n),
                Some([_]) => {
                    return Err(format!(
                        "type {text:?}{of}: the length must be between 1 and 10485760"
                    ))
                }
                Some(_) => return Err(format!("type {text:?}{of}: {base} takes one length")),
            };
            Ok(if base == "char" || base == "character" {
                SqlType::Char(n)
            } else {
                SqlType::Varchar(n)
            })
        }
        _ => Err(match closest(base, TYPE_NAMES) {
            Some(name) => format!("unknown type {text:?}{of} (did you mean {name}?)"),
            None => format!(
                "unknown type {text:?}{of}; types are {}",
                TYPE_NAMES.join(", ")
            ),
        }),
    }
}

/// The type names suggested by "did you mean".
const TYPE_NAMES: &[&str] = &[
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
    "text",
    "varchar",
    "char",
];

/// The candidate at most two edits from `word` (one for words of up to
/// four letters), nearest first.
pub(super) fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let allowed = if word.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .filter(|(d, _)| *d <= allowed)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
