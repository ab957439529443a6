//! Public files nobody on this project wrote (the shared corpus, read in
//! place; without it each test skips with one line, in CI it fails):
//! calamine's own test workbooks, whose contents its tests state, and the
//! csv-spectrum edge cases. The same content saved as xlsx, xls,
//! xlsb and ods must read the same.

use std::ops::ControlFlow;
use std::path::Path;

use sheetpipe::record::cell_display;
use sheetpipe::source::{self, SourceOptions};

pub use sheetpipe::testkit::{corpus_or_skip, corpus_or_skip_part};

/// Every non-blank row of a sheet as (row number, cells as displayed).
pub fn rows(path: &Path, sheet: Option<&str>) -> (String, Vec<(u32, Vec<String>)>) {
    let opts = SourceOptions {
        sheet: sheet.map(str::to_string),
        ..SourceOptions::default()
    };
    let mut reader = source::open(path, &opts).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    let mut out = Vec::new();
    reader
        .read(&mut |row| {
            if !row.is_blank() {
                out.push((row.number, row.cells.iter().map(cell_display).collect()));
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    (reader.sheet_name().to_string(), out)
}

fn cells(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn dates_read_the_same_in_1900_and_1904_workbooks_of_every_format() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    let (_, reference) = rows(&c.join("calamine-tests/tests/date.xlsx"), None);
    assert_eq!(
        reference,
        vec![
            (1, cells(&["2021-01-01", "15"])),
            (2, cells(&["2021-01-02", "16"])),
            (3, cells(&["PT255H10M10S", "17"])),
        ]
    );
    for file in [
        "date.xls",
        "date.xlsb",
        "date_1904.xlsx",
        "date_1904.xls",
        "date_1904.xlsb",
    ] {
        let (_, got) = rows(&c.join(format!("calamine-tests/tests/{file}")), None);
        assert_eq!(got, reference, "{file}");
    }
}

#[test]
fn ods_dates_times_and_durations_are_iso_8601() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    let (_, got) = rows(&c.join("calamine-tests/tests/date.ods"), None);
    assert_eq!(
        got,
        vec![
            (1, cells(&["2021-01-01", "15"])),
            (2, cells(&["2021-01-01T10:10:10", "16"])),
            (3, cells(&["PT10H10M10S", "17"])),
            (4, cells(&["PT10H10M10.123456S", "18"])),
        ]
    );
}

#[test]
fn merged_cells_read_the_same_in_xlsx_and_xls() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    let (_, xlsx) = rows(&c.join("calamine-tests/tests/merge_cells.xlsx"), None);
    let (_, xls) = rows(&c.join("calamine-tests/tests/merge_cells.xls"), None);
    assert_eq!(xlsx, xls);
    assert_eq!(xlsx[0].1[0], "Row Merge");
}

#[test]
fn line_breaks_inside_cells_are_kept() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    for file in ["has_x000D_.xlsx", "has_x000D_inline.xlsx"] {
        let (_, got) = rows(&c.join(format!("calamine-tests/tests/{file}")), None);
        assert_eq!(got[0].1[0], "ABC\r\nDEF", "{file}");
    }
}

#[test]
fn the_same_workbook_reads_the_same_in_xlsx_xls_xlsb_and_ods() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    let (sheet, reference) = rows(&c.join("calamine-tests/tests/issues.xlsx"), None);
    for file in ["issues.xls", "issues.xlsb", "issues.ods"] {
        let (s, got) = rows(&c.join(format!("calamine-tests/tests/{file}")), None);
        assert_eq!(s, sheet, "{file}");
        assert_eq!(got[0], reference[0], "{file}");
    }
}

#[test]
fn csv_spectrum_quotes_newlines_and_utf8_parse_exactly() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    let (_, got) = rows(&c.join("csv-spectrum/quotes_and_newlines.csv"), None);
    assert_eq!(
        got,
        vec![
            (1, cells(&["a", "b"])),
            (2, cells(&["1", "ha \n\"ha\" \nha"])),
            (3, cells(&["3", "4"])),
        ]
    );
    let (_, got) = rows(&c.join("csv-spectrum/comma_in_quotes.csv"), None);
    assert_eq!(
        got[1].1,
        cells(&["John", "Doe", "120 any st.", "Anytown, WW", "08123"])
    );
    let (_, got) = rows(&c.join("csv-spectrum/utf8.csv"), None);
    assert_eq!(got[2].1, cells(&["4", "5", "ʤ"]));
    let (_, lf) = rows(&c.join("csv-spectrum/newlines.csv"), None);
    assert_eq!(lf[2], (3, cells(&["Once upon \na time", "5", "6"])));
    // Numbered as a spreadsheet shows the file: a record, not a line.
    assert_eq!(lf[3], (4, cells(&["7", "8", "9"])));
    let (_, escaped) = rows(&c.join("csv-spectrum/escaped_quotes.csv"), None);
    assert_eq!(escaped[1].1, cells(&["1", "ha \"ha\" ha"]));
}

#[test]
fn sheets_are_picked_the_same_way_in_every_workbook_format() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    for ext in ["xlsx", "xls", "xlsb", "ods"] {
        let file = c.join(format!("calamine-tests/tests/any_sheets.{ext}"));
        assert_eq!(rows(&file, None).0, "Visible", "{ext}");
        assert_eq!(rows(&file, Some("hidden")).0, "Hidden", "{ext}");
        assert_eq!(rows(&file, Some("3")).0, "VeryHidden", "{ext}");
        let opts = SourceOptions {
            sheet: Some("Nope".into()),
            ..SourceOptions::default()
        };
        let err = source::open(&file, &opts).err().unwrap().to_string();
        assert!(
            err.ends_with("sheets in this workbook: Visible, Hidden, VeryHidden, Chart"),
            "{ext}: {err}"
        );
    }
}

#[test]
fn ods_merged_cells_are_filled_like_the_other_formats() {
    let Some(c) = corpus_or_skip() else {
        return;
    };
    // A2:A3 is merged and holds "A"; B3 is a plain empty cell.
    let (_, got) = rows(&c.join("calamine-tests/tests/merged_cells.ods"), None);
    assert_eq!(
        got,
        vec![
            (1, cells(&["A", "B", "C"])),
            (2, cells(&["A", "B", "C"])),
            (3, cells(&["A", "", "C"])),
        ]
    );
    let (_, xlsx) = rows(&c.join("calamine-tests/tests/merged_range.xlsx"), None);
    let (_, xls) = rows(&c.join("calamine-tests/tests/merged_range.xls"), None);
    assert_eq!(xlsx, xls);
}

/// This test binary itself, running one corpus test with `SHEETPIPE_CORPUS`
/// at an empty directory; `ci` is the value of `CI` (`None`: unset).
fn corpus_test_without_corpus(ci: Option<&str>) -> std::process::Output {
    let empty = tempfile::tempdir().unwrap();
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--exact",
        "corpus::csv_spectrum_quotes_newlines_and_utf8_parse_exactly",
    ])
    .env("SHEETPIPE_CORPUS", empty.path())
    .env_remove("CI");
    if let Some(ci) = ci {
        cmd.env("CI", ci);
    }
    cmd.output().unwrap()
}

#[test]
fn without_the_corpus_a_corpus_test_passes_saying_in_one_line_what_it_skipped() {
    let out = corpus_test_without_corpus(None);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "{stdout}");
    let skipped: Vec<&str> = stderr.lines().filter(|l| l.contains("skipped")).collect();
    assert_eq!(skipped.len(), 1, "{stderr}");
    assert!(
        skipped[0]
            .starts_with("skipped corpus::csv_spectrum_quotes_newlines_and_utf8_parse_exactly: "),
        "{stderr}"
    );
    assert!(skipped[0].contains("set SHEETPIPE_CORPUS="), "{stderr}");
}

#[test]
fn without_the_corpus_a_corpus_test_fails_in_ci() {
    let out = corpus_test_without_corpus(Some("true"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("1 failed"), "{stdout}");
    assert!(
        stdout.contains("the shared corpus is required in CI"),
        "{stdout}"
    );
}
