//! Merged ranges of one .xlsx worksheet, found before its rows stream.
//!
//! `<mergeCells>` comes after `<sheetData>` in the sheet's XML, so the
//! streaming reader would see it only after every row was emitted. The
//! reader inflates the sheet's zip entry once before reading it and this
//! module looks for `mergeCell ref="…"` with a byte search (no XML
//! parsing); that pass is also where the sheet's size limits, declared
//! size and CRC are checked (docs/FORMATS.md has the figures).

use std::io::Read;

use calamine::Dimensions;
use memchr::memmem;

/// The value of attribute `name` (any namespace prefix when `name` starts
/// with `:`) in one XML start tag.
pub(super) fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let mut rest = tag;
    loop {
        let at = rest.find(&format!("{name}=\""))?;
        let before = rest[..at].chars().last();
        let value_start = at + name.len() + 2;
        let boundary = name.starts_with(':') || before.is_some_and(char::is_whitespace);
        if boundary {
            let len = rest[value_start..].find('"')?;
            return Some(&rest[value_start..value_start + len]);
        }
        rest = &rest[value_start..];
    }
}

pub(super) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Streams the sheet's XML and collects every `mergeCell ref="A1:B2"`.
pub(super) fn find_merges(mut entry: impl Read) -> Vec<Dimensions> {
    const TAIL: usize = 256;
    let finder = memmem::Finder::new(b"mergeCell ");
    let mut buf = vec![0u8; 256 * 1024];
    let mut keep = 0usize;
    let mut out = Vec::new();
    loop {
        let n = match entry.read(&mut buf[keep..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let filled = keep + n;
        let window = &buf[..filled];
        let mut last_end = 0;
        for at in finder.find_iter(window) {
            let tag_end = memchr::memchr(b'>', &window[at..]).map(|e| at + e);
            let Some(tag_end) = tag_end else { break };
            if let Ok(tag) = std::str::from_utf8(&window[at..tag_end]) {
                if let Some(d) = attr(tag, "ref").and_then(parse_range) {
                    out.push(d);
                }
            }
            last_end = tag_end;
        }
        // Keep the tail (a tag may straddle two reads), minus tags done.
        let start = filled.saturating_sub(TAIL).max(last_end);
        buf.copy_within(start..filled, 0);
        keep = filled - start;
    }
    out
}

/// `B2:C5` → 0-based dimensions.
fn parse_range(text: &str) -> Option<Dimensions> {
    let (a, b) = text.split_once(':')?;
    Some(Dimensions::new(parse_cell(a)?, parse_cell(b)?))
}

fn parse_cell(text: &str) -> Option<(u32, u32)> {
    let split = text.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = text.split_at(split);
    let mut col = 0u32;
    for c in letters.bytes() {
        if !c.is_ascii_uppercase() {
            return None;
        }
        col = col.checked_mul(26)?.checked_add((c - b'A' + 1) as u32)?;
    }
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col.checked_sub(1)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_refs_are_found_across_read_boundaries() {
        let mut xml = String::from("<worksheet><sheetData>");
        xml.push_str(&"<row><c><v>1</v></c></row>".repeat(40_000));
        xml.push_str(r#"</sheetData><mergeCells count="2"><mergeCell ref="B2:B4"/><x:mergeCell ref="AA10:AB10"/></mergeCells></worksheet>"#);
        let found = find_merges(std::io::BufReader::with_capacity(1000, xml.as_bytes()));
        assert_eq!(
            found,
            vec![
                Dimensions::new((1, 1), (3, 1)),
                Dimensions::new((9, 26), (9, 27))
            ]
        );
    }
}
