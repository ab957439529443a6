//! Re-import modes (docs/MODES.md): how rows whose key already exists are
//! treated. `append` (the default) inserts every row; `upsert` updates the
//! rows whose key exists (only the columns the file maps) and inserts the
//! rest; `skip-existing` leaves them alone and counts them as skipped;
//! `replace` makes the table's rows the file's, atomically (see
//! [`super::replace`]).
//!
//! The key is the one `--key` names, else the table's primary key when the
//! file maps all of its columns, else its one unique constraint the file
//! maps ([`resolve_key`]). The writers of an upsert or skip-existing import
//! build `INSERT … ON CONFLICT (key) …` statements from [`Merge`].

use std::sync::OnceLock;

use serde::Serialize;

use crate::model::{TableSchema, Target};

/// How an import treats rows whose key already exists.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Insert every row (the tutorial's behaviour).
    #[default]
    Append,
    /// Update rows whose key exists, insert the rest.
    Upsert,
    /// Insert rows whose key is new; leave the others alone (skipped).
    SkipExisting,
    /// Replace the table's rows by the file's, in one transaction.
    Replace,
}

impl Mode {
    /// `append`, `upsert`, `skip-existing` or `replace`.
    pub fn parse(word: &str) -> Result<Mode, String> {
        match word.trim() {
            "" | "append" => Ok(Mode::Append),
            "upsert" => Ok(Mode::Upsert),
            "skip-existing" => Ok(Mode::SkipExisting),
            "replace" => Ok(Mode::Replace),
            other => Err(format!(
                "unknown mode {other:?}: use append, upsert, skip-existing or replace"
            )),
        }
    }

    /// The mode as the CLI and the history spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Append => "append",
            Mode::Upsert => "upsert",
            Mode::SkipExisting => "skip-existing",
            Mode::Replace => "replace",
        }
    }

    /// True for the modes that write `INSERT … ON CONFLICT (key)`.
    pub fn merges(self) -> bool {
        matches!(self, Mode::Upsert | Mode::SkipExisting)
    }
}

/// The same key twice in one file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Duplicates {
    /// Reject the later rows, naming the row that had the key first.
    #[default]
    Reject,
    /// Apply the rows in file order: the last one wins (upsert); for
    /// skip-existing the later ones are skipped.
    Last,
}

impl Duplicates {
    /// `reject` or `last`.
    pub fn parse(word: &str) -> Result<Duplicates, String> {
        match word.trim() {
            "" | "reject" => Ok(Duplicates::Reject),
            "last" => Ok(Duplicates::Last),
            other => Err(format!(
                "unknown --duplicates {other:?}: use reject or last"
            )),
        }
    }
}

/// What an empty cell does to an existing row in an upsert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmptyCells {
    /// The column becomes NULL: the row becomes what the file says (the
    /// default, the same row a fresh import would store).
    #[default]
    Null,
    /// The stored value is kept.
    Keep,
}

impl EmptyCells {
    /// `null` or `keep`.
    pub fn parse(word: &str) -> Result<EmptyCells, String> {
        match word.trim() {
            "" | "null" => Ok(EmptyCells::Null),
            "keep" => Ok(EmptyCells::Keep),
            other => Err(format!("unknown --empty-cells {other:?}: use null or keep")),
        }
    }
}

/// The mode words of one import (`--mode`, `--key`, `--duplicates`,
/// `--empty-cells`; HTTP `mode=`, `key=`, `duplicates=`, `empty_cells=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModeOptions {
    /// How existing rows are treated.
    pub mode: Mode,
    /// The key columns asked for (`None`: the default key).
    pub key: Option<Vec<String>>,
    /// The same key twice in the file.
    pub duplicates: Duplicates,
    /// Empty cells in an upsert.
    pub empty_cells: EmptyCells,
}

impl ModeOptions {
    /// The options of the CLI's and the service's words.
    pub fn from_words(
        mode: Option<&str>,
        key: Option<&str>,
        duplicates: Option<&str>,
        empty_cells: Option<&str>,
    ) -> Result<ModeOptions, String> {
        let key = match key.map(str::trim) {
            None | Some("") => None,
            Some(k) => Some(k.split(',').map(|c| c.trim().to_string()).collect()),
        };
        let opts = ModeOptions {
            mode: Mode::parse(mode.unwrap_or_default())?,
            key,
            duplicates: Duplicates::parse(duplicates.unwrap_or_default())?,
            empty_cells: EmptyCells::parse(empty_cells.unwrap_or_default())?,
        };
        if opts.mode == Mode::Replace && opts.duplicates == Duplicates::Last {
            return Err(
                "--duplicates last does not apply to --mode replace: the table holds each key once"
                    .into(),
            );
        }
        if opts.mode == Mode::Append && opts.key.is_some() {
            return Err("--key applies to --mode upsert, skip-existing or replace".into());
        }
        Ok(opts)
    }

    /// Whether the writers must apply units in file order (one writer):
    /// when the same key may come twice, the later row must come last.
    pub fn in_file_order(&self) -> bool {
        self.mode.merges() && self.duplicates == Duplicates::Last
    }
}

/// What the writers of an upsert or skip-existing import share.
#[derive(Debug, Default)]
pub struct Merge {
    /// The mode (upsert or skip-existing).
    pub mode: Mode,
    /// The same key twice in a file.
    pub duplicates: Duplicates,
    /// Empty cells in an upsert.
    pub empty_cells: EmptyCells,
    /// The key columns, settled by the reader once it has the header
    /// (before any unit reaches a writer).
    pub key: OnceLock<Vec<String>>,
}

impl Merge {
    /// The shared state for `opts`.
    pub fn new(opts: &ModeOptions) -> Merge {
        Merge {
            mode: opts.mode,
            duplicates: opts.duplicates,
            empty_cells: opts.empty_cells,
            key: OnceLock::new(),
        }
    }

    /// The settled key (empty before the header is known).
    pub fn key(&self) -> &[String] {
        self.key.get().map(Vec::as_slice).unwrap_or_default()
    }

    /// The indexes in `target` of the key columns.
    pub fn key_slots(&self, target: &Target) -> Vec<usize> {
        self.key()
            .iter()
            .filter_map(|k| target.columns.iter().position(|c| &c.name == k))
            .collect()
    }

    /// Indexes of the rows of `keys` to write when the last of equal keys
    /// wins (a multi-row `ON CONFLICT DO UPDATE` may not touch a row twice),
    /// in order; the others are superseded.
    pub fn last_of_each<K: std::hash::Hash + Eq>(keys: impl Iterator<Item = K>) -> Vec<usize> {
        let keys: Vec<K> = keys.collect();
        let mut last = std::collections::HashMap::with_capacity(keys.len());
        for (i, k) in keys.iter().enumerate() {
            last.insert(k, i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        keep
    }
}

/// `"a", "b"` quoted for SQL.
/// The statement that gives `table` a unique index on `cols`, as a hint
/// that runs on PostgreSQL, SQLite and MySQL alike: the index is named
/// (SQLite and MySQL need a name) and plain lower-case names are written
/// bare (MySQL reads double quotes as a string); a name that needs
/// quoting is shown in double quotes, which MySQL writes as backticks.
pub fn unique_index_hint(table: &str, cols: &[String]) -> String {
    let index: String = std::iter::once(table)
        .chain(cols.iter().map(String::as_str))
        .chain(std::iter::once("key"))
        .collect::<Vec<_>>()
        .join("_")
        .to_lowercase();
    let list: Vec<String> = cols.iter().map(|c| hint_ident(c)).collect();
    let statement = format!(
        "CREATE UNIQUE INDEX {} ON {} ({})",
        hint_ident(&index),
        hint_ident(table),
        list.join(", ")
    );
    if std::iter::once(table)
        .chain(cols.iter().map(String::as_str))
        .all(|n| hint_ident(n) == n)
    {
        statement
    } else {
        format!("{statement} (on MySQL with `backticks` for the double quotes)")
    }
}

/// A name as a hint writes it: bare when plain lower-case, else quoted.
fn hint_ident(n: &str) -> String {
    let plain = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        n.to_string()
    } else {
        super::ddl::quote_ident(n)
    }
}

fn quoted(cols: &[String]) -> String {
    let q: Vec<String> = cols.iter().map(|c| super::ddl::quote_ident(c)).collect();
    q.join(", ")
}

/// The `ON CONFLICT …` clause of a PostgreSQL upsert or skip-existing
/// INSERT (the table aliased `cur`), with the `RETURNING` that counts: the
/// upsert returns `xmax = 0` per row (true: inserted, false: updated), the
/// skip-existing `1` per inserted row.
pub fn pg_on_conflict(merge: &Merge, target: &Target) -> String {
    let key = quoted(merge.key());
    if merge.mode == Mode::SkipExisting {
        return format!(" ON CONFLICT ({key}) DO NOTHING RETURNING 1");
    }
    format!(
        " ON CONFLICT ({key}) DO UPDATE SET {} RETURNING (xmax = 0)",
        set_list(
            merge,
            target,
            super::ddl::quote_ident,
            |c| format!("EXCLUDED.{c}"),
            "cur."
        )
    )
}

/// `c = value(c), …` for the columns an upsert updates: every mapped
/// column but the key (the first key column when there is no other, so
/// that the row still counts as updated), each named by `quote`. `keep`
/// wraps the new value in `COALESCE(new, old)`.
pub(crate) fn set_list(
    merge: &Merge,
    target: &Target,
    quote: fn(&str) -> String,
    value: impl Fn(&str) -> String,
    old_prefix: &str,
) -> String {
    let key = merge.key();
    let mut cols: Vec<String> = target
        .columns
        .iter()
        .filter(|c| !key.contains(&c.name))
        .map(|c| quote(&c.name))
        .collect();
    if cols.is_empty() {
        cols.extend(key.first().map(|k| quote(k)));
    }
    let sets: Vec<String> = cols
        .iter()
        .map(|c| match merge.empty_cells {
            EmptyCells::Null => format!("{c} = {}", value(c)),
            EmptyCells::Keep => format!("{c} = COALESCE({}, {old_prefix}{c})", value(c)),
        })
        .collect();
    sets.join(", ")
}

/// SQLite: the INSERT of one row that does nothing when its key exists
/// (its `changes()` says whether it inserted).
pub fn sqlite_insert_new(merge: &Merge, target: &Target) -> String {
    format!(
        "{} ON CONFLICT ({}) DO NOTHING",
        super::schema::insert_sql(target, 1, false),
        quoted(merge.key())
    )
}

/// SQLite: the UPDATE of an upsert's existing row, its parameters the
/// row's values in target order (`?1` …). With `by_rowid` (the name the
/// table's rowid goes by) the row is named by its rowid, parameter `?n+1`
/// (the before-image's `SELECT` found it:
/// the table's own B-tree, no second search of the key's index); else the
/// key columns among the values name it.
pub fn sqlite_update(merge: &Merge, target: &Target, by_rowid: Option<&str>) -> String {
    let slot = |name: &str| {
        target
            .columns
            .iter()
            .position(|c| super::ddl::quote_ident(&c.name) == name || c.name == name)
            .map_or(0, |i| i + 1)
    };
    let sets = set_list(
        merge,
        target,
        super::ddl::quote_ident,
        |c| format!("?{}", slot(c)),
        "",
    );
    let wheres: Vec<String> = if let Some(rowid) = by_rowid {
        vec![format!("{rowid} = ?{}", target.columns.len() + 1)]
    } else {
        merge
            .key()
            .iter()
            .map(|k| format!("{} = ?{}", super::ddl::quote_ident(k), slot(k)))
            .collect()
    };
    format!(
        "UPDATE {} SET {sets} WHERE {}",
        super::schema::quote_table(&target.table),
        wheres.join(" AND ")
    )
}

/// The key of an import into `table`: the one asked for (each a column of
/// the table, together its primary key or a unique constraint), else the
/// primary key when `mapped` (the columns the file maps; `None` before the
/// header is known) has all its columns, else the one unique constraint
/// the file maps. `Ok(None)` only when `required` is false (replace needs
/// no key).
pub fn resolve_key(
    table: &TableSchema,
    asked: Option<&[String]>,
    mapped: Option<&[&str]>,
    required: bool,
) -> Result<Option<Vec<String>>, String> {
    let name = &table.name;
    let unmapped = |cols: &[String]| -> Option<String> {
        let mapped = mapped?;
        cols.iter().find(|c| !mapped.contains(&c.as_str())).cloned()
    };
    let same = |a: &[String], b: &[String]| a.len() == b.len() && a.iter().all(|c| b.contains(c));
    if let Some(asked) = asked {
        if let Some(bad) = asked.iter().find(|c| table.column_index(c).is_none()) {
            let cols: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
            return Err(format!(
                "--key {bad:?} names no column of table {name} (its columns: {})",
                cols.join(", ")
            ));
        }
        let unique = std::iter::once(&table.primary_key)
            .chain(&table.unique)
            .any(|u| same(u, asked));
        if !unique {
            return Err(format!(
                "--key ({}) is neither the primary key nor a unique constraint of table {name}: \
                 rows cannot be matched on it; add one with {}",
                asked.join(", "),
                unique_index_hint(name, asked)
            ));
        }
        if let Some(c) = unmapped(asked) {
            return Err(format!(
                "key column {c:?} of --key ({}) is not in the file: no header maps to it",
                asked.join(", ")
            ));
        }
        return Ok(Some(asked.to_vec()));
    }
    let Some(_) = mapped else {
        return Ok(None);
    };
    if !table.primary_key.is_empty() && unmapped(&table.primary_key).is_none() {
        return Ok(Some(table.primary_key.clone()));
    }
    let fits: Vec<&Vec<String>> = table
        .unique
        .iter()
        .filter(|u| !u.is_empty() && unmapped(u).is_none())
        .collect();
    match fits.as_slice() {
        [one] => Ok(Some((*one).clone())),
        [] if !required => Ok(None),
        [] => {
            let mut known = Vec::new();
            if !table.primary_key.is_empty() {
                known.push(format!("primary key ({})", table.primary_key.join(", ")));
            }
            for u in &table.unique {
                known.push(format!("unique ({})", u.join(", ")));
            }
            let known = if known.is_empty() {
                "it has no primary key or unique constraint".to_string()
            } else {
                format!(
                    "the file does not map every column of its {}",
                    known.join(", ")
                )
            };
            Err(format!(
                "no key to match rows of table {name} on: {known}; name the key with --key \
                 COL[,COL] (a unique index must exist: CREATE UNIQUE INDEX {0}_COL_key ON {0} (COL))",
                hint_ident(name)
            ))
        }
        several => {
            let names: Vec<String> = several
                .iter()
                .map(|u| format!("({})", u.join(", ")))
                .collect();
            Err(format!(
                "table {name} has several unique constraints the file maps ({}): choose one with --key",
                names.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Column, SqlType};

    fn table() -> TableSchema {
        TableSchema {
            name: "t".into(),
            columns: ["id", "code", "name"]
                .iter()
                .map(|n| Column::new(*n, SqlType::Text))
                .collect(),
            primary_key: vec!["id".into()],
            unique: vec![vec!["code".into()]],
        }
    }

    #[test]
    fn the_default_key_is_the_primary_key_then_the_one_unique_the_file_maps() {
        let t = table();
        let all = ["id", "code", "name"];
        assert_eq!(
            resolve_key(&t, None, Some(&all), true).unwrap(),
            Some(vec!["id".to_string()])
        );
        assert_eq!(
            resolve_key(&t, None, Some(&["code", "name"]), true).unwrap(),
            Some(vec!["code".to_string()])
        );
        let e = resolve_key(&t, None, Some(&["name"]), true).unwrap_err();
        assert!(
            e.contains("--key") && e.contains("CREATE UNIQUE INDEX"),
            "{e}"
        );
        assert_eq!(resolve_key(&t, None, Some(&["name"]), false).unwrap(), None);
    }

    #[test]
    fn the_index_hint_is_plain_sql_where_names_allow_and_quoted_where_they_need_it() {
        assert_eq!(
            unique_index_hint("items", &["sku".into(), "shop_id".into()]),
            "CREATE UNIQUE INDEX items_sku_shop_id_key ON items (sku, shop_id)"
        );
        assert_eq!(
            unique_index_hint("Orders", &["Order No".into()]),
            "CREATE UNIQUE INDEX \"orders_order no_key\" ON \"Orders\" (\"Order No\") \
             (on MySQL with `backticks` for the double quotes)"
        );
    }

    #[test]
    fn an_asked_key_must_be_columns_with_a_unique_index_the_file_maps() {
        let t = table();
        let key = |k: &str| vec![k.to_string()];
        let e = resolve_key(&t, Some(&key("nope")), None, true).unwrap_err();
        assert!(
            e.contains("names no column") && e.contains("id, code, name"),
            "{e}"
        );
        let e = resolve_key(&t, Some(&key("name")), None, true).unwrap_err();
        assert!(
            e.contains("CREATE UNIQUE INDEX t_name_key ON t (name)"),
            "{e}"
        );
        let e = resolve_key(&t, Some(&key("code")), Some(&["name"]), true).unwrap_err();
        assert!(e.contains("not in the file"), "{e}");
        assert_eq!(
            resolve_key(&t, Some(&key("code")), Some(&["code"]), true).unwrap(),
            Some(key("code"))
        );
    }

    #[test]
    fn mode_words_parse_and_contradictions_are_refused() {
        let o = ModeOptions::from_words(Some("upsert"), Some("a, b"), Some("last"), Some("keep"))
            .unwrap();
        assert_eq!(o.mode, Mode::Upsert);
        assert_eq!(o.key, Some(vec!["a".into(), "b".into()]));
        assert!(o.in_file_order());
        assert!(ModeOptions::from_words(Some("merge"), None, None, None).is_err());
        assert!(ModeOptions::from_words(Some("replace"), None, Some("last"), None).is_err());
        assert!(ModeOptions::from_words(None, Some("a"), None, None).is_err());
    }

    #[test]
    fn the_last_of_equal_keys_is_kept_in_order() {
        assert_eq!(
            Merge::last_of_each([1, 2, 1, 3, 2].into_iter()),
            vec![2, 3, 4]
        );
    }
}
