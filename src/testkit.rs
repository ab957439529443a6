//! Hand-made workbooks for tests: a minimal .xlsx written part by part, so
//! a test can put exactly the bytes it needs where a parser will look
//! (hostile shared strings, malformed references, bombs), and a minimal
//! .xlsb built record by record (nothing on this machine writes xlsb); and
//! where the shared corpus of public files is. Shared by the crate's unit
//! tests and the integration tests; not part of the API.

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

/// A file of the shared corpus of public workbooks: `$SHEETPIPE_CORPUS`,
/// else `../shared/corpus` from the crate root (a checkout beside
/// `shared/`, as in CI), else `../../shared/corpus` (a worktree one level
/// deeper). Missing → the caller's test fails; it is never skipped.
pub fn corpus(rel: &str) -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = match std::env::var_os("SHEETPIPE_CORPUS") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => ["../shared/corpus", "../../shared/corpus"]
            .iter()
            .map(|d| root.join(d))
            .find(|d| d.is_dir())
            .unwrap_or_else(|| {
                panic!("../shared/corpus not found from {root:?}; set SHEETPIPE_CORPUS")
            }),
    };
    dir.join(rel)
}

// ---------------------------------------------------------------------------
// .xlsb, built record by record from [MS-XLSB]: no program on this machine
// writes xlsb (LibreOffice only imports it), and calamine cannot write.

/// A cell of a hand-built .xlsb sheet.
#[derive(Debug, Clone, Copy)]
pub enum XlsbCell<'a> {
    /// No record for this column.
    Empty,
    /// BrtCellSt: an inline string.
    Text(&'a str),
    /// BrtCellReal: a number.
    Number(f64),
}

/// One BIFF12 record ([MS-XLSB] 2.1.4): the record type in one or two
/// bytes and the body's size in one to four bytes, seven bits per byte
/// with the high bit set when another byte follows; then the body.
pub fn xlsb_record(typ: u16, body: &[u8]) -> Vec<u8> {
    assert!(
        typ < 16_384 && body.len() < 1 << 21,
        "outside [MS-XLSB] 2.1.4"
    );
    let mut out = Vec::with_capacity(body.len() + 6);
    if typ < 128 {
        out.push(typ as u8);
    } else {
        out.push((typ & 0x7F) as u8 | 0x80);
        out.push((typ >> 7) as u8);
    }
    let mut size = body.len();
    loop {
        let low = (size & 0x7F) as u8;
        size >>= 7;
        if size == 0 {
            out.push(low);
            break;
        }
        out.push(low | 0x80);
    }
    out.extend_from_slice(body);
    out
}

/// An XLWideString: a u32 count of UTF-16 code units, then the units.
fn wide(s: &str) -> Vec<u8> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let mut out = (units.len() as u32).to_le_bytes().to_vec();
    out.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    out
}

/// An RfX: rwFirst, rwLast, colFirst, colLast.
fn rfx(r0: u32, r1: u32, c0: u32, c1: u32) -> Vec<u8> {
    [r0, r1, c0, c1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

/// A worksheet part ([MS-XLSB] 2.1.7.62): BrtBeginSheet, BrtWsDim, the
/// cell table (a BrtRowHdr per row from row 0, then its cells), and the
/// merged cells as (rwFirst, rwLast, colFirst, colLast), 0-based.
pub fn xlsb_sheet(rows: &[Vec<XlsbCell>], merges: &[(u32, u32, u32, u32)]) -> Vec<u8> {
    let width = rows.iter().map(Vec::len).max().unwrap_or(1).max(1) as u32;
    let height = rows.len().max(1) as u32;
    let mut out = xlsb_record(0x0081, &[]); // BrtBeginSheet
    out.extend(xlsb_record(0x0094, &rfx(0, height - 1, 0, width - 1))); // BrtWsDim
    out.extend(xlsb_record(0x0091, &[])); // BrtBeginSheetData
    for (r, row) in rows.iter().enumerate() {
        // BrtRowHdr: rw, ixfe, miyRw (15 pt in twips), flags, ccolspan = 1
        // and one BrtColSpan covering the row's cells.
        let mut hdr = (r as u32).to_le_bytes().to_vec();
        hdr.extend(0u32.to_le_bytes());
        hdr.extend(300u16.to_le_bytes());
        hdr.extend([0, 0, 0]);
        hdr.extend(1u32.to_le_bytes());
        hdr.extend(0u32.to_le_bytes());
        hdr.extend((row.len().max(1) as u32 - 1).to_le_bytes());
        out.extend(xlsb_record(0x0000, &hdr));
        for (c, cell) in row.iter().enumerate() {
            // Cell: column, then iStyleRef (24 bits, style 0) and flags.
            let mut body = (c as u32).to_le_bytes().to_vec();
            body.extend(0u32.to_le_bytes());
            let typ = match cell {
                XlsbCell::Empty => continue,
                XlsbCell::Text(s) => {
                    body.extend(wide(s));
                    0x0006 // BrtCellSt
                }
                XlsbCell::Number(v) => {
                    body.extend(v.to_le_bytes());
                    0x0005 // BrtCellReal
                }
            };
            out.extend(xlsb_record(typ, &body));
        }
    }
    out.extend(xlsb_record(0x0092, &[])); // BrtEndSheetData
    if !merges.is_empty() {
        let count = (merges.len() as u32).to_le_bytes();
        out.extend(xlsb_record(0x00B1, &count)); // BrtBeginMergeCells
        for &(r0, r1, c0, c1) in merges {
            out.extend(xlsb_record(0x00B0, &rfx(r0, r1, c0, c1))); // BrtMergeCell
        }
        out.extend(xlsb_record(0x00B2, &[])); // BrtEndMergeCells
    }
    out.extend(xlsb_record(0x0082, &[])); // BrtEndSheet
    out
}

/// A workbook part ([MS-XLSB] 2.1.7.61) listing visible worksheets
/// `names`, the n-th (1-based) as relationship `rId<n>`.
pub fn xlsb_workbook(names: &[&str]) -> Vec<u8> {
    let mut out = xlsb_record(0x0083, &[]); // BrtBeginBook
    let mut props = 0u32.to_le_bytes().to_vec(); // BrtWbProp: 1900 dates
    props.extend(0u32.to_le_bytes());
    props.extend(wide(""));
    out.extend(xlsb_record(0x0099, &props));
    out.extend(xlsb_record(0x008F, &[])); // BrtBeginBundleShs
    for (i, name) in names.iter().enumerate() {
        // BrtBundleSh: hsState (visible), iTabID, strRelID, strName.
        let mut body = 0u32.to_le_bytes().to_vec();
        body.extend((i as u32 + 1).to_le_bytes());
        body.extend(wide(&format!("rId{}", i + 1)));
        body.extend(wide(name));
        out.extend(xlsb_record(0x009C, &body));
    }
    out.extend(xlsb_record(0x0090, &[])); // BrtEndBundleShs
    out.extend(xlsb_record(0x0084, &[])); // BrtEndBook
    out
}

/// Writes a minimal .xlsb holding `sheets` (name, worksheet part from
/// [`xlsb_sheet`]) in order, with inline strings and no styles part.
pub fn mini_xlsb(path: &Path, sheets: &[(&str, Vec<u8>)]) {
    let ns = "http://schemas.openxmlformats.org";
    let mut types = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{ns}/package/2006/content-types"><Default Extension="bin" ContentType="application/vnd.ms-excel.sheet.binary.macroEnabled.main"/><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>"#
    );
    let mut rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships">"#
    );
    let mut parts: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, (_, part)) in sheets.iter().enumerate() {
        let n = i + 1;
        types.push_str(&format!(
            r#"<Override PartName="/xl/worksheets/sheet{n}.bin" ContentType="application/vnd.ms-excel.worksheet"/>"#
        ));
        rels.push_str(&format!(
            r#"<Relationship Id="rId{n}" Type="{ns}/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{n}.bin"/>"#
        ));
        parts.push((format!("xl/worksheets/sheet{n}.bin"), part.clone()));
    }
    types.push_str("</Types>");
    rels.push_str("</Relationships>");
    let root_rels = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{ns}/package/2006/relationships"><Relationship Id="rId1" Type="{ns}/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.bin"/></Relationships>"#
    );
    let names: Vec<&str> = sheets.iter().map(|(n, _)| *n).collect();
    let mut all: Vec<(&str, Vec<u8>)> = vec![
        ("[Content_Types].xml", types.into_bytes()),
        ("_rels/.rels", root_rels.into_bytes()),
        ("xl/workbook.bin", xlsb_workbook(&names)),
        ("xl/_rels/workbook.bin.rels", rels.into_bytes()),
    ];
    all.extend(parts.iter().map(|(n, b)| (n.as_str(), b.clone())));
    write_parts(path, all, usize::MAX);
}

/// The default sheet of an .xlsx read by our reader and by calamine's
/// (`tests/it/xlsx_reader.rs`).
pub use crate::source::xlsx_read_both_ways;
