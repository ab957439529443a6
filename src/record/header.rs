//! Header mapping: which row is the header, and which field each column
//! fills. Header texts are normalized (BOM, case, surrounding and repeated
//! spaces, `_`/`-`/`.` separators) and matched against the field names,
//! their aliases ([`ALIASES`]) and the user's `--map`.

use super::{cell_display, is_space};
use crate::model::{column_letter, RawRow, FIELDS, NAME};

/// How far down the sheet the header is looked for (row numbers as shown).
pub const HEADER_SEARCH_ROWS: u32 = 20;

/// Other names people give the nine fields (the field names match too).
/// Matching is done on normalized text, so `E-mail`, `e_mail` and
/// `E MAIL` are all `email`.
pub const ALIASES: &[(&str, &[&str])] = &[
    ("name", &["business name", "company", "company name"]),
    ("category", &["type", "industry"]),
    ("phone", &["phone number", "tel", "telephone", "mobile"]),
    (
        "email",
        &["e-mail", "email address", "e-mail address", "mail"],
    ),
    ("address", &["street", "street address", "address line 1"]),
    ("city", &["town"]),
    ("country", &["nation", "country code"]),
    ("website", &["web", "url", "site", "homepage", "web site"]),
    ("description", &["notes", "about", "details"]),
];

/// How the header is found and mapped (CLI `--header-row`, `--map`; HTTP
/// `header_row=`, `map=`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderOptions {
    /// The header's row number as the spreadsheet shows it; `None` = find
    /// it among the first [`HEADER_SEARCH_ROWS`] rows.
    pub header_row: Option<u32>,
    /// Explicit mappings, header text → field index; they win over aliases.
    pub map: Vec<(String, usize)>,
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
        })
    }

    /// Parses a `--map` value: `Header=field,Other Header=field`. Field
    /// names are the nine fields (or their aliases); a header may not
    /// contain a comma.
    pub fn parse_map(spec: &str) -> Result<Vec<(String, usize)>, String> {
        let mut out = Vec::new();
        for item in spec
            .split(',')
            .filter(|s| !s.trim_matches(is_space).is_empty())
        {
            let Some((header, field)) = item.rsplit_once('=') else {
                return Err(format!(
                    "--map entry {item:?} is not of the form Header=field"
                ));
            };
            let header = header.trim_matches(is_space);
            let field_index = field_for(&match_key(field)).ok_or_else(|| {
                format!(
                    "--map entry {item:?}: {:?} is not a field; fields are {}",
                    field.trim(),
                    FIELDS.join(", ")
                )
            })?;
            if header.is_empty() {
                return Err(format!("--map entry {item:?} has no header text"));
            }
            out.push((header.to_string(), field_index));
        }
        Ok(out)
    }
}

/// Why a header row cannot be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum HeaderError {
    /// The header row has no column for `name`.
    #[error("no column matches 'name' in the header row {row}: found [{}]; expected some of [{}] or an alias (see --map)", found.join(", "), FIELDS.join(", "))]
    MissingName {
        /// Header row number.
        row: u32,
        /// The headers present.
        found: Vec<String>,
    },
    /// No row among the first ones looks like a header.
    #[error("no header row found in rows 1-{HEADER_SEARCH_ROWS}: no column matches 'name' and no row has two known columns; first row {row} has [{}]; expected some of [{}] (use --header-row N or --map 'Header=name')", found.join(", "), FIELDS.join(", "))]
    NotFound {
        /// The first non-blank row's number.
        row: u32,
        /// Its cells.
        found: Vec<String>,
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
    /// Two columns map to the same field.
    #[error(
        "columns {first} and {second} both map to '{field}'; keep one or map one of them elsewhere with --map"
    )]
    Duplicate {
        /// The field.
        field: &'static str,
        /// First column, e.g. `A (Name)`.
        first: String,
        /// Second column.
        second: String,
    },
    /// The sheet has no rows at all.
    #[error("the sheet is empty: no header row")]
    NoHeader,
}

/// What each column of the sheet means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMap {
    /// Sheet name, for rejections (empty for CSV).
    pub sheet: String,
    /// Row number of the header row.
    pub row: u32,
    /// The header text of each column, trimmed.
    pub headers: Vec<String>,
    /// For each column, the field index it fills.
    pub field_of_column: Vec<Option<usize>>,
    /// Headers present but not mapped to any field (ignored).
    pub ignored: Vec<String>,
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
fn match_key(text: &str) -> String {
    normalize_header(text).replace(' ', "")
}

/// The field a normalized-key header names by itself or by alias.
fn field_for(key: &str) -> Option<usize> {
    if let Some(i) = FIELDS.iter().position(|f| *f == key) {
        return Some(i);
    }
    ALIASES.iter().find_map(|(field, aliases)| {
        aliases
            .iter()
            .any(|a| match_key(a) == key)
            .then(|| FIELDS.iter().position(|f| f == field))
            .flatten()
    })
}

impl HeaderMap {
    /// Builds the mapping from the header row with no `--map`.
    pub fn from_row(sheet: &str, row: &RawRow) -> Result<HeaderMap, HeaderError> {
        HeaderMap::build(sheet, row, &[])
    }

    /// Builds the mapping from a header row: the user's `map` first, then
    /// field names and aliases, ignoring case, spaces and separators.
    pub fn build(
        sheet: &str,
        row: &RawRow,
        map: &[(String, usize)],
    ) -> Result<HeaderMap, HeaderError> {
        let headers: Vec<String> = row
            .cells
            .iter()
            .map(|c| cell_display(c).trim_matches(is_space).to_string())
            .collect();
        let found = || headers.iter().filter(|h| !h.is_empty()).cloned().collect();
        let keys: Vec<String> = headers.iter().map(|h| match_key(h)).collect();
        if let Some((wanted, _)) = map.iter().find(|(h, _)| !keys.contains(&match_key(h))) {
            return Err(HeaderError::MapHeaderMissing {
                wanted: wanted.clone(),
                row: row.number,
                found: found(),
            });
        }
        let mut field_of_column = Vec::with_capacity(headers.len());
        let mut column_of_field: [Option<usize>; 9] = [None; 9];
        let mut ignored = Vec::new();
        for (col, key) in keys.iter().enumerate() {
            let field = match map.iter().find(|(h, _)| match_key(h) == *key) {
                Some((_, f)) => Some(*f),
                None if key.is_empty() => None,
                None => field_for(key),
            };
            if let Some(field) = field {
                if let Some(first) = column_of_field[field] {
                    return Err(HeaderError::Duplicate {
                        field: FIELDS[field],
                        first: describe_column(first, &headers[first]),
                        second: describe_column(col, &headers[col]),
                    });
                }
                column_of_field[field] = Some(col);
            } else if !headers[col].is_empty() {
                ignored.push(headers[col].clone());
            }
            field_of_column.push(field);
        }
        if column_of_field[NAME].is_none() {
            return Err(HeaderError::MissingName {
                row: row.number,
                found: found(),
            });
        }
        Ok(HeaderMap {
            sheet: sheet.to_string(),
            row: row.number,
            headers,
            field_of_column,
            ignored,
        })
    }

    /// The mapping found, in column order: (column letter, header, field).
    pub fn mapping(&self) -> Vec<(String, String, &'static str)> {
        self.field_of_column
            .iter()
            .enumerate()
            .filter_map(|(col, f)| {
                f.map(|f| (column_letter(col), self.headers[col].clone(), FIELDS[f]))
            })
            .collect()
    }
}

/// `D (Email)`: the column letter and its header.
pub(crate) fn describe_column(col: usize, header: &str) -> String {
    if header.is_empty() {
        column_letter(col)
    } else {
        format!("{} ({header})", column_letter(col))
    }
}

/// Finds the header row among the non-blank rows of a sheet, fed in order.
/// Rows before the header are dropped: they are not data and not counted.
#[derive(Debug)]
pub struct HeaderFinder {
    sheet: String,
    opts: HeaderOptions,
    first: Option<(u32, Vec<String>)>,
}

impl HeaderFinder {
    /// A finder for `sheet` with the user's options.
    pub fn new(sheet: &str, opts: &HeaderOptions) -> HeaderFinder {
        HeaderFinder {
            sheet: sheet.to_string(),
            opts: opts.clone(),
            first: None,
        }
    }

    /// Looks at the next non-blank row: `Ok(Some)` when it is the header,
    /// `Ok(None)` when it is a row above the header, `Err` when the header
    /// is unusable or cannot be found.
    pub fn push(&mut self, row: &RawRow) -> Result<Option<HeaderMap>, HeaderError> {
        if let Some(n) = self.opts.header_row {
            return match row.number.cmp(&n) {
                std::cmp::Ordering::Less => Ok(None),
                std::cmp::Ordering::Equal => {
                    HeaderMap::build(&self.sheet, row, &self.opts.map).map(Some)
                }
                std::cmp::Ordering::Greater => Err(HeaderError::BlankHeaderRow(n)),
            };
        }
        if row.number > HEADER_SEARCH_ROWS {
            self.remember(row);
            return Err(self.not_found());
        }
        let keys: Vec<String> = row
            .cells
            .iter()
            .map(|c| match_key(&cell_display(c)))
            .collect();
        let known = |k: &String| {
            !k.is_empty()
                && (field_for(k).is_some() || self.opts.map.iter().any(|(h, _)| match_key(h) == *k))
        };
        let hits = keys.iter().filter(|k| known(k)).count();
        let has_name = keys.iter().any(|k| {
            field_for(k) == Some(NAME)
                || self
                    .opts
                    .map
                    .iter()
                    .any(|(h, f)| *f == NAME && match_key(h) == *k)
        });
        if hits >= 2 || has_name {
            return HeaderMap::build(&self.sheet, row, &self.opts.map).map(Some);
        }
        self.remember(row);
        Ok(None)
    }

    /// Keeps the first non-blank row for the error message.
    fn remember(&mut self, row: &RawRow) {
        if self.first.is_none() {
            let cells = row.cells.iter().map(cell_display).filter(|s| !s.is_empty());
            self.first = Some((row.number, cells.collect()));
        }
    }

    /// The error when the rows ran out before a header was found.
    pub fn finish(self) -> HeaderError {
        match self.opts.header_row {
            Some(n) => HeaderError::BlankHeaderRow(n),
            None if self.first.is_none() => HeaderError::NoHeader,
            None => self.not_found(),
        }
    }

    fn not_found(&self) -> HeaderError {
        match &self.first {
            Some((row, found)) => HeaderError::NotFound {
                row: *row,
                found: found.clone(),
            },
            None => HeaderError::NoHeader,
        }
    }
}
