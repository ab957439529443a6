//! Hand-made workbooks for tests: a minimal .xlsx written part by part, so
//! a test can put exactly the bytes it needs where a parser will look
//! (hostile shared strings, malformed references, bombs). Shared by the
//! crate's unit tests and the integration tests; not part of the API.

use std::io::Write;
use std::path::Path;

const WORKBOOK: &str = r#"<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
const WORKBOOK_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#;
const ROOT_RELS: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#;

/// The workbook part, for tests that alter it.
pub fn workbook_xml() -> &'static str {
    WORKBOOK
}

/// A shared-strings part holding `strings`.
pub fn sst<S: AsRef<str>>(strings: &[S]) -> String {
    let items: String = strings
        .iter()
        .map(|s| format!("<si><t>{}</t></si>", s.as_ref()))
        .collect();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{n}" uniqueCount="{n}">{items}</sst>"#,
        n = strings.len()
    )
}

/// A worksheet part with this `<sheetData>` content.
pub fn sheet(rows: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>{rows}</sheetData></worksheet>"#
    )
}

/// Header `name` (shared string 0) over one data row naming shared string
/// `index` (raw text, so tests can put anything there).
pub fn name_rows(index: &str) -> String {
    format!(
        r#"<row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" t="s"><v>{index}</v></c></row>"#
    )
}

/// Writes a minimal .xlsx: `sheet` as sheet1 and `sst` as the shared
/// strings (when given); `extra` parts are added or replace these. Every
/// part is deflated (ratio and inflation tests need real compression).
pub fn mini_xlsx(path: &Path, sheet: &str, sst: Option<&str>, extra: &[(&str, &[u8])]) {
    write_parts(path, parts(sheet, sst, extra), usize::MAX);
}

/// [`mini_xlsx`], with parts over 1 MiB stored instead of deflated:
/// deflating tens of megabytes in a debug test build is slow.
pub fn mini_xlsx_stored(path: &Path, sheet: &str, sst: Option<&str>, extra: &[(&str, &[u8])]) {
    write_parts(path, parts(sheet, sst, extra), 1 << 20);
}

fn parts<'a>(
    sheet: &str,
    sst: Option<&str>,
    extra: &[(&'a str, &[u8])],
) -> Vec<(&'a str, Vec<u8>)> {
    let mut parts: Vec<(&str, Vec<u8>)> = vec![
        ("_rels/.rels", ROOT_RELS.into()),
        ("xl/workbook.xml", WORKBOOK.into()),
        ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS.into()),
        ("xl/worksheets/sheet1.xml", sheet.into()),
    ];
    if let Some(sst) = sst {
        parts.push(("xl/sharedStrings.xml", sst.into()));
    }
    for (name, bytes) in extra {
        parts.retain(|(n, _)| n != name);
        parts.push((name, bytes.to_vec()));
    }
    parts
}

fn write_parts(path: &Path, parts: Vec<(&str, Vec<u8>)>, store_over: usize) {
    let mut zip = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    for (name, bytes) in parts {
        let method = if bytes.len() > store_over {
            zip::CompressionMethod::Stored
        } else {
            zip::CompressionMethod::Deflated
        };
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(method)
            .large_file(bytes.len() > u32::MAX as usize);
        zip.start_file(name, opts).unwrap();
        zip.write_all(&bytes).unwrap();
    }
    zip.finish().unwrap();
}

/// `n` distinct strings of about `len` bytes each.
pub fn many_strings(n: usize, len: usize) -> Vec<String> {
    let mut seed = 7u64;
    (0..n)
        .map(|i| {
            let mut s = format!("s{i}-");
            while s.len() < len {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                s.push((b'a' + ((seed >> 33) % 26) as u8) as char);
            }
            s
        })
        .collect()
}

/// The default sheet of an .xlsx read by our reader and by calamine's
/// (`tests/it/xlsx_reader.rs`).
pub use crate::source::xlsx_read_both_ways;
