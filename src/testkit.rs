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

/// What marks a directory as the shared corpus: one of its collections.
const CORPUS_MARK: &str = "calamine-tests";

/// Where the shared corpus of public workbooks is, decided from the values
/// of `SHEETPIPE_CORPUS` and `CI` (passed in, so the rule itself is
/// testable): `$SHEETPIPE_CORPUS`, else `../shared/corpus` from the crate
/// root (a checkout beside `shared/`), else `../../shared/corpus` (a
/// worktree one level deeper). A directory counts only when it holds the
/// corpus (`calamine-tests/`). `Ok(Some(dir))`: found; `Ok(None)`: missing,
/// skip; `Err(why)`: missing while `CI` is set (to anything but `""`, `0`
/// or `false`), where the corpus tests must run.
pub fn locate_corpus(
    sheetpipe_corpus: Option<&std::ffi::OsStr>,
    ci: Option<&str>,
    crate_root: &Path,
) -> Result<Option<std::path::PathBuf>, String> {
    let candidates: Vec<std::path::PathBuf> = match sheetpipe_corpus {
        Some(dir) => vec![dir.into()],
        None => ["../shared/corpus", "../../shared/corpus"]
            .iter()
            .map(|d| crate_root.join(d))
            .collect(),
    };
    if let Some(dir) = candidates.iter().find(|d| d.join(CORPUS_MARK).is_dir()) {
        return Ok(Some(dir.clone()));
    }
    let in_ci = ci.is_some_and(|v| !matches!(v.trim(), "" | "0" | "false" | "FALSE"));
    let looked = candidates
        .iter()
        .map(|d| d.display().to_string())
        .collect::<Vec<_>>()
        .join(", ");
    if in_ci {
        Err(format!(
            "the shared corpus is required in CI (CI is set) but is not at {looked}; \
             set SHEETPIPE_CORPUS to the shared/corpus directory"
        ))
    } else {
        Ok(None)
    }
}

/// The line a test prints when it skips for want of the corpus.
pub fn corpus_skip_line(test: &str) -> String {
    format!(
        "skipped {test}: the shared corpus (shared/corpus, with {CORPUS_MARK}/) was not found; \
         set SHEETPIPE_CORPUS=/path/to/shared/corpus or put shared/ beside the checkout \
         (with CI=true a missing corpus fails)"
    )
}

/// The shared corpus directory for the running test, by [`locate_corpus`]
/// over the real environment. Missing: in CI the test fails (panics);
/// otherwise it prints one line saying it skipped and how to get the corpus
/// (to the real stderr, past the test harness's capture) and gets `None`.
pub fn corpus_or_skip() -> Option<std::path::PathBuf> {
    corpus_or_skip_part(None)
}

/// [`corpus_or_skip`] for a test that runs without the corpus but skips
/// its `part` that needs it (the line says `skipped PART of TEST`).
pub fn corpus_or_skip_part(part: Option<&str>) -> Option<std::path::PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = std::env::var_os("SHEETPIPE_CORPUS");
    let ci = std::env::var("CI").ok();
    match locate_corpus(env.as_deref(), ci.as_deref(), root) {
        Ok(Some(dir)) => Some(dir),
        Err(why) => panic!("{why}"),
        Ok(None) => {
            let thread = std::thread::current();
            let test = thread.name().unwrap_or("a corpus test");
            let what = match part {
                Some(part) => format!("{part} of {test}"),
                None => test.to_string(),
            };
            let _ = writeln!(std::io::stderr(), "{}", corpus_skip_line(&what));
            None
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_corpus_directory_is_found_by_its_collections() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(CORPUS_MARK)).unwrap();
        let found = locate_corpus(Some(dir.path().as_os_str()), Some("true"), Path::new("/"));
        assert_eq!(found, Ok(Some(dir.path().to_path_buf())));
    }

    #[test]
    fn a_missing_corpus_is_skipped_outside_ci_and_fails_in_ci() {
        let empty = tempfile::tempdir().unwrap();
        let at = Some(empty.path().as_os_str());
        for ci in [None, Some(""), Some("0"), Some("false")] {
            assert_eq!(locate_corpus(at, ci, Path::new("/")), Ok(None), "{ci:?}");
        }
        for ci in ["true", "1", "yes"] {
            let err = locate_corpus(at, Some(ci), Path::new("/")).unwrap_err();
            assert!(err.contains(&empty.path().display().to_string()), "{err}");
            assert!(err.contains("SHEETPIPE_CORPUS"), "{err}");
        }
    }

    #[test]
    fn without_the_variable_the_corpus_is_looked_for_beside_the_checkout() {
        let top = tempfile::tempdir().unwrap();
        let checkout = top.path().join("work/sheetpipe");
        std::fs::create_dir_all(&checkout).unwrap();
        assert_eq!(locate_corpus(None, None, &checkout), Ok(None));
        let corpus = top.path().join("work/shared/corpus");
        std::fs::create_dir_all(corpus.join(CORPUS_MARK)).unwrap();
        let found = locate_corpus(None, None, &checkout).unwrap().unwrap();
        assert_eq!(found, checkout.join("../shared/corpus"));
    }

    #[test]
    fn the_skip_line_names_the_test_and_both_ways_to_get_the_corpus() {
        let line = corpus_skip_line("corpus::dates");
        assert!(line.starts_with("skipped corpus::dates: "), "{line}");
        assert!(line.contains("SHEETPIPE_CORPUS="), "{line}");
        assert!(line.contains("shared/ beside the checkout"), "{line}");
        assert!(!line.contains('\n'));
    }
}
