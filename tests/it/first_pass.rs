//! An .xlsx sheet's first pass (`src/source/xlsx/merges.rs`: its merged
//! ranges, the whole sheet inflated through the limits, its size and CRC
//! checked) comes before any row is emitted: a sheet whose CRC is wrong
//! emits no row, whether it holds a few rows or tens of megabytes of them;
//! merged ranges at both ends of a large sheet are filled as calamine's
//! reader with the same ranges fills them. (Written for the first pass on
//! a thread beside the row pass, tried and dropped: docs/BENCHMARKS.md,
//! "The sheet's two passes side by side".)

use std::path::Path;

use sheetpipe::testkit::{mini_xlsx_stored, sheet, xlsx_read_both_ways};

use crate::helpers::{json_out, run_cli, tempdir};

/// `n` rows under a `name` header, each an inline string of ~`len` bytes
/// in column A and its row number in B (but not the cells `skip` names),
/// then `merges` after `<sheetData>`.
pub(crate) fn rows_xml(n: usize, len: usize, merges: &[&str], skip: &[String]) -> String {
    let mut rows =
        String::from(r#"<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c></row>"#);
    let pad = "x".repeat(len);
    for r in 2..n + 2 {
        let (a, b) = (format!("A{r}"), format!("B{r}"));
        rows.push_str(&format!(r#"<row r="{r}">"#));
        if !skip.contains(&a) {
            rows.push_str(&format!(
                r#"<c r="{a}" t="inlineStr"><is><t>n{r}{pad}</t></is></c>"#
            ));
        }
        if !skip.contains(&b) {
            rows.push_str(&format!(r#"<c r="{b}"><v>{r}</v></c>"#));
        }
        rows.push_str("</row>");
    }
    let mut xml = sheet(&rows);
    if !merges.is_empty() {
        let cells: String = merges
            .iter()
            .map(|m| format!(r#"<mergeCell ref="{m}"/>"#))
            .collect();
        xml = xml.replace(
            "</sheetData>",
            &format!(
                r#"</sheetData><mergeCells count="{}">{cells}</mergeCells>"#,
                merges.len()
            ),
        );
    }
    xml
}

/// Flips the stored CRC-32 of zip entry `name` in its local header and in
/// the central directory.
fn break_crc(path: &Path, name: &str) {
    let mut zip = std::fs::read(path).unwrap();
    let mut flipped = 0;
    for (sig, crc_at, name_len_at, name_at) in
        [(b"PK\x03\x04", 14, 26, 30), (b"PK\x01\x02", 16, 28, 46)]
    {
        let mut i = 0;
        while i + name_at < zip.len() {
            if &zip[i..i + 4] == sig {
                let len =
                    u16::from_le_bytes([zip[i + name_len_at], zip[i + name_len_at + 1]]) as usize;
                if zip.get(i + name_at..i + name_at + len) == Some(name.as_bytes()) {
                    zip[i + crc_at] ^= 0xff;
                    flipped += 1;
                }
            }
            i += 1;
        }
    }
    assert_eq!(flipped, 2, "the entry's two headers");
    std::fs::write(path, zip).unwrap();
}

#[test]
fn a_sheet_whose_crc_is_wrong_emits_no_row_however_many_it_holds() {
    let dir = tempdir();
    // 20 rows, and 90,000 rows of ~200 bytes (about 25 MB assembled).
    for (n, file) in [(20, "small.xlsx"), (90_000, "large.xlsx")] {
        let path = dir.path().join(file);
        mini_xlsx_stored(&path, &rows_xml(n, 200, &[], &[]), None, &[]);
        break_crc(&path, "xl/worksheets/sheet1.xml");
        let out = run_cli(dir.path(), &["import", file, "--json", "--method", "batch"]);
        let v = json_out(&out);
        assert_eq!(out.status.code(), Some(3), "{file}: {v}");
        let err = v["error"].as_str().unwrap_or_default();
        assert!(
            err.contains("sheet1.xml") && err.to_lowercase().contains("checksum"),
            "{file}: {err}"
        );
        assert_eq!(v["stats"]["total_records"], 0, "{file}: {v}");
        assert_eq!(v["stats"]["inserted"], 0, "{file}: {v}");
    }
}

#[test]
fn merged_ranges_at_both_ends_of_a_large_sheet_are_filled() {
    let dir = tempdir();
    let path = dir.path().join("merged.xlsx");
    let n = 90_000;
    let last = n + 1;
    // A2:A4 at the start (A3, A4 empty) and B over the last three rows
    // (the last two empty): both covered parts read the top-left value.
    let end = format!("B{}:B{}", last - 2, last);
    let skip = [
        "A3".to_string(),
        "A4".to_string(),
        format!("B{}", last - 1),
        format!("B{last}"),
    ];
    mini_xlsx_stored(&path, &rows_xml(n, 200, &["A2:A4", &end], &skip), None, &[]);
    let (ours, theirs) = xlsx_read_both_ways(&path);
    let (ours, theirs) = (ours.unwrap(), theirs.unwrap());
    assert_eq!(ours.len(), n + 1);
    assert!(ours == theirs, "the rows differ from calamine's");
    let cell = |row: usize, col: usize| ours[row - 1].cells.get(col).cloned();
    assert_eq!(cell(3, 0), cell(2, 0));
    assert_eq!(cell(4, 0), cell(2, 0));
    assert!(format!("{:?}", cell(2, 0)).contains("n2x"));
    assert_eq!(cell(last, 1), cell(last - 2, 1));
    assert_eq!(cell(last - 1, 1), cell(last - 2, 1));
    assert!(cell(last - 2, 1).is_some_and(|c| c != sheetpipe::model::Cell::Empty));
}
