//! Hostile zip containers, each built byte by byte, and what the guard
//! says about them.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::*;

use crate::testkit::{mini_xlsx, sheet, sst, workbook_xml};

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.xlsx");
    (dir, path)
}

fn guard(path: &Path, limits: &Limits) -> Result<(), SourceError> {
    check(path, Format::Xlsx, limits)
}

const TWO_ROWS: &str = r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>1</v></c><c r="B2"><v>42</v></c></row>"#;

#[test]
fn a_well_formed_workbook_passes() {
    let (_d, path) = tmp();
    mini_xlsx(&path, &sheet(TWO_ROWS), Some(&sst(&["name", "Acme"])), &[]);
    guard(&path, &Limits::default()).unwrap();
}

#[test]
fn sst_unique_count_bomb_is_refused_before_calamine_reserves_it() {
    let (_d, path) = tmp();
    let bomb =
        sst(&["name", "Acme"]).replace(r#"uniqueCount="2""#, r#"uniqueCount="1000000000000000""#);
    mini_xlsx(&path, &sheet(TWO_ROWS), Some(&bomb), &[]);
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(err.contains("uniqueCount (1000000000000000)"), "{err}");
    assert!(err.contains("--max-shared-strings"), "{err}");
}

#[test]
fn too_many_shared_strings_are_counted_not_trusted() {
    let (_d, path) = tmp();
    let many: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let liar = sst(&many).replace(r#"uniqueCount="50""#, r#"uniqueCount="1""#);
    mini_xlsx(&path, &sheet(TWO_ROWS), Some(&liar), &[]);
    let limits = Limits {
        max_shared_strings: 10,
        ..Limits::default()
    };
    let err = guard(&path, &limits).unwrap_err().to_string();
    assert!(err.contains("number of strings (11)"), "{err}");
}

#[test]
fn non_numeric_shared_string_index_is_an_error_not_string_zero() {
    let (_d, path) = tmp();
    let rows = TWO_ROWS.replace("<v>1</v>", "<v>abc</v>");
    mini_xlsx(&path, &sheet(&rows), Some(&sst(&["name", "Acme"])), &[]);
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(err.contains("cell A2"), "{err}");
    assert!(err.contains("\"abc\", which is not a number"), "{err}");
}

#[test]
fn shared_string_index_past_the_table_is_an_error() {
    let (_d, path) = tmp();
    let rows = TWO_ROWS.replace("<v>1</v>", "<v>7</v>");
    mini_xlsx(&path, &sheet(&rows), Some(&sst(&["name", "Acme"])), &[]);
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(
        err.contains("shared string #7, but the table holds 2"),
        "{err}"
    );
}

#[test]
fn malformed_cell_references_and_row_numbers_are_errors() {
    for (bad, needle) in [
        (r#"r="A0""#, "\"A0\""),
        (r#"r="1A""#, "\"1A\""),
        (r#"r="XFE2""#, "\"XFE2\""),
        (r#"r="A99999999999""#, "\"A99999999999\""),
    ] {
        let (_d, path) = tmp();
        let rows = TWO_ROWS.replace(r#"r="B2""#, bad);
        mini_xlsx(&path, &sheet(&rows), Some(&sst(&["name", "Acme"])), &[]);
        let err = guard(&path, &Limits::default()).unwrap_err().to_string();
        assert!(err.contains(needle) && err.contains("malformed"), "{err}");
    }
    let (_d, path) = tmp();
    let rows = TWO_ROWS.replace(r#"<row r="2">"#, r#"<row r="x2">"#);
    mini_xlsx(&path, &sheet(&rows), Some(&sst(&["name", "Acme"])), &[]);
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(err.contains("row number \"x2\""), "{err}");
}

#[test]
fn an_entity_bomb_is_refused() {
    let (_d, path) = tmp();
    let bomb = workbook_xml().replace(
        "<workbook ",
        "<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><workbook ",
    );
    mini_xlsx(
        &path,
        &sheet(TWO_ROWS),
        Some(&sst(&["name", "Acme"])),
        &[("xl/workbook.xml", bomb.as_bytes())],
    );
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(
        err.contains("xl/workbook.xml") && err.contains("<!DOCTYPE>"),
        "{err}"
    );
}

#[test]
fn inflation_is_capped_per_entry_in_total_and_by_ratio() {
    let (_d, path) = tmp();
    // Pseudo-random letters: about 1.6:1 under deflate.
    let mut seed = 42u64;
    let blob: Vec<u8> = (0..8 << 20)
        .map(|_| {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            b'a' + ((seed >> 33) % 26) as u8
        })
        .collect();
    mini_xlsx(
        &path,
        &sheet(TWO_ROWS),
        Some(&sst(&["name", "Acme"])),
        &[("xl/media/blob.bin", &blob)],
    );
    guard(&path, &Limits::default()).unwrap();
    let per_entry = Limits {
        max_entry_bytes: 1 << 20,
        ..Limits::default()
    };
    let err = guard(&path, &per_entry).unwrap_err().to_string();
    assert!(
        err.contains("xl/media/blob.bin") && err.contains("--max-entry-bytes"),
        "{err}"
    );
    let total = Limits {
        max_inflated_bytes: 4 << 20,
        ..Limits::default()
    };
    let err = guard(&path, &total).unwrap_err().to_string();
    assert!(err.contains("--max-inflated-bytes"), "{err}");
    let zeros = vec![b'0'; 2 << 20];
    mini_xlsx(
        &path,
        &sheet(TWO_ROWS),
        Some(&sst(&["n", "A"])),
        &[("xl/media/blob.bin", &zeros)],
    );
    let ratio = Limits {
        max_inflate_ratio: 100,
        ..Limits::default()
    };
    let err = guard(&path, &ratio).unwrap_err().to_string();
    assert!(
        err.contains("ratio") && err.contains("--max-inflate-ratio"),
        "{err}"
    );
}

#[test]
fn a_huge_text_run_is_refused_before_any_parser_holds_it() {
    let (_d, path) = tmp();
    let big = "x".repeat(300_000);
    mini_xlsx(&path, &sheet(TWO_ROWS), Some(&sst(&["name", &big])), &[]);
    let limits = Limits {
        max_cell_bytes: 100_000,
        ..Limits::default()
    };
    let err = guard(&path, &limits).unwrap_err().to_string();
    assert!(
        err.contains("xl/sharedStrings.xml") && err.contains("--max-cell-bytes"),
        "{err}"
    );
}

#[test]
fn too_many_entries_are_refused() {
    let (_d, path) = tmp();
    mini_xlsx(&path, &sheet(TWO_ROWS), None, &[]);
    let limits = Limits {
        max_zip_entries: 3,
        ..Limits::default()
    };
    let err = guard(&path, &limits).unwrap_err().to_string();
    assert!(
        err.contains("entry count (4)") && err.contains("--max-zip-entries"),
        "{err}"
    );
}

/// Rewrites every size field that says `from` (little-endian u32) to `to`.
fn patch_sizes(bytes: &mut [u8], from: u32, to: u32) {
    let (from, to) = (from.to_le_bytes(), to.to_le_bytes());
    for i in 0..bytes.len() - 4 {
        if bytes[i..i + 4] == from {
            bytes[i..i + 4].copy_from_slice(&to);
        }
    }
}

#[test]
fn a_header_that_lies_about_the_size_is_refused() {
    let (_d, path) = tmp();
    // A stored entry with an unusual length, so its size fields are unique.
    let payload = vec![b'z'; 77_777];
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("xl/workbook.xml", opts).unwrap();
    zip.write_all(workbook_xml().as_bytes()).unwrap();
    zip.start_file("xl/media/a.bin", opts).unwrap();
    zip.write_all(&payload).unwrap();
    zip.finish().unwrap();
    let honest = std::fs::read(&path).unwrap();
    guard(&path, &Limits::default()).unwrap();
    for claim in [100, 90_000] {
        let mut bytes = honest.clone();
        patch_sizes(&mut bytes, 77_777, claim);
        std::fs::write(&path, &bytes).unwrap();
        let err = guard(&path, &Limits::default()).unwrap_err().to_string();
        assert!(
            err.contains("xl/media/a.bin") && err.contains("declare"),
            "{err}"
        );
    }
}

#[test]
fn a_truncated_zip_is_refused() {
    let (_d, path) = tmp();
    mini_xlsx(&path, &sheet(TWO_ROWS), Some(&sst(&["name", "Acme"])), &[]);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(err.contains("xlsx file is invalid"), "{err}");
}

fn ods(path: &Path, rows: &str) {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body><office:spreadsheet><table:table table:name="S">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("content.xml", stored).unwrap();
    zip.write_all(content.as_bytes()).unwrap();
    zip.finish().unwrap();
}

const ODS_VALUE: &str =
    r#"<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>"#;

#[test]
fn ods_repeats_are_expanded_in_counts_before_any_reader_expands_them() {
    let (_d, path) = tmp();
    // LibreOffice's own padding: a value, then a million empty rows.
    let padded = format!(
        r#"<table:table-row>{ODS_VALUE}</table:table-row><table:table-row table:number-rows-repeated="1048575"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>"#
    );
    ods(&path, &padded);
    check(&path, Format::Ods, &Limits::default()).unwrap();
    // calamine#594: one value repeated a billion times down...
    let down = format!(
        r#"<table:table-row table:number-rows-repeated="999999999">{ODS_VALUE}</table:table-row>"#
    );
    ods(&path, &down);
    let err = check(&path, Format::Ods, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rows (999999999)") && err.contains("--max-rows"),
        "{err}"
    );
    // ...or across.
    let across = format!(
        r#"<table:table-row><table:table-cell table:number-columns-repeated="100000"/>{ODS_VALUE}</table:table-row>"#
    );
    ods(&path, &across);
    let err = check(&path, Format::Ods, &Limits::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("column 100001") && err.contains("--max-columns"),
        "{err}"
    );
}

#[test]
fn overlapping_entries_are_refused() {
    let (_d, path) = tmp();
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("xl/workbook.xml", opts).unwrap();
    zip.write_all(workbook_xml().as_bytes()).unwrap();
    zip.start_file("xl/media/kernel.bin", opts).unwrap();
    zip.write_all(&[b'a'; 4096]).unwrap();
    // A second directory entry pointing at the same bytes: the
    // "non-recursive zip bomb" multiplies one kernel this way.
    zip.shallow_copy_file("xl/media/kernel.bin", "xl/media/copy.bin")
        .unwrap();
    zip.finish().unwrap();
    let err = guard(&path, &Limits::default()).unwrap_err().to_string();
    assert!(err.contains("overlap"), "{err}");
}
