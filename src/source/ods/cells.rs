//! The cells the .ods scan (`ods_scan`) found beside calamine's —
//! booleans, cached formula text, formulas without a value (their
//! OpenFormula text as a person types it) — kept as blocks (a repeated
//! cell is one entry) and handed to the reader row by row.

use crate::model::Cell;

/// A cell found by the scan, repeated over `rows` × `cols`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Block {
    pub(super) first: (u32, u32),
    pub(super) last: (u32, u32),
    pub(super) cell: Cell,
}

/// The cells the scan found, yielded row by row in row order: a repeated
/// cell stays one block however many rows and columns it covers.
#[derive(Debug, Default)]
pub(crate) struct Extras {
    /// Blocks by first row (document order).
    blocks: Vec<Block>,
    next: usize,
    active: Vec<Block>,
    /// The last row taken.
    done: Option<u32>,
}

impl Extras {
    pub(super) fn new(mut blocks: Vec<Block>) -> Self {
        blocks.sort_by_key(|b| b.first);
        Extras {
            blocks,
            ..Extras::default()
        }
    }

    /// The first row after the last one taken that has cells.
    pub(crate) fn next_row(&self) -> Option<u32> {
        let after = self.done.map_or(0, |d| d.saturating_add(1));
        let continuing = self
            .active
            .iter()
            .any(|b| b.last.0 >= after)
            .then_some(after);
        let starting = self.blocks.get(self.next).map(|b| b.first.0.max(after));
        continuing.into_iter().chain(starting).min()
    }

    /// The cells of row `r` as (column, cell); rows must be asked in order.
    pub(crate) fn take_row(&mut self, r: u32) -> Vec<(u32, Cell)> {
        while let Some(b) = self.blocks.get(self.next).filter(|b| b.first.0 <= r) {
            self.active.push(b.clone());
            self.next += 1;
        }
        self.active.retain(|b| b.last.0 >= r);
        self.done = Some(r);
        let mut out = Vec::new();
        for b in self.active.iter().filter(|b| b.first.0 <= r) {
            for c in b.first.1..=b.last.1 {
                out.push((c, b.cell.clone()));
            }
        }
        out
    }
}

/// An OpenFormula text as a person would type it: `of:=[.A2]&[.B2]` →
/// `A2&B2`, `of:=SUM([.A1:.A3])` → `SUM(A1:A3)`, `[Data.B1]` → `Data!B1`
/// (LibreOffice's `;` between arguments is kept).
pub(super) fn formula_text(formula: &str) -> String {
    let body = match formula.split_once(":=") {
        Some((ns, rest)) if !ns.contains(['(', '[', '"']) => rest,
        _ => formula.strip_prefix('=').unwrap_or(formula),
    };
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find(']').map(|c| open + c) else {
            break;
        };
        let reference = &rest[open + 1..close];
        let parts: Vec<String> = reference
            .split(':')
            .map(|part| match part.strip_prefix('.') {
                Some(cell) => cell.to_string(),
                None => match part.rfind('.') {
                    Some(dot) => format!("{}!{}", &part[..dot], &part[dot + 1..]),
                    None => part.to_string(),
                },
            })
            .collect();
        out.push_str(&parts.join(":"));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openformula_references_read_as_a_person_types_them() {
        assert_eq!(formula_text("of:=[.A2]&[.B2]"), "A2&B2");
        assert_eq!(formula_text("of:=SUM([.A1:.A3];2)"), "SUM(A1:A3;2)");
        assert_eq!(formula_text("of:=['My.Sheet'.$B$1]"), "'My.Sheet'!$B$1");
        assert_eq!(formula_text("=1+1"), "1+1");
        assert_eq!(formula_text("of:=\"a:=b\""), "\"a:=b\"");
    }

    #[test]
    fn repeated_cells_are_yielded_row_by_row() {
        let cell = |s: &str| Cell::Text(s.into());
        let mut extras = Extras::new(vec![
            Block {
                first: (1, 0),
                last: (3, 1),
                cell: cell("a"),
            },
            Block {
                first: (2, 4),
                last: (2, 4),
                cell: cell("b"),
            },
            Block {
                first: (7, 0),
                last: (7, 0),
                cell: cell("c"),
            },
        ]);
        let mut rows = Vec::new();
        while let Some(r) = extras.next_row() {
            rows.push((r, extras.take_row(r)));
        }
        let a = |c| (c, cell("a"));
        assert_eq!(
            rows,
            vec![
                (1, vec![a(0), a(1)]),
                (2, vec![a(0), a(1), (4, cell("b"))]),
                (3, vec![a(0), a(1)]),
                (7, vec![(0, cell("c"))]),
            ]
        );
        // Asking a row the data has, before a block starts, takes nothing.
        let mut extras = Extras::new(vec![Block {
            first: (5, 0),
            last: (6, 0),
            cell: cell("x"),
        }]);
        assert!(extras.take_row(2).is_empty());
        assert_eq!(extras.next_row(), Some(5));
    }
}
