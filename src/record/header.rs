//! Header mapping for any table: which column of the target table each
//! column of the sheet fills (the header row is found in `header_search`).
//! Header texts are normalized (BOM, case, surrounding and repeated spaces, `_`/`-`/`.`
//! separators) and matched against the table's column names, the schema's
//! aliases (the `businesses` preset has [`ALIASES`]) and the user's `--map`.
//! A header that matches nothing but is close to a column name is reported
//! with "did you mean …?".

use std::sync::Arc;

use super::rules::RowRules;
use super::{cell_display, is_space};
use crate::model::{column_letter, column_of_letters, Column, RawRow, TableSchema, Target};

/// How far down the sheet the header is looked for (row numbers as shown).
pub const HEADER_SEARCH_ROWS: u32 = 20;

/// The `--map` / `map=` target that ignores a header: `Header=-`.
pub const IGNORE: &str = "-";

/// How the header is found and mapped (CLI `--header-row`, `--map`; HTTP
/// `header_row=`, `map=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOptions {
    /// The header's row number as the spreadsheet shows it; `None` = find
    /// it among the first [`HEADER_SEARCH_ROWS`] rows.
    pub header_row: Option<u32>,
    /// Explicit mappings, header text → column name (or alias) as the user
    /// wrote it; they win over names and aliases. Checked against the
    /// table when it is known ([`HeaderOptions::check`]).
    pub map: Vec<(String, String)>,
    /// Positional mapping, for a table created from this very file
    /// (`--create`): sheet column `i` fills table column `positions[i]`;
    /// names, aliases and `map` are then not consulted.
    pub positions: Option<Vec<Option<usize>>>,
}

impl HeaderOptions {
    /// Options from the user's words: `header_row` as the spreadsheet
    /// numbers rows, `map` as `--map` / `map=` takes it.
    pub fn new(header_row: Option<u32>, map: Option<&str>) -> Result<HeaderOptions, String> {
        if header_row == Some(0) {
            return Err("--header-row counts from 1, as the spreadsheet shows rows".into());
        }
        Ok(HeaderOptions {
            header_row,
            map: map
                .map(HeaderOptions::parse_map)
                .transpose()?
                .unwrap_or_default(),
            positions: None,
        })
    }

    /// Parses a `--map` value: `Header=column,Other Header=column`. A
    /// header may not contain a comma.
    pub fn parse_map(spec: &str) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        for item in spec
            .split(',')
            .filter(|s| !s.trim_matches(is_space).is_empty())
        {
            let Some((header, column)) = item.rsplit_once('=') else {
                return Err(format!(
                    "--map entry {item:?} is not of the form Header=column"
                ));
            };
            let header = header.trim_matches(is_space);
            let column = column.trim_matches(is_space);
            if header.is_empty() {
                return Err(format!("--map entry {item:?} has no header text"));
            }
            if column.is_empty() {
                return Err(format!("--map entry {item:?} names no column"));
            }
            out.push((header.to_string(), column.to_string()));
        }
        Ok(out)
    }

    /// Checks that every `--map` target is a column (or alias) of `table`,
    /// or [`IGNORE`].
    pub fn check(&self, table: &TableSchema) -> Result<(), String> {
        for (header, column) in &self.map {
            if column != IGNORE && column_for(table, &match_key(column)).is_none() {
                return Err(format!(
                    "--map entry {:?}: {column:?} is not a column of {}; columns are {} (or - to ignore it)",
                    format!("{header}={column}"),
                    table.name,
                    writable_names(table).join(", ")
                ));
            }
        }
        Ok(())
    }

    /// The column index `--map` assigns to the header with this key
    /// (`Some(None)`: ignored, by [`IGNORE`]).
    fn mapped(&self, table: &TableSchema, key: &str) -> Option<Option<usize>> {
        self.map
            .iter()
            .find(|(h, _)| match_key(h) == key)
            .map(|(_, c)| column_for(table, &match_key(c)))
    }
}

/// The names of the columns a file may fill.
pub(super) fn writable_names(table: &TableSchema) -> Vec<String> {
    table.columns.iter().map(|c| c.name.clone()).collect()
}

/// Why a header row cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// The header row has no column for a required column.
    #[error("{} in the header row {row}: found [{}]; {table} expects [{}] (names or aliases; see --map)", missing_text(missing), found.join(", "), expected.join(", "))]
    MissingRequired {
        /// The table.
        table: String,
        /// Header row number.
        row: u32,
        /// The required columns no header matches.
        missing: Vec<String>,
        /// The headers present.
        found: Vec<String>,
        /// The table's columns.
        expected: Vec<String>,
    },
    /// No row among the first ones looks like a header.
    #[error("no header row found in rows 1-{HEADER_SEARCH_ROWS}: {}no row has two known columns of {table}; first row {row} has [{}]; expected some of [{}] (use --header-row N or --map 'Header=column')", required_text(required), found.join(", "), expected.join(", "))]
    NotFound {
        /// The table.
        table: String,
        /// Its required columns.
        required: Vec<String>,
        /// The first non-blank row's number.
        row: u32,
        /// Its cells.
        found: Vec<String>,
        /// The table's columns.
        expected: Vec<String>,
    },
    /// `--header-row N` points at a blank or missing row.
    #[error("the header row {0} (--header-row) is empty or beyond the end of the sheet")]
    BlankHeaderRow(u32),
    /// A `--map` header is not in the header row.
    #[error("--map names the header {wanted:?}, which is not in the header row {row}: found [{}]", found.join(", "))]
    MapHeaderMissing {
        /// The header asked for.
        wanted: String,
        /// Header row number.
        row: u32,
        /// The headers present.
        found: Vec<String>,
    },
    /// A `--map` target is not a column of the table.
    #[error("{0}")]
    MapColumnUnknown(String),
    /// Two columns map to the same table column.
    #[error(
        "columns {first} and {second} both map to '{field}'; keep one or map one of them elsewhere with --map"
    )]
    Duplicate {
        /// The table column.
        field: String,
        /// First column, e.g. `A (Name)`.
        first: String,
        /// Second column.
        second: String,
    },
    /// The sheet has no rows at all.
    #[error("the sheet is empty: no header row")]
    NoHeader,
    /// A column's rules cannot apply (a bound not of its type, an invalid
    /// regex): a schema file catches this when it is read, an
    /// introspected or hand-built schema here, before any row.
    #[error("the rules of table {table} cannot be used: {why}")]
    Rules {
        /// The table.
        table: String,
        /// Which rule of which column, and why.
        why: String,
    },
}

fn required_text(required: &[String]) -> String {
    if required.is_empty() {
        String::new()
    } else {
        format!("{} and ", missing_text(required))
    }
}

fn missing_text(missing: &[String]) -> String {
    match missing {
        [one] => format!("no column matches '{one}'"),
        many => format!(
            "no columns match {}",
            many.iter()
                .map(|m| format!("'{m}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What each column of the sheet means.
#[derive(Debug, Clone, PartialEq)]
pub struct HeaderMap {
    /// Sheet name, for rejections (empty for CSV).
    pub sheet: String,
    /// Row number of the header row.
    pub row: u32,
    /// The header text of each column, trimmed.
    pub headers: Vec<String>,
    /// For each sheet column, the index of the table column it fills.
    pub field_of_column: Vec<Option<usize>>,
    /// Headers present but not mapped to any column (ignored).
    pub ignored: Vec<String>,
    /// Ignored headers close to a column name: (header, column).
    pub suggestions: Vec<(String, String)>,
    /// The target table.
    pub table: Arc<TableSchema>,
    /// For each sheet column, its position among the written columns
    /// (the index into every [`Record`](crate::model::Record)'s values).
    pub slot_of_column: Vec<Option<usize>>,
    /// What the records are written into: the table and the mapped
    /// columns, in table order.
    pub target: Target,
    /// The written columns' rules, compiled once (shared by clones, which
    /// then also share the values seen by unique columns).
    pub rules: Arc<RowRules>,
}

/// Normalizes a header for display and matching: BOM and surrounding
/// spaces go, `_`, `-` and `.` count as spaces, runs of spaces become one,
/// letters are lowercased. `"\u{feff} E-Mail_Address "` → `"e mail address"`.
pub fn normalize_header(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| is_space(c) || matches!(c, '_' | '-' | '.'))
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out
}

/// The key headers are compared on: normalized, without any spaces, so
/// `Business Name`, `business_name` and `BusinessName` are one key.
pub(crate) fn match_key(text: &str) -> String {
    normalize_header(text).replace(' ', "")
}

/// The table column a normalized-key header names by itself or by alias.
fn column_for(table: &TableSchema, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let by_name = |c: &Column| match_key(&c.name) == key;
    let by_alias = |c: &Column| c.aliases.iter().any(|a| match_key(a) == key);
    table
        .columns
        .iter()
        .position(by_name)
        .or_else(|| table.columns.iter().position(by_alias))
}

/// The column name a header that matches nothing is probably meant to be:
/// a name or alias at most two edits away (one for short names).
fn did_you_mean(table: &TableSchema, key: &str) -> Option<String> {
    if key.chars().count() < 3 {
        return None;
    }
    let mut best: Option<(usize, &str)> = None;
    for c in &table.columns {
        for candidate in std::iter::once(&c.name).chain(&c.aliases) {
            let d = edit_distance(key, &match_key(candidate));
            let allowed = if key.chars().count() <= 4 { 1 } else { 2 };
            if d <= allowed && best.is_none_or(|(b, _)| d < b) {
                best = Some((d, c.name.as_str()));
            }
        }
    }
    best.map(|(_, name)| name.to_string())
}

/// Levenshtein distance with transpositions counted as one edit
/// (`categroy` → `category` is 1).
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2 = vec![0usize; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cur[j] = cur[j].min(prev2[j - 2] + 1);
            }
        }
        prev2 = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

impl HeaderMap {
    /// Builds the mapping from the header row onto the `businesses`
    /// preset with no `--map`.
    pub fn from_row(sheet: &str, row: &RawRow) -> Result<HeaderMap, HeaderError> {
        HeaderMap::build(
            sheet,
            row,
            &HeaderOptions::default(),
            Arc::new(TableSchema::businesses()),
        )
    }

    /// Builds the mapping from a header row onto `table`: the user's `map`
    /// first, then column names and aliases, ignoring case, spaces and
    /// separators.
    pub fn build(
        sheet: &str,
        row: &RawRow,
        opts: &HeaderOptions,
        table: Arc<TableSchema>,
    ) -> Result<HeaderMap, HeaderError> {
        opts.check(&table).map_err(HeaderError::MapColumnUnknown)?;
        let headers = header_texts(row, opts, &table);
        let found = || headers.iter().filter(|h| !h.is_empty()).cloned().collect();
        let keys: Vec<String> = headers.iter().map(|h| match_key(h)).collect();
        if let Some((wanted, _)) = opts.map.iter().find(|(h, _)| !keys.contains(&match_key(h))) {
            return Err(HeaderError::MapHeaderMissing {
                wanted: wanted.clone(),
                row: row.number,
                found: found(),
            });
        }
        let proposed = proposed_fields(opts, &table, &headers);
        let mut field_of_column = Vec::with_capacity(headers.len());
        let mut column_of_field: Vec<Option<usize>> = vec![None; table.columns.len()];
        let (mut ignored, mut suggestions) = (Vec::new(), Vec::new());
        for (col, key) in keys.iter().enumerate() {
            let field = proposed[col];
            if let Some(field) = field {
                if let Some(first) = column_of_field[field] {
                    return Err(HeaderError::Duplicate {
                        field: table.columns[field].name.clone(),
                        first: describe_column(first, &headers[first]),
                        second: describe_column(col, &headers[col]),
                    });
                }
                column_of_field[field] = Some(col);
            } else if !headers[col].is_empty() {
                ignored.push(headers[col].clone());
                if let Some(name) = did_you_mean(&table, key) {
                    suggestions.push((headers[col].clone(), name));
                }
            }
            field_of_column.push(field);
        }
        let missing: Vec<String> = table
            .columns
            .iter()
            .zip(&column_of_field)
            .filter(|(c, found)| c.required() && found.is_none())
            .map(|(c, _)| c.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(HeaderError::MissingRequired {
                table: table.name.clone(),
                row: row.number,
                missing,
                found: found(),
                expected: writable_names(&table),
            });
        }
        // Written columns in table order; each sheet column's slot in them.
        let written: Vec<usize> = (0..table.columns.len())
            .filter(|f| column_of_field[*f].is_some())
            .collect();
        let slot_of_column = field_of_column
            .iter()
            .map(|f| f.and_then(|f| written.iter().position(|w| *w == f)))
            .collect();
        let target = Target {
            table: table.name.clone(),
            columns: written.iter().map(|f| table.columns[*f].clone()).collect(),
        };
        let rules = RowRules::new(&target.columns).map_err(|why| HeaderError::Rules {
            table: table.name.clone(),
            why,
        })?;
        Ok(HeaderMap {
            sheet: sheet.to_string(),
            row: row.number,
            headers,
            field_of_column,
            ignored,
            suggestions,
            table,
            slot_of_column,
            target,
            rules: Arc::new(rules),
        })
    }

    /// The mapping found, in column order: (column letter, header, table
    /// column).
    pub fn mapping(&self) -> Vec<(String, String, String)> {
        self.field_of_column
            .iter()
            .enumerate()
            .filter_map(|(col, f)| {
                f.map(|f| {
                    let name = self.table.columns[f].name.clone();
                    (column_letter(col), self.headers[col].clone(), name)
                })
            })
            .collect()
    }

    /// Ignored headers as people read them: `Categroy (did you mean
    /// category?)`, `Owner`.
    pub fn ignored_described(&self) -> Vec<String> {
        self.ignored
            .iter()
            .map(|h| match self.suggestions.iter().find(|(s, _)| s == h) {
                Some((_, c)) => format!("{h} (did you mean {c}?)"),
                None => h.clone(),
            })
            .collect()
    }
}

/// The header row's texts, trimmed, one per column: as many as the row
/// has cells, and as many as a table `--create` made from this file has
/// columns for — its `positions`, or the column furthest right that it
/// named `column_<letter>` (an empty header, or data right of the last
/// header), so those empty headers are there to map.
pub(super) fn header_texts(row: &RawRow, opts: &HeaderOptions, table: &TableSchema) -> Vec<String> {
    let mut headers: Vec<String> = row
        .cells
        .iter()
        .map(|c| cell_display(c).trim_matches(is_space).to_string())
        .collect();
    let lettered = table
        .columns
        .iter()
        .filter_map(|c| column_of_letters(c.name.strip_prefix("column_")?))
        .max()
        .map_or(0, |i| i + 1);
    let width = opts.positions.as_ref().map_or(0, Vec::len).max(lettered);
    if headers.len() < width {
        headers.resize(width, String::new());
    }
    headers
}

/// The table column each header would fill, before duplicates are judged:
/// `positions` when set, else the user's `map`, else the name `--create`
/// makes of it ([`column_names`](super::infer::column_names): `Note`,
/// `Note` → `note`, `note_2`; an empty header over data → `column_j`;
/// `2024 Sales` → `col_2024_sales`) when the table has that column, else
/// its name or alias. So a table `--create` made takes the same file
/// again, with or without `--create`, every column mapped as before.
pub(super) fn proposed_fields(
    opts: &HeaderOptions,
    table: &TableSchema,
    headers: &[String],
) -> Vec<Option<usize>> {
    let created: Vec<Option<usize>> = super::infer::column_names(headers)
        .iter()
        .map(|n| table.column_index(n))
        .collect();
    headers
        .iter()
        .enumerate()
        .map(|(col, h)| {
            let key = match_key(h);
            match (&opts.positions, opts.mapped(table, &key)) {
                (Some(positions), _) => positions.get(col).copied().flatten(),
                (None, Some(f)) => f,
                (None, None) => created[col].or_else(|| column_for(table, &key)),
            }
        })
        .collect()
}

/// `D (Email)`: the column letter and its header.
pub(crate) fn describe_column(col: usize, header: &str) -> String {
    if header.is_empty() {
        column_letter(col)
    } else {
        format!("{} ({header})", column_letter(col))
    }
}
