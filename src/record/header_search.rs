//! Finding the header row: the first of the sheet's first
//! [`HEADER_SEARCH_ROWS`] non-blank rows that names the table's required
//! columns, or two of its columns, as [`HeaderMap::build`] would map them.

use std::sync::Arc;

use super::header::{
    header_texts, proposed_fields, writable_names, HeaderError, HeaderMap, HeaderOptions,
};
use super::{cell_display, HEADER_SEARCH_ROWS};
use crate::model::{RawRow, TableSchema};

/// Finds the header row among the non-blank rows of a sheet, fed in order.
/// Rows before the header are dropped: they are not data and not counted.
///
/// Without `--header-row`, the header is the first of the first
/// [`HEADER_SEARCH_ROWS`] rows that names every required column of the
/// table, or two of its columns (one, for a one-column table).
#[derive(Debug)]
pub struct HeaderFinder {
    sheet: String,
    opts: HeaderOptions,
    table: Arc<TableSchema>,
    first: Option<(u32, Vec<String>)>,
}

impl HeaderFinder {
    /// A finder for `sheet` with the user's options, for the `businesses`
    /// preset.
    pub fn new(sheet: &str, opts: &HeaderOptions) -> HeaderFinder {
        HeaderFinder::for_table(sheet, opts, Arc::new(TableSchema::businesses()))
    }

    /// A finder for `sheet` mapping onto `table`.
    pub fn for_table(sheet: &str, opts: &HeaderOptions, table: Arc<TableSchema>) -> HeaderFinder {
        HeaderFinder {
            sheet: sheet.to_string(),
            opts: opts.clone(),
            table,
            first: None,
        }
    }

    fn build(&self, row: &RawRow) -> Result<HeaderMap, HeaderError> {
        HeaderMap::build(&self.sheet, row, &self.opts, self.table.clone())
    }

    /// Looks at the next non-blank row: `Ok(Some)` when it is the header,
    /// `Ok(None)` when it is a row above the header, `Err` when the header
    /// is unusable or cannot be found.
    pub fn push(&mut self, row: &RawRow) -> Result<Option<HeaderMap>, HeaderError> {
        if let Some(n) = self.opts.header_row {
            return match row.number.cmp(&n) {
                std::cmp::Ordering::Less => Ok(None),
                std::cmp::Ordering::Equal => self.build(row).map(Some),
                std::cmp::Ordering::Greater => Err(HeaderError::BlankHeaderRow(n)),
            };
        }
        if row.number > HEADER_SEARCH_ROWS {
            self.remember(row);
            return Err(self.not_found());
        }
        let table = &self.table;
        // As the mapping will be made ([`proposed_fields`]), counting only
        // cells with a text: an empty cell's `column_b` of a table
        // `--create` made does not make a data row with gaps a header.
        let headers = header_texts(row, &self.opts, table);
        let proposed = proposed_fields(&self.opts, table, &headers);
        let fields: Vec<usize> = proposed
            .iter()
            .zip(&headers)
            .filter_map(|(f, h)| f.filter(|_| !h.is_empty()))
            .collect();
        // Or a row that, its empty cells read as `--create` names them,
        // names every column of the table: the header of the file that
        // made it (`Hello` and an empty header over data: `hello`,
        // `column_b`).
        let whole =
            !fields.is_empty() && (0..table.columns.len()).all(|c| proposed.contains(&Some(c)));
        let required: Vec<usize> = (0..table.columns.len())
            .filter(|i| table.columns[*i].required())
            .collect();
        let has_required = !required.is_empty() && required.iter().all(|r| fields.contains(r));
        let enough = fields.len() >= 2.min(table.columns.len());
        if has_required || whole || (enough && !fields.is_empty()) {
            return self.build(row).map(Some);
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
                table: self.table.name.clone(),
                required: self
                    .table
                    .columns
                    .iter()
                    .filter(|c| c.required())
                    .map(|c| c.name.clone())
                    .collect(),
                row: *row,
                found: found.clone(),
                expected: writable_names(&self.table),
            },
            None => HeaderError::NoHeader,
        }
    }
}
