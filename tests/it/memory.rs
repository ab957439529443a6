//! Memory bounds that hold (docs/ROBUSTNESS.md, "Memory"): an import of
//! rows with very large cells stays under the documented 512 MB — the
//! import process's units in flight bounded in bytes, its reader child
//! under its ceiling — and a hostile .xls stops at the default ceiling.

use std::io::Write;
use std::process::Command;

use sheetpipe::bench::measure::{PEAK_RSS_ENV, READER_PEAK_RSS_LINE};
use sheetpipe::source::DEFAULT_MAX_READER_MEMORY;

use crate::helpers::{bin, json_out, run_cli, tempdir, TestDb};

/// The documented bound on one import: process and reader child together.
const IMPORT_BOUND_KIB: u64 = 512 << 10;

/// A CSV of `rows` rows with five cells of 30,000 characters each
/// (~150 KB a row, under the 32 Ki-character cell rule).
fn huge_cells_csv(path: &std::path::Path, rows: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(
        f,
        "name,category,phone,email,address,city,country,description"
    )
    .unwrap();
    let big = |c: char| c.to_string().repeat(30_000);
    let (cat, addr, city, country, desc) = (big('c'), big('a'), big('t'), big('y'), big('d'));
    for i in 0..rows {
        writeln!(
            f,
            "biz {i},{cat},555-1234,b{i}@example.com,{addr},{city},{country},{desc}"
        )
        .unwrap();
    }
}

/// The KiB on the stderr line starting with `prefix`.
fn kib(stderr: &str, prefix: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} line in: {stderr}"))
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_of_very_large_cells_stays_under_the_documented_memory_bound() {
    let dir = tempdir();
    let file = dir.path().join("huge.csv");
    // One row short of a 2,000-row unit (300 MB): a pipeline bounded in
    // rows only would hold all of it.
    let rows = 1_999;
    huge_cells_csv(&file, rows);
    let file_bytes = std::fs::metadata(&file).unwrap().len();
    let db = TestDb::postgres().await;
    let out = Command::new(bin())
        .args([
            "import",
            "--json",
            "--method",
            "copy",
            "--database-url",
            &db.url,
        ])
        .arg(&file)
        .env(PEAK_RSS_ENV, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let v = json_out(&out);
    assert_eq!(v["stats"]["success_count"], rows as u64, "{v} {stderr}");
    assert_eq!(db.count().await, rows as u64);
    let (import, reader) = (
        kib(&stderr, "sheetpipe-bench-peak-rss-kib: "),
        kib(&stderr, READER_PEAK_RSS_LINE),
    );
    let ctx = format!("import {import} KiB + reader {reader} KiB, file {file_bytes} bytes");
    assert!(import + reader < IMPORT_BOUND_KIB, "{ctx}");
    // Bounded in bytes, not rows: the whole file is fewer rows than one
    // 2,000-row unit, yet the import never held two thirds of it.
    assert!(import * 1024 * 3 < file_bytes * 2, "{ctx}");
    assert!(reader * 1024 <= DEFAULT_MAX_READER_MEMORY, "{ctx}");
}

#[test]
fn a_hostile_xls_stops_at_the_default_reader_ceiling() {
    let dir = tempdir();
    std::fs::write(dir.path().join("bomb.xls"), crate::hostile::cyclic_cfb()).unwrap();
    // No --max-reader-memory: the default holds.
    let out = run_cli(dir.path(), &["import", "bomb.xls", "--json", "--dry-run"]);
    assert_eq!(out.status.code(), Some(4));
    let err = json_out(&out)["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("reader's memory use")
            // The documented default, 256 MiB (it was 4 GiB).
            && err.contains("limit of 268435456")
            && err.contains("--max-reader-memory"),
        "{err}"
    );
}

#[test]
fn a_row_over_the_row_byte_limit_stops_the_import_naming_it() {
    let dir = tempdir();
    huge_cells_csv(&dir.path().join("wide.csv"), 3);
    let out = run_cli(
        dir.path(),
        &[
            "import",
            "wide.csv",
            "--json",
            "--dry-run",
            "--max-row-bytes",
            "100000",
        ],
    );
    assert_eq!(out.status.code(), Some(4));
    let err = json_out(&out)["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("row 2") && err.contains("limit of 100000") && err.contains("--max-row-bytes"),
        "{err}"
    );
}
