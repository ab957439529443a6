//! What calamine does not tell about one .ods sheet, from one more pass
//! over `content.xml` (tag by tag, without an XML parser) and a short one
//! over `styles.xml`, counting rows and columns the way the format repeats
//! them (`number-rows-repeated`, `number-columns-repeated`, covered cells):
//!
//! - **merged ranges**: cells spanning several rows or columns
//!   (`number-rows-spanned`, `number-columns-spanned`);
//! - **booleans stored as numbers**: a `float` cell whose cell style
//!   (the cell's own, else its row's, else its column's default, following
//!   parent styles) has a `number:boolean-style`; and a `float` 1 or 0
//!   whose displayed text is `TRUE` or `FALSE` — what LibreOffice writes
//!   for a logical result it imported from .xlsx or .xls without
//!   recalculating (`=TRUE()`, `=AND(…)`). calamine reads both as 1/0;
//!   they are set to booleans in the range. (A boolean LibreOffice typed or
//!   calculated itself is `office:value-type="boolean"`, which calamine
//!   reads as a boolean already.)
//! - **formulas without a cached value**: a cell with `table:formula` and
//!   no value attribute (`office:value`, `office:string-value`,
//!   `office:date-value`, `office:time-value`, `office:boolean-value`, nor
//!   `office:value-type="string"`). With no `<text:p>` either, nothing was
//!   cached and the cell becomes [`Cell::FormulaWithoutValue`]; with one,
//!   its text is what was cached — empty for a formula giving `""`, which
//!   is how LibreOffice writes that — and non-empty text becomes the cell's
//!   value. calamine reads all of these as empty cells.
//!
//! ods is parsed whole by calamine anyway, so this pass is not on a
//! streaming path; it holds one tag, the styles, and the cells it found
//! (as blocks: a repeated cell is one entry).

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use calamine::{Data, Dimensions, Range};

use super::cells::{formula_text, Block, Extras};
use super::tags::{attributes, for_each_event, tag_name, Event};
use crate::model::Cell;
use crate::source::xlsx::merges::{attr, unescape, MAX_PART_BYTES};

/// Most `table:table-column` entries remembered for default cell styles
/// (a sheet has at most 16,384 columns; repeats make one entry).
const MAX_COLUMN_ENTRIES: usize = 16_384;

/// The largest sheet: rows and columns beyond it are not cells (calamine
/// stops there too), so a repeat count in the billions yields no more.
const SHEET_ROWS: u32 = 1_048_576;
const SHEET_COLUMNS: u32 = 16_384;

/// Deepest chain of parent styles followed.
const MAX_STYLE_DEPTH: usize = 8;

/// What the scan found besides the cells calamine read.
#[derive(Debug, Default)]
pub(crate) struct Found {
    /// Merged ranges (all of them; the assembler keeps those spanning rows).
    pub merges: Vec<Dimensions>,
    /// Cells calamine reads as empty, in document order.
    pub extras: Extras,
}

/// Scans `sheet` of the .ods at `path`: returns its merged ranges and the
/// cells calamine misses, and turns the booleans calamine read as numbers
/// into booleans in `range`. A file that cannot be scanned gives nothing
/// (calamine has then already reported a broken file). Cached text is
/// kept up to `max_text` bytes and one more, so an over-long cell still
/// trips the cell-size limit when it is read.
pub(crate) fn scan(path: &Path, sheet: &str, range: &mut Range<Data>, max_text: usize) -> Found {
    let Ok(file) = std::fs::File::open(path) else {
        return Found::default();
    };
    let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return Found::default();
    };
    let mut styles = Styles::default();
    if let Ok(part) = zip.by_name("styles.xml") {
        for_each_event(part.take(MAX_PART_BYTES), |e| {
            if let Event::Tag(tag) = e {
                styles.tag(tag);
            }
        });
    }
    let Ok(content) = zip.by_name("content.xml") else {
        return Found::default();
    };
    let mut scan = Scan::new(sheet, styles, range, max_text);
    for_each_event(content, |e| scan.event(e));
    Found {
        merges: scan.merges,
        extras: Extras::new(scan.blocks),
    }
}

/// Cell styles and which data styles are boolean.
#[derive(Debug, Default)]
struct Styles {
    /// `number:boolean-style` names.
    boolean: HashSet<String>,
    /// table-cell style name → (data style, parent style).
    cell: HashMap<String, (Option<String>, Option<String>)>,
}

impl Styles {
    fn tag(&mut self, tag: &str) {
        let name = tag_name(tag);
        if name == "number:boolean-style" {
            if let Some(n) = attr(tag, "style:name") {
                self.boolean.insert(n.to_string());
            }
        } else if name == "style:style" && attr(tag, "style:family") == Some("table-cell") {
            if let Some(n) = attr(tag, "style:name") {
                let data = attr(tag, "style:data-style-name").map(str::to_string);
                let parent = attr(tag, "style:parent-style-name").map(str::to_string);
                self.cell.insert(n.to_string(), (data, parent));
            }
        }
    }

    /// Whether cell style `name` formats numbers as booleans.
    fn is_boolean<'a>(&'a self, mut name: &'a str) -> bool {
        for _ in 0..MAX_STYLE_DEPTH {
            match self.cell.get(name) {
                Some((Some(data), _)) => return self.boolean.contains(data),
                Some((None, Some(parent))) => name = parent,
                _ => return false,
            }
        }
        false
    }
}

/// A cell whose text is being read, to decide what it is at its end.
struct Open {
    first: (u32, u32),
    last: (u32, u32),
    what: Pending,
    text: Vec<u8>,
    paragraphs: u32,
    /// Inside a `text:p` (text outside one is layout white space).
    in_p: bool,
}

enum Pending {
    /// A float 1 (true) or 0 (false): a boolean if shown as TRUE/FALSE.
    Shown(bool),
    /// A formula with no value attribute: the formula text.
    Formula(String),
}

/// Position tracking inside the wanted sheet.
struct Scan<'s> {
    sheet: &'s str,
    styles: Styles,
    range: &'s mut Range<Data>,
    max_text: usize,
    /// Nesting depth of `table:table` inside the wanted sheet (0 = outside).
    depth: u32,
    row: u32,
    row_repeat: u32,
    row_style: Option<String>,
    col: u32,
    /// (first column, end column exclusive, default cell style).
    columns: Vec<(u32, u32, Option<String>)>,
    next_column: u32,
    open: Option<Open>,
    annotation: u32,
    merges: Vec<Dimensions>,
    blocks: Vec<Block>,
}

impl<'s> Scan<'s> {
    fn new(sheet: &'s str, styles: Styles, range: &'s mut Range<Data>, max_text: usize) -> Self {
        Scan {
            sheet,
            styles,
            range,
            max_text,
            depth: 0,
            row: 0,
            row_repeat: 1,
            row_style: None,
            col: 0,
            columns: Vec::new(),
            next_column: 0,
            open: None,
            annotation: 0,
            merges: Vec::new(),
            blocks: Vec::new(),
        }
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Tag(tag) => self.tag(tag),
            Event::Text(bytes) => {
                let limit = self.max_text.saturating_add(1);
                if let Some(open) = self.open.as_mut().filter(|o| o.in_p) {
                    if self.annotation == 0 && open.text.len() < limit {
                        let room = limit - open.text.len();
                        open.text.extend_from_slice(&bytes[..bytes.len().min(room)]);
                    }
                }
            }
        }
    }

    fn tag(&mut self, tag: &str) {
        let closing = tag.starts_with('/');
        let name = tag_name(tag);
        let empty = tag.ends_with('/');
        let number = |a: &str| attr(tag, a).and_then(|v| v.parse::<u32>().ok());
        match (name, closing) {
            ("table:table", false) if self.depth > 0 => self.depth += 1,
            ("table:table", false)
                if attr(tag, "table:name").map(unescape).as_deref() == Some(self.sheet) =>
            {
                self.depth = 1;
            }
            ("table:table", false) => {}
            ("table:table", true) => self.depth = self.depth.saturating_sub(1),
            ("style:style" | "number:boolean-style", false) if self.depth == 0 => {
                self.styles.tag(tag);
            }
            _ if self.depth != 1 => {}
            ("table:table-column", false) => {
                let repeat = number("table:number-columns-repeated").unwrap_or(1);
                let end = self.next_column.saturating_add(repeat);
                let style = attr(tag, "table:default-cell-style-name").map(str::to_string);
                if self.columns.len() < MAX_COLUMN_ENTRIES {
                    self.columns.push((self.next_column, end, style));
                }
                self.next_column = end;
            }
            ("table:table-row", false) => {
                self.row_repeat = number("table:number-rows-repeated").unwrap_or(1).max(1);
                self.row_style = attr(tag, "table:default-cell-style-name").map(str::to_string);
                self.col = 0;
                if empty {
                    self.row = self.row.saturating_add(self.row_repeat);
                }
            }
            ("table:table-row", true) => self.row = self.row.saturating_add(self.row_repeat),
            ("table:table-cell" | "table:covered-table-cell", false) => {
                self.open = None;
                let cell = CellAttrs::parse(tag);
                let (rows, cols) = (cell.rows_spanned, cell.columns_spanned);
                if rows > 1 || cols > 1 {
                    let end = (
                        self.row.saturating_add(rows - 1),
                        self.col.saturating_add(cols - 1),
                    );
                    self.merges.push(Dimensions::new((self.row, self.col), end));
                }
                let repeat = cell.repeated;
                let first = (self.row, self.col);
                let last = (
                    self.row.saturating_add(self.row_repeat - 1),
                    self.col.saturating_add(repeat - 1),
                );
                self.cell(&cell, first, last, empty);
                self.col = self.col.saturating_add(repeat);
            }
            ("table:table-cell" | "table:covered-table-cell", true) => self.close_cell(),
            ("office:annotation", false) if !empty => self.annotation += 1,
            ("office:annotation", true) => self.annotation = self.annotation.saturating_sub(1),
            ("text:p", false) if self.annotation == 0 => {
                if let Some(open) = self.open.as_mut() {
                    open.paragraphs += 1;
                    if open.paragraphs > 1 {
                        open.text.push(b'\n');
                    }
                    open.in_p = !empty;
                }
            }
            ("text:p", true) => {
                if let Some(open) = self.open.as_mut() {
                    open.in_p = false;
                }
            }
            ("text:s" | "text:tab" | "text:line-break", false) if self.annotation == 0 => {
                let Some(open) = self.open.as_mut().filter(|o| o.in_p) else {
                    return;
                };
                let (byte, count) = match name {
                    "text:s" => (b' ', number("text:c").unwrap_or(1) as usize),
                    "text:tab" => (b'\t', 1),
                    _ => (b'\n', 1),
                };
                let room = self
                    .max_text
                    .saturating_add(1)
                    .saturating_sub(open.text.len());
                open.text.extend(std::iter::repeat_n(byte, count.min(room)));
            }
            _ => {}
        }
    }

    /// The start of a cell at `first`, repeated to `last`.
    fn cell(&mut self, cell: &CellAttrs<'_>, first: (u32, u32), last: (u32, u32), empty: bool) {
        let float = cell.value.filter(|_| cell.value_type == Some("float"));
        if let Some(value) = float.and_then(|v| v.parse::<f64>().ok()) {
            if self
                .cell_style(cell.style)
                .is_some_and(|s| self.styles.is_boolean(s))
            {
                self.set_bool(first, last, value != 0.0);
            } else if (value == 0.0 || value == 1.0) && !empty {
                self.open = Some(Open::new(first, last, Pending::Shown(value == 1.0)));
            }
            return;
        }
        let Some(formula) = cell.formula else {
            return;
        };
        if cell.value_type == Some("string") || cell.value.is_some() || cell.other_value {
            return;
        }
        let formula = formula_text(&unescape(formula));
        if empty {
            self.push_block(first, last, Cell::FormulaWithoutValue(formula));
        } else {
            self.open = Some(Open::new(first, last, Pending::Formula(formula)));
        }
    }

    /// The cell's style: its own, else its row's default, else its column's.
    fn cell_style<'t>(&'t self, own: Option<&'t str>) -> Option<&'t str> {
        if own.is_some() {
            return own;
        }
        if let Some(s) = &self.row_style {
            return Some(s);
        }
        let i = self.columns.partition_point(|c| c.1 <= self.col);
        self.columns
            .get(i)
            .filter(|c| c.0 <= self.col)
            .and_then(|c| c.2.as_deref())
    }

    fn close_cell(&mut self) {
        let Some(open) = self.open.take() else {
            return;
        };
        let text = unescape(&String::from_utf8_lossy(&open.text));
        match open.what {
            Pending::Shown(value) => {
                let word = if value { "TRUE" } else { "FALSE" };
                if open.paragraphs == 1 && text.trim().eq_ignore_ascii_case(word) {
                    self.set_bool(open.first, open.last, value);
                }
            }
            Pending::Formula(formula) => {
                let cell = match open.paragraphs {
                    0 => Cell::FormulaWithoutValue(formula),
                    _ if text.is_empty() => return,
                    _ => Cell::Text(text),
                };
                self.push_block(open.first, open.last, cell);
            }
        }
    }

    /// Records `cell` over `first..=last`, within the largest sheet.
    fn push_block(&mut self, first: (u32, u32), last: (u32, u32), cell: Cell) {
        if first.0 < SHEET_ROWS && first.1 < SHEET_COLUMNS {
            let last = (last.0.min(SHEET_ROWS - 1), last.1.min(SHEET_COLUMNS - 1));
            self.blocks.push(Block { first, last, cell });
        }
    }

    /// Turns the numbers calamine read in `first..=last` into booleans.
    fn set_bool(&mut self, first: (u32, u32), last: (u32, u32), value: bool) {
        let (Some(start), Some(end)) = (self.range.start(), self.range.end()) else {
            return;
        };
        let rows = first.0.max(start.0)..=last.0.min(end.0);
        for r in rows {
            for c in first.1.max(start.1)..=last.1.min(end.1) {
                if matches!(self.range.get_value((r, c)), Some(Data::Float(_))) {
                    self.range.set_value((r, c), Data::Bool(value));
                }
            }
        }
    }
}

/// The attributes of a cell's start tag this scan uses, read in one pass
/// (a sheet has hundreds of thousands of cells).
#[derive(Debug, Default)]
struct CellAttrs<'t> {
    rows_spanned: u32,
    columns_spanned: u32,
    repeated: u32,
    value_type: Option<&'t str>,
    /// `office:value`.
    value: Option<&'t str>,
    /// `office:string-value`, `-date-value`, `-time-value` or `-boolean-value`.
    other_value: bool,
    formula: Option<&'t str>,
    style: Option<&'t str>,
}

impl<'t> CellAttrs<'t> {
    fn parse(tag: &'t str) -> Self {
        let count = |v: &str| v.parse::<u32>().ok().filter(|&n| n > 0).unwrap_or(1);
        let mut a = CellAttrs {
            rows_spanned: 1,
            columns_spanned: 1,
            repeated: 1,
            ..CellAttrs::default()
        };
        for (name, value) in attributes(tag) {
            match name {
                "table:number-rows-spanned" => a.rows_spanned = count(value),
                "table:number-columns-spanned" => a.columns_spanned = count(value),
                "table:number-columns-repeated" => a.repeated = count(value),
                "office:value-type" => a.value_type = Some(value),
                "office:value" => a.value = Some(value),
                "office:string-value"
                | "office:date-value"
                | "office:time-value"
                | "office:boolean-value" => a.other_value = true,
                "table:formula" => a.formula = Some(value),
                "table:style-name" => a.style = Some(value),
                _ => {}
            }
        }
        a
    }
}

impl Open {
    fn new(first: (u32, u32), last: (u32, u32), what: Pending) -> Self {
        Open {
            first,
            last,
            what,
            text: Vec::new(),
            paragraphs: 0,
            in_p: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(xml: &str, sheet: &str, range: &mut Range<Data>) -> (Vec<Dimensions>, Vec<Block>) {
        let mut s = Scan::new(sheet, Styles::default(), range, 100);
        for_each_event(std::io::BufReader::with_capacity(7, xml.as_bytes()), |e| {
            s.event(e)
        });
        (s.merges, s.blocks)
    }

    fn merges(xml: &str, sheet: &str) -> Vec<Dimensions> {
        run(xml, sheet, &mut Range::default()).0
    }

    #[test]
    fn spans_are_placed_after_repeated_rows_and_columns() {
        let xml = r#"<office:body><table:table table:name="Other"><table:table-row><table:table-cell table:number-rows-spanned="9"/></table:table-row></table:table>
<table:table table:name="A &amp; B"><table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>
<table:table-row><table:table-cell table:formula="of:=[.A1]>0" table:number-columns-repeated="3"/><table:table-cell table:number-rows-spanned="2" office:value-type="string"><text:p>x &lt; y</text:p></table:table-cell><table:covered-table-cell table:number-columns-repeated="2"/><table:table-cell table:number-columns-spanned="2"/></table:table-row>
<table:table-row/><table:table-row><table:covered-table-cell/></table:table-row></table:table></office:body>"#;
        assert_eq!(
            merges(xml, "A & B"),
            vec![
                Dimensions::new((2, 3), (3, 3)),
                Dimensions::new((2, 6), (2, 7))
            ]
        );
        assert_eq!(merges(xml, "Other"), vec![Dimensions::new((0, 0), (8, 0))]);
        assert!(merges(xml, "None").is_empty());
    }

    /// A range of `rows` × 3 floats 1.0.
    fn ones(rows: u32) -> Range<Data> {
        let mut range = Range::new((0, 0), (rows - 1, 2));
        for r in 0..rows {
            for c in 0..3 {
                range.set_value((r, c), Data::Float(1.0));
            }
        }
        range
    }

    #[test]
    fn floats_with_a_boolean_style_or_shown_as_true_or_false_become_booleans() {
        let xml = r#"<office:document-content><office:automatic-styles><number:boolean-style style:name="N99"><number:boolean/></number:boolean-style><style:style style:name="ce1" style:family="table-cell" style:data-style-name="N99"/><style:style style:name="ce2" style:family="table-cell" style:parent-style-name="ce1"/><style:style style:name="ce3" style:family="table-cell" style:data-style-name="N0"/></office:automatic-styles><office:body><table:table table:name="S"><table:table-column/><table:table-column table:default-cell-style-name="ce2"/><table:table-column/>
<table:table-row><table:table-cell table:style-name="ce1" office:value-type="float" office:value="0"><text:p>0</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="2"><text:p>2</text:p></table:table-cell><table:table-cell table:style-name="ce3" office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell></table:table-row>
<table:table-row table:number-rows-repeated="2"><table:table-cell table:formula="of:=TRUE()" office:value-type="float" office:value="1" table:number-columns-repeated="2"><text:p>TRUE</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="1"><text:p>1</text:p><office:annotation><text:p>TRUE</text:p></office:annotation></table:table-cell></table:table-row>
<table:table-row table:default-cell-style-name="ce3"><table:table-cell office:value-type="float" office:value="0"><text:p>FALSE</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="1"><text:p>WAHR</text:p></table:table-cell><table:table-cell office:value-type="float" office:value="1"><text:p>TRUE</text:p><text:p>TRUE</text:p></table:table-cell></table:table-row>
</table:table></office:body></office:document-content>"#;
        let mut range = ones(4);
        run(xml, "S", &mut range);
        let got: Vec<Vec<Data>> = range.rows().map(|r| r.to_vec()).collect();
        let (t, f, one) = (Data::Bool(true), Data::Bool(false), Data::Float(1.0));
        assert_eq!(
            got,
            vec![
                // A own boolean style; B the column's default (ce2 → ce1);
                // C a number format of its own.
                vec![f.clone(), t.clone(), one.clone()],
                // Shown as TRUE (repeated over two rows and two columns);
                // a comment's text is not what the cell shows.
                vec![t.clone(), t.clone(), one.clone()],
                vec![t, Data::Bool(true), one.clone()],
                // FALSE shown for 0; the row's number style wins over the
                // column's boolean one; other words and two paragraphs are
                // not booleans.
                vec![f, one.clone(), one],
            ]
        );
    }

    #[test]
    fn formulas_without_a_value_are_found_and_cached_text_is_kept() {
        let xml = r#"<office:body><table:table table:name="S"><table:table-row>
<table:table-cell table:formula="of:=[.A2]&amp;[.B2]"/>
<table:table-cell table:formula="of:=&quot;&quot;"><text:p/></table:table-cell>
<table:table-cell table:formula="of:=[Data.A1]"><text:p>cached <text:s text:c="2"/>text</text:p></table:table-cell>
<table:table-cell table:formula="of:=SUM([.A1:.A3])" office:value-type="float" office:value="6"><text:p>6</text:p></table:table-cell>
<table:table-cell table:formula="of:=[.C1]" office:value-type="string"/>
<table:table-cell table:formula="of:=1+1" table:number-columns-repeated="2"></table:table-cell>
<table:table-cell table:formula="of:=[.G1]*2" office:value-type="float"/>
</table:table-row></table:table></office:body>"#;
        let (_, blocks) = run(xml, "S", &mut Range::default());
        let block = |c0: u32, c1: u32, cell: Cell| Block {
            first: (0, c0),
            last: (0, c1),
            cell,
        };
        assert_eq!(
            blocks,
            vec![
                block(0, 0, Cell::FormulaWithoutValue("A2&B2".into())),
                block(2, 2, Cell::Text("cached   text".into())),
                block(5, 6, Cell::FormulaWithoutValue("1+1".into())),
                // A value type without its value caches nothing either.
                block(7, 7, Cell::FormulaWithoutValue("G1*2".into())),
            ]
        );
    }

    #[test]
    fn cell_attributes_are_read_in_one_pass() {
        let cell = CellAttrs::parse(
            r#"table:table-cell table:number-columns-repeated="0" table:number-rows-spanned="3""#,
        );
        assert_eq!(
            (cell.repeated, cell.rows_spanned, cell.columns_spanned),
            (1, 3, 1)
        );
    }

    #[test]
    fn repeats_beyond_the_largest_sheet_are_cut_to_it() {
        let xml = r#"<table:table table:name="S"><table:table-row table:number-rows-repeated="4000000000"><table:table-cell table:formula="of:=1" table:number-columns-repeated="4000000000"/></table:table-row><table:table-row><table:table-cell table:formula="of:=2"/></table:table-row></table:table>"#;
        let (_, blocks) = run(xml, "S", &mut Range::default());
        assert_eq!(
            blocks,
            vec![Block {
                first: (0, 0),
                last: (1_048_575, 16_383),
                cell: Cell::FormulaWithoutValue("1".into()),
            }]
        );
    }
}
