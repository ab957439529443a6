//! What the importer page shows before anything is written (`POST
//! /preview`): the mapping our header matching proposes even when it is
//! incomplete, and every invalid cell of a row (an import stops at a row's
//! first one).

use super::header::proposed_fields;
use super::{HeaderMap, HeaderOptions, Rules};
use crate::model::{Cell, RawRow, TableSchema};

/// The table column each header fills by the same matching as an import
/// (`map`, names, aliases), for the headers of a row that may not be a
/// usable header yet: a second header for the same column gets `None`
/// instead of an error, and missing required columns are the caller's to
/// report.
pub fn suggest_fields(
    opts: &HeaderOptions,
    table: &TableSchema,
    headers: &[String],
) -> Vec<Option<usize>> {
    let mut taken = vec![false; table.columns.len()];
    proposed_fields(opts, table, headers)
        .into_iter()
        .map(|f| {
            let f = f.filter(|&f| !taken[f]);
            if let Some(f) = f {
                taken[f] = true;
            }
            f
        })
        .collect()
}

impl HeaderMap {
    /// For each column of `row` (as wide as the header), why its cell would
    /// be rejected, or `None`. Unlike [`HeaderMap::record`] every cell is
    /// judged, and `unique` is not (it needs every row before this one).
    pub fn cell_errors(&self, row: &RawRow, rules: &Rules) -> Vec<Option<String>> {
        let width = self.headers.len().max(row.cells.len());
        let refusing: Vec<_> = self.rules.refusing_null().collect();
        (0..width)
            .map(|col| {
                let slot = (*self.slot_of_column.get(col)?)?;
                let cell = row.cells.get(col).cloned().unwrap_or(Cell::Empty);
                let column = &self.target.columns[slot];
                let why = match self.cell_value(slot, &cell, rules) {
                    Err(why) => why,
                    Ok(v) if v.is_null() => {
                        let (_, checks) = refusing.iter().find(|(s, _)| *s == slot)?;
                        checks.check(v).err()?
                    }
                    Ok(_) => return None,
                };
                Some(self.reject_value(row, col, column, &cell, why).reason)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TableSchema;
    use std::sync::Arc;

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn a_second_header_for_a_column_and_ignored_ones_are_left_unmatched() {
        let table = TableSchema::businesses();
        let headers: Vec<String> = ["Business Name", "Name", "E-Mail", "Owner"]
            .map(String::from)
            .into();
        let opts = HeaderOptions::new(None, Some("E-Mail=-")).unwrap();
        let fields = suggest_fields(&opts, &table, &headers);
        let name = table.column_index("name");
        assert_eq!(fields[0], name);
        assert_eq!(fields[1], None, "name is taken by the first header");
        assert_eq!(fields[2], None, "ignored by the map");
        assert_eq!(fields[3], None);
    }

    #[test]
    fn every_invalid_cell_of_a_row_is_named() {
        let table = Arc::new(TableSchema::businesses());
        let head = RawRow {
            number: 1,
            cells: vec![text("Name"), text("Email"), text("Phone")],
        };
        let map = HeaderMap::build("S", &head, &HeaderOptions::default(), table).unwrap();
        let row = RawRow {
            number: 2,
            cells: vec![text(""), text("not-an-email"), text("555")],
        };
        let errors = map.cell_errors(&row, &Rules::default());
        assert_eq!(errors.len(), 3);
        assert!(errors[0].is_some(), "name is required: {errors:?}");
        assert!(
            errors[1].as_deref().unwrap().contains("email"),
            "{errors:?}"
        );
        let good = RawRow {
            number: 3,
            cells: vec![text("Acme"), text("a@b.co"), text("555")],
        };
        assert_eq!(map.cell_errors(&good, &Rules::default()), vec![None; 3]);
    }
}
