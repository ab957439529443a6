//! Data in a column the header gives no name to — an empty header cell
//! over values, or values to the right of the last header — is not
//! imported (nothing says which table column it belongs to), but it is
//! not dropped unsaid either: the import's report warns once per such
//! column, naming it and the first row that has a value there.

use std::collections::BTreeMap;

use crate::model::{column_letter, Cell, RawRow};
use crate::record::{is_space, HeaderMap};

/// The sheet columns seen holding data without a header, each with the
/// first row it was seen in.
#[derive(Debug, Default)]
pub(super) struct Unheaded {
    /// The header's empty, unmapped columns within its width (`None`
    /// until the first data row).
    blank: Option<Vec<usize>>,
    seen: BTreeMap<usize, u32>,
}

/// Most columns warned about; past them one line counts the rest.
const LISTED: usize = 20;

fn holds_data(cell: &Cell) -> bool {
    match cell {
        Cell::Empty => false,
        Cell::Text(s) => !s.chars().all(is_space),
        _ => true,
    }
}

impl Unheaded {
    /// Looks at one data row (before it is turned into a record).
    pub(super) fn see(&mut self, map: &HeaderMap, row: &RawRow) {
        let blank = self.blank.get_or_insert_with(|| {
            (0..map.headers.len())
                .filter(|&c| map.headers[c].is_empty() && map.field_of_column[c].is_none())
                .collect()
        });
        for &col in blank.iter() {
            if row.cells.get(col).is_some_and(holds_data) {
                self.seen.entry(col).or_insert(row.number);
            }
        }
        let width = map.headers.len();
        if row.cells.len() > width {
            for (i, cell) in row.cells[width..].iter().enumerate() {
                if holds_data(cell) {
                    self.seen.entry(width + i).or_insert(row.number);
                }
            }
        }
    }

    /// One warning per column seen (at most [`LISTED`], then a count).
    pub(super) fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .seen
            .iter()
            .take(LISTED)
            .map(|(&col, &row)| {
                format!(
                    "column {} has no header but holds data (first in row {row}); it was not \
                     imported: give it a header that names a column of the table",
                    column_letter(col)
                )
            })
            .collect();
        if self.seen.len() > LISTED {
            out.push(format!(
                "… and {} more columns without a header that hold data, not imported",
                self.seen.len() - LISTED
            ));
        }
        out
    }
}
