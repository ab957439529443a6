//! Our own .xlsx reader against calamine's, cell by cell: every .xlsx and
//! .xlsm of the shared corpus (calamine's test files, files saved by Excel)
//! and workbooks written here with rust_xlsxwriter must give the same rows,
//! or both readers must refuse the file. Where they differ on purpose the
//! file is listed in `DIFFERENT_ON_PURPOSE` with the reason.

use std::path::{Path, PathBuf};

use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};
use sheetpipe::model::RawRow;
use sheetpipe::testkit::xlsx_read_both_ways;

use crate::corpus::corpus_or_skip;
use crate::helpers::tempdir;
use crate::values::patch_zip;

/// Files where our reader differs from calamine's on purpose.
const DIFFERENT_ON_PURPOSE: &[(&str, &str)] = &[];

fn workbooks(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            workbooks(&path, out);
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "xlsx" | "xlsm"))
        {
            out.push(path);
        }
    }
}

/// A description of how the two readers differ on `path`, if they do.
/// Rows with no value are compared away: calamine reports a styled but
/// empty cell (`<c r="A2" s="1"/>`) and so a blank row, ours does not; the
/// import skips blank rows either way.
fn difference(path: &Path) -> Option<String> {
    let valued = |rows: Result<Vec<RawRow>, String>| {
        rows.map(|rows| {
            rows.into_iter()
                .filter(|r| !r.is_blank())
                .collect::<Vec<_>>()
        })
    };
    let (ours, theirs) = xlsx_read_both_ways(path);
    match (valued(ours), valued(theirs)) {
        (Ok(ours), Ok(theirs)) if ours == theirs => None,
        (Ok(ours), Ok(theirs)) => {
            let at = ours
                .iter()
                .zip(&theirs)
                .position(|(a, b)| a != b)
                .unwrap_or(ours.len().min(theirs.len()));
            Some(format!(
                "{} vs {} rows; first difference at #{at}: ours {:?} / calamine {:?}",
                ours.len(),
                theirs.len(),
                ours.get(at),
                theirs.get(at)
            ))
        }
        (Err(_), Err(_)) => None,
        (Ok(_), Err(e)) => Some(format!("only calamine refuses it: {e}")),
        (Err(e), Ok(_)) => Some(format!("only ours refuses it: {e}")),
    }
}

#[test]
fn every_corpus_workbook_reads_as_calamine_reads_it() {
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let mut files = Vec::new();
    workbooks(&corpus.join("calamine-tests"), &mut files);
    workbooks(&corpus.join("rust_xlsxwriter-excel-files"), &mut files);
    assert!(
        files.len() > 150,
        "the corpus has its workbooks: {}",
        files.len()
    );
    let mut differences = Vec::new();
    let mut compared_rows = 0usize;
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        if let (Ok(rows), _) = xlsx_read_both_ways(file) {
            compared_rows += rows.len();
        }
        let expected = DIFFERENT_ON_PURPOSE.iter().any(|(f, _)| *f == name);
        match (difference(file), expected) {
            (Some(d), false) => differences.push(format!("{name}: {d}")),
            (None, true) => differences.push(format!("{name}: listed as different but is not")),
            _ => {}
        }
    }
    assert!(compared_rows > 1000, "rows compared: {compared_rows}");
    assert!(differences.is_empty(), "{}", differences.join("\n"));
}

#[test]
fn every_value_kind_written_by_rust_xlsxwriter_reads_as_calamine_reads_it() {
    let dir = tempdir();
    for (name, date1904) in [("values.xlsx", false), ("values1904.xlsx", true)] {
        let path = dir.path().join(name);
        let mut wb = Workbook::new();
        let ws = wb.add_worksheet();
        if date1904 {
            ws.set_name("Data").unwrap();
        }
        let date = Format::new().set_num_format("yyyy-mm-dd");
        let stamp = Format::new().set_num_format("dd/mm/yyyy hh:mm:ss");
        let elapsed = Format::new().set_num_format("[h]:mm:ss");
        let percent = Format::new().set_num_format("0.00%");
        let text = [
            "plain",
            " padded ",
            "line\nbreak",
            "a & b < c",
            "_x000D_ literal",
            "ümlaut €",
            "",
        ];
        for (r, t) in text.iter().enumerate() {
            ws.write_string(r as u32, 0, *t).unwrap();
        }
        for (r, n) in [0.0, 1.5, -2.25, 1e20, 123456789012345.0, 0.1 + 0.2]
            .iter()
            .enumerate()
        {
            ws.write_number(r as u32, 1, *n).unwrap();
        }
        let day = ExcelDateTime::from_ymd(2024, 2, 29).unwrap();
        ws.write_datetime_with_format(0, 2, &day, &date).unwrap();
        let at = ExcelDateTime::from_ymd(1999, 12, 31)
            .unwrap()
            .and_hms(23, 59, 58)
            .unwrap();
        ws.write_datetime_with_format(1, 2, &at, &stamp).unwrap();
        ws.write_number_with_format(2, 2, 10.632060185, &elapsed)
            .unwrap();
        ws.write_number_with_format(3, 2, 0.25, &percent).unwrap();
        ws.write_boolean(0, 3, true).unwrap();
        ws.write_boolean(1, 3, false).unwrap();
        ws.write_formula(0, 4, Formula::new("=1+1").set_result("2"))
            .unwrap();
        ws.write_formula(1, 4, Formula::new("=\"a\"&\"b\"").set_result("ab"))
            .unwrap();
        ws.write_formula(2, 4, "=SUM(B1:B3)").unwrap();
        ws.merge_range(10, 0, 12, 0, "merged", &Format::new())
            .unwrap();
        ws.write_string(11, 1, "beside a merge").unwrap();
        ws.write_string(100, 5, "far away").unwrap();
        wb.save(&path).unwrap();
        if date1904 {
            patch_zip(
                &path,
                "xl/workbook.xml",
                "<workbookPr ",
                "<workbookPr date1904=\"1\" ",
            );
        }
        // A formula saved without a cached value, as non-calculating
        // libraries write it.
        patch_zip(
            &path,
            "xl/worksheets/sheet1.xml",
            "<f>SUM(B1:B3)</f><v>0</v>",
            "<f>SUM(B1:B3)</f>",
        );
        assert_eq!(difference(&path), None, "{name}");
        let (ours, _) = xlsx_read_both_ways(&path);
        let ours = ours.unwrap();
        assert!(ours.len() >= 8, "{name}: {} rows", ours.len());
    }
}

/// The parts of an .xlsx as (name, bytes); `None` for a damaged zip (some
/// corpus files are, on purpose).
fn unzip(bytes: &[u8]) -> Option<Vec<(String, Vec<u8>)>> {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    (0..zip.len())
        .map(|i| {
            let mut entry = zip.by_index(i).ok()?;
            let name = entry.name().ok()?.to_string();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).ok()?;
            Some((name, data))
        })
        .collect()
}

fn rezip(parts: &[(String, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, data) in parts {
        out.start_file(name.as_str(), opts).unwrap();
        out.write_all(data).unwrap();
    }
    out.finish().unwrap().into_inner()
}

/// Mutations at the XML level (byte flips in a zip are mostly refused by
/// its CRC before a parser sees them): the sheet and shared strings of
/// corpus workbooks truncated, with markup characters dropped in, and with
/// chunks duplicated, then re-zipped. Every read must end in rows or an
/// error — no panic, no hang — in this process, as the fuzzer runs it.
#[test]
fn xml_level_mutants_of_corpus_sheets_end_in_rows_or_errors() {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};
    let Some(corpus) = corpus_or_skip() else {
        return;
    };
    let mut files = Vec::new();
    workbooks(&corpus.join("calamine-tests"), &mut files);
    files.sort();
    // SHEETPIPE_MUTANTS=N runs N mutants per file (a longer hunt).
    let per_file = std::env::var("SHEETPIPE_MUTANTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(12);
    let mut rng = StdRng::seed_from_u64(7);
    let (mut read, mut refused) = (0, 0);
    for file in &files {
        let Some(parts) = unzip(&std::fs::read(file).unwrap()) else {
            continue;
        };
        let targets: Vec<usize> = (0..parts.len())
            .filter(|&i| {
                let n = parts[i].0.to_ascii_lowercase();
                n.contains("worksheets/")
                    || n.ends_with("sharedstrings.xml")
                    || n.ends_with("styles.xml")
            })
            .collect();
        for _ in 0..per_file {
            let Some(&t) = targets.get(rng.gen_range(0..targets.len().max(1))) else {
                continue;
            };
            let mut parts = parts.clone();
            let data = &mut parts[t].1;
            if data.is_empty() {
                continue;
            }
            match rng.gen_range(0..4) {
                0 => data.truncate(rng.gen_range(0..data.len())),
                1 => {
                    for _ in 0..rng.gen_range(1..6) {
                        let i = rng.gen_range(0..data.len());
                        data[i] = *b"<>\"'&/=;:x0 ".get(rng.gen_range(0..12)).unwrap();
                    }
                }
                2 => {
                    let a = rng.gen_range(0..data.len());
                    let b = (a + rng.gen_range(1..400)).min(data.len());
                    let chunk = data[a..b].to_vec();
                    let at = rng.gen_range(0..data.len());
                    data.splice(at..at, chunk);
                }
                _ => {
                    let at = rng.gen_range(0..data.len());
                    let junk: &[u8] = [
                        &b"<c r=\"A1\" t=\"s\"><v>99999</v></c>"[..],
                        b"<![CDATA[",
                        b"&#xD800;",
                        b"<!DOCTYPE x>",
                        b"_xD83D_",
                        b"<row r=\"0\">",
                    ][rng.gen_range(0..6)];
                    data.splice(at..at, junk.iter().copied());
                }
            }
            match sheetpipe::fuzzing::read_bytes(&rezip(&parts), "xlsx", None) {
                Ok(_) => read += 1,
                Err(_) => refused += 1,
            }
        }
    }
    assert!(
        read > 50 && refused > 50,
        "both outcomes exercised: {read} read, {refused} refused"
    );
}
