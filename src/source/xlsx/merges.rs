//! Merged ranges of one .xlsx worksheet, found before its rows stream,
//! and the small attribute helpers the ods and xlsb scans share.
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

/// Largest workbook / relationships / content part the scans read.
pub(crate) const MAX_PART_BYTES: u64 = 16 << 20;

/// The value of attribute `name` (any namespace prefix when `name` starts
/// with `:`) in one XML start tag. Allocates nothing: the ods scan asks
/// this several times for every cell.
pub(crate) fn attr<'t>(tag: &'t str, name: &str) -> Option<&'t str> {
    let mut from = 0;
    while let Some(found) = tag[from..].find(name) {
        let at = from + found;
        let rest = &tag[at + name.len()..];
        let boundary = name.starts_with(':') || tag[..at].ends_with(char::is_whitespace);
        if boundary {
            if let Some(value) = rest.strip_prefix("=\"") {
                return value.find('"').map(|len| &value[..len]);
            }
        }
        // `name` starts with an ASCII byte, so the next byte is a boundary.
        from = at + 1;
    }
    None
}

pub(crate) fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The target of relationship `rid` in workbook.xml.rels.
pub(crate) fn rel_target(rels: &str, rid: &str) -> Option<String> {
    rels.split('<')
        .filter(|t| t.starts_with("Relationship ") || t.contains(":Relationship "))
        .find(|t| attr(t, "Id") == Some(rid))
        .and_then(|t| attr(t, "Target"))
        .map(unescape)
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
                // Ranges within one row fill nothing (`cells::Merges`);
                // the rest are capped like xlsb's (the caller refuses more).
                if let Some(d) = attr(tag, "ref").and_then(parse_range) {
                    if d.end.0 > d.start.0 && out.len() <= crate::source::xlsb::merges::MAX_RANGES {
                        out.push(d);
                    }
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
    fn relationship_targets_are_found_by_id() {
        let rels = r#"<Relationships><Relationship Id="rId1" Type="x" Target="worksheets/sheet2.xml"/><Relationship Id="rId2" Target="/xl/worksheets/sheet1.xml"/></Relationships>"#;
        assert_eq!(
            rel_target(rels, "rId1").as_deref(),
            Some("worksheets/sheet2.xml")
        );
        assert_eq!(
            rel_target(rels, "rId2").as_deref(),
            Some("/xl/worksheets/sheet1.xml")
        );
    }

    #[test]
    fn attributes_are_found_by_whole_name() {
        let tag = r#"c:x r:id="rId1" id="no" xid="x" name="A" table:style-name="ce1" name2="B""#;
        assert_eq!(attr(tag, "id"), Some("no"));
        assert_eq!(attr(tag, ":id"), Some("rId1"));
        assert_eq!(attr(tag, "name"), Some("A"));
        assert_eq!(attr(tag, "name2"), Some("B"));
        assert_eq!(attr(tag, "style-name"), None);
        assert_eq!(attr(tag, "table:style-name"), Some("ce1"));
        assert_eq!(attr(tag, "missing"), None);
        assert_eq!(attr(r#"a b="unterminated"#, "b"), None);
    }

    #[test]
    fn merge_refs_are_found_across_read_boundaries() {
        let mut xml = String::from("<worksheet><sheetData>");
        xml.push_str(&"<row><c><v>1</v></c></row>".repeat(40_000));
        xml.push_str(r#"</sheetData><mergeCells count="3"><mergeCell ref="B2:B4"/><x:mergeCell ref="AA10:AB11"/><mergeCell ref="C1:D1"/></mergeCells></worksheet>"#);
        let found = find_merges(std::io::BufReader::with_capacity(1000, xml.as_bytes()));
        // C1:D1 lies in one row: it fills nothing and is not kept.
        assert_eq!(
            found,
            vec![
                Dimensions::new((1, 1), (3, 1)),
                Dimensions::new((9, 26), (10, 27))
            ]
        );
    }
}
