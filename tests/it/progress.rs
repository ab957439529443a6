//! Issue 10's progress: every format reports a real fraction of its sheet
//! as it is read — in this process and from the isolated reader — instead
//! of a bar that is full from the start.

use std::path::Path;

use sheetpipe::source::{self, Isolation, ProgressUnit, ReadPosition, SourceOptions};
use sheetpipe::testkit::{mini_xlsb, xlsb_sheet, XlsbCell};

use crate::helpers::tempdir;

/// The reader's position as each row arrives, and after the last.
fn positions(path: &Path, isolate: bool) -> (Vec<ReadPosition>, ReadPosition) {
    let opts = SourceOptions {
        isolation: isolate.then(|| Isolation {
            program: crate::helpers::bin(),
        }),
        ..SourceOptions::default()
    };
    let mut reader = source::open(path, &opts).unwrap();
    let mut seen = Vec::new();
    reader
        .read(&mut |_row| {
            seen.push(opts.progress.position());
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
    opts.progress.finish();
    (seen, opts.progress.position())
}

fn generated(dir: &Path, name: &str, rows: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    let opts = sheetpipe::generate::GenerateOptions {
        rows,
        ..Default::default()
    };
    sheetpipe::generate::generate(&path, &opts).unwrap();
    path
}

fn assert_real_fraction(what: &str, seen: &[ReadPosition], end: ReadPosition, unit: ProgressUnit) {
    let fractions: Vec<f64> = seen.iter().filter_map(ReadPosition::fraction).collect();
    assert!(!fractions.is_empty(), "{what}: no fraction at all");
    assert!(
        seen[0].fraction().is_none_or(|f| f < 0.5),
        "{what}: the first row is not half the sheet: {:?}",
        seen[0]
    );
    assert!(
        fractions.iter().any(|f| *f > 0.0 && *f < 1.0),
        "{what}: never between empty and full"
    );
    assert!(
        fractions.windows(2).all(|w| w[0] <= w[1]),
        "{what}: the fraction never goes back"
    );
    assert_eq!(end.fraction(), Some(1.0), "{what}: full at the end");
    assert_eq!(end.unit, unit, "{what}");
}

#[test]
fn csv_and_xlsx_progress_counts_the_bytes_of_what_is_parsed_in_either_mode() {
    let dir = tempdir();
    let csv = generated(dir.path(), "p.csv", 5_000);
    let xlsx = generated(dir.path(), "p.xlsx", 5_000);
    for isolate in [false, true] {
        for path in [&csv, &xlsx] {
            let (seen, end) = positions(path, isolate);
            let what = format!("{} isolate={isolate}", path.display());
            assert_real_fraction(&what, &seen, end, ProgressUnit::Bytes);
        }
    }
    // The xlsx total is the sheet's inflated size, not the file's.
    let (_, end) = positions(&xlsx, false);
    assert!(
        end.total > std::fs::metadata(&xlsx).unwrap().len() * 2,
        "{end:?}"
    );
}

#[test]
fn xls_ods_and_xlsb_progress_counts_rows_against_the_sheet_extent() {
    let dir = tempdir();
    let xlsb = dir.path().join("p.xlsb");
    let names: Vec<String> = (0..3000).map(|i| format!("Row {i}")).collect();
    let mut rows = vec![vec![XlsbCell::Text("name")]];
    rows.extend(names.iter().map(|n| vec![XlsbCell::Text(n)]));
    mini_xlsb(&xlsb, &[("Sheet1", xlsb_sheet(&rows, &[]))]);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for path in [
        fixtures.join("directory.xls"),
        fixtures.join("directory.ods"),
        xlsb,
    ] {
        for isolate in [false, true] {
            let (seen, end) = positions(&path, isolate);
            let what = format!("{} isolate={isolate}", path.display());
            if isolate && seen.len() < 1024 {
                // Frames come after the first row and every 1024 rows: a
                // small sheet shows its total from the second row on.
                assert!(seen[1].total > 0, "{what}: {:?}", seen[1]);
                assert_eq!(end.fraction(), Some(1.0), "{what}");
                continue;
            }
            assert_real_fraction(&what, &seen, end, ProgressUnit::Rows);
        }
    }
}
