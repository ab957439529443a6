//! Merged ranges of one .ods sheet. calamine reads ods cells but not their
//! spans, so `content.xml` is scanned once more, tag by tag without an XML
//! parser, counting rows and columns the way the format repeats them
//! (`number-rows-repeated`, `number-columns-repeated`, covered cells) and
//! collecting every cell that spans several rows or columns. ods is parsed
//! whole anyway, so this pass is not on a streaming path.

use std::io::Read;
use std::path::Path;

use calamine::Dimensions;

use super::xlsx_merges::{attr, unescape};

/// Longest tag considered; longer ones (never spans) are skipped.
const MAX_TAG: usize = 64 * 1024;

/// The merged ranges of `sheet`, or none when the file cannot be scanned
/// (calamine has then already reported a broken file).
pub(crate) fn merged_ranges(path: &Path, sheet: &str) -> Vec<Dimensions> {
    let Ok(file) = std::fs::File::open(path) else {
        return Vec::new();
    };
    let Ok(mut zip) = zip::ZipArchive::new(std::io::BufReader::new(file)) else {
        return Vec::new();
    };
    let Ok(content) = zip.by_name("content.xml") else {
        return Vec::new();
    };
    let mut scan = Scan::new(sheet);
    for_each_tag(content, |tag| scan.tag(tag));
    scan.merges
}

/// Position tracking inside the wanted sheet.
struct Scan<'s> {
    sheet: &'s str,
    /// Nesting depth of `table:table` inside the wanted sheet (0 = outside).
    depth: u32,
    row: u32,
    row_repeat: u32,
    col: u32,
    merges: Vec<Dimensions>,
}

impl<'s> Scan<'s> {
    fn new(sheet: &'s str) -> Self {
        Scan {
            sheet,
            depth: 0,
            row: 0,
            row_repeat: 1,
            col: 0,
            merges: Vec::new(),
        }
    }

    fn tag(&mut self, tag: &str) {
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = name
            .split([' ', '/', '\t', '\n', '\r'])
            .next()
            .unwrap_or("");
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
            _ if self.depth != 1 => {}
            ("table:table-row", false) => {
                self.row_repeat = number("table:number-rows-repeated").unwrap_or(1);
                self.col = 0;
                if empty {
                    self.row = self.row.saturating_add(self.row_repeat);
                }
            }
            ("table:table-row", true) => self.row = self.row.saturating_add(self.row_repeat),
            ("table:table-cell" | "table:covered-table-cell", false) => {
                let rows = number("table:number-rows-spanned").unwrap_or(1).max(1);
                let cols = number("table:number-columns-spanned").unwrap_or(1).max(1);
                if rows > 1 || cols > 1 {
                    let end = (self.row + rows - 1, self.col.saturating_add(cols - 1));
                    self.merges.push(Dimensions::new((self.row, self.col), end));
                }
                let repeat = number("table:number-columns-repeated").unwrap_or(1);
                self.col = self.col.saturating_add(repeat);
            }
            _ => {}
        }
    }
}

/// Calls `f` with the inside of every tag (`table:table-row …`,
/// `/table:table-row`), streaming `input` a buffer at a time.
fn for_each_tag(mut input: impl Read, mut f: impl FnMut(&str)) {
    let mut buf = vec![0u8; 256 * 1024];
    let mut filled = 0usize;
    loop {
        if filled == buf.len() {
            // One tag fills the buffer: drop it and resynchronise.
            filled = 0;
        }
        let n = match input.read(&mut buf[filled..]) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        filled += n;
        let mut pos = 0;
        while let Some(open) = memchr::memchr(b'<', &buf[pos..filled]).map(|o| pos + o) {
            let Some(close) = tag_end(&buf[open..filled]).map(|c| open + c) else {
                pos = if filled - open > MAX_TAG {
                    filled
                } else {
                    open
                };
                break;
            };
            if let Ok(tag) = std::str::from_utf8(&buf[open + 1..close]) {
                f(tag);
            }
            pos = close + 1;
        }
        if memchr::memchr(b'<', &buf[pos..filled]).is_none() {
            pos = filled;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
}

/// The `>` ending the tag that starts `bytes`; a `>` inside a quoted
/// attribute value (`table:formula="of:=[.A1]>0"`) does not end it.
fn tag_end(bytes: &[u8]) -> Option<usize> {
    let mut quote = None;
    for (i, &b) in bytes.iter().enumerate() {
        match (quote, b) {
            (None, b'"' | b'\'') => quote = Some(b),
            (Some(q), _) if b == q => quote = None,
            (None, b'>') => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(xml: &str, sheet: &str) -> Vec<Dimensions> {
        let mut s = Scan::new(sheet);
        for_each_tag(std::io::BufReader::with_capacity(7, xml.as_bytes()), |t| {
            s.tag(t)
        });
        s.merges
    }

    #[test]
    fn spans_are_placed_after_repeated_rows_and_columns() {
        let xml = r#"<office:body><table:table table:name="Other"><table:table-row><table:table-cell table:number-rows-spanned="9"/></table:table-row></table:table>
<table:table table:name="A &amp; B"><table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row>
<table:table-row><table:table-cell table:formula="of:=[.A1]>0" table:number-columns-repeated="3"/><table:table-cell table:number-rows-spanned="2" office:value-type="string"><text:p>x &lt; y</text:p></table:table-cell><table:covered-table-cell table:number-columns-repeated="2"/><table:table-cell table:number-columns-spanned="2"/></table:table-row>
<table:table-row/><table:table-row><table:covered-table-cell/></table:table-row></table:table></office:body>"#;
        assert_eq!(
            scan(xml, "A & B"),
            vec![
                Dimensions::new((2, 3), (3, 3)),
                Dimensions::new((2, 6), (2, 7))
            ]
        );
        assert_eq!(scan(xml, "Other"), vec![Dimensions::new((0, 0), (8, 0))]);
        assert!(scan(xml, "None").is_empty());
    }
}
