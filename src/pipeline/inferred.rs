//! The table `--create` infers from the file: one read of it that finds
//! the header row, names the columns and types each from every data row
//! looked at ([`infer_table`]), and `--map`'s renames of the new columns
//! ([`rename_inferred`]). (Moved from `target.rs`, which settles the
//! target table and calls these.)

use std::path::Path;

use super::ImportError;
use crate::model::{Cell, RawRow, TableSchema};
use crate::record::infer::{column_names, Inferrer};
use crate::record::{match_key, HeaderError, HeaderOptions, HEADER_SEARCH_ROWS, IGNORE};
use crate::source::{self, SourceOptions};

/// A table inferred from a file and how to map the file onto it.
#[derive(Debug, Clone, PartialEq)]
pub struct Inferred {
    /// The table: one column per sheet column with a header or data, in
    /// the file's order.
    pub table: TableSchema,
    /// The header row and the positional mapping onto `table`.
    pub header: HeaderOptions,
    /// Data rows looked at.
    pub rows: u64,
    /// The header text of each sheet column (as wide as the widest row).
    pub headers: Vec<String>,
}

/// `--map` for the table `--create` makes from the file: `Header=name`
/// names that header's column `name` instead of the name made of the
/// header, `Header=-` leaves the column out of the table (and the import).
pub fn rename_inferred(
    inferred: &mut Inferred,
    map: &[(String, String)],
) -> Result<(), ImportError> {
    let table = inferred.table.name.clone();
    for (header, target) in map {
        let Some(col) = inferred
            .headers
            .iter()
            .position(|h| match_key(h) == match_key(header))
        else {
            return Err(HeaderError::MapHeaderMissing {
                wanted: header.clone(),
                row: inferred.header.header_row.unwrap_or(1),
                found: inferred
                    .headers
                    .iter()
                    .filter(|h| !h.is_empty())
                    .cloned()
                    .collect(),
            }
            .into());
        };
        let Some(positions) = inferred.header.positions.as_mut() else {
            break;
        };
        let Some(slot) = positions.get(col).copied().flatten() else {
            continue;
        };
        if target == IGNORE {
            inferred.table.columns.remove(slot);
            for p in positions.iter_mut() {
                match p {
                    Some(s) if *s == slot => *p = None,
                    Some(s) if *s > slot => *s -= 1,
                    _ => {}
                }
            }
        } else {
            inferred.table.columns[slot].name = target.clone();
        }
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = inferred
        .table
        .columns
        .iter()
        .find(|c| !seen.insert(c.name.to_lowercase()))
    {
        return Err(ImportError::Table(format!(
            "two columns of the new table {table} would be named {}: --map names each column once",
            twice.name
        )));
    }
    if inferred.table.columns.is_empty() {
        return Err(ImportError::Table(format!(
            "--map leaves the new table {table} no column"
        )));
    }
    Ok(())
}

/// Reads the file once and infers the table `name` from it: the header row
/// (`--header-row`, else [`find_header`]), column names from the headers
/// ([`column_names`]), and each column's narrowest type that every value
/// looked at survives ([`Inferrer`]; SQLite's variant when `sqlite`).
pub fn infer_table(
    path: &Path,
    source: &SourceOptions,
    header: &HeaderOptions,
    name: &str,
    infer_rows: Option<u64>,
    sqlite: bool,
) -> Result<Inferred, ImportError> {
    let mut reader = source::open(path, source)?;
    let mut above: Vec<RawRow> = Vec::new();
    let mut head: Option<RawRow> = None;
    let mut seen = Seen {
        inferrer: Inferrer::new(),
        width: 0,
        limit: infer_rows.unwrap_or(u64::MAX),
    };
    let mut error: Option<ImportError> = None;
    reader.read(&mut |row| {
        use std::ops::ControlFlow::{Break, Continue};
        let more = |more: bool| if more { Continue(()) } else { Break(()) };
        if row.is_blank() {
            return Continue(());
        }
        if head.is_some() {
            return more(seen.take(&row));
        }
        if let Some(n) = header.header_row {
            match row.number.cmp(&n) {
                std::cmp::Ordering::Less => return Continue(()),
                std::cmp::Ordering::Equal => {
                    head = Some(row);
                    return Continue(());
                }
                std::cmp::Ordering::Greater => {
                    error = Some(HeaderError::BlankHeaderRow(n).into());
                    return Break(());
                }
            }
        }
        if row.number <= HEADER_SEARCH_ROWS {
            above.push(row);
            return Continue(());
        }
        // Past the search window: decide on what was seen, then go on.
        match seen.header_of(&mut above) {
            Ok(h) => {
                head = Some(h);
                more(seen.take(&row))
            }
            Err(e) => {
                error = Some(e);
                Break(())
            }
        }
    })?;
    if let Some(e) = error {
        return Err(e);
    }
    if head.is_none() && header.header_row.is_none() {
        if above.is_empty() {
            return Err(HeaderError::NoHeader.into());
        }
        head = Some(seen.header_of(&mut above)?);
    }
    let Seen {
        inferrer,
        mut width,
        ..
    } = seen;
    let Some(head) = head else {
        return Err(HeaderError::BlankHeaderRow(header.header_row.unwrap_or(1)).into());
    };
    let texts: Vec<String> = head
        .cells
        .iter()
        .map(|c| crate::record::cell_display(c).trim().to_string())
        .collect();
    width = width.max(texts.len());
    // A sheet column becomes a table column when it has a header or data;
    // one with neither (an empty column between others) is left out.
    let kept: Vec<usize> = (0..width)
        .filter(|&i| texts.get(i).is_some_and(|t| !t.is_empty()) || inferrer.has_values(i))
        .collect();
    if kept.is_empty() {
        return Err(HeaderError::NoHeader.into());
    }
    let all_names = column_names(
        &(0..width)
            .map(|i| texts.get(i).cloned().unwrap_or_default())
            .collect::<Vec<_>>(),
    );
    let rows = inferrer.rows();
    let all_columns = if sqlite {
        inferrer.finish_for_sqlite(&all_names)
    } else {
        inferrer.finish(&all_names)
    };
    let mut positions = vec![None; width];
    let mut columns = Vec::with_capacity(kept.len());
    for (slot, &i) in kept.iter().enumerate() {
        positions[i] = Some(slot);
        columns.push(all_columns[i].clone());
    }
    Ok(Inferred {
        table: TableSchema {
            name: name.to_string(),
            columns,
            primary_key: Vec::new(),
            unique: Vec::new(),
        },
        header: HeaderOptions {
            header_row: Some(head.number),
            map: Vec::new(),
            positions: Some(positions),
        },
        rows,
        headers: (0..width)
            .map(|i| texts.get(i).cloned().unwrap_or_default())
            .collect(),
    })
}

/// What inference has seen of the data rows.
struct Seen {
    inferrer: Inferrer,
    /// The widest data row.
    width: usize,
    /// Rows to look at (`--infer-rows`).
    limit: u64,
}

impl Seen {
    /// Looks at one data row while the limit allows; false once it is
    /// reached (no more rows are needed).
    fn take(&mut self, row: &RawRow) -> bool {
        if self.inferrer.rows() >= self.limit {
            return false;
        }
        self.width = self.width.max(row.cells.len());
        self.inferrer.push(row);
        self.inferrer.rows() < self.limit
    }

    /// The header among the rows held back (the first ones of the sheet),
    /// the rows below it taken as data; or why there is none.
    fn header_of(&mut self, rows: &mut Vec<RawRow>) -> Result<RawRow, ImportError> {
        let head = pick_header(rows).ok_or_else(|| ImportError::Table(not_found(rows)))?;
        for r in std::mem::take(rows) {
            self.take(&r);
        }
        Ok(head)
    }
}

/// The header among the non-blank rows of the first [`HEADER_SEARCH_ROWS`]
/// rows, removing it and the rows above it from `rows` (the rest are data):
/// the first row whose cells with a value are all text and number at
/// least half of the widest row's (and at least two when any row has
/// two), so a title row above the header ("Sales 2024") is skipped and a
/// row of numbers or dates is never taken for one.
pub fn pick_header(rows: &mut Vec<RawRow>) -> Option<RawRow> {
    let filled = |r: &RawRow| r.cells.iter().filter(|c| !matches!(c, Cell::Empty)).count();
    let widest = rows.iter().map(filled).max()?;
    let needed = widest.div_ceil(2).max(2.min(widest));
    let at = rows.iter().position(|r| {
        let all_text = r
            .cells
            .iter()
            .all(|c| matches!(c, Cell::Empty | Cell::Text(_)));
        all_text && filled(r) >= needed
    })?;
    let head = rows.remove(at);
    rows.drain(..at);
    Some(head)
}

/// Why no header was found, naming the first row seen.
fn not_found(rows: &[RawRow]) -> String {
    let first = rows.first().map_or(String::new(), |r| {
        let cells: Vec<String> = r
            .cells
            .iter()
            .map(crate::record::cell_display)
            .filter(|s| !s.is_empty())
            .collect();
        format!("; row {} has [{}]", r.number, cells.join(", "))
    });
    format!(
        "no header row found in rows 1-{HEADER_SEARCH_ROWS} to name the new table's columns: \
         no row of text cells spans most of the columns{first} (use --header-row N)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    fn row(number: u32, cells: Vec<Cell>) -> RawRow {
        RawRow { number, cells }
    }

    #[test]
    fn the_header_is_the_first_wide_row_of_text_under_a_title() {
        let mut rows = vec![
            row(1, vec![text("Sales report 2024")]),
            row(3, vec![text("order_id"), text("date"), text("amount")]),
            row(
                4,
                vec![
                    Cell::Int(1),
                    Cell::DateTime("2024-01-02".into()),
                    Cell::Float(2.5),
                ],
            ),
        ];
        let head = pick_header(&mut rows).unwrap();
        assert_eq!(head.number, 3);
        assert_eq!(rows.len(), 1, "the title is dropped, the data row stays");
        assert_eq!(rows[0].number, 4);
    }

    #[test]
    fn a_row_of_numbers_is_never_a_header() {
        let mut rows = vec![row(1, vec![Cell::Int(1), Cell::Int(2)])];
        assert_eq!(pick_header(&mut rows), None);
    }

    #[test]
    fn a_one_column_sheet_has_a_one_cell_header() {
        let mut rows = vec![row(1, vec![text("email")]), row(2, vec![text("a@b.c")])];
        assert_eq!(pick_header(&mut rows).unwrap().number, 1);
    }
}
